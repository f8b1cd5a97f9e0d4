//! Upstream base URLs parsed into what a connection needs.

use std::fmt;

/// Where a provider is reached: scheme, host, port and path prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// `https` when true.
    pub tls: bool,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path prefix without a trailing slash, e.g. `/v1`.
    pub path: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/path]`.
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(format!("`{url}` must start with http:// or https://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported; use api_key".into());
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let close = v6.find(']').ok_or_else(|| format!("`{url}`: unclosed IPv6 bracket"))?;
            let host = &v6[..close];
            let port = match &v6[close + 1..] {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').ok_or("bad port")?)?,
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p)?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        if path.contains(['?', '#']) {
            return Err(format!("`{url}`: query strings and fragments are not allowed"));
        }
        Ok(Endpoint { tls, host: host.to_string(), port, path: path.trim_end_matches('/').to_string() })
    }

    /// The `Host` header value.
    pub fn host_header(&self) -> String {
        let default = if self.tls { 443 } else { 80 };
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    /// Key that identifies a connection pool: scheme, host and port.
    pub fn pool_key(&self) -> String {
        format!("{}://{}:{}", if self.tls { "https" } else { "http" }, self.host, self.port)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.pool_key(), self.path)
    }
}

fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>().ok().filter(|&n| n != 0).ok_or_else(|| format!("invalid port `{p}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let e = Endpoint::parse("https://api.openai.com/v1/").unwrap();
        assert_eq!((e.tls, e.host.as_str(), e.port, e.path.as_str()), (true, "api.openai.com", 443, "/v1"));
        assert_eq!(e.host_header(), "api.openai.com");
        let e = Endpoint::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((e.port, e.path.as_str()), (8080, ""));
        assert_eq!(e.host_header(), "127.0.0.1:8080");
        let e = Endpoint::parse("http://[::1]:9/x").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.path.as_str()), ("::1", 9, "/x"));
        assert_eq!(e.host_header(), "[::1]:9");
    }

    #[test]
    fn rejects_bad_urls() {
        for bad in ["ftp://x", "http://", "http://h:0", "http://h:99999", "http://u:p@h", "http://h/v1?x=1"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}

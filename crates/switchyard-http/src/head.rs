//! Request and response heads as offsets into the read buffer (no per-request header map).

use std::ops::Range;

/// Most headers a request or response may carry; more is answered with 431.
pub const MAX_HEADERS: usize = 96;

/// Size limits applied while parsing a head.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest head (request line plus headers) accepted, in bytes.
    pub max_head_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_head_bytes: 16 * 1024 }
    }
}

/// Why a head could not be parsed; each maps to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The syntax is not HTTP/1.x.
    #[error("malformed HTTP head: {0}")]
    Malformed(&'static str),
    /// The head is larger than the configured limit.
    #[error("request head too large")]
    HeadTooLarge,
    /// More header fields than `MAX_HEADERS`.
    #[error("too many header fields")]
    TooManyHeaders,
    /// A transfer-coding other than `chunked`.
    #[error("unsupported transfer-encoding")]
    UnsupportedTransferEncoding,
    /// An `Expect` value other than `100-continue`.
    #[error("unsupported expectation")]
    ExpectationFailed,
}

impl HeadError {
    /// The status code a server answers this error with.
    pub fn status(self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::HeadTooLarge | HeadError::TooManyHeaders => 431,
            HeadError::UnsupportedTransferEncoding => 501,
            HeadError::ExpectationFailed => 417,
        }
    }
}

/// Request method; only the ones the gateway dispatches on are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other,
}

impl Method {
    fn from_str(m: &str) -> Method {
        match m {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

/// One header field as byte ranges of the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRef {
    /// Range of the field name.
    pub name: Range<usize>,
    /// Range of the field value.
    pub value: Range<usize>,
}

/// How a request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request head; header ranges are in the caller's `Vec<HeaderRef>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// Range of the request target (path and query).
    pub path: Range<usize>,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// Length of the head including the blank line; the body starts here.
    pub head_len: usize,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the connection may carry another request afterwards.
    pub keep_alive: bool,
    /// The client sent `Expect: 100-continue`.
    pub expect_continue: bool,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body (1xx, 204, 304, or a reply to HEAD).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Delimited by the server closing the connection.
    UntilClose,
}

/// A parsed response head; header ranges are in the caller's `Vec<HeaderRef>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// Status code.
    pub status: u16,
    /// Length of the head including the blank line.
    pub head_len: usize,
    /// How the body is delimited.
    pub framing: ResponseFraming,
    /// Whether the connection may be reused after the body.
    pub keep_alive: bool,
}

/// Value of the first header named `name` (ASCII case-insensitive).
pub fn header_value<'a>(buf: &'a [u8], headers: &[HeaderRef], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|h| buf[h.name.clone()].eq_ignore_ascii_case(name.as_bytes())).map(|h| &buf[h.value.clone()])
}

fn offset_of(buf: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = trim(v);
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(v.len());
    let end = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &v[start..end]
}

/// Whether a comma-separated header value contains `token` (case-insensitive).
fn has_token(v: &[u8], token: &str) -> bool {
    v.split(|&b| b == b',').any(|t| trim(t).eq_ignore_ascii_case(token.as_bytes()))
}

/// Fields of the head that decide framing and connection reuse.
#[derive(Default)]
struct Framing {
    length: Option<u64>,
    chunked: bool,
    transfer_encoding: bool,
    close: bool,
    keep_alive: bool,
    expect_continue: bool,
    expect_other: bool,
}

fn scan_framing(buf: &[u8], headers: &[HeaderRef]) -> Result<Framing, HeadError> {
    let mut f = Framing::default();
    for h in headers {
        let name = &buf[h.name.clone()];
        let value = &buf[h.value.clone()];
        if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_length(value).ok_or(HeadError::Malformed("invalid content-length"))?;
            if f.length.is_some_and(|old| old != n) {
                return Err(HeadError::Malformed("conflicting content-length"));
            }
            f.length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            f.transfer_encoding = true;
            // chunked must be the final coding; anything else we cannot decode.
            let last = value.rsplit(|&b| b == b',').next().map(trim).unwrap_or(b"");
            if !last.eq_ignore_ascii_case(b"chunked") || has_token_before_last(value) {
                return Err(HeadError::UnsupportedTransferEncoding);
            }
            f.chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            f.close |= has_token(value, "close");
            f.keep_alive |= has_token(value, "keep-alive");
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                f.expect_continue = true;
            } else {
                f.expect_other = true;
            }
        }
    }
    Ok(f)
}

/// True when a transfer-encoding list has codings before `chunked` (e.g. `gzip, chunked`).
fn has_token_before_last(v: &[u8]) -> bool {
    v.split(|&b| b == b',').filter(|t| !trim(t).is_empty()).count() > 1
}

fn copy_headers(buf: &[u8], parsed: &[httparse::Header<'_>], out: &mut Vec<HeaderRef>) {
    out.clear();
    out.extend(
        parsed.iter().map(|h| HeaderRef { name: offset_of(buf, h.name.as_bytes()), value: offset_of(buf, h.value) }),
    );
}

fn map_err(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        httparse::Error::Version => HeadError::Malformed("unsupported HTTP version"),
        httparse::Error::Token => HeadError::Malformed("invalid token"),
        httparse::Error::HeaderName => HeadError::Malformed("invalid header name"),
        httparse::Error::HeaderValue => HeadError::Malformed("invalid header value"),
        httparse::Error::NewLine => HeadError::Malformed("invalid line ending"),
        httparse::Error::Status => HeadError::Malformed("invalid status"),
    }
}

/// Parses a request head at the start of `buf`.
///
/// `Ok(None)` means more bytes are needed. Header ranges are written to `headers`
/// (cleared first) so the caller can reuse its allocation across requests.
pub fn parse_request(
    buf: &[u8],
    limits: Limits,
    headers: &mut Vec<HeaderRef>,
) -> Result<Option<RequestHead>, HeadError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut raw);
    let head_len = match req.parse(buf).map_err(map_err)? {
        httparse::Status::Partial => {
            return if buf.len() > limits.max_head_bytes { Err(HeadError::HeadTooLarge) } else { Ok(None) };
        }
        httparse::Status::Complete(n) => n,
    };
    if head_len > limits.max_head_bytes {
        return Err(HeadError::HeadTooLarge);
    }
    let method = Method::from_str(req.method.unwrap_or(""));
    let path = offset_of(buf, req.path.unwrap_or("").as_bytes());
    let minor_version = req.version.unwrap_or(1);
    copy_headers(buf, req.headers, headers);
    let f = scan_framing(buf, headers)?;
    if f.chunked && f.length.is_some() {
        // Both framings at once is the request-smuggling shape; refuse it.
        return Err(HeadError::Malformed("both content-length and transfer-encoding"));
    }
    if f.expect_other {
        return Err(HeadError::ExpectationFailed);
    }
    if f.transfer_encoding && minor_version == 0 {
        return Err(HeadError::Malformed("transfer-encoding in HTTP/1.0"));
    }
    let framing = match (f.chunked, f.length) {
        (true, _) => BodyFraming::Chunked,
        (false, Some(0)) | (false, None) => BodyFraming::None,
        (false, Some(n)) => BodyFraming::Length(n),
    };
    let keep_alive = if minor_version == 0 { f.keep_alive && !f.close } else { !f.close };
    Ok(Some(RequestHead {
        method,
        path,
        minor_version,
        head_len,
        framing,
        keep_alive,
        expect_continue: f.expect_continue && minor_version == 1,
    }))
}

/// Parses a response head at the start of `buf`; `to_head` says the request was HEAD.
pub fn parse_response(
    buf: &[u8],
    limits: Limits,
    headers: &mut Vec<HeaderRef>,
    to_head: bool,
) -> Result<Option<ResponseHead>, HeadError> {
    let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut raw);
    let head_len = match resp.parse(buf).map_err(map_err)? {
        httparse::Status::Partial => {
            return if buf.len() > limits.max_head_bytes { Err(HeadError::HeadTooLarge) } else { Ok(None) };
        }
        httparse::Status::Complete(n) => n,
    };
    if head_len > limits.max_head_bytes {
        return Err(HeadError::HeadTooLarge);
    }
    let status = resp.code.unwrap_or(0);
    let minor_version = resp.version.unwrap_or(1);
    copy_headers(buf, resp.headers, headers);
    let f = scan_framing(buf, headers)?;
    let framing = if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
        ResponseFraming::Empty
    } else if f.chunked {
        ResponseFraming::Chunked
    } else if let Some(n) = f.length {
        ResponseFraming::Length(n)
    } else {
        ResponseFraming::UntilClose
    };
    let keep_alive =
        framing != ResponseFraming::UntilClose && if minor_version == 0 { f.keep_alive && !f.close } else { !f.close };
    Ok(Some(ResponseHead { status, head_len, framing, keep_alive }))
}

#[cfg(test)]
mod tests;

//! TLS on the client listener: TLS 1.2 and 1.3 with ALPN http/1.1, client certificates
//! against `client_ca`, certificates read again on SIGHUP without dropping open connections,
//! and bad files refused as config errors that name the field.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// A self-signed server certificate for 127.0.0.1 written to `<name>.crt` / `<name>.key`.
fn server_cert(name: &str) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (temp_path(&format!("{name}.crt")), temp_path(&format!("{name}.key")));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, ck.cert.der().clone())
}

fn tls_config(base: &str, cert: &Path, key: &Path, extra: &str) -> String {
    basic_config(base, "")
        + &format!("[server.tls]\ncert = \"{}\"\nkey = \"{}\"\n{extra}", cert.display(), key.display())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client config trusting `root`, speaking `versions`, with an optional client certificate.
fn client_config(
    root: &CertificateDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    identity: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        Some((cert, key)) => b.with_client_auth_cert(vec![cert], key).unwrap(),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(cfg)
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = rustls::ClientConnection::new(cfg, ServerName::try_from("127.0.0.1").unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, tcp);
    // Drive the handshake to the end.
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock)?;
    }
    Ok(s)
}

/// One request on `s`; the response's status and body (content-length or chunked).
fn exchange(s: &mut Tls, method: &str, path: &str, body: &str) -> (u16, String) {
    let req = format!("{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).unwrap();
    s.flush().unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed before a head: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let done = |b: &[u8]| match head.lines().find_map(|l| l.strip_prefix("content-length: ")) {
        Some(n) => b.len() - head_end >= n.trim().parse::<usize>().unwrap(),
        None => b.ends_with(b"0\r\n\r\n"),
    };
    while !done(&buf) {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed mid-body");
        buf.extend_from_slice(&chunk[..n]);
    }
    (status, String::from_utf8_lossy(&buf[head_end..]).into_owned())
}

#[test]
fn https_answers_over_tls_1_2_and_1_3_with_alpn_http_1_1() {
    let m = mock(MockConfig::default());
    let (cert, key, der) = server_cert("tls-basic");
    let gw = Gateway::start(&tls_config(&m.base_url(), &cert, &key, ""));
    assert!(gw.log_text().contains("listening on https://"), "{}", gw.log_text());
    for (versions, want) in [
        (&[&rustls::version::TLS13][..], rustls::ProtocolVersion::TLSv1_3),
        (&[&rustls::version::TLS12][..], rustls::ProtocolVersion::TLSv1_2),
    ] {
        let mut s = connect(gw.addr, client_config(&der, versions, None)).expect("handshake");
        assert_eq!(s.conn.protocol_version(), Some(want));
        assert_eq!(s.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
        let (status, body) = exchange(&mut s, "POST", "/v1/chat/completions", &chat_body("m", false));
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("chat.completion"), "{body}");
        // Keep-alive, and a stream, on the same connection.
        let (status, body) = exchange(&mut s, "POST", "/v1/chat/completions", &chat_body("m", true));
        assert_eq!(status, 200);
        assert!(body.contains("[DONE]"), "{body}");
    }
    // Plain HTTP to the TLS port gets no answer in clear text.
    let mut plain = TcpStream::connect(gw.addr).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut b = Vec::new();
    let _ = plain.read_to_end(&mut b);
    assert!(!b.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&b));
}

#[test]
fn client_certificates_are_required_when_client_ca_is_set() {
    let m = mock(MockConfig::default());
    let (cert, key, der) = server_cert("tls-mtls");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let ca_path = temp_path("tls-client-ca.crt");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert =
        CertificateParams::new(vec!["tenant-a".to_string()]).unwrap().signed_by(&client_key, &ca).unwrap();
    let identity =
        || (client_cert.der().clone(), PrivateKeyDer::try_from(client_key.serialize_der()).unwrap().clone_key());
    let extra = format!("client_ca = \"{}\"\n", ca_path.display());
    let gw = Gateway::start(&tls_config(&m.base_url(), &cert, &key, &extra));
    let tls13 = &[&rustls::version::TLS13][..];
    let mut s = connect(gw.addr, client_config(&der, tls13, Some(identity()))).expect("handshake with a client cert");
    assert_eq!(exchange(&mut s, "GET", "/healthz", "").0, 200);
    // Without one the handshake (or, in TLS 1.3, the first read) fails.
    let refused = connect(gw.addr, client_config(&der, tls13, None)).and_then(|mut s| {
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")?;
        let mut b = [0u8; 64];
        s.read(&mut b)
    });
    assert!(!matches!(refused, Ok(n) if n > 0), "served without a client certificate");
}

#[test]
fn sighup_loads_a_new_certificate_and_open_connections_carry_on() {
    let m = mock(MockConfig::default());
    let (cert, key, old) = server_cert("tls-reload");
    let gw = Gateway::start(&tls_config(&m.base_url(), &cert, &key, ""));
    let tls13 = &[&rustls::version::TLS13][..];
    let mut open = connect(gw.addr, client_config(&old, tls13, None)).unwrap();
    assert_eq!(exchange(&mut open, "GET", "/healthz", "").0, 200);
    // A new certificate in the same files, then SIGHUP.
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let new = ck.cert.der().clone();
    gw.signal("HUP");
    let t = Instant::now();
    while connect(gw.addr, client_config(&new, tls13, None)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(5), "the new certificate was never served: {}", gw.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(connect(gw.addr, client_config(&old, tls13, None)).is_err(), "the old certificate is still served");
    // The connection made before the reload still works.
    let (status, body) = exchange(&mut open, "POST", "/v1/chat/completions", &chat_body("m", false));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn unreadable_or_mismatched_tls_files_are_config_errors_naming_the_field() {
    let (cert, key, _) = server_cert("tls-bad");
    let (_, other_key, _) = server_cert("tls-bad-other");
    let missing = temp_path("tls-missing.crt");
    for (cert, key, field) in [
        (missing.as_path(), key.as_path(), "server.tls.cert"),
        (cert.as_path(), missing.as_path(), "server.tls.key"),
        (cert.as_path(), other_key.as_path(), "server.tls.key"),
    ] {
        let path = temp_path("tls-bad.toml");
        std::fs::write(&path, tls_config("http://127.0.0.1:9", cert, key, "")).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["--check", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted {cert:?} with {key:?}");
        assert!(err.contains(field), "{field} not named: {err}");
    }
}

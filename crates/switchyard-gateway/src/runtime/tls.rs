//! TLS client configuration for https providers (rustls with the ring provider).

use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A connector trusting the webpki roots plus the certificates in `ca_file`; ALPN http/1.1.
pub fn connector(ca_file: Option<&str>) -> Result<monoio_rustls::TlsConnector, String> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| format!("cannot read {path}: {e}"))? {
            let cert = cert.map_err(|e| format!("invalid PEM in {path}: {e}"))?;
            roots.add(cert).map_err(|e| format!("invalid certificate in {path}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("no certificates in {path}"));
        }
    }
    // An explicit provider: no process-wide default needs installing, so nothing can race it.
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(monoio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// The client listener's acceptor from `[server.tls]`: TLS 1.2 and 1.3, ALPN http/1.1, and
/// client certificates checked against `client_ca` when set. An unreadable file, a key that
/// does not match the certificate or a CA file without certificates is an error naming the
/// field.
pub fn acceptor(tls: &switchyard_config::ServerTls) -> Result<monoio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::PrivateKeyDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| format!("server.tls.cert: cannot read {}: {e}", tls.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("server.tls.cert: invalid PEM in {}: {e}", tls.cert))?;
    if certs.is_empty() {
        return Err(format!("server.tls.cert: no certificates in {}", tls.cert));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key)
        .map_err(|e| format!("server.tls.key: no private key read from {}: {e}", tls.key))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("server.tls.client_ca: cannot read {path}: {e}"))?
            {
                let cert = cert.map_err(|e| format!("server.tls.client_ca: invalid PEM in {path}: {e}"))?;
                roots.add(cert).map_err(|e| format!("server.tls.client_ca: invalid certificate in {path}: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("server.tls.client_ca: no certificates in {path}"));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("server.tls.client_ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    // rustls checks that the key is the certificate's (InconsistentKeys otherwise).
    let mut cfg = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("server.tls.key: does not fit server.tls.cert ({}): {e}", tls.cert))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(monoio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

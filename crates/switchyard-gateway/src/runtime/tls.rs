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

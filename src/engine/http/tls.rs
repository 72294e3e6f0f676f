//! rustls client configuration: webpki roots, or — with `--dangerous` — no verification.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::Http2Mode;

/// The ALPN protocols offered for `mode`, most preferred first.
pub(super) fn alpn_for(mode: Http2Mode) -> Vec<Vec<u8>> {
    match mode {
        Http2Mode::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Http2Mode::On => vec![b"h2".to_vec()],
        Http2Mode::Off => vec![b"http/1.1".to_vec()],
    }
}

/// Builds the client TLS configuration shared by every viewer.
///
/// The ring provider is named explicitly because rustls is built without default
/// features, so there is no process-wide default provider to fall back on.
///
/// `http2` decides the ALPN offer ([`alpn_for`]).
pub(super) fn build_client_config(
    insecure: bool,
    http2: Http2Mode,
) -> Result<ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServerCert::new(&provider)))
            .with_no_client_auth()
    } else {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // Always offer something, so an h2-capable origin never picks h2 unasked.
    config.alpn_protocols = alpn_for(http2);
    // One config serves every viewer; a shared session cache would let viewer B resume
    // viewer A's session, sparing the origin handshakes real (distinct) players make.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(config)
}

/// **DANGER — `--dangerous` only.** A certificate verifier that accepts *any* server
/// certificate and *any* handshake signature: expired, self-signed, wrong host name,
/// forged — everything. A connection made with it is encrypted but NOT authenticated, so
/// anyone on the path can impersonate the origin. It exists solely so a load test can run
/// against lab origins with self-signed certificates; never use it for anything else.
#[derive(Debug)]
pub(super) struct AcceptAnyServerCert {
    /// The schemes we advertise; taken from the provider so the handshake negotiates
    /// exactly what a verifying client would.
    schemes: Vec<SignatureScheme>,
}

impl AcceptAnyServerCert {
    fn new(provider: &CryptoProvider) -> Self {
        Self {
            schemes: provider
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_config_builds_with_roots_and_alpn() {
        let config = build_client_config(false, Http2Mode::Off).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let config = build_client_config(false, Http2Mode::Auto).expect("config");
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let config = build_client_config(false, Http2Mode::On).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
    }

    #[test]
    fn insecure_config_builds_and_accepts_any_certificate() {
        let config = build_client_config(true, Http2Mode::Off).expect("config");
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let provider = rustls::crypto::ring::default_provider();
        let verifier = AcceptAnyServerCert::new(&provider);
        assert!(!verifier.supported_verify_schemes().is_empty());
        let garbage = CertificateDer::from(vec![1u8, 2, 3]);
        let name = ServerName::try_from("example.invalid").expect("name");
        assert!(
            verifier
                .verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
                .is_ok()
        );
    }
}

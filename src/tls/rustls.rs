//! The rustls glue (features `postgres-rustls` and `mysql-rustls`): the client configuration
//! for a [`TlsMode`], the trusted roots (the CA sources, and the system trust store through
//! rustls-native-certs, which reads the files OpenSSL reads, `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` included), the reading of rustls's typed errors, and the certificate probe's
//! handshake.
//!
//! One crypto provider, aws-lc-rs: the one aws-config's HTTPS client already brings (see the
//! `rustls` dependency in Cargo.toml). Every configuration here names it explicitly, so a
//! process-wide default installed by the application (or none, or an ambiguous one) changes
//! nothing.

use std::error::Error as StdError;
use std::io;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::net::TcpStream;

use super::bundle::CaBundle;
use super::connector::{TlsSetupError, check};
use super::diagnose::HandshakeFailure;
use crate::tls_mode::TlsMode;

/// The crypto provider of every rustls configuration the crate builds.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Install aws-lc-rs as rustls's process-wide crypto provider unless the application has
/// installed one: mysql_async builds its configuration from that default (see
/// [`crate::mysql`]).
#[cfg(feature = "mysql-rustls")]
pub(crate) fn install_default_provider() {
    if CryptoProvider::get_default().is_none() {
        // Lost race with another installer: theirs stands, as it should.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

/// A rustls client configuration that checks the server's certificate as `mode` says, trusting
/// the CAs of `bundle`, as `tls_connector` does with native-tls:
///
/// - [`TlsMode::VerifyFull`]: chain and host name (rustls's WebPKI verifier); the CAs of the
///   bundle's sources, and the system trust store unless the bundle's configuration turns it
///   off;
/// - [`TlsMode::VerifyCa`]: chain only, against exactly the CAs of the bundle's sources;
///   a bundle without any source is [`TlsSetupError::VerifyCaWithoutCa`];
/// - [`TlsMode::Require`]: no certificate check (a warning says so); the handshake signatures
///   are still checked.
///
/// TLS 1.2 is the minimum (rustls offers nothing older).
///
/// ```
/// use rds_iam::tls::{CaBundle, TlsSetupError, TrustConfig, rustls_config};
/// use rds_iam::tls_mode::TlsMode;
///
/// let system = CaBundle::load(&TrustConfig::new())?; // the system trust store
/// let config = rustls_config(&system, TlsMode::VerifyFull)?;
/// # let _ = config;
/// let err = rustls_config(&system, TlsMode::VerifyCa).unwrap_err();
/// assert!(matches!(err, TlsSetupError::VerifyCaWithoutCa));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rustls_config(bundle: &CaBundle, mode: TlsMode) -> Result<ClientConfig, TlsSetupError> {
    check(bundle, mode)?;
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| TlsSetupError::Build {
            fix: "the crypto provider (aws-lc-rs) offers neither TLS 1.2 nor TLS 1.3",
            source: Box::new(e),
        })?;
    let config = match mode {
        TlsMode::VerifyFull => builder.with_root_certificates(root_store(bundle, mode)),
        TlsMode::VerifyCa | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(ModeVerifier {
                roots: (mode == TlsMode::VerifyCa).then(|| root_store(bundle, mode)),
                provider,
            })),
    };
    Ok(config.with_no_client_auth())
}

/// The certificates a connection in `mode` trusts, as DER: the bundle's, and the system trust
/// store's when `mode` uses it (for drivers that take DER, as mysql_async does).
#[cfg_attr(
    not(feature = "mysql-rustls"),
    allow(dead_code) // reason: only mysql_async takes roots as DER
)]
pub(crate) fn trusted_der(bundle: &CaBundle, mode: TlsMode) -> Vec<CertificateDer<'static>> {
    let mut der: Vec<CertificateDer<'static>> = bundle
        .certificates_der()
        .map(|d| CertificateDer::from(d.to_vec()))
        .collect();
    if bundle.system_roots_in(mode) {
        der.extend(system_roots());
    }
    der
}

fn root_store(bundle: &CaBundle, mode: TlsMode) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    // Every bundle certificate was checked when loaded; those of the system store are taken if
    // they parse, as OpenSSL does.
    roots.add_parsable_certificates(trusted_der(bundle, mode));
    roots
}

/// The system trust store (rustls-native-certs: `SSL_CERT_FILE`, `SSL_CERT_DIR`, else the
/// platform's store). Unreadable entries are logged and skipped.
fn system_roots() -> Vec<CertificateDer<'static>> {
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(target: "rds_iam::tls", %error, "part of the system trust store could not be read");
    }
    found.certs
}

/// The certificate check of `verify-ca` (the chain against `roots`, any name) and `require`
/// (`roots` is `None`: nothing). Handshake signatures are checked in both.
#[derive(Debug)]
struct ModeVerifier {
    roots: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ModeVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let certificate = rustls::server::ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &certificate,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What a rustls error means, when `error` is one: by its type, no text read.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> Option<HandshakeFailure> {
    let rustls::Error::InvalidCertificate(certificate) = error.downcast_ref::<rustls::Error>()?
    else {
        return Some(HandshakeFailure::Other);
    };
    Some(classify_certificate(certificate))
}

fn classify_certificate(error: &CertificateError) -> HandshakeFailure {
    let detail = match error {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            return HandshakeFailure::HostNameMismatch;
        }
        CertificateError::UnknownIssuer => "its chain leads to no trusted CA",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "certificate has expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "certificate is not yet valid"
        }
        CertificateError::Revoked => "certificate revoked",
        CertificateError::BadSignature => "a signature in the chain is wrong",
        CertificateError::BadEncoding => "the certificate is garbled",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the certificate is not for TLS servers"
        }
        other => {
            return HandshakeFailure::Untrusted {
                detail: other.to_string(),
            };
        }
    };
    HandshakeFailure::Untrusted {
        detail: detail.to_owned(),
    }
}

/// A handshake over `stream` that accepts any certificate, for the certificate it presents.
#[cfg_attr(
    feature = "_native-tls",
    allow(dead_code) // reason: the probe uses native-tls when it is built
)]
pub(crate) async fn peer_certificate(stream: TcpStream, server_name: &str) -> io::Result<Vec<u8>> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ModeVerifier {
            roots: None,
            provider: provider(),
        }))
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await?;
    let (_, session) = tls.get_ref();
    session
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|certificate| certificate.to_vec())
        .ok_or_else(|| io::Error::other("the server presented no certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every certificate error is told apart by its type.
    #[test]
    fn certificate_errors_are_classified_by_type() {
        let mismatch =
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                expected: ServerName::try_from("db.example.com").unwrap(),
                presented: vec!["attacker.example".into()],
            });
        assert_eq!(
            classify(&mismatch),
            Some(HandshakeFailure::HostNameMismatch)
        );
        let unknown = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        assert_eq!(
            classify(&unknown),
            Some(HandshakeFailure::Untrusted {
                detail: "its chain leads to no trusted CA".into()
            })
        );
        let expired = rustls::Error::InvalidCertificate(CertificateError::Expired);
        assert_eq!(
            classify(&expired),
            Some(HandshakeFailure::Untrusted {
                detail: "certificate has expired".into()
            })
        );
        let other = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(classify(&other), Some(HandshakeFailure::Other));
        assert_eq!(classify(&io::Error::other("reset")), None);
        // Wrapped in an io::Error, as tokio-rustls returns it.
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, unknown);
        assert!(matches!(
            super::super::diagnose::classify(&wrapped),
            Some(HandshakeFailure::Untrusted { .. })
        ));
    }

    #[test]
    fn verify_ca_trusts_only_the_sources() {
        use super::super::source::{CaSource, TrustConfig};
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let bundle =
            CaBundle::load(&TrustConfig::new().with_source(CaSource::pem(ca.pem()))).unwrap();
        assert_eq!(trusted_der(&bundle, TlsMode::VerifyCa).len(), 1);
        assert!(rustls_config(&bundle, TlsMode::VerifyCa).is_ok());
        let nothing = CaBundle::load(&TrustConfig::new().with_system_roots(false)).unwrap();
        assert!(matches!(
            rustls_config(&nothing, TlsMode::VerifyFull),
            Err(TlsSetupError::NothingTrusted { .. })
        ));
        assert!(rustls_config(&nothing, TlsMode::Require).is_ok());
    }
}

//! The native-tls glue (features `postgres` and `mysql`): the connector for a [`TlsMode`], the
//! reading of native-tls's errors, and the certificate probe's handshake.
//!
//! native-tls's errors are text: with OpenSSL, the verification result is written in
//! parentheses after the error (`... certificate verify failed ... (hostname mismatch)`).

use std::error::Error as StdError;
use std::io;

use tokio::net::TcpStream;

use super::bundle::CaBundle;
use super::connector::{TlsSetupError, check};
use super::diagnose::HandshakeFailure;
use crate::tls_mode::TlsMode;

/// A native-tls connector that checks the server's certificate as `mode` says, trusting the
/// CAs of `bundle`:
///
/// - [`TlsMode::VerifyFull`]: chain and host name; the CAs of the bundle's sources, and the
///   system trust store unless the bundle's configuration turns it off;
/// - [`TlsMode::VerifyCa`]: chain only (any host name is accepted), against exactly the CAs of
///   the bundle's sources, never the system trust store ([`CaBundle::system_roots_in`]); a
///   bundle without any source is [`TlsSetupError::VerifyCaWithoutCa`];
/// - [`TlsMode::Require`]: nothing: the connection is encrypted, but the server is not
///   authenticated: anyone on the path can present a certificate and read the password (the
///   IAM token). This is libpq's `require`; a `warn!` says so each time such a connector is
///   built.
///
/// TLS 1.2 is the minimum.
///
/// ```
/// use rds_iam::tls::{CaBundle, TlsSetupError, TrustConfig, tls_connector};
/// use rds_iam::tls_mode::TlsMode;
///
/// let system = CaBundle::load(&TrustConfig::new())?; // the system trust store
/// let connector = tls_connector(&system, TlsMode::VerifyFull)?;
/// # let _ = connector;
/// // verify-ca never uses the system trust store: it needs a CA source.
/// let err = tls_connector(&system, TlsMode::VerifyCa).unwrap_err();
/// assert!(matches!(err, TlsSetupError::VerifyCaWithoutCa));
///
/// let nothing = CaBundle::load(&TrustConfig::new().with_system_roots(false))?;
/// assert!(tls_connector(&nothing, TlsMode::VerifyFull).is_err());
/// assert!(tls_connector(&nothing, TlsMode::Require).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tls_connector(
    bundle: &CaBundle,
    mode: TlsMode,
) -> Result<native_tls::TlsConnector, TlsSetupError> {
    check(bundle, mode)?;
    let build = |source: native_tls::Error| TlsSetupError::Build {
        fix: "check the system's OpenSSL installation",
        source: Box::new(source),
    };
    let mut builder = native_tls::TlsConnector::builder();
    builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    match mode {
        TlsMode::Require => {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            for der in bundle.certificates_der() {
                builder
                    .add_root_certificate(native_tls::Certificate::from_der(der).map_err(build)?);
            }
            builder.disable_built_in_roots(!bundle.system_roots_in(mode));
            builder.danger_accept_invalid_hostnames(mode == TlsMode::VerifyCa);
        }
    }
    builder.build().map_err(build)
}

/// What a native-tls error means, when `error` is one (read from its text: native-tls has no
/// error kinds).
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> Option<HandshakeFailure> {
    error
        .downcast_ref::<native_tls::Error>()
        .map(|e| classify_text(&e.to_string()))
}

fn classify_text(text: &str) -> HandshakeFailure {
    let lower = text.to_ascii_lowercase();
    if lower.contains("hostname mismatch")
        || lower.contains("ip address mismatch")
        || lower.contains("host name mismatch")
    {
        return HandshakeFailure::HostNameMismatch;
    }
    if lower.contains("certificate verify failed")
        || lower.contains("certificate is not trusted")
        || lower.contains("unable to get local issuer")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        let detail = text
            .rsplit_once('(')
            .and_then(|(_, d)| d.strip_suffix(')'))
            .unwrap_or("certificate verify failed")
            .to_owned();
        return HandshakeFailure::Untrusted { detail };
    }
    HandshakeFailure::Other
}

/// A handshake over `stream` that accepts any certificate, for the certificate it presents.
pub(crate) async fn peer_certificate(stream: TcpStream, server_name: &str) -> io::Result<Vec<u8>> {
    let connector = native_tls::TlsConnector::builder()
        .danger_accept_invalid_certs(true)
        .danger_accept_invalid_hostnames(true)
        .build()
        .map_err(io::Error::other)?;
    let tls = tokio_native_tls::TlsConnector::from(connector)
        .connect(server_name, stream)
        .await
        .map_err(io::Error::other)?;
    let certificate = tls
        .get_ref()
        .peer_certificate()
        .map_err(io::Error::other)?
        .ok_or_else(|| io::Error::other("the server presented no certificate"))?;
    certificate.to_der().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_texts_are_classified() {
        assert_eq!(
            classify_text(
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:2102: (hostname mismatch)"
            ),
            HandshakeFailure::HostNameMismatch
        );
        assert_eq!(
            classify_text(
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:2102: (unable to get local issuer \
                 certificate)"
            ),
            HandshakeFailure::Untrusted {
                detail: "unable to get local issuer certificate".into()
            }
        );
        assert_eq!(
            classify_text("Connection reset by peer (os error 104)"),
            HandshakeFailure::Other
        );
    }
}

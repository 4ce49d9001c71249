//! Building the native-tls connector for a [`TlsMode`]: once per connector object, never per
//! connection (building one reads the system trust store: about 100 ms).

use crate::tls_mode::TlsMode;

use super::bundle::CaBundle;

/// Why no TLS connector could be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The mode verifies certificates, but no CA is trusted.
    #[error(
        "sslmode {mode} verifies the server certificate, but no CA is trusted (the system trust \
         store is off and no CA file is given): give the CA bundle (sslrootcert/sslCa in the URL, \
         or a CA source in the builder) or turn the system trust store back on"
    )]
    NothingTrusted {
        /// The mode asked for.
        mode: TlsMode,
    },
    /// The TLS library refused the settings.
    #[error(
        "the TLS library could not set up a TLS client: check the system's OpenSSL installation"
    )]
    Build {
        /// The TLS library's error.
        #[source]
        source: native_tls::Error,
    },
}

/// A native-tls connector that checks the server's certificate as `mode` says, trusting the
/// CAs of `bundle`:
///
/// - [`TlsMode::VerifyFull`]: chain and host name;
/// - [`TlsMode::VerifyCa`]: chain only (any host name is accepted);
/// - [`TlsMode::Require`]: nothing: the connection is encrypted, but anyone on the path can
///   present a certificate and read the password (the IAM token). This is libpq's `require`;
///   a `warn!` says so each time such a connector is built.
///
/// TLS 1.2 is the minimum.
///
/// ```
/// use rds_iam::tls::{CaBundle, TrustConfig, tls_connector};
/// use rds_iam::tls_mode::TlsMode;
///
/// let bundle = CaBundle::load(&TrustConfig::new())?; // the system trust store
/// let connector = tls_connector(&bundle, TlsMode::VerifyFull)?;
/// # let _ = connector;
///
/// let nothing = CaBundle::load(&TrustConfig::new().with_system_roots(false))?;
/// assert!(tls_connector(&nothing, TlsMode::VerifyCa).is_err());
/// assert!(tls_connector(&nothing, TlsMode::Require).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn tls_connector(
    bundle: &CaBundle,
    mode: TlsMode,
) -> Result<native_tls::TlsConnector, TlsSetupError> {
    check(bundle, mode)?;
    let mut builder = native_tls::TlsConnector::builder();
    builder.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    match mode {
        TlsMode::Require => {
            builder.danger_accept_invalid_certs(true);
            builder.danger_accept_invalid_hostnames(true);
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            for certificate in bundle.certificates() {
                builder.add_root_certificate(certificate.clone());
            }
            builder.disable_built_in_roots(!bundle.system_roots());
            builder.danger_accept_invalid_hostnames(mode == TlsMode::VerifyCa);
        }
    }
    builder
        .build()
        .map_err(|source| TlsSetupError::Build { source })
}

/// Refuse a verifying mode with nothing trusted; warn about `require` (once per connector
/// built).
pub(crate) fn check(bundle: &CaBundle, mode: TlsMode) -> Result<(), TlsSetupError> {
    match mode {
        TlsMode::Require => {
            tracing::warn!(
                target: "rds_iam::tls",
                "sslmode require: the connection is encrypted but the server is not authenticated \
                 (its certificate is not verified), so a machine on the network path could pose \
                 as the database and receive the IAM token; use verify-full with the RDS CA bundle"
            );
            Ok(())
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull if !bundle.trusts_anything() => {
            Err(TlsSetupError::NothingTrusted { mode })
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull => Ok(()),
    }
}

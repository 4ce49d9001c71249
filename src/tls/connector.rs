//! Building the native-tls connector for a [`TlsMode`]: once per connector object, never per
//! connection (building one reads the system trust store: about 100 ms).

use crate::tls_mode::TlsMode;

use super::bundle::CaBundle;

/// Why no TLS connector could be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// `verify-ca` without any CA source (`sslmode=verify-ca` without `sslrootcert`,
    /// `sslMode=VERIFY_CA` without `sslCa`, or the builder's `tls_mode` without `ca`):
    /// `verify-ca` trusts only the CAs given, never the system trust store.
    #[error(
        "TLS mode verify-ca trusts only the CA certificates given, never the system trust store \
         (it does not check the host name, so a certificate for any name from any public CA \
         would pass), and no CA was given: give the CA bundle that issued the database's \
         certificate (for RDS, https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) \
         as sslrootcert (PostgreSQL) or sslCa (MySQL) in the URL, or with .ca(CaSource::file(PATH)) \
         on the connector builder; or use verify-full (sslmode=verify-full, \
         sslMode=VERIFY_IDENTITY), which also checks the host name"
    )]
    VerifyCaWithoutCa,
    /// `verify-full` with nothing trusted: the system trust store is off and no CA is given.
    #[error(
        "TLS mode {mode} verifies the server certificate, but no CA is trusted (the system \
         trust store is off and no CA source is given): give the CA bundle that issued the \
         database's certificate as sslrootcert (PostgreSQL) or sslCa (MySQL) in the URL, or with \
         .ca(CaSource::file(PATH)) on the connector builder; or turn the system trust store back \
         on (.system_roots(true) on the connector builder, TrustConfig::with_system_roots(true))"
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
            builder.disable_built_in_roots(!bundle.system_roots_in(mode));
            builder.danger_accept_invalid_hostnames(mode == TlsMode::VerifyCa);
        }
    }
    builder
        .build()
        .map_err(|source| TlsSetupError::Build { source })
}

/// Refuse `verify-ca` without a CA source and `verify-full` with nothing trusted; warn about
/// `require` (once per connector built).
pub(crate) fn check(bundle: &CaBundle, mode: TlsMode) -> Result<(), TlsSetupError> {
    match mode {
        TlsMode::Require => {
            tracing::warn!(
                target: "rds_iam::tls",
                "TLS mode require (sslmode=require, sslMode=REQUIRED): the connection is \
                 encrypted but the server certificate is not checked, so the server is not \
                 authenticated: anyone on the network path can pose as the database and receive \
                 the IAM token; use verify-full (sslmode=verify-full, sslMode=VERIFY_IDENTITY) \
                 with the RDS CA bundle"
            );
            Ok(())
        }
        TlsMode::VerifyCa if bundle.is_empty() => Err(TlsSetupError::VerifyCaWithoutCa),
        TlsMode::VerifyFull if !bundle.trusts_anything() => {
            Err(TlsSetupError::NothingTrusted { mode })
        }
        TlsMode::VerifyCa | TlsMode::VerifyFull => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Every message, pinned; the TLS library's error is the source, not in the message.
    #[test]
    fn messages() {
        assert_eq!(
            TlsSetupError::VerifyCaWithoutCa.to_string(),
            "TLS mode verify-ca trusts only the CA certificates given, never the system trust \
             store (it does not check the host name, so a certificate for any name from any \
             public CA would pass), and no CA was given: give the CA bundle that issued the \
             database's certificate (for RDS, \
             https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) as sslrootcert \
             (PostgreSQL) or sslCa (MySQL) in the URL, or with .ca(CaSource::file(PATH)) on the \
             connector builder; or use verify-full (sslmode=verify-full, \
             sslMode=VERIFY_IDENTITY), which also checks the host name"
        );
        assert_eq!(
            TlsSetupError::NothingTrusted {
                mode: TlsMode::VerifyFull
            }
            .to_string(),
            "TLS mode verify-full verifies the server certificate, but no CA is trusted (the \
             system trust store is off and no CA source is given): give the CA bundle that \
             issued the database's certificate as sslrootcert (PostgreSQL) or sslCa (MySQL) in \
             the URL, or with .ca(CaSource::file(PATH)) on the connector builder; or turn the \
             system trust store back on (.system_roots(true) on the connector builder, \
             TrustConfig::with_system_roots(true))"
        );
        let Err(source) = native_tls::Certificate::from_pem(b"not a certificate") else {
            panic!("not a certificate, yet parsed")
        };
        let cause = source.to_string();
        let e = TlsSetupError::Build { source };
        assert_eq!(
            e.to_string(),
            "the TLS library could not set up a TLS client: check the system's OpenSSL \
             installation"
        );
        assert_eq!(e.source().unwrap().to_string(), cause);
        assert!(!cause.is_empty() && !e.to_string().contains(&cause));
    }
}

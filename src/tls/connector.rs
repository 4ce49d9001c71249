//! What both TLS stacks share when a connector is built: the check of the CAs against the
//! [`TlsMode`], the `require` warning, and [`TlsSetupError`]. The stack glue (`native.rs`,
//! `rustls.rs`) builds the connector itself, once per connector object, never per connection
//! (building one reads the system trust store: about 100 ms).

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
    #[error("the TLS library could not set up a TLS client: {fix}")]
    Build {
        /// What to check (names the TLS library).
        fix: &'static str,
        /// The TLS library's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
        let source: Box<dyn std::error::Error + Send + Sync> = "distinctive-cause".into();
        let cause = source.to_string();
        let e = TlsSetupError::Build {
            fix: "check the system's OpenSSL installation",
            source,
        };
        assert_eq!(
            e.to_string(),
            "the TLS library could not set up a TLS client: check the system's OpenSSL \
             installation"
        );
        assert_eq!(e.source().unwrap().to_string(), cause);
        assert!(!cause.is_empty() && !e.to_string().contains(&cause));
    }
}

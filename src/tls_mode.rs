//! The effective TLS mode of a JDBC URL, as libpq, pgjdbc and MySQL Connector/J read it, with
//! TLS never off.
//!
//! PostgreSQL:
//! - `sslmode` wins over `ssl`;
//! - `ssl=true` (or `ssl` with an empty value) without `sslmode` means `verify-full` (pgjdbc);
//! - `require` with a root certificate given (`sslrootcert=FILE`) behaves as `verify-ca` (libpq);
//! - `sslrootcert=system` means the system trust store, and needs `verify-full` (libpq).
//!
//! MySQL and MariaDB: `sslMode=REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY` (reported as
//! `require`, `verify-ca`, `verify-full`); `REQUIRED` with a CA file (`sslCa` or
//! `serverSslCert`) behaves as `VERIFY_CA`, like PostgreSQL's `require`.
//!
//! What each mode trusts (the connectors apply it, see the `tls` module, features `postgres`
//! and `mysql`):
//! - `verify-full`: the CA file, if any, and the system trust store; the host name is checked;
//! - `verify-ca`: exactly the CA file given (or the CA sources given to a connector builder),
//!   never the system trust store: the host name is not checked, so with the system store any
//!   certificate for any name from any public CA would pass (libpq, too, trusts only
//!   `sslrootcert` here). With no CA at all, building the connector fails;
//! - `require`: nothing: the server is not authenticated (a warning is logged).
//!
//! pgjdbc's `require` with a root certificate checks nothing; this crate follows libpq, for
//! which the file makes it `verify-ca`: the chain is checked against that file only.
//!
//! No TLS setting at all means `verify-full` (`VERIFY_IDENTITY`). The settings that allow a
//! plaintext connection (`sslmode=disable|allow|prefer`, `ssl=false`, `sslMode=DISABLED|PREFERRED`)
//! are errors: for an IAM-enabled URL because the token is a bearer secret, for any other URL
//! because this crate only connects over TLS.
//!
//! ```
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::tls_mode::{EffectiveTls, TlsMode};
//!
//! let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam&ssl=true&sslmode=require")?;
//! assert_eq!(EffectiveTls::resolve(&url)?.mode(), TlsMode::Require);
//!
//! let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam&sslmode=require&sslrootcert=/etc/rds-ca.pem")?;
//! let tls = EffectiveTls::resolve(&url)?;
//! assert_eq!((tls.mode(), tls.ca_file()), (TlsMode::VerifyCa, Some("/etc/rds-ca.pem")));
//!
//! let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam&sslmode=disable")?;
//! let err = EffectiveTls::resolve(&url).unwrap_err();
//! assert!(err.to_string().contains("bearer secret"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::jdbc::{Engine, JdbcUrl, MySqlSslMode, PgSslMode};

/// How the server's certificate is checked. TLS itself is always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsMode {
    /// Encrypted, certificate not verified (`require`, `REQUIRED`).
    Require,
    /// Certificate chain verified against exactly the CA sources given (never the system trust
    /// store), host name not checked (`verify-ca`, `VERIFY_CA`).
    VerifyCa,
    /// Chain verified and host name checked (`verify-full`, `VERIFY_IDENTITY`).
    VerifyFull,
}

impl TlsMode {
    /// `require`, `verify-ca` or `verify-full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    /// Whether the certificate chain is verified.
    pub fn verifies_chain(self) -> bool {
        self != Self::Require
    }

    /// Whether the host name is checked against the certificate.
    pub fn verifies_host_name(self) -> bool {
        self == Self::VerifyFull
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The TLS mode and trust anchors a URL asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EffectiveTls {
    mode: TlsMode,
    ca_file: Option<String>,
}

impl EffectiveTls {
    /// Work out the effective TLS mode of `url` (see the [module docs](self)).
    pub fn resolve(url: &JdbcUrl) -> Result<Self, TlsModeError> {
        match url.engine() {
            Engine::Postgresql => postgres(url),
            Engine::Mysql | Engine::Mariadb => mysql(url),
        }
    }

    /// The effective mode.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// The PEM file of trusted CA certificates given in the URL (`sslrootcert`, `sslCa` or
    /// `serverSslCert`). `None`: no file in the URL (`verify-full` then trusts the system trust
    /// store; `verify-ca` needs a CA source given to the connector builder).
    pub fn ca_file(&self) -> Option<&str> {
        self.ca_file.as_deref()
    }
}

/// Why a URL's TLS settings are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsModeError {
    /// A setting that allows plaintext on an IAM-enabled URL.
    #[error(
        "{key}={value} lets the connection run without TLS, but this URL uses IAM authentication \
         and the token is a bearer secret (whoever reads it can log in as this user until it \
         expires): remove {key}={value} or set {fix}"
    )]
    PlaintextWithIam {
        /// The parameter.
        key: &'static str,
        /// Its value, in canonical spelling.
        value: &'static str,
        /// The setting to use instead.
        fix: &'static str,
    },
    /// A setting that allows plaintext on a URL without IAM.
    #[error(
        "{key}={value} lets the connection run without TLS, and rds-iam connects only over TLS: \
         remove {key}={value} or set {fix}"
    )]
    PlaintextNotSupported {
        /// The parameter.
        key: &'static str,
        /// Its value, in canonical spelling.
        value: &'static str,
        /// The setting to use instead.
        fix: &'static str,
    },
    /// `sslrootcert=system` with a mode weaker than `verify-full`.
    #[error(
        "sslrootcert=system needs sslmode=verify-full (as in libpq): set sslmode=verify-full, or \
         give a CA file as sslrootcert=/path/to/ca.pem"
    )]
    SystemRootsNeedVerifyFull,
    /// `sslCa` and `serverSslCert` name different files.
    #[error("sslCa and serverSslCert name different CA files: give only one of them")]
    ConflictingCaFiles,
}

const PG_FIX: &str = "sslmode=verify-full (or verify-ca, require)";
const MYSQL_FIX: &str = "sslMode=VERIFY_IDENTITY (or VERIFY_CA, REQUIRED)";

fn plaintext(
    url: &JdbcUrl,
    key: &'static str,
    value: &'static str,
    fix: &'static str,
) -> TlsModeError {
    if url.is_iam() {
        TlsModeError::PlaintextWithIam { key, value, fix }
    } else {
        TlsModeError::PlaintextNotSupported { key, value, fix }
    }
}

fn postgres(url: &JdbcUrl) -> Result<EffectiveTls, TlsModeError> {
    let system_roots = url.sslrootcert() == Some("system");
    let ca_file = url
        .sslrootcert()
        .filter(|_| !system_roots)
        .map(str::to_owned);
    let sslmode = match (url.sslmode(), url.ssl()) {
        (Some(mode), _) => mode,
        (None, Some(false)) => return Err(plaintext(url, "ssl", "false", PG_FIX)),
        (None, Some(true) | None) => PgSslMode::VerifyFull,
    };
    let mode = match sslmode {
        PgSslMode::Disable | PgSslMode::Allow | PgSslMode::Prefer => {
            return Err(plaintext(url, "sslmode", sslmode.as_str(), PG_FIX));
        }
        PgSslMode::Require | PgSslMode::VerifyCa if system_roots => {
            return Err(TlsModeError::SystemRootsNeedVerifyFull);
        }
        PgSslMode::Require if ca_file.is_some() => TlsMode::VerifyCa,
        PgSslMode::Require => TlsMode::Require,
        PgSslMode::VerifyCa => TlsMode::VerifyCa,
        PgSslMode::VerifyFull => TlsMode::VerifyFull,
    };
    Ok(EffectiveTls { mode, ca_file })
}

fn mysql(url: &JdbcUrl) -> Result<EffectiveTls, TlsModeError> {
    let ca_file = match (url.ssl_ca(), url.server_ssl_cert()) {
        (Some(a), Some(b)) if a != b => return Err(TlsModeError::ConflictingCaFiles),
        (a, b) => a.or(b).map(str::to_owned),
    };
    let ssl_mode = url.mysql_ssl_mode().unwrap_or(MySqlSslMode::VerifyIdentity);
    let mode = match ssl_mode {
        MySqlSslMode::Disabled | MySqlSslMode::Preferred => {
            return Err(plaintext(url, "sslMode", ssl_mode.as_str(), MYSQL_FIX));
        }
        MySqlSslMode::Required if ca_file.is_some() => TlsMode::VerifyCa,
        MySqlSslMode::Required => TlsMode::Require,
        MySqlSslMode::VerifyCa => TlsMode::VerifyCa,
        MySqlSslMode::VerifyIdentity => TlsMode::VerifyFull,
    };
    Ok(EffectiveTls { mode, ca_file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(url: &str) -> Result<EffectiveTls, TlsModeError> {
        EffectiveTls::resolve(&JdbcUrl::parse(url).unwrap())
    }

    fn mode(url: &str) -> TlsMode {
        tls(url).unwrap().mode()
    }

    const PG_IAM: &str = "jdbc:aws-wrapper:postgresql://h/d?wrapperPlugins=iam";
    const MY_IAM: &str = "jdbc:aws-wrapper:mysql://h/d?wrapperPlugins=iam";

    #[test]
    fn postgres_rules() {
        assert_eq!(mode(PG_IAM), TlsMode::VerifyFull);
        assert_eq!(mode(&format!("{PG_IAM}&ssl=true")), TlsMode::VerifyFull);
        assert_eq!(mode(&format!("{PG_IAM}&ssl")), TlsMode::VerifyFull);
        assert_eq!(
            mode(&format!("{PG_IAM}&ssl=true&sslmode=require")),
            TlsMode::Require
        );
        assert_eq!(
            mode(&format!("{PG_IAM}&ssl=false&sslmode=verify-ca")),
            TlsMode::VerifyCa
        );
        assert_eq!(
            mode(&format!("{PG_IAM}&sslmode=require&sslrootcert=/ca.pem")),
            TlsMode::VerifyCa
        );
        assert_eq!(
            mode(&format!("{PG_IAM}&sslrootcert=system")),
            TlsMode::VerifyFull
        );
        assert_eq!(
            tls(&format!("{PG_IAM}&sslrootcert=system&sslmode=require")),
            Err(TlsModeError::SystemRootsNeedVerifyFull)
        );
    }

    #[test]
    fn plaintext_is_refused_with_the_reason() {
        for q in [
            "sslmode=disable",
            "sslmode=allow",
            "sslmode=prefer",
            "ssl=false",
        ] {
            let err = tls(&format!("{PG_IAM}&{q}")).unwrap_err();
            assert!(matches!(err, TlsModeError::PlaintextWithIam { .. }), "{q}");
            assert!(err.to_string().contains("bearer secret"), "{err}");
            assert!(err.to_string().contains(q), "{err}");
            let err = tls(&format!("jdbc:postgresql://h/d?{q}")).unwrap_err();
            assert!(
                matches!(err, TlsModeError::PlaintextNotSupported { .. }),
                "{q}"
            );
        }
        for q in ["sslMode=DISABLED", "sslMode=PREFERRED"] {
            let err = tls(&format!("{MY_IAM}&{q}")).unwrap_err();
            assert!(err.to_string().contains(q), "{err}");
            assert!(matches!(err, TlsModeError::PlaintextWithIam { .. }), "{q}");
        }
    }

    #[test]
    fn mysql_rules() {
        assert_eq!(mode(MY_IAM), TlsMode::VerifyFull);
        assert_eq!(
            mode(&format!("{MY_IAM}&sslMode=REQUIRED")),
            TlsMode::Require
        );
        assert_eq!(
            mode(&format!("{MY_IAM}&sslMode=VERIFY_CA")),
            TlsMode::VerifyCa
        );
        let t = tls(&format!("{MY_IAM}&sslMode=REQUIRED&serverSslCert=/ca.pem")).unwrap();
        assert_eq!(
            (t.mode(), t.ca_file()),
            (TlsMode::VerifyCa, Some("/ca.pem"))
        );
        assert_eq!(
            tls(&format!("{MY_IAM}&sslCa=/a.pem&serverSslCert=/b.pem")),
            Err(TlsModeError::ConflictingCaFiles)
        );
        assert_eq!(
            mode(&format!("{MY_IAM}&sslCa=/a.pem&serverSslCert=/a.pem")),
            TlsMode::VerifyFull
        );
    }

    /// Every message, pinned.
    #[test]
    fn messages() {
        for (e, text) in [
            (
                TlsModeError::PlaintextWithIam {
                    key: "sslmode",
                    value: "prefer",
                    fix: PG_FIX,
                },
                "sslmode=prefer lets the connection run without TLS, but this URL uses IAM \
                 authentication and the token is a bearer secret (whoever reads it can log in as \
                 this user until it expires): remove sslmode=prefer or set sslmode=verify-full \
                 (or verify-ca, require)",
            ),
            (
                TlsModeError::PlaintextNotSupported {
                    key: "sslMode",
                    value: "DISABLED",
                    fix: MYSQL_FIX,
                },
                "sslMode=DISABLED lets the connection run without TLS, and rds-iam connects only \
                 over TLS: remove sslMode=DISABLED or set sslMode=VERIFY_IDENTITY (or VERIFY_CA, \
                 REQUIRED)",
            ),
            (
                TlsModeError::SystemRootsNeedVerifyFull,
                "sslrootcert=system needs sslmode=verify-full (as in libpq): set \
                 sslmode=verify-full, or give a CA file as sslrootcert=/path/to/ca.pem",
            ),
            (
                TlsModeError::ConflictingCaFiles,
                "sslCa and serverSslCert name different CA files: give only one of them",
            ),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }
}

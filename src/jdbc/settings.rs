//! The typed settings of a JDBC URL and the one table that maps each query key to its setting.

use std::fmt;
use std::time::Duration;

use super::{Engine, JdbcUrlError};
use crate::secret::Password;

/// PostgreSQL `sslmode` (libpq and pgjdbc spelling).
///
/// Parsed case-insensitively (as pgjdbc does), written back in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PgSslMode {
    /// `disable`: no TLS.
    Disable,
    /// `allow`: plaintext first, TLS if the server insists.
    Allow,
    /// `prefer`: TLS if the server offers it, plaintext otherwise.
    Prefer,
    /// `require`: TLS, certificate not verified (unless a root certificate is given, see
    /// [`crate::tls_mode`]).
    Require,
    /// `verify-ca`: TLS, certificate chain verified.
    VerifyCa,
    /// `verify-full`: TLS, chain verified and host name checked.
    VerifyFull,
}

impl PgSslMode {
    const ALL: [Self; 6] = [
        Self::Disable,
        Self::Allow,
        Self::Prefer,
        Self::Require,
        Self::VerifyCa,
        Self::VerifyFull,
    ];

    /// The URL spelling (`verify-full`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(value))
    }
}

impl fmt::Display for PgSslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// MySQL/MariaDB `sslMode` (MySQL Connector/J spelling).
///
/// Parsed case-insensitively. The MariaDB Connector/J spellings are accepted too:
/// `disable`, `trust` (= `REQUIRED`), `verify-ca` and `verify-full` (= `VERIFY_IDENTITY`).
/// Written back in the MySQL spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MySqlSslMode {
    /// `DISABLED`: no TLS.
    Disabled,
    /// `PREFERRED`: TLS if the server offers it, plaintext otherwise.
    Preferred,
    /// `REQUIRED`: TLS, certificate not verified (unless a CA file is given, see
    /// [`crate::tls_mode`]).
    Required,
    /// `VERIFY_CA`: TLS, certificate chain verified.
    VerifyCa,
    /// `VERIFY_IDENTITY`: TLS, chain verified and host name checked.
    VerifyIdentity,
}

impl MySqlSslMode {
    /// The MySQL spelling (`VERIFY_IDENTITY`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disabled => "DISABLED",
            Self::Preferred => "PREFERRED",
            Self::Required => "REQUIRED",
            Self::VerifyCa => "VERIFY_CA",
            Self::VerifyIdentity => "VERIFY_IDENTITY",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        const SPELLINGS: [(&str, MySqlSslMode); 9] = [
            ("DISABLED", MySqlSslMode::Disabled),
            ("PREFERRED", MySqlSslMode::Preferred),
            ("REQUIRED", MySqlSslMode::Required),
            ("VERIFY_CA", MySqlSslMode::VerifyCa),
            ("VERIFY_IDENTITY", MySqlSslMode::VerifyIdentity),
            // MariaDB Connector/J.
            ("disable", MySqlSslMode::Disabled),
            ("trust", MySqlSslMode::Required),
            ("verify-ca", MySqlSslMode::VerifyCa),
            ("verify-full", MySqlSslMode::VerifyIdentity),
        ];
        SPELLINGS
            .into_iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(value))
            .map(|(_, m)| m)
    }
}

impl fmt::Display for MySqlSslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The typed values of the known query keys. `None` means "not given".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<Password>,
    pub(crate) wrapper_plugins: Option<Vec<String>>,
    pub(crate) iam_host: Option<String>,
    pub(crate) iam_default_port: Option<u16>,
    pub(crate) iam_region: Option<String>,
    pub(crate) iam_expiration: Option<Duration>,
    pub(crate) ssl: Option<bool>,
    pub(crate) sslmode: Option<PgSslMode>,
    pub(crate) sslrootcert: Option<String>,
    pub(crate) mysql_ssl_mode: Option<MySqlSslMode>,
    pub(crate) server_ssl_cert: Option<String>,
    pub(crate) ssl_ca: Option<String>,
    pub(crate) connect_timeout: Option<Duration>,
}

/// Which engines a key belongs to.
#[derive(Clone, Copy)]
enum Family {
    Any,
    Postgres,
    MySql,
}

impl Family {
    fn includes(self, engine: Engine) -> bool {
        match self {
            Family::Any => true,
            Family::Postgres => engine == Engine::Postgresql,
            Family::MySql => engine != Engine::Postgresql,
        }
    }
}

/// One row of the key table.
struct Key {
    /// The exact, case-sensitive parameter name.
    name: &'static str,
    family: Family,
    /// For the error message when the value is invalid.
    accepted: &'static str,
    /// For the error message when the key belongs to the other engine family.
    other_engine_fix: &'static str,
    /// Redacted by `Display`/`Debug`.
    secret: bool,
    /// Store a decoded value; `Err(())` means "not an accepted value".
    set: fn(&mut Settings, &str, Engine) -> Result<(), ()>,
    /// The value to write back, in the form `set` accepts.
    get: fn(&Settings, Engine) -> Option<String>,
}

const PEM_PATH: &str = "a path to a PEM file";
const MAX_IAM_EXPIRATION_SECS: u64 = 900;

/// The one table: every typed query key, in the order `Display` writes them.
static KEYS: &[Key] = &[
    Key {
        name: "user",
        family: Family::Any,
        accepted: "any user name",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            s.user = non_empty(v);
            Ok(())
        },
        get: |s, _| s.user.clone(),
    },
    Key {
        name: "password",
        family: Family::Any,
        accepted: "any password",
        other_engine_fix: "",
        secret: true,
        set: |s, v, _| {
            s.password = non_empty(v).map(Password::from);
            Ok(())
        },
        get: |s, _| s.password.as_ref().map(|p| p.expose().to_owned()),
    },
    Key {
        name: "wrapperPlugins",
        family: Family::Any,
        accepted: "a comma-separated list of AWS JDBC wrapper plugin codes, such as iam or iam,failover2",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            s.wrapper_plugins = Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
            Ok(())
        },
        get: |s, _| s.wrapper_plugins.as_ref().map(|p| p.join(",")),
    },
    Key {
        name: "iamHost",
        family: Family::Any,
        accepted: "a host name or IP address without port, an IPv6 address with or without brackets (the RDS endpoint name the token is signed for)",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            if v.is_empty() {
                s.iam_host = None;
                return Ok(());
            }
            // An IPv6 address may be written in brackets, as in the host list; it is kept
            // without them, as there.
            let v = v
                .strip_prefix('[')
                .and_then(|a| a.strip_suffix(']'))
                .filter(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
                .unwrap_or(v);
            if !super::parse::is_valid_host_name(v) && v.parse::<std::net::IpAddr>().is_err() {
                return Err(());
            }
            s.iam_host = Some(v.to_owned());
            Ok(())
        },
        get: |s, _| s.iam_host.clone(),
    },
    Key {
        name: "iamDefaultPort",
        family: Family::Any,
        accepted: "a port number from 1 to 65535",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            s.iam_default_port = Some(parse_port(v).ok_or(())?);
            Ok(())
        },
        get: |s, _| s.iam_default_port.map(|p| p.to_string()),
    },
    Key {
        name: "iamRegion",
        family: Family::Any,
        accepted: "an AWS region name such as us-east-1 (letters, digits and '-')",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            if v.is_empty() {
                s.iam_region = None;
                return Ok(());
            }
            if !is_region_token(v) {
                return Err(());
            }
            s.iam_region = Some(v.to_owned());
            Ok(())
        },
        get: |s, _| s.iam_region.clone(),
    },
    Key {
        name: "iamExpiration",
        family: Family::Any,
        accepted: "a whole number of seconds from 0 to 900 (an IAM token is valid for 15 minutes; 0 disables reuse)",
        other_engine_fix: "",
        secret: false,
        set: |s, v, _| {
            let secs = parse_digits(v).ok_or(())?;
            if secs > MAX_IAM_EXPIRATION_SECS {
                return Err(());
            }
            s.iam_expiration = Some(Duration::from_secs(secs));
            Ok(())
        },
        get: |s, _| s.iam_expiration.map(|d| d.as_secs().to_string()),
    },
    Key {
        name: "ssl",
        family: Family::Postgres,
        accepted: "true or false (an empty value means true, as in pgjdbc)",
        other_engine_fix: "for MySQL and MariaDB use sslMode=VERIFY_IDENTITY (or VERIFY_CA, REQUIRED)",
        secret: false,
        set: |s, v, _| {
            s.ssl = Some(match v {
                "" => true,
                v if v.eq_ignore_ascii_case("true") => true,
                v if v.eq_ignore_ascii_case("false") => false,
                _ => return Err(()),
            });
            Ok(())
        },
        get: |s, _| s.ssl.map(|b| b.to_string()),
    },
    Key {
        name: "sslmode",
        family: Family::Postgres,
        accepted: "disable, allow, prefer, require, verify-ca or verify-full",
        other_engine_fix: "for MySQL and MariaDB use sslMode=VERIFY_IDENTITY (or VERIFY_CA, REQUIRED)",
        secret: false,
        set: |s, v, _| {
            s.sslmode = Some(PgSslMode::parse(v).ok_or(())?);
            Ok(())
        },
        get: |s, _| s.sslmode.map(|m| m.as_str().to_owned()),
    },
    Key {
        name: "sslrootcert",
        family: Family::Postgres,
        accepted: "a path to a PEM file with the trusted CA certificates, or system",
        other_engine_fix: "for MySQL and MariaDB give the CA file as sslCa=/path/to/ca.pem",
        secret: false,
        set: |s, v, _| {
            s.sslrootcert = non_empty(v);
            Ok(())
        },
        get: |s, _| s.sslrootcert.clone(),
    },
    Key {
        name: "sslMode",
        family: Family::MySql,
        accepted: "DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY \
                   (or the MariaDB spellings disable, trust, verify-ca, verify-full)",
        other_engine_fix: "PostgreSQL spells it in lower case: sslmode=verify-full (or verify-ca, require)",
        secret: false,
        set: |s, v, _| {
            s.mysql_ssl_mode = Some(MySqlSslMode::parse(v).ok_or(())?);
            Ok(())
        },
        get: |s, _| s.mysql_ssl_mode.map(|m| m.as_str().to_owned()),
    },
    Key {
        name: "serverSslCert",
        family: Family::MySql,
        accepted: PEM_PATH,
        other_engine_fix: "for PostgreSQL give the CA file as sslrootcert=/path/to/ca.pem",
        secret: false,
        set: |s, v, _| {
            s.server_ssl_cert = non_empty(v);
            Ok(())
        },
        get: |s, _| s.server_ssl_cert.clone(),
    },
    Key {
        name: "sslCa",
        family: Family::MySql,
        accepted: PEM_PATH,
        other_engine_fix: "for PostgreSQL give the CA file as sslrootcert=/path/to/ca.pem",
        secret: false,
        set: |s, v, _| {
            s.ssl_ca = non_empty(v);
            Ok(())
        },
        get: |s, _| s.ssl_ca.clone(),
    },
    Key {
        name: "connectTimeout",
        family: Family::Any,
        accepted: "a whole number: seconds for PostgreSQL (as pgjdbc), milliseconds for MySQL and \
                   MariaDB (as their drivers); 0 means no timeout",
        other_engine_fix: "",
        secret: false,
        set: |s, v, engine| {
            let n = parse_digits(v).ok_or(())?;
            s.connect_timeout = Some(match engine {
                Engine::Postgresql => Duration::from_secs(n),
                Engine::Mysql | Engine::Mariadb => Duration::from_millis(n),
            });
            Ok(())
        },
        get: |s, engine| {
            s.connect_timeout.map(|d| match engine {
                Engine::Postgresql => d.as_secs().to_string(),
                Engine::Mysql | Engine::Mariadb => d.as_millis().to_string(),
            })
        },
    },
];

/// A Java KeyStore trust store: rejected, we take PEM files.
const JKS_TRUST_STORE_KEY: &str = "trustCertificateKeyStoreUrl";

/// Apply the (already de-duplicated, last-wins) query parameters: typed keys go to `settings`,
/// the others to `extra`, in order.
pub(crate) fn apply(
    settings: &mut Settings,
    extra: &mut Vec<(String, String)>,
    engine: Engine,
    params: Vec<(String, String)>,
) -> Result<(), JdbcUrlError> {
    for (name, value) in params {
        if name == JKS_TRUST_STORE_KEY {
            return Err(JdbcUrlError::JksTrustStore {
                pem_key: match engine {
                    Engine::Postgresql => "sslrootcert",
                    Engine::Mysql | Engine::Mariadb => "sslCa",
                },
            });
        }
        let Some(key) = KEYS.iter().find(|k| k.name == name) else {
            extra.push((name, value));
            continue;
        };
        if !key.family.includes(engine) {
            return Err(JdbcUrlError::WrongEngine {
                key: key.name,
                engine,
                fix: key.other_engine_fix,
            });
        }
        (key.set)(settings, &value, engine).map_err(|()| JdbcUrlError::InvalidValue {
            key: key.name,
            accepted: key.accepted,
        })?;
    }
    Ok(())
}

/// The typed settings as `(key, value, secret)`, in table order.
pub(crate) fn entries<'a>(
    settings: &'a Settings,
    engine: Engine,
) -> impl Iterator<Item = (&'a str, String, bool)> + 'a {
    KEYS.iter()
        .filter_map(move |k| (k.get)(settings, engine).map(|v| (k.name as &'a str, v, k.secret)))
}

/// Whether an unknown parameter's name suggests a secret (`sslpassword`,
/// `trustCertificateKeyStorePassword`, `awsSecretAccessKey`, ...): such values are redacted by
/// `Display` and `Debug` like the password.
pub(crate) fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "passphrase",
        "credential",
    ]
    .iter()
    .any(|s| key.contains(s))
}

fn non_empty(v: &str) -> Option<String> {
    (!v.is_empty()).then(|| v.to_owned())
}

/// A run of ASCII digits (no sign, no spaces) as a number.
pub(crate) fn parse_digits(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// A port from 1 to 65535, digits only.
pub(crate) fn parse_port(v: &str) -> Option<u16> {
    parse_digits(v)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&p| p != 0)
}

/// Letters, digits and inner hyphens: the shape of every AWS region name.
pub(crate) fn is_region_token(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with('-')
        && !v.ends_with('-')
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_unique_and_round_trip() {
        for (i, k) in KEYS.iter().enumerate() {
            assert!(
                KEYS.iter().skip(i + 1).all(|o| o.name != k.name),
                "{}",
                k.name
            );
        }
        let mut s = Settings::default();
        let engine = Engine::Postgresql;
        (KEYS[0].set)(&mut s, "alice", engine).unwrap();
        assert_eq!(s.user.as_deref(), Some("alice"));
    }

    #[test]
    fn ports_are_strict() {
        assert_eq!(parse_port("5432"), Some(5432));
        assert_eq!(parse_port("05432"), Some(5432));
        for bad in [
            "",
            "0",
            "65536",
            "+1",
            "-1",
            " 1",
            "1e3",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_port(bad), None, "{bad}");
        }
    }

    #[test]
    fn ssl_modes_parse_case_insensitively() {
        assert_eq!(PgSslMode::parse("VERIFY-FULL"), Some(PgSslMode::VerifyFull));
        assert_eq!(PgSslMode::parse("verify_full"), None);
        assert_eq!(
            MySqlSslMode::parse("required"),
            Some(MySqlSslMode::Required)
        );
        assert_eq!(MySqlSslMode::parse("trust"), Some(MySqlSslMode::Required));
        assert_eq!(
            MySqlSslMode::parse("verify-full"),
            Some(MySqlSslMode::VerifyIdentity)
        );
        assert_eq!(MySqlSslMode::parse("require"), None);
    }

    #[test]
    fn secret_looking_keys() {
        assert!(looks_secret("sslpassword"));
        assert!(looks_secret("trustCertificateKeyStorePassword"));
        assert!(looks_secret("awsSecretAccessKey"));
        assert!(!looks_secret("loginTimeout"));
    }
}

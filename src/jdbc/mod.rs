//! The `jdbc:aws-wrapper:` URL parser.
//!
//! [`JdbcUrl::parse`] reads the URLs made for the AWS Advanced JDBC Wrapper
//! (`jdbc:aws-wrapper:postgresql://...`, `mysql`, `mariadb`) and the plain driver forms
//! (`jdbc:postgresql://...`, `jdbc:mysql://...`, `jdbc:mariadb://...`, same grammar, never
//! IAM-enabled), so that a URL means the same thing here as in the wrapper, and is rejected
//! with a fix where the wrapper silently misreads it.
//!
//! ```
//! use rds_iam::jdbc::{Engine, JdbcUrl, PgSslMode};
//!
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!      ?wrapperPlugins=iam&ssl=true&sslmode=require&user=harness_iam_user",
//! )?;
//! assert_eq!(url.engine(), Engine::Postgresql);
//! assert!(url.is_iam());
//! assert_eq!(url.hosts()[0].port, 5432);
//! assert_eq!(url.database(), Some("postgres"));
//! assert_eq!(url.user(), Some("harness_iam_user"));
//! assert_eq!(url.sslmode(), Some(PgSslMode::Require));
//! # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
//! ```
//!
//! # Grammar
//!
//! `jdbc:[aws-wrapper:]<engine>://[user[:password]@]<host>[:port][,<host>[:port]...][/<database>][?<params>]`
//!
//! - The prefix is exact and lower case; the engine is `postgresql`, `mysql` or `mariadb`.
//! - Hosts are comma-separated; IPv6 literals go in brackets (`[::1]:5432`). The default port is
//!   5432 (PostgreSQL) or 3306 (MySQL, MariaDB). A port must be a number from 1 to 65535.
//! - `user:password@` and the database (first path segment) are percent-decoded; `+` stays a
//!   plus there.
//! - Query parameters are `&`-separated; a key without `=` has the empty value. Names and values
//!   are decoded as the AWS JDBC wrapper does: `%XX` escapes, and `+` is a space (write a literal
//!   plus as `%2B`). A malformed escape such as `100%` is an error. When a key repeats, the last
//!   value wins. Names are case-sensitive. A `user`/`password` parameter overrides the
//!   `user:password@` part.
//! - Known keys become typed settings (see the accessors of [`JdbcUrl`]); for them an empty value
//!   means "not given", except `ssl` (empty means `true`, as in pgjdbc) and `wrapperPlugins`
//!   (an empty list). Unknown keys are kept, in order, in [`JdbcUrl::extra_params`].
//!
//! # Secrets
//!
//! `Debug` and `Display` print the password as `***`, and so the value of every unknown
//! parameter whose name suggests a secret (containing `password`, `secret`, `token`,
//! `passphrase` or `credential`, case-insensitively). Errors never contain a parameter value.
//! [`JdbcUrl::to_url_exposing_secrets`] writes the full URL.

mod error;
mod parse;
mod percent;
mod settings;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use error::JdbcUrlError;
pub use settings::{MySqlSslMode, PgSslMode};

use crate::secret::{Password, REDACTED};
use settings::Settings;
pub(crate) use settings::is_region_token;

/// The database engine named in the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    /// `postgresql` (Aurora PostgreSQL, RDS for PostgreSQL).
    Postgresql,
    /// `mysql` (Aurora MySQL, RDS for MySQL).
    Mysql,
    /// `mariadb` (RDS for MariaDB; MySQL wire protocol).
    Mariadb,
}

impl Engine {
    const ALL: [Self; 3] = [Self::Postgresql, Self::Mysql, Self::Mariadb];

    /// The name as written in the URL: `postgresql`, `mysql`, `mariadb`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgresql => "postgresql",
            Self::Mysql => "mysql",
            Self::Mariadb => "mariadb",
        }
    }

    /// The port used when a host has none: 5432 for PostgreSQL, 3306 for MySQL and MariaDB.
    ///
    /// ```
    /// use rds_iam::jdbc::Engine;
    /// assert_eq!(Engine::Postgresql.default_port(), 5432);
    /// assert_eq!(Engine::Mariadb.default_port(), 3306);
    /// ```
    pub fn default_port(self) -> u16 {
        match self {
            Self::Postgresql => 5432,
            Self::Mysql | Self::Mariadb => 3306,
        }
    }

    /// Whether this engine speaks the MySQL protocol (MySQL or MariaDB).
    pub fn is_mysql_family(self) -> bool {
        matches!(self, Self::Mysql | Self::Mariadb)
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the URL's host list, with its port resolved (the engine's default when the URL
/// gives none). An IPv6 address is stored without its brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP address, as written (no brackets).
    pub host: String,
    /// Port from the URL, or the engine's default port.
    pub port: u16,
}

impl fmt::Display for HostPort {
    /// `host:port`, with IPv6 addresses in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed JDBC URL: plain, comparable data.
///
/// Build it with [`JdbcUrl::parse`] or [`str::parse`]. Formatting it with `Display` gives a URL
/// that parses back to an equal value, except that the password (and secret-looking unknown
/// parameters) read `***`: `Display` is for logs. Use [`JdbcUrl::to_url_exposing_secrets`] for
/// the complete URL.
#[derive(Clone, PartialEq, Eq)]
pub struct JdbcUrl {
    aws_wrapper: bool,
    engine: Engine,
    hosts: Vec<HostPort>,
    database: Option<String>,
    settings: Settings,
    extra: Vec<(String, String)>,
}

impl JdbcUrl {
    /// Parse a JDBC URL. Pure: no I/O, no environment, never panics.
    ///
    /// ```
    /// use rds_iam::jdbc::{JdbcUrl, JdbcUrlError};
    ///
    /// let err = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db.example.com:99999/app").unwrap_err();
    /// assert_eq!(err, JdbcUrlError::InvalidPort { index: 1 });
    ///
    /// let err = JdbcUrl::parse("JDBC:AWS-WRAPPER:postgresql://db.example.com/app").unwrap_err();
    /// assert!(err.to_string().contains("lower case"));
    /// ```
    pub fn parse(input: &str) -> Result<Self, JdbcUrlError> {
        parse::parse(input)
    }

    /// The engine: `postgresql`, `mysql` or `mariadb`.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Whether the URL has the `jdbc:aws-wrapper:` prefix.
    pub fn is_aws_wrapper(&self) -> bool {
        self.aws_wrapper
    }

    /// Whether the URL asks for IAM authentication: the `jdbc:aws-wrapper:` prefix and a
    /// `wrapperPlugins` list containing `iam`. A plain `jdbc:postgresql://` URL is never
    /// IAM-enabled (the plain driver ignores `wrapperPlugins`).
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    ///
    /// let iam: JdbcUrl = "jdbc:aws-wrapper:mysql://db:3306/app?wrapperPlugins=failover2,iam".parse()?;
    /// assert!(iam.is_iam());
    /// let plain: JdbcUrl = "jdbc:mysql://db:3306/app?wrapperPlugins=iam".parse()?;
    /// assert!(!plain.is_iam());
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn is_iam(&self) -> bool {
        self.aws_wrapper
            && self
                .settings
                .wrapper_plugins
                .as_ref()
                .is_some_and(|p| p.iter().any(|p| p == "iam"))
    }

    /// The host list, never empty, ports resolved.
    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    /// The database (first path segment, percent-decoded), if any.
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The user: the `user` parameter, else the `user@` part.
    pub fn user(&self) -> Option<&str> {
        self.settings.user.as_deref()
    }

    /// The password: the `password` parameter, else the `user:password@` part. With IAM
    /// authentication it is not used (the token is the password).
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    ///
    /// let url = JdbcUrl::parse("jdbc:postgresql://alice:s3cr%40t@db/app")?;
    /// assert_eq!(url.password().map(|p| p.expose()), Some("s3cr@t"));
    /// assert!(!url.to_string().contains("s3cr"));
    /// assert!(!format!("{url:?}").contains("s3cr"));
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn password(&self) -> Option<&Password> {
        self.settings.password.as_ref()
    }

    /// `wrapperPlugins`: the AWS JDBC wrapper plugin codes, trimmed, empty entries dropped.
    /// `None` when the parameter is absent (the wrapper then uses its default plugins).
    pub fn wrapper_plugins(&self) -> Option<&[String]> {
        self.settings.wrapper_plugins.as_deref()
    }

    /// `iamHost`: the host name the IAM token is signed for, when it differs from the
    /// connection host (tunnels, custom DNS names).
    pub fn iam_host(&self) -> Option<&str> {
        self.settings.iam_host.as_deref()
    }

    /// `iamDefaultPort`: the port the IAM token is signed for.
    pub fn iam_default_port(&self) -> Option<u16> {
        self.settings.iam_default_port
    }

    /// `iamRegion`: the AWS region the IAM token is signed in, as written.
    pub fn iam_region(&self) -> Option<&str> {
        self.settings.iam_region.as_deref()
    }

    /// `iamExpiration`: how long a token is reused (whole seconds, 0 to 900; 0 disables
    /// reuse: every connection gets a freshly signed token). Unset means the token
    /// provider's default (870 s, see
    /// [`TokenProviderBuilder::lifetime_from_url`](crate::provider::TokenProviderBuilder::lifetime_from_url)).
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    /// use std::time::Duration;
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam&iamExpiration=600")?;
    /// assert_eq!(url.iam_expiration(), Some(Duration::from_secs(600)));
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn iam_expiration(&self) -> Option<Duration> {
        self.settings.iam_expiration
    }

    /// `ssl` (PostgreSQL, pgjdbc): `true`, `false`, or empty meaning `true`.
    pub fn ssl(&self) -> Option<bool> {
        self.settings.ssl
    }

    /// `sslmode` (PostgreSQL).
    pub fn sslmode(&self) -> Option<PgSslMode> {
        self.settings.sslmode
    }

    /// `sslrootcert` (PostgreSQL): the PEM file of trusted CA certificates, or `system`.
    pub fn sslrootcert(&self) -> Option<&str> {
        self.settings.sslrootcert.as_deref()
    }

    /// `sslMode` (MySQL, MariaDB).
    ///
    /// ```
    /// use rds_iam::jdbc::{JdbcUrl, MySqlSslMode};
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:mysql://db/app?sslMode=VERIFY_CA&sslCa=/etc/rds.pem")?;
    /// assert_eq!(url.mysql_ssl_mode(), Some(MySqlSslMode::VerifyCa));
    /// assert_eq!(url.ssl_ca(), Some("/etc/rds.pem"));
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn mysql_ssl_mode(&self) -> Option<MySqlSslMode> {
        self.settings.mysql_ssl_mode
    }

    /// `serverSslCert` (MySQL, MariaDB): a PEM file of the server's CA certificate.
    pub fn server_ssl_cert(&self) -> Option<&str> {
        self.settings.server_ssl_cert.as_deref()
    }

    /// `sslCa` (MySQL, MariaDB): a PEM file of trusted CA certificates.
    pub fn ssl_ca(&self) -> Option<&str> {
        self.settings.ssl_ca.as_deref()
    }

    /// `connectTimeout`: seconds for PostgreSQL, milliseconds for MySQL and MariaDB (as their
    /// drivers read it). Zero means no timeout.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.settings.connect_timeout
    }

    /// The parameters this crate does not interpret, in URL order, decoded, last value winning.
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    ///
    /// let url = JdbcUrl::parse("jdbc:postgresql://db/app?ApplicationName=my+app&loginTimeout=5")?;
    /// let extra: Vec<_> = url.extra_params().iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    /// assert_eq!(extra, [("ApplicationName", "my app"), ("loginTimeout", "5")]);
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn extra_params(&self) -> &[(String, String)] {
        &self.extra
    }

    /// The value of one unknown parameter (case-sensitive name).
    pub fn extra_param(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The complete URL, password and secret-looking parameters included: it parses back to an
    /// equal value. Do not log it; `Display` is the form for logs.
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    ///
    /// let url = JdbcUrl::parse("jdbc:mysql://bob:pw@db/app")?;
    /// assert_eq!(url.to_string(), "jdbc:mysql://db:3306/app?user=bob&password=***");
    /// let full = url.to_url_exposing_secrets();
    /// assert_eq!(full, "jdbc:mysql://db:3306/app?user=bob&password=pw");
    /// assert_eq!(JdbcUrl::parse(&full)?, url);
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn to_url_exposing_secrets(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_url(&mut out, false);
        out
    }

    fn write_url(&self, f: &mut impl fmt::Write, redact: bool) -> fmt::Result {
        f.write_str("jdbc:")?;
        if self.aws_wrapper {
            f.write_str("aws-wrapper:")?;
        }
        write!(f, "{}://", self.engine)?;
        for (i, host) in self.hosts.iter().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            write!(f, "{host}")?;
        }
        f.write_char('/')?;
        if let Some(db) = &self.database {
            write!(f, "{}", percent::encode(db))?;
        }
        let typed = settings::entries(&self.settings, self.engine);
        let extra = self
            .extra
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone(), settings::looks_secret(k)));
        for (i, (key, value, secret)) in typed.chain(extra).enumerate() {
            f.write_char(if i == 0 { '?' } else { '&' })?;
            write!(f, "{}=", percent::encode(key))?;
            if secret && redact {
                f.write_str(REDACTED)?;
            } else {
                write!(f, "{}", percent::encode(&value))?;
            }
        }
        Ok(())
    }
}

impl FromStr for JdbcUrl {
    type Err = JdbcUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for JdbcUrl {
    /// The URL for logs: every port explicit, `user:password@` moved to parameters, typed
    /// parameters first (in canonical spelling), then the others in order; the password and
    /// secret-looking parameters as `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_url(f, true)
    }
}

impl fmt::Debug for JdbcUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Extra<'a>(&'a [(String, String)]);
        impl fmt::Debug for Extra<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.iter().map(|(k, v)| {
                        let v = if settings::looks_secret(k) {
                            REDACTED
                        } else {
                            v.as_str()
                        };
                        (k.as_str(), v)
                    }))
                    .finish()
            }
        }
        f.debug_struct("JdbcUrl")
            .field("aws_wrapper", &self.aws_wrapper)
            .field("engine", &self.engine)
            .field("hosts", &self.hosts)
            .field("database", &self.database)
            .field("settings", &self.settings)
            .field("extra", &Extra(&self.extra))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&ssl=true&sslmode=require";

    #[test]
    fn seed_url_parses() {
        let url = JdbcUrl::parse(SEED).unwrap();
        assert!(url.is_aws_wrapper() && url.is_iam());
        assert_eq!(url.engine(), Engine::Postgresql);
        assert_eq!(
            url.hosts(),
            [HostPort {
                host: "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com".into(),
                port: 5432
            }]
        );
        assert_eq!(url.ssl(), Some(true));
        assert_eq!(url.sslmode(), Some(PgSslMode::Require));
        assert_eq!(url.to_string(), SEED);
    }

    #[test]
    fn debug_is_pinned_and_redacted() {
        let url = JdbcUrl::parse("jdbc:postgresql://u:pw1@h/d?sslpassword=pw2&x=1").unwrap();
        let dbg = format!("{url:?}");
        assert!(!dbg.contains("pw1") && !dbg.contains("pw2"), "{dbg}");
        assert!(dbg.contains("password: Some(Password(***))"), "{dbg}");
        assert!(
            dbg.contains(r#"extra: [("sslpassword", "***"), ("x", "1")]"#),
            "{dbg}"
        );
        assert_eq!(
            url.to_string(),
            "jdbc:postgresql://h:5432/d?user=u&password=***&sslpassword=***&x=1"
        );
    }

    #[test]
    fn ipv6_hosts_are_bracketed_on_output() {
        let url = JdbcUrl::parse("jdbc:mariadb://[::1],[2001:db8::1]:3307").unwrap();
        assert_eq!(
            url.to_string(),
            "jdbc:mariadb://[::1]:3306,[2001:db8::1]:3307/"
        );
        assert_eq!(url.database(), None);
    }
}

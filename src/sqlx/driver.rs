//! What differs between sqlx's PostgreSQL and MySQL drivers: their connect options for an IAM
//! login, and which server errors reject the login.

use std::time::Duration;

use ::sqlx::error::DatabaseError;

use crate::connect::ConnectError;
use crate::jdbc::Engine;
use crate::tls_mode::TlsMode;

use super::Options;

/// The sqlx databases this module logs in to: [`sqlx::Postgres`](::sqlx::Postgres) (with
/// `postgres` or `postgres-rustls`) and [`sqlx::MySql`](::sqlx::MySql) (with `mysql` or
/// `mysql-rustls`; MySQL and MariaDB). Sealed.
pub trait IamDatabase: private::Driver {}

/// Everything but the token: what [`Driver::base`] is built from.
#[derive(Debug)]
pub struct Base<'a> {
    /// The host sqlx dials and verifies.
    pub host: &'a str,
    /// The port dialled.
    pub port: u16,
    /// The database user.
    pub user: &'a str,
    /// The database, if given.
    pub database: Option<&'a str>,
    /// The effective TLS mode.
    pub mode: TlsMode,
    /// The CA certificates sqlx trusts, PEM (none in `require`).
    pub roots: Option<Vec<u8>>,
    /// The URL's other parameters.
    pub params: &'a [(String, String)],
}

pub(crate) mod private {
    use super::*;

    /// The driver's part (sealed: implemented here only).
    pub trait Driver: ::sqlx::Database {
        /// The type's name in errors (`WrongEngine`).
        const CONNECTOR: &'static str;
        /// The URL engines the driver takes.
        const ENGINES: &'static [Engine];
        /// The engine whose likely causes a rejected login lists.
        const ENGINE: Engine;

        /// The options without a password, and a login timeout the URL asks for beyond
        /// `connectTimeout` (PostgreSQL's `loginTimeout`).
        fn base(base: Base<'_>) -> Result<(Options<Self>, Option<Duration>), ConnectError>;

        /// `base` with `password` (a token).
        fn with_password(base: &Options<Self>, password: &str) -> Options<Self>;

        /// Whether the server rejected the credentials.
        fn rejects(error: &(dyn DatabaseError + 'static)) -> bool;
    }
}

#[cfg(feature = "_postgres")]
mod postgres {
    use ::sqlx::postgres::{PgConnectOptions, PgSslMode};

    use super::*;
    use crate::postgres::params::pass_through_params;

    impl IamDatabase for ::sqlx::Postgres {}

    impl private::Driver for ::sqlx::Postgres {
        const CONNECTOR: &'static str = "rds_iam::sqlx::PgIamOptions";
        const ENGINES: &'static [Engine] = &[Engine::Postgresql];
        const ENGINE: Engine = Engine::Postgresql;

        fn base(base: Base<'_>) -> Result<(PgConnectOptions, Option<Duration>), ConnectError> {
            let pass = pass_through_params(base.params)?;
            // Without ~/.pgpass: the password is the token.
            let mut options = PgConnectOptions::new_without_pgpass()
                .host(base.host)
                .port(base.port)
                .username(base.user)
                .ssl_mode(match base.mode {
                    TlsMode::Require => PgSslMode::Require,
                    TlsMode::VerifyCa => PgSslMode::VerifyCa,
                    TlsMode::VerifyFull => PgSslMode::VerifyFull,
                });
            if let Some(database) = base.database {
                options = options.database(database);
            }
            if let Some(roots) = base.roots {
                options = options.ssl_root_cert_from_pem(roots);
            }
            if let Some(name) = &pass.application_name {
                options = options.application_name(name);
            }
            if let Some(text) = &pass.options {
                options = options.options(server_options(text)?);
            }
            if pass.keepalives.is_some() || pass.target_session_attrs.is_some() {
                tracing::debug!(
                    target: "rds_iam::sqlx",
                    "tcpKeepAlive and targetServerType have no sqlx setting: ignored"
                );
            }
            Ok((options, pass.login_timeout))
        }

        fn with_password(base: &PgConnectOptions, password: &str) -> PgConnectOptions {
            base.clone().password(password)
        }

        fn rejects(error: &(dyn DatabaseError + 'static)) -> bool {
            // invalid_password, invalid_authorization_specification
            matches!(error.code().as_deref(), Some("28P01" | "28000"))
        }
    }

    /// libpq's `options` (`-c key=value ...`, as the URL's `options` and `currentSchema`
    /// give them) as sqlx's key-value pairs.
    fn server_options(text: &str) -> Result<Vec<(String, String)>, ConnectError> {
        let refused = || ConnectError::Parameter {
            key: "options".to_owned(),
            accepted: "-c key=value settings separated by spaces (what sqlx passes on)",
        };
        let mut words = Vec::new();
        let mut word = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => word.extend(chars.next()),
                ' ' if !word.is_empty() => words.push(std::mem::take(&mut word)),
                ' ' => {}
                c => word.push(c),
            }
        }
        words.extend((!word.is_empty()).then_some(word));
        let mut pairs = Vec::new();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let setting = match word.strip_prefix("-c") {
                Some("") => words.next().ok_or_else(refused)?,
                Some(rest) => rest.to_owned(),
                None => match word.strip_prefix("--") {
                    Some(rest) => rest.to_owned(),
                    None => return Err(refused()),
                },
            };
            let (key, value) = setting.split_once('=').ok_or_else(refused)?;
            pairs.push((key.to_owned(), value.to_owned()));
        }
        Ok(pairs)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn options_become_pairs() {
            let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
            assert_eq!(
                server_options(
                    "-c statement_timeout=5000 -csearch_path=my\\ schema --work_mem=4MB"
                )
                .unwrap(),
                [
                    pair("statement_timeout", "5000"),
                    pair("search_path", "my schema"),
                    pair("work_mem", "4MB")
                ]
            );
            assert!(server_options("-c").is_err());
            assert!(server_options("geqo").is_err());
        }
    }
}

#[cfg(feature = "_mysql")]
mod mysql {
    use ::sqlx::mysql::{MySqlConnectOptions, MySqlDatabaseError, MySqlSslMode};

    use super::*;

    impl IamDatabase for ::sqlx::MySql {}

    impl private::Driver for ::sqlx::MySql {
        const CONNECTOR: &'static str = "rds_iam::sqlx::MySqlIamOptions";
        const ENGINES: &'static [Engine] = &[Engine::Mysql, Engine::Mariadb];
        const ENGINE: Engine = Engine::Mysql;

        fn base(base: Base<'_>) -> Result<(MySqlConnectOptions, Option<Duration>), ConnectError> {
            let mut options = MySqlConnectOptions::new()
                .host(base.host)
                .port(base.port)
                .username(base.user)
                .ssl_mode(match base.mode {
                    TlsMode::Require => MySqlSslMode::Required,
                    TlsMode::VerifyCa => MySqlSslMode::VerifyCa,
                    TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
                })
                // Only ever with TLS (the mode above): RDS asks for the token in cleartext.
                .enable_cleartext_plugin(true);
            if let Some(database) = base.database {
                options = options.database(database);
            }
            if let Some(roots) = base.roots {
                options = options.ssl_ca_from_pem(roots);
            }
            Ok((options, None))
        }

        fn with_password(base: &MySqlConnectOptions, password: &str) -> MySqlConnectOptions {
            base.clone().password(password)
        }

        fn rejects(error: &(dyn DatabaseError + 'static)) -> bool {
            // ER_ACCESS_DENIED_ERROR, or its SQLSTATE
            error
                .try_downcast_ref::<MySqlDatabaseError>()
                .is_some_and(|e| e.number() == 1045)
                || error.code().as_deref() == Some("28000")
        }
    }
}

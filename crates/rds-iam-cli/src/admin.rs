//! The administrator's connection of `--admin-url`, the same for `setup --apply` and `doctor`:
//! a plain `jdbc:postgresql:`, `jdbc:mysql:` or `jdbc:mariadb:` URL with a password (the
//! master user's, from the URL or [`PASSWORD_VARIABLE`]), or a `jdbc:aws-wrapper:` IAM URL.
//! TLS is on and verified unless the URL's sslmode/sslMode says otherwise; `--ca` adds a CA
//! file to what the URL trusts. The password is never printed: it goes to the driver only.
//!
//! Not a subcommand: the modules of `setup` and `doctor` use it, and so do their examples.

use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::postgres::PgConnector;
use rds_iam::provider::TokenProvider;
use rds_iam::tls::CaSource;

use super::report::Failure;

/// The environment variable with the administrator's password, when the admin URL has none.
pub const PASSWORD_VARIABLE: &str = "RDS_IAM_ADMIN_PASSWORD";

/// What `--admin-url` takes, for the commands' `--help`.
pub const URL_HELP: &str = "a plain jdbc:postgresql:, jdbc:mysql: or jdbc:mariadb: URL of the \
master user (or another user that may do it), with its password in the URL or in \
RDS_IAM_ADMIN_PASSWORD, or a jdbc:aws-wrapper: IAM URL (credentials from the default AWS \
chain). TLS is on and verified unless the URL's sslmode/sslMode says otherwise; --ca adds a CA \
file to what the URL trusts.";

/// The `--admin-url` text parsed: a URL with a user, of the engine family `mysql` (MySQL and
/// MariaDB, else PostgreSQL); `expected` says what names the engine (`--engine is postgres`).
pub fn url(text: &str, mysql: bool, expected: &str) -> Result<JdbcUrl, Failure> {
    let url = JdbcUrl::parse(text).map_err(|e| Failure::error(&e))?;
    if url.engine().is_mysql_family() != mysql {
        return Err(Failure::Usage(format!(
            "--admin-url is a {} URL, but {expected}: give the URL of the same database",
            url.engine(),
        )));
    }
    if url.user().is_none() {
        return Err(Failure::Usage(
            "--admin-url has no user: add user=NAME (the master user) to the URL".into(),
        ));
    }
    Ok(url)
}

/// Why the root package's examples built on rustls take no plain URL: the password session
/// is native-tls glue (the `rds-iam` command's stack).
#[cfg(any(feature = "postgres-rustls", feature = "mysql-rustls"))]
const NO_PASSWORD_ON_RUSTLS: &str = "--admin-url is a plain URL, and this build (on rustls) logs \
in with a password only on native-tls: give an IAM URL (jdbc:aws-wrapper:...?wrapperPlugins=iam), \
or use the rds-iam command";

/// A logged-in administrator's session.
pub enum Session {
    /// PostgreSQL, its connection task spawned.
    Pg(tokio_postgres::Client),
    /// MySQL or MariaDB.
    MySql(mysql_async::Conn),
}

pub type BoxError = Box<dyn std::error::Error>;

/// Log in with `url` to `database` (default the URL's), trusting the CA file `ca` too: with
/// IAM for an IAM URL (tokens from `tokens`, default the default AWS chain), else with the
/// password.
pub async fn connect(
    url: &JdbcUrl,
    database: Option<&str>,
    ca: Option<&str>,
    tokens: Option<TokenProvider>,
) -> Result<Session, BoxError> {
    let database = database.or(url.database().filter(|d| !d.is_empty()));
    let ca = ca.map(CaSource::file);
    if !url.is_iam() {
        #[cfg(not(any(feature = "postgres-rustls", feature = "mysql-rustls")))]
        return plain::connect(url, database, ca).await;
        #[cfg(any(feature = "postgres-rustls", feature = "mysql-rustls"))]
        return Err(NO_PASSWORD_ON_RUSTLS.into());
    }
    // The settings, on either connector's builder (their setters are the same, not a trait's).
    macro_rules! configured {
        ($builder:expr) => {{
            let mut builder = $builder;
            if let Some(database) = database {
                builder = builder.database(database);
            }
            if let Some(ca) = ca {
                builder = builder.ca(ca);
            }
            if let Some(tokens) = tokens {
                builder = builder.token_provider(tokens);
            }
            builder.build().await?
        }};
    }
    Ok(if url.engine().is_mysql_family() {
        Session::MySql(
            configured!(MySqlConnector::from_url(url)?)
                .connect()
                .await?,
        )
    } else {
        let (client, connection) = configured!(PgConnector::from_url(url)?).connect().await?;
        tokio::spawn(connection);
        Session::Pg(client)
    })
}

/// A password session over native-tls (the `rds-iam` command's stack): tokio-postgres and
/// mysql_async configured from the library's CA bundle and TLS mode.
#[cfg(not(any(feature = "postgres-rustls", feature = "mysql-rustls")))]
mod plain {
    use mysql_async::{Conn, OptsBuilder, SslOpts};
    use rds_iam::tls::{CaBundle, CaSource, TrustConfig};
    use rds_iam::tls_mode::{EffectiveTls, TlsMode};

    use super::{BoxError, JdbcUrl, PASSWORD_VARIABLE, Session};

    pub async fn connect(
        url: &JdbcUrl,
        database: Option<&str>,
        ca: Option<CaSource>,
    ) -> Result<Session, BoxError> {
        let (bundle, mode) = tls_of(url, ca)?;
        // The library's checks and its warning for `require`; mysql_async builds its own
        // connector from the same bundle and mode.
        let tls = rds_iam::tls::tls_connector(&bundle, mode)?;
        if !url.engine().is_mysql_family() {
            let mut config = tokio_postgres::Config::new();
            for host in url.hosts() {
                config.host(&host.host).port(host.port);
            }
            config
                .user(url.user().unwrap_or_default())
                .ssl_mode(tokio_postgres::config::SslMode::Require);
            if let Some(database) = database {
                config.dbname(database);
            }
            if let Some(password) = password(url) {
                config.password(password);
            }
            let tls = postgres_native_tls::MakeTlsConnector::new(tls);
            let (client, connection) = config.connect(tls).await?;
            tokio::spawn(connection);
            return Ok(Session::Pg(client));
        }
        let roots = bundle
            .certificates_der()
            .map(|der| der.to_vec().into())
            .collect();
        let ssl = SslOpts::default()
            .with_root_certs(roots)
            .with_disable_built_in_roots(!bundle.system_roots_in(mode))
            .with_danger_skip_domain_validation(!mode.verifies_host_name())
            .with_danger_accept_invalid_certs(!mode.verifies_chain());
        let host = &url.hosts()[0];
        let opts = OptsBuilder::default()
            .ip_or_hostname(host.host.clone())
            .tcp_port(host.port)
            .prefer_socket(false)
            .user(url.user())
            .pass(password(url))
            .db_name(database)
            .ssl_opts(ssl);
        Ok(Session::MySql(Conn::new(opts).await?))
    }

    /// The trusted CAs and TLS mode of a plain admin URL, plus `ca`.
    fn tls_of(url: &JdbcUrl, ca: Option<CaSource>) -> Result<(CaBundle, TlsMode), BoxError> {
        let tls = EffectiveTls::resolve(url)?;
        let mut trust = TrustConfig::new();
        if let Some(file) = tls.ca_file() {
            trust.add_source(CaSource::file(file));
        }
        if let Some(ca) = ca {
            trust.add_source(ca);
        }
        Ok((CaBundle::load(&trust)?, tls.mode()))
    }

    /// The administrator's password: the URL's, else [`PASSWORD_VARIABLE`]'s.
    fn password(url: &JdbcUrl) -> Option<String> {
        url.password()
            .map(|p| p.expose().to_owned())
            .or_else(|| std::env::var(PASSWORD_VARIABLE).ok())
    }
}

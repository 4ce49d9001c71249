//! The PostgreSQL connector: IAM login over TLS with tokio-postgres, over native-tls
//! (postgres-native-tls; feature `postgres`) or rustls (`MakeRustlsConnect`; feature
//! `postgres-rustls`, which takes precedence when both are on). The API is the same with
//! either stack; [`MakeTls`] and [`PgConnection`] name the stack's types.
//!
//! A [`PgConnector`] is built once (from a JDBC URL or from explicit settings) and reused: it
//! holds the token provider and the TLS connector, which is built once because building one
//! costs about 100 ms. [`PgConnector::connect`] returns what tokio-postgres returns, a
//! [`Client`] and the [`PgConnection`] future to spawn.
//!
//! ```no_run
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::postgres::PgConnector;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!      ?wrapperPlugins=iam&sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem\
//!      &user=harness_iam_user",
//! )?;
//! let connector = PgConnector::from_url(&url)?.build().await?; // once
//!
//! let (client, connection) = connector.connect().await?; // per connection
//! tokio::spawn(connection);
//! let row = client.query_one("SELECT current_user::text", &[]).await?;
//! assert_eq!(row.get::<_, String>(0), "harness_iam_user");
//! # Ok(()) }
//! ```
//!
//! # TLS
//!
//! TLS is always on: the token is sent as a cleartext password (RDS asks for one), so the
//! connector sets `SslMode::Require` (tokio-postgres refuses to continue without TLS) and
//! checks the certificate itself according to the effective mode:
//!
//! | mode | checks |
//! |---|---|
//! | `verify-full` (default) | the chain leads to a trusted CA (the CA sources, and the system trust store unless `.system_roots(false)`), and the certificate is for the host name |
//! | `verify-ca` (also `require` with `sslrootcert`, as in libpq) | the chain only, against exactly the CA sources given (`sslrootcert`, `.ca(..)`), never the system trust store; without any CA source, building the connector fails |
//! | `require` | nothing (libpq's meaning): encrypted, but the server is not authenticated: whoever sits on the network path can pose as the server and read the token. A warning is logged when such a connector is built. |
//!
//! The host name checked, and signed in the token, is `iamHost` when given (an SSH tunnel or
//! an IP address: dial `127.0.0.1:15432`, verify and sign
//! `mydb.cluster-abc123.us-east-1.rds.amazonaws.com`), else the URL's host. The trusted CAs
//! are described in [`crate::tls`].
//!
//! # Hosts, timeouts and other parameters
//!
//! Hosts are tried in order; each signs its own token (for its own name, unless `iamHost` is
//! given); the first that accepts wins. `connectTimeout` (seconds) limits each host's
//! connection and login, unless `loginTimeout` (seconds) is given, which then limits the login
//! and leaves `connectTimeout` to the TCP connection. Passed through to tokio-postgres:
//! `ApplicationName`, `options`, `currentSchema` (as `-c search_path=...`), `tcpKeepAlive`,
//! `targetServerType` (`any`, `primary`, `secondary`). Other parameters are ignored.
//! `iamExpiration` sets how long the default token provider reuses a token (a provider given
//! to the builder keeps its own).
//!
//! # A rejected login
//!
//! See [`crate::connect`]: a rejected cached token is invalidated and the login retried once
//! with a fresh one; a second rejection is [`ConnectError::LoginRejected`], listing the
//! likely causes.

pub(crate) mod params;
#[cfg(feature = "postgres-rustls")]
mod rustls;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, Socket};

use crate::connect::builder::{shared_setters, tls_setup, tokens_or_default};
use crate::connect::login::{self, Outcome};
use crate::connect::{ConnectError, Settings};
use crate::jdbc::{Engine, JdbcUrl};
use crate::plan::Target;
use crate::provider::TokenProvider;
use crate::tls::probe::Protocol;
use crate::tls::{CaBundle, TlsSetupError};
use crate::tls_mode::TlsMode;
use crate::token::AuthToken;

#[cfg(feature = "postgres-rustls")]
pub use rustls::{MakeRustlsConnect, RustlsConnect, RustlsStream};

/// The tokio-postgres TLS connector of the stack built: [`MakeRustlsConnect`] with
/// `postgres-rustls`.
#[cfg(feature = "postgres-rustls")]
pub type MakeTls = MakeRustlsConnect;
/// The tokio-postgres TLS connector of the stack built: postgres-native-tls's
/// `MakeTlsConnector` with `postgres` (and without `postgres-rustls`).
#[cfg(not(feature = "postgres-rustls"))]
pub type MakeTls = postgres_native_tls::MakeTlsConnector;

/// The connection future tokio-postgres returns with a [`Client`]: spawn it.
pub type PgConnection = tokio_postgres::Connection<
    Socket,
    <MakeTls as tokio_postgres::tls::MakeTlsConnect<Socket>>::Stream,
>;

/// The connector for `mode` trusting `bundle`, on the stack built.
fn make_tls(bundle: &CaBundle, mode: TlsMode) -> Result<MakeTls, TlsSetupError> {
    #[cfg(feature = "postgres-rustls")]
    return crate::tls::rustls_config(bundle, mode).map(MakeRustlsConnect::new);
    #[cfg(not(feature = "postgres-rustls"))]
    return crate::tls::tls_connector(bundle, mode).map(postgres_native_tls::MakeTlsConnector::new);
}

/// A reusable PostgreSQL IAM connector. Cheap to clone (clones share the TLS connector and the
/// token provider).
#[derive(Clone)]
pub struct PgConnector {
    inner: Arc<Inner>,
}

struct Inner {
    targets: Vec<Target>,
    /// User, database, options; no host, port or password.
    base: Config,
    tls: MakeTls,
    tokens: TokenProvider,
    mode: TlsMode,
    /// The trusted CAs in words, for errors.
    trusted: String,
    /// The CAs loaded, for [`inspect_tls`](PgConnector::inspect_tls).
    bundle: CaBundle,
    /// The limit on each host's whole login.
    login_timeout: Option<Duration>,
}

impl PgConnector {
    /// A builder with the settings of `url` (a `jdbc:aws-wrapper:postgresql:` or
    /// `jdbc:postgresql:` URL): hosts, database, user, `iamHost`, `iamDefaultPort`,
    /// `iamRegion`, the TLS mode and CA file, `connectTimeout`, and the pass-through
    /// parameters.
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    /// use rds_iam::postgres::PgConnector;
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:mysql://db.abc123.us-east-1.rds.amazonaws.com/app")?;
    /// let err = PgConnector::from_url(&url).unwrap_err();
    /// assert!(err.to_string().contains("MySqlConnector"));
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn from_url(url: &JdbcUrl) -> Result<PgConnectorBuilder, ConnectError> {
        Ok(PgConnectorBuilder {
            settings: Settings::from_url(url, "PgConnector", &[Engine::Postgresql])?,
            application_name: None,
            options: None,
            tokens: None,
        })
    }

    /// A builder for `host:port` (no URL), with `verify-full` and the system trust store
    /// (`verify-ca` also needs [`ca`](PgConnectorBuilder::ca)).
    ///
    /// ```no_run
    /// use rds_iam::postgres::PgConnector;
    /// use rds_iam::tls::CaSource;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = PgConnector::builder("127.0.0.1", 15432) // an SSH tunnel
    ///     .iam_host("mydb.cluster-abc123.us-east-1.rds.amazonaws.com")
    ///     .iam_port(5432)
    ///     .user("harness_iam_user")
    ///     .database("postgres")
    ///     .ca(CaSource::MountedBuildTaskBundle)
    ///     .application_name("migrations")
    ///     .build()
    ///     .await?;
    /// # let _ = connector; Ok(()) }
    /// ```
    pub fn builder(host: impl Into<String>, port: u16) -> PgConnectorBuilder {
        PgConnectorBuilder {
            settings: Settings::new(host.into(), port),
            application_name: None,
            options: None,
            tokens: None,
        }
    }

    /// Connect and log in with an IAM token (see the [module docs](self)). Spawn the returned
    /// connection future.
    pub async fn connect(&self) -> Result<(Client, PgConnection), ConnectError> {
        let inner = &*self.inner;
        login::each_target(&inner.targets, |_, target| async move {
            login::login(&inner.tokens, target, Engine::Postgresql, |token| {
                inner.attempt(target, token)
            })
            .await
        })
        .await
    }

    /// For callers who drive tokio-postgres themselves (`connect_raw`, one connection of
    /// their own): the config of the first host with a valid token as its password, the TLS
    /// connector to pass to [`Config::connect`], and the instant the token stops being valid.
    /// The config sets `SslMode::Require` and, when the certificate is checked for another name
    /// than the one dialled (`iamHost`), that name plus the address to dial.
    ///
    /// **The token in the config is frozen**: it is refused from the returned instant on (at
    /// most 15 minutes after signing), so a pool built from this config fails every new
    /// connection it opens after that. Ask again for every new connection (a cached token is
    /// cheap), or use [`PgConnector::connect`]. A login rejected here is not retried: call
    /// [`TokenProvider::invalidate`] (through [`PgConnector::token_provider`]) and ask again.
    /// Never log the config: although its `Debug` hides the password, its `get_password`
    /// returns the token.
    pub async fn config(&self) -> Result<(Config, MakeTls, std::time::SystemTime), ConnectError> {
        let target = &self.inner.targets[0];
        let token = login::token_for(&self.inner.tokens, target).await?;
        let config = self.inner.config_for(target, &token).await?;
        Ok((config, self.inner.tls.clone(), token.valid_until()))
    }

    /// The TLS connector (built once; clones share it).
    pub fn tls_connector(&self) -> MakeTls {
        self.inner.tls.clone()
    }

    /// Inspect `target`'s TLS (one of [`targets`](Self::targets)) without logging in: the
    /// checked handshake this connector would do (its CAs, its mode, the signing host's name),
    /// then the certificate's names and expiry. Sends no user name and no token. For
    /// diagnosis (`rds-iam doctor`); a failure is the [`ConnectError`] a login would give.
    pub async fn inspect_tls(
        &self,
        target: &Target,
    ) -> Result<crate::tls::ServerTls, ConnectError> {
        let inner = &*self.inner;
        crate::tls::inspect::inspect(
            target,
            Protocol::Postgres,
            &inner.bundle,
            inner.mode,
            login::PROBE_TIMEOUT,
        )
        .await
    }

    /// The token provider.
    pub fn token_provider(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// The hosts tried, in order, with what each is verified and signed as.
    pub fn targets(&self) -> &[Target] {
        &self.inner.targets
    }

    /// How server certificates are checked.
    pub fn tls_mode(&self) -> TlsMode {
        self.inner.mode
    }
}

/// For the pools: connect through `connector` and spawn the connection task (it ends when
/// the client is dropped).
#[cfg(any(feature = "deadpool", feature = "bb8"))]
pub(crate) async fn connect_spawned(connector: &PgConnector) -> Result<Client, ConnectError> {
    let (client, connection) = connector.connect().await?;
    tokio::spawn(connection);
    Ok(client)
}

/// For the pools: whether a pooled client can be handed out again: its connection has not
/// ended, and an empty simple query (one round trip, nothing parsed) succeeds. A failure is a
/// [`ConnectError::Server`] naming the connector's hosts.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
pub(crate) async fn check_alive(
    connector: &PgConnector,
    client: &Client,
) -> Result<(), ConnectError> {
    let failed = |source| crate::connect::pooled_connection_failed(connector.targets(), source);
    if client.is_closed() {
        return Err(failed("the pooled connection has ended".into()));
    }
    client
        .simple_query("")
        .await
        .map(drop)
        .map_err(|e| failed(e.into()))
}

impl fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnector")
            .field("targets", &self.inner.targets)
            .field("tls_mode", &self.inner.mode)
            .field("trusted", &self.inner.trusted)
            .field("login_timeout", &self.inner.login_timeout)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// The config for `target` with `token` as the password.
    async fn config_for(&self, target: &Target, token: &AuthToken) -> Result<Config, ConnectError> {
        let mut config = self.base.clone();
        config.password(token.expose()).port(target.dial.port);
        if target.verifies_another_name() {
            // Dial the URL's host, verify (and SNI) the signing name.
            for ip in resolve(target).await? {
                config.host(target.tls_name()).hostaddr(ip);
            }
        } else {
            config.host(&target.dial.host);
        }
        Ok(config)
    }

    async fn attempt(
        &self,
        target: &Target,
        token: Arc<AuthToken>,
    ) -> Outcome<(Client, PgConnection)> {
        let config = match self.config_for(target, &token).await {
            Ok(config) => config,
            Err(e) => return Outcome::Failed(e),
        };
        let connecting = config.connect(self.tls.clone());
        let result = match self.login_timeout {
            Some(limit) => match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result,
                Err(_) => {
                    return Outcome::Failed(ConnectError::Timeout {
                        server: target.to_string(),
                        after: limit,
                    });
                }
            },
            None => connecting.await,
        };
        match result {
            Ok(connected) => Outcome::Connected(connected),
            Err(e) => self.outcome_of(target, e).await,
        }
    }

    /// Sort a tokio-postgres error (its kind is not public: the message prefix tells it).
    async fn outcome_of(
        &self,
        target: &Target,
        e: tokio_postgres::Error,
    ) -> Outcome<(Client, PgConnection)> {
        let server = target.to_string();
        if let Some(db) = e.as_db_error() {
            let code = db.code();
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return Outcome::Rejected(Box::new(e));
            }
            return Outcome::Failed(ConnectError::Server {
                server,
                source: Box::new(e),
            });
        }
        let text = e.to_string();
        let failure = if text.starts_with("error performing TLS handshake") {
            let refused = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string() == "server does not support TLS");
            if refused {
                ConnectError::TlsRefused {
                    server,
                    source: Box::new(e),
                }
            } else {
                login::tls_failure(target, Protocol::Postgres, &self.trusted, Box::new(e)).await
            }
        } else if text.starts_with("error connecting to server") {
            ConnectError::Unreachable {
                server,
                source: Box::new(e),
            }
        } else if text.starts_with("timeout waiting for server") {
            ConnectError::Timeout {
                server,
                after: self.base.get_connect_timeout().copied().unwrap_or_default(),
            }
        } else {
            ConnectError::Server {
                server,
                source: Box::new(e),
            }
        };
        Outcome::Failed(failure)
    }
}

/// The addresses of `target`'s dialled host.
async fn resolve(target: &Target) -> Result<Vec<IpAddr>, ConnectError> {
    if let Ok(ip) = target.dial.host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let unreachable = |source: crate::connect::BoxError| ConnectError::Unreachable {
        server: target.to_string(),
        source,
    };
    let addrs: Vec<IpAddr> = tokio::net::lookup_host((target.dial.host.as_str(), target.dial.port))
        .await
        .map_err(|e| unreachable(Box::new(e)))?
        .map(|a| a.ip())
        .collect();
    if addrs.is_empty() {
        return Err(unreachable("the host name resolves to no address".into()));
    }
    Ok(addrs)
}

/// Builds a [`PgConnector`]: from [`PgConnector::from_url`] or [`PgConnector::builder`].
#[derive(Debug)]
pub struct PgConnectorBuilder {
    settings: Settings,
    application_name: Option<String>,
    options: Option<String>,
    tokens: Option<TokenProvider>,
}

impl PgConnectorBuilder {
    shared_setters!();

    /// The `application_name` the server shows in `pg_stat_activity` (instead of the URL's
    /// `ApplicationName`).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Command-line options for the server, as libpq's `options` (`-c statement_timeout=5000`),
    /// instead of the URL's.
    pub fn options(mut self, options: impl Into<String>) -> Self {
        self.options = Some(options.into());
        self
    }

    /// Load the CAs, build the TLS connector (once, off the async threads) and, when no token
    /// provider was given, set up one over the default AWS credentials chain (feature
    /// `aws-config`; without it, a provider must be given).
    pub async fn build(self) -> Result<PgConnector, ConnectError> {
        let targets = self.settings.targets()?;
        let pass = params::pass_through(&self.settings)?;
        let mut base = Config::new();
        base.user(&targets[0].token.user).ssl_mode(SslMode::Require);
        if let Some(database) = &self.settings.database {
            base.dbname(database);
        }
        if let Some(name) = self.application_name.or(pass.application_name) {
            base.application_name(name);
        }
        if let Some(options) = self.options.or(pass.options) {
            base.options(options);
        }
        if let Some(keepalives) = pass.keepalives {
            base.keepalives(keepalives);
        }
        if let Some(attrs) = pass.target_session_attrs {
            base.target_session_attrs(attrs);
        }
        let login_timeout = match (pass.login_timeout, self.settings.connect_timeout) {
            (Some(login), connect) => {
                if let Some(connect) = connect {
                    base.connect_timeout(connect);
                }
                Some(login)
            }
            (None, Some(connect)) => {
                base.connect_timeout(connect);
                Some(connect)
            }
            (None, None) => None,
        };
        let (bundle, tls) = tls_setup(&self.settings, make_tls).await?;
        let tokens = tokens_or_default(self.tokens, &self.settings).await?;
        tracing::debug!(
            target: "rds_iam::postgres",
            hosts = targets.len(),
            tls_mode = %self.settings.mode,
            trusted = %bundle.trusted_in(self.settings.mode),
            "PostgreSQL IAM connector ready"
        );
        let trusted = bundle.trusted_in(self.settings.mode).to_string();
        Ok(PgConnector {
            inner: Arc::new(Inner {
                targets,
                base,
                tls,
                tokens,
                mode: self.settings.mode,
                trusted,
                bundle,
                login_timeout,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With `postgres-rustls` on, rustls is the stack, whether `postgres` is on too or not.
    #[cfg(feature = "postgres-rustls")]
    const _RUSTLS_WINS: fn(MakeTls) -> MakeRustlsConnect = |tls| tls;

    /// Compiles only if the connector can be shared and its futures spawned.
    #[allow(dead_code)] // reason: a compile-time check
    fn spawnable(connector: &PgConnector) -> impl Send + '_ {
        fn send_sync<T: Send + Sync>(_: &T) {}
        send_sync(connector);
        async move {
            let _ = connector.connect().await;
            let _ = connector.config().await;
        }
    }

    #[tokio::test]
    async fn build_fails_early_with_the_fix() {
        let err = PgConnector::builder("localhost", 5432)
            .region("us-east-1")
            .build()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("add user=NAME"), "{err}");
        let err = PgConnector::builder("localhost", 5432)
            .user("u")
            .region("us-east-1")
            .ca(crate::tls::CaSource::file("/nonexistent/rds-ca.pem"))
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectError::Ca(_)), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/rds-ca.pem"), "{err}");
    }
}

//! The MySQL and MariaDB connector: IAM login over TLS with mysql_async, over native-tls
//! (feature `mysql`, mysql_async's `native-tls-tls`) or rustls (feature `mysql-rustls`,
//! mysql_async's `rustls-tls`; the two exclude each other). The API is the same with either.
//!
//! A [`MySqlConnector`] is built once (from a JDBC URL or from explicit settings) and reused:
//! it holds the token provider and one set of [`Opts`] per host whose TLS connector mysql_async
//! builds at the first connection and then shares with every later one.
//! [`MySqlConnector::connect`] returns a [`Conn`] logged in with a fresh (or cached) token.
//!
//! ```no_run
//! use mysql_async::prelude::Queryable;
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::mysql::MySqlConnector;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:mysql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:3306/app\
//!      ?wrapperPlugins=iam&sslMode=VERIFY_IDENTITY&sslCa=/etc/ssl/certs/rds-global-bundle.pem\
//!      &user=iam_user",
//! )?;
//! let connector = MySqlConnector::from_url(&url)?.build().await?; // once
//!
//! let mut conn = connector.connect().await?; // per connection
//! let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
//! # let _ = user; Ok(()) }
//! ```
//!
//! # TLS and the cleartext password
//!
//! RDS asks an IAM user for the token with the `mysql_clear_password` plugin, so the connector
//! enables it, and only ever together with TLS: every [`Opts`] it makes carries [`SslOpts`],
//! so mysql_async asks the server for TLS right after the server's greeting and stops with an
//! error if the server does not offer it, before sending any login packet. The first login
//! packet carries a scramble (never the cleartext token), and the token itself is sent in
//! answer to the server's switch to `mysql_clear_password`, over the verified TLS session. No
//! socket shortcut either (`prefer_socket(false)`: mysql_async does not encrypt Unix sockets).
//!
//! | `sslMode` | checks |
//! |---|---|
//! | `VERIFY_IDENTITY` (default) | chain and host name; the CA sources and the system trust store unless `.system_roots(false)` |
//! | `VERIFY_CA` (also `REQUIRED` with `sslCa` / `serverSslCert`) | chain only (`with_danger_skip_domain_validation`), against exactly the CA sources given, never the system trust store (`with_disable_built_in_roots`); without any CA source, building the connector fails |
//! | `REQUIRED` | nothing (`with_danger_accept_invalid_certs`): encrypted, but the server is not authenticated: anyone on the path can pose as it; a warning is logged when such a connector is built |
//!
//! The trusted CAs (see [`crate::tls`]) are loaded by the connector, every certificate of every
//! bundle, and handed to mysql_async as DER.
//! With `iamHost`, the dialled address is the URL's host and the name verified (and signed) is
//! the `iamHost`.
//!
//! With rustls (`mysql-rustls`):
//!
//! - mysql_async's built-in roots (the webpki-roots bundle, not the system's) are always off:
//!   in `VERIFY_IDENTITY` the connector hands it the system trust store itself, read with
//!   rustls-native-certs (so `SSL_CERT_FILE` and `SSL_CERT_DIR` apply, as with native-tls).
//! - `VERIFY_CA`: mysql_async 0.37 skips the host name check only when rustls's error text
//!   contains `NotValidForName`, which rustls no longer prints (it reports
//!   `NotValidForNameContext`; mysql_async issue 404, fixed upstream by pull request 408, in no
//!   release as of 0.37.1), so the connector does not rely on it: before each login it
//!   reads the certificate the server presents (a handshake that sends nothing else) and has
//!   mysql_async verify the chain, against exactly the CA sources, for a name on that
//!   certificate. A certificate without a DNS name cannot be used this way
//!   ([`ConnectError::VerifyCaWithoutDnsName`]).
//! - mysql_async builds its rustls configuration from rustls's process-wide crypto provider:
//!   when the application has installed none, the connector installs aws-lc-rs, the one
//!   provider of this crate's rustls stack, so that an application whose dependencies enable
//!   a second provider does not make the choice ambiguous.
//!
//! # Timeouts and other parameters
//!
//! `connectTimeout` (milliseconds, as MySQL Connector/J reads it) limits each host's
//! connection and login. `iamExpiration` sets how long the default token provider reuses a
//! token (a provider given to the builder keeps its own). Other URL parameters are ignored
//! (logged at debug level).
//!
//! # Never log the options
//!
//! The `Debug` of mysql_async's [`Opts`] prints the password, that is the token: the
//! connector never logs them, and neither should callers of [`MySqlConnector::opts`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::{Conn, DriverError, IoError, Opts, OptsBuilder, SslOpts};

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

/// MySQL's "access denied" error (`ER_ACCESS_DENIED_ERROR`).
const ACCESS_DENIED: u16 = 1045;
/// SQLSTATE "invalid authorization specification".
const INVALID_AUTHORIZATION: &str = "28000";

/// A reusable MySQL / MariaDB IAM connector. Cheap to clone.
#[derive(Clone)]
pub struct MySqlConnector {
    inner: Arc<Inner>,
}

struct Inner {
    targets: Vec<Target>,
    /// Per target: everything but the password. Cloning keeps mysql_async's cached TLS
    /// connector.
    opts: Vec<Opts>,
    tokens: TokenProvider,
    mode: TlsMode,
    trusted: String,
    /// The CAs loaded, for [`inspect_tls`](MySqlConnector::inspect_tls).
    bundle: CaBundle,
    timeout: Option<Duration>,
}

impl MySqlConnector {
    /// A builder with the settings of `url` (`jdbc:aws-wrapper:mysql:`,
    /// `jdbc:aws-wrapper:mariadb:`, or the plain forms): hosts, database, user, `iamHost`,
    /// `iamDefaultPort`, `iamRegion`, `sslMode` and the CA file (`sslCa` or `serverSslCert`),
    /// `connectTimeout`.
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    /// use rds_iam::mysql::MySqlConnector;
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:mysql://db/app?wrapperPlugins=iam&sslMode=DISABLED")?;
    /// let err = MySqlConnector::from_url(&url).unwrap_err();
    /// assert!(err.to_string().contains("bearer secret"));
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn from_url(url: &JdbcUrl) -> Result<MySqlConnectorBuilder, ConnectError> {
        Ok(MySqlConnectorBuilder {
            settings: Settings::from_url(url, "MySqlConnector", &[Engine::Mysql, Engine::Mariadb])?,
            engine: url.engine(),
            tokens: None,
        })
    }

    /// A builder for `host:port` (no URL), with `VERIFY_IDENTITY` and the system trust store
    /// (`VERIFY_CA` also needs [`ca`](MySqlConnectorBuilder::ca)).
    ///
    /// ```no_run
    /// use rds_iam::mysql::MySqlConnector;
    /// use rds_iam::tls::CaSource;
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let connector = MySqlConnector::builder("db.abc123.eu-west-1.rds.amazonaws.com", 3306)
    ///     .user("iam_user")
    ///     .database("app")
    ///     .ca(CaSource::file("/etc/ssl/certs/rds-global-bundle.pem"))
    ///     .build()
    ///     .await?;
    /// # let _ = connector; Ok(()) }
    /// ```
    pub fn builder(host: impl Into<String>, port: u16) -> MySqlConnectorBuilder {
        MySqlConnectorBuilder {
            settings: Settings::new(host.into(), port),
            engine: Engine::Mysql,
            tokens: None,
        }
    }

    /// Connect and log in with an IAM token (hosts in order; a rejected cached token is
    /// retried once with a fresh one).
    pub async fn connect(&self) -> Result<Conn, ConnectError> {
        let inner = &*self.inner;
        login::each_target(&inner.targets, |index, target| async move {
            login::login(&inner.tokens, target, Engine::Mysql, |token| {
                inner.attempt(index, token)
            })
            .await
        })
        .await
    }

    /// For callers who open a connection of their own: the options of the first host with a
    /// valid token as the password, and the instant the token stops being valid. TLS, the
    /// cleartext plugin and `prefer_socket(false)` are set as for [`MySqlConnector::connect`].
    ///
    /// **The token in the options is frozen**: it is refused from the returned instant on (at
    /// most 15 minutes after signing), and a [`mysql_async::Pool`] reuses its options for every
    /// connection it opens, so a pool built from them fails every new connection after that.
    /// Ask again for every new connection, or use [`MySqlConnector::connect`]. Never log these
    /// options: their `Debug` prints the password.
    ///
    /// A tool that takes only a [`mysql_async::Pool`] (refinery's async MySQL runner) gets
    /// one that logs in once: a pool of exactly one connection (`PoolConstraints::new(1, 1)`)
    /// built from these options right before the run keeps that connection for the whole run,
    /// however long, since a token is checked only at login (the README's "Pools" section).
    /// mysql_async 0.37 has no hook before a login, so no `mysql_async::Pool` can refresh its
    /// token; for more connections use the deadpool or bb8 `MySqlPool`s (features `deadpool`,
    /// `bb8`), which log in every new connection.
    pub async fn opts(&self) -> Result<(Opts, std::time::SystemTime), ConnectError> {
        let target = &self.inner.targets[0];
        let token = login::token_for(&self.inner.tokens, target).await?;
        Ok((self.inner.with_token(0, &token), token.valid_until()))
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
            Protocol::MySql,
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

/// For the pools: whether a pooled connection can be handed out again: it is not
/// disconnected, and a `COM_PING` (one round trip) succeeds. A failure is a
/// [`ConnectError::Server`] naming the connector's hosts.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
pub(crate) async fn check_alive(
    connector: &MySqlConnector,
    conn: &mut Conn,
) -> Result<(), ConnectError> {
    use mysql_async::prelude::Queryable;
    let failed = |source| crate::connect::pooled_connection_failed(connector.targets(), source);
    if conn.is_disconnected() {
        return Err(failed("the pooled connection has ended".into()));
    }
    conn.ping().await.map_err(|e| failed(e.into()))
}

impl fmt::Debug for MySqlConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the Opts: their Debug would print a password if one were set.
        f.debug_struct("MySqlConnector")
            .field("targets", &self.inner.targets)
            .field("tls_mode", &self.inner.mode)
            .field("trusted", &self.inner.trusted)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn with_token(&self, index: usize, token: &AuthToken) -> Opts {
        OptsBuilder::from_opts(self.opts[index].clone())
            .pass(Some(token.expose()))
            .into()
    }

    async fn attempt(&self, index: usize, token: Arc<AuthToken>) -> Outcome<Conn> {
        let target = &self.targets[index];
        #[allow(unused_mut)] // reason: only the rustls stack changes the options
        let mut opts = self.with_token(index, &token);
        drop(token);
        #[cfg(feature = "mysql-rustls")]
        if self.mode == TlsMode::VerifyCa {
            match verify_ca_name(target).await {
                Ok(Some(name)) => opts = with_tls_name(opts, name),
                Ok(None) => {}
                Err(e) => return Outcome::Failed(e),
            }
        }
        let connecting = Conn::new(opts);
        let result = match self.timeout {
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
            Ok(conn) => Outcome::Connected(conn),
            Err(e) => self.outcome_of(target, e).await,
        }
    }

    async fn outcome_of(&self, target: &Target, e: mysql_async::Error) -> Outcome<Conn> {
        let server = target.to_string();
        let failure = match &e {
            mysql_async::Error::Server(s)
                if s.code == ACCESS_DENIED || s.state == INVALID_AUTHORIZATION =>
            {
                return Outcome::Rejected(Box::new(e));
            }
            mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
                ConnectError::TlsRefused {
                    server,
                    source: Box::new(e),
                }
            }
            mysql_async::Error::Io(IoError::Tls(_)) => {
                login::tls_failure(target, Protocol::MySql, &self.trusted, Box::new(e)).await
            }
            // rustls's handshake errors reach mysql_async as I/O errors.
            mysql_async::Error::Io(IoError::Io(_))
                if crate::tls::diagnose::classify(&e).is_some() =>
            {
                login::tls_failure(target, Protocol::MySql, &self.trusted, Box::new(e)).await
            }
            mysql_async::Error::Io(IoError::Io(_)) => ConnectError::Unreachable {
                server,
                source: Box::new(e),
            },
            _ => ConnectError::Server {
                server,
                source: Box::new(e),
            },
        };
        Outcome::Failed(failure)
    }
}

/// Builds a [`MySqlConnector`]: from [`MySqlConnector::from_url`] or
/// [`MySqlConnector::builder`].
#[derive(Debug)]
pub struct MySqlConnectorBuilder {
    settings: Settings,
    engine: Engine,
    tokens: Option<TokenProvider>,
}

impl MySqlConnectorBuilder {
    shared_setters!();

    /// Load the CAs and, when no token provider was given, set up one over the default AWS
    /// credentials chain (feature `aws-config`; without it, a provider must be given).
    pub async fn build(self) -> Result<MySqlConnector, ConnectError> {
        let targets = self.settings.targets()?;
        for (key, _) in &self.settings.params {
            tracing::debug!(target: "rds_iam::mysql", parameter = %key, "URL parameter ignored");
        }
        let (bundle, roots) = tls_setup(&self.settings, Roots::for_mode).await?;
        let tokens = tokens_or_default(self.tokens, &self.settings).await?;
        #[cfg(feature = "mysql-rustls")]
        crate::tls::rustls::install_default_provider();
        let opts = targets
            .iter()
            .map(|target| base_opts(target, &self.settings, &roots))
            .collect();
        tracing::debug!(
            target: "rds_iam::mysql",
            engine = %self.engine,
            hosts = targets.len(),
            tls_mode = %self.settings.mode,
            trusted = %bundle.trusted_in(self.settings.mode),
            "MySQL IAM connector ready"
        );
        let trusted = bundle.trusted_in(self.settings.mode).to_string();
        Ok(MySqlConnector {
            inner: Arc::new(Inner {
                targets,
                opts,
                tokens,
                mode: self.settings.mode,
                trusted,
                bundle,
                timeout: self.settings.connect_timeout,
            }),
        })
    }
}

/// The one root handed to mysql_async in `require` with rustls when no CA is given: a
/// self-signed certificate whose private key was discarded when it was made, so nothing chains
/// to it (and in `require` nothing is checked anyway).
#[cfg(feature = "mysql-rustls")]
const REQUIRE_PLACEHOLDER_PEM: &str = "\
-----BEGIN CERTIFICATE-----
MIIB0zCCAXmgAwIBAgIUfe/xQEtIzgWH5w+FKJv3WFhiskEwCgYIKoZIzj0EAwIw
PjE8MDoGA1UEAwwzcmRzLWlhbSByZXF1aXJlLW1vZGUgcGxhY2Vob2xkZXIsIGl0
cyBrZXkgZGlzY2FyZGVkMCAXDTI2MTIwMTA2NDA0OFoYDzIxMjYxMTA3MDY0MDQ4
WjA+MTwwOgYDVQQDDDNyZHMtaWFtIHJlcXVpcmUtbW9kZSBwbGFjZWhvbGRlciwg
aXRzIGtleSBkaXNjYXJkZWQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARlNKGa
cT+dVEV4I/zLLAQgCYaVcKeue0qz/81YK9fEZO0SIFoI1i2/sR7HusRbFppZIYor
rGPYNGYo4yhVIYf4o1MwUTAdBgNVHQ4EFgQUyaZloRjyiyeoXkcM8QLjrWgBazYw
HwYDVR0jBBgwFoAUyaZloRjyiyeoXkcM8QLjrWgBazYwDwYDVR0TAQH/BAUwAwEB
/zAKBggqhkjOPQQDAgNIADBFAiBmmdnlz1M3bfcRNWm0vxKwAUSi0MIM6l/KvNAu
94vdCAIhAIfeCZxEI5B9vJwQ6C0s5A7WijZCdr7wEDKMC9BL7fyv
-----END CERTIFICATE-----
";

/// What mysql_async is to trust: certificates (DER, or PEM), and whether its built-in roots
/// too.
pub(crate) struct Roots {
    der: Vec<Vec<u8>>,
    built_in: bool,
}

impl Roots {
    /// What a connection in `mode` trusts, after the checks both stacks share. native-tls
    /// reads the system trust store itself (mysql_async's built-in roots); with rustls,
    /// mysql_async's built-in roots are the webpki-roots bundle, not the system's, so they stay
    /// off and the connector adds the system trust store itself.
    fn for_mode(bundle: &CaBundle, mode: TlsMode) -> Result<Self, TlsSetupError> {
        crate::tls::connector::check(bundle, mode)?;
        #[cfg(feature = "mysql-rustls")]
        {
            let mut der: Vec<Vec<u8>> = crate::tls::rustls::trusted_der(bundle, mode)
                .into_iter()
                .map(|der| der.to_vec())
                .collect();
            if der.is_empty() {
                // Only in `require` (the shared check refuses the other modes without a CA):
                // mysql_async builds its verifier before it knows certificates go unchecked,
                // and that verifier refuses an empty root store (`NoRootAnchors`).
                der.push(REQUIRE_PLACEHOLDER_PEM.as_bytes().to_vec());
            }
            Ok(Self {
                der,
                built_in: false,
            })
        }
        #[cfg(not(feature = "mysql-rustls"))]
        return Ok(Self {
            der: bundle.certificates_der().map(<[u8]>::to_vec).collect(),
            built_in: bundle.system_roots_in(mode),
        });
    }
}

/// The TLS options for `mode` trusting `roots`, verifying `tls_name`.
pub(crate) fn ssl_opts(mode: TlsMode, roots: &Roots, tls_name: Option<&str>) -> SslOpts {
    // mysql_async's `PathOrBuf` is not exported; DER bytes convert into it.
    let certs = roots.der.iter().map(|der| der.clone().into()).collect();
    let mut ssl = SslOpts::default()
        .with_root_certs(certs)
        .with_disable_built_in_roots(!roots.built_in)
        .with_danger_skip_domain_validation(!mode.verifies_host_name())
        .with_danger_accept_invalid_certs(!mode.verifies_chain());
    if let Some(name) = tls_name {
        ssl = ssl.with_danger_tls_hostname_override(Some(name.to_owned()));
    }
    ssl
}

/// Everything but the password, for one target.
fn base_opts(target: &Target, settings: &Settings, roots: &Roots) -> Opts {
    let tls_name = target.verifies_another_name().then_some(target.tls_name());
    OptsBuilder::default()
        .ip_or_hostname(target.dial.host.clone())
        .tcp_port(target.dial.port)
        .user(Some(target.token.user.clone()))
        .db_name(settings.database.clone())
        .ssl_opts(ssl_opts(settings.mode, roots, tls_name))
        // Only ever with TLS (the line above): RDS asks for the token in cleartext.
        .enable_cleartext_plugin(true)
        // mysql_async does not encrypt Unix sockets: never switch to one.
        .prefer_socket(false)
        .into()
}

/// `opts` verifying `name` (and sending it as SNI).
#[cfg(feature = "mysql-rustls")]
fn with_tls_name(opts: Opts, name: String) -> Opts {
    let ssl = opts
        .ssl_opts()
        .cloned()
        .map(|ssl| ssl.with_danger_tls_hostname_override(Some(name)));
    OptsBuilder::from_opts(opts).ssl_opts(ssl).into()
}

/// The name `VERIFY_CA` has mysql_async verify with rustls (see the module docs): a DNS name
/// of the certificate `target` presents now (a wildcard's first label filled in); `None` when the certificate cannot be read (no TLS, no server...): mysql_async's own
/// attempt then tells what is wrong.
#[cfg(feature = "mysql-rustls")]
async fn verify_ca_name(target: &Target) -> Result<Option<String>, ConnectError> {
    let Ok(der) = login::presented_certificate(target, Protocol::MySql).await else {
        return Ok(None);
    };
    let names = crate::tls::diagnose::certificate_dns_names(&der);
    let name = names
        .iter()
        .find(|name| !name.starts_with("*."))
        .cloned()
        .or_else(|| names.first().map(|name| name.replacen('*', "verify-ca", 1)));
    name.map(Some)
        .ok_or_else(|| ConnectError::VerifyCaWithoutDnsName {
            server: target.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{CaSource, TrustConfig};

    /// Compiles only if the connector can be shared and its futures spawned.
    #[allow(dead_code)] // reason: a compile-time check
    fn spawnable(connector: &MySqlConnector) -> impl Send + '_ {
        fn send_sync<T: Send + Sync>(_: &T) {}
        send_sync(connector);
        async move {
            let _ = connector.connect().await;
            let _ = connector.opts().await;
        }
    }

    #[test]
    fn modes_map_to_ssl_opts() {
        let roots = Roots {
            der: Vec::new(),
            built_in: false,
        };
        let full = ssl_opts(TlsMode::VerifyFull, &roots, None);
        assert!(!full.skip_domain_validation() && !full.accept_invalid_certs());
        assert!(full.disable_built_in_roots());
        let ca = ssl_opts(TlsMode::VerifyCa, &roots, Some("db.example.com"));
        assert!(ca.skip_domain_validation() && !ca.accept_invalid_certs());
        assert_eq!(ca.tls_hostname_override(), Some("db.example.com"));
        let require = ssl_opts(TlsMode::Require, &roots, None);
        assert!(require.skip_domain_validation() && require.accept_invalid_certs());
    }

    #[test]
    fn only_verify_identity_trusts_the_system_store() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let trust = TrustConfig::new().with_source(CaSource::pem(ca.pem())); // system roots on
        let bundle = CaBundle::load(&trust).unwrap();
        let verify_ca = Roots::for_mode(&bundle, TlsMode::VerifyCa).unwrap();
        assert_eq!((verify_ca.der.len(), verify_ca.built_in), (1, false));
        assert!(ssl_opts(TlsMode::VerifyCa, &verify_ca, None).disable_built_in_roots());
        let full = Roots::for_mode(&bundle, TlsMode::VerifyFull).unwrap();
        if cfg!(feature = "mysql-rustls") {
            // The system store read by the connector; mysql_async's webpki-roots stay off.
            assert!(!full.built_in && full.der.len() > 1);
        } else {
            // OpenSSL's store, as mysql_async's built-in roots.
            assert!(full.built_in && full.der.len() == 1);
        }
        assert_eq!(
            ssl_opts(TlsMode::VerifyFull, &full, None).disable_built_in_roots(),
            !full.built_in
        );
    }

    #[tokio::test]
    async fn opts_always_pair_cleartext_with_tls_and_never_a_socket() {
        let url = JdbcUrl::parse(
            "jdbc:aws-wrapper:mysql://127.0.0.1:13306/app?wrapperPlugins=iam&user=u\
             &iamHost=db.abc123.us-east-1.rds.amazonaws.com&iamDefaultPort=3306",
        )
        .unwrap();
        let settings = Settings::from_url(&url, "MySqlConnector", &[Engine::Mysql]).unwrap();
        let target = &settings.targets().unwrap()[0];
        let bundle = CaBundle::load(&settings.trust).unwrap();
        let roots = Roots::for_mode(&bundle, settings.mode).unwrap();
        let opts = base_opts(target, &settings, &roots);
        assert!(opts.enable_cleartext_plugin());
        assert!(opts.ssl_opts().is_some());
        assert!(!opts.prefer_socket());
        assert_eq!(opts.ip_or_hostname(), "127.0.0.1");
        assert_eq!(opts.tcp_port(), 13306);
        assert_eq!(
            opts.ssl_opts().unwrap().tls_hostname_override(),
            Some("db.abc123.us-east-1.rds.amazonaws.com")
        );
        assert_eq!(opts.pass(), None);
        assert_eq!(opts.db_name(), Some("app"));
    }
}

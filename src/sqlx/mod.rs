//! [sqlx](https://docs.rs/sqlx/0.9) pools whose new connections log in with a valid IAM token
//! (feature `sqlx`, with a connector feature: `postgres`/`postgres-rustls` for
//! [`PgIamPool`], `mysql`/`mysql-rustls` for [`MySqlIamPool`]).
//!
//! ```no_run
//! # #[cfg(feature = "_postgres")]
//! # mod demo {
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::sqlx::{IamPool, PgIamOptions};
//! use sqlx::postgres::PgPoolOptions;
//!
//! # async fn demo(url: &JdbcUrl) -> Result<(), Box<dyn std::error::Error>> {
//! let options = PgIamOptions::from_url(url)?.build().await?;
//! let pool = IamPool::connect(options, PgPoolOptions::new().max_connections(8)).await?;
//! let user: String = sqlx::query_scalar("SELECT current_user::text").fetch_one(&*pool).await?;
//! # let _ = user; Ok(()) }
//! # }
//! ```
//!
//! An IAM token is checked only at login, so a pool needs a valid token exactly when it opens
//! a connection. sqlx 0.9 opens connections with one set of connect options per pool and has
//! no per-connection hook, only [`Pool::set_connect_options`](::sqlx::Pool::set_connect_options).
//! So the work is split in two:
//!
//! - **What to connect with**: [`IamConnectOptions`] ([`PgIamOptions`], [`MySqlIamOptions`])
//!   turns a JDBC URL into sqlx's connect options through the crate's one plan
//!   ([`crate::plan`]: what is dialled, signed and verified): host, port, user, database, TLS
//!   mode and trusted CAs (the URL's CA file, [`CaSource`](crate::tls::CaSource)s including
//!   the build-task bundle, the system trust store), and a token from the cache as the
//!   password ([`IamConnectOptions::connect_options`]).
//! - **When to refresh**: [`IamPool`] installs options with the current token before each
//!   token's reuse window ends (a task that stops when the pool is closed or the last
//!   [`IamPool`] clone is dropped), and [`IamPool::acquire`] checks the token on the way:
//!   a new connection rejected with a cached token gets a fresh one and one retry, and a
//!   failed login is our [`ConnectError`] with its likely causes.
//!
//! When sqlx ships per-connection connectors, [`IamConnectOptions`] becomes one (each
//! connection asks it for options) and the refresher goes away.
//!
//! # What sqlx cannot do
//!
//! Some URLs ask for checks sqlx's TLS glue does not make; building the options then fails
//! with [`ConnectError::SqlxCannot`], saying what to change, rather than check less than
//! [`PgConnector`](crate::postgres::PgConnector) and
//! [`MySqlConnector`](crate::mysql::MySqlConnector) do. The
//! [`deadpool`](crate::deadpool) and [`bb8`](crate::bb8) pools use those connectors and
//! handle all of these:
//!
//! - `iamHost` (or the builder's `iam_host`) with `verify-full`: sqlx verifies the
//!   certificate for the host it dials, and has no way to dial one address and verify another
//!   name (an SSH tunnel to `127.0.0.1`, an IP address). `verify-ca` (the chain against the
//!   CA bundle, any name) and `require` work; the token is signed for `iamHost` either way.
//! - More than one host: sqlx dials one.
//! - With the native-tls stack (features `postgres`, `mysql`): sqlx trusts only the
//!   first certificate of the CA file it is given (native-tls's `Certificate::from_pem`; the
//!   RDS global bundle has over 100), and always the system trust store, so a CA bundle of
//!   several certificates, `verify-ca` (which checks no host name: any public CA's
//!   certificate for any name would pass) and `.system_roots(false)` are refused. With the
//!   rustls stack (`postgres-rustls`, `mysql-rustls`; sqlx's `tls-rustls-aws-lc-rs`) sqlx
//!   trusts exactly what the crate's connectors trust: every certificate of the CA sources,
//!   plus the system trust store in `verify-full` unless turned off.
//!
//! sqlx has no connect timeout of its own: `connectTimeout` (and PostgreSQL's
//! `loginTimeout`, which wins) becomes the pool's
//! [`acquire_timeout`](::sqlx::pool::PoolOptions::acquire_timeout), which limits waiting for
//! a connection, its login included. [`IamPool::acquire`] tells the two ways it runs out:
//! every connection of the pool stayed in use ([`ConnectError::PoolExhausted`]), or a new
//! connection's login did not finish in time ([`ConnectError::Timeout`]).
//!
//! # Secrets
//!
//! sqlx's connect options derive `Debug` with the password in it: never log
//! [`Pool::connect_options`](::sqlx::Pool::connect_options) of an IAM pool, nor the options
//! from [`IamConnectOptions::connect_options`]. [`IamConnectOptions`] and [`IamPool`] show no
//! token in their own `Debug`.
//!
//! # Which sqlx
//!
//! sqlx 0.9 without its default features (no macros, migrations or `any` driver; enable them
//! in your own `sqlx` dependency, cargo unifies the features), with `runtime-tokio`, the
//! drivers of the connector features on, and the TLS stack of the crate's: `tls-native-tls`
//! with `postgres`/`mysql`, `tls-rustls-aws-lc-rs` with `postgres-rustls`/`mysql-rustls`
//! (native-tls when both stacks are on).

mod driver;
mod pool;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::connect::builder::{shared_setters, tls_setup, tokens_or_default};
use crate::connect::{ConnectError, Settings, login};
use crate::jdbc::JdbcUrl;
use crate::plan::Target;
use crate::provider::{ProvidedToken, TokenProvider};
use crate::tls::{CaBundle, TlsSetupError};
use crate::tls_mode::TlsMode;
use crate::token::AuthToken;

use driver::Base;
pub use driver::IamDatabase;
pub use pool::{DEFAULT_CHECK_INTERVAL, IamPool};

/// The connect options of sqlx's driver for `DB` (`PgConnectOptions`, `MySqlConnectOptions`).
pub type Options<DB> = <<DB as ::sqlx::Database>::Connection as ::sqlx::Connection>::Options;

/// sqlx connect options for PostgreSQL with IAM tokens.
#[cfg(feature = "_postgres")]
pub type PgIamOptions = IamConnectOptions<::sqlx::Postgres>;
/// A sqlx PostgreSQL pool whose new connections log in with a valid IAM token.
#[cfg(feature = "_postgres")]
pub type PgIamPool = IamPool<::sqlx::Postgres>;
/// sqlx connect options for MySQL and MariaDB with IAM tokens.
#[cfg(feature = "_mysql")]
pub type MySqlIamOptions = IamConnectOptions<::sqlx::MySql>;
/// A sqlx MySQL/MariaDB pool whose new connections log in with a valid IAM token.
#[cfg(feature = "_mysql")]
pub type MySqlIamPool = IamPool<::sqlx::MySql>;

/// What a sqlx connection to the URL's database connects with: the options of the crate's
/// plan, and a token from the cache as the password (see the [module docs](self)). Cheap to
/// clone; `Debug` shows no token.
pub struct IamConnectOptions<DB: IamDatabase> {
    inner: Arc<Inner<DB>>,
}

struct Inner<DB: IamDatabase> {
    target: Target,
    /// Everything but the password.
    base: Options<DB>,
    tokens: TokenProvider,
    mode: TlsMode,
    /// The trusted CAs in words, for errors.
    trusted: String,
    /// `connectTimeout` (or `loginTimeout`), for the pool's `acquire_timeout`.
    acquire_timeout: Option<Duration>,
}

impl<DB: IamDatabase> Clone for IamConnectOptions<DB> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<DB: IamDatabase> IamConnectOptions<DB> {
    /// A builder with the settings of `url` (host, port, database, user, `iamHost`,
    /// `iamDefaultPort`, `iamRegion`, the TLS mode and CA file, `connectTimeout`; for
    /// PostgreSQL also `ApplicationName`, `options`, `currentSchema`, `loginTimeout`).
    ///
    /// ```
    /// # #[cfg(feature = "_postgres")] {
    /// use rds_iam::jdbc::JdbcUrl;
    /// use rds_iam::sqlx::PgIamOptions;
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:mysql://db.abc123.us-east-1.rds.amazonaws.com/app")?;
    /// let err = PgIamOptions::from_url(&url).unwrap_err();
    /// assert!(err.to_string().contains("MySqlConnector"));
    /// # }
    /// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
    /// ```
    pub fn from_url(url: &JdbcUrl) -> Result<IamOptionsBuilder<DB>, ConnectError> {
        Ok(IamOptionsBuilder {
            settings: Settings::from_url(url, DB::CONNECTOR, DB::ENGINES)?,
            tokens: None,
            db: PhantomData,
        })
    }

    /// A builder for `host:port` (no URL), with `verify-full` and the system trust store.
    pub fn builder(host: impl Into<String>, port: u16) -> IamOptionsBuilder<DB> {
        IamOptionsBuilder {
            settings: Settings::new(host.into(), port),
            tokens: None,
            db: PhantomData,
        }
    }

    /// sqlx's connect options with a token from the cache as the password, and the instant
    /// the token stops being valid.
    ///
    /// **The token in the options is frozen**: a pool given these options fails every new
    /// connection from the returned instant on. [`IamPool`] installs fresh ones in time.
    /// Never log the options: sqlx's `Debug` shows the password.
    pub async fn connect_options(&self) -> Result<(Options<DB>, SystemTime), ConnectError> {
        let token = self.token().await?;
        Ok((self.with_token(&token), token.valid_until()))
    }

    /// A token for the target, from the cache.
    async fn token(&self) -> Result<ProvidedToken, ConnectError> {
        login::token_for(&self.inner.tokens, &self.inner.target).await
    }

    /// The options with `token` as the password.
    fn with_token(&self, token: &AuthToken) -> Options<DB> {
        DB::with_password(&self.inner.base, token.expose())
    }

    /// The token provider.
    pub fn token_provider(&self) -> &TokenProvider {
        &self.inner.tokens
    }

    /// The host dialled, with what it is verified and signed as.
    pub fn target(&self) -> &Target {
        &self.inner.target
    }

    /// How the server certificate is checked.
    pub fn tls_mode(&self) -> TlsMode {
        self.inner.mode
    }

    /// The limit on waiting for a connection the URL asks for (`connectTimeout`, or
    /// PostgreSQL's `loginTimeout`): [`IamPool::connect`] sets it as the pool's
    /// `acquire_timeout`.
    pub fn acquire_timeout(&self) -> Option<Duration> {
        self.inner.acquire_timeout
    }
}

impl<DB: IamDatabase> fmt::Debug for IamConnectOptions<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamConnectOptions")
            .field("target", &self.inner.target)
            .field("tls_mode", &self.inner.mode)
            .field("trusted", &self.inner.trusted)
            .field("acquire_timeout", &self.inner.acquire_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds [`IamConnectOptions`]: from [`IamConnectOptions::from_url`] or
/// [`IamConnectOptions::builder`].
pub struct IamOptionsBuilder<DB> {
    settings: Settings,
    tokens: Option<TokenProvider>,
    db: PhantomData<fn() -> DB>,
}

impl<DB> fmt::Debug for IamOptionsBuilder<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamOptionsBuilder")
            .field("settings", &self.settings)
            .field("tokens", &self.tokens)
            .finish()
    }
}

impl<DB: IamDatabase> IamOptionsBuilder<DB> {
    shared_setters!();

    /// Resolve the plan, load the CAs (once, off the async threads) and, when no token
    /// provider was given, set up one over the default AWS credentials chain (feature
    /// `aws-config`). Fails with [`ConnectError::SqlxCannot`] when sqlx cannot check what the
    /// URL asks for (see the [module docs](self)).
    pub async fn build(self) -> Result<IamConnectOptions<DB>, ConnectError> {
        let target = one_target(self.settings.targets()?)?;
        let mode = self.settings.mode;
        let host = dialled_host(&target, mode)?;
        let (bundle, roots) = tls_setup(&self.settings, roots).await?;
        let roots = match roots {
            Roots::None => None,
            Roots::Pem(pem) => Some(pem),
            Roots::Cannot { what, fix } => return Err(ConnectError::SqlxCannot { what, fix }),
        };
        let (base, login_timeout) = DB::base(Base {
            host: &host,
            port: target.dial.port,
            user: &target.token.user,
            database: self.settings.database.as_deref(),
            mode,
            roots,
            params: &self.settings.params,
        })?;
        let tokens = tokens_or_default(self.tokens, &self.settings).await?;
        let trusted = bundle.trusted_in(mode).to_string();
        tracing::debug!(target: "rds_iam::sqlx", server = %target, tls_mode = %mode, %trusted, "sqlx IAM options ready");
        Ok(IamConnectOptions {
            inner: Arc::new(Inner {
                target,
                base,
                tokens,
                mode,
                trusted,
                acquire_timeout: login_timeout.or(self.settings.connect_timeout),
            }),
        })
    }
}

/// The one target, or why sqlx cannot try several.
fn one_target(mut targets: Vec<Target>) -> Result<Target, ConnectError> {
    if targets.len() > 1 {
        return Err(ConnectError::SqlxCannot {
            what: format!("try {} hosts in turn (it dials one)", targets.len()),
            fix: "give one host (for Aurora, the cluster endpoint)",
        });
    }
    Ok(targets.remove(0))
}

/// The host sqlx dials, which is also the name it verifies in `verify-full`.
fn dialled_host(target: &Target, mode: TlsMode) -> Result<String, ConnectError> {
    let dial = &target.dial.host;
    if !target.verifies_another_name() || mode != TlsMode::VerifyFull {
        return Ok(dial.clone());
    }
    // The URL's host with a trailing root dot: the same address, verified without the dot.
    if dial.strip_suffix('.') == Some(target.tls_name()) {
        return Ok(target.tls_name().to_owned());
    }
    Err(ConnectError::SqlxCannot {
        what: format!(
            "verify the certificate for `{}` while dialling {} (iamHost): it verifies the host \
             it dials",
            target.tls_name(),
            target.dial
        ),
        fix: "dial the endpoint by its own name (no tunnel or IP address), or use verify-ca \
              (sslmode=verify-ca, sslMode=VERIFY_CA) with the RDS CA bundle, which checks the \
              chain and no name",
    })
}

/// What sqlx is told to trust.
enum Roots {
    /// Nothing given (`require`, or only the system trust store with native-tls).
    None,
    /// These certificates.
    Pem(Vec<u8>),
    /// sqlx's TLS glue cannot trust exactly what the mode asks.
    #[cfg_attr(
        not(feature = "_native-tls"),
        allow(dead_code) // reason: sqlx's rustls glue trusts what it is given
    )]
    Cannot { what: String, fix: &'static str },
}

/// native-tls: sqlx adds the first certificate of its PEM to the system trust store.
#[cfg(feature = "_native-tls")]
fn roots(bundle: &CaBundle, mode: TlsMode) -> Result<Roots, TlsSetupError> {
    const RUSTLS: &str = "build rds-iam with the rustls stack (features postgres-rustls, \
                          mysql-rustls), with which sqlx trusts exactly the CA sources given";
    crate::tls::connector::check(bundle, mode)?;
    Ok(match mode {
        TlsMode::Require => Roots::None,
        TlsMode::VerifyCa => Roots::Cannot {
            what: "check certificates as verify-ca over native-tls: its native-tls glue always \
                   trusts the system trust store too, and verify-ca checks no host name, so a \
                   certificate for any name from any public CA would pass"
                .to_owned(),
            fix: RUSTLS,
        },
        TlsMode::VerifyFull if !bundle.system_roots() => Roots::Cannot {
            what: "leave the system trust store out over native-tls: its native-tls glue \
                   always trusts it"
                .to_owned(),
            fix: RUSTLS,
        },
        TlsMode::VerifyFull if bundle.len() > 1 => Roots::Cannot {
            what: format!(
                "trust a CA bundle of {} certificates over native-tls: its native-tls glue \
                 trusts only the first certificate of a PEM file (native-tls's \
                 Certificate::from_pem)",
                bundle.len()
            ),
            fix: "build rds-iam with the rustls stack (features postgres-rustls, \
                  mysql-rustls), with which sqlx trusts every certificate of the bundle, or \
                  install the bundle in the system trust store and give no CA file",
        },
        TlsMode::VerifyFull => match bundle.certificates_der().next() {
            Some(der) => Roots::Pem(pem([der])),
            None => Roots::None,
        },
    })
}

/// rustls (aws-lc-rs, no roots of sqlx's own): sqlx trusts exactly the PEM it is given.
#[cfg(not(feature = "_native-tls"))]
fn roots(bundle: &CaBundle, mode: TlsMode) -> Result<Roots, TlsSetupError> {
    crate::tls::connector::check(bundle, mode)?;
    Ok(match mode {
        TlsMode::Require => Roots::None,
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let der = crate::tls::rustls::trusted_der(bundle, mode);
            Roots::Pem(pem(der.iter().map(|d| d.as_ref())))
        }
    })
}

/// DER certificates as PEM.
fn pem<'a>(certificates: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = String::new();
    for der in certificates {
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        for line in text.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use aws_credential_types::Credentials;

    use super::*;
    use crate::credentials::CredentialsConfig;
    use crate::tls::{CaSource, TrustConfig};

    async fn tokens() -> TokenProvider {
        let credentials = Credentials::new("AKID", "secret", None, None, "test");
        let credentials = CredentialsConfig::static_credentials(credentials)
            .build()
            .await
            .unwrap();
        TokenProvider::builder(credentials).build()
    }

    /// A self-signed CA certificate, PEM.
    #[cfg(feature = "_postgres")]
    fn ca_pem(name: &str) -> String {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap()
            .pem()
    }

    /// What building options for `query` (on a PostgreSQL or MySQL URL to a tunnel) says.
    async fn build<DB: IamDatabase>(
        scheme: &str,
        query: &str,
        ca: Option<String>,
    ) -> Result<IamConnectOptions<DB>, ConnectError> {
        let url = format!(
            "jdbc:aws-wrapper:{scheme}://127.0.0.1:15432/app?wrapperPlugins=iam&user=u&{query}"
        );
        let mut builder = IamConnectOptions::<DB>::from_url(&JdbcUrl::parse(&url).unwrap())?
            .token_provider(tokens().await);
        if let Some(pem) = ca {
            builder = builder.ca(CaSource::pem(pem));
        }
        builder.build().await
    }

    #[cfg(feature = "_postgres")]
    const TUNNEL: &str = "iamHost=db.abc123.us-east-1.rds.amazonaws.com";

    #[cfg(feature = "_postgres")]
    #[tokio::test]
    async fn what_sqlx_cannot_check_is_refused_with_the_way_out() {
        type Pg = ::sqlx::Postgres;
        let cannot = |r: Result<IamConnectOptions<Pg>, ConnectError>| match r {
            Err(e @ ConnectError::SqlxCannot { .. }) => e.to_string(),
            other => panic!("expected SqlxCannot, got {other:?}"),
        };
        // iamHost with verify-full: sqlx verifies the host it dials.
        let text =
            cannot(build::<Pg>("postgresql", &format!("{TUNNEL}&sslmode=verify-full"), None).await);
        assert!(
            text.contains("db.abc123.us-east-1.rds.amazonaws.com"),
            "{text}"
        );
        assert!(
            text.contains("verify-ca") && text.contains("rds_iam::deadpool"),
            "{text}"
        );
        // Two hosts: sqlx dials one.
        let two = JdbcUrl::parse(
            "jdbc:aws-wrapper:postgresql://a.abc123.us-east-1.rds.amazonaws.com,\
             b.abc123.us-east-1.rds.amazonaws.com/app?wrapperPlugins=iam&user=u",
        )
        .unwrap();
        let built = IamConnectOptions::<Pg>::from_url(&two)
            .unwrap()
            .token_provider(tokens().await)
            .build()
            .await;
        assert!(cannot(built).contains("2 hosts"));
        // require checks no name: iamHost is signed, 127.0.0.1 dialled.
        let ok = build::<Pg>("postgresql", &format!("{TUNNEL}&sslmode=require"), None)
            .await
            .unwrap();
        assert_eq!(
            ok.target().tls_name(),
            "db.abc123.us-east-1.rds.amazonaws.com"
        );
        let (options, _) = ok.connect_options().await.unwrap();
        assert_eq!(options.get_host(), "127.0.0.1");
        assert_eq!(options.get_username(), "u");
        assert_eq!(options.get_database(), Some("app"));
        // A trailing root dot is the same host, verified without the dot.
        let dot = JdbcUrl::parse(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com.:5432/app\
             ?wrapperPlugins=iam&user=u&sslmode=verify-full",
        )
        .unwrap();
        let dot = IamConnectOptions::<Pg>::from_url(&dot)
            .unwrap()
            .token_provider(tokens().await)
            .build()
            .await
            .unwrap();
        let (options, _) = dot.connect_options().await.unwrap();
        assert_eq!(options.get_host(), "db.abc123.us-east-1.rds.amazonaws.com");

        let two_cas = format!("{}{}", ca_pem("one"), ca_pem("two"));
        let verify_ca = format!("{TUNNEL}&sslmode=verify-ca");
        if cfg!(feature = "_native-tls") {
            // sqlx's native-tls glue: the first certificate only, always the system store.
            let text = cannot(build::<Pg>("postgresql", &verify_ca, Some(ca_pem("one"))).await);
            assert!(text.contains("verify-ca over native-tls"), "{text}");
            let full = "sslmode=verify-full&iamRegion=us-east-1";
            let text = cannot(build::<Pg>("postgresql", full, Some(two_cas)).await);
            assert!(text.contains("2 certificates"), "{text}");
            assert!(text.contains("postgres-rustls"), "{text}");
        } else {
            // rustls: exactly the CA sources given.
            build::<Pg>("postgresql", &verify_ca, Some(two_cas))
                .await
                .unwrap();
        }
    }

    #[cfg(feature = "_mysql")]
    #[tokio::test]
    async fn mysql_options_log_in_with_the_cleartext_plugin_over_tls() {
        type My = ::sqlx::MySql;
        let built = build::<My>("mysql", "sslMode=REQUIRED&iamRegion=us-east-1", None)
            .await
            .unwrap();
        let (options, valid_until) = built.connect_options().await.unwrap();
        assert_eq!(options.get_host(), "127.0.0.1");
        assert_eq!(options.get_port(), 15432);
        assert!(matches!(
            options.get_ssl_mode(),
            ::sqlx::mysql::MySqlSslMode::Required
        ));
        assert!(valid_until > std::time::SystemTime::now());
        let shown = format!("{built:?}");
        assert!(!shown.contains("X-Amz-Signature"), "{shown}");
    }

    #[test]
    fn pem_round_trips_through_the_bundle_loader() {
        let certificates: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, format!("CA {i}"));
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                let key = rcgen::KeyPair::generate().unwrap();
                params.self_signed(&key).unwrap().der().to_vec()
            })
            .collect();
        let text = String::from_utf8(pem(certificates.iter().map(Vec::as_slice))).unwrap();
        let bundle = CaBundle::load(&TrustConfig::new().with_source(CaSource::pem(text))).unwrap();
        let loaded: Vec<&[u8]> = bundle.certificates_der().collect();
        assert_eq!(
            loaded,
            certificates.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
    }
}

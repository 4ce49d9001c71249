//! One test body for both engines.
//!
//! The connector, emulator and hostile-client suites write each scenario once, generic over
//! [`Db`]: what a test needs to know about PostgreSQL or MySQL/MariaDB (the shared throw-away
//! server and its users, a driver client logged in through the emulator, the engine's errors,
//! the JDBC URL parameters and the crate's connector). [`Postgres`] and [`MySql`] implement it,
//! in `engine/postgres.rs` and `engine/mysql.rs`, next to the engine's raw wire messages.
//! [`per_engine!`] stamps out one `#[tokio::test]` per scenario and engine, so a failure names
//! both: `connect::a_wrong_ca_is_an_untrusted_certificate_error_naming_the_file::mysql`.
//!
//! What only one engine has (PostgreSQL cancel requests and `application_name`, MySQL's
//! greeting and `KILL`) is tested in that engine's own file of each suite.
#![allow(unused_imports, unused_macros)] // reason: benches/connect.rs includes support, not this

#[cfg(feature = "_mysql")]
mod mysql;
#[cfg(feature = "_postgres")]
mod postgres;

use std::fmt::{Debug, Display};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::Target;
use rds_iam::provider::TokenProvider;
use rds_iam::tls::CaSource;
use rds_iam::tls_mode::TlsMode;
use rds_iam_emulator::{
    BackendFailure, Emulator, EmulatorConfig, EmulatorConfigBuilder, LoginOutcome, Rejection,
    RunningEmulator, Wire,
};

use super::ca::TestCa;
use super::iam::{ENDPOINT_HOST, REGION, credentials, t0};

#[cfg(feature = "_mysql")]
pub use mysql::{MySql, wire as mysql_wire};
#[cfg(feature = "_postgres")]
pub use postgres::{Postgres, wire as postgres_wire};

/// Stamp out, for each generic scenario `name::<E: Db>()` given, a module `name` with one
/// `#[tokio::test]` per engine: `name::postgres` and `name::mysql` (each behind its feature).
macro_rules! per_engine {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[cfg(feature = "_postgres")]
            #[tokio::test]
            async fn postgres() {
                super::$scenario::<$crate::support::engine::Postgres>().await;
            }

            #[cfg(feature = "_mysql")]
            #[tokio::test]
            async fn mysql() {
                super::$scenario::<$crate::support::engine::MySql>().await;
            }
        }
    )+};
}
pub(crate) use per_engine;

/// A throw-away server of the engine ([`PgServer`](super::postgres::PgServer),
/// [`MariaDbServer`](super::mariadb::MariaDbServer)).
pub trait Server {
    /// Its loopback address.
    fn addr(&self) -> SocketAddr;
    /// Its log so far.
    fn log(&self) -> String;
}

/// How a user made by [`Db::create_user`] logs in to the shared server over loopback TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login<'a> {
    /// Without a password (PostgreSQL `trust`, MariaDB no password): the emulator's backend
    /// logins.
    Trust,
    /// With this password checked as RDS checks a token: PostgreSQL `password` (the server asks
    /// for it in cleartext), MariaDB `mysql_native_password`.
    Token(&'a str),
    /// With this password checked the engine's usual way: PostgreSQL `scram-sha-256`, MariaDB
    /// `mysql_native_password` (the emulator's backend password).
    Password(&'a str),
}

/// Who and where a session is, as the backend says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whoami {
    /// `current_user` / `CURRENT_USER()` (see [`Db::account`]).
    pub user: String,
    /// The backend server's port.
    pub port: u16,
    /// The current database.
    pub database: String,
}

/// The setters both connector builders have (their inherent methods, for generic tests).
pub trait Builder: Sized {
    /// What [`Builder::build`] builds.
    type Connector;
    fn iam_host(self, host: &str) -> Self;
    fn user(self, user: &str) -> Self;
    fn region(self, region: &str) -> Self;
    fn add_host(self, host: &str, port: u16) -> Self;
    fn tls_mode(self, mode: TlsMode) -> Self;
    fn ca(self, ca: CaSource) -> Self;
    fn system_roots(self, on: bool) -> Self;
    fn token_provider(self, tokens: TokenProvider) -> Self;
    fn build(self) -> impl Future<Output = Result<Self::Connector, ConnectError>>;
}

/// Implement [`Builder`] for a connector builder by calling its inherent methods.
macro_rules! builder_by_inherent_methods {
    ($builder:ty => $connector:ty) => {
        impl $crate::support::engine::Builder for $builder {
            type Connector = $connector;
            fn iam_host(self, host: &str) -> Self {
                <$builder>::iam_host(self, host)
            }
            fn user(self, user: &str) -> Self {
                <$builder>::user(self, user)
            }
            fn region(self, region: &str) -> Self {
                <$builder>::region(self, region)
            }
            fn add_host(self, host: &str, port: u16) -> Self {
                <$builder>::add_host(self, host, port)
            }
            fn tls_mode(self, mode: rds_iam::tls_mode::TlsMode) -> Self {
                <$builder>::tls_mode(self, mode)
            }
            fn ca(self, ca: rds_iam::tls::CaSource) -> Self {
                <$builder>::ca(self, ca)
            }
            fn system_roots(self, on: bool) -> Self {
                <$builder>::system_roots(self, on)
            }
            fn token_provider(self, tokens: rds_iam::provider::TokenProvider) -> Self {
                <$builder>::token_provider(self, tokens)
            }
            async fn build(self) -> Result<$connector, rds_iam::connect::ConnectError> {
                <$builder>::build(self).await
            }
        }
    };
}
use builder_by_inherent_methods;

/// What the tests know about one engine (see the module docs).
pub trait Db: Sized + 'static {
    // ---- the engine ----------------------------------------------------------------------

    /// The emulator's engine.
    const WIRE: Wire;
    /// The RDS endpoint's port the tests sign for: 5432, 3306.
    const ENDPOINT_PORT: u16;

    // ---- the shared throw-away server (one per test binary) ------------------------------

    /// The server.
    type Server: Server;
    /// The server shared by the whole test binary: TLS on, with a certificate for `localhost`
    /// and `127.0.0.1`.
    fn server() -> &'static Self::Server;
    /// The CA that signed its certificate.
    fn server_ca() -> &'static TestCa;
    /// A server of its own without TLS, with user `user` whose `password` it checks.
    fn start_server_without_tls(user: &str, password: &str) -> impl Future<Output = Self::Server>;
    /// The log line a server writes when a password `user` sent is wrong: a password reached
    /// it.
    fn wrong_password_line(user: &str) -> String;
    /// Create user `name` logging in with `login`.
    fn create_user(name: &str, login: Login<'_>) -> impl Future<Output = ()>;
    /// Create user `name` ([`Login::Trust`]) with a table `notes` of its own holding one row
    /// (1, 'from the real backend'); the database to log in to for it.
    fn create_user_with_notes(name: &str) -> impl Future<Output = String>;
    /// The database every user may log in to (`postgres`; none for MySQL, where
    /// [`Db::create_user_with_notes`] gives a user one).
    const DATABASE: &'static str;
    /// How `current_user` shows a user made by [`Db::create_user`]: `name`, `name@%`.
    fn account(name: &str) -> String;

    // ---- a driver client (tokio-postgres, mysql_async) -----------------------------------

    /// A logged-in session.
    type Session;
    /// The driver's error (`Display` and `Debug` never show a password).
    type Error: Display + Debug;
    /// Log in to the emulator at `addr` whose CA is `ca_pem` over TLS, verifying the
    /// certificate for [`ENDPOINT_HOST`], with `password` in cleartext (as RDS asks).
    fn login(
        addr: SocketAddr,
        ca_pem: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> impl Future<Output = Result<Self::Session, Self::Error>>;
    /// The same without TLS.
    fn login_plaintext(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> impl Future<Output = Result<Self::Session, Self::Error>>;
    /// Who and where the session is.
    fn whoami(session: &mut Self::Session) -> impl Future<Output = Whoami>;
    /// Run one SQL statement.
    fn execute(
        session: &mut Self::Session,
        sql: &str,
    ) -> impl Future<Output = Result<(), Self::Error>>;
    /// Run a query that returns one integer (`SELECT count(*) ...`).
    fn count(session: &mut Self::Session, sql: &str) -> impl Future<Output = i64>;
    /// Whether the session is TLS-encrypted, as the server says.
    fn uses_tls(session: &mut Self::Session) -> impl Future<Output = bool>;
    /// Log out.
    fn close(session: Self::Session) -> impl Future<Output = ()>;
    /// The code of a server error: SQLSTATE (PostgreSQL), error number (MySQL).
    fn code(error: &Self::Error) -> String;
    /// The message of a server error.
    fn message(error: &Self::Error) -> String;
    /// The code a wrong password or token gets: `28000`, `1045`.
    const REFUSED: &'static str;
    /// The code of a query on a table that does not exist: `42P01`, `1146`.
    const NO_SUCH_TABLE: &'static str;
    /// The message of the refusal RDS sends for a bad token of `user`.
    fn refused_like_rds(user: &str) -> String;
    /// Assert that `error` is the refusal RDS sends for a bad token of `user`.
    fn assert_refused_like_rds(error: &Self::Error, user: &str);
    /// Assert that `error` is the refusal RDS sends `user` when it connects without TLS.
    fn assert_refused_without_tls(error: &Self::Error, user: &str);
    /// The codes of a login to a database that does not exist (MariaDB: `1044` when the user
    /// may not see whether it exists).
    const NO_SUCH_DATABASE: &'static [&'static str];
    /// When the backend wants a password the emulator was not given: how the emulator records
    /// the login it accepted, and what the client's error says.
    fn without_backend_password() -> (BackendFailure, &'static str);

    // ---- the engine's command-line client (psql, mariadb) --------------------------------

    /// Run it against the emulator at `addr` (the password in its environment), with TLS
    /// verified against the CA file `ca` when `tls`, running `sql` in `database`.
    fn cli(
        addr: SocketAddr,
        ca: &std::path::Path,
        user: &str,
        password: &str,
        database: &str,
        tls: bool,
        sql: &str,
    ) -> impl Future<Output = std::process::Output>;
    /// The query that prints [`Db::account`], the server's port and the body of `notes` row 1,
    /// and what it prints (see [`Db::create_user_with_notes`]).
    fn cli_query(user: &str, port: u16) -> (&'static str, String);
    /// What the client prints when a bad token of `user` is refused.
    fn cli_refused_like_rds(user: &str) -> String;
    /// What the client prints when it connects without TLS.
    fn cli_refused_without_tls(user: &str) -> String;

    // ---- raw wire messages ---------------------------------------------------------------

    /// Connect as a client that then says nothing (after reading MySQL's greeting).
    fn idle_client(addr: SocketAddr) -> impl Future<Output = tokio::net::TcpStream> + Send;
    /// A client that sends `password` without TLS and without waiting to be asked; asserts
    /// that the emulator's reply is the refusal for no TLS.
    fn send_password_unasked(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> impl Future<Output = ()>;
    /// Assert that `error` says the emulator could not reach its backend.
    fn assert_backend_unreachable(error: &Self::Error);
    /// How many backend connections an emulator opens before any login: MySQL's reads the
    /// backend's greeting once.
    const BACKEND_CONNECTIONS_AT_START: usize;

    // ---- the crate's connector (PgConnector, MySqlConnector) -----------------------------

    /// The JDBC URL scheme: `postgresql`, `mysql`.
    const SCHEME: &'static str;
    /// The URL's `sslmode` for verify-full: `sslmode=verify-full`, `sslMode=VERIFY_IDENTITY`.
    const VERIFY_FULL: &'static str;
    /// The same for verify-ca.
    const VERIFY_CA: &'static str;
    /// The same for require (encrypt, no check).
    const REQUIRE: &'static str;
    /// Every URL parameter that names a CA file.
    const CA_FILE_PARAMETERS: &'static [&'static str];
    /// The URL's `connectTimeout` for `timeout` (seconds for pgjdbc, milliseconds for
    /// Connector/J).
    fn connect_timeout(timeout: Duration) -> String;
    /// The first likely cause a rejected login lists for `user`: the engine's grant.
    fn first_likely_cause(user: &str) -> String;

    /// The connector's builder.
    type Builder: Builder<Connector = Self::Connector>;
    /// The connector.
    type Connector;
    /// What the connector hands out for callers with their own pool, with a frozen token.
    type Frozen;
    /// `PgConnector::from_url`, `MySqlConnector::from_url`.
    fn from_url(url: &JdbcUrl) -> Result<Self::Builder, ConnectError>;
    /// A builder for `host:port` (logging in to [`Db::DATABASE`]).
    fn builder(host: &str, port: u16) -> Self::Builder;
    /// Connect and log in (PostgreSQL: with the connection task spawned).
    fn connect(
        connector: &Self::Connector,
    ) -> impl Future<Output = Result<Self::Session, ConnectError>>;
    /// The connector's targets.
    fn targets(connector: &Self::Connector) -> &[Target];
    /// The connector's TLS mode.
    fn tls_mode(connector: &Self::Connector) -> TlsMode;
    /// `PgConnector::config`, `MySqlConnector::opts`: the driver's settings with a token, and
    /// the token's end; asserted to be set for an IAM login of `user` (TLS, cleartext password,
    /// no token in `Debug`).
    fn frozen(
        connector: &Self::Connector,
        user: &str,
    ) -> impl Future<Output = (Self::Frozen, SystemTime)>;
    /// Log in with those settings (MySQL: through a pool) and read `current_user`.
    fn login_frozen(frozen: &Self::Frozen) -> impl Future<Output = Result<String, Self::Error>>;
}

/// An emulator configuration for `E` in front of its shared server, emulating
/// [`ENDPOINT_HOST`]`:`[`Db::ENDPOINT_PORT`] in [`REGION`] with the test credentials, on the
/// system clock (as the examples sign).
pub fn emulator_config_on_system_clock<E: Db>() -> EmulatorConfigBuilder {
    EmulatorConfig::builder(E::WIRE)
        .backend(E::server().addr())
        .endpoint(ENDPOINT_HOST, E::ENDPOINT_PORT)
        .region(REGION)
        .credentials(credentials())
}

/// The same on `clock`.
pub fn emulator_config<E: Db>(clock: &ManualClock) -> EmulatorConfigBuilder {
    emulator_config_on_system_clock::<E>().clock(Arc::new(clock.clone()))
}

/// The JDBC URL of `emulator` (an emulator of `E`) for `user` and `database`: the tunnel case,
/// dialling it on 127.0.0.1 and verifying (against its CA file) and signing the RDS name.
pub fn emulator_url_text<E: Db>(emulator: &RunningEmulator, user: &str, database: &str) -> String {
    format!(
        "jdbc:aws-wrapper:{}://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort={}&{}&{}={}&{}",
        E::SCHEME,
        emulator.local_addr().port(),
        E::ENDPOINT_PORT,
        E::VERIFY_FULL,
        E::CA_FILE_PARAMETERS[0],
        emulator.ca_path().unwrap().display(),
        E::connect_timeout(Duration::from_secs(20)),
    )
}

/// The stdout of a command-line client's run that must have succeeded (else its stderr is
/// the panic's message), trimmed.
pub fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A TLS connector that trusts only `ca_pem` (the emulator's generated CA).
pub fn tls_connector(ca_pem: &str) -> native_tls::TlsConnector {
    let ca = native_tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    native_tls::TlsConnector::builder()
        .add_root_certificate(ca)
        .disable_built_in_roots(true)
        .build()
        .unwrap()
}

/// The error of `result`, which must be one (no `Debug` of a session: MySQL's shows the
/// password).
pub fn refused<T, E>(result: Result<T, E>) -> E {
    match result {
        Ok(_) => panic!("the login was expected to fail"),
        Err(e) => e,
    }
}

/// `url`'s connector, with `tokens` and without the system's CAs.
pub async fn connector<E: Db>(url: &JdbcUrl, tokens: TokenProvider) -> E::Connector {
    E::from_url(url)
        .unwrap()
        .system_roots(false)
        .token_provider(tokens)
        .build()
        .await
        .unwrap()
}

/// An emulator of `E` in front of its shared server, on a manual clock at [`t0`].
pub struct Emulated<E> {
    pub emulator: RunningEmulator,
    pub clock: ManualClock,
    engine: PhantomData<E>,
}

impl<E: Db> Emulated<E> {
    pub async fn start() -> Self {
        Self::start_as(ENDPOINT_HOST).await
    }

    /// An emulator of the endpoint `host:`[`Db::ENDPOINT_PORT`] (its certificate names
    /// `localhost` and `127.0.0.1` too).
    pub async fn start_as(host: &str) -> Self {
        let clock = ManualClock::new(t0());
        let config = emulator_config::<E>(&clock)
            .endpoint(host, E::ENDPOINT_PORT)
            .build()
            .unwrap();
        Self {
            emulator: Emulator::start(config).await.unwrap(),
            clock,
            engine: PhantomData,
        }
    }

    /// The tunnel case ([`emulator_url_text`]).
    pub fn url_text(&self, user: &str, database: &str) -> String {
        emulator_url_text::<E>(&self.emulator, user, database)
    }

    pub fn url(&self, user: &str, database: &str) -> JdbcUrl {
        JdbcUrl::parse(&self.url_text(user, database)).unwrap()
    }

    /// [`Emulated::url`] trusting only the CA file `ca` (not the emulator's CA).
    pub fn url_trusting(&self, user: &str, database: &str, ca: &std::path::Path) -> JdbcUrl {
        let own = self.emulator.ca_path().unwrap().display().to_string();
        let text = self.url_text(user, database);
        JdbcUrl::parse(&text.replace(&own, &ca.display().to_string())).unwrap()
    }

    /// [`Emulated::url`] verifying and signing `host`, a name the emulator's certificate does
    /// not hold, in place of [`ENDPOINT_HOST`].
    pub fn url_for_host(&self, user: &str, database: &str, host: &str) -> JdbcUrl {
        let text = self.url_text(user, database).replace(
            &format!("iamHost={ENDPOINT_HOST}"),
            &format!("iamHost={host}"),
        );
        JdbcUrl::parse(&text).unwrap()
    }

    pub async fn connector(
        &self,
        user: &str,
        database: &str,
        tokens: TokenProvider,
    ) -> E::Connector {
        connector::<E>(&self.url(user, database), tokens).await
    }

    pub fn outcomes(&self) -> Vec<LoginOutcome> {
        self.emulator
            .logins()
            .into_iter()
            .map(|l| l.outcome)
            .collect()
    }
}

/// Past a token's 15-minute lifetime.
pub const PAST_EXPIRY: Duration = Duration::from_secs(16 * 60);

/// How far a token provider's own clock moves in the retry scenarios (its token stays cached,
/// and is not yet due for a refresh ahead), while the emulator's moves [`PAST_EXPIRY`] (that
/// token has expired there; one signed now is valid).
pub const LAG: Duration = Duration::from_secs(5 * 60);

/// After one accepted login, the provider's clock moved by [`LAG`] and the emulator's by
/// [`PAST_EXPIRY`], and one more login: the cached token was refused once (as expired), exactly
/// one fresh token was minted and logged in; nothing in plaintext. (Callers without a
/// background refresher also know the cache's hits exactly.)
pub fn assert_one_retry<E: Db>(e: &Emulated<E>, tokens: &TokenProvider) {
    let stats = tokens.stats();
    assert_eq!(
        (stats.minted, stats.invalidations),
        (2, 1),
        "exactly one fresh token: {stats:?}"
    );
    assert!(
        stats.hits >= 1,
        "the refused token was a cached one: {stats:?}"
    );
    assert_eq!(
        e.outcomes(),
        [
            LoginOutcome::Accepted,
            LoginOutcome::Rejected(Rejection::Expired),
            LoginOutcome::Accepted
        ]
    );
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

/// After two connections at [`t0`] and one more after [`PAST_EXPIRY`]: three accepted logins,
/// the last with a second token, decided after the jump; nothing in plaintext.
pub fn assert_fresh_login_after_expiry<E: Db>(e: &Emulated<E>, tokens: &TokenProvider) {
    let logins = e.emulator.logins();
    let outcomes: Vec<_> = logins.iter().map(|l| l.outcome.clone()).collect();
    assert_eq!(outcomes, vec![LoginOutcome::Accepted; 3]);
    assert_eq!(logins[0].at, t0());
    assert_eq!(logins[2].at, t0() + PAST_EXPIRY);
    let stats = tokens.stats();
    assert_eq!(
        stats.minted, 2,
        "one token before the jump, one after: {stats:?}"
    );
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

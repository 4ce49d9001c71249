//! [`Db`] for PostgreSQL: the shared throw-away server, tokio-postgres, `psql`,
//! [`PgConnector`], and the raw protocol messages ([`wire`]).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use postgres_native_tls::MakeTlsConnector;
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::Target;
use rds_iam::postgres::{PgConnector, PgConnectorBuilder};
use rds_iam::tls_mode::TlsMode;
use rds_iam_emulator::{BackendFailure, Wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use super::{Db, Login, Server, Whoami, builder_by_inherent_methods, tls_connector};
use crate::support::ca::TestCa;
use crate::support::iam::ENDPOINT_HOST;
use crate::support::postgres::{
    self, HbaMethod, PgOptions, PgServer, RoleAuth, quote_ident, quote_literal,
};

/// PostgreSQL.
pub struct Postgres;

impl Server for PgServer {
    fn addr(&self) -> SocketAddr {
        PgServer::addr(self)
    }

    fn log(&self) -> String {
        PgServer::log(self)
    }
}

builder_by_inherent_methods!(PgConnectorBuilder => PgConnector);

/// The emulator's address, with TLS checked for [`ENDPOINT_HOST`].
fn config(addr: SocketAddr, user: &str, password: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host(ENDPOINT_HOST)
        .hostaddr(addr.ip())
        .port(addr.port())
        .user(user)
        .password(password)
        .dbname(Postgres::DATABASE)
        // A test reads it back (the emulator passes startup parameters on).
        .application_name("rds-iam-emulator-test")
        // A flooded emulator's backlog may hold a connection.
        .connect_timeout(Duration::from_secs(2));
    config
}

fn db_error(error: &tokio_postgres::Error) -> &tokio_postgres::error::DbError {
    error
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {error}"))
}

impl Db for Postgres {
    const WIRE: Wire = Wire::Postgres;
    const ENDPOINT_PORT: u16 = 5432;

    type Server = PgServer;

    fn server() -> &'static PgServer {
        postgres::shared()
    }

    fn server_ca() -> &'static TestCa {
        postgres::shared_ca()
    }

    /// With `password` authentication (cleartext) for every role.
    async fn start_server_without_tls(user: &str, password: &str) -> PgServer {
        let pg = PgServer::start(&PgOptions {
            method: HbaMethod::Password,
            hba_by_group: false,
            ..PgOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        pg.create_role(user, RoleAuth::Default).await;
        let sql = format!(
            "ALTER ROLE {} PASSWORD {}",
            quote_ident(user),
            quote_literal(password)
        );
        pg.admin().await.batch_execute(&sql).await.unwrap();
        pg
    }

    fn wrong_password_line(user: &str) -> String {
        format!("password authentication failed for user \"{user}\"")
    }

    async fn create_user(name: &str, login: Login<'_>) {
        let auth = match login {
            Login::Trust => RoleAuth::Default,
            Login::Token(password) => RoleAuth::Password(password),
            Login::Password(password) => RoleAuth::Scram(password),
        };
        postgres::shared().create_role(name, auth).await;
    }

    /// `notes` is in a schema named after the user, first on its default `search_path`.
    async fn create_user_with_notes(name: &str) -> String {
        let pg = postgres::shared();
        pg.create_role(name, RoleAuth::Default).await;
        let user = quote_ident(name);
        let sql = format!(
            "CREATE SCHEMA AUTHORIZATION {user}; SET ROLE {user}; \
             CREATE TABLE notes (id int PRIMARY KEY, body text); \
             INSERT INTO notes VALUES (1, 'from the real backend'); RESET ROLE;"
        );
        pg.admin().await.batch_execute(&sql).await.unwrap();
        Self::DATABASE.to_owned()
    }

    const DATABASE: &'static str = "postgres";

    fn account(name: &str) -> String {
        name.to_owned()
    }

    type Session = tokio_postgres::Client;
    type Error = tokio_postgres::Error;

    async fn login(
        addr: SocketAddr,
        ca_pem: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let mut config = config(addr, user, password);
        if let Some(database) = database {
            config.dbname(database);
        }
        let (client, connection) = config
            .ssl_mode(SslMode::Require)
            .connect(MakeTlsConnector::new(tls_connector(ca_pem)))
            .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    async fn login_plaintext(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = config(addr, user, password)
            .ssl_mode(SslMode::Disable)
            .connect(tokio_postgres::NoTls)
            .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    async fn whoami(client: &mut tokio_postgres::Client) -> Whoami {
        let sql = "SELECT current_user::text, inet_server_port(), current_database()::text";
        let row = client.query_one(sql, &[]).await.unwrap();
        Whoami {
            user: row.get(0),
            port: u16::try_from(row.get::<_, i32>(1)).unwrap(),
            database: row.get(2),
        }
    }

    async fn execute(
        client: &mut tokio_postgres::Client,
        sql: &str,
    ) -> Result<(), tokio_postgres::Error> {
        client.batch_execute(sql).await
    }

    async fn count(client: &mut tokio_postgres::Client, sql: &str) -> i64 {
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn uses_tls(client: &mut tokio_postgres::Client) -> bool {
        let sql = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        client.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn close(client: tokio_postgres::Client) {
        drop(client);
    }

    fn code(error: &tokio_postgres::Error) -> String {
        db_error(error).code().code().to_owned()
    }

    fn message(error: &tokio_postgres::Error) -> String {
        db_error(error).message().to_owned()
    }

    const REFUSED: &'static str = "28000";
    const NO_SUCH_TABLE: &'static str = "42P01";

    fn refused_like_rds(user: &str) -> String {
        format!("PAM authentication failed for user \"{user}\"")
    }

    fn assert_refused_like_rds(error: &tokio_postgres::Error, user: &str) {
        let db = db_error(error);
        assert_eq!(db.severity(), "FATAL");
        assert_eq!(db.code(), &SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        assert_eq!(db.message(), Self::refused_like_rds(user));
    }

    fn assert_refused_without_tls(error: &tokio_postgres::Error, user: &str) {
        let db = db_error(error);
        assert_eq!(db.code(), &SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        assert_eq!(
            db.message(),
            format!(
                "no pg_hba.conf entry for host \"127.0.0.1\", user \"{user}\", database \
                 \"postgres\", no encryption"
            )
        );
    }

    const NO_SUCH_DATABASE: &'static [&'static str] = &["3D000"];

    fn without_backend_password() -> (BackendFailure, &'static str) {
        (
            BackendFailure::PasswordNeeded,
            "the emulator could not log in to its backend database",
        )
    }

    async fn cli(
        addr: SocketAddr,
        ca: &Path,
        user: &str,
        password: &str,
        database: &str,
        tls: bool,
        sql: &str,
    ) -> std::process::Output {
        let sslmode = if tls { "verify-full" } else { "disable" };
        let conninfo = format!(
            "host={ENDPOINT_HOST} hostaddr={} port={} user={user} dbname={} \
             sslmode={sslmode} sslrootcert={}",
            addr.ip(),
            addr.port(),
            database,
            ca.display()
        );
        tokio::process::Command::new(Self::server().psql())
            .args(["-X", "-w", "-qAt", "-c", sql])
            .arg(conninfo)
            .env("PGPASSWORD", password)
            .env_remove("PGSERVICE")
            .output()
            .await
            .expect("run psql (install postgresql-client)")
    }

    fn cli_query(user: &str, port: u16) -> (&'static str, String) {
        (
            "SELECT current_user || ' ' || inet_server_port() || ' ' || body FROM notes",
            format!("{user} {port} from the real backend"),
        )
    }

    fn cli_refused_like_rds(user: &str) -> String {
        format!("FATAL:  {}", Self::refused_like_rds(user))
    }

    fn cli_refused_without_tls(user: &str) -> String {
        format!(
            "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"{user}\", database \
             \"postgres\", no encryption"
        )
    }

    async fn idle_client(addr: SocketAddr) -> TcpStream {
        TcpStream::connect(addr).await.unwrap()
    }

    async fn send_password_unasked(addr: SocketAddr, user: &str, password: &str) {
        let mut bytes = wire::startup(user, Self::DATABASE);
        postgres_protocol::message::frontend::password_message(password.as_bytes(), &mut bytes)
            .unwrap();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&bytes).await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply[0], b'E');
        assert!(String::from_utf8_lossy(&reply).contains("no encryption"));
    }

    fn assert_backend_unreachable(error: &tokio_postgres::Error) {
        let db = db_error(error);
        assert_eq!(db.code(), &SqlState::CONNECTION_FAILURE);
        assert_eq!(
            db.message(),
            "the emulator could not log in to its backend database"
        );
    }

    const BACKEND_CONNECTIONS_AT_START: usize = 0;

    const SCHEME: &'static str = "postgresql";
    const VERIFY_FULL: &'static str = "sslmode=verify-full";
    const VERIFY_CA: &'static str = "sslmode=verify-ca";
    const REQUIRE: &'static str = "ssl=true&sslmode=require";
    const CA_FILE_PARAMETERS: &'static [&'static str] = &["sslrootcert"];

    fn connect_timeout(timeout: Duration) -> String {
        format!("connectTimeout={}", timeout.as_secs())
    }

    fn first_likely_cause(user: &str) -> String {
        format!(
            "the database user is not granted rds_iam (as the master user: GRANT rds_iam TO \
             \"{user}\";)"
        )
    }

    type Builder = PgConnectorBuilder;
    type Connector = PgConnector;
    type Frozen = (tokio_postgres::Config, rds_iam::postgres::MakeTls);

    fn from_url(url: &JdbcUrl) -> Result<PgConnectorBuilder, ConnectError> {
        PgConnector::from_url(url)
    }

    fn builder(host: &str, port: u16) -> PgConnectorBuilder {
        PgConnector::builder(host, port).database(Self::DATABASE)
    }

    async fn connect(connector: &PgConnector) -> Result<tokio_postgres::Client, ConnectError> {
        let (client, connection) = connector.connect().await?;
        tokio::spawn(connection);
        Ok(client)
    }

    fn targets(connector: &PgConnector) -> &[Target] {
        connector.targets()
    }

    fn tls_mode(connector: &PgConnector) -> TlsMode {
        connector.tls_mode()
    }

    async fn frozen(connector: &PgConnector, user: &str) -> (Self::Frozen, SystemTime) {
        let (config, tls, valid_until) = connector.config().await.unwrap();
        assert_eq!(config.get_user(), Some(user));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert!(!format!("{config:?}").contains("X-Amz-Signature"));
        ((config, tls), valid_until)
    }

    async fn login_frozen((config, tls): &Self::Frozen) -> Result<String, tokio_postgres::Error> {
        let (mut client, connection) = config.connect(tls.clone()).await?;
        tokio::spawn(connection);
        Ok(Self::whoami(&mut client).await.user)
    }
}

/// PostgreSQL protocol messages, for clients that misbehave.
pub mod wire {
    use bytes::BytesMut;
    use postgres_protocol::message::frontend;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::support::engine::tls_connector;
    use crate::support::iam::ENDPOINT_HOST;

    /// `GSSENCRequest`: 8 bytes, code 80877104.
    pub const GSSENC_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];

    /// `AuthenticationCleartextPassword`: what the emulator asks over TLS.
    pub const ASKED_FOR_PASSWORD: [u8; 9] = [b'R', 0, 0, 0, 8, 0, 0, 0, 3];

    /// A `StartupMessage`.
    pub fn startup(user: &str, database: &str) -> BytesMut {
        let mut buf = BytesMut::new();
        frontend::startup_message([("user", user), ("database", database)], &mut buf).unwrap();
        buf
    }

    /// An `SSLRequest`.
    pub fn ssl_request() -> BytesMut {
        let mut buf = BytesMut::new();
        frontend::ssl_request(&mut buf);
        buf
    }

    /// A TLS connection to the emulator at `addr` (whose CA is `ca_pem`), after
    /// `SSLRequest`.
    pub async fn tls_to(
        addr: std::net::SocketAddr,
        ca_pem: &str,
    ) -> tokio_native_tls::TlsStream<TcpStream> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
        tokio_native_tls::TlsConnector::from(tls_connector(ca_pem))
            .connect(ENDPOINT_HOST, stream)
            .await
            .unwrap()
    }

    /// Whether `reply` is (or starts with) an `ErrorResponse` with `code`.
    pub fn is_error(reply: &[u8], code: &str) -> bool {
        reply.first() == Some(&b'E')
            && String::from_utf8_lossy(reply).contains(&format!("C{code}\0"))
    }
}

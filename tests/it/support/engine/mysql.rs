//! [`Db`] for MySQL/MariaDB: the shared throw-away MariaDB, mysql_async, the `mariadb` client,
//! [`MySqlConnector`], and the raw protocol messages ([`wire`]).

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::{AuthPlugin, HandshakeResponse};
use mysql_common::proto::MySerialize;
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::{MySqlConnector, MySqlConnectorBuilder};
use rds_iam::plan::Target;
use rds_iam::tls_mode::TlsMode;
use rds_iam_emulator::{BackendFailure, Wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Db, Login, Server, Whoami, builder_by_inherent_methods};
use crate::support::ca::TestCa;
use crate::support::iam::ENDPOINT_HOST;
use crate::support::mariadb::{self, MariaDbOptions, MariaDbServer, UserAuth, quote_ident};

/// MySQL, as the shared MariaDB speaks it.
pub struct MySql;

impl Server for MariaDbServer {
    fn addr(&self) -> SocketAddr {
        MariaDbServer::addr(self)
    }

    fn log(&self) -> String {
        MariaDbServer::log(self)
    }
}

builder_by_inherent_methods!(MySqlConnectorBuilder => MySqlConnector);

/// The emulator's address without TLS.
fn plaintext_opts(addr: SocketAddr, user: &str, password: &str) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(password))
        // As an IAM client must: the emulator asks for the token in cleartext.
        .enable_cleartext_plugin(true)
}

fn server_error(error: &mysql_async::Error) -> &mysql_async::ServerError {
    match error {
        mysql_async::Error::Server(e) => e,
        other => panic!("not a server error: {other}"),
    }
}

impl Db for MySql {
    const WIRE: Wire = Wire::Mysql;
    const ENDPOINT_PORT: u16 = 3306;

    type Server = MariaDbServer;

    fn server() -> &'static MariaDbServer {
        mariadb::shared()
    }

    fn server_ca() -> &'static TestCa {
        mariadb::shared_ca()
    }

    async fn start_server_without_tls(user: &str, password: &str) -> MariaDbServer {
        let db = MariaDbServer::start(&MariaDbOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        db.create_user(user, UserAuth::Password(password)).await;
        db
    }

    /// The server's refusal, which RDS's copies.
    fn wrong_password_line(user: &str) -> String {
        Self::refused_like_rds(user)
    }

    async fn create_user(name: &str, login: Login<'_>) {
        let auth = match login {
            Login::Trust => UserAuth::NoPassword,
            Login::Token(password) | Login::Password(password) => {
                UserAuth::NativePassword(password)
            }
        };
        mariadb::shared().create_user(name, auth).await;
    }

    /// `notes` is in a database of the user's own, `<name>_db`.
    async fn create_user_with_notes(name: &str) -> String {
        let db = mariadb::shared();
        let database = format!("{name}_db");
        db.create_user(name, UserAuth::NoPassword).await;
        db.create_database(&database).await;
        let quoted = quote_ident(&database);
        db.admin_exec(&format!(
            "CREATE OR REPLACE TABLE {quoted}.notes (id INT PRIMARY KEY, body TEXT) \
             ENGINE=InnoDB; INSERT INTO {quoted}.notes VALUES (1, 'from the real backend')"
        ))
        .await;
        db.grant("ALL PRIVILEGES", &format!("{quoted}.*"), name)
            .await;
        database
    }

    const DATABASE: &'static str = "";

    fn account(name: &str) -> String {
        format!("{name}@%")
    }

    type Session = Conn;
    type Error = mysql_async::Error;

    async fn login(
        addr: SocketAddr,
        ca_pem: &str,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<Conn, mysql_async::Error> {
        let ssl = SslOpts::default()
            .with_root_certs(vec![ca_pem.as_bytes().to_vec().into()])
            .with_disable_built_in_roots(true)
            .with_danger_tls_hostname_override(Some(ENDPOINT_HOST));
        let opts = plaintext_opts(addr, user, password)
            .ssl_opts(ssl)
            .db_name(database);
        Conn::new(Opts::from(opts)).await
    }

    async fn login_plaintext(
        addr: SocketAddr,
        user: &str,
        password: &str,
    ) -> Result<Conn, mysql_async::Error> {
        Conn::new(Opts::from(plaintext_opts(addr, user, password))).await
    }

    async fn whoami(conn: &mut Conn) -> Whoami {
        let (user, port, database): (String, u16, Option<String>) = conn
            .query_first("SELECT CURRENT_USER(), @@port, DATABASE()")
            .await
            .unwrap()
            .unwrap();
        Whoami {
            user,
            port,
            database: database.unwrap_or_default(),
        }
    }

    async fn execute(conn: &mut Conn, sql: &str) -> Result<(), mysql_async::Error> {
        conn.query_drop(sql).await
    }

    async fn count(conn: &mut Conn, sql: &str) -> i64 {
        conn.query_first(sql).await.unwrap().unwrap()
    }

    async fn uses_tls(conn: &mut Conn) -> bool {
        let row: Option<(String, String)> = conn
            .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
            .await
            .unwrap();
        !row.unwrap().1.is_empty()
    }

    async fn close(conn: Conn) {
        conn.disconnect().await.unwrap();
    }

    fn code(error: &mysql_async::Error) -> String {
        server_error(error).code.to_string()
    }

    fn message(error: &mysql_async::Error) -> String {
        server_error(error).message.clone()
    }

    const REFUSED: &'static str = "1045";
    const NO_SUCH_TABLE: &'static str = "1146";

    fn refused_like_rds(user: &str) -> String {
        format!("Access denied for user '{user}'@'127.0.0.1' (using password: YES)")
    }

    fn assert_refused_like_rds(error: &mysql_async::Error, user: &str) {
        let e = server_error(error);
        assert_eq!(e.code, 1045, "{e:?}");
        assert_eq!(e.state, "28000");
        assert_eq!(e.message, Self::refused_like_rds(user));
    }

    /// The same refusal as for a bad token (RDS does not tell them apart).
    fn assert_refused_without_tls(error: &mysql_async::Error, user: &str) {
        Self::assert_refused_like_rds(error, user);
    }

    const NO_SUCH_DATABASE: &'static [&'static str] = &["1044", "1049"];

    fn without_backend_password() -> (BackendFailure, &'static str) {
        let refused = BackendFailure::Refused {
            code: "1045".into(),
        };
        (refused, "using password: NO")
    }

    /// The `mariadb` client always has `mysql_clear_password` (it calls
    /// `--enable-cleartext-plugin` obsolete; Oracle's `mysql` needs that flag). With TLS it
    /// checks the certificate for `127.0.0.1`, which the emulator's names too (the client has
    /// no separate name to check). Its character set is latin1, not the utf8mb4 that
    /// mysql_common would pick, so that [`MySql::cli_query`] sees it pass.
    async fn cli(
        addr: SocketAddr,
        ca: &Path,
        user: &str,
        password: &str,
        database: &str,
        tls: bool,
        sql: &str,
    ) -> std::process::Output {
        let mut command = tokio::process::Command::new(mariadb::shared().client());
        command
            .arg("--no-defaults")
            .arg("--protocol=TCP")
            .arg(format!("--host={}", addr.ip()))
            .arg(format!("--port={}", addr.port()))
            .arg(format!("--user={user}"))
            .arg(format!("--database={database}"))
            .args(["--batch", "--skip-column-names"])
            .arg("--default-character-set=latin1");
        if tls {
            command
                .arg(format!("--ssl-ca={}", ca.display()))
                .arg("--ssl-verify-server-cert");
        } else {
            command.arg("--skip-ssl");
        }
        command
            .args(["-e", sql])
            .env("MYSQL_PWD", password)
            .output()
            .await
            .expect("run mariadb (install mariadb-client)")
    }

    fn cli_query(user: &str, port: u16) -> (&'static str, String) {
        (
            "SELECT CURRENT_USER(), @@port, body, @@collation_connection FROM notes",
            // The client's own character set reaches the backend.
            format!("{user}@%\t{port}\tfrom the real backend\tlatin1_swedish_ci"),
        )
    }

    fn cli_refused_like_rds(user: &str) -> String {
        format!("ERROR 1045 (28000): {}", Self::refused_like_rds(user))
    }

    fn cli_refused_without_tls(user: &str) -> String {
        Self::cli_refused_like_rds(user)
    }

    async fn idle_client(addr: SocketAddr) -> TcpStream {
        wire::greeted(addr).await.0
    }

    /// The token in cleartext in the first answer to the greeting, without TLS.
    async fn send_password_unasked(addr: SocketAddr, user: &str, password: &str) {
        let (mut stream, greeting) = wire::greeted(addr).await;
        let mut auth = password.as_bytes().to_vec();
        auth.push(0);
        let capabilities = greeting.capabilities()
            & (CapabilityFlags::CLIENT_PROTOCOL_41
                | CapabilityFlags::CLIENT_SECURE_CONNECTION
                | CapabilityFlags::CLIENT_PLUGIN_AUTH
                | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
        let response = HandshakeResponse::new(
            Some(auth),
            (10, 11, 0),
            Some(user.as_bytes()),
            None::<&[u8]>,
            Some(AuthPlugin::MysqlClearPassword),
            capabilities,
            None,
            1 << 24,
        );
        let mut payload = Vec::new();
        response.serialize(&mut payload);
        stream.write_all(&wire::packet(1, &payload)).await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        assert_eq!(reply[4], 0xFF, "an ERR packet");
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.contains(&format!("#28000{}", Self::refused_like_rds(user))),
            "{text}"
        );
    }

    /// Sent before the client's handshake response, so without a SQLSTATE (as servers do).
    fn assert_backend_unreachable(error: &mysql_async::Error) {
        let e = server_error(error);
        assert_eq!((e.code, e.state.as_str()), (1043, "HY000"));
        assert_eq!(
            e.message,
            "the emulator could not reach its backend database"
        );
    }

    /// The one that learns the backend's greeting.
    const BACKEND_CONNECTIONS_AT_START: usize = 1;

    const SCHEME: &'static str = "mysql";
    const VERIFY_FULL: &'static str = "sslMode=VERIFY_IDENTITY";
    const VERIFY_CA: &'static str = "sslMode=VERIFY_CA";
    const REQUIRE: &'static str = "sslMode=REQUIRED";
    const CA_FILE_PARAMETERS: &'static [&'static str] = &["sslCa", "serverSslCert"];

    fn connect_timeout(timeout: Duration) -> String {
        format!("connectTimeout={}", timeout.as_millis())
    }

    fn first_likely_cause(user: &str) -> String {
        format!(
            "the database user is not set up for IAM (as the master user: CREATE USER `{user}`@`%` \
             IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';)"
        )
    }

    type Builder = MySqlConnectorBuilder;
    type Connector = MySqlConnector;
    type Frozen = Opts;

    fn from_url(url: &JdbcUrl) -> Result<MySqlConnectorBuilder, ConnectError> {
        MySqlConnector::from_url(url)
    }

    fn builder(host: &str, port: u16) -> MySqlConnectorBuilder {
        MySqlConnector::builder(host, port)
    }

    async fn connect(connector: &MySqlConnector) -> Result<Conn, ConnectError> {
        connector.connect().await
    }

    fn targets(connector: &MySqlConnector) -> &[Target] {
        connector.targets()
    }

    fn tls_mode(connector: &MySqlConnector) -> TlsMode {
        connector.tls_mode()
    }

    async fn frozen(connector: &MySqlConnector, user: &str) -> (Opts, SystemTime) {
        let (opts, valid_until) = connector.opts().await.unwrap();
        assert_eq!(opts.user(), Some(user));
        assert!(opts.enable_cleartext_plugin() && opts.ssl_opts().is_some());
        assert!(!opts.prefer_socket());
        (opts, valid_until)
    }

    async fn login_frozen(opts: &Opts) -> Result<String, mysql_async::Error> {
        let pool = mysql_async::Pool::new(opts.clone());
        let user = match pool.get_conn().await {
            Ok(mut conn) => Ok(Self::whoami(&mut conn).await.user),
            Err(e) => Err(e),
        };
        pool.disconnect().await.unwrap();
        user
    }
}

/// MySQL protocol packets, for clients that misbehave.
pub mod wire {
    use mysql_common::constants::CapabilityFlags;
    use mysql_common::io::ParseBuf;
    use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse, SslRequest};
    use mysql_common::proto::MySerialize;
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use crate::support::engine::tls_connector;
    use crate::support::iam::ENDPOINT_HOST;

    /// What the misbehaving clients say they can do.
    pub const CLIENT: CapabilityFlags = CapabilityFlags::CLIENT_PROTOCOL_41
        .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
        .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
        .union(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
        .union(CapabilityFlags::CLIENT_CONNECT_WITH_DB);

    /// Frame `payload` as packet `seq`.
    pub fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
        let mut out = vec![len[0], len[1], len[2], seq];
        out.extend_from_slice(payload);
        out
    }

    /// Read one packet's payload.
    pub async fn read_packet<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.unwrap();
        payload
    }

    /// Connect and read the greeting (packet 0).
    pub async fn greeted(addr: std::net::SocketAddr) -> (TcpStream, HandshakePacket<'static>) {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        assert_eq!(header[3], 0, "the greeting is packet 0");
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).await.unwrap();
        let greeting = ParseBuf(&payload)
            .parse::<HandshakePacket<'_>>(())
            .unwrap()
            .into_owned();
        (stream, greeting)
    }

    /// An `SslRequest` (packet 1).
    pub fn ssl_request() -> Vec<u8> {
        let mut payload = Vec::new();
        SslRequest::new(CLIENT | CapabilityFlags::CLIENT_SSL, 1 << 24, 45).serialize(&mut payload);
        packet(1, &payload)
    }

    /// A handshake response for `user` (a `mysql_native_password` answer) as packet `seq`.
    pub fn handshake_response(seq: u8, user: &str, database: Option<&str>) -> Vec<u8> {
        let mut payload = Vec::new();
        HandshakeResponse::new(
            Some(vec![7u8; 20]),
            (10, 11, 0),
            Some(user.as_bytes()),
            database.map(str::as_bytes),
            Some(AuthPlugin::MysqlNativePassword),
            CLIENT,
            None,
            1 << 24,
        )
        .serialize(&mut payload);
        packet(seq, &payload)
    }

    /// A TLS connection to the emulator at `addr` (whose CA is `ca_pem`), after the
    /// greeting and `SslRequest`.
    pub async fn tls_to(
        addr: std::net::SocketAddr,
        ca_pem: &str,
    ) -> tokio_native_tls::TlsStream<TcpStream> {
        let (mut stream, _) = greeted(addr).await;
        stream.write_all(&ssl_request()).await.unwrap();
        tokio_native_tls::TlsConnector::from(tls_connector(ca_pem))
            .connect(ENDPOINT_HOST, stream)
            .await
            .unwrap()
    }

    /// The error code of an ERR packet at the start of `reply`, if it is one.
    pub fn err_code(reply: &[u8]) -> Option<u16> {
        (reply.get(4) == Some(&0xFF)).then(|| u16::from_le_bytes([reply[5], reply[6]]))
    }
}

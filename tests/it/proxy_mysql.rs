//! `rds_iam::proxy` for MySQL and MariaDB clients (mysql_async, the `mariadb` command, over TCP
//! and the Unix socket) through the proxy, the emulator (which checks tokens as RDS does) and
//! the real MariaDB, on one manual clock shared by the emulator and the proxy's token cache;
//! and against a server that does not offer TLS (`support::hostile`), which records what
//! reached it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use rds_iam::clock::ManualClock;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::provider::TokenProvider;
use rds_iam::proxy::{FailureCause, ProxyBuilder, RunningProxy};
use rds_iam_emulator::{LoginOutcome, Rejection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::connect::Emulated;
use crate::support::engine::{Db, LAG, MySql, PAST_EXPIRY, assert_one_retry, stdout_of};
use crate::support::hostile::{HostileServer, Protocol, ServerTls};
use crate::support::iam::{provider, provider_with, t0, unrelated_cas, wrong_secret_credentials};
use crate::support::logs::LogCapture;

/// A proxy for `url` with `tokens`, on a free loopback port, trusting only the URL's CA.
async fn start(
    url: &JdbcUrl,
    tokens: TokenProvider,
    tune: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
) -> RunningProxy {
    let builder = ProxyBuilder::from_url(url)
        .unwrap()
        .system_roots(false)
        .token_provider(tokens)
        .listen("127.0.0.1:0".parse().unwrap());
    tune(builder).start().await.unwrap()
}

/// A mysql_async client of the proxy: plaintext, no password.
async fn client(addr: SocketAddr, user: &str, database: &str) -> Result<Conn, mysql_async::Error> {
    let opts = OptsBuilder::default()
        .ip_or_hostname(addr.ip().to_string())
        .tcp_port(addr.port())
        .prefer_socket(false)
        .user(Some(user))
        .db_name(Some(database));
    Conn::new(opts).await
}

/// The server error a client of the proxy gets: its code and message.
async fn refusal(addr: SocketAddr, user: &str, database: &str) -> (u16, String) {
    match client(addr, user, database).await {
        Ok(_) => panic!("the login was expected to fail"),
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        Err(other) => panic!("not a server error: {other:?}"),
    }
}

/// A loopback forwarder to `to` that holds each client's first bytes (a MySQL client's
/// handshake response) for `hold` before passing them on; its address, and how many
/// connections it has taken.
async fn forwarder(to: SocketAddr, hold: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(forward(client, to, hold));
        }
    });
    (addr, connections)
}

async fn forward(client: TcpStream, to: SocketAddr, hold: Duration) -> std::io::Result<()> {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = TcpStream::connect(to).await?.into_split();
    let down = tokio::spawn(async move { tokio::io::copy(&mut from_server, &mut to_client).await });
    let mut first = vec![0; 64 << 10];
    let n = from_client.read(&mut first).await?;
    tokio::time::sleep(hold).await;
    to_server.write_all(&first[..n]).await?;
    tokio::io::copy(&mut from_client, &mut to_server).await?;
    to_server.shutdown().await?;
    down.await?.map(drop)
}

async fn current_user(conn: &mut Conn) -> String {
    conn.query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap()
}

/// An emulator, a user with a `notes` table, a provider on the emulator's clock, a proxy.
async fn setup(user: &str) -> (Emulated<MySql>, TokenProvider, RunningProxy, String) {
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;
    let tokens = provider(&e.clock).await;
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| b).await;
    (e, tokens, proxy, database)
}

#[tokio::test]
async fn mysql_async_and_the_mariadb_client_log_in_without_a_password() {
    let user = "proxy_my_user";
    let capture = LogCapture::default();
    let _guard = capture.install();
    let (e, tokens, proxy, database) = setup(user).await;
    let addr = proxy.local_addr();

    let mut conn = client(addr, user, &database).await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    let note: String = conn
        .query_first("SELECT body FROM notes WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note, "from the real backend");
    // The server's own version reaches the client in the greeting.
    let version: String = conn.query_first("SELECT VERSION()").await.unwrap().unwrap();
    let (major, minor, patch) = conn.server_version();
    assert!(
        version.starts_with(&format!("{major}.{minor}.{patch}")),
        "{version} vs {:?}",
        conn.server_version()
    );

    // A transaction: one row rolled back, one committed.
    conn.query_drop("CREATE TEMPORARY TABLE t (n INT) ENGINE=InnoDB")
        .await
        .unwrap();
    conn.query_drop("START TRANSACTION").await.unwrap();
    conn.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    conn.query_drop("START TRANSACTION").await.unwrap();
    conn.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
    conn.query_drop("COMMIT").await.unwrap();
    let rows: i64 = conn
        .query_first("SELECT COUNT(*) FROM t")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rows, 1);

    // A large result (8 MB) relays intact.
    let rows: Vec<(i64, String, String)> = conn
        .query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8) \
             SELECT i, REPEAT(MD5(i), 32768), MD5(i) FROM n",
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    for (_, text, md5) in &rows {
        assert_eq!(text.len(), 1 << 20);
        assert_eq!(*text, md5.repeat(32768));
    }
    // Prepared statements (the binary protocol) too.
    let n: i64 = conn
        .exec_first("SELECT ? + 1", (41,))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 42);

    // The mariadb command, plaintext to the proxy, no password.
    let ca = e.emulator.ca_path().unwrap();
    let (sql, expected) = MySql::cli_query(user, 3306);
    let out = MySql::cli(addr, ca, user, "", &database, false, sql).await;
    // The session is the backend's (its own port), with the client's character set.
    let backend_port = MySql::server().addr().port();
    assert_eq!(
        stdout_of(&out),
        expected.replace("\t3306\t", &format!("\t{backend_port}\t"))
    );

    conn.disconnect().await.unwrap();
    let stats = tokens.stats();
    assert_eq!(stats.minted, 1, "one token for both clients: {stats:?}");
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
    assert!(e.emulator.logins().iter().all(|l| l.tls));
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
    let metrics = proxy.metrics();
    assert_eq!(metrics.logins_ok, 2);
    assert!(metrics.bytes_to_client > 8 << 20, "{metrics:?}");

    // The token is never logged.
    let target =
        rds_iam::plan::ConnectPlan::resolve(&e.url(user, &database), &Default::default()).unwrap();
    let token = tokens.token(&target.first().token).await.unwrap();
    let signature = token
        .expose()
        .rsplit_once("X-Amz-Signature=")
        .unwrap()
        .1
        .to_owned();
    let logs = capture.text();
    assert!(logs.contains("client logged in"), "{logs}");
    let text = format!("{logs}{}", metrics.prometheus());
    assert!(!text.contains(&signature), "{logs}");
    assert!(!text.contains("X-Amz-Signature"), "{logs}");
    assert_eq!(proxy.shutdown(Duration::from_secs(5)).await.closed, 0);
}

#[tokio::test]
async fn fresh_tokens_after_the_lifetime_and_one_retry_for_a_revoked_one() {
    let user = "proxy_my_expiry_user";
    let (e, tokens, proxy, database) = setup(user).await;
    let mut first = client(proxy.local_addr(), user, &database).await.unwrap();
    e.clock.advance(Duration::from_secs(16 * 60));
    // The open session goes on; a new client logs in with a new token.
    assert_eq!(current_user(&mut first).await, format!("{user}@%"));
    let mut second = client(proxy.local_addr(), user, &database).await.unwrap();
    assert_eq!(current_user(&mut second).await, format!("{user}@%"));
    assert_eq!(tokens.stats().minted, 2);
    // --run-connection-test's login.
    proxy.test_login().await.unwrap();
    assert!(e.outcomes().iter().all(|o| *o == LoginOutcome::Accepted));
    assert_eq!(e.outcomes().len(), 3);

    // A cached token the server rejects (the provider's clock lags the emulator's): exactly
    // one retry, with a fresh token.
    let user = "proxy_my_retry_user";
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| b).await;
    drop(client(proxy.local_addr(), user, &database).await.unwrap());
    provider_clock.advance(LAG);
    e.clock.advance(PAST_EXPIRY);
    let mut again = client(proxy.local_addr(), user, &database).await.unwrap();
    assert_eq!(current_user(&mut again).await, format!("{user}@%"));
    assert_one_retry(&e, &tokens);
    assert_eq!(
        tokens.stats().hits,
        1,
        "only the refused login used the cache"
    );
}

#[tokio::test]
async fn tls_failures_name_the_cause_and_nothing_reaches_the_server() {
    let user = "proxy_my_tls_user";
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;

    // A CA that did not issue the certificate.
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, unrelated_cas(2)).unwrap();
    let wrong_ca = e.url_trusting(user, &database, &wrong);
    let proxy = start(&wrong_ca, provider(&e.clock).await, |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, &database).await;
    assert_eq!(code, 2003, "{message}");
    assert!(
        message.starts_with("rds-iam proxy: ")
            && message.contains("is not trusted")
            && message.contains("wrong-ca.pem"),
        "{message}"
    );
    assert!(message.contains("the token was not sent"), "{message}");
    assert_eq!(proxy.metrics().failed(FailureCause::Tls), 1);

    // A certificate for another name.
    let other = "other.cluster-abc123.us-east-1.rds.amazonaws.com";
    let mismatch = e.url_for_host(user, &database, other);
    let proxy = start(&mismatch, provider(&e.clock).await, |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, &database).await;
    assert_eq!(code, 2003, "{message}");
    assert!(message.contains(&format!("not for {other}")), "{message}");
    assert!(message.contains("the token was not sent"), "{message}");
    assert_eq!(proxy.metrics().failed(FailureCause::Tls), 1);
    assert!(
        e.emulator.logins().is_empty(),
        "nothing was sent before TLS was verified"
    );

    // A server whose greeting does not offer TLS: it is sent nothing at all.
    let plain = HostileServer::start(Protocol::MySql, ServerTls::Refused).await;
    let url = JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:mysql://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
         &iamRegion=us-east-1&sslMode=REQUIRED",
        plain.port()
    ))
    .unwrap();
    let tokens = provider(&e.clock).await;
    let proxy = start(&url, tokens.clone(), |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, &database).await;
    assert_eq!(code, 2003, "{message}");
    assert!(
        message.contains("refused TLS") && message.contains("the token was not sent"),
        "{message}"
    );
    assert_eq!(proxy.metrics().failed(FailureCause::Tls), 1);
    // Refused at the server's greeting, before the client is greeted: no token was made.
    assert_eq!(tokens.stats().minted, 0);
    let seen = plain.seen().await;
    assert_eq!(seen.connections, 1, "{seen:?}");
    assert!(
        seen.passwords.is_empty() && seen.bytes.is_empty(),
        "{seen:?}"
    );
}

#[tokio::test]
async fn failures_reach_the_client_as_err_packets_with_the_diagnosis() {
    let user = "proxy_my_fail_user";
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;

    // A token the server rejects (a wrong secret key): 1045 with the likely causes; a fresh
    // token is not retried. A user the proxy does not log in as: refused before any token.
    let tokens = provider_with(&e.clock, wrong_secret_credentials()).await;
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| {
        b.max_connections(1)
    })
    .await;
    let (code, message) = refusal(proxy.local_addr(), user, &database).await;
    assert_eq!(code, 1045, "{message}");
    assert!(message.contains("likely causes"), "{message}");
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::BadSignature)]
    );
    assert_eq!(tokens.stats().minted, 1);
    let (code, message) = refusal(proxy.local_addr(), "root", &database).await;
    assert_eq!(code, 1045, "{message}");
    assert!(
        message.contains(&format!("it logs in only as \"{user}\"")),
        "{message}"
    );
    assert_eq!(tokens.stats().minted, 1);

    // A client that asks for TLS is told that the proxy is the TLS end.
    let mut raw = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    let mut header = [0u8; 4];
    raw.read_exact(&mut header).await.unwrap();
    let len = usize::from(header[0]) | usize::from(header[1]) << 8;
    raw.read_exact(&mut vec![0u8; len]).await.unwrap();
    let mut ssl_request = vec![32, 0, 0, 1];
    ssl_request.extend_from_slice(&0x0008_8a00u32.to_le_bytes());
    ssl_request.extend_from_slice(&(1u32 << 24).to_le_bytes());
    ssl_request.push(45);
    ssl_request.extend_from_slice(&[0; 23]);
    raw.write_all(&ssl_request).await.unwrap();
    let mut reply = Vec::new();
    raw.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply.get(4), Some(&0xFF), "an ERR packet: {reply:?}");
    assert!(
        String::from_utf8_lossy(&reply).contains("the proxy is the TLS end"),
        "{reply:?}"
    );
    assert_eq!(tokens.stats().minted, 1);

    // The connection limit: a client over it gets 1040 at once.
    let _held = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (code, message) = refusal(proxy.local_addr(), user, &database).await;
    assert_eq!(code, 1040, "{message}");
    assert!(message.contains("limit of 1 connections"), "{message}");
    assert_eq!(proxy.metrics().failed(FailureCause::TooManyConnections), 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn a_client_slower_than_the_greeting_is_logged_in_over_a_new_server_connection() {
    let user = "proxy_my_slow_user";
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;
    let tokens = provider(&e.clock).await;
    // The proxy reaches the emulator through a forwarder that counts its connections.
    let emulator = e.emulator.local_addr();
    let (server, server_connections) = forwarder(emulator, Duration::ZERO).await;
    let url = e
        .url_text(user, &database)
        .replace(&emulator.to_string(), &server.to_string());
    let proxy = start(&JdbcUrl::parse(&url).unwrap(), tokens.clone(), |b| b).await;

    // A client in time logs in over the server connection that greeted it.
    let mut conn = client(proxy.local_addr(), user, &database).await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();
    assert_eq!(server_connections.load(Ordering::SeqCst), 1);

    // A client whose handshake response comes 5.5 s after the greeting (the proxy uses a
    // greeted server connection for 5 s): the greeted connection is dropped unused and the
    // login goes over a new one, as one login.
    let (slow, _) = forwarder(proxy.local_addr(), Duration::from_millis(5500)).await;
    let began = Instant::now();
    let mut conn = client(slow, user, &database).await.unwrap();
    assert!(began.elapsed() >= Duration::from_millis(5500));
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    let n: i64 = conn
        .exec_first("SELECT ? + 1", (41,))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 42);
    conn.disconnect().await.unwrap();
    assert_eq!(server_connections.load(Ordering::SeqCst), 3);
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted],
        "one login per client"
    );
    assert_eq!(tokens.stats().minted, 1);
    let metrics = proxy.metrics();
    assert_eq!(metrics.logins_ok, 2);
    assert!(
        metrics.logins_failed.iter().all(|(_, n)| *n == 0),
        "{metrics:?}"
    );
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let user = "proxy_my_unix_user";
    let e = Emulated::<MySql>::start().await;
    let database = MySql::create_user_with_notes(user).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(&e.url(user, &database), provider(&e.clock).await, |b| {
        b.unix_socket(dir.path())
    })
    .await;
    let socket = dir.path().join("mysql.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let opts = OptsBuilder::default()
        .socket(Some(socket.display().to_string()))
        .user(Some(user))
        .db_name(Some(&database));
    let mut conn = Conn::new(opts).await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();

    // The mariadb command, as the proxy's docs say.
    let out = tokio::process::Command::new(MySql::server().client())
        .arg("--no-defaults")
        .arg(format!("--socket={}", socket.display()))
        .args([
            "--protocol=SOCKET",
            "--skip-ssl",
            "--batch",
            "--skip-column-names",
        ])
        .arg(format!("--user={user}"))
        .arg(format!("--database={database}"))
        .args(["-e", "SELECT CURRENT_USER()"])
        .env_remove("MYSQL_PWD")
        .output()
        .await
        .unwrap();
    assert_eq!(stdout_of(&out), format!("{user}@%"));
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
    assert_eq!(proxy.metrics().logins_ok, 2);
    proxy.shutdown(Duration::from_secs(5)).await;
    assert!(!socket.exists());
}

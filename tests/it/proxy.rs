//! `rds_iam::proxy` (feature `proxy`) with real clients (tokio-postgres, psql) through the
//! proxy, the emulator (which checks tokens as RDS does) and the real PostgreSQL, on one manual
//! clock shared by the emulator and the proxy's token cache.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::process::Command;

use rds_iam::clock::ManualClock;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::provider::TokenProvider;
use rds_iam::proxy::{FailureCause, ProxyBuilder, ProxyError, RunningProxy};
use rds_iam_emulator::{LoginOutcome, Rejection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::NoTls;

use crate::connect::Emulated;
use crate::support::engine::{Db, LAG, Login, PAST_EXPIRY, Postgres, assert_one_retry, stdout_of};
use crate::support::iam::{provider, t0, unrelated_cas};
use crate::support::logs::LogCapture;

type Pg = Postgres;

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

/// A tokio-postgres client of the proxy: plaintext, no password.
async fn client(
    addr: SocketAddr,
    user: &str,
    database: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(addr.port())
        .user(user)
        .dbname(database)
        .connect_timeout(Duration::from_secs(10));
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The error a client of the proxy gets: its SQLSTATE and message.
async fn refusal(addr: SocketAddr, user: &str, database: &str) -> (String, String) {
    let Err(err) = client(addr, user, database).await else {
        panic!("the login was expected to fail");
    };
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {err:?}"));
    (db.code().code().to_owned(), db.message().to_owned())
}

/// `GET path` from the proxy's HTTP address: the status (code and reason) and the body.
async fn get(http: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(http).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head
        .lines()
        .next()
        .unwrap()
        .strip_prefix("HTTP/1.1 ")
        .unwrap();
    (status.to_owned(), body.to_owned())
}

async fn current_user(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0)
}

/// An emulator, a user with a `notes` table, a provider on the emulator's clock, a proxy.
async fn setup(user: &str) -> (Emulated<Pg>, TokenProvider, RunningProxy, String) {
    let e = Emulated::<Pg>::start().await;
    let database = Pg::create_user_with_notes(user).await;
    let tokens = provider(&e.clock).await;
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| b).await;
    (e, tokens, proxy, database)
}

#[tokio::test]
async fn tokio_postgres_and_psql_log_in_without_a_password() {
    let user = "proxy_pg_user";
    let (e, tokens, proxy, database) = setup(user).await;
    let addr = proxy.local_addr();
    assert!(addr.ip().is_loopback());

    let client = client(addr, user, &database).await.unwrap();
    assert_eq!(current_user(&client).await, user);
    let note: String = client
        .query_one("SELECT body FROM notes WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(note, "from the real backend");
    // The server's own parameters reach the client.
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!version.is_empty());

    // A transaction: one row rolled back, one committed.
    client
        .batch_execute("CREATE TEMPORARY TABLE t (n int)")
        .await
        .unwrap();
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (1); ROLLBACK")
        .await
        .unwrap();
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (2); COMMIT")
        .await
        .unwrap();
    let rows: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 1);

    // A large result (8 MB) relays intact.
    let rows = client
        .query(
            "SELECT n, repeat(md5(n::text), 32768) FROM generate_series(1, 8) AS n",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let n: i32 = row.get(0);
        let text: &str = row.get(1);
        assert_eq!(text.len(), 1 << 20);
        let md5: String = client
            .query_one("SELECT md5($1::int::text)", &[&n])
            .await
            .unwrap()
            .get(0);
        assert_eq!(&text[..32], md5);
    }

    // psql, with libpq's default sslmode (prefer: the proxy answers the SSLRequest with N),
    // and never a password prompt.
    let out = Command::new("psql")
        .args([
            "-X",
            "-w",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-U",
            user,
            "-d",
            &database,
        ])
        .args(["-c", "SELECT current_user || ' ' || count(*) FROM notes"])
        .env_remove("PGPASSWORD")
        .env_remove("PGSSLMODE")
        .output()
        .await
        .unwrap();
    assert_eq!(stdout_of(&out), format!("{user} 1"));

    // sslmode=require: the client is told the server (the proxy) has no TLS.
    let out = Command::new("psql")
        .args([
            "-X",
            "-w",
            "-At",
            &format!(
                "host=127.0.0.1 port={} user={user} dbname={database} sslmode=require",
                addr.port()
            ),
        ])
        .args(["-c", "SELECT 1"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SSL"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    drop(client);
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
    assert_eq!(metrics.connections_total, 3);
    assert_eq!(metrics.tokens_minted, 1);
    assert_eq!(metrics.token_cache_hits, 1);
    assert!(metrics.bytes_to_client > 8 << 20, "{metrics:?}");
    assert!(
        metrics
            .prometheus()
            .contains("rds_iam_proxy_logins_ok_total 2\n")
    );
    assert_eq!(proxy.shutdown(Duration::from_secs(5)).await.closed, 0);
}

#[tokio::test]
async fn a_client_after_the_token_lifetime_gets_a_fresh_token() {
    let user = "proxy_pg_expiry_user";
    let (e, tokens, proxy, database) = setup(user).await;
    let first = client(proxy.local_addr(), user, &database).await.unwrap();
    e.clock.advance(Duration::from_secs(16 * 60));
    // The open session goes on; a new client logs in with a new token.
    assert_eq!(current_user(&first).await, user);
    let second = client(proxy.local_addr(), user, &database).await.unwrap();
    assert_eq!(current_user(&second).await, user);
    assert_eq!(tokens.stats().minted, 2);
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
    assert_eq!(
        e.emulator.logins()[1].at,
        t0() + Duration::from_secs(16 * 60)
    );
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn a_cached_token_the_server_rejects_is_retried_exactly_once_and_never_logged() {
    let user = "proxy_pg_retry_user";
    let e = Emulated::<Pg>::start().await;
    let database = Pg::create_user_with_notes(user).await;
    // The provider's clock lags the emulator's.
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let capture = LogCapture::default();
    let _guard = capture.install();
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| b).await;
    drop(client(proxy.local_addr(), user, &database).await.unwrap());

    provider_clock.advance(LAG);
    e.clock.advance(PAST_EXPIRY);
    let second = client(proxy.local_addr(), user, &database).await.unwrap();
    assert_eq!(current_user(&second).await, user);
    assert_one_retry(&e, &tokens);
    assert_eq!(
        tokens.stats().hits,
        1,
        "only the refused login used the cache"
    );

    // A token the server keeps rejecting (a user the policy does not cover): the client gets
    // the diagnosis, after one retry only if the token was cached.
    let metrics = proxy.metrics();
    let logs = capture.text();
    assert!(
        logs.contains("minting a fresh one and retrying once"),
        "{logs}"
    );
    let target =
        rds_iam::plan::ConnectPlan::resolve(&e.url(user, &database), &Default::default()).unwrap();
    let token = tokens.token(&target.first().token).await.unwrap();
    let signature = token
        .expose()
        .rsplit_once("X-Amz-Signature=")
        .unwrap()
        .1
        .to_owned();
    let text = format!("{logs}{}", metrics.prometheus());
    assert!(!text.contains(&signature), "{logs}");
    assert!(!text.contains("X-Amz-Signature"), "{logs}");
}

#[tokio::test]
async fn a_rejected_login_reaches_the_client_as_an_error_with_the_diagnosis() {
    let user = "proxy_pg_bad_user";
    let e = Emulated::<Pg>::start().await;
    Pg::create_user(user, Login::Trust).await;
    let tokens = crate::support::iam::provider_with(
        &e.clock,
        crate::support::iam::wrong_secret_credentials(),
    )
    .await;
    let proxy = start(&e.url(user, Pg::DATABASE), tokens.clone(), |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, Pg::DATABASE).await;
    assert_eq!(code, "28000");
    assert!(message.starts_with("rds-iam proxy: "), "{message}");
    assert!(message.contains("likely causes"), "{message}");
    assert!(
        message.ends_with("PAM authentication failed for user \"proxy_pg_bad_user\""),
        "the server's own words close the diagnosis: {message}"
    );
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::BadSignature)]
    );
    assert_eq!(tokens.stats().minted, 1, "a fresh token is not retried");
    assert_eq!(proxy.metrics().failed(FailureCause::Rejected), 1);

    // A user the proxy does not log in as: refused before any token.
    let (code, message) = refusal(proxy.local_addr(), "postgres", Pg::DATABASE).await;
    assert_eq!(code, "28000");
    assert!(
        message.contains(&format!("it logs in only as \"{user}\"")),
        "{message}"
    );
    assert_eq!(e.outcomes().len(), 1);
    assert_eq!(tokens.stats().minted, 1);
}

#[tokio::test]
async fn tls_failures_name_the_cause_and_nothing_reaches_the_server() {
    let user = "proxy_pg_tls_user";
    let e = Emulated::<Pg>::start().await;
    Pg::create_user(user, Login::Trust).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, unrelated_cas(2)).unwrap();

    // A CA that did not issue the certificate.
    let wrong_ca = e.url_trusting(user, Pg::DATABASE, &wrong);
    let proxy = start(&wrong_ca, provider(&e.clock).await, |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, Pg::DATABASE).await;
    assert_eq!(code, "08006");
    assert!(
        message.contains("is not trusted") && message.contains("wrong-ca.pem"),
        "{message}"
    );
    assert!(message.contains("the token was not sent"), "{message}");

    // A certificate for another name.
    let other = "other.cluster-abc123.us-east-1.rds.amazonaws.com";
    let mismatch = e.url_for_host(user, Pg::DATABASE, other);
    let proxy = start(&mismatch, provider(&e.clock).await, |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, Pg::DATABASE).await;
    assert_eq!(code, "08006");
    assert!(message.contains(&format!("not for {other}")), "{message}");
    assert_eq!(proxy.metrics().failed(FailureCause::Tls), 1);
    assert!(
        e.emulator.logins().is_empty(),
        "nothing was sent before TLS was verified"
    );

    // A server without TLS.
    let plain = Pg::start_server_without_tls(user, "the-users-password").await;
    let port = plain.addr().port();
    let url = JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{port}/postgres?wrapperPlugins=iam&user={user}\
         &iamRegion=us-east-1&sslmode=require"
    ))
    .unwrap();
    let proxy = start(&url, provider(&e.clock).await, |b| b).await;
    let (code, message) = refusal(proxy.local_addr(), user, Pg::DATABASE).await;
    assert_eq!(code, "08006");
    assert!(
        message.contains("refused TLS") && message.contains("the token was not sent"),
        "{message}"
    );
    assert!(
        !plain.log().contains(&Pg::wrong_password_line(user)),
        "{}",
        plain.log()
    );
}

#[tokio::test]
async fn cancel_requests_reach_the_right_backend() {
    let user = "proxy_pg_cancel_user";
    let (_e, _tokens, proxy, database) = setup(user).await;
    let idle = client(proxy.local_addr(), user, &database).await.unwrap();
    let busy = client(proxy.local_addr(), user, &database).await.unwrap();
    let cancel = busy.cancel_token();
    let sleeping = tokio::spawn(async move { busy.batch_execute("SELECT pg_sleep(30)").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cancel.cancel_query(NoTls).await.unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), sleeping)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err:?}");
    // The other session is untouched.
    assert_eq!(current_user(&idle).await, user);
    assert_eq!(proxy.metrics().cancels_forwarded, 1);
}

#[tokio::test]
async fn limits_garbage_and_silent_clients_and_the_drain() {
    let user = "proxy_pg_limits_user";
    let e = Emulated::<Pg>::start().await;
    let database = Pg::create_user_with_notes(user).await;
    let tokens = provider(&e.clock).await;
    let proxy = start(&e.url(user, &database), tokens.clone(), |b| {
        b.max_connections(2)
            .handshake_timeout(Duration::from_millis(500))
            .http_address("127.0.0.1:0".parse().unwrap())
    })
    .await;
    let addr = proxy.local_addr();
    let http = proxy.http_addr().unwrap();
    // Health: the checks never dial the database.
    for path in ["/startup", "/liveness", "/readiness"] {
        assert_eq!(
            get(http, path).await,
            ("200 OK".into(), "ok\n".into()),
            "{path}"
        );
    }
    assert!(e.emulator.logins().is_empty());
    assert_eq!(tokens.stats().minted, 0);
    assert_eq!(get(http, "/nope").await.0, "404 Not Found");
    let first = client(addr, user, &database).await.unwrap();

    // Garbage: dropped with a protocol error, the session goes on.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    garbage.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply.first(), Some(&b'E'));
    // Silence: dropped after the handshake timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut [0u8; 16]))
        .await
        .unwrap();
    assert_eq!(n.unwrap(), 0);
    assert_eq!(current_user(&first).await, user);

    // The limit: a second session fits, a third is refused with PostgreSQL's own error.
    let second = client(addr, user, &database).await.unwrap();
    assert_eq!(get(http, "/readiness").await.0, "503 Service Unavailable");
    let (status, metrics) = get(http, "/metrics").await;
    assert_eq!(status, "200 OK");
    assert!(
        metrics.contains("\nrds_iam_proxy_connections_open 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nrds_iam_proxy_logins_ok_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nrds_iam_proxy_tokens_minted_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rds_iam_proxy_logins_failed_total{cause=\"client\"} 2\n"),
        "{metrics}"
    );
    assert!(!metrics.contains(user), "no user names in the metrics");
    let (code, message) = refusal(addr, user, &database).await;
    assert_eq!(code, "53300");
    assert!(message.contains("limit of 2 connections"), "{message}");
    drop(second);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = client(addr, user, &database).await.unwrap();
    assert_eq!(current_user(&third).await, user);
    drop(third);
    let metrics = proxy.metrics();
    assert_eq!(metrics.failed(FailureCause::TooManyConnections), 1);
    assert_eq!(metrics.failed(FailureCause::Client), 2);

    // Shutdown: no new clients; the open session is closed when the grace period ends.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let done = proxy.shutdown(Duration::from_millis(200)).await;
    assert_eq!(done.closed, 1);
    assert!(first.batch_execute("SELECT 1").await.is_err());
    assert!(TcpStream::connect(addr).await.is_err());
}

#[cfg(unix)]
#[tokio::test]
async fn a_unix_socket_for_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let user = "proxy_pg_unix_user";
    let e = Emulated::<Pg>::start().await;
    let database = Pg::create_user_with_notes(user).await;
    let dir = tempfile::tempdir().unwrap();
    let proxy = start(&e.url(user, &database), provider(&e.clock).await, |b| {
        b.unix_socket(dir.path())
    })
    .await;
    let socket = dir.path().join(".s.PGSQL.5432");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let (client, connection) = tokio_postgres::Config::new()
        .host_path(dir.path())
        .port(5432)
        .user(user)
        .dbname(&database)
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    drop(client);
    proxy.shutdown(Duration::from_secs(5)).await;
    assert!(!socket.exists());
}

#[tokio::test]
async fn a_non_loopback_address_needs_to_be_allowed() {
    let clock = ManualClock::new(t0());
    let url = JdbcUrl::parse(
        "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/app?user=u",
    )
    .unwrap();
    let err = ProxyBuilder::from_url(&url)
        .unwrap()
        .token_provider(provider(&clock).await)
        .listen("0.0.0.0:0".parse().unwrap())
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, ProxyError::NonLoopback { .. }), "{err:?}");
    assert!(err.to_string().contains("not a loopback address"), "{err}");
}

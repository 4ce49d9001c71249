//! The MySQL connector against real servers.
//!
//! Directly against a real MariaDB with TLS (certificate from a test CA, for `localhost` and
//! `127.0.0.1`): the user's `mysql_native_password` is the very token the connector will
//! present (tokens are deterministic for a fixed clock and credentials), so a successful login
//! proves the whole path; TLS failures are told apart, and a server without TLS is refused
//! before any password is checked (its `Access_denied_errors` does not move).
//!
//! Through the emulator (MySQL front end, `mysql_clear_password` over TLS as RDS asks) in
//! front of the same server: queries, transactions, the `iamHost` tunnel, expiry between
//! connections, exactly one retry when a cached token is rejected, and no password ever in
//! plaintext.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::emulator::{
    Emulator, EmulatorConfig, Engine, LoginOutcome, Rejection, RunningEmulator,
};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::provider::TokenProvider;
use rds_iam::tls::CaSource;
use rds_iam::tls_mode::TlsMode;

use crate::support::iam::{
    ENDPOINT_HOST, REGION, bundle_with, credentials, provider, t0, token_at_t0, unrelated_cas,
};
use crate::support::mariadb::{self, MariaDbOptions, MariaDbServer, UserAuth};

const ENDPOINT_PORT: u16 = 3306;

fn my_url(host: &str, port: u16, user: &str, query: &str) -> JdbcUrl {
    JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:mysql://{host}:{port}/?wrapperPlugins=iam&user={user}\
         &iamRegion={REGION}{query}"
    ))
    .unwrap()
}

async fn connect_err(connector: &MySqlConnector) -> ConnectError {
    match connector.connect().await {
        Ok(_) => panic!("the connection was expected to fail"),
        Err(e) => e,
    }
}

async fn current_user(conn: &mut Conn) -> String {
    conn.query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap()
}

async fn ssl_cipher(conn: &mut Conn) -> String {
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    row.unwrap().1
}

async fn access_denied_errors(db: &MariaDbServer) -> u64 {
    let mut conn = db.admin().await;
    let row: Option<(String, u64)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'")
        .await
        .unwrap();
    row.unwrap().1
}

// ---- directly against MariaDB -----------------------------------------------------------

#[tokio::test]
async fn a_ca_from_a_bundle_of_121_certificates_verifies_the_server() {
    let db = mariadb::shared();
    let user = "conn_my_bundle";
    let token = token_at_t0("localhost", db.port(), user);
    db.create_user(user, UserAuth::NativePassword(&token)).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_with(dir.path(), mariadb::shared_ca());

    let clock = ManualClock::new(t0());
    let url = my_url(
        "localhost",
        db.port(),
        user,
        &format!("&sslMode=VERIFY_IDENTITY&sslCa={}", bundle.display()),
    );
    let connector = MySqlConnector::from_url(&url)
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    assert_eq!(connector.tls_mode(), TlsMode::VerifyFull);
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    assert!(!ssl_cipher(&mut conn).await.is_empty());
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_wrong_ca_is_an_untrusted_certificate_error_naming_the_file() {
    let db = mariadb::shared();
    let user = "conn_my_wrong_ca";
    db.create_user(user, UserAuth::NativePassword("not-the-token"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    fs::write(&wrong, unrelated_cas(2)).unwrap();
    let clock = ManualClock::new(t0());
    let url = my_url(
        "localhost",
        db.port(),
        user,
        &format!("&sslMode=VERIFY_CA&serverSslCert={}", wrong.display()),
    );
    let connector = MySqlConnector::from_url(&url)
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    let ConnectError::UntrustedCertificate { ref trusted, .. } = err else {
        panic!("expected an untrusted certificate, got {err:?}");
    };
    assert_eq!(
        trusted,
        &format!(
            "the CA file {} named by serverSslCert in the URL (2 certificates)",
            wrong.display()
        )
    );
    assert!(err.to_string().contains("the token was not sent"), "{err}");
}

#[tokio::test]
async fn a_host_name_mismatch_names_both_names() {
    let db = mariadb::shared();
    let user = "conn_my_mismatch";
    let token = token_at_t0(ENDPOINT_HOST, db.port(), user);
    db.create_user(user, UserAuth::NativePassword(&token)).await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let ca = CaSource::pem(mariadb::shared_ca().ca_pem());

    let connector = MySqlConnector::builder("127.0.0.1", db.port())
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .ca(ca.clone())
        .system_roots(false)
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    let ConnectError::HostNameMismatch {
        ref expected,
        ref presented,
        ..
    } = err
    else {
        panic!("expected a host name mismatch, got {err:?}");
    };
    assert_eq!(expected, ENDPOINT_HOST);
    // Read from the certificate by a second handshake speaking MySQL's TLS upgrade.
    assert_eq!(presented, &["localhost".to_owned()]);
    assert!(
        err.to_string().starts_with(&format!(
            "the certificate of 127.0.0.1:{} (as {ENDPOINT_HOST}) is for localhost, not for \
             {ENDPOINT_HOST}",
            db.port()
        )),
        "{err}"
    );

    // VERIFY_CA checks the chain only: the same connection logs in.
    let connector = MySqlConnector::builder("127.0.0.1", db.port())
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .ca(ca)
        .system_roots(false)
        .tls_mode(TlsMode::VerifyCa)
        .token_provider(tokens)
        .build()
        .await
        .unwrap();
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn required_encrypts_without_checking_the_certificate() {
    let db = mariadb::shared();
    let user = "conn_my_required";
    let token = token_at_t0("localhost", db.port(), user);
    db.create_user(user, UserAuth::NativePassword(&token)).await;
    let clock = ManualClock::new(t0());
    let connector =
        MySqlConnector::from_url(&my_url("localhost", db.port(), user, "&sslMode=REQUIRED"))
            .unwrap()
            .system_roots(false)
            .token_provider(provider(&clock).await)
            .build()
            .await
            .unwrap();
    assert_eq!(connector.tls_mode(), TlsMode::Require);
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    assert!(!ssl_cipher(&mut conn).await.is_empty());
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn a_server_without_tls_is_refused_before_any_password() {
    let db = MariaDbServer::start(&MariaDbOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let user = "conn_my_plain";
    db.create_user(user, UserAuth::Password("secret-of-the-user"))
        .await;
    let denied_before = access_denied_errors(&db).await;

    let clock = ManualClock::new(t0());
    let connector = MySqlConnector::from_url(&my_url("127.0.0.1", db.port(), user, ""))
        .unwrap()
        .tls_mode(TlsMode::Require)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    assert!(matches!(err, ConnectError::TlsRefused { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "127.0.0.1:{} refused TLS (it does not support SSL connections)",
            db.port()
        )),
        "{err}"
    );
    assert_eq!(access_denied_errors(&db).await, denied_before);

    // Control: a client that sends a wrong password over plaintext is counted.
    let plain = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(db.port())
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some("wrong"));
    assert!(Conn::new(Opts::from(plain)).await.is_err());
    assert_eq!(access_denied_errors(&db).await, denied_before + 1);
}

#[tokio::test]
async fn a_rejected_token_lists_the_likely_causes_and_is_retried_once_when_cached() {
    let db = mariadb::shared();
    let user = "conn_my_rejected";
    db.create_user(user, UserAuth::NativePassword("not-the-token"))
        .await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let connector = MySqlConnector::from_url(&my_url("localhost", db.port(), user, ""))
        .unwrap()
        .ca(CaSource::pem(mariadb::shared_ca().ca_pem()))
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();

    let err = connect_err(&connector).await;
    assert!(
        matches!(err, ConnectError::LoginRejected { retried: false, .. }),
        "{err:?}"
    );
    assert_eq!(tokens.stats().minted, 1);

    let err = connect_err(&connector).await;
    assert!(
        matches!(err, ConnectError::LoginRejected { retried: true, .. }),
        "{err:?}"
    );
    assert_eq!(tokens.stats().minted, 2);
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "likely causes: (1) the database user is not set up for IAM (as the master user: \
             CREATE USER '{user}' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';)"
        )),
        "{text}"
    );
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("1045"), "{source}");
}

#[tokio::test]
async fn connect_timeout_limits_a_server_that_never_answers() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let clock = ManualClock::new(t0());
    // Milliseconds for MySQL, as Connector/J reads it.
    let connector =
        MySqlConnector::from_url(&my_url("127.0.0.1", port, "u", "&connectTimeout=500"))
            .unwrap()
            .token_provider(provider(&clock).await)
            .build()
            .await
            .unwrap();
    let err = connect_err(&connector).await;
    assert!(
        matches!(err, ConnectError::Timeout { after, .. } if after == Duration::from_millis(500)),
        "{err:?}"
    );
    silent.abort();
}

// ---- through the emulator ---------------------------------------------------------------

struct Emulated {
    emulator: RunningEmulator,
    clock: ManualClock,
}

async fn emulator() -> Emulated {
    let clock = ManualClock::new(t0());
    let config = EmulatorConfig::builder(Engine::Mysql)
        .backend(mariadb::shared().addr())
        .endpoint(ENDPOINT_HOST, ENDPOINT_PORT)
        .region(REGION)
        .credentials(credentials())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    Emulated {
        emulator: Emulator::start(config).await.unwrap(),
        clock,
    }
}

impl Emulated {
    /// The tunnel case: dial 127.0.0.1, verify and sign the RDS name.
    fn url(&self, user: &str, database: &str) -> JdbcUrl {
        JdbcUrl::parse(&format!(
            "jdbc:aws-wrapper:mysql://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
             &iamHost={ENDPOINT_HOST}&iamDefaultPort={ENDPOINT_PORT}&sslMode=VERIFY_IDENTITY\
             &sslCa={}&connectTimeout=20000",
            self.emulator.local_addr().port(),
            self.emulator.ca_path().unwrap().display()
        ))
        .unwrap()
    }

    async fn connector(&self, user: &str, database: &str, tokens: TokenProvider) -> MySqlConnector {
        MySqlConnector::from_url(&self.url(user, database))
            .unwrap()
            .system_roots(false)
            .token_provider(tokens)
            .build()
            .await
            .unwrap()
    }

    fn outcomes(&self) -> Vec<LoginOutcome> {
        self.emulator
            .logins()
            .into_iter()
            .map(|l| l.outcome)
            .collect()
    }
}

/// A backend user (no password: the emulator logs in as it) with a database of its own.
async fn backend_user(user: &str, database: &str) {
    let db = mariadb::shared();
    db.create_user(user, UserAuth::NoPassword).await;
    db.create_database(database).await;
    db.grant("ALL PRIVILEGES", &format!("`{database}`.*"), user)
        .await;
}

#[tokio::test]
async fn through_the_emulator_connect_query_and_transactions() {
    let e = emulator().await;
    let (user, database) = ("conn_my_emu", "conn_my_emu_db");
    backend_user(user, database).await;
    let connector = e.connector(user, database, provider(&e.clock).await).await;
    let target = &connector.targets()[0];
    assert_eq!(
        (target.tls_name(), target.dial.host.as_str()),
        (ENDPOINT_HOST, "127.0.0.1")
    );

    let mut conn = connector.connect().await.unwrap();
    let (current, port, db): (String, u16, String) = conn
        .query_first("SELECT CURRENT_USER(), @@port, DATABASE()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, format!("{user}@%"));
    assert_eq!(port, mariadb::shared().port());
    assert_eq!(db, database);

    conn.query_drop("CREATE OR REPLACE TABLE t (n INT) ENGINE=InnoDB")
        .await
        .unwrap();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .unwrap();
    tx.query_drop("INSERT INTO t VALUES (1)").await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .unwrap();
    tx.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
    tx.commit().await.unwrap();
    let rows: Vec<i32> = conn.query("SELECT n FROM t").await.unwrap();
    assert_eq!(rows, [2]);
    conn.disconnect().await.unwrap();

    let logins = e.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn opts_hand_out_options_with_the_token() {
    let e = emulator().await;
    let (user, database) = ("conn_my_emu_opts", "conn_my_emu_opts_db");
    backend_user(user, database).await;
    let connector = e.connector(user, database, provider(&e.clock).await).await;
    let (opts, valid_until) = connector.opts().await.unwrap();
    assert!(opts.enable_cleartext_plugin() && opts.ssl_opts().is_some());
    assert!(!opts.prefer_socket());
    assert_eq!(
        valid_until,
        rds_iam::clock::Clock::now(&e.clock) + Duration::from_secs(900)
    );
    let pool = mysql_async::Pool::new(opts.clone());
    let mut conn = pool.get_conn().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    drop(conn);
    pool.disconnect().await.unwrap();
    // The token in the options is frozen: past its end, the same options are refused.
    e.clock.set(valid_until + Duration::from_secs(1));
    // (`Conn`'s `Debug` shows the password: no `unwrap_err` here.)
    let Err(err) = mysql_async::Conn::new(opts).await else {
        panic!("a frozen token past its end logged in")
    };
    assert!(
        matches!(&err, mysql_async::Error::Server(s) if s.code == 1045),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_expiring_between_two_connections_is_replaced() {
    let e = emulator().await;
    let (user, database) = ("conn_my_emu_expiry", "conn_my_emu_expiry_db");
    backend_user(user, database).await;
    let tokens = provider(&e.clock).await;
    let connector = e.connector(user, database, tokens.clone()).await;
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();

    e.clock.advance(Duration::from_secs(16 * 60));
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();
    assert_eq!(tokens.stats().minted, 2);
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
}

#[tokio::test]
async fn a_cached_token_the_server_rejects_is_retried_exactly_once() {
    let e = emulator().await;
    let (user, database) = ("conn_my_emu_retry", "conn_my_emu_retry_db");
    backend_user(user, database).await;
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let connector = e.connector(user, database, tokens.clone()).await;
    connector
        .connect()
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();

    provider_clock.advance(Duration::from_secs(5 * 60));
    e.clock.advance(Duration::from_secs(16 * 60));
    let mut conn = connector.connect().await.unwrap();
    assert_eq!(current_user(&mut conn).await, format!("{user}@%"));
    conn.disconnect().await.unwrap();

    let stats = tokens.stats();
    assert_eq!(stats.minted, 2, "exactly one fresh token: {stats:?}");
    assert_eq!(stats.hits, 1);
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

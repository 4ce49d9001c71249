//! The PostgreSQL connector against real servers.
//!
//! Directly against a real PostgreSQL with TLS (certificate from a test CA, for `localhost`
//! and `127.0.0.1`) and `password` authentication (the server asks for a cleartext password,
//! as RDS does): the role's password is the very token the connector will present (tokens
//! are deterministic for a fixed clock and credentials), so a successful login proves the
//! whole path. TLS failures are checked to happen before any password reaches the server
//! (its log shows no authentication attempt).
//!
//! Through the emulator (which validates tokens as RDS does) in front of the same server:
//! queries, transactions, the `iamHost` tunnel, expiry between connections, and exactly one
//! retry when a cached token is rejected.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::emulator::{
    Emulator, EmulatorConfig, Engine, LoginOutcome, Rejection, RunningEmulator,
};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::postgres::PgConnector;
use rds_iam::provider::TokenProvider;
use rds_iam::tls::CaSource;
use rds_iam::tls_mode::TlsMode;

use crate::support::iam::{
    ENDPOINT_HOST, REGION, bundle_with, credentials, provider, t0, token_at_t0, unrelated_cas,
};
use crate::support::logs::LogCapture;
use crate::support::postgres::{self, HbaMethod, PgOptions, PgServer, RoleAuth};

const ENDPOINT_PORT: u16 = 5432;

/// The log line PostgreSQL writes when a password it received is wrong.
fn auth_failure_line(user: &str) -> String {
    format!("password authentication failed for user \"{user}\"")
}

fn pg_url(host: &str, port: u16, user: &str, query: &str) -> JdbcUrl {
    JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:postgresql://{host}:{port}/postgres?wrapperPlugins=iam&user={user}\
         &iamRegion={REGION}{query}"
    ))
    .unwrap()
}

/// The causes under `err`, one per line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut next = err.source();
    while let Some(e) = next {
        out.push_str(&e.to_string());
        out.push('\n');
        next = e.source();
    }
    out
}

/// The error of a connection expected to fail.
async fn connect_err(connector: &PgConnector) -> ConnectError {
    match connector.connect().await {
        Ok(_) => panic!("the connection was expected to fail"),
        Err(e) => e,
    }
}

async fn current_user(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0)
}

// ---- directly against PostgreSQL --------------------------------------------------------

#[tokio::test]
async fn a_ca_from_a_bundle_of_121_certificates_verifies_the_server() {
    let pg = postgres::shared();
    let user = "conn_bundle_user";
    let token = token_at_t0("localhost", pg.port(), user);
    pg.create_role(user, RoleAuth::Password(&token)).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_with(dir.path(), postgres::shared_ca());

    let clock = ManualClock::new(t0());
    let url = pg_url(
        "localhost",
        pg.port(),
        user,
        &format!("&sslmode=verify-full&sslrootcert={}", bundle.display()),
    );
    let connector = PgConnector::from_url(&url)
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    assert_eq!(connector.tls_mode(), TlsMode::VerifyFull);
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[tokio::test]
async fn a_wrong_ca_is_an_untrusted_certificate_error_naming_the_file() {
    let pg = postgres::shared();
    let user = "conn_wrong_ca_user";
    pg.create_role(user, RoleAuth::Password("not-the-token"))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    fs::write(&wrong, unrelated_cas(3)).unwrap();

    let clock = ManualClock::new(t0());
    let url = pg_url(
        "localhost",
        pg.port(),
        user,
        &format!("&sslmode=verify-ca&sslrootcert={}", wrong.display()),
    );
    let connector = PgConnector::from_url(&url)
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
            "the CA file {} named by sslrootcert in the URL (3 certificates)",
            wrong.display()
        )
    );
    let text = err.to_string();
    assert!(text.contains(&wrong.display().to_string()), "{text}");
    assert!(text.contains("is not trusted"), "{text}");
    assert!(text.contains("the token was not sent"), "{text}");
    assert!(std::error::Error::source(&err).is_some());
    assert!(!pg.log().contains(&auth_failure_line(user)));
}

#[tokio::test]
async fn a_host_name_mismatch_names_both_names() {
    let pg = postgres::shared();
    let user = "conn_mismatch_user";
    // Signed for the RDS name (iamHost) and the dialled port.
    let token = token_at_t0(ENDPOINT_HOST, pg.port(), user);
    pg.create_role(user, RoleAuth::Password(&token)).await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let ca = CaSource::pem(postgres::shared_ca().ca_pem());

    let connector = PgConnector::builder("127.0.0.1", pg.port())
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .database("postgres")
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
    assert_eq!(presented, &["localhost".to_owned()]);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the certificate of 127.0.0.1:{} (as {ENDPOINT_HOST}) is for localhost, not for \
             {ENDPOINT_HOST}",
            pg.port()
        )),
        "{text}"
    );
    assert!(!pg.log().contains(&auth_failure_line(user)));

    // verify-ca checks the chain only: the same connection logs in.
    let connector = PgConnector::builder("127.0.0.1", pg.port())
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .database("postgres")
        .ca(ca)
        .system_roots(false)
        .tls_mode(TlsMode::VerifyCa)
        .token_provider(tokens)
        .build()
        .await
        .unwrap();
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
}

#[tokio::test]
async fn require_encrypts_without_checking_the_certificate() {
    let pg = postgres::shared();
    let user = "conn_require_user";
    let token = token_at_t0("localhost", pg.port(), user);
    pg.create_role(user, RoleAuth::Password(&token)).await;
    let clock = ManualClock::new(t0());
    // No CA at all: require does not verify.
    let url = pg_url("localhost", pg.port(), user, "&ssl=true&sslmode=require");
    let connector = PgConnector::from_url(&url)
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    assert_eq!(connector.tls_mode(), TlsMode::Require);
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
}

#[tokio::test]
async fn a_server_without_tls_is_refused_before_any_password() {
    let pg = PgServer::start(&PgOptions {
        method: HbaMethod::Password,
        hba_by_group: false,
        ..PgOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let user = "conn_plain_user";
    pg.create_role(user, RoleAuth::Default).await;
    pg.admin()
        .await
        .batch_execute(&format!("ALTER ROLE {user} PASSWORD 'secret-of-the-role'"))
        .await
        .unwrap();

    let clock = ManualClock::new(t0());
    let connector = PgConnector::from_url(&pg_url("127.0.0.1", pg.port(), user, ""))
        .unwrap()
        .tls_mode(TlsMode::Require)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    assert!(matches!(err, ConnectError::TlsRefused { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "127.0.0.1:{} refused TLS (it does not support SSL connections)",
            pg.port()
        )),
        "{text}"
    );
    assert!(text.contains("the token was not sent"));
    assert!(!pg.log().contains(&auth_failure_line(user)), "{}", pg.log());

    // Control: a client that does send a (wrong) password over plaintext leaves the line.
    let mut plain = tokio_postgres::Config::new();
    plain
        .host("127.0.0.1")
        .port(pg.port())
        .user(user)
        .password("wrong")
        .dbname("postgres");
    assert!(plain.connect(tokio_postgres::NoTls).await.is_err());
    assert!(pg.log().contains(&auth_failure_line(user)));
}

#[tokio::test]
async fn a_rejected_token_lists_the_likely_causes_and_is_retried_once_when_cached() {
    let pg = postgres::shared();
    let user = "conn_rejected_user";
    pg.create_role(user, RoleAuth::Password("not-the-token"))
        .await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let connector = PgConnector::from_url(&pg_url(
        "localhost",
        pg.port(),
        user,
        "&sslmode=verify-full",
    ))
    .unwrap()
    .ca(CaSource::pem(postgres::shared_ca().ca_pem()))
    .token_provider(tokens.clone())
    .build()
    .await
    .unwrap();

    // A freshly minted token is rejected: no retry.
    let err = connect_err(&connector).await;
    let ConnectError::LoginRejected { retried, .. } = err else {
        panic!("expected a rejected login, got {err:?}");
    };
    assert!(!retried);
    assert_eq!(tokens.stats().minted, 1);
    assert!(pg.log().contains(&auth_failure_line(user)));

    // Now the token comes from the cache: invalidated, minted again, tried once more.
    let err = connect_err(&connector).await;
    let ConnectError::LoginRejected { retried, .. } = err else {
        panic!("expected a rejected login, got {err:?}");
    };
    assert!(retried);
    assert_eq!(tokens.stats().minted, 2);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "localhost:{} rejected the IAM login of user `{user}`, also with a freshly minted \
             token (token signed for localhost:{} in us-east-1); likely causes: (1) the \
             database user is not granted rds_iam",
            pg.port(),
            pg.port()
        )),
        "{text}"
    );
    for cause in ["resource id", "case and spelling", "clock", "iamRegion"] {
        assert!(text.contains(cause), "{cause}: {text}");
    }
    let chain = chain(&err);
    assert!(chain.contains(&auth_failure_line(user)), "{chain}");
}

#[tokio::test]
async fn an_unreachable_first_host_moves_on_to_the_next() {
    let pg = postgres::shared();
    let user = "conn_multi_user";
    let token = token_at_t0("localhost", pg.port(), user);
    pg.create_role(user, RoleAuth::Password(&token)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // nobody listens once the listener is dropped
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let url = JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{closed},localhost:{}/postgres\
         ?wrapperPlugins=iam&user={user}&iamRegion={REGION}",
        pg.port()
    ))
    .unwrap();
    let connector = PgConnector::from_url(&url)
        .unwrap()
        .ca(CaSource::pem(postgres::shared_ca().ca_pem()))
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(connector.targets().len(), 2);
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    // Each host signed its own token.
    assert_eq!(tokens.stats().minted, 2);

    // Both closed: the error names both hosts; the last one's error is the source.
    let connector = PgConnector::builder("127.0.0.1", closed)
        .add_host("127.0.0.1", closed)
        .user(user)
        .region(REGION)
        .token_provider(tokens)
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    assert!(
        err.to_string().starts_with(&format!(
            "none of the 2 hosts accepted the connection (127.0.0.1:{closed}, 127.0.0.1:{closed})"
        )),
        "{err}"
    );
    let last = std::error::Error::source(&err).unwrap();
    assert!(
        last.to_string()
            .starts_with(&format!("could not reach 127.0.0.1:{closed}"))
    );
}

#[tokio::test]
async fn connect_timeout_limits_a_server_that_never_answers() {
    // A loopback listener that accepts and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let clock = ManualClock::new(t0());
    let connector = PgConnector::from_url(&pg_url("127.0.0.1", port, "u", "&connectTimeout=1"))
        .unwrap()
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    assert!(
        matches!(err, ConnectError::Timeout { after, .. } if after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "127.0.0.1:{port} did not complete the login within 1s"
        )),
        "{err}"
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
    let config = EmulatorConfig::builder(Engine::Postgres)
        .backend(postgres::shared().addr())
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
    /// The tunnel case: dial the emulator on 127.0.0.1, verify and sign the RDS name.
    fn url(&self, user: &str) -> JdbcUrl {
        JdbcUrl::parse(&format!(
            "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user={user}\
             &iamHost={ENDPOINT_HOST}&iamDefaultPort={ENDPOINT_PORT}&sslmode=verify-full\
             &sslrootcert={}&ApplicationName=rds-iam-connector-test",
            self.emulator.local_addr().port(),
            self.emulator.ca_path().unwrap().display()
        ))
        .unwrap()
    }

    async fn connector(&self, user: &str, tokens: TokenProvider) -> PgConnector {
        PgConnector::from_url(&self.url(user))
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

#[tokio::test]
async fn an_iam_host_with_a_trailing_root_dot_signs_and_verifies_the_name_without_it() {
    let e = emulator().await;
    let user = "conn_emu_root_dot_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let url = e.url(user).to_url_exposing_secrets().replace(
        &format!("iamHost={ENDPOINT_HOST}&"),
        &format!("iamHost={ENDPOINT_HOST}.&"),
    );
    let connector = PgConnector::from_url(&JdbcUrl::parse(&url).unwrap())
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&e.clock).await)
        .build()
        .await
        .unwrap();
    assert_eq!(connector.targets()[0].tls_name(), ENDPOINT_HOST);
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    assert_eq!(e.outcomes(), [LoginOutcome::Accepted]);
}

#[tokio::test]
async fn through_the_emulator_connect_query_and_transactions() {
    let e = emulator().await;
    let user = "conn_emu_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let connector = e.connector(user, provider(&e.clock).await).await;
    let target = &connector.targets()[0];
    assert_eq!(target.tls_name(), ENDPOINT_HOST);
    assert_eq!(target.dial.host, "127.0.0.1");
    assert_eq!(
        (target.token.host.as_str(), target.token.port),
        (ENDPOINT_HOST, ENDPOINT_PORT)
    );

    let (mut client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT current_user::text, inet_server_port(), current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), user);
    assert_eq!(row.get::<_, i32>(1), i32::from(postgres::shared().port()));
    assert_eq!(row.get::<_, String>(2), "rds-iam-connector-test");

    client
        .batch_execute("CREATE TEMP TABLE t (n int)")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
    tx.rollback().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    tx.commit().await.unwrap();
    let rows: Vec<i32> = client
        .query("SELECT n FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, [2]);

    let logins = e.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn config_hands_out_a_tokio_postgres_config_with_the_token() {
    let e = emulator().await;
    let user = "conn_emu_config_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let connector = e.connector(user, provider(&e.clock).await).await;
    let (config, tls, valid_until) = connector.config().await.unwrap();
    assert_eq!(config.get_user(), Some(user));
    assert_eq!(
        config.get_ssl_mode(),
        tokio_postgres::config::SslMode::Require
    );
    assert!(!format!("{config:?}").contains("X-Amz-Signature"));
    assert_eq!(
        valid_until,
        rds_iam::clock::Clock::now(&e.clock) + Duration::from_secs(900)
    );
    let (client, connection) = config.connect(tls.clone()).await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    // The token in the config is frozen: past its end, the same config is refused.
    e.clock.set(valid_until + Duration::from_secs(1));
    let Err(err) = config.connect(tls).await else {
        panic!("a frozen token past its end logged in")
    };
    assert_eq!(
        err.as_db_error().map(|db| db.code().clone()),
        Some(tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_expiring_between_two_connections_is_replaced() {
    let e = emulator().await;
    let user = "conn_emu_expiry_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    // One clock for the emulator and the provider.
    let tokens = provider(&e.clock).await;
    let connector = e.connector(user, tokens.clone()).await;
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);

    e.clock.advance(Duration::from_secs(16 * 60));
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);
    assert_eq!(tokens.stats().minted, 2);
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
}

#[tokio::test]
async fn a_cached_token_the_server_rejects_is_retried_exactly_once() {
    let e = emulator().await;
    let user = "conn_emu_retry_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    // The provider's clock lags the emulator's.
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let connector = e.connector(user, tokens.clone()).await;
    let capture = LogCapture::default();
    let _guard = capture.install();
    let (_client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(tokens.stats().minted, 1);

    // 5 minutes on for the provider (its token is still cached, and not yet due for a refresh
    // ahead), 16 for the emulator (that token has expired there; one signed now is valid).
    provider_clock.advance(Duration::from_secs(5 * 60));
    e.clock.advance(Duration::from_secs(16 * 60));
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    assert_eq!(current_user(&client).await, user);

    let stats = tokens.stats();
    assert_eq!(stats.minted, 2, "exactly one fresh token: {stats:?}");
    assert_eq!(stats.hits, 1);
    assert_eq!(stats.invalidations, 1);
    assert_eq!(
        e.outcomes(),
        [
            LoginOutcome::Accepted,
            LoginOutcome::Rejected(Rejection::Expired),
            LoginOutcome::Accepted
        ]
    );

    // The retry is logged; no token, nor its signature, is.
    let logs = capture.text();
    assert!(
        logs.contains(
            "the server rejected a cached IAM token: minting a fresh one and retrying once"
        ),
        "{logs}"
    );
    let token = tokens.token(&connector.targets()[0].token).await.unwrap();
    let token = token.expose();
    let signature = token.rsplit_once("X-Amz-Signature=").unwrap().1;
    assert!(!logs.contains(signature), "{logs}");
    assert!(!logs.contains(token));
}

#[tokio::test]
async fn a_token_for_the_wrong_region_is_rejected_with_the_causes() {
    let e = emulator().await;
    let user = "conn_emu_region_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let tokens = provider(&e.clock).await;
    let connector = PgConnector::from_url(&e.url(user))
        .unwrap()
        .region("eu-west-1")
        .system_roots(false)
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    let err = connect_err(&connector).await;
    assert!(err.is_login_rejected(), "{err:?}");
    assert!(err.to_string().contains("in eu-west-1"), "{err}");
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::WrongRegion)]
    );
    assert_eq!(tokens.stats().minted, 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

//! The emulator in front of a real PostgreSQL, with real clients: tokio-postgres
//! (TLS verified against the emulator's CA under the RDS endpoint name) and `psql`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;
use bytes::BytesMut;
use postgres_native_tls::MakeTlsConnector;
use postgres_protocol::message::frontend;
use rds_iam::clock::ManualClock;
use rds_iam::emulator::{
    BackendFailure, Emulator, EmulatorConfig, EmulatorConfigBuilder, Engine, LoginOutcome,
    Rejection, RunningEmulator,
};
use rds_iam::secret::Password;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;

use crate::support::iam::{
    ACCESS_KEY_ID, Claim, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY, credentials, t0,
};
use crate::support::logs::LogCapture;
use crate::support::postgres::{self, PgServer, RoleAuth};

/// The RDS endpoint the emulator pretends to be (dialled as 127.0.0.1): [`ENDPOINT_HOST`] and
/// this port.
const ENDPOINT_PORT: u16 = 5432;

/// A valid claim for `user` at the emulated endpoint.
fn claim(user: &str) -> Claim {
    Claim::for_endpoint(ENDPOINT_PORT, user)
}

/// A token for `claim`, from the crate's own signer.
fn token(claim: &Claim) -> String {
    claim.token()
}

/// An emulator in front of the shared PostgreSQL, on a manual clock at [`T0`].
struct Harness {
    pg: &'static PgServer,
    emulator: RunningEmulator,
    clock: ManualClock,
}

fn builder(pg: &PgServer, clock: &ManualClock) -> EmulatorConfigBuilder {
    EmulatorConfig::builder(Engine::Postgres)
        .backend(pg.addr())
        .endpoint(ENDPOINT_HOST, ENDPOINT_PORT)
        .region(REGION)
        .credentials(credentials())
        .clock(Arc::new(clock.clone()))
}

async fn harness_with(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> Harness {
    let pg = postgres::shared();
    let clock = ManualClock::new(t0());
    let config = configure(builder(pg, &clock)).build().unwrap();
    let emulator = Emulator::start(config).await.unwrap();
    Harness {
        pg,
        emulator,
        clock,
    }
}

async fn harness() -> Harness {
    harness_with(|b| b).await
}

impl Harness {
    fn tls(&self) -> MakeTlsConnector {
        let ca =
            native_tls::Certificate::from_pem(self.emulator.ca_pem().unwrap().as_bytes()).unwrap();
        MakeTlsConnector::new(
            native_tls::TlsConnector::builder()
                .add_root_certificate(ca)
                .disable_built_in_roots(true)
                .build()
                .unwrap(),
        )
    }

    /// Dial the emulator on 127.0.0.1, verify TLS for the endpoint name.
    fn config(&self, user: &str, password: &str, ssl_mode: SslMode) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(ENDPOINT_HOST)
            .hostaddr(IpAddr::V4(Ipv4Addr::LOCALHOST))
            .port(self.emulator.local_addr().port())
            .user(user)
            .password(password)
            .dbname("postgres")
            .ssl_mode(ssl_mode);
        config
    }

    async fn connect(
        &self,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        self.connect_to(user, password, "postgres").await
    }

    async fn connect_to(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = self
            .config(user, password, SslMode::Require)
            .dbname(dbname)
            .application_name("rds-iam-emulator-test")
            .connect(self.tls())
            .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    fn last_outcome(&self) -> LoginOutcome {
        self.emulator
            .logins()
            .last()
            .expect("a login was recorded")
            .outcome
            .clone()
    }

    /// Run `psql` (asynchronously: the emulator serves on this test's runtime).
    async fn psql(
        &self,
        user: &str,
        password: &str,
        sslmode: &str,
        sql: &str,
    ) -> std::process::Output {
        let conninfo = format!(
            "host={ENDPOINT_HOST} hostaddr=127.0.0.1 port={} user={user} dbname=postgres \
             sslmode={sslmode} sslrootcert={}",
            self.emulator.local_addr().port(),
            self.emulator.ca_path().unwrap().display()
        );
        Command::new(self.pg.psql())
            .args(["-X", "-w", "-qAt", "-c", sql])
            .arg(conninfo)
            .env("PGPASSWORD", password)
            .env_remove("PGSERVICE")
            .output()
            .await
            .expect("run psql (install postgresql-client)")
    }
}

fn assert_pam_failure(err: &tokio_postgres::Error, user: &str) {
    let db = err
        .as_db_error()
        .unwrap_or_else(|| panic!("not a server error: {err}"));
    assert_eq!(db.severity(), "FATAL");
    assert_eq!(db.code(), &SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert_eq!(
        db.message(),
        format!("PAM authentication failed for user \"{user}\"")
    );
}

#[tokio::test]
async fn token_login_reaches_the_real_backend() {
    let h = harness().await;
    let user = "emu_iam_alice";
    h.pg.create_role(user, RoleAuth::Default).await;
    let client = h.connect(user, &token(&claim(user))).await.unwrap();

    let row = client
        .query_one("SELECT current_user::text, inet_server_port()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), user);
    // The session runs on the real server behind the emulator.
    assert_eq!(row.get::<_, i32>(1), i32::from(h.pg.port()));

    // Transactions and errors are the backend's own.
    client
        .batch_execute("CREATE TEMP TABLE t (n int)")
        .await
        .unwrap();
    client
        .batch_execute("BEGIN; INSERT INTO t VALUES (1); ROLLBACK;")
        .await
        .unwrap();
    let count: i64 = client
        .query_one("SELECT count(*) FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0);
    let err = client.query_one("SELECT 1 / 0", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));

    let logins = h.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user, user);
    assert_eq!(logins[0].database.as_deref(), Some("postgres"));
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(logins[0].at, t0());
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn an_endpoint_on_port_443_accepts_its_tokens() {
    // Signers leave the https default port out of the signed host (the token keeps it).
    let h = harness_with(|b| b.endpoint(ENDPOINT_HOST, 443)).await;
    let user = "emu_iam_port_443";
    h.pg.create_role(user, RoleAuth::Default).await;
    let for_443 = token(&Claim::for_endpoint(443, user));
    assert!(for_443.starts_with(&format!("{ENDPOINT_HOST}:443/?")));
    h.connect(user, &for_443).await.unwrap();
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);
    // A token for 5432 is still refused there.
    let err = h.connect(user, &token(&claim(user))).await.unwrap_err();
    assert_pam_failure(&err, user);
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::Rejected(Rejection::WrongHost)
    );
}

#[tokio::test]
async fn user_names_that_need_percent_encoding() {
    // The signer percent-encodes DBUser; the verifier decodes and re-encodes it.
    let h = harness().await;
    for user in ["emu iam+ci@corp", "emu/é;&=ü"] {
        h.pg.create_role(user, RoleAuth::Default).await;
        let client = h.connect(user, &token(&claim(user))).await.unwrap();
        let row = client
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), user);
    }
}

#[tokio::test]
async fn startup_parameters_reach_the_backend() {
    let h = harness().await;
    let user = "emu_iam_params";
    h.pg.create_role(user, RoleAuth::Default).await;
    h.pg.create_database("emu_app_db", user).await;
    let client = h
        .connect_to(user, &token(&claim(user)), "emu_app_db")
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT current_database()::text, current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "emu_app_db");
    assert_eq!(row.get::<_, String>(1), "rds-iam-emulator-test");
    assert_eq!(
        h.emulator.logins()[0].database.as_deref(),
        Some("emu_app_db")
    );
}

#[tokio::test]
async fn login_decisions_are_logged_without_the_token() {
    let capture = LogCapture::default();
    // The test runtime has one thread: the emulator's tasks log through this subscriber.
    let _guard = capture.install();

    let h = harness().await;
    let user = "emu_iam_logged";
    h.pg.create_role(user, RoleAuth::Default).await;
    let good = token(&claim(user));
    h.connect(user, &good).await.unwrap();
    let for_other = token(&claim("emu_someone_else"));
    h.connect(user, &for_other).await.unwrap_err();
    drop(h);

    let logs = capture.text();
    assert!(logs.contains("login accepted"), "{logs}");
    assert!(logs.contains("login rejected"), "{logs}");
    assert!(
        logs.contains("the token is signed for another database user"),
        "{logs}"
    );
    assert!(
        logs.contains(user) && logs.contains(ENDPOINT_HOST),
        "{logs}"
    );
    for secret in [&good, &for_other] {
        let signature = secret.rsplit('=').next().unwrap();
        assert!(
            !logs.contains(signature),
            "a token signature was logged:\n{logs}"
        );
    }
    assert!(!logs.contains("X-Amz-"), "{logs}");
}

#[tokio::test]
async fn psql_logs_in_with_a_token_and_verify_full() {
    let h = harness().await;
    let user = "emu_iam_psql";
    h.pg.create_role(user, RoleAuth::Default).await;
    let out = h
        .psql(
            user,
            &token(&claim(user)),
            "verify-full",
            "SELECT current_user || ' ' || inet_server_port()",
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{user} {}", h.pg.port())
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A bad token: psql shows the RDS error.
    h.clock.advance(Duration::from_secs(16 * 60));
    let out = h
        .psql(user, &token(&claim(user)), "verify-full", "SELECT 1")
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "FATAL:  PAM authentication failed for user \"{user}\""
        )),
        "{stderr}"
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::Expired));

    // Without TLS psql is refused before it is asked for a password.
    let out = h
        .psql(user, &token(&claim(user)), "disable", "SELECT 1")
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no encryption"), "{stderr}");
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn backend_password_is_used_with_scram() {
    let user = "emu_iam_scram";
    let h = harness_with(|b| b.backend_password(Password::new("backend secret"))).await;
    h.pg.create_role(user, RoleAuth::Scram("backend secret"))
        .await;
    let client = h.connect(user, &token(&claim(user))).await.unwrap();
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), user);

    // Without the backend password the token is accepted but the backend refuses.
    let no_password = harness().await;
    let err = no_password
        .connect(user, &token(&claim(user)))
        .await
        .unwrap_err();
    assert!(err.as_db_error().is_some(), "{err}");
    assert_eq!(
        no_password.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::PasswordNeeded)
    );
}

#[tokio::test]
async fn every_login_can_map_to_one_backend_user() {
    let backend_user = "emu_backend_owner";
    let h = harness_with(|b| b.backend_user(backend_user)).await;
    h.pg.create_role(backend_user, RoleAuth::Default).await;
    // The IAM user need not exist on the backend.
    let client = h
        .connect("iam_only_user", &token(&claim("iam_only_user")))
        .await
        .unwrap();
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), backend_user);
    assert_eq!(h.emulator.logins()[0].user, "iam_only_user");
}

#[tokio::test]
async fn unknown_backend_role_gets_the_backend_error() {
    let h = harness().await;
    let user = "emu_no_such_role";
    let err = h.connect(user, &token(&claim(user))).await.unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code(), &SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert!(db.message().contains(user), "{}", db.message());
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::Refused {
            code: "28000".into()
        })
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_like_rds_with_the_reason_recorded() {
    let h = harness().await;
    let user = "emu_iam_bob";
    h.pg.create_role(user, RoleAuth::Default).await;
    let good = claim(user);
    let tampered = {
        let t = token(&good);
        let (head, sig) = t.split_at(t.len() - 1);
        format!("{head}{}", if sig == "0" { "1" } else { "0" })
    };
    let cases: Vec<(&str, String, Rejection)> = vec![
        (
            "another user",
            token(&Claim {
                user: "emu_iam_mallory".into(),
                ..good.clone()
            }),
            Rejection::WrongUser,
        ),
        (
            "another host",
            token(&Claim {
                host: "otherdb.cluster-abc123.us-east-1.rds.amazonaws.com".into(),
                ..good.clone()
            }),
            Rejection::WrongHost,
        ),
        (
            "another port",
            token(&Claim {
                port: 5433,
                ..good.clone()
            }),
            Rejection::WrongHost,
        ),
        (
            "another region",
            token(&Claim {
                region: "eu-west-1".into(),
                ..good.clone()
            }),
            Rejection::WrongRegion,
        ),
        ("tampered signature", tampered, Rejection::BadSignature),
        (
            "wrong secret",
            token(&Claim {
                credentials: Credentials::new(ACCESS_KEY_ID, "not-the-secret", None, None, "t"),
                ..good.clone()
            }),
            Rejection::BadSignature,
        ),
        (
            "another access key",
            token(&Claim {
                credentials: Credentials::new("AKIDOTHER", SECRET_ACCESS_KEY, None, None, "t"),
                ..good.clone()
            }),
            Rejection::WrongAccessKey,
        ),
        (
            "unexpected session token",
            token(&Claim {
                credentials: Credentials::new(
                    ACCESS_KEY_ID,
                    SECRET_ACCESS_KEY,
                    Some("a-session-token".into()),
                    None,
                    "t",
                ),
                ..good.clone()
            }),
            Rejection::WrongSessionToken,
        ),
        (
            "signed 10 minutes in the future",
            token(&Claim {
                at: t0() + Duration::from_secs(600),
                ..good.clone()
            }),
            Rejection::NotYetValid,
        ),
        (
            "not a token",
            "hunter2".into(),
            Rejection::Malformed("no `host:port/?` prefix"),
        ),
    ];
    for (what, password, reason) in cases {
        let err = h
            .connect(user, &password)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        assert_pam_failure(&err, user);
        assert_eq!(h.last_outcome(), LoginOutcome::Rejected(reason), "{what}");
    }

    // Expired: the emulator's clock 16 minutes after signing.
    let fresh = token(&good);
    h.clock.advance(Duration::from_secs(16 * 60));
    let err = h.connect(user, &fresh).await.unwrap_err();
    assert_pam_failure(&err, user);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::Expired));
    // Still valid at 14 minutes.
    h.clock.set(t0() + Duration::from_secs(14 * 60));
    h.connect(user, &fresh).await.unwrap();
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A plaintext client is refused before any password is asked for.
    let (client_result, _) = (
        h.config(user, &fresh, SslMode::Disable)
            .connect(tokio_postgres::NoTls)
            .await,
        (),
    );
    let err = client_result.err().unwrap();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code(), &SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
    assert_eq!(
        db.message(),
        format!(
            "no pg_hba.conf entry for host \"127.0.0.1\", user \"{user}\", database \"postgres\", no encryption"
        )
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
    // No record carries the token.
    let records = format!("{:?}", h.emulator.logins());
    assert!(!records.contains(&fresh) && !records.contains("X-Amz-Signature"));
}

#[tokio::test]
async fn session_token_must_match_when_configured() {
    let with_session = Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        Some("the-session-token".into()),
        None,
        "t",
    );
    let h = harness_with(|b| b.credentials(with_session.clone())).await;
    let user = "emu_iam_session";
    h.pg.create_role(user, RoleAuth::Default).await;
    let claim = Claim {
        credentials: with_session,
        ..claim(user)
    };
    h.connect(user, &token(&claim)).await.unwrap();
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    for credentials in [
        credentials(),
        Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            Some("stale".into()),
            None,
            "t",
        ),
    ] {
        let err = h
            .connect(
                user,
                &token(&Claim {
                    credentials,
                    ..claim.clone()
                }),
            )
            .await
            .unwrap_err();
        assert_pam_failure(&err, user);
        assert_eq!(
            h.last_outcome(),
            LoginOutcome::Rejected(Rejection::WrongSessionToken)
        );
    }
}

#[tokio::test]
async fn cancel_requests_reach_the_backend() {
    let h = harness().await;
    let user = "emu_iam_cancel";
    h.pg.create_role(user, RoleAuth::Default).await;
    let client = h.connect(user, &token(&claim(user))).await.unwrap();
    let cancel = client.cancel_token();
    let sleeper = tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(60)").await });
    // Cancel once the backend runs the query (a cancel before that would be a no-op).
    let admin = h.pg.admin().await;
    loop {
        let running: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE usename = $1 AND state = 'active' AND query LIKE '%pg_sleep(60)%'",
                &[&user],
            )
            .await
            .unwrap()
            .get(0);
        if running > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cancel.cancel_query(h.tls()).await.unwrap();
    let err = sleeper.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
}

#[tokio::test]
async fn garbage_password_is_refused_like_rds() {
    let h = harness().await;
    let err = h.connect("anyone", "not a token at all").await.unwrap_err();
    assert_pam_failure(&err, "anyone");
    assert!(matches!(
        h.last_outcome(),
        LoginOutcome::Rejected(Rejection::Malformed(_))
    ));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

/// Startup message bytes for `user`.
fn startup(user: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    frontend::startup_message([("user", user), ("database", "postgres")], &mut buf).unwrap();
    buf
}

#[tokio::test]
async fn a_password_sent_in_plaintext_anyway_is_counted() {
    // A broken client that does not wait to be asked: startup and password at once.
    let h = harness().await;
    let mut bytes = startup("careless");
    frontend::password_message(b"some-token", &mut bytes).unwrap();
    let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply[0], b'E');
    assert!(String::from_utf8_lossy(&reply).contains("no encryption"));
    drop(stream);
    assert_eq!(h.emulator.plaintext_passwords_received(), 1);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
}

#[tokio::test]
async fn gssenc_is_declined_then_tls_serves_the_endpoint_name() {
    let h = harness().await;
    let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    // GSSENCRequest: 8 bytes, code 80877104.
    stream
        .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
        .await
        .unwrap();
    assert_eq!(stream.read_u8().await.unwrap(), b'N');
    let mut ssl = BytesMut::new();
    frontend::ssl_request(&mut ssl);
    stream.write_all(&ssl).await.unwrap();
    assert_eq!(stream.read_u8().await.unwrap(), b'S');
    let ca = native_tls::Certificate::from_pem(h.emulator.ca_pem().unwrap().as_bytes()).unwrap();
    let connector = tokio_native_tls::TlsConnector::from(
        native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .disable_built_in_roots(true)
            .build()
            .unwrap(),
    );
    let mut tls = connector.connect(ENDPOINT_HOST, stream).await.unwrap();
    // Over TLS the emulator asks for a cleartext password (AuthenticationCleartextPassword).
    tls.write_all(&startup("someone")).await.unwrap();
    let mut reply = [0u8; 9];
    tls.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, [b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
    assert!(h.emulator.logins().is_empty());
}

#[tokio::test]
async fn emulator_stops_when_dropped() {
    let h = harness().await;
    let addr: SocketAddr = h.emulator.local_addr();
    drop(h.emulator);
    tokio::task::yield_now().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

//! The emulator in front of a real MariaDB, with real clients: mysql_async (TLS
//! verified against the emulator's CA under the RDS endpoint name, cleartext plugin
//! enabled) and the `mariadb` command-line client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use rds_iam::clock::ManualClock;
use rds_iam::emulator::{
    BackendFailure, Emulator, EmulatorConfig, EmulatorConfigBuilder, Engine, LoginOutcome,
    Rejection, RunningEmulator,
};
use rds_iam::secret::Password;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::support::iam::{
    ACCESS_KEY_ID, Claim, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY, credentials, t0,
};
use crate::support::logs::LogCapture;
use crate::support::mariadb::{self, MariaDbServer, UserAuth};

/// The RDS endpoint the emulator pretends to be (dialled as 127.0.0.1): [`ENDPOINT_HOST`] and
/// this port.
const ENDPOINT_PORT: u16 = 3306;

/// A valid claim for `user` at the emulated endpoint.
fn claim(user: &str) -> Claim {
    Claim::for_endpoint(ENDPOINT_PORT, user)
}

/// A token for `claim`, from the crate's own signer.
fn token(claim: &Claim) -> String {
    claim.token()
}

/// An emulator in front of the shared MariaDB, on a manual clock at [`T0`].
struct Harness {
    db: &'static MariaDbServer,
    emulator: RunningEmulator,
    clock: ManualClock,
}

async fn harness_with(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> Harness {
    let db = mariadb::shared();
    let clock = ManualClock::new(t0());
    let builder = EmulatorConfig::builder(Engine::Mysql)
        .backend(db.addr())
        .endpoint(ENDPOINT_HOST, ENDPOINT_PORT)
        .region(REGION)
        .credentials(credentials())
        .clock(Arc::new(clock.clone()));
    let emulator = Emulator::start(configure(builder).build().unwrap())
        .await
        .unwrap();
    Harness {
        db,
        emulator,
        clock,
    }
}

async fn harness() -> Harness {
    harness_with(|b| b).await
}

impl Harness {
    /// Dial the emulator on 127.0.0.1 over TLS, verifying the certificate for the
    /// endpoint name, with the cleartext plugin enabled (as an IAM client must).
    fn opts(&self, user: &str, password: &str) -> OptsBuilder {
        let ca = self.emulator.ca_pem().unwrap().as_bytes().to_vec();
        let ssl = SslOpts::default()
            .with_root_certs(vec![ca.into()])
            .with_disable_built_in_roots(true)
            .with_danger_tls_hostname_override(Some(ENDPOINT_HOST));
        self.plaintext_opts(user, password)
            .ssl_opts(ssl)
            .enable_cleartext_plugin(true)
    }

    /// The same without TLS.
    fn plaintext_opts(&self, user: &str, password: &str) -> OptsBuilder {
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.emulator.local_addr().port())
            .prefer_socket(false)
            .user(Some(user))
            .pass(Some(password))
    }

    async fn connect(&self, user: &str, password: &str) -> Result<Conn, mysql_async::Error> {
        Conn::new(Opts::from(self.opts(user, password))).await
    }

    fn last_outcome(&self) -> LoginOutcome {
        self.emulator
            .logins()
            .last()
            .expect("a login was recorded")
            .outcome
            .clone()
    }

    /// Run the `mariadb` client (asynchronously: the emulator serves on this test's
    /// runtime), the token in `MYSQL_PWD`, TLS verified against the emulator's CA
    /// (for `127.0.0.1`, which the generated certificate names too: the client has no
    /// separate name to verify).
    async fn mariadb_cli(
        &self,
        user: &str,
        password: &str,
        tls: bool,
        sql: &str,
    ) -> std::process::Output {
        let mut command = Command::new(self.db.client());
        command
            .arg("--no-defaults")
            .args(["--protocol=TCP", "--host=127.0.0.1"])
            .arg(format!("--port={}", self.emulator.local_addr().port()))
            .arg(format!("--user={user}"))
            // MariaDB's client always has `mysql_clear_password` (it calls
            // `--enable-cleartext-plugin` obsolete); Oracle's `mysql` needs that flag.
            .args(["--batch", "--skip-column-names"])
            // Not the utf8mb4 that mysql_common would pick, so a test can see it pass.
            .arg("--default-character-set=latin1");
        if tls {
            command
                .arg(format!(
                    "--ssl-ca={}",
                    self.emulator.ca_path().unwrap().display()
                ))
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
}

fn server_error(err: &mysql_async::Error) -> &mysql_async::ServerError {
    match err {
        mysql_async::Error::Server(e) => e,
        other => panic!("not a server error: {other}"),
    }
}

fn assert_access_denied(err: &mysql_async::Error, user: &str) {
    let e = server_error(err);
    assert_eq!(e.code, 1045, "{e:?}");
    assert_eq!(e.state, "28000");
    assert_eq!(
        e.message,
        format!("Access denied for user '{user}'@'127.0.0.1' (using password: YES)")
    );
}

/// A user on the backend with a database of its own holding one row.
async fn user_with_data(db: &MariaDbServer, user: &str, database: &str) {
    db.create_user(user, UserAuth::NoPassword).await;
    db.create_database(database).await;
    db.admin_exec(&format!(
        "CREATE OR REPLACE TABLE `{database}`.notes (id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB; \
         INSERT INTO `{database}`.notes VALUES (1, 'from the real backend')"
    ))
    .await;
    db.grant("ALL PRIVILEGES", &format!("`{database}`.*"), user)
        .await;
}

#[tokio::test]
async fn token_login_reaches_the_real_backend() {
    let h = harness().await;
    let user = "emu_my_alice";
    user_with_data(h.db, user, "emu_my_alice_db").await;
    let mut conn = Conn::new(Opts::from(
        h.opts(user, &token(&claim(user)))
            .db_name(Some("emu_my_alice_db")),
    ))
    .await
    .unwrap();

    let (current_user, session_user, port, database): (String, String, u16, String) = conn
        .query_first("SELECT CURRENT_USER(), USER(), @@port, DATABASE()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current_user, format!("{user}@%"));
    assert_eq!(session_user, format!("{user}@127.0.0.1"));
    // The session runs on the real server behind the emulator.
    assert_eq!(port, h.db.port());
    assert_eq!(database, "emu_my_alice_db");
    let body: String = conn
        .query_first("SELECT body FROM notes WHERE id = 1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, "from the real backend");

    // Transactions and errors are the backend's own.
    conn.query_drop("START TRANSACTION").await.unwrap();
    conn.query_drop("INSERT INTO notes VALUES (2, 'rolled back')")
        .await
        .unwrap();
    conn.query_drop("ROLLBACK").await.unwrap();
    let count: i64 = conn
        .query_first("SELECT COUNT(*) FROM notes")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, 1);
    let err = conn
        .query_drop("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(server_error(&err).code, 1146);
    // The session outlives an error. The greeting's connection id is the emulator's own,
    // from a range no backend session reaches; CONNECTION_ID() is the backend session's.
    let id: u32 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert!(id < 1_000_000_000, "{id}");
    assert!(conn.id() >= 1_000_000_000, "{}", conn.id());
    conn.disconnect().await.unwrap();

    let logins = h.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user, user);
    assert_eq!(logins[0].database.as_deref(), Some("emu_my_alice_db"));
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(logins[0].at, t0());
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn user_names_that_need_percent_encoding() {
    // The signer percent-encodes DBUser; the verifier decodes and re-encodes it.
    let h = harness().await;
    for user in ["emu my+ci@corp", "emu/é;&=ü"] {
        h.db.create_user(user, UserAuth::NoPassword).await;
        let mut conn = h.connect(user, &token(&claim(user))).await.unwrap();
        let current: String = conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current, format!("{user}@%"));
        conn.disconnect().await.unwrap();
    }
}

#[tokio::test]
async fn mariadb_client_logs_in_with_a_token_and_verified_tls() {
    let h = harness().await;
    let user = "emu_my_cli";
    user_with_data(h.db, user, "emu_my_cli_db").await;
    let out = h
        .mariadb_cli(
            user,
            &token(&claim(user)),
            true,
            "SELECT CURRENT_USER(), @@port, body, @@collation_connection \
             FROM emu_my_cli_db.notes",
        )
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The client's own character set (latin1, see `mariadb_cli`) reaches the backend.
    let collation = "latin1_swedish_ci";
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!(
            "{user}@%\t{}\tfrom the real backend\t{collation}",
            h.db.port()
        )
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A token 16 minutes old: the client shows the RDS error.
    h.clock.advance(Duration::from_secs(16 * 60));
    let out = h
        .mariadb_cli(user, &token(&claim(user)), true, "SELECT 1")
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "ERROR 1045 (28000): Access denied for user '{user}'@'127.0.0.1' (using password: YES)"
        )),
        "{stderr}"
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::Expired));

    // Without TLS it is refused before it is asked for the token.
    h.clock.set(t0());
    let out = h
        .mariadb_cli(user, &token(&claim(user)), false, "SELECT 1")
        .await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERROR 1045 (28000)"), "{stderr}");
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn login_decisions_are_logged_without_the_token() {
    let capture = LogCapture::default();
    // The test runtime has one thread: the emulator's tasks log through this subscriber.
    let _guard = capture.install();

    let h = harness().await;
    let user = "emu_my_logged";
    h.db.create_user(user, UserAuth::NoPassword).await;
    let good = token(&claim(user));
    h.connect(user, &good)
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    let for_other = token(&claim("emu_my_someone_else"));
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
async fn backend_password_is_used_with_mysql_native_password() {
    let user = "emu_my_native";
    let h = harness_with(|b| b.backend_password(Password::new("backend secret"))).await;
    h.db.create_user(user, UserAuth::NativePassword("backend secret"))
        .await;
    let mut conn = h.connect(user, &token(&claim(user))).await.unwrap();
    let current: String = conn
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, format!("{user}@%"));
    conn.disconnect().await.unwrap();

    // Without the backend password the token is accepted but the backend refuses,
    // and its own error reaches the client.
    let no_password = harness().await;
    let err = no_password
        .connect(user, &token(&claim(user)))
        .await
        .unwrap_err();
    let e = server_error(&err);
    assert_eq!(e.code, 1045);
    assert!(e.message.contains("using password: NO"), "{}", e.message);
    assert_eq!(
        no_password.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::Refused {
            code: "1045".into()
        })
    );
}

#[tokio::test]
async fn every_login_can_map_to_one_backend_user() {
    let backend_user = "emu_my_backend_owner";
    let h = harness_with(|b| {
        b.backend_user(backend_user)
            .backend_password(Password::new("owner pw"))
    })
    .await;
    h.db.create_user(backend_user, UserAuth::Password("owner pw"))
        .await;
    // The IAM user need not exist on the backend.
    let mut conn = h
        .connect("iam_only_user", &token(&claim("iam_only_user")))
        .await
        .unwrap();
    let current: String = conn
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(current, format!("{backend_user}@%"));
    conn.disconnect().await.unwrap();
    assert_eq!(h.emulator.logins()[0].user, "iam_only_user");
}

#[tokio::test]
async fn unknown_database_gets_the_backend_error() {
    let h = harness().await;
    let user = "emu_my_nodb";
    h.db.create_user(user, UserAuth::NoPassword).await;
    let err = Conn::new(Opts::from(
        h.opts(user, &token(&claim(user)))
            .db_name(Some("emu_no_such_database")),
    ))
    .await
    .unwrap_err();
    let e = server_error(&err);
    // 1044 (access denied to the database) or 1049 (unknown database): the backend's.
    assert!(matches!(e.code, 1044 | 1049), "{e:?}");
    assert!(e.message.contains("emu_no_such_database"), "{}", e.message);
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::Refused {
            code: e.code.to_string()
        })
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_like_rds_with_the_reason_recorded() {
    let h = harness().await;
    let user = "emu_my_bob";
    h.db.create_user(user, UserAuth::NoPassword).await;
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
                user: "emu_my_mallory".into(),
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
                port: 3307,
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
        assert_access_denied(&err, user);
        assert_eq!(h.last_outcome(), LoginOutcome::Rejected(reason), "{what}");
    }

    // Expired: the emulator's clock 16 minutes after signing.
    let fresh = token(&good);
    h.clock.advance(Duration::from_secs(16 * 60));
    let err = h.connect(user, &fresh).await.unwrap_err();
    assert_access_denied(&err, user);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::Expired));
    // Still valid at 14 minutes.
    h.clock.set(t0() + Duration::from_secs(14 * 60));
    h.connect(user, &fresh)
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A plaintext client is refused before it is asked for the token.
    let err = Conn::new(Opts::from(
        h.plaintext_opts(user, &fresh).enable_cleartext_plugin(true),
    ))
    .await
    .unwrap_err();
    assert_access_denied(&err, user);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert!(!h.emulator.logins().last().unwrap().tls);
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
    let user = "emu_my_session";
    h.db.create_user(user, UserAuth::NoPassword).await;
    let claim = Claim {
        credentials: with_session,
        ..claim(user)
    };
    h.connect(user, &token(&claim))
        .await
        .unwrap()
        .disconnect()
        .await
        .unwrap();
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);
    let err = h
        .connect(
            user,
            &token(&Claim {
                credentials: credentials(),
                ..claim
            }),
        )
        .await
        .unwrap_err();
    assert_access_denied(&err, user);
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::Rejected(Rejection::WrongSessionToken)
    );
}

#[tokio::test]
async fn kill_query_from_another_session_reaches_the_backend() {
    let h = harness().await;
    let user = "emu_my_killer";
    h.db.create_user(user, UserAuth::NoPassword).await;
    // KILL of one's own sessions needs no privilege beyond being the same user.
    let mut sleeper = h.connect(user, &token(&claim(user))).await.unwrap();
    let mut killer = h.connect(user, &token(&claim(user))).await.unwrap();
    let backend_id: u32 = sleeper
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    // Clients cancel with the id from the greeting (Connector/J's Statement.cancel, the
    // mysql client's Ctrl-C), others with CONNECTION_ID(): both reach the session.
    for id in [sleeper.id(), backend_id] {
        let mut conn = sleeper;
        let sleeping = tokio::spawn(async move {
            let err = conn.query_drop("SELECT SLEEP(60)").await.unwrap_err();
            (conn, err)
        });
        loop {
            let running: i64 = killer
                .query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE ID = {backend_id} AND INFO LIKE 'SELECT SLEEP(60)%'"
                ))
                .await
                .unwrap()
                .unwrap();
            if running > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        // ER_QUERY_INTERRUPTED, from the backend session of the first connection.
        let (conn, err) = sleeping.await.unwrap();
        assert_eq!(server_error(&err).code, 1317, "KILL QUERY {id}");
        sleeper = conn;
    }
    // KILL CONNECTION with the greeting id ends the other session.
    killer
        .query_drop(format!("KILL CONNECTION {}", sleeper.id()))
        .await
        .unwrap();
    assert!(sleeper.query_drop("SELECT 1").await.is_err());
    // An id the emulator did not give out, or gave a session that is gone, goes to the
    // backend as it is: ER_NO_SUCH_THREAD.
    let err = killer
        .query_drop(format!("KILL QUERY {}", sleeper.id()))
        .await
        .unwrap_err();
    assert_eq!(server_error(&err).code, 1094);
}

/// A loopback TCP relay in front of the real backend that counts the connections made
/// through it: how many backend connections the emulator opened.
async fn counting_relay(backend: SocketAddr) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let opened = Arc::new(AtomicUsize::new(0));
    let count = opened.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut server = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    (addr, opened)
}

#[tokio::test]
async fn the_backend_connection_opens_only_after_the_token_is_verified() {
    let db = mariadb::shared();
    let (relay, opened) = counting_relay(db.addr()).await;
    let h = harness_with(|b| b.backend(relay)).await;
    let user = "emu_my_late_backend";
    h.db.create_user(user, UserAuth::NoPassword).await;

    // Clients that never log in: greeted and idle, or refused without TLS, or with a
    // bad token over TLS.
    let mut idle = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
        raw_greeting(&mut stream).await;
        idle.push(stream);
    }
    let err = Conn::new(Opts::from(h.plaintext_opts(user, "x")))
        .await
        .unwrap_err();
    assert_access_denied(&err, user);
    let err = h.connect(user, "not a token").await.unwrap_err();
    assert_access_denied(&err, user);
    // One connection to learn the backend's greeting, none for the clients.
    assert_eq!(opened.load(Ordering::SeqCst), 1);

    // A good login opens one, while the idle clients wait.
    let mut conn = h.connect(user, &token(&claim(user))).await.unwrap();
    let one: i64 = conn.query_first("SELECT 1").await.unwrap().unwrap();
    assert_eq!(one, 1);
    assert_eq!(opened.load(Ordering::SeqCst), 2);
    conn.disconnect().await.unwrap();
    drop(idle);
}

/// Read the emulator's greeting from a raw connection.
async fn raw_greeting(stream: &mut TcpStream) -> HandshakePacket<'static> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    assert_eq!(header[3], 0, "the greeting is packet 0");
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    ParseBuf(&payload)
        .parse::<HandshakePacket<'_>>(())
        .unwrap()
        .into_owned()
}

/// Frame `payload` as packet `seq`.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut out = vec![len[0], len[1], len[2], seq];
    out.extend_from_slice(payload);
    out
}

#[tokio::test]
async fn greeting_offers_tls_and_the_backends_identity() {
    let h = harness().await;
    let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    let greeting = raw_greeting(&mut stream).await;
    let caps = greeting.capabilities();
    assert!(caps.contains(CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_PLUGIN_AUTH));
    assert!(!caps.contains(CapabilityFlags::CLIENT_COMPRESS));
    assert!(
        greeting.server_version_str().contains("MariaDB"),
        "{}",
        greeting.server_version_str()
    );
    assert_eq!(
        greeting.auth_plugin(),
        Some(AuthPlugin::MysqlNativePassword)
    );
    assert_eq!(greeting.nonce().len(), 20);
    // A second connection gets a scramble of its own.
    let mut other = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    assert_ne!(raw_greeting(&mut other).await.nonce(), greeting.nonce());
    assert!(h.emulator.logins().is_empty());
}

#[tokio::test]
async fn a_password_sent_in_plaintext_anyway_is_counted() {
    // A broken client that sends the token in cleartext in its first answer, without TLS.
    let h = harness().await;
    let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    let greeting = raw_greeting(&mut stream).await;
    let token = token(&claim("careless"));
    let mut auth = token.into_bytes();
    auth.push(0);
    let capabilities = greeting.capabilities()
        & (CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_PLUGIN_AUTH
            | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
    let response = HandshakeResponse::new(
        Some(auth),
        (10, 11, 0),
        Some(&b"careless"[..]),
        None::<&[u8]>,
        Some(AuthPlugin::MysqlClearPassword),
        capabilities,
        None,
        1 << 24,
    );
    let mut payload = Vec::new();
    response.serialize(&mut payload);
    stream.write_all(&packet(1, &payload)).await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply[4], 0xFF, "an ERR packet");
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("#28000Access denied for user 'careless'@'127.0.0.1' (using password: YES)"),
        "{text}"
    );
    assert_eq!(h.emulator.plaintext_passwords_received(), 1);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
}

#[tokio::test]
async fn unreachable_backend_is_a_clear_error() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = closed.local_addr().unwrap();
    drop(closed);
    let h = harness_with(|b| b.backend(backend)).await;
    let user = "emu_my_nobackend";
    let err = h.connect(user, &token(&claim(user))).await.unwrap_err();
    let e = server_error(&err);
    // Sent before the client's handshake response, so without a SQLSTATE (as servers do).
    assert_eq!((e.code, e.state.as_str()), (1043, "HY000"));
    assert_eq!(
        e.message,
        "the emulator could not reach its backend database"
    );
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn emulator_stops_when_dropped() {
    let h = harness().await;
    let addr: SocketAddr = h.emulator.local_addr();
    drop(h.emulator);
    tokio::task::yield_now().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

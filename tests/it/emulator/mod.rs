//! The emulator in front of the real PostgreSQL and MariaDB, with real clients: the drivers
//! (tokio-postgres, mysql_async: TLS verified against the emulator's CA under the RDS endpoint
//! name, the token in cleartext as RDS asks) and the command-line clients (`psql`, `mariadb`).
//! Each scenario once for both engines (see [`per_engine!`]); what only one engine has is in
//! `postgres.rs` and `mysql.rs`.

#[cfg(feature = "_mysql")]
mod mysql;
#[cfg(feature = "_postgres")]
mod postgres;

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use rds_iam::clock::ManualClock;
use rds_iam::secret::Password;
use rds_iam_emulator::{
    BackendFailure, Emulator, EmulatorConfigBuilder, LoginOutcome, Rejection, RunningEmulator,
};
use tokio::net::TcpStream;

use crate::support::engine::{
    Db, Login, Server, Whoami, emulator_config, per_engine, refused, stdout_of,
};
use crate::support::iam::{
    ACCESS_KEY_ID, Claim, ENDPOINT_HOST, SECRET_ACCESS_KEY, credentials, t0,
};
use crate::support::logs::LogCapture;

per_engine!(
    token_login_reaches_the_real_backend,
    an_endpoint_on_port_443_accepts_its_tokens,
    user_names_that_need_percent_encoding,
    login_decisions_are_logged_without_the_token,
    the_command_line_client_logs_in_with_a_token_and_verified_tls,
    backend_password_is_used,
    every_login_can_map_to_one_backend_user,
    unknown_backend_user_gets_the_backend_error,
    unknown_database_gets_the_backend_error,
    bad_tokens_are_refused_like_rds_with_the_reason_recorded,
    session_token_must_match_when_configured,
    garbage_password_is_refused_like_rds,
    a_password_sent_in_plaintext_anyway_is_counted,
    the_backend_connection_opens_only_after_the_token_is_verified,
    unreachable_backend_is_a_clear_error,
    emulator_stops_when_dropped,
);

/// A valid claim for `user` at the emulated endpoint ([`ENDPOINT_HOST`], [`Db::ENDPOINT_PORT`]).
fn claim<E: Db>(user: &str) -> Claim {
    Claim::for_endpoint(E::ENDPOINT_PORT, user)
}

/// A valid token for `user` at the emulated endpoint, from the crate's own signer.
fn token<E: Db>(user: &str) -> String {
    claim::<E>(user).token()
}

/// An emulator of `E` in front of its shared server, on a manual clock at [`t0`].
struct Harness<E> {
    emulator: RunningEmulator,
    clock: ManualClock,
    engine: PhantomData<E>,
}

async fn harness_with<E: Db>(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> Harness<E> {
    let clock = ManualClock::new(t0());
    let config = configure(emulator_config::<E>(&clock)).build().unwrap();
    Harness {
        emulator: Emulator::start(config).await.unwrap(),
        clock,
        engine: PhantomData,
    }
}

async fn harness<E: Db>() -> Harness<E> {
    harness_with(|b| b).await
}

impl<E: Db> Harness<E> {
    /// Log in over TLS (verified for the endpoint name) with `password`.
    async fn login(&self, user: &str, password: &str) -> Result<E::Session, E::Error> {
        self.login_to(user, password, None).await
    }

    /// The same, to `database`.
    async fn login_to(
        &self,
        user: &str,
        password: &str,
        database: Option<&str>,
    ) -> Result<E::Session, E::Error> {
        let ca = self.emulator.ca_pem().unwrap();
        E::login(self.emulator.local_addr(), ca, user, password, database).await
    }

    /// Log in with `password` and assert that the emulator refused it like RDS, for `why`.
    async fn assert_refused(&self, user: &str, password: &str, why: Rejection) {
        let err = refused(self.login(user, password).await);
        E::assert_refused_like_rds(&err, user);
        assert_eq!(self.last_outcome(), LoginOutcome::Rejected(why));
    }

    fn last_outcome(&self) -> LoginOutcome {
        self.emulator
            .logins()
            .last()
            .expect("a login was recorded")
            .outcome
            .clone()
    }
}

async fn token_login_reaches_the_real_backend<E: Db>() {
    let h = harness::<E>().await;
    let user = "emu_iam_alice";
    let database = E::create_user_with_notes(user).await;
    let mut session = h
        .login_to(user, &token::<E>(user), Some(&database))
        .await
        .unwrap();

    // The session runs on the real server behind the emulator.
    let expected = Whoami {
        user: E::account(user),
        port: E::server().addr().port(),
        database: database.clone(),
    };
    assert_eq!(E::whoami(&mut session).await, expected);
    let notes = "SELECT count(*) FROM notes WHERE body = 'from the real backend'";
    assert_eq!(E::count(&mut session, notes).await, 1);

    // Transactions and errors are the backend's own.
    for sql in [
        "START TRANSACTION",
        "INSERT INTO notes VALUES (2, 'rolled back')",
        "ROLLBACK",
    ] {
        E::execute(&mut session, sql).await.unwrap();
    }
    let count = "SELECT count(*) FROM notes";
    assert_eq!(E::count(&mut session, count).await, 1);
    let err = E::execute(&mut session, "SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert_eq!(E::code(&err), E::NO_SUCH_TABLE);
    // The session outlives an error.
    assert_eq!(E::count(&mut session, count).await, 1);
    E::close(session).await;

    let logins = h.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user, user);
    assert_eq!(logins[0].database, Some(database));
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(logins[0].at, t0());
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

async fn an_endpoint_on_port_443_accepts_its_tokens<E: Db>() {
    // Signers leave the https default port out of the signed host (the token keeps it).
    let h = harness_with::<E>(|b| b.endpoint(ENDPOINT_HOST, 443)).await;
    let user = "emu_iam_port_443";
    E::create_user(user, Login::Trust).await;
    let for_443 = Claim::for_endpoint(443, user).token();
    assert!(for_443.starts_with(&format!("{ENDPOINT_HOST}:443/?")));
    E::close(h.login(user, &for_443).await.unwrap()).await;
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);
    // A token for the engine's port is still refused there.
    h.assert_refused(user, &token::<E>(user), Rejection::WrongHost)
        .await;
}

async fn user_names_that_need_percent_encoding<E: Db>() {
    // The signer percent-encodes DBUser; the verifier decodes and re-encodes it.
    let h = harness::<E>().await;
    for user in ["emu iam+ci@corp", "emu/é;&=ü"] {
        E::create_user(user, Login::Trust).await;
        let mut session = h.login(user, &token::<E>(user)).await.unwrap();
        assert_eq!(E::whoami(&mut session).await.user, E::account(user));
        E::close(session).await;
    }
}

async fn login_decisions_are_logged_without_the_token<E: Db>() {
    let capture = LogCapture::default();
    // The test runtime has one thread: the emulator's tasks log through this subscriber.
    let _guard = capture.install();

    let h = harness::<E>().await;
    let user = "emu_iam_logged";
    E::create_user(user, Login::Trust).await;
    let good = token::<E>(user);
    E::close(h.login(user, &good).await.unwrap()).await;
    let for_other = token::<E>("emu_someone_else");
    refused(h.login(user, &for_other).await);
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

/// `psql` (`sslmode=verify-full`), the `mariadb` client (`--ssl-verify-server-cert`).
async fn the_command_line_client_logs_in_with_a_token_and_verified_tls<E: Db>() {
    let h = harness::<E>().await;
    let user = "emu_iam_cli";
    let database = E::create_user_with_notes(user).await;
    let (addr, ca, token) = (
        h.emulator.local_addr(),
        h.emulator.ca_path().unwrap(),
        token::<E>(user),
    );
    let cli = |tls, sql| E::cli(addr, ca, user, &token, &database, tls, sql);
    let (sql, expected) = E::cli_query(user, E::server().addr().port());
    assert_eq!(stdout_of(&cli(true, sql).await), expected);
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A token 16 minutes old: the client shows the RDS error.
    h.clock.advance(Duration::from_secs(16 * 60));
    let out = cli(true, "SELECT 1").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&E::cli_refused_like_rds(user)), "{stderr}");
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::Expired));

    // Without TLS it is refused before it is asked for the token.
    h.clock.set(t0());
    let out = cli(false, "SELECT 1").await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&E::cli_refused_without_tls(user)),
        "{stderr}"
    );
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

/// With the engine's usual password method: PostgreSQL `scram-sha-256`, MariaDB
/// `mysql_native_password`.
async fn backend_password_is_used<E: Db>() {
    let user = "emu_iam_backend_password";
    let h = harness_with::<E>(|b| b.backend_password(Password::new("backend secret"))).await;
    E::create_user(user, Login::Password("backend secret")).await;
    let mut session = h.login(user, &token::<E>(user)).await.unwrap();
    assert_eq!(E::whoami(&mut session).await.user, E::account(user));
    E::close(session).await;

    // Without the backend password the token is accepted but the backend refuses, and the
    // client is told.
    let no_password = harness::<E>().await;
    let err = refused(no_password.login(user, &token::<E>(user)).await);
    let (failure, told) = E::without_backend_password();
    let message = E::message(&err);
    assert!(message.contains(told), "{message}");
    assert_eq!(
        no_password.last_outcome(),
        LoginOutcome::BackendFailed(failure)
    );
}

async fn every_login_can_map_to_one_backend_user<E: Db>() {
    let backend_user = "emu_backend_owner";
    let h = harness_with::<E>(|b| {
        b.backend_user(backend_user)
            .backend_password(Password::new("owner pw"))
    })
    .await;
    E::create_user(backend_user, Login::Password("owner pw")).await;
    // The IAM user need not exist on the backend.
    let mut session = h
        .login("iam_only_user", &token::<E>("iam_only_user"))
        .await
        .unwrap();
    assert_eq!(E::whoami(&mut session).await.user, E::account(backend_user));
    E::close(session).await;
    assert_eq!(h.emulator.logins()[0].user, "iam_only_user");
}

async fn unknown_backend_user_gets_the_backend_error<E: Db>() {
    let h = harness::<E>().await;
    let user = "emu_no_such_user";
    let err = refused(h.login(user, &token::<E>(user)).await);
    assert_eq!(E::code(&err), E::REFUSED);
    let message = E::message(&err);
    assert!(message.contains(user), "{message}");
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::Refused {
            code: E::REFUSED.into()
        })
    );
}

async fn unknown_database_gets_the_backend_error<E: Db>() {
    let h = harness::<E>().await;
    let user = "emu_iam_nodb";
    E::create_user(user, Login::Trust).await;
    let token = token::<E>(user);
    let err = refused(h.login_to(user, &token, Some("emu_no_such_database")).await);
    let code = E::code(&err);
    assert!(E::NO_SUCH_DATABASE.contains(&code.as_str()), "{err}");
    let message = E::message(&err);
    assert!(message.contains("emu_no_such_database"), "{message}");
    assert_eq!(
        h.last_outcome(),
        LoginOutcome::BackendFailed(BackendFailure::Refused { code })
    );
}

async fn bad_tokens_are_refused_like_rds_with_the_reason_recorded<E: Db>() {
    let h = harness::<E>().await;
    let user = "emu_iam_bob";
    E::create_user(user, Login::Trust).await;
    let good = claim::<E>(user);
    let tampered = {
        let t = good.token();
        let (head, sig) = t.split_at(t.len() - 1);
        format!("{head}{}", if sig == "0" { "1" } else { "0" })
    };
    let cases: Vec<(&str, String, Rejection)> = vec![
        (
            "another user",
            Claim {
                user: "emu_iam_mallory".into(),
                ..good.clone()
            }
            .token(),
            Rejection::WrongUser,
        ),
        (
            "another host",
            Claim {
                host: "otherdb.cluster-abc123.us-east-1.rds.amazonaws.com".into(),
                ..good.clone()
            }
            .token(),
            Rejection::WrongHost,
        ),
        (
            "another port",
            Claim {
                port: E::ENDPOINT_PORT + 1,
                ..good.clone()
            }
            .token(),
            Rejection::WrongHost,
        ),
        (
            "another region",
            Claim {
                region: "eu-west-1".into(),
                ..good.clone()
            }
            .token(),
            Rejection::WrongRegion,
        ),
        ("tampered signature", tampered, Rejection::BadSignature),
        (
            "wrong secret",
            Claim {
                credentials: Credentials::new(ACCESS_KEY_ID, "not-the-secret", None, None, "t"),
                ..good.clone()
            }
            .token(),
            Rejection::BadSignature,
        ),
        (
            "another access key",
            Claim {
                credentials: Credentials::new("AKIDOTHER", SECRET_ACCESS_KEY, None, None, "t"),
                ..good.clone()
            }
            .token(),
            Rejection::WrongAccessKey,
        ),
        (
            "unexpected session token",
            Claim {
                credentials: Credentials::new(
                    ACCESS_KEY_ID,
                    SECRET_ACCESS_KEY,
                    Some("a-session-token".into()),
                    None,
                    "t",
                ),
                ..good.clone()
            }
            .token(),
            Rejection::WrongSessionToken,
        ),
        (
            "signed 10 minutes in the future",
            Claim {
                at: t0() + Duration::from_secs(600),
                ..good.clone()
            }
            .token(),
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
            .login(user, &password)
            .await
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"));
        E::assert_refused_like_rds(&err, user);
        assert_eq!(h.last_outcome(), LoginOutcome::Rejected(reason), "{what}");
    }

    // Expired: the emulator's clock 16 minutes after signing.
    let fresh = good.token();
    h.clock.advance(Duration::from_secs(16 * 60));
    h.assert_refused(user, &fresh, Rejection::Expired).await;
    // Still valid at 14 minutes.
    h.clock.set(t0() + Duration::from_secs(14 * 60));
    E::close(h.login(user, &fresh).await.unwrap()).await;
    assert_eq!(h.last_outcome(), LoginOutcome::Accepted);

    // A plaintext client is refused before it is asked for the token.
    let addr = h.emulator.local_addr();
    let err = refused(E::login_plaintext(addr, user, &fresh).await);
    E::assert_refused_without_tls(&err, user);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
    assert!(!h.emulator.logins().last().unwrap().tls);
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
    // No record carries the token.
    let records = format!("{:?}", h.emulator.logins());
    assert!(!records.contains(&fresh) && !records.contains("X-Amz-Signature"));
}

async fn session_token_must_match_when_configured<E: Db>() {
    let with_session = Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        Some("the-session-token".into()),
        None,
        "t",
    );
    let h = harness_with::<E>(|b| b.credentials(with_session.clone())).await;
    let user = "emu_iam_session";
    E::create_user(user, Login::Trust).await;
    let claim = Claim {
        credentials: with_session,
        ..claim::<E>(user)
    };
    E::close(h.login(user, &claim.token()).await.unwrap()).await;
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
        let wrong = Claim {
            credentials,
            ..claim.clone()
        };
        h.assert_refused(user, &wrong.token(), Rejection::WrongSessionToken)
            .await;
    }
}

async fn garbage_password_is_refused_like_rds<E: Db>() {
    let h = harness::<E>().await;
    let err = refused(h.login("anyone", "not a token at all").await);
    E::assert_refused_like_rds(&err, "anyone");
    assert!(matches!(
        h.last_outcome(),
        LoginOutcome::Rejected(Rejection::Malformed(_))
    ));
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

async fn a_password_sent_in_plaintext_anyway_is_counted<E: Db>() {
    // A broken client that does not wait to be asked, nor for TLS.
    let h = harness::<E>().await;
    let addr = h.emulator.local_addr();
    E::send_password_unasked(addr, "careless", &token::<E>("careless")).await;
    assert_eq!(h.emulator.plaintext_passwords_received(), 1);
    assert_eq!(h.last_outcome(), LoginOutcome::Rejected(Rejection::NoTls));
}

/// A loopback TCP relay in front of `backend` that counts the connections made through it:
/// how many backend connections the emulator opened.
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

async fn the_backend_connection_opens_only_after_the_token_is_verified<E: Db>() {
    let (relay, opened) = counting_relay(E::server().addr()).await;
    let h = harness_with::<E>(|b| b.backend(relay)).await;
    let user = "emu_iam_late_backend";
    E::create_user(user, Login::Trust).await;

    // Clients that never log in: idle, or refused without TLS, or with a bad token over TLS.
    let addr = h.emulator.local_addr();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(E::idle_client(addr).await);
    }
    let err = refused(E::login_plaintext(addr, user, "x").await);
    E::assert_refused_without_tls(&err, user);
    let err = refused(h.login(user, "not a token").await);
    E::assert_refused_like_rds(&err, user);
    // None for the clients (MySQL: one to learn the backend's greeting).
    assert_eq!(
        opened.load(Ordering::SeqCst),
        E::BACKEND_CONNECTIONS_AT_START
    );

    // A good login opens one, while the idle clients wait.
    let mut session = h.login(user, &token::<E>(user)).await.unwrap();
    assert_eq!(E::whoami(&mut session).await.user, E::account(user));
    assert_eq!(
        opened.load(Ordering::SeqCst),
        E::BACKEND_CONNECTIONS_AT_START + 1
    );
    E::close(session).await;
    drop(idle);
}

async fn unreachable_backend_is_a_clear_error<E: Db>() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backend = closed.local_addr().unwrap();
    drop(closed);
    let h = harness_with::<E>(|b| b.backend(backend)).await;
    let user = "emu_iam_nobackend";
    let err = refused(h.login(user, &token::<E>(user)).await);
    E::assert_backend_unreachable(&err);
    assert_eq!(h.emulator.plaintext_passwords_received(), 0);
}

async fn emulator_stops_when_dropped<E: Db>() {
    let h = harness::<E>().await;
    let addr: SocketAddr = h.emulator.local_addr();
    drop(h.emulator);
    tokio::task::yield_now().await;
    assert!(TcpStream::connect(addr).await.is_err());
}

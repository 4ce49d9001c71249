//! The connectors (`PgConnector`, `MySqlConnector`) against real servers, each scenario once for
//! both engines (see [`per_engine!`]).
//!
//! Directly against the real PostgreSQL and MariaDB with TLS (certificate from a test CA, for
//! `localhost` and `127.0.0.1`), whose users' password is the very token the connector will
//! present, checked as RDS asks for it (PostgreSQL `password`: in cleartext; MariaDB
//! `mysql_native_password`): tokens are deterministic for a fixed clock and credentials, so a
//! successful login proves the whole path. TLS failures are checked to happen before any
//! password reaches the server (its log shows no refused password).
//!
//! Through the emulator (which validates tokens as RDS does) in front of the same servers:
//! queries, transactions, the `iamHost` tunnel, expiry between connections, exactly one retry
//! when a cached token is rejected, and no password ever in plaintext.

#[cfg(feature = "_postgres")]
mod postgres;

use std::fs;
use std::time::Duration;

use rds_iam::clock::{Clock, ManualClock};
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::tls::CaSource;
use rds_iam::tls_mode::TlsMode;
use rds_iam_emulator::{LoginOutcome, Rejection};

pub(crate) use crate::support::engine::Emulated;
use crate::support::engine::{
    Builder, Db, LAG, Login, PAST_EXPIRY, Server, Whoami, assert_one_retry, connector, per_engine,
};
use crate::support::iam::{
    ENDPOINT_HOST, REGION, bundle_with, provider, t0, token_at_t0, unrelated_cas,
};
use crate::support::logs::LogCapture;

per_engine!(
    a_ca_from_a_bundle_of_121_certificates_verifies_the_server,
    a_wrong_ca_is_an_untrusted_certificate_error_naming_the_file,
    a_host_name_mismatch_names_both_names,
    require_encrypts_without_checking_the_certificate,
    a_server_without_tls_is_refused_before_any_password,
    a_rejected_token_lists_the_likely_causes_and_is_retried_once_when_cached,
    an_unreachable_first_host_moves_on_to_the_next,
    connect_timeout_limits_a_server_that_never_answers,
    an_iam_host_with_a_trailing_root_dot_signs_and_verifies_the_name_without_it,
    through_the_emulator_connect_query_and_transactions,
    config_and_opts_hand_out_a_frozen_token_and_its_end,
    a_token_expiring_between_two_connections_is_replaced,
    a_cached_token_the_server_rejects_is_retried_exactly_once,
    a_token_for_the_wrong_region_is_rejected_with_the_causes,
);

/// A URL for `user` at `hosts` (the engine's default database) in [`REGION`], plus `query`.
fn url<E: Db>(hosts: &str, user: &str, query: &str) -> JdbcUrl {
    JdbcUrl::parse(&format!(
        "jdbc:aws-wrapper:{}://{hosts}/{}?wrapperPlugins=iam&user={user}&iamRegion={REGION}\
         {query}",
        E::SCHEME,
        E::DATABASE
    ))
    .unwrap()
}

/// The port of the shared server.
fn server_port<E: Db>() -> u16 {
    E::server().addr().port()
}

/// The causes under `err`, one per line.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
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
async fn connect_err<E: Db>(connector: &E::Connector) -> ConnectError {
    match E::connect(connector).await {
        Ok(_) => panic!("the connection was expected to fail"),
        Err(e) => e,
    }
}

/// Connect, check that the session is `user`'s, log out.
async fn logs_in_as<E: Db>(connector: &E::Connector, user: &str) {
    let mut session = E::connect(connector).await.unwrap();
    assert_eq!(E::whoami(&mut session).await.user, E::account(user));
    E::close(session).await;
}

/// The same straight to the server, which says the session is encrypted (through the
/// emulator it sees the emulator's plaintext connection).
async fn logs_in_directly_as<E: Db>(connector: &E::Connector, user: &str) {
    let mut session = E::connect(connector).await.unwrap();
    assert_eq!(E::whoami(&mut session).await.user, E::account(user));
    assert!(E::uses_tls(&mut session).await);
    E::close(session).await;
}

// ---- directly against the server --------------------------------------------------------

async fn a_ca_from_a_bundle_of_121_certificates_verifies_the_server<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_bundle_user";
    let token = token_at_t0("localhost", port, user);
    E::create_user(user, Login::Token(&token)).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_with(dir.path(), E::server_ca());

    let clock = ManualClock::new(t0());
    let query = format!(
        "&{}&{}={}",
        E::VERIFY_FULL,
        E::CA_FILE_PARAMETERS[0],
        bundle.display()
    );
    let url = url::<E>(&format!("localhost:{port}"), user, &query);
    let connector = connector::<E>(&url, provider(&clock).await).await;
    assert_eq!(E::tls_mode(&connector), TlsMode::VerifyFull);
    logs_in_directly_as::<E>(&connector, user).await;
}

async fn a_wrong_ca_is_an_untrusted_certificate_error_naming_the_file<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_wrong_ca_user";
    E::create_user(user, Login::Token("not-the-token")).await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    fs::write(&wrong, unrelated_cas(3)).unwrap();

    let clock = ManualClock::new(t0());
    for parameter in E::CA_FILE_PARAMETERS {
        let query = format!("&{}&{parameter}={}", E::VERIFY_CA, wrong.display());
        let url = url::<E>(&format!("localhost:{port}"), user, &query);
        let connector = connector::<E>(&url, provider(&clock).await).await;
        let err = connect_err::<E>(&connector).await;
        let ConnectError::UntrustedCertificate { ref trusted, .. } = err else {
            panic!("expected an untrusted certificate, got {err:?}");
        };
        assert_eq!(
            trusted,
            &format!(
                "the CA file {} named by {parameter} in the URL (3 certificates)",
                wrong.display()
            )
        );
        let text = err.to_string();
        assert!(text.contains(&wrong.display().to_string()), "{text}");
        assert!(text.contains("is not trusted"), "{text}");
        assert!(text.contains("the token was not sent"), "{text}");
        assert!(std::error::Error::source(&err).is_some());
    }
    assert!(!E::server().log().contains(&E::wrong_password_line(user)));
}

async fn a_host_name_mismatch_names_both_names<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_mismatch_user";
    // Signed for the RDS name (iamHost) and the dialled port.
    let token = token_at_t0(ENDPOINT_HOST, port, user);
    E::create_user(user, Login::Token(&token)).await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let ca = CaSource::pem(E::server_ca().ca_pem());

    let connector = E::builder("127.0.0.1", port)
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .ca(ca.clone())
        .system_roots(false)
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    let err = connect_err::<E>(&connector).await;
    let ConnectError::HostNameMismatch {
        ref expected,
        ref presented,
        ..
    } = err
    else {
        panic!("expected a host name mismatch, got {err:?}");
    };
    assert_eq!(expected, ENDPOINT_HOST);
    // Read from the certificate (for MySQL by a second handshake speaking its TLS upgrade).
    assert_eq!(presented, &["localhost".to_owned()]);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the certificate of 127.0.0.1:{port} (as {ENDPOINT_HOST}) is for localhost, not for \
             {ENDPOINT_HOST}"
        )),
        "{text}"
    );
    assert!(!E::server().log().contains(&E::wrong_password_line(user)));

    // verify-ca checks the chain only: the same connection logs in.
    let connector = E::builder("127.0.0.1", port)
        .iam_host(ENDPOINT_HOST)
        .user(user)
        .ca(ca)
        .system_roots(false)
        .tls_mode(TlsMode::VerifyCa)
        .token_provider(tokens)
        .build()
        .await
        .unwrap();
    logs_in_directly_as::<E>(&connector, user).await;
}

async fn require_encrypts_without_checking_the_certificate<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_require_user";
    let token = token_at_t0("localhost", port, user);
    E::create_user(user, Login::Token(&token)).await;
    let clock = ManualClock::new(t0());
    // No CA at all: require does not verify.
    let query = format!("&{}", E::REQUIRE);
    let url = url::<E>(&format!("localhost:{port}"), user, &query);
    let connector = connector::<E>(&url, provider(&clock).await).await;
    assert_eq!(E::tls_mode(&connector), TlsMode::Require);
    logs_in_directly_as::<E>(&connector, user).await;
}

async fn a_server_without_tls_is_refused_before_any_password<E: Db>() {
    let user = "conn_plain_user";
    let server = E::start_server_without_tls(user, "secret-of-the-user").await;
    let port = server.addr().port();

    let clock = ManualClock::new(t0());
    let connector = E::from_url(&url::<E>(&format!("127.0.0.1:{port}"), user, ""))
        .unwrap()
        .tls_mode(TlsMode::Require)
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err::<E>(&connector).await;
    assert!(matches!(err, ConnectError::TlsRefused { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "127.0.0.1:{port} refused TLS (it does not support SSL connections)"
        )),
        "{text}"
    );
    assert!(text.contains("the token was not sent"));
    assert!(
        !server.log().contains(&E::wrong_password_line(user)),
        "{}",
        server.log()
    );

    // Control: a client that does send a (wrong) password over plaintext leaves the line.
    let control = E::login_plaintext(server.addr(), user, "wrong").await;
    assert!(control.is_err());
    assert!(server.log().contains(&E::wrong_password_line(user)));
}

async fn a_rejected_token_lists_the_likely_causes_and_is_retried_once_when_cached<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_rejected_user";
    E::create_user(user, Login::Token("not-the-token")).await;
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let query = format!("&{}", E::VERIFY_FULL);
    let connector = E::from_url(&url::<E>(&format!("localhost:{port}"), user, &query))
        .unwrap()
        .ca(CaSource::pem(E::server_ca().ca_pem()))
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();

    // A freshly minted token is rejected: no retry.
    let err = connect_err::<E>(&connector).await;
    let ConnectError::LoginRejected { retried, .. } = err else {
        panic!("expected a rejected login, got {err:?}");
    };
    assert!(!retried);
    assert_eq!(tokens.stats().minted, 1);
    assert!(E::server().log().contains(&E::wrong_password_line(user)));

    // Now the token comes from the cache: invalidated, minted again, tried once more.
    let err = connect_err::<E>(&connector).await;
    let ConnectError::LoginRejected { retried, .. } = err else {
        panic!("expected a rejected login, got {err:?}");
    };
    assert!(retried);
    assert_eq!(tokens.stats().minted, 2);
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "localhost:{port} rejected the IAM login of user `{user}`, also with a freshly minted \
             token (token signed for localhost:{port} in us-east-1); likely causes: (1) {}",
            E::first_likely_cause(user)
        )),
        "{text}"
    );
    for cause in ["resource id", "case and spelling", "clock", "iamRegion"] {
        assert!(text.contains(cause), "{cause}: {text}");
    }
    // The server's own refusal is the source.
    let chain = chain(&err);
    assert!(chain.contains(&E::wrong_password_line(user)), "{chain}");
}

async fn an_unreachable_first_host_moves_on_to_the_next<E: Db>() {
    let port = server_port::<E>();
    let user = "conn_multi_user";
    let token = token_at_t0("localhost", port, user);
    E::create_user(user, Login::Token(&token)).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // nobody listens once the listener is dropped
    let clock = ManualClock::new(t0());
    let tokens = provider(&clock).await;
    let hosts = format!("127.0.0.1:{closed},localhost:{port}");
    let connector = E::from_url(&url::<E>(&hosts, user, ""))
        .unwrap()
        .ca(CaSource::pem(E::server_ca().ca_pem()))
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(E::targets(&connector).len(), 2);
    logs_in_directly_as::<E>(&connector, user).await;
    // Each host signed its own token.
    assert_eq!(tokens.stats().minted, 2);

    // Both closed: the error names both hosts; the last one's error is the source.
    let connector = E::builder("127.0.0.1", closed)
        .add_host("127.0.0.1", closed)
        .user(user)
        .region(REGION)
        .token_provider(tokens)
        .build()
        .await
        .unwrap();
    let err = connect_err::<E>(&connector).await;
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

async fn connect_timeout_limits_a_server_that_never_answers<E: Db>() {
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
    // In the engine's unit: seconds for PostgreSQL, milliseconds for MySQL (as Connector/J).
    let query = format!("&{}", E::connect_timeout(Duration::from_secs(1)));
    let connector = E::from_url(&url::<E>(&format!("127.0.0.1:{port}"), "u", &query))
        .unwrap()
        .token_provider(provider(&clock).await)
        .build()
        .await
        .unwrap();
    let err = connect_err::<E>(&connector).await;
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

async fn an_iam_host_with_a_trailing_root_dot_signs_and_verifies_the_name_without_it<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_root_dot_user";
    E::create_user(user, Login::Trust).await;
    let url = e.url_text(user, E::DATABASE).replace(
        &format!("iamHost={ENDPOINT_HOST}&"),
        &format!("iamHost={ENDPOINT_HOST}.&"),
    );
    let tokens = provider(&e.clock).await;
    let connector = connector::<E>(&JdbcUrl::parse(&url).unwrap(), tokens).await;
    assert_eq!(E::targets(&connector)[0].tls_name(), ENDPOINT_HOST);
    logs_in_as::<E>(&connector, user).await;
    assert_eq!(e.outcomes(), [LoginOutcome::Accepted]);
}

async fn through_the_emulator_connect_query_and_transactions<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_user";
    let database = E::create_user_with_notes(user).await;
    let connector = e.connector(user, &database, provider(&e.clock).await).await;
    let target = &E::targets(&connector)[0];
    assert_eq!(target.tls_name(), ENDPOINT_HOST);
    assert_eq!(target.dial.host, "127.0.0.1");
    assert_eq!(
        (target.token.host.as_str(), target.token.port),
        (ENDPOINT_HOST, E::ENDPOINT_PORT)
    );

    let mut session = E::connect(&connector).await.unwrap();
    let expected = Whoami {
        user: E::account(user),
        port: server_port::<E>(),
        database,
    };
    assert_eq!(E::whoami(&mut session).await, expected);
    E::execute(&mut session, "CREATE TEMPORARY TABLE t (n INT)")
        .await
        .unwrap();
    for (n, end) in [(1, "ROLLBACK"), (2, "COMMIT")] {
        for sql in [
            "START TRANSACTION",
            &format!("INSERT INTO t VALUES ({n})"),
            end,
        ] {
            E::execute(&mut session, sql).await.unwrap();
        }
    }
    assert_eq!(E::count(&mut session, "SELECT count(*) FROM t").await, 1);
    assert_eq!(
        E::count(&mut session, "SELECT count(*) FROM t WHERE n = 2").await,
        1
    );
    E::close(session).await;

    let logins = e.emulator.logins();
    assert_eq!(logins.len(), 1);
    assert!(logins[0].tls);
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

/// `PgConnector::config`, `MySqlConnector::opts`.
async fn config_and_opts_hand_out_a_frozen_token_and_its_end<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_config_user";
    E::create_user(user, Login::Trust).await;
    let connector = e
        .connector(user, E::DATABASE, provider(&e.clock).await)
        .await;
    let (frozen, valid_until) = E::frozen(&connector, user).await;
    assert_eq!(valid_until, e.clock.now() + Duration::from_secs(900));
    assert_eq!(E::login_frozen(&frozen).await.unwrap(), E::account(user));
    // The token in the settings is frozen: past its end, the same settings are refused.
    e.clock.set(valid_until + Duration::from_secs(1));
    let err = E::login_frozen(&frozen).await.unwrap_err();
    assert_eq!(E::code(&err), E::REFUSED, "{err}");
}

async fn a_token_expiring_between_two_connections_is_replaced<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_expiry_user";
    E::create_user(user, Login::Trust).await;
    // One clock for the emulator and the provider.
    let tokens = provider(&e.clock).await;
    let connector = e.connector(user, E::DATABASE, tokens.clone()).await;
    logs_in_as::<E>(&connector, user).await;

    e.clock.advance(Duration::from_secs(16 * 60));
    logs_in_as::<E>(&connector, user).await;
    assert_eq!(tokens.stats().minted, 2);
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted, LoginOutcome::Accepted]
    );
}

async fn a_cached_token_the_server_rejects_is_retried_exactly_once<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_retry_user";
    E::create_user(user, Login::Trust).await;
    // The provider's clock lags the emulator's.
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let connector = e.connector(user, E::DATABASE, tokens.clone()).await;
    let capture = LogCapture::default();
    let _guard = capture.install();
    logs_in_as::<E>(&connector, user).await;
    assert_eq!(tokens.stats().minted, 1);

    provider_clock.advance(LAG);
    e.clock.advance(PAST_EXPIRY);
    logs_in_as::<E>(&connector, user).await;
    assert_one_retry(&e, &tokens);
    assert_eq!(
        tokens.stats().hits,
        1,
        "only the refused login used the cache"
    );

    // The retry is logged; no token, nor its signature, is.
    let logs = capture.text();
    assert!(
        logs.contains(
            "the server rejected a cached IAM token: minting a fresh one and retrying once"
        ),
        "{logs}"
    );
    let token = tokens
        .token(&E::targets(&connector)[0].token)
        .await
        .unwrap();
    let token = token.expose();
    let signature = token.rsplit_once("X-Amz-Signature=").unwrap().1;
    assert!(!logs.contains(signature), "{logs}");
    assert!(!logs.contains(token));
}

async fn a_token_for_the_wrong_region_is_rejected_with_the_causes<E: Db>() {
    let e = Emulated::<E>::start().await;
    let user = "conn_emu_region_user";
    E::create_user(user, Login::Trust).await;
    let tokens = provider(&e.clock).await;
    let connector = E::from_url(&e.url(user, E::DATABASE))
        .unwrap()
        .region("eu-west-1")
        .system_roots(false)
        .token_provider(tokens.clone())
        .build()
        .await
        .unwrap();
    let err = connect_err::<E>(&connector).await;
    assert!(err.is_login_rejected(), "{err:?}");
    assert!(err.to_string().contains("in eu-west-1"), "{err}");
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::WrongRegion)]
    );
    assert_eq!(tokens.stats().minted, 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

//! The README's diesel-async recipe ([`rds_iam_diesel_async::manager`]) in a bb8 pool, through
//! the emulator in front of a throw-away PostgreSQL, on a manual clock shared by the emulator
//! and the token cache (rds-iam's own test support, `tests/it/support`, started the same way as
//! its pool tests in `tests/it/pools`): a connection opened after the token expired logs in
//! with a fresh token and runs a diesel query; a wrong secret key reaches the caller as diesel's
//! `BadConnection` carrying our message and its likely causes; no password in plaintext.

#[path = "../../../tests/it/support/mod.rs"]
mod support;

use diesel::ConnectionError;
use diesel::dsl::sql;
use diesel::sql_types::Text;
use diesel_async::pooled_connection::PoolError;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rds_iam_diesel_async::manager;
use rds_iam_emulator::{LoginOutcome, Rejection};

use support::engine::{
    Db, Emulated, Login, PAST_EXPIRY, Postgres, assert_fresh_login_after_expiry,
};
use support::iam::{SECRET_ACCESS_KEY, provider, provider_with, wrong_secret_credentials};

/// Who the session is and what it reads from its own table, by a diesel query.
async fn whoami(conn: &mut AsyncPgConnection) -> String {
    diesel::select(sql::<Text>(
        "current_user || ': ' || (SELECT body FROM notes WHERE id = 1)",
    ))
    .get_result(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token() {
    let user = "diesel_expiry_user";
    let e = Emulated::<Postgres>::start().await;
    let database = Postgres::create_user_with_notes(user).await;
    let tokens = provider(&e.clock).await;
    let connector = e.connector(user, &database, tokens.clone()).await;
    let pool = Pool::builder()
        .max_size(3)
        .build(manager(connector))
        .await
        .unwrap();
    let expected = format!("{user}: from the real backend");
    {
        // Two held at once.
        let (mut a, mut b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        assert_eq!(whoami(&mut a).await, expected);
        assert_eq!(whoami(&mut b).await, expected);
    }

    e.clock.advance(PAST_EXPIRY);
    // Three held at once: the two pooled ones and a new one, logged in after the jump.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool.get().await.unwrap());
    }
    for conn in &mut held {
        assert_eq!(whoami(conn).await, expected);
    }
    assert_eq!(pool.state().connections, 3);

    assert_fresh_login_after_expiry(&e, &tokens);
}

#[tokio::test]
async fn a_wrong_secret_key_reaches_the_caller_as_bad_connection_with_our_causes() {
    let user = "diesel_secret_user";
    let e = Emulated::<Postgres>::start().await;
    Postgres::create_user(user, Login::Trust).await;
    let tokens = provider_with(&e.clock, wrong_secret_credentials()).await;
    let connector = e.connector(user, Postgres::DATABASE, tokens.clone()).await;
    // The pool opens one connection while it is built, and does not retry it.
    let built = Pool::builder()
        .min_idle(Some(1))
        .retry_connection(false)
        .build(manager(connector))
        .await;
    let Err(PoolError::ConnectionError(ConnectionError::BadConnection(text))) = built else {
        panic!("expected BadConnection, got {:?}", built.err());
    };
    // Our message, then the likely causes, then the server's answer, on one line.
    for part in [
        format!("rejected the IAM login of user `{user}`"),
        "likely causes: (1) the database user is not granted rds_iam".to_owned(),
        format!("PAM authentication failed for user \"{user}\""),
    ] {
        assert!(text.contains(&part), "{part:?} not in: {text}");
    }
    assert!(!text.contains('\n'), "{text}");
    assert!(!text.contains("not/the/secret") && !text.contains(SECRET_ACCESS_KEY));
    assert!(!text.contains("X-Amz-Signature"), "no token: {text}");
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::BadSignature)]
    );
    assert_eq!(tokens.stats().minted, 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

/// The README's diesel-async block is this crate's recipe, line for line: `manager`'s body
/// between its recipe markers, then `main`'s pool line.
#[test]
fn the_readme_shows_the_recipe() {
    let readme = include_str!("../../../README.md");
    let section = &readme[readme.find("### diesel-async").unwrap()..];
    let block = section.split("```rust,ignore\n").nth(1).unwrap();
    let shown = &block[..block.find("```").unwrap()];

    let lib = include_str!("../src/lib.rs");
    let start = lib.find("the README shows these lines) ---\n").unwrap();
    let body =
        &lib[lib[start..].find('\n').unwrap() + start + 1..lib.find("    // --- end").unwrap()];
    let main = include_str!("../src/main.rs");
    let pool_line = main
        .lines()
        .find(|l| l.contains("Pool::builder()"))
        .unwrap();
    let recipe: String = body
        .lines()
        .chain([pool_line])
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    assert_eq!(shown, recipe);
}

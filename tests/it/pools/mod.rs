//! The pool integrations (`rds_iam::deadpool`, `rds_iam::bb8`) through the emulator in front of
//! the real PostgreSQL and MariaDB (each scenario once per engine), on one manual clock shared
//! by the emulator and the token cache: every new pooled connection logs in with a valid token,
//! after the clock jumps past a token's lifetime too; a failed login reaches the caller as our
//! `ConnectError`; a cold pool's burst of acquisitions costs one signature; no password is ever
//! sent in plaintext.

#[cfg(feature = "bb8")]
mod bb8;
#[cfg(feature = "deadpool")]
mod deadpool;
#[cfg(feature = "_mysql")]
mod mysql_async;
#[cfg(feature = "sqlx")]
mod sqlx;

use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::credentials::CredentialsConfig;
use rds_iam::provider::TokenProvider;
use rds_iam_emulator::{LoginOutcome, Rejection};

use crate::connect::{Emulated, chain};
use crate::support::engine::{
    Db, LAG, PAST_EXPIRY, assert_fresh_login_after_expiry, assert_one_retry,
};
use crate::support::iam::{credentials, provider_over};

#[cfg(any(feature = "deadpool", feature = "bb8", feature = "_mysql"))]
/// An emulator of `E`, a fresh user `user` (trusted by the backend) with a database of its
/// own, a token provider on the emulator's clock and a connector through the emulator.
async fn setup<E: Db>(user: &str) -> (Emulated<E>, TokenProvider, E::Connector) {
    let e = Emulated::<E>::start().await;
    let database = E::create_user_with_notes(user).await;
    let tokens = crate::support::iam::provider(&e.clock).await;
    let connector = e.connector(user, &database, tokens.clone()).await;
    (e, tokens, connector)
}

#[cfg(any(feature = "deadpool", feature = "bb8"))]
/// The same with a wrong secret access key.
async fn setup_wrong_secret<E: Db>(user: &str) -> (Emulated<E>, TokenProvider, E::Connector) {
    let e = Emulated::<E>::start().await;
    E::create_user(user, crate::support::engine::Login::Trust).await;
    let tokens = crate::support::iam::provider_with(
        &e.clock,
        crate::support::iam::wrong_secret_credentials(),
    )
    .await;
    let connector = e.connector(user, E::DATABASE, tokens.clone()).await;
    (e, tokens, connector)
}

/// A token provider on `clock` over the test credentials given as a credentials provider,
/// which is fetched (and counted: `credentials().stats().fetches`), unlike static ones.
async fn provider_fetching(clock: &ManualClock) -> TokenProvider {
    provider_over(clock, CredentialsConfig::provider(credentials())).await
}

#[cfg(any(feature = "deadpool", feature = "bb8"))]
/// [`setup`] with [`provider_fetching`].
async fn setup_fetching<E: Db>(user: &str) -> (Emulated<E>, TokenProvider, E::Connector) {
    let e = Emulated::<E>::start().await;
    E::create_user(user, crate::support::engine::Login::Trust).await;
    let tokens = provider_fetching(&e.clock).await;
    let connector = e.connector(user, E::DATABASE, tokens.clone()).await;
    (e, tokens, connector)
}

#[cfg(any(feature = "deadpool", feature = "bb8"))]
/// [`setup`] with the provider on a clock of its own, to be moved by [`LAG`].
async fn setup_lagging<E: Db>(
    user: &str,
) -> (Emulated<E>, TokenProvider, E::Connector, ManualClock) {
    let e = Emulated::<E>::start().await;
    E::create_user(user, crate::support::engine::Login::Trust).await;
    let provider_clock = ManualClock::new(crate::support::iam::t0());
    let tokens = crate::support::iam::provider(&provider_clock).await;
    let connector = e.connector(user, E::DATABASE, tokens.clone()).await;
    (e, tokens, connector, provider_clock)
}

#[cfg(any(feature = "deadpool", feature = "bb8"))]
/// The pooled `session` is `user`'s.
async fn assert_session_of<E: Db>(session: &mut E::Session, user: &str) {
    assert_eq!(E::whoami(session).await.user, E::account(user));
}

/// `err` is the connector's rejected login, with the likely causes; the emulator saw one
/// login with a bad signature (a fresh token is not retried) and no plaintext password.
fn assert_bad_signature<E: Db>(e: &Emulated<E>, tokens: &TokenProvider, err: &ConnectError) {
    assert!(err.is_login_rejected(), "{err:?}");
    let text = format!("{err}\n{}", chain(err));
    assert!(
        text.contains("a wrong secret access key"),
        "the causes name the secret key: {text}"
    );
    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Rejected(Rejection::BadSignature)]
    );
    assert_eq!(tokens.stats().minted, 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

/// After a burst of acquisitions of a cold pool that opened `connections`: one signature and
/// one credentials fetch, every login accepted.
fn assert_one_signature<E: Db>(e: &Emulated<E>, tokens: &TokenProvider, connections: usize) {
    assert!((1..=8).contains(&connections), "{connections}");
    let stats = tokens.stats();
    assert_eq!(stats.minted, 1, "{stats:?}");
    assert_eq!(tokens.credentials().stats().fetches, 1);
    assert_eq!(e.outcomes(), vec![LoginOutcome::Accepted; connections]);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}

/// `n` runs of `task` at once, each in its own tokio task; their results.
async fn concurrently<T, F>(n: usize, task: impl Fn() -> F) -> Vec<T>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        set.spawn(task());
    }
    set.join_all().await
}

//! `rds_iam::sqlx`: sqlx pools whose connect options carry a token from the cache.
//!
//! sqlx verifies the certificate for the host it dials (no `iamHost`), so the emulator here
//! emulates the endpoint `127.0.0.1` (its certificate names it), signed in `iamRegion`.

use std::time::{Duration, Instant};

use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::provider::TokenProvider;
use rds_iam::sqlx::{IamConnectOptions, IamDatabase, IamPool};
use rds_iam_emulator::RunningEmulator;
use sqlx::pool::{PoolConnection, PoolOptions};

use super::{
    PAST_EXPIRY, assert_bad_signature, assert_fresh_login_after_expiry, assert_one_retry,
    assert_one_signature, concurrently, provider_fetching,
};
use crate::connect::Emulated;
use crate::support::engine::{Db, Login, per_engine};
use crate::support::iam::{REGION, provider, provider_with, t0, wrong_secret_credentials};
use crate::support::logs::LogCapture;

per_engine!(
    a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token,
    a_wrong_secret_key_reaches_the_caller_as_our_error,
    a_cached_token_the_server_rejects_is_retried_exactly_once,
    two_hundred_acquisitions_of_a_cold_pool_cost_one_signature,
    the_refresher_stops_when_the_pool_closes_or_is_dropped,
    an_exhausted_pool_says_so_not_that_a_login_was_slow,
);

/// The engines' sqlx side.
pub(crate) trait SqlxDb: Db {
    type Sqlx: IamDatabase;
    /// `current_user` on `conn`, in [`Db::account`]'s form.
    fn current_user(conn: &mut PoolConnection<Self::Sqlx>) -> impl Future<Output = String>;
}

#[cfg(feature = "_postgres")]
impl SqlxDb for crate::support::engine::Postgres {
    type Sqlx = sqlx::Postgres;
    async fn current_user(conn: &mut PoolConnection<sqlx::Postgres>) -> String {
        sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
    }
}

#[cfg(feature = "_mysql")]
impl SqlxDb for crate::support::engine::MySql {
    type Sqlx = sqlx::MySql;
    async fn current_user(conn: &mut PoolConnection<sqlx::MySql>) -> String {
        sqlx::query_scalar("SELECT CURRENT_USER()")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
    }
}

/// The refresher's check interval in these tests (the clock is manual).
const CHECK: Duration = Duration::from_millis(20);

/// An emulator of `E` for the endpoint `127.0.0.1:`[`Db::ENDPOINT_PORT`].
async fn emulator<E: Db>() -> Emulated<E> {
    Emulated::start_as("127.0.0.1").await
}

/// The options for `user` through `emulator`: verify-full against its CA file.
async fn options<E: SqlxDb>(
    emulator: &RunningEmulator,
    user: &str,
    database: &str,
    tokens: TokenProvider,
) -> IamConnectOptions<E::Sqlx> {
    let url = format!(
        "jdbc:aws-wrapper:{}://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
         &iamRegion={REGION}&iamDefaultPort={}&{}&{}={}",
        E::SCHEME,
        emulator.local_addr().port(),
        E::ENDPOINT_PORT,
        E::VERIFY_FULL,
        E::CA_FILE_PARAMETERS[0],
        emulator.ca_path().unwrap().display(),
    );
    IamConnectOptions::from_url(&JdbcUrl::parse(&url).unwrap())
        .unwrap()
        .token_provider(tokens)
        .build()
        .await
        .unwrap()
}

fn pool_options<E: SqlxDb>(max: u32) -> PoolOptions<E::Sqlx> {
    PoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(20))
}

/// Wait (up to 5 s) until `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token<E: SqlxDb>() {
    let user = "pool_sqlx_expiry_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    let database = E::create_user_with_notes(user).await;
    let tokens = provider(clock).await;
    let options = options::<E>(emulator, user, &database, tokens.clone()).await;
    let pool = IamPool::connect_checking_every(options, pool_options::<E>(3), CHECK)
        .await
        .unwrap();
    // Fill the pool: two held at once (the first opened by `connect`).
    let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
    assert_eq!(E::current_user(&mut a).await, E::account(user));
    assert_eq!(E::current_user(&mut b).await, E::account(user));
    drop((a, b));

    clock.advance(PAST_EXPIRY);
    eventually("the refresher installs a fresh token", || {
        pool.refreshes() == 1
    })
    .await;
    // Three held at once through sqlx's own `acquire`: the two pooled ones and a new one.
    let p = pool.pool().clone();
    let held = concurrently(3, || {
        let pool = p.clone();
        async move { pool.acquire().await.unwrap() }
    })
    .await;
    for mut conn in held {
        assert_eq!(E::current_user(&mut conn).await, E::account(user));
    }
    assert_eq!(pool.size(), 3);
    assert_fresh_login_after_expiry(&e, &tokens);

    // Neither `Debug` shows the token.
    let token = tokens
        .token(&pool.iam_options().target().token)
        .await
        .unwrap();
    let shown = format!("{pool:?} {:?}", pool.iam_options());
    assert!(!shown.contains(token.expose()), "{shown}");
    let signature = token.expose().rsplit_once("X-Amz-Signature=").unwrap().1;
    assert!(!shown.contains(signature), "{shown}");
}

async fn a_wrong_secret_key_reaches_the_caller_as_our_error<E: SqlxDb>() {
    let user = "pool_sqlx_secret_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    E::create_user(user, Login::Trust).await;
    let tokens = provider_with(clock, wrong_secret_credentials()).await;
    let options = options::<E>(emulator, user, E::DATABASE, tokens.clone()).await;
    let err = IamPool::connect_checking_every(options, pool_options::<E>(2), CHECK)
        .await
        .unwrap_err();
    assert_bad_signature(&e, &tokens, &err);
}

async fn a_cached_token_the_server_rejects_is_retried_exactly_once<E: SqlxDb>() {
    let user = "pool_sqlx_retry_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    E::create_user(user, Login::Trust).await;
    // The provider's clock lags the emulator's.
    let provider_clock = ManualClock::new(t0());
    let tokens = provider(&provider_clock).await;
    let options = options::<E>(emulator, user, E::DATABASE, tokens.clone()).await;
    let pool = IamPool::connect_checking_every(options, pool_options::<E>(2), CHECK)
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();

    // 5 minutes on for the provider (its token is cached), 16 for the emulator (that token
    // has expired there): the cached token is refused once, a fresh one logs in.
    provider_clock.advance(super::LAG);
    clock.advance(PAST_EXPIRY);
    let mut fresh = pool.acquire().await.unwrap();
    assert_eq!(E::current_user(&mut fresh).await, E::account(user));
    drop(held);

    assert_one_retry(&e, &tokens);
}

async fn two_hundred_acquisitions_of_a_cold_pool_cost_one_signature<E: SqlxDb>() {
    let user = "pool_sqlx_burst_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    E::create_user(user, Login::Trust).await;
    let tokens = provider_fetching(clock).await;
    let options = options::<E>(emulator, user, E::DATABASE, tokens.clone()).await;
    let pool = IamPool::connect_checking_every(options, pool_options::<E>(8), CHECK)
        .await
        .unwrap();
    let p = pool.clone();
    concurrently(200, || {
        let pool = p.clone();
        async move { drop(pool.acquire().await.unwrap()) }
    })
    .await;
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(E::current_user(&mut conn).await, E::account(user));
    let size = usize::try_from(pool.size()).unwrap();
    assert_one_signature(&e, &tokens, size);
}

async fn the_refresher_stops_when_the_pool_closes_or_is_dropped<E: SqlxDb>() {
    let user = "pool_sqlx_refresher_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    E::create_user(user, Login::Trust).await;
    let tokens = provider(clock).await;
    let options = options::<E>(emulator, user, E::DATABASE, tokens.clone()).await;

    let pool = IamPool::connect_checking_every(options.clone(), pool_options::<E>(2), CHECK)
        .await
        .unwrap();
    assert!(pool.is_refreshing());
    pool.close().await;
    eventually("the refresher stops when the pool closes", || {
        !pool.is_refreshing()
    })
    .await;

    let capture = LogCapture::default();
    let _guard = capture.install();
    let pool = IamPool::connect_checking_every(options, pool_options::<E>(2), CHECK)
        .await
        .unwrap();
    let sqlx_pool = pool.pool().clone();
    drop(pool);
    eventually(
        "the refresher stops when the last IamPool is dropped",
        || {
            capture
                .text()
                .contains("the last IamPool was dropped: the token refresher stops")
        },
    )
    .await;
    // The sqlx pool itself still works, with the options it has.
    drop(sqlx_pool.acquire().await.unwrap());
}

async fn an_exhausted_pool_says_so_not_that_a_login_was_slow<E: SqlxDb>() {
    const WAIT: Duration = Duration::from_secs(2);
    let user = "pool_sqlx_exhausted_user";
    let e = emulator::<E>().await;
    let (emulator, clock) = (&e.emulator, &e.clock);
    E::create_user(user, Login::Trust).await;
    let tokens = provider(clock).await;
    let options = options::<E>(emulator, user, E::DATABASE, tokens.clone()).await;
    let pool =
        IamPool::connect_checking_every(options, pool_options::<E>(1).acquire_timeout(WAIT), CHECK)
            .await
            .unwrap();
    let mut held = pool.acquire().await.unwrap();

    let started = Instant::now();
    let err = pool.acquire().await.unwrap_err();
    assert!(started.elapsed() >= WAIT, "{:?}", started.elapsed());
    assert!(
        matches!(&err, ConnectError::PoolExhausted { max: 1, after, .. } if *after == WAIT),
        "{err:?}"
    );
    let text = err.to_string();
    for fix in [
        "max_connections",
        "connectTimeout",
        "acquire_timeout",
        "sooner",
    ] {
        assert!(text.contains(fix), "{fix}: {text}");
    }
    assert!(!text.contains("did not complete the login"), "{text}");
    let token = tokens
        .token(&pool.iam_options().target().token)
        .await
        .unwrap();
    assert!(!format!("{err:?}").contains(token.expose()), "{err:?}");

    // The held connection works; returned, it is the next one handed out (no new login).
    assert_eq!(E::current_user(&mut held).await, E::account(user));
    drop(held);
    let mut again = pool.acquire().await.unwrap();
    assert_eq!(E::current_user(&mut again).await, E::account(user));
    assert_eq!(emulator.logins().len(), 1, "{:?}", emulator.logins());
}

//! `rds_iam::deadpool`: deadpool pools whose new connections go through the connectors.

use deadpool::managed::{Manager, Pool, PoolError};
use rds_iam::connect::ConnectError;
use rds_iam::deadpool::ConnectorManager;

use super::{
    PAST_EXPIRY, assert_bad_signature, assert_fresh_login_after_expiry, assert_one_retry,
    assert_one_signature, assert_session_of, concurrently, setup, setup_fetching, setup_lagging,
    setup_wrong_secret,
};
use crate::support::engine::{Db, per_engine};

per_engine!(
    a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token,
    a_wrong_secret_key_reaches_the_caller_as_our_error,
    two_hundred_acquisitions_of_a_cold_pool_cost_one_signature,
    a_cached_token_the_server_rejects_is_retried_exactly_once,
);

/// The crate's manager for `E`'s connector.
type EnginePool<E> = Pool<ConnectorManager<<E as Db>::Connector>>;

async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token<E: Db>()
where
    ConnectorManager<E::Connector>: Manager<Type = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_deadpool_expiry_user";
    let (e, tokens, connector) = setup::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder(ConnectorManager::new(connector))
        .max_size(2)
        .build()
        .unwrap();
    // Fill the pool.
    let (mut a, mut b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_session_of::<E>(&mut a, user).await;
    assert_session_of::<E>(&mut b, user).await;
    drop((a, b));

    e.clock.advance(PAST_EXPIRY);
    pool.resize(3);
    // Three held at once: the two pooled ones and a new one.
    let p = pool.clone();
    let held = concurrently(3, || {
        let pool = p.clone();
        async move { pool.get().await.unwrap() }
    })
    .await;
    for mut session in held {
        assert_session_of::<E>(&mut session, user).await;
    }
    assert_eq!(pool.status().size, 3);
    assert_fresh_login_after_expiry(&e, &tokens);
}

async fn a_wrong_secret_key_reaches_the_caller_as_our_error<E: Db>()
where
    ConnectorManager<E::Connector>: Manager<Type = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let (e, tokens, connector) = setup_wrong_secret::<E>("pool_deadpool_secret_user").await;
    let pool: EnginePool<E> = Pool::builder(ConnectorManager::new(connector))
        .max_size(2)
        .build()
        .unwrap();
    match pool.get().await {
        Err(PoolError::Backend(err)) => assert_bad_signature(&e, &tokens, &err),
        Err(other) => panic!("expected the connector's error, got {other:?}"),
        Ok(_) => panic!("logged in with a wrong secret key"),
    }
}

async fn two_hundred_acquisitions_of_a_cold_pool_cost_one_signature<E: Db>()
where
    ConnectorManager<E::Connector>: Manager<Type = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_deadpool_burst_user";
    let (e, tokens, connector) = setup_fetching::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder(ConnectorManager::new(connector))
        .max_size(8)
        .build()
        .unwrap();
    let p = pool.clone();
    concurrently(200, || {
        let pool = p.clone();
        async move { drop(pool.get().await.unwrap()) }
    })
    .await;
    assert_session_of::<E>(&mut pool.get().await.unwrap(), user).await;
    assert_one_signature(&e, &tokens, pool.status().size);
}

async fn a_cached_token_the_server_rejects_is_retried_exactly_once<E: Db>()
where
    ConnectorManager<E::Connector>: Manager<Type = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_deadpool_retry_user";
    let (e, tokens, connector, provider_clock) = setup_lagging::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder(ConnectorManager::new(connector))
        .max_size(2)
        .build()
        .unwrap();
    let mut held = pool.get().await.unwrap();
    assert_session_of::<E>(&mut held, user).await;
    provider_clock.advance(super::LAG);
    e.clock.advance(PAST_EXPIRY);
    // A new connection: its cached token was revoked (expired on the emulator).
    let mut fresh = pool.get().await.unwrap();
    assert_session_of::<E>(&mut fresh, user).await;
    assert_one_retry(&e, &tokens);
}

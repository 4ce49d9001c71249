//! `rds_iam::bb8`: bb8 pools whose new connections go through the connectors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bb8::{ErrorSink, ManageConnection, Pool, RunError};
use rds_iam::bb8::ConnectorManager;
use rds_iam::connect::ConnectError;

use super::{
    PAST_EXPIRY, assert_bad_signature, assert_fresh_login_after_expiry, assert_one_retry,
    assert_one_signature, assert_session_of, concurrently, setup, setup_fetching, setup_lagging,
    setup_wrong_secret,
};
use crate::support::engine::{Db, per_engine};

per_engine!(
    a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token,
    a_wrong_secret_key_fails_the_build_with_our_error,
    a_wrong_secret_key_at_get_reaches_the_error_sink_as_our_error,
    two_hundred_acquisitions_of_a_cold_pool_cost_one_signature,
    a_cached_token_the_server_rejects_is_retried_exactly_once,
);

/// The crate's manager for `E`'s connector.
type EnginePool<E> = Pool<ConnectorManager<<E as Db>::Connector>>;

async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token<E: Db>()
where
    ConnectorManager<E::Connector>: ManageConnection<Connection = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_bb8_expiry_user";
    let (e, tokens, connector) = setup::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder()
        .max_size(3)
        .build(ConnectorManager::new(connector))
        .await
        .unwrap();
    // Two held at once.
    let p = pool.clone();
    let held = concurrently(2, || {
        let pool = p.clone();
        async move { pool.get_owned().await.unwrap() }
    })
    .await;
    for mut session in held {
        assert_session_of::<E>(&mut session, user).await;
    }

    e.clock.advance(PAST_EXPIRY);
    // Three held at once: the two pooled ones and a new one.
    let held = concurrently(3, || {
        let pool = p.clone();
        async move { pool.get_owned().await.unwrap() }
    })
    .await;
    for mut session in held {
        assert_session_of::<E>(&mut session, user).await;
    }
    assert_eq!(pool.state().connections, 3);
    assert_fresh_login_after_expiry(&e, &tokens);
}

async fn a_wrong_secret_key_fails_the_build_with_our_error<E: Db>()
where
    ConnectorManager<E::Connector>: ManageConnection<Connection = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let (e, tokens, connector) = setup_wrong_secret::<E>("pool_bb8_secret_build_user").await;
    let built: Result<EnginePool<E>, _> = Pool::builder()
        .min_idle(Some(1))
        .retry_connection(false)
        .build(ConnectorManager::new(connector))
        .await;
    assert_bad_signature(&e, &tokens, &built.err().unwrap());
}

/// Keeps what it is given.
#[derive(Debug, Clone, Default)]
struct Keep(Arc<Mutex<Vec<ConnectError>>>);

impl ErrorSink<ConnectError> for Keep {
    fn sink(&self, error: ConnectError) {
        self.0.lock().unwrap().push(error);
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<ConnectError>> {
        Box::new(self.clone())
    }
}

async fn a_wrong_secret_key_at_get_reaches_the_error_sink_as_our_error<E: Db>()
where
    ConnectorManager<E::Connector>: ManageConnection<Connection = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let (e, tokens, connector) = setup_wrong_secret::<E>("pool_bb8_secret_get_user").await;
    let sink = Keep::default();
    let pool: EnginePool<E> = Pool::builder()
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(2))
        .error_sink(Box::new(sink.clone()))
        .build(ConnectorManager::new(connector))
        .await
        .unwrap();
    assert!(matches!(pool.get().await, Err(RunError::TimedOut)));
    let errors = std::mem::take(&mut *sink.0.lock().unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_bad_signature(&e, &tokens, &errors[0]);
}

async fn two_hundred_acquisitions_of_a_cold_pool_cost_one_signature<E: Db>()
where
    ConnectorManager<E::Connector>: ManageConnection<Connection = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_bb8_burst_user";
    let (e, tokens, connector) = setup_fetching::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder()
        .max_size(8)
        .build(ConnectorManager::new(connector))
        .await
        .unwrap();
    let p = pool.clone();
    concurrently(200, || {
        let pool = p.clone();
        async move { drop(pool.get_owned().await.unwrap()) }
    })
    .await;
    assert_session_of::<E>(&mut pool.get().await.unwrap(), user).await;
    assert_one_signature(&e, &tokens, pool.state().connections as usize);
}

async fn a_cached_token_the_server_rejects_is_retried_exactly_once<E: Db>()
where
    ConnectorManager<E::Connector>: ManageConnection<Connection = E::Session, Error = ConnectError>,
    E::Session: Send,
{
    let user = "pool_bb8_retry_user";
    let (e, tokens, connector, provider_clock) = setup_lagging::<E>(user).await;
    let pool: EnginePool<E> = Pool::builder()
        .max_size(2)
        .build(ConnectorManager::new(connector))
        .await
        .unwrap();
    let mut held = pool.get_owned().await.unwrap();
    assert_session_of::<E>(&mut held, user).await;
    provider_clock.advance(super::LAG);
    e.clock.advance(PAST_EXPIRY);
    // A new connection: its cached token was revoked (expired on the emulator).
    let mut fresh = pool.get_owned().await.unwrap();
    assert_session_of::<E>(&mut fresh, user).await;
    assert_one_retry(&e, &tokens);
}

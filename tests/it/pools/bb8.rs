//! `rds_iam::bb8`: a bb8 pool whose new connections go through `PgConnector`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rds_iam::bb8::bb8::ErrorSink;
use rds_iam::bb8::{PgManager, Pool, RunError};
use rds_iam::connect::ConnectError;

use super::{
    PAST_EXPIRY, assert_bad_signature, assert_fresh_login_after_expiry, assert_one_signature,
    concurrently, session_user, setup, setup_wrong_secret,
};

#[tokio::test]
async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token() {
    let user = "pool_bb8_expiry_user";
    let (e, tokens, connector) = setup(user).await;
    let pool = Pool::builder()
        .max_size(3)
        .build(PgManager::new(connector))
        .await
        .unwrap();
    // Two held at once.
    let p = pool.clone();
    let held = concurrently(2, || {
        let pool = p.clone();
        async move { pool.get_owned().await.unwrap() }
    })
    .await;
    for client in &held {
        assert_eq!(session_user(client).await, user);
    }
    drop(held);

    e.clock.advance(PAST_EXPIRY);
    // Three held at once: the two pooled ones and a new one.
    let held = concurrently(3, || {
        let pool = p.clone();
        async move { pool.get_owned().await.unwrap() }
    })
    .await;
    for client in &held {
        assert_eq!(session_user(client).await, user);
    }
    assert_eq!(pool.state().connections, 3);
    assert_fresh_login_after_expiry(&e, &tokens);
}

#[tokio::test]
async fn a_wrong_secret_key_fails_the_build_with_our_error() {
    let (e, tokens, connector) = setup_wrong_secret("pool_bb8_secret_build_user").await;
    let err = Pool::builder()
        .min_idle(Some(1))
        .retry_connection(false)
        .build(PgManager::new(connector))
        .await
        .unwrap_err();
    assert_bad_signature(&e, &tokens, &err);
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

#[tokio::test]
async fn a_wrong_secret_key_at_get_reaches_the_error_sink_as_our_error() {
    let (e, tokens, connector) = setup_wrong_secret("pool_bb8_secret_get_user").await;
    let sink = Keep::default();
    let pool = Pool::builder()
        .retry_connection(false)
        .connection_timeout(Duration::from_secs(2))
        .error_sink(Box::new(sink.clone()))
        .build(PgManager::new(connector))
        .await
        .unwrap();
    assert!(matches!(pool.get().await, Err(RunError::TimedOut)));
    let errors = std::mem::take(&mut *sink.0.lock().unwrap());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_bad_signature(&e, &tokens, &errors[0]);
}

#[tokio::test]
async fn fifty_acquisitions_of_a_cold_pool_cost_one_signature() {
    let user = "pool_bb8_burst_user";
    let (e, tokens, connector) = setup(user).await;
    let pool = Pool::builder()
        .max_size(8)
        .build(PgManager::new(connector))
        .await
        .unwrap();
    let p = pool.clone();
    let users = concurrently(50, || {
        let pool = p.clone();
        async move { session_user(&pool.get_owned().await.unwrap()).await }
    })
    .await;
    assert!(users.iter().all(|u| u == user));
    let opened = pool.state().connections as usize;
    assert!((1..=8).contains(&opened), "{opened}");
    assert_one_signature(&e, &tokens, opened);
}

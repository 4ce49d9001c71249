//! `rds_iam::deadpool`: a deadpool pool whose new connections go through `PgConnector`.

use rds_iam::deadpool::{Manager, Pool, PoolError};

use super::{
    PAST_EXPIRY, assert_bad_signature, assert_fresh_login_after_expiry, assert_one_signature,
    concurrently, session_user, setup, setup_wrong_secret,
};

#[tokio::test]
async fn a_connection_opened_after_the_token_expired_logs_in_with_a_fresh_token() {
    let user = "pool_deadpool_expiry_user";
    let (e, tokens, connector) = setup(user).await;
    let pool = Pool::builder(Manager::new(connector))
        .max_size(2)
        .build()
        .unwrap();
    // Fill the pool.
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!(session_user(&a).await, user);
    assert_eq!(session_user(&b).await, user);
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
    for client in &held {
        assert_eq!(session_user(client).await, user);
    }
    assert_eq!(pool.status().size, 3);
    assert_fresh_login_after_expiry(&e, &tokens);
}

#[tokio::test]
async fn a_wrong_secret_key_reaches_the_caller_as_our_error() {
    let (e, tokens, connector) = setup_wrong_secret("pool_deadpool_secret_user").await;
    let pool = Pool::builder(Manager::new(connector))
        .max_size(2)
        .build()
        .unwrap();
    match pool.get().await {
        Err(PoolError::Backend(err)) => assert_bad_signature(&e, &tokens, &err),
        other => panic!("expected the connector's error, got {:?}", other.map(drop)),
    }
}

#[tokio::test]
async fn fifty_acquisitions_of_a_cold_pool_cost_one_signature() {
    let user = "pool_deadpool_burst_user";
    let (e, tokens, connector) = setup(user).await;
    let pool = Pool::builder(Manager::new(connector))
        .max_size(8)
        .build()
        .unwrap();
    let p = pool.clone();
    let users = concurrently(50, || {
        let pool = p.clone();
        async move { session_user(&pool.get().await.unwrap()).await }
    })
    .await;
    assert!(users.iter().all(|u| u == user));
    let opened = pool.status().size;
    assert!((1..=8).contains(&opened), "{opened}");
    assert_one_signature(&e, &tokens, opened);
}

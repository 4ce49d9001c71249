//! The README's diesel-async recipe, compiled and tested (`tests/live.rs`: through the emulator
//! in front of a throw-away PostgreSQL, on a fake clock): a diesel-async connection manager
//! whose every new connection logs in through [`PgConnector`] (a token from its cache, TLS as
//! the URL says, one retry on a rejected cached token), set up with diesel-async's
//! `ManagerConfig::custom_setup`; `main.rs` makes a bb8 pool of it.

use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use rds_iam::postgres::PgConnector;

/// A diesel-async connection manager (for its bb8 or deadpool pools) whose every new connection
/// is logged in by `connector`. A failed login reaches diesel as
/// `ConnectionError::BadConnection` holding our message and its causes
/// ([`ConnectError::with_causes`](rds_iam::connect::ConnectError::with_causes)).
pub fn manager(connector: PgConnector) -> AsyncDieselConnectionManager<AsyncPgConnection> {
    // --- the recipe (the README shows these lines) ---
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(move |_url| {
        let connector = connector.clone(); // an rds_iam::postgres::PgConnector
        Box::pin(async move {
            let (client, connection) = connector
                .connect()
                .await
                .map_err(|e| ConnectionError::BadConnection(e.with_causes()))?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        })
    });
    let manager =
        AsyncDieselConnectionManager::new_with_config("unused: the connector dials", config);
    // --- end of the recipe (and the pool: `Pool::builder()...build(manager)`, in main.rs) ---
    manager
}

//! The README's diesel-async recipe, compiled (`cargo check --manifest-path
//! examples/diesel-async/Cargo.toml`): a diesel-async bb8 pool whose every new connection logs
//! in through [`PgConnector`] (a token from its cache, TLS as the URL says, one retry on a
//! rejected cached token), set up with diesel-async's `ManagerConfig::custom_setup`.
//!
//! ```sh
//! cargo run --manifest-path examples/diesel-async/Cargo.toml -- 'jdbc:aws-wrapper:postgresql://...'
//! ```

use diesel::ConnectionError;
use diesel_async::pooled_connection::bb8::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::postgres::PgConnector;

/// A bb8 pool of diesel-async connections, each new one logged in by `connector`.
async fn pool(connector: PgConnector) -> Result<Pool<AsyncPgConnection>, Box<dyn std::error::Error>> {
    // --- the recipe (the README shows these lines) ---
    let mut config = ManagerConfig::<AsyncPgConnection>::default();
    config.custom_setup = Box::new(move |_url| {
        let connector = connector.clone();
        Box::pin(async move {
            let (client, connection) = connector.connect().await.map_err(|e| {
                ConnectionError::BadConnection(format!("{e}: {}", std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()))
            })?;
            AsyncPgConnection::try_from_client_and_connection(client, connection).await
        })
    });
    let manager = AsyncDieselConnectionManager::new_with_config("unused: the connector dials", config);
    Ok(Pool::builder().max_size(8).build(manager).await?)
    // --- end of the recipe ---
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args().nth(1).ok_or("give a jdbc:aws-wrapper:postgresql:// URL")?;
    let connector = PgConnector::from_url(&JdbcUrl::parse(&url)?)?.build().await?;
    let pool = pool(connector).await?;
    let mut conn = pool.get().await?;
    let rows = diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    println!("logged in through the pool; SELECT 1 gave {rows} row");
    Ok(())
}

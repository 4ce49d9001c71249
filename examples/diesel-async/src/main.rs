//! The README's diesel-async recipe ([`rds_iam_diesel_async::manager`]) in a bb8 pool, run
//! against a database:
//!
//! ```sh
//! cargo run --manifest-path examples/diesel-async/Cargo.toml -- 'jdbc:aws-wrapper:postgresql://...'
//! ```

use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::bb8::Pool;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::postgres::PgConnector;
use rds_iam_diesel_async::manager;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("give a jdbc:aws-wrapper:postgresql:// URL")?;
    let connector = PgConnector::from_url(&JdbcUrl::parse(&url)?)?
        .build()
        .await?;
    let manager = manager(connector);
    // The recipe's last line (the README shows it).
    let pool = Pool::builder().max_size(8).build(manager).await?;
    let mut conn = pool.get().await?;
    let rows = diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    println!("logged in through the pool; SELECT 1 gave {rows} row");
    Ok(())
}

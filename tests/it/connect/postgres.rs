//! What only the PostgreSQL connector does.

use rds_iam::jdbc::JdbcUrl;
use rds_iam::postgres::PgConnector;

use super::Emulated;
use crate::support::engine::{Db, Login, Postgres};
use crate::support::iam::provider;

#[tokio::test]
async fn the_url_application_name_reaches_the_server() {
    let e = Emulated::<Postgres>::start().await;
    let user = "conn_emu_app_name_user";
    Postgres::create_user(user, Login::Trust).await;
    let url = e.url_text(user, Postgres::DATABASE) + "&ApplicationName=rds-iam-connector-test";
    let connector = PgConnector::from_url(&JdbcUrl::parse(&url).unwrap())
        .unwrap()
        .system_roots(false)
        .token_provider(provider(&e.clock).await)
        .build()
        .await
        .unwrap();
    let (client, connection) = connector.connect().await.unwrap();
    tokio::spawn(connection);
    let name: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "rds-iam-connector-test");
}

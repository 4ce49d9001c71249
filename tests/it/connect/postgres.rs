//! What only the PostgreSQL connector does.

use rds_iam::jdbc::JdbcUrl;

use super::{Emulated, connector};
use crate::support::engine::{Db, Login, Postgres};
use crate::support::iam::provider;

#[tokio::test]
async fn the_url_application_name_reaches_the_server() {
    let e = Emulated::<Postgres>::start().await;
    let user = "conn_emu_app_name_user";
    Postgres::create_user(user, Login::Trust).await;
    let url = e.url_text(user, Postgres::DATABASE) + "&ApplicationName=rds-iam-connector-test";
    let tokens = provider(&e.clock).await;
    let connector = connector::<Postgres>(&JdbcUrl::parse(&url).unwrap(), tokens).await;
    let client = Postgres::connect(&connector).await.unwrap();
    let name: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "rds-iam-connector-test");
}

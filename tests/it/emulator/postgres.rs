//! What only the PostgreSQL front end does: startup parameters, cancel requests, GSSENC.

use std::time::Duration;

use postgres_native_tls::MakeTlsConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::error::SqlState;

use super::{harness, token};
use crate::support::engine::postgres_wire::{
    ASKED_FOR_PASSWORD, GSSENC_REQUEST, ssl_request, startup,
};
use crate::support::engine::{Db, Login, Postgres, tls_connector};
use crate::support::postgres;

#[tokio::test]
async fn startup_parameters_reach_the_backend() {
    let h = harness::<Postgres>().await;
    let user = "emu_iam_params";
    Postgres::create_user(user, Login::Trust).await;
    postgres::shared().create_database("emu_app_db", user).await;
    // The test client's application_name (see support/engine/postgres.rs).
    let client = h
        .login_to(user, &token::<Postgres>(user), Some("emu_app_db"))
        .await
        .unwrap();
    let row = client
        .query_one(
            "SELECT current_database()::text, current_setting('application_name')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "emu_app_db");
    assert_eq!(row.get::<_, String>(1), "rds-iam-emulator-test");
    assert_eq!(
        h.emulator.logins()[0].database.as_deref(),
        Some("emu_app_db")
    );
}

#[tokio::test]
async fn cancel_requests_reach_the_backend() {
    let h = harness::<Postgres>().await;
    let user = "emu_iam_cancel";
    Postgres::create_user(user, Login::Trust).await;
    let client = h.login(user, &token::<Postgres>(user)).await.unwrap();
    let cancel = client.cancel_token();
    let sleeper = tokio::spawn(async move { client.batch_execute("SELECT pg_sleep(60)").await });
    // Cancel once the backend runs the query (a cancel before that would be a no-op).
    let admin = postgres::shared().admin().await;
    loop {
        let running: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE usename = $1 AND state = 'active' AND query LIKE '%pg_sleep(60)%'",
                &[&user],
            )
            .await
            .unwrap()
            .get(0);
        if running > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tls = MakeTlsConnector::new(tls_connector(h.emulator.ca_pem().unwrap()));
    cancel.cancel_query(tls).await.unwrap();
    let err = sleeper.await.unwrap().unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
}

#[tokio::test]
async fn gssenc_is_declined_then_tls_serves_the_endpoint_name() {
    let h = harness::<Postgres>().await;
    let mut stream = TcpStream::connect(h.emulator.local_addr()).await.unwrap();
    stream.write_all(&GSSENC_REQUEST).await.unwrap();
    assert_eq!(stream.read_u8().await.unwrap(), b'N');
    stream.write_all(&ssl_request()).await.unwrap();
    assert_eq!(stream.read_u8().await.unwrap(), b'S');
    let connector =
        tokio_native_tls::TlsConnector::from(tls_connector(h.emulator.ca_pem().unwrap()));
    let mut tls = connector
        .connect(crate::support::iam::ENDPOINT_HOST, stream)
        .await
        .unwrap();
    // Over TLS the emulator asks for a cleartext password (AuthenticationCleartextPassword).
    tls.write_all(&startup("someone", Postgres::DATABASE))
        .await
        .unwrap();
    let mut reply = [0u8; 9];
    tls.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, ASKED_FOR_PASSWORD);
    assert!(h.emulator.logins().is_empty());
}

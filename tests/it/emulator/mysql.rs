//! What only the MySQL front end does: its greeting, its connection ids and `KILL`.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::AuthPlugin;

use super::{harness, token};
use crate::support::engine::mysql_wire::greeted;
use crate::support::engine::{Db, Login, MySql};

#[tokio::test]
async fn the_greeting_id_is_the_emulators_and_the_session_the_backends() {
    let h = harness::<MySql>().await;
    let user = "emu_my_ids";
    MySql::create_user(user, Login::Trust).await;
    let mut conn = h.login(user, &token::<MySql>(user)).await.unwrap();
    // The backend sees the emulator's connection, from 127.0.0.1.
    let session_user: String = conn.query_first("SELECT USER()").await.unwrap().unwrap();
    assert_eq!(session_user, format!("{user}@127.0.0.1"));
    // The greeting's connection id is the emulator's own, from a range no backend session
    // reaches; CONNECTION_ID() is the backend session's.
    let id: u32 = conn
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert!(id < 1_000_000_000, "{id}");
    assert!(conn.id() >= 1_000_000_000, "{}", conn.id());
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn kill_query_from_another_session_reaches_the_backend() {
    let h = harness::<MySql>().await;
    let user = "emu_my_killer";
    MySql::create_user(user, Login::Trust).await;
    // KILL of one's own sessions needs no privilege beyond being the same user.
    let mut sleeper = h.login(user, &token::<MySql>(user)).await.unwrap();
    let mut killer = h.login(user, &token::<MySql>(user)).await.unwrap();
    let backend_id: u32 = sleeper
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    // Clients cancel with the id from the greeting (Connector/J's Statement.cancel, the
    // mysql client's Ctrl-C), others with CONNECTION_ID(): both reach the session.
    for id in [sleeper.id(), backend_id] {
        let mut conn = sleeper;
        let sleeping = tokio::spawn(async move {
            let err = conn.query_drop("SELECT SLEEP(60)").await.unwrap_err();
            (conn, err)
        });
        loop {
            let running: i64 = killer
                .query_first(format!(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                     WHERE ID = {backend_id} AND INFO LIKE 'SELECT SLEEP(60)%'"
                ))
                .await
                .unwrap()
                .unwrap();
            if running > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        killer.query_drop(format!("KILL QUERY {id}")).await.unwrap();
        // ER_QUERY_INTERRUPTED, from the backend session of the first connection.
        let (conn, err) = sleeping.await.unwrap();
        assert_eq!(MySql::code(&err), "1317", "KILL QUERY {id}");
        sleeper = conn;
    }
    // KILL CONNECTION with the greeting id ends the other session.
    killer
        .query_drop(format!("KILL CONNECTION {}", sleeper.id()))
        .await
        .unwrap();
    assert!(sleeper.query_drop("SELECT 1").await.is_err());
    // An id the emulator did not give out, or gave a session that is gone, goes to the
    // backend as it is: ER_NO_SUCH_THREAD.
    let err = killer
        .query_drop(format!("KILL QUERY {}", sleeper.id()))
        .await
        .unwrap_err();
    assert_eq!(MySql::code(&err), "1094");
}

#[tokio::test]
async fn greeting_offers_tls_and_the_backends_identity() {
    let h = harness::<MySql>().await;
    let (_stream, greeting) = greeted(h.emulator.local_addr()).await;
    let caps = greeting.capabilities();
    assert!(caps.contains(CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_PLUGIN_AUTH));
    assert!(!caps.contains(CapabilityFlags::CLIENT_COMPRESS));
    assert!(
        greeting.server_version_str().contains("MariaDB"),
        "{}",
        greeting.server_version_str()
    );
    assert_eq!(
        greeting.auth_plugin(),
        Some(AuthPlugin::MysqlNativePassword)
    );
    assert_eq!(greeting.nonce().len(), 20);
    // A second connection gets a scramble of its own.
    let (_other, other) = greeted(h.emulator.local_addr()).await;
    assert_ne!(other.nonce(), greeting.nonce());
    assert!(h.emulator.logins().is_empty());
}

//! The throw-away PostgreSQL of `support::postgres` does what later tests rely on.

use std::net::{IpAddr, Ipv4Addr};

use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::error::SqlState;

use crate::support::postgres::{self, PgOptions, PgServer, RoleAuth};

fn tls_trusting_shared_ca() -> MakeTlsConnector {
    let ca = native_tls::Certificate::from_pem(postgres::shared_ca().ca_pem().as_bytes()).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(ca)
        .disable_built_in_roots(true)
        .build()
        .unwrap();
    MakeTlsConnector::new(connector)
}

fn tcp_config(server: &PgServer, user: &str, password: &str) -> tokio_postgres::Config {
    let mut config = tokio_postgres::Config::new();
    config
        .host("localhost")
        .hostaddr(IpAddr::V4(Ipv4Addr::LOCALHOST))
        .port(server.port())
        .user(user)
        .password(password)
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Require);
    config
}

#[tokio::test]
async fn shared_server_serves_tls_and_each_auth_method() {
    let server = postgres::shared();
    eprintln!(
        "shared PostgreSQL on port {} started in {:?}",
        server.port(),
        server.startup_time
    );
    let cases = [
        ("live_pg_password_user", RoleAuth::Password("pw-1")),
        ("live_pg_md5_user", RoleAuth::Md5("pw-2")),
        ("live_pg_scram_user", RoleAuth::Scram("pw-3")),
    ];
    for (user, auth) in cases {
        server.create_role(user, auth).await;
        let password = match auth {
            RoleAuth::Password(p) | RoleAuth::Md5(p) | RoleAuth::Scram(p) => p,
            RoleAuth::Default => unreachable!(),
        };
        let (client, connection) = tcp_config(server, user, password)
            .connect(tls_trusting_shared_ca())
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), user);
        assert!(row.get::<_, bool>(1), "{user}: not over TLS");

        let err = tcp_config(server, user, "wrong")
            .connect(tls_trusting_shared_ca())
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}: a wrong password was accepted"));
        assert_eq!(
            err.code(),
            Some(&SqlState::INVALID_PASSWORD),
            "{user}: {err}"
        );
    }

    // A role without a group logs in with loopback trust.
    server
        .create_role("live_pg_trust_user", RoleAuth::Default)
        .await;
    let (client, connection) = tcp_config(server, "live_pg_trust_user", "ignored")
        .connect(tls_trusting_shared_ca())
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "live_pg_trust_user");
}

#[tokio::test]
async fn own_server_stops_and_cleans_up_on_drop() {
    let server = PgServer::start(&PgOptions {
        hba_by_group: false,
        ..PgOptions::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "own PostgreSQL on port {} started in {:?}",
        server.port(),
        server.startup_time
    );
    let dir = server.socket_dir().to_owned();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(server.port())
        .user(postgres::SUPERUSER)
        .dbname("postgres");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let connection = tokio::spawn(connection);
    let row = client
        .query_one("SELECT inet_server_port()", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), i32::from(server.port()));
    // The machine's own services are never used.
    assert_ne!(server.port(), 5432);
    assert!(dir.exists());

    drop(server);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    // The server is gone: the open session ended and new logins are refused.
    let ended = connection.await.unwrap();
    assert!(ended.is_err() || client.is_closed());
    assert!(config.connect(tokio_postgres::NoTls).await.is_err());
}

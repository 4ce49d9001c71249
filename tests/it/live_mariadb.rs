//! The throw-away MariaDB of `support::mariadb` does what later tests rely on.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};

use crate::support::ca::TestCa;
use crate::support::mariadb::{self, MariaDbOptions, MariaDbServer, UserAuth};

/// TCP options for `user` on `server`, over TLS trusting `ca` unless `ca` is `None`.
fn tcp_opts(server: &MariaDbServer, user: &str, password: &str, ca: Option<&TestCa>) -> Opts {
    let builder = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(server.port())
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(password));
    let builder = match ca {
        Some(ca) => builder.ssl_opts(
            SslOpts::default()
                .with_root_certs(vec![ca.ca_pem().into_bytes().into()])
                .with_disable_built_in_roots(true),
        ),
        None => builder,
    };
    builder.into()
}

fn server_code(err: &mysql_async::Error) -> u16 {
    match err {
        mysql_async::Error::Server(e) => e.code,
        other => panic!("not a server error: {other}"),
    }
}

#[tokio::test]
async fn shared_server_serves_tls_and_each_user_kind() {
    let server = mariadb::shared();
    eprintln!(
        "shared MariaDB on port {} started in {:?}",
        server.port(),
        server.startup_time
    );
    // The machine's own service is never used.
    assert_ne!(server.port(), 3306);
    server.create_database("live_my_db").await;
    let cases = [
        ("live_my_nopw_user", UserAuth::NoPassword, ""),
        ("live_my_pw_user", UserAuth::Password("pw-1"), "pw-1"),
        (
            "live_my_native_user",
            UserAuth::NativePassword("pw-2"),
            "pw-2",
        ),
    ];
    for (user, auth, password) in cases {
        server.create_user(user, auth).await;
        server.grant("SELECT", "`live_my_db`.*", user).await;
        let mut conn = Conn::new(tcp_opts(server, user, password, Some(mariadb::shared_ca())))
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        let (current, cipher): (String, String) = conn
            .query_first(
                "SELECT CURRENT_USER(), VARIABLE_VALUE FROM information_schema.SESSION_STATUS \
                 WHERE VARIABLE_NAME = 'SSL_CIPHER'",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(current, format!("{user}@%"));
        assert!(!cipher.is_empty(), "{user}: not over TLS");
        // The grant took effect.
        conn.query_drop("USE live_my_db").await.unwrap();
        conn.disconnect().await.unwrap();

        let err = Conn::new(tcp_opts(server, user, "wrong", Some(mariadb::shared_ca())))
            .await
            .err()
            .unwrap_or_else(|| panic!("{user}: a wrong password was accepted"));
        assert_eq!(server_code(&err), 1045, "{user}: {err}");
    }
}

#[tokio::test]
async fn own_server_requires_tls_and_cleans_up_on_drop() {
    let ca = TestCa::new("rds-iam live MariaDB test CA");
    let cert = ca.server_cert("own-mariadb", &["localhost", "127.0.0.1"]);
    let server = MariaDbServer::start(&MariaDbOptions {
        require_secure_transport: true,
        ..MariaDbOptions::default().with_tls(&cert, &ca)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "own MariaDB on port {} started in {:?}",
        server.port(),
        server.startup_time
    );
    let socket = server.socket();
    let dir = socket.parent().unwrap().to_owned();
    server
        .create_user("live_my_tls_user", UserAuth::NativePassword("pw"))
        .await;

    let mut admin = server.admin().await;
    let required: String = admin
        .query_first("SELECT @@require_secure_transport")
        .await
        .unwrap()
        .unwrap();
    admin.disconnect().await.unwrap();
    assert_eq!(required, "1");
    // Plaintext TCP is refused by the server itself (MariaDB 10.11 says 1045 Access
    // denied, like the emulator, not MySQL's 3159); TLS works.
    let err = Conn::new(tcp_opts(&server, "live_my_tls_user", "pw", None))
        .await
        .unwrap_err();
    let code = server_code(&err);
    assert_eq!(code, 1045, "{err}");
    let mut conn = Conn::new(tcp_opts(&server, "live_my_tls_user", "pw", Some(&ca)))
        .await
        .unwrap();
    let port: u16 = conn.query_first("SELECT @@port").await.unwrap().unwrap();
    assert_eq!(port, server.port());
    conn.disconnect().await.unwrap();
    assert!(dir.exists());

    drop(server);
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

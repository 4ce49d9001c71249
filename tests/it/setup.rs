//! `rds-iam setup` (the `setup` example) on real servers: its SQL applied twice to the shared
//! PostgreSQL and MariaDB through a plain admin URL, after which the IAM user logs in through
//! the emulator; with the Liquibase block both users write the Liquibase tables. MariaDB has
//! no `AWSAuthenticationPlugin`: there the user's statement is refused with 1524 (what RDS
//! says when IAM authentication is off), a stand-in user is made, and the rest runs.

use mysql_async::prelude::Queryable;
use rds_iam::setup::{self, Step};
use rds_iam_emulator::{Emulator, EmulatorConfig, Wire};
use tokio_postgres::error::SqlState;

use crate::connect::Emulated;
use crate::support::engine::{Builder, Db, MySql, Postgres};
use crate::support::example::{ChildEnv, Run};
use crate::support::iam::{
    ACCESS_KEY_ID, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY, credentials, provider,
};
use crate::support::mariadb::{self, UserAuth};
use crate::support::postgres::{self, RoleAuth};

/// The IAM user: a quote of each kind, a backslash, upper case and a space.
const PG_USER: &str = "Setup \"IAM\" O'Brien\\";
const PG_MASTER: &str = "setup_pg_master";
const PG_DATABASE: &str = "setup_pg_db";

/// Run the setup example with `args` in `env`; `secrets` must not appear in its output.
async fn setup_cli(env: ChildEnv, args: &[&str], secrets: &[&str]) -> Run {
    let run = env.run_example_async("setup", args, secrets).await;
    for secret in secrets {
        assert!(!run.stdout.contains(secret), "a secret on stdout: {run:?}");
    }
    run
}

/// A superuser session on `database` of the shared PostgreSQL (unix socket).
async fn pg_session(user: &str, database: &str) -> tokio_postgres::Client {
    let mut config = postgres::shared().admin_config();
    config.user(user).dbname(database);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// `user` logged in to `database` through `emulated` with an IAM token.
async fn iam_session<E: Db>(emulated: &Emulated<E>, user: &str, database: &str) -> E::Session {
    let connector = E::from_url(&emulated.url("placeholder", database))
        .unwrap()
        .user(user)
        .system_roots(false)
        .token_provider(provider(&emulated.clock).await)
        .build()
        .await
        .unwrap();
    E::connect(&connector).await.unwrap()
}

/// The IAM user through the emulator, logged in to [`PG_DATABASE`].
async fn pg_iam_session(emulated: &Emulated<Postgres>) -> tokio_postgres::Client {
    iam_session(emulated, PG_USER, PG_DATABASE).await
}

fn liquibase_insert(id: &str) -> String {
    format!("INSERT INTO databasechangelog (id, author, filename) VALUES ('{id}', 'test', 'x.xml')")
}

#[tokio::test]
async fn postgres_setup_applies_twice_and_the_iam_user_logs_in_and_writes_liquibase_tables() {
    let server = postgres::shared();
    server.create_role(PG_MASTER, RoleAuth::Default).await;
    server
        .create_database(PG_DATABASE, postgres::SUPERUSER)
        .await;
    // RDS's rds_iam role, stood in for; the master may create in public (PostgreSQL 15+ does
    // not let everyone).
    pg_session(postgres::SUPERUSER, PG_DATABASE)
        .await
        .batch_execute(&format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN \
             CREATE ROLE rds_iam; END IF; END $$; GRANT CREATE ON SCHEMA public TO {PG_MASTER}"
        ))
        .await
        .unwrap();
    // The master ran Liquibase first: it owns the tables.
    let master = pg_session(PG_MASTER, PG_DATABASE).await;
    master
        .batch_execute(
            "CREATE TABLE databasechangelog (id text, author text, filename text); \
             CREATE TABLE databasechangeloglock (id int PRIMARY KEY, locked boolean); \
             INSERT INTO databasechangeloglock VALUES (1, false)",
        )
        .await
        .unwrap();

    let admin_url = format!(
        "jdbc:postgresql://localhost:{}/{PG_DATABASE}?user={}&sslmode=verify-full&sslrootcert={}",
        server.port(),
        postgres::SUPERUSER,
        postgres::shared_ca().ca_path().display()
    );
    let base = [
        "--engine",
        "postgres",
        "--user",
        PG_USER,
        "--apply",
        "--admin-url",
        &admin_url,
    ];
    for _ in 0..2 {
        let run = setup_cli(ChildEnv::empty(), &base, &[]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout.ends_with("applied 5 statements as postgres\n"),
            "{run:?}"
        );
    }

    let emulated = Emulated::<Postgres>::start().await;
    let iam = pg_iam_session(&emulated).await;
    let row = iam
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, String>(1)),
        (PG_USER.to_owned(), PG_DATABASE.to_owned())
    );
    let member: bool = iam
        .query_one("SELECT pg_has_role(current_user, 'rds_iam', 'MEMBER')", &[])
        .await
        .unwrap()
        .get(0);
    assert!(member);
    // The seed's symptom: the master's tables are not the IAM user's.
    let denied = iam
        .batch_execute(&liquibase_insert("iam-1"))
        .await
        .unwrap_err();
    assert_eq!(
        denied.code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "{denied}"
    );

    // The Liquibase block, once through the plain URL and once through an IAM admin URL (an
    // emulator on the system clock, which the command signs with).
    let iam_admin = Emulator::start(
        EmulatorConfig::builder(Wire::Postgres)
            .backend(server.addr())
            .endpoint(ENDPOINT_HOST, 5432)
            .region(REGION)
            .credentials(credentials())
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    let iam_admin_url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/{PG_DATABASE}?wrapperPlugins=iam&user={}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslmode=verify-full&sslrootcert={}",
        iam_admin.local_addr().port(),
        postgres::SUPERUSER,
        iam_admin.ca_path().unwrap().display()
    );
    for url in [&admin_url, &iam_admin_url] {
        let mut with_block = base.to_vec();
        with_block[6] = url;
        with_block.extend(["--liquibase-shared-owner", PG_MASTER]);
        let env = ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None);
        let run = setup_cli(env, &with_block, &[SECRET_ACCESS_KEY]).await;
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            run.stdout.ends_with("applied 13 statements as postgres\n"),
            "{run:?}"
        );
    }
    assert_eq!(iam_admin.logins().len(), 1, "{:?}", iam_admin.logins());
    let owners: Vec<String> = pg_session(postgres::SUPERUSER, PG_DATABASE)
        .await
        .query(
            "SELECT tableowner::text FROM pg_tables WHERE schemaname = 'public' \
             AND tablename LIKE 'databasechangelog%' ORDER BY tablename",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(owners, [setup::LIQUIBASE_GROUP; 2]);
    // A new session of each user: both write both tables.
    let iam = pg_iam_session(&emulated).await;
    let master = pg_session(PG_MASTER, PG_DATABASE).await;
    for (who, client) in [("iam", &iam), ("master", &master)] {
        client
            .batch_execute(&format!(
                "{}; UPDATE databasechangeloglock SET locked = NOT locked WHERE id = 1",
                liquibase_insert(who)
            ))
            .await
            .unwrap_or_else(|e| panic!("{who}: {e}"));
    }
    let rows: i64 = master
        .query_one("SELECT count(*) FROM databasechangelog", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 2);
}

/// The IAM user on MariaDB: quotes of each kind, a backtick, a backslash, upper case.
const MY_USER: &str = "Setup'My\"`User\\";
const MY_ADMIN: &str = "setup_my_admin";
const MY_ADMIN_PASSWORD: &str = "setup-admin-pw-7f3a";
const MY_DATABASE: &str = "setup_my_db";

#[tokio::test]
async fn mariadb_refuses_the_iam_plugin_with_1524_and_the_rest_applies_twice() {
    let server = mariadb::shared();
    server
        .create_user(MY_ADMIN, UserAuth::NativePassword(MY_ADMIN_PASSWORD))
        .await;
    server
        .admin_exec(&format!(
            "GRANT ALL PRIVILEGES ON *.* TO {} WITH GRANT OPTION",
            setup::mysql_account(MY_ADMIN)
        ))
        .await;
    server.create_database(MY_DATABASE).await;

    // --apply through a plain URL with the password in the environment: the first statement
    // is refused as RDS refuses it when IAM authentication is off.
    let admin_url = format!(
        "jdbc:mariadb://127.0.0.1:{}/?user={MY_ADMIN}&sslMode=VERIFY_IDENTITY&serverSslCert={}",
        server.port(),
        mariadb::shared_ca().ca_path().display()
    );
    let args = [
        "--engine",
        "mysql",
        "--user",
        MY_USER,
        "--database",
        MY_DATABASE,
        "--apply",
        "--admin-url",
        &admin_url,
    ];
    let env = ChildEnv::empty().var("RDS_IAM_ADMIN_PASSWORD", MY_ADMIN_PASSWORD);
    let run = setup_cli(env, &args, &[MY_ADMIN_PASSWORD]).await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(!run.stdout.contains(MY_ADMIN_PASSWORD), "{run:?}");
    let line = run.stderr.trim_end();
    for part in [
        "setup: error: statement 1 (the database user, if it does not exist yet) failed",
        "1524",
        "AWSAuthenticationPlugin",
        "--enable-iam-database-authentication",
    ] {
        assert!(line.contains(part), "{part}: {run:?}");
    }

    // The same SQL from the library on an admin connection: 1524 for the user, then a
    // stand-in user (the emulator's backend login), and the rest runs, twice.
    let statements = setup::mysql(MY_USER, Some(MY_DATABASE)).unwrap();
    let mut admin = server.admin().await;
    for round in 0..2 {
        for statement in &statements {
            match (statement.step, admin.query_drop(&statement.sql).await) {
                (Step::CreateUser, Err(mysql_async::Error::Server(e))) => {
                    assert_eq!(e.code, 1524, "{e}");
                    if round == 0 {
                        server.create_user(MY_USER, UserAuth::NoPassword).await;
                    }
                }
                (_, result) => result.unwrap_or_else(|e| panic!("{}: {e}", statement.sql)),
            }
        }
    }
    let _ = admin.disconnect().await;

    // The IAM user logs in through the emulator and writes in the database granted.
    let emulated = Emulated::<MySql>::start().await;
    let mut conn = iam_session(&emulated, MY_USER, MY_DATABASE).await;
    let user: String = conn
        .query_first("SELECT CURRENT_USER()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user, format!("{MY_USER}@%"));
    conn.query_drop(
        "CREATE TABLE IF NOT EXISTS DATABASECHANGELOG (ID VARCHAR(255)); \
         INSERT INTO DATABASECHANGELOG VALUES ('iam')",
    )
    .await
    .unwrap();
    let _ = conn.disconnect().await;
}

/// A user name holding the DO blocks' dollar-quote tag and a backslash: the library's
/// statements, run twice, create exactly that role.
#[tokio::test]
async fn postgres_statements_create_exactly_the_named_role_whatever_it_holds() {
    let name = "Tag $rds_iam$ \\\"x'; DROP ROLE postgres; --";
    postgres::shared()
        .create_database("setup_pg_tag_db", postgres::SUPERUSER)
        .await;
    let admin = pg_session(postgres::SUPERUSER, "setup_pg_tag_db").await;
    admin
        .batch_execute(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN \
             CREATE ROLE rds_iam; END IF; END $$",
        )
        .await
        .unwrap();
    let statements = setup::postgres(name, "setup_pg_tag_db", None).unwrap();
    assert!(statements[0].sql.starts_with("DO $rds_iam_1$"));
    for _ in 0..2 {
        for statement in &statements {
            admin
                .batch_execute(&statement.sql)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", statement.sql));
        }
    }
    let row = admin
        .query_one(
            "SELECT count(*) FILTER (WHERE rolname = $1), \
             bool_or(rolname = $1 AND rolcanlogin AND pg_has_role(oid, 'rds_iam', 'MEMBER')) \
             FROM pg_roles",
            &[&name],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1)), (1, true));
}

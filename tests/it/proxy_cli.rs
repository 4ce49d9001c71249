//! The `proxy` example (the `rds-iam proxy` command's module) run for real, through the emulator
//! (on the system clock) in front of the throw-away PostgreSQL or MariaDB, with credentials
//! from the environment: SIGTERM drains an open session, the exit codes, and no secret on its
//! output.

use std::time::{Duration, Instant};

use rds_iam_emulator::LoginOutcome;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio_postgres::NoTls;

use crate::support::engine::{Postgres, emulator_url_text};
use crate::support::example::{self, ChildEnv};
use crate::support::iam::{ACCESS_KEY_ID, ENDPOINT_HOST, SECRET_ACCESS_KEY};
use crate::support::postgres::{self, RoleAuth};

/// Start the proxy for the JDBC URL `url` with `flags`; its child and address.
async fn proxy(url: &str, flags: &[&str]) -> (Child, String) {
    let mut args = vec![url, "--listen", "127.0.0.1:0"];
    args.extend_from_slice(flags);
    let mut child =
        ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None).spawn_example("proxy", &args);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
        .await
        .expect("the proxy starts")
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not the ready line: {line:?}"))
        .to_owned();
    (child, addr)
}

async fn client(addr: &str, user: &str) -> tokio_postgres::Client {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let (client, connection) = tokio_postgres::Config::new()
        .host(host)
        .port(port.parse().unwrap())
        .user(user)
        .dbname("postgres")
        .connect(NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn sigterm(child: &Child) {
    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
}

/// Its exit code, once it has ended (within 10 s).
async fn exit_code(child: &mut Child) -> Option<i32> {
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the proxy exits within 10 s")
        .unwrap()
        .code()
}

/// Its stderr, once it has ended.
async fn stderr(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .await
        .unwrap();
    text
}

#[tokio::test]
async fn sigterm_drains_the_open_session_then_exits() {
    let user = "proxy_cli_user";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let emulator = example::emulator::<Postgres>().await;
    let url = emulator_url_text::<Postgres>(&emulator, user, "postgres");
    example::built("proxy");

    // --exit-zero-on-sigterm: the session ends by itself within the delay; exit 0.
    let (mut child, addr) = proxy(
        &url,
        &["--max-sigterm-delay", "20", "--exit-zero-on-sigterm"],
    )
    .await;
    let session = client(&addr, user).await;
    let who: String = session
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, user);
    sigterm(&child);
    // Still serving the open session while draining.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        session
            .query_one("SELECT 1", &[])
            .await
            .unwrap()
            .get::<_, i32>(0),
        1
    );
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "no new clients"
    );
    let closed_at = Instant::now();
    drop(session);
    assert_eq!(exit_code(&mut child).await, Some(0));
    assert!(
        closed_at.elapsed() < Duration::from_secs(5),
        "it exited once the session ended"
    );
    let text = stderr(&mut child).await;
    assert!(text.contains("stopping (Term)"), "{text}");
    assert!(
        !text.contains(SECRET_ACCESS_KEY) && !text.contains("X-Amz-Signature"),
        "{text}"
    );

    // Without the flag, a session still open when the delay ends is closed; exit 143. Logs
    // as JSON lines with severity and message.
    let (mut child, addr) = proxy(
        &url,
        &["--max-sigterm-delay", "0.2", "--log-format", "json"],
    )
    .await;
    let session = client(&addr, user).await;
    sigterm(&child);
    assert_eq!(exit_code(&mut child).await, Some(143));
    assert!(session.query_one("SELECT 1", &[]).await.is_err());
    let text = stderr(&mut child).await;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let said = |severity: &str, message: &str| {
        lines.iter().any(|l| {
            l["severity"] == severity && l["message"].as_str().unwrap().starts_with(message)
        })
    };
    assert!(said("INFO", "proxy ready"), "{text}");
    assert!(said("INFO", "client logged in"), "{text}");
    assert!(said("WARNING", "closed 1 session(s) still open"), "{text}");
    assert!(
        !text.contains("X-Amz-Signature") && !text.contains(SECRET_ACCESS_KEY),
        "{text}"
    );
    assert_eq!(
        emulator
            .logins()
            .iter()
            .filter(|l| l.outcome == LoginOutcome::Accepted)
            .count(),
        2
    );

    // --run-connection-test with a user the emulator's backend does not have: exit 1.
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user=proxy_cli_nobody\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslrootcert={}",
        emulator.local_addr().port(),
        emulator.ca_path().unwrap().display()
    );
    let run = ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
        .run_example_async(
            "proxy",
            &[&url, "--listen", "127.0.0.1:0", "--run-connection-test"],
            &[SECRET_ACCESS_KEY],
        )
        .await;
    let line = run.error(1);
    assert!(line.contains("proxy_cli_nobody"), "{line}");
}

#[cfg(feature = "_mysql")]
#[tokio::test]
async fn a_mysql_url_serves_the_mariadb_command_without_a_password() {
    use crate::support::engine::{Db, MySql, stdout_of};
    let user = "proxy_cli_my_user";
    let database = MySql::create_user_with_notes(user).await;
    let emulator = example::emulator::<MySql>().await;
    example::built("proxy");
    let (mut child, addr) =
        proxy(&emulator_url_text::<MySql>(&emulator, user, &database), &[]).await;

    // Plaintext to the proxy (--skip-ssl), no password.
    let ca = emulator.ca_path().unwrap();
    let sql = "SELECT CURRENT_USER()";
    let out = MySql::cli(addr.parse().unwrap(), ca, user, "", &database, false, sql).await;
    assert_eq!(stdout_of(&out), MySql::account(user));

    sigterm(&child);
    assert_eq!(exit_code(&mut child).await, Some(143));
    let text = stderr(&mut child).await;
    assert!(text.contains("stopping (Term)"), "{text}");
    assert!(
        !text.contains(SECRET_ACCESS_KEY) && !text.contains("X-Amz-Signature"),
        "{text}"
    );
    let logins = emulator.logins();
    assert_eq!(logins.len(), 1, "{logins:?}");
    assert_eq!(logins[0].outcome, LoginOutcome::Accepted);
    assert!(logins[0].tls);
    assert_eq!(emulator.plaintext_passwords_received(), 0);
}

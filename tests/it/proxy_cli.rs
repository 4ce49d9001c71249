//! The `proxy` example (the `rds-iam proxy` command's module) run for real, through the emulator
//! (on the system clock) in front of the throw-away PostgreSQL, with credentials from the
//! environment: SIGTERM drains an open session, the exit codes, and no secret on its output.

use std::time::{Duration, Instant};

use rds_iam_emulator::{LoginOutcome, RunningEmulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Child;
use tokio_postgres::NoTls;

use crate::support::example::{self, ChildEnv};
use crate::support::iam::{ACCESS_KEY_ID, ENDPOINT_HOST, SECRET_ACCESS_KEY};
use crate::support::postgres::{self, RoleAuth};

/// Start the proxy for `user` through `emulator` with `flags`; its child and address.
async fn proxy(emulator: &RunningEmulator, user: &str, flags: &[&str]) -> (Child, String) {
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user={user}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslmode=verify-full&sslrootcert={}",
        emulator.local_addr().port(),
        emulator.ca_path().unwrap().display()
    );
    let mut args = vec![url.as_str(), "--listen", "127.0.0.1:0"];
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
    let emulator = example::pg_emulator().await;
    example::built("proxy");

    // --exit-zero-on-sigterm: the session ends by itself within the delay; exit 0.
    let (mut child, addr) = proxy(
        &emulator,
        user,
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
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
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
        &emulator,
        user,
        &["--max-sigterm-delay", "0.2", "--log-format", "json"],
    )
    .await;
    let session = client(&addr, user).await;
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(143));
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

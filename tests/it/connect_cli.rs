//! The `connect` example run for real, through the emulator in front of the throw-away
//! PostgreSQL, with credentials from the environment: what it prints, on stdout and stderr.

use rds_iam_emulator::{LoginOutcome, RunningEmulator};

use crate::support::engine::Postgres;
use crate::support::example::{self, ChildEnv, Run};
use crate::support::iam::{ACCESS_KEY_ID, ENDPOINT_HOST, SECRET_ACCESS_KEY};
use crate::support::postgres::{self, RoleAuth};

/// What `sslmode=require` must say on stderr.
const NOT_AUTHENTICATED: &str = "the server is not authenticated";

/// `connect URL -c 'SELECT current_user'` as `user`, through `emulator`, in `env`.
async fn select_current_user(
    env: ChildEnv,
    emulator: &RunningEmulator,
    user: &str,
    tls: &str,
) -> Run {
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user={user}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&{tls}",
        emulator.local_addr().port()
    );
    env.var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .var("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .run_example_async(
            "connect",
            &[&url, "-c", "SELECT current_user"],
            &[SECRET_ACCESS_KEY],
        )
        .await
}

/// A man in the middle with any certificate gets the token under `require`: the command
/// says so on stderr by default, and `RUST_LOG=error` silences it. The rows on stdout are
/// the same either way.
#[tokio::test]
async fn require_warns_on_stderr_that_the_server_is_not_authenticated() {
    let user = "connect_cli_require";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let emulator = example::emulator::<Postgres>().await;
    example::built("connect");

    let run = select_current_user(ChildEnv::empty(), &emulator, user, "sslmode=require").await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, format!("{user}\n"), "{run:?}");
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{run:?}");
    assert!(
        lines[0].contains("WARN") && lines[0].contains(NOT_AUTHENTICATED),
        "{run:?}"
    );

    let quiet = select_current_user(
        ChildEnv::empty().var("RUST_LOG", "error"),
        &emulator,
        user,
        "sslmode=require",
    )
    .await;
    assert_eq!(quiet.code, Some(0), "{quiet:?}");
    assert_eq!(quiet.stdout, run.stdout);
    assert_eq!(quiet.stderr, "", "{quiet:?}");

    let accepted = emulator
        .logins()
        .iter()
        .filter(|login| login.user == user && login.outcome == LoginOutcome::Accepted)
        .count();
    assert_eq!(accepted, 2, "{:?}", emulator.logins());
}

/// With the certificate checked there is nothing to warn about: stderr stays empty.
#[tokio::test]
async fn verify_full_prints_nothing_on_stderr() {
    let user = "connect_cli_verify_full";
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let emulator = example::emulator::<Postgres>().await;
    let tls = format!(
        "sslmode=verify-full&sslrootcert={}",
        emulator.ca_path().unwrap().display()
    );
    let run = select_current_user(ChildEnv::empty(), &emulator, user, &tls).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, format!("{user}\n"));
    assert_eq!(run.stderr, "", "{run:?}");
}

/// A library error names the URL parameter; the command adds its own flag.
#[tokio::test]
async fn a_missing_user_names_the_url_parameter_and_the_flag() {
    let run = ChildEnv::empty()
        .run_example_async(
            "connect",
            &[
                "jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com/app?wrapperPlugins=iam",
                "-c",
                "SELECT 1",
            ],
            &[],
        )
        .await;
    let line = run.error(1);
    assert!(line.contains("add user=NAME to the JDBC URL"), "{line}");
    assert!(line.ends_with("; or pass --user USER"), "{line}");
}

//! The `doctor` example (`rds-iam doctor`) run for real against the emulator in front of the
//! throw-away PostgreSQL: a healthy set-up passes every stage, and each case of the IAM
//! troubleshooting list fails at the stage that names it, with its fix. The child gets an
//! explicit environment (no process-global variables are touched); nothing it prints may hold
//! the secret key or a token.

use std::time::{Duration, SystemTime};

use rds_iam_emulator::{Emulator, EmulatorConfig, LoginOutcome, Rejection, RunningEmulator, Wire};
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::support::aws_env::rfc3339;
use crate::support::example::{ChildEnv, Run};
use crate::support::iam::{ACCESS_KEY_ID, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY, credentials};
use crate::support::postgres::{self, PgOptions, PgServer, RoleAuth};

const STAGES: [&str; 7] = [
    "url",
    "credentials",
    "network",
    "tls",
    "token",
    "login",
    "database",
];

/// An emulated endpoint on the system clock (the doctor signs with it) that, as RDS, refuses
/// users who are not members of `rds_iam`.
async fn emulator() -> RunningEmulator {
    let config = EmulatorConfig::builder(Wire::Postgres)
        .backend(postgres::shared().addr())
        .endpoint(ENDPOINT_HOST, 5432)
        .region(REGION)
        .credentials(credentials())
        .require_rds_iam(true)
        .build()
        .unwrap();
    Emulator::start(config).await.unwrap()
}

/// A local `rds_iam` role in the shared PostgreSQL, standing in for the one RDS creates.
async fn rds_iam_role() {
    static CREATED: OnceCell<()> = OnceCell::const_new();
    CREATED
        .get_or_init(|| async {
            postgres::shared()
                .admin()
                .await
                .batch_execute("CREATE ROLE rds_iam")
                .await
                .unwrap();
        })
        .await;
}

/// An IAM user with `rds_iam`, as the seed's set-up makes it.
async fn iam_user(name: &str) {
    rds_iam_role().await;
    postgres::shared()
        .create_role(name, RoleAuth::Default)
        .await;
    postgres::shared()
        .admin()
        .await
        .batch_execute(&format!("GRANT rds_iam TO {name}"))
        .await
        .unwrap();
}

/// The IAM URL of `user` on `database` through `emulator`, verifying its certificate.
fn url(emulator: &RunningEmulator, user: &str, database: &str) -> String {
    format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslmode=verify-full&sslrootcert={}",
        emulator.local_addr().port(),
        emulator.ca_path().unwrap().display()
    )
}

fn with_keys() -> ChildEnv {
    ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
}

/// `doctor ARGS --json` in `env`: the run, and its report.
async fn doctor(env: ChildEnv, args: &[&str]) -> (Run, Value) {
    let mut args = args.to_vec();
    args.push("--json");
    let run = env
        .run_example_async("doctor", &args, &[SECRET_ACCESS_KEY])
        .await;
    no_secrets(&run);
    let report: Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {run:?}"));
    (run, report)
}

/// Neither output holds the secret key or a token.
fn no_secrets(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        for secret in [SECRET_ACCESS_KEY, "X-Amz-Signature", "Action=connect"] {
            assert!(!text.contains(secret), "{secret} printed: {run:?}");
        }
    }
}

/// The report stops at stage `name`, which failed, after stages that passed; that stage.
fn failed_at<'a>(run: &Run, report: &'a Value, name: &str) -> &'a Value {
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(report["ok"], false, "{report:#}");
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let at = STAGES.iter().position(|s| *s == name).unwrap();
    assert_eq!(names, STAGES[..=at], "{report:#}");
    for stage in &stages[..at] {
        assert_eq!(stage["ok"], true, "{report:#}");
    }
    let stage = stages.last().unwrap();
    assert_eq!(stage["ok"], false, "{report:#}");
    assert!(
        run.stderr.ends_with(&format!(
            "doctor: error: the {name} stage failed: the report on stdout gives the fix\n"
        )),
        "{run:?}"
    );
    stage
}

fn text(stage: &Value, field: &str) -> String {
    stage[field].as_str().unwrap_or_default().to_owned()
}

/// A healthy set-up: every stage passes, in order, as JSON and as lines.
#[tokio::test]
async fn a_healthy_setup_passes_every_stage() {
    let user = "doctor_healthy";
    iam_user(user).await;
    let emulator = emulator().await;
    let url = url(&emulator, user, "postgres");

    let (run, report) = doctor(with_keys(), &[&url]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    assert_eq!(report["ok"], true);
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, STAGES);
    assert!(stages.iter().all(|s| s["ok"] == true), "{report:#}");
    let found = |i: usize| text(&stages[i], "found");
    assert!(found(1).contains("environment variables"), "{report:#}");
    assert!(found(1).contains("AKID..."), "{report:#}");
    assert!(found(3).contains("chain and name verified"), "{report:#}");
    assert!(found(3).contains(ENDPOINT_HOST), "{report:#}");
    assert!(
        found(4).contains(&format!("for user `{user}`")),
        "{report:#}"
    );
    assert!(found(4).contains("the local clock is"), "{report:#}");
    assert!(
        found(5).contains(&format!("logged in as {user}")),
        "{report:#}"
    );
    assert!(found(6).contains("is a member of rds_iam"), "{report:#}");

    let lines = with_keys()
        .run_example_async("doctor", &[&url], &[SECRET_ACCESS_KEY])
        .await;
    no_secrets(&lines);
    assert_eq!(lines.code, Some(0), "{lines:?}");
    let heads: Vec<&str> = lines
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .collect();
    assert_eq!(heads.len(), 7, "{lines:?}");
    for (line, stage) in heads.iter().zip(STAGES) {
        assert!(line.starts_with(&format!("ok   {stage}: ")), "{lines:?}");
    }
}

/// "Connection URL is not recognized as IAM-enabled": the url stage says what to write.
#[tokio::test]
async fn a_url_without_iam_fails_at_url() {
    let (run, report) = doctor(
        with_keys(),
        &["jdbc:postgresql://db.abc123.us-east-1.rds.amazonaws.com:5432/postgres?user=u"],
    )
    .await;
    let stage = failed_at(&run, &report, "url");
    assert!(text(stage, "fix").contains("jdbc:aws-wrapper:"), "{stage}");
    let (run, report) = doctor(
        with_keys(),
        &["jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com:5432/postgres?user=u"],
    )
    .await;
    let stage = failed_at(&run, &report, "url");
    assert!(text(stage, "fix").contains("wrapperPlugins=iam"), "{stage}");
}

const ANY_RDS_URL: &str = "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&user=u";

/// "Unable to load credentials": without the ECS variables, the fix names them and the
/// build-task role variable; with a container endpoint that does not answer, it names the
/// endpoint's variable.
#[tokio::test]
async fn no_credentials_fail_at_credentials() {
    let (run, report) = doctor(ChildEnv::empty(), &[ANY_RDS_URL]).await;
    let fix = text(failed_at(&run, &report, "credentials"), "fix");
    assert!(fix.contains("no AWS credentials found"), "{fix}");
    assert!(
        fix.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set"),
        "{fix}"
    );
    assert!(
        fix.contains("HARNESS_ECS_BUILD_TASK_ROLE_ARN is not set"),
        "{fix}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}/creds", closed.local_addr().unwrap());
    drop(closed);
    let env = ChildEnv::empty()
        .var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint)
        .var(
            "HARNESS_ECS_BUILD_TASK_ROLE_ARN",
            "arn:aws:iam::123456789012:role/build-task",
        );
    let (run, report) = doctor(env, &[ANY_RDS_URL]).await;
    let fix = text(failed_at(&run, &report, "credentials"), "fix");
    assert!(fix.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"), "{fix}");
}

/// A CA that did not issue the server's certificate: the tls stage names what was trusted.
#[tokio::test]
async fn a_wrong_ca_fails_at_tls() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-ca.pem");
    std::fs::write(&wrong, crate::support::iam::unrelated_cas(1)).unwrap();
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user=u\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslmode=verify-full&sslrootcert={}",
        emulator.local_addr().port(),
        wrong.display()
    );
    let (run, report) = doctor(with_keys(), &[&url]).await;
    let stage = failed_at(&run, &report, "tls");
    let fix = text(stage, "fix");
    assert!(fix.contains("is not trusted"), "{fix}");
    assert!(fix.contains("wrong-ca.pem"), "{fix}");

    // The right CA, but a signing host the certificate does not name.
    let other = "other.abc123.us-east-1.rds.amazonaws.com";
    let url = self::url(&emulator, "u", "postgres").replace(ENDPOINT_HOST, other);
    let (run, report) = doctor(with_keys(), &[&url]).await;
    let stage = failed_at(&run, &report, "tls");
    let fix = text(stage, "fix");
    assert!(fix.contains(&format!("not for {other}")), "{fix}");
    assert!(fix.contains(ENDPOINT_HOST), "{fix}");
    assert!(emulator.logins().is_empty(), "no login was tried");
}

/// `sslmode=require`: every stage passes, and the url and tls stages say that the server is
/// not authenticated and what to use instead.
#[tokio::test]
async fn require_passes_with_a_warning() {
    let user = "doctor_require";
    iam_user(user).await;
    let emulator = emulator().await;
    // Without sslrootcert: with one, require means verify-ca (as in libpq).
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432&sslmode=require",
        emulator.local_addr().port()
    );
    let (run, report) = doctor(with_keys(), &[&url, "--user", user]).await;
    assert_eq!(run.code, Some(0), "{report:#}");
    let stages = report["stages"].as_array().unwrap();
    assert!(stages.iter().all(|s| s["ok"] == true), "{report:#}");
    for i in [0, 3] {
        assert!(
            text(&stages[i], "fix").contains("verify-full"),
            "{report:#}"
        );
    }
    assert!(
        text(&stages[3], "found").contains("nothing verified"),
        "{report:#}"
    );
}

/// "SSL connection required": a PostgreSQL without TLS fails at tls, before any token.
#[tokio::test]
async fn a_server_without_tls_fails_at_tls() {
    let pg = PgServer::start(&PgOptions::default()).unwrap();
    let url = format!(
        "jdbc:aws-wrapper:postgresql://127.0.0.1:{}/postgres?wrapperPlugins=iam&user=u\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=5432",
        pg.port()
    );
    let (run, report) = doctor(with_keys(), &[&url]).await;
    let fix = text(failed_at(&run, &report, "tls"), "fix");
    assert!(fix.contains("refused TLS"), "{fix}");
    assert!(fix.contains("SSL connection required"), "{fix}");
}

/// A clock 20 minutes slow: the token stage compares it with the server's (through
/// `--admin-url`) and says to sync it.
#[tokio::test]
async fn clock_skew_fails_at_token() {
    let user = "doctor_skew";
    iam_user(user).await;
    let emulator = emulator().await;
    let at = rfc3339(SystemTime::now() - Duration::from_secs(20 * 60));
    let admin = url(&emulator, postgres::SUPERUSER, "postgres");
    let (run, report) = doctor(
        with_keys(),
        &[
            &url(&emulator, user, "postgres"),
            "--admin-url",
            &admin,
            "--at",
            &at,
        ],
    )
    .await;
    let stage = failed_at(&run, &report, "token");
    assert!(
        text(stage, "found").contains("behind the database server's"),
        "{stage}"
    );
    assert!(text(stage, "fix").contains("NTP"), "{stage}");
}

/// "Username mismatch": the user name in another case is refused at login, and the fix says
/// so first.
#[tokio::test]
async fn a_user_name_in_another_case_fails_at_login() {
    iam_user("doctor_case").await;
    let emulator = emulator().await;
    let (run, report) = doctor(with_keys(), &[&url(&emulator, "Doctor_Case", "postgres")]).await;
    let stage = failed_at(&run, &report, "login");
    let fix = text(stage, "fix");
    assert!(
        fix.starts_with("first: the user name `Doctor_Case` has upper-case"),
        "{fix}"
    );
    assert!(fix.contains("GRANT rds_iam"), "{fix}");
    assert!(text(stage, "found").contains("Doctor_Case"), "{stage}");
}

/// "password authentication failed" for lack of the grant: the emulator refuses the login as
/// RDS does (`PAM authentication failed`), the login stage puts the grant first among the
/// causes, and with `--admin-url` the database stage runs the seed's membership query and gives
/// the GRANT.
#[tokio::test]
async fn a_missing_rds_iam_grant_fails_at_login_and_database() {
    let user = "doctor_no_grant";
    rds_iam_role().await;
    postgres::shared()
        .create_role(user, RoleAuth::Default)
        .await;
    let emulator = emulator().await;
    let admin = url(&emulator, postgres::SUPERUSER, "postgres");
    let (run, report) = doctor(
        with_keys(),
        &[&url(&emulator, user, "postgres"), "--admin-url", &admin],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:?}");
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, STAGES, "{report:#}");
    assert!(stages[..5].iter().all(|s| s["ok"] == true), "{report:#}");
    let (login, database) = (&stages[5], &stages[6]);
    assert_eq!(login["ok"], false, "{report:#}");
    assert!(
        text(login, "found").contains("PAM authentication failed"),
        "{login}"
    );
    assert!(
        text(login, "fix").contains("(1) the database user is not granted rds_iam"),
        "{login}"
    );
    assert_eq!(database["ok"], false, "{report:#}");
    assert!(
        text(database, "checked").contains("--admin-url"),
        "{database}"
    );
    assert!(
        text(database, "found").contains("is not a member of rds_iam"),
        "{database}"
    );
    assert!(
        text(database, "fix").contains(&format!("GRANT rds_iam TO \"{user}\";")),
        "{database}"
    );
    assert!(
        emulator
            .logins()
            .iter()
            .any(|l| l.user == user
                && l.outcome == LoginOutcome::Rejected(Rejection::NotRdsIamMember)),
        "{:?}",
        emulator.logins()
    );
}

/// The same missing grant found through a plain admin URL: the master user's password from
/// RDS_IAM_ADMIN_PASSWORD (the role logs in with SCRAM, so it is used), TLS verified against
/// the server's CA. The password appears nowhere in the output, nor a wrong one from the URL,
/// whose refusal fails the database stage with the fix.
#[tokio::test]
async fn a_missing_rds_iam_grant_found_through_a_password_admin_url() {
    let user = "doctor_no_grant_pw";
    let admin = "doctor_pw_admin";
    let password = "doctor-admin-secret-51f3";
    rds_iam_role().await;
    let pg = postgres::shared();
    pg.create_role(user, RoleAuth::Default).await;
    pg.create_role(admin, RoleAuth::Scram(password)).await;
    let emulator = emulator().await;
    let admin_url = format!(
        "jdbc:postgresql://localhost:{}/postgres?user={admin}&sslmode=verify-full&sslrootcert={}",
        pg.port(),
        postgres::shared_ca().ca_path().display()
    );
    let iam_url = url(&emulator, user, "postgres");
    let env = with_keys().var("RDS_IAM_ADMIN_PASSWORD", password);
    let (run, report) = doctor(env, &[&iam_url, "--admin-url", &admin_url]).await;
    let wrong = "doctor-wrong-secret-9d0e";
    let (wrong_run, wrong_report) = doctor(
        with_keys(),
        &[
            &iam_url,
            "--admin-url",
            &format!("{admin_url}&password={wrong}"),
        ],
    )
    .await;
    for (run, secret) in [(&run, password), (&wrong_run, wrong)] {
        for text in [&run.stdout, &run.stderr] {
            assert!(!text.contains(secret), "the password printed: {run:?}");
        }
    }
    let stages = report["stages"].as_array().unwrap();
    let names: Vec<&str> = stages.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, STAGES, "{report:#}");
    assert_eq!(stages[5]["ok"], false, "{report:#}");
    let database = &stages[6];
    assert_eq!(database["ok"], false, "{report:#}");
    if cfg!(any(feature = "postgres-rustls", feature = "mysql-rustls")) {
        // The example on rustls has no password session (the rds-iam command is native-tls).
        assert!(
            text(database, "found").contains("this build (on rustls)"),
            "{database}"
        );
        return;
    }
    assert!(
        text(database, "checked").contains("through the --admin-url connection"),
        "{database}"
    );
    assert!(
        text(database, "found").contains(&format!("`{user}` is not a member of rds_iam")),
        "{database}"
    );
    assert!(
        text(database, "fix").contains(&format!("GRANT rds_iam TO \"{user}\";")),
        "{database}"
    );

    let stages = wrong_report["stages"].as_array().unwrap();
    let database = &stages[6];
    assert_eq!(database["ok"], false, "{wrong_report:#}");
    assert!(
        text(database, "found").contains("the --admin-url login failed"),
        "{database}"
    );
    assert!(
        text(database, "found").contains(&format!(
            "password authentication failed for user \"{admin}\""
        )),
        "{database}"
    );
    assert!(
        text(database, "fix").contains("RDS_IAM_ADMIN_PASSWORD"),
        "{database}"
    );
}

/// An admin URL of the other engine, or without a user, is a usage error that names the flag,
/// before any stage runs.
#[tokio::test]
async fn an_admin_url_of_another_engine_or_without_a_user_is_a_usage_error() {
    for (admin, says) in [
        (
            "jdbc:mysql://db.abc123.us-east-1.rds.amazonaws.com:3306/app?user=admin",
            "--admin-url is a mysql URL, but JDBC_URL is a postgresql URL: give the URL of the \
             same database",
        ),
        (
            "jdbc:postgresql://db.abc123.us-east-1.rds.amazonaws.com:5432/app",
            "--admin-url has no user: add user=NAME (the master user) to the URL",
        ),
    ] {
        let run = with_keys()
            .run_example_async("doctor", &[ANY_RDS_URL, "--admin-url", admin], &[])
            .await;
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stdout, "", "{run:?}");
        assert_eq!(run.stderr, format!("doctor: error: {says}\n"), "{run:?}");
    }
}

/// "Liquibase fails with permission denied on databasechangelog": tables owned by another
/// user; the database stage gives the seed's shared-ownership fix.
#[tokio::test]
async fn liquibase_tables_of_another_user_fail_at_database() {
    let user = "doctor_lb_user";
    let owner = "doctor_lb_owner";
    iam_user(user).await;
    let pg = postgres::shared();
    pg.create_role(owner, RoleAuth::Default).await;
    pg.create_database("doctor_lb", postgres::SUPERUSER).await;
    let mut config = pg.admin_config();
    config.dbname("doctor_lb");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "CREATE TABLE public.databasechangelog (id text); \
             CREATE TABLE public.databasechangeloglock (id int); \
             ALTER TABLE public.databasechangelog OWNER TO {owner}; \
             ALTER TABLE public.databasechangeloglock OWNER TO {owner};"
        ))
        .await
        .unwrap();
    let emulator = emulator().await;
    let (run, report) = doctor(with_keys(), &[&url(&emulator, user, "doctor_lb")]).await;
    let stage = failed_at(&run, &report, "database");
    let found = text(stage, "found");
    assert!(
        found.contains(&format!("public.databasechangelog is owned by {owner}")),
        "{found}"
    );
    let fix = text(stage, "fix");
    assert!(fix.contains(r#"CREATE ROLE "liquibase_owners""#), "{fix}");
    assert!(
        fix.contains(&format!(r#"GRANT "liquibase_owners" TO "{owner}";"#)),
        "{fix}"
    );
    assert!(
        fix.contains(r#"ALTER TABLE public.databasechangeloglock OWNER TO "liquibase_owners";"#),
        "{fix}"
    );

    // The fix as printed, run by the master user: the doctor then passes.
    let (_, sql) = fix.split_once("prints the same): ").unwrap();
    client.batch_execute(sql).await.unwrap();
    let (run, report) = doctor(with_keys(), &[&url(&emulator, user, "doctor_lb")]).await;
    assert_eq!(run.code, Some(0), "{report:#}");
}

/// An emulated MySQL endpoint in front of the shared MariaDB, and the IAM URL of `user` on
/// `database` through it.
async fn mariadb_emulator(user: &str, database: &str) -> (RunningEmulator, String) {
    let config = EmulatorConfig::builder(Wire::Mysql)
        .backend(crate::support::mariadb::shared().addr())
        .endpoint(ENDPOINT_HOST, 3306)
        .region(REGION)
        .credentials(credentials())
        .build()
        .unwrap();
    let emulator = Emulator::start(config).await.unwrap();
    let url = format!(
        "jdbc:aws-wrapper:mysql://127.0.0.1:{}/{database}?wrapperPlugins=iam&user={user}\
         &iamHost={ENDPOINT_HOST}&iamDefaultPort=3306&sslMode=VERIFY_IDENTITY&sslCa={}",
        emulator.local_addr().port(),
        emulator.ca_path().unwrap().display()
    );
    (emulator, url)
}

/// The same healthy set-up on MariaDB (the MySQL wire): every stage passes; the plugin check
/// says why it is not made (no AWSAuthenticationPlugin outside RDS). The user name in another
/// case is refused at login with MySQL's 1045, classified as such.
#[tokio::test]
async fn mariadb_healthy_and_a_user_name_in_another_case() {
    use crate::support::mariadb::{self, UserAuth};
    let user = "doctor_healthy_my";
    let db = mariadb::shared();
    db.create_user(user, UserAuth::NoPassword).await;
    db.create_database("doctor_my").await;
    db.grant("ALL", "`doctor_my`.*", user).await;
    let (_emulator, url) = mariadb_emulator(user, "doctor_my").await;
    let (run, report) = doctor(with_keys(), &[&url]).await;
    assert_eq!(run.code, Some(0), "{run:?}");
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 7, "{report:#}");
    assert!(stages.iter().all(|s| s["ok"] == true), "{report:#}");
    assert!(
        text(&stages[6], "found").contains("not checked"),
        "{report:#}"
    );

    let (_emulator, url) = mariadb_emulator("Doctor_Healthy_My", "doctor_my").await;
    let (run, report) = doctor(with_keys(), &[&url]).await;
    let stage = failed_at(&run, &report, "login");
    assert!(
        text(stage, "found").starts_with("MySQL error 1045"),
        "{stage}"
    );
    let fix = text(stage, "fix");
    assert!(
        fix.starts_with("first: the user name `Doctor_Healthy_My`"),
        "{fix}"
    );
    assert!(
        fix.contains("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"),
        "{fix}"
    );
}

//! The installed command, run for real: `rds-iam token` prints the bytes `cargo run --example
//! token` prints for every committed botocore vector, each subcommand has `--help`, and the
//! exit codes and error lines are what scripts rely on (0 ok, 1 failure, 2 usage; one line).
//!
//! Each child runs in an environment that is exactly what the test gives it: no AWS variables
//! of the developer's, instance metadata off, empty shared config and credentials files.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The workspace root: the `rds-iam` package, its examples and its test data.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
}

#[path = "../../../tests/it/support/cargo_example.rs"]
mod cargo_example;

/// The root package's `token` example, built once for this test binary (same profile).
fn token_example() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| cargo_example::build("token", &[]))
}

/// What one run printed.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Failure with `code`: nothing on stdout, one `rds-iam: error: ` line on stderr; that line.
    fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        let line = self
            .stderr
            .strip_suffix('\n')
            .and_then(|s| s.strip_prefix("rds-iam: error: "))
            .unwrap_or_else(|| panic!("not one error line: {self:?}"));
        assert!(!line.contains('\n'), "more than one line: {self:?}");
        line
    }

    /// Success: stdout, with nothing on stderr.
    fn success(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        &self.stdout
    }
}

/// `program args` with no environment but `vars` and an empty AWS configuration.
fn run(program: &Path, args: &[&str], vars: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config");
    let credentials = home.path().join("credentials");
    std::fs::File::create(&config).unwrap();
    std::fs::File::create(&credentials).unwrap();
    let output = Command::new(program)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
        .envs(vars.iter().copied())
        .args(args)
        .output()
        .expect("the program runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// `rds-iam args`.
fn rds_iam(args: &[&str], vars: &[(&str, &str)]) -> Run {
    run(Path::new(env!("CARGO_BIN_EXE_rds-iam")), args, vars)
}

fn vectors(file: &str) -> Vec<Value> {
    let path = root().join("tests/data/token_vectors").join(file);
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    file["cases"].as_array().unwrap().clone()
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {case}"))
}

/// The vector's credentials, as environment variables.
fn keys(case: &Value) -> Vec<(&str, &str)> {
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", str_of(case, "access_key_id")),
        ("AWS_SECRET_ACCESS_KEY", str_of(case, "secret_access_key")),
    ];
    if let Some(token) = case["session_token"].as_str() {
        vars.push(("AWS_SESSION_TOKEN", token));
    }
    vars
}

/// `rds-iam token args` and `token args` print the same bytes, and the vector's token.
fn same_as_the_example(case: &Value, args: &[&str]) {
    let name = str_of(case, "name");
    let vars = keys(case);
    for json in [false, true] {
        let mut args = args.to_vec();
        if json {
            args.push("--json");
        }
        let example = run(token_example(), &args, &vars);
        let command = rds_iam(&[&["token"], &args[..]].concat(), &vars);
        if json && str_of(case, "at").starts_with("9999-12-31T23:") {
            // Expiring in the year 10000, which RFC 3339 cannot write: the same error.
            let line = command.error(1);
            assert!(line.contains("after the year 9999"), "{line}");
            assert_eq!(example.stderr, format!("token: error: {line}\n"));
            continue;
        }
        let stdout = example.success();
        if json {
            let value: Value = serde_json::from_str(stdout).unwrap();
            assert_eq!(value["token"], case["token"], "case {name}");
        } else {
            assert_eq!(
                stdout,
                format!("{}\n", str_of(case, "token")),
                "case {name}"
            );
        }
        assert_eq!(command, example, "case {name}, --json {json}");
    }
}

#[test]
fn token_prints_the_examples_bytes_for_every_rds_vector() {
    let cases = vectors("rds_tokens.json");
    assert!(cases.len() >= 30);
    for case in &cases {
        let port = case["port"].to_string();
        let at = str_of(case, "at");
        let (host, user, region) = (
            str_of(case, "host"),
            str_of(case, "user"),
            str_of(case, "region"),
        );
        let flags = [
            "--host", host, "--port", &port, "--user", user, "--region", region, "--at", at,
        ];
        same_as_the_example(case, &flags);
        // The same target as a JDBC URL, its region given as iamRegion (the vectors' host
        // names need not carry one).
        let url = format!(
            "jdbc:aws-wrapper:postgresql://{host}:{port}/postgres?wrapperPlugins=iam&iamRegion={region}&user={}",
            percent_encode(user)
        );
        same_as_the_example(case, &[&url, "--at", at]);
    }
}

/// A user name as a URL query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn token_prints_the_examples_bytes_for_every_dsql_vector() {
    let cases = vectors("dsql_tokens.json");
    assert!(cases.len() >= 6);
    for case in &cases {
        let expires_in = case["expires_in"].to_string();
        same_as_the_example(
            case,
            &[
                "--engine",
                "dsql",
                "--host",
                str_of(case, "host"),
                "--region",
                str_of(case, "region"),
                "--action",
                str_of(case, "action"),
                "--expires-in",
                &expires_in,
                "--at",
                str_of(case, "at"),
            ],
        );
    }
}

#[test]
fn dry_run_prints_the_examples_bytes() {
    let url = "jdbc:aws-wrapper:mysql://db.abc123.eu-west-1.rds.amazonaws.com:3306/app?wrapperPlugins=iam&user=app";
    for args in [&["--dry-run", url][..], &["--dry-run", "--json", url]] {
        let example = run(token_example(), args, &[]);
        assert!(example.success().contains("eu-west-1"), "{example:?}");
        assert_eq!(rds_iam(&[&["token"], args].concat(), &[]), example);
    }
}

#[test]
fn every_subcommand_has_help() {
    let help = rds_iam(&["--help"], &[]);
    for subcommand in ["token", "connect", "emulator"] {
        assert!(help.success().contains(subcommand), "{help:?}");
    }
    let token = rds_iam(&["token", "--help"], &[]);
    for flag in [
        "Usage: rds-iam token",
        "--host",
        "--port",
        "--user",
        "--region",
        "--role-arn",
        "--profile",
        "--at",
        "--json",
        "--dry-run",
        "--engine",
        "--action",
        "--expires-in",
        "RUST_LOG",
        "Exit codes",
    ] {
        assert!(token.success().contains(flag), "{flag}: {token:?}");
    }
    let emulator = rds_iam(&["emulator", "--help"], &[]);
    for flag in [
        "Usage: rds-iam emulator",
        "--engine",
        "--listen",
        "--backend",
        "--endpoint",
        "--region",
        "--secret-access-key-file",
        "RDS_IAM_EMULATOR_BACKEND_PASSWORD",
    ] {
        assert!(emulator.success().contains(flag), "{flag}: {emulator:?}");
    }
    // The refused secret flags are not offered.
    assert!(
        !emulator.stdout.contains("--secret-access-key <"),
        "{emulator:?}"
    );
    let connect = rds_iam(&["connect", "--help"], &[]);
    for flag in ["Usage: rds-iam connect", "-c", "--user", "--region", "--ca"] {
        assert!(connect.success().contains(flag), "{flag}: {connect:?}");
    }
}

#[test]
fn version() {
    let run = rds_iam(&["--version"], &[]);
    assert_eq!(
        run.success(),
        format!("rds-iam {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let line = rds_iam(&["token", "--bogus"], &[]).error(2).to_owned();
    assert!(
        line.contains("'--bogus'") && line.ends_with("(see --help)"),
        "{line}"
    );
    let line = rds_iam(&["token", "--region"], &[]).error(2).to_owned();
    assert!(line.contains("--region"), "{line}");
    let line = rds_iam(&["token", "--at", "yesterday"], &[])
        .error(2)
        .to_owned();
    assert!(line.contains("RFC 3339"), "{line}");
    // Checks of the command's own, after clap's.
    let line = rds_iam(&["token", "--host", "h", "--user", "u"], &[])
        .error(2)
        .to_owned();
    assert!(line.contains("--port PORT"), "{line}");
    let line = rds_iam(&["token", "--action", "DbConnect"], &[])
        .error(2)
        .to_owned();
    assert!(line.contains("--engine dsql"), "{line}");
    let line = rds_iam(&["connect", "jdbc:x"], &[]).error(2).to_owned();
    assert!(line.contains("--command <SQL>"), "{line}");
    let line = rds_iam(&[], &[]).error(2).to_owned();
    assert!(line.contains("subcommand"), "{line}");
    let line = rds_iam(&["tokens"], &[]).error(2).to_owned();
    assert!(line.contains("'tokens'"), "{line}");
}

#[test]
fn failures_exit_1_with_one_line_naming_the_cause() {
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];
    let run = rds_iam(
        &[
            "token",
            "--host",
            "localhost",
            "--port",
            "5432",
            "--user",
            "app",
        ],
        &keys,
    );
    let line = run.error(1);
    assert!(line.starts_with("cannot tell the AWS region"), "{line}");
    assert!(line.ends_with("; or pass --region REGION"), "{line}");
    assert!(!run.stderr.contains(keys[1].1));

    let url = "jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com:5432/app?wrapperPlugins=iam&user=app";
    let line = rds_iam(&["token", url], &[]).error(1).to_owned();
    assert!(line.starts_with("no AWS credentials found"), "{line}");

    let url = "jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com/app?wrapperPlugins=iam";
    let line = rds_iam(&["connect", url, "-c", "SELECT 1"], &keys)
        .error(1)
        .to_owned();
    assert!(line.contains("add user=NAME to the JDBC URL"), "{line}");
    assert!(line.ends_with("; or pass --user USER"), "{line}");
}

/// `rds-iam emulator` serves: it says where it listens once ready, and accepts connections
/// there (the backend is dialled only for a login, so none needs to run).
#[test]
fn emulator_listens_and_says_where() {
    use std::io::{BufRead, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rds-iam"))
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .args([
            "emulator",
            "--engine",
            "postgres",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--backend", "127.0.0.1:9", "--region", "us-east-1"])
        .args(["--endpoint", "db.abc123.us-east-1.rds.amazonaws.com:5432"])
        .arg("--write-ca")
        .arg(&ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.strip_prefix("listening on ").map(str::trim_end);
    let connected = addr.map(|addr| std::net::TcpStream::connect(addr).is_ok());
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(connected, Some(true), "{line:?} {stderr}");
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    assert!(!stderr.contains("emulator-secret"), "{stderr}");
}

#[test]
fn setup_prints_a_policy_that_parses_and_the_sql() {
    let help = rds_iam(&["setup", "--help"], &[]);
    for flag in [
        "Usage: rds-iam setup",
        "--engine",
        "--user",
        "--account",
        "--resource-id",
        "--liquibase-shared-owner",
        "--apply",
        "--admin-url",
        "RDS_IAM_ADMIN_PASSWORD",
        "DBClusters[0].DbClusterResourceId",
        "DBInstances[0].DbiResourceId",
    ] {
        assert!(help.success().contains(flag), "{flag}: {help:?}");
    }
    let policy = [
        "--account",
        "123456789012",
        "--region",
        "us-gov-west-1",
        "--resource-id",
        "db-12ABC34DEFG5HIJ6KLMNOP78QR",
    ];
    let mut args = vec![
        "setup",
        "--engine",
        "mysql",
        "--user",
        "App\"User",
        "--only",
        "policy",
    ];
    args.extend(policy);
    let run = rds_iam(&args, &[]);
    let json: Value = serde_json::from_str(run.success()).unwrap();
    assert_eq!(
        json["Statement"][0]["Resource"],
        "arn:aws-us-gov:rds-db:us-gov-west-1:123456789012:dbuser:db-12ABC34DEFG5HIJ6KLMNOP78QR/App\"User"
    );
    let run = rds_iam(
        &[
            "setup",
            "--engine",
            "mysql",
            "--user",
            "app",
            "--database",
            "app",
            "--only",
            "sql",
        ],
        &[],
    );
    assert_eq!(
        run.success(),
        "-- the database user, if it does not exist yet\n\
         CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL;\n\
         -- privileges on the database\n\
         GRANT ALL PRIVILEGES ON `app`.* TO `app`@`%`;\n"
    );

    // A cluster identifier where the resource id belongs: exit 1, and how to find it.
    let mut args = vec!["setup", "--engine", "postgres", "--user", "u", "--cluster"];
    args.extend(&policy[..4]);
    args.extend(["--resource-id", "my-aurora-cluster"]);
    let line = rds_iam(&args, &[]).error(1).to_owned();
    assert!(
        line.contains("\"my-aurora-cluster\" is not a resource id"),
        "{line}"
    );
    assert!(
        line.contains("--query 'DBClusters[0].DbClusterResourceId'"),
        "{line}"
    );
    // Half the policy's flags, or the Liquibase block on MySQL: usage errors.
    let line = rds_iam(
        &[
            "setup",
            "--engine",
            "postgres",
            "--user",
            "u",
            "--account",
            "123456789012",
        ],
        &[],
    )
    .error(2)
    .to_owned();
    assert!(line.contains("--region"), "{line}");
    let line = rds_iam(
        &[
            "setup",
            "--engine",
            "mysql",
            "--user",
            "u",
            "--liquibase-shared-owner",
            "admin",
        ],
        &[],
    )
    .error(2)
    .to_owned();
    assert!(line.contains("no owner"), "{line}");
}

/// `rds-iam doctor`: its help, a usage error (2), and a failed stage (1): the report on stdout
/// names the stage and the fix, one error line on stderr; without credentials, the fix lists
/// the ECS variables; the secret key given is never printed.
#[test]
fn doctor_reports_the_failed_stage_and_exits_1() {
    let help = rds_iam(&["doctor", "--help"], &[]);
    for flag in [
        "Usage: rds-iam doctor",
        "--user",
        "--ca",
        "--admin-url",
        "--json",
        "Exit codes",
    ] {
        assert!(help.success().contains(flag), "{flag}: {help:?}");
    }
    assert!(rds_iam(&["doctor"], &[]).error(2).contains("JDBC_URL"));

    let plain = rds_iam(&["doctor", "jdbc:postgresql://db/app?user=u"], &[]);
    assert_eq!(plain.code, Some(1), "{plain:?}");
    assert!(plain.stdout.starts_with("FAIL url: "), "{plain:?}");
    assert!(plain.stdout.contains("     fix: "), "{plain:?}");
    assert_eq!(
        plain.stderr,
        "rds-iam: error: the url stage failed: the report on stdout gives the fix\n"
    );

    const URL: &str = "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com:5432/app?wrapperPlugins=iam&user=u";
    let none = rds_iam(&["doctor", URL, "--json"], &[]);
    assert_eq!(none.code, Some(1), "{none:?}");
    let report: Value = serde_json::from_str(&none.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let stages = report["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2, "{report:#}");
    assert_eq!(stages[1]["name"], "credentials");
    let fix = stages[1]["fix"].as_str().unwrap();
    assert!(fix.contains("HARNESS_ECS_BUILD_TASK_ROLE_ARN"), "{fix}");

    // With keys, the run goes on to the network stage (nothing listens on port 1).
    const SECRET: &str = "doctor/cli/secret/access/key";
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
    ];
    let closed = rds_iam(
        &[
            "doctor",
            "jdbc:aws-wrapper:postgresql://127.0.0.1:1/app?wrapperPlugins=iam&user=u&iamRegion=us-east-1",
        ],
        &keys,
    );
    assert_eq!(closed.code, Some(1), "{closed:?}");
    assert!(closed.stdout.contains("ok   credentials: "), "{closed:?}");
    assert!(
        closed
            .stdout
            .contains("AKIA... (AKIA: an IAM user's long-term key)"),
        "{closed:?}"
    );
    assert!(closed.stdout.contains("FAIL network: "), "{closed:?}");
    assert!(!closed.stdout.contains(SECRET) && !closed.stderr.contains(SECRET));
}

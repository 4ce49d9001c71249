//! The `token` example run for real: the built binary, in a child process whose environment
//! is exactly what each test gives it (see `support::example`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::token::{RdsTokenParams, sign_rds_token};
use serde_json::Value;

use crate::support::example::{ChildEnv, Run};
use crate::support::http::{Handler, HttpServer, Response};

// ---------------------------------------------------------------------------
// Running the example.

/// The secrets the child gets and must never print on stderr.
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/+session=token";
const SECRETS: &[&str] = &[
    SECRET_ACCESS_KEY,
    SESSION_TOKEN,
    "secret-from-ecs",
    "secret-from-sts",
];

/// Running the `token` example in a [`ChildEnv`].
trait RunToken {
    fn run(&self, args: &[&str]) -> Run;
    async fn run_async(&self, args: &[&str]) -> Run;
}

impl RunToken for ChildEnv {
    fn run(&self, args: &[&str]) -> Run {
        self.run_example("token", args, SECRETS)
    }

    async fn run_async(&self, args: &[&str]) -> Run {
        self.run_example_async("token", args, SECRETS).await
    }
}

/// What a successful run printed.
trait Printed {
    /// Success: the token alone, one line.
    fn token(&self) -> &str;
    /// Success: one JSON object.
    fn json(&self) -> Value;
}

impl Printed for Run {
    fn token(&self) -> &str {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        let token = self
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("no newline after the token: {self:?}"));
        assert!(!token.contains(['\n', '\r', ' ']), "{self:?}");
        token
    }

    fn json(&self) -> Value {
        assert_eq!(self.code, Some(0), "{self:?}");
        assert_eq!(self.stderr, "", "{self:?}");
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
}

// ---------------------------------------------------------------------------
// Golden vectors (botocore), through the command line.

fn vectors(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/token_vectors")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["cases"].as_array().unwrap().clone()
}

fn str_of<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {case}"))
}

fn env_of(case: &Value) -> ChildEnv {
    ChildEnv::with_keys(
        str_of(case, "access_key_id"),
        str_of(case, "secret_access_key"),
        case["session_token"].as_str(),
    )
}

#[test]
fn every_rds_vector_from_flags_byte_for_byte() {
    let cases = vectors("rds_tokens.json");
    assert!(cases.len() >= 30);
    for case in &cases {
        let port = case["port"].to_string();
        let run = env_of(case).run(&[
            "--host",
            str_of(case, "host"),
            "--port",
            &port,
            "--user",
            str_of(case, "user"),
            "--region",
            str_of(case, "region"),
            "--at",
            str_of(case, "at"),
        ]);
        assert_eq!(
            run.token(),
            str_of(case, "token"),
            "case {}",
            str_of(case, "name")
        );
        // And nothing after the token's newline.
        assert_eq!(run.stdout, format!("{}\n", str_of(case, "token")));
    }
}

#[test]
fn every_dsql_vector_byte_for_byte() {
    let cases = vectors("dsql_tokens.json");
    assert!(cases.len() >= 6);
    for case in &cases {
        let expires_in = case["expires_in"].to_string();
        let run = env_of(case).run(&[
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
        ]);
        assert_eq!(
            run.stdout,
            format!("{}\n", str_of(case, "token")),
            "case {}",
            str_of(case, "name")
        );
    }
}

fn rds_case(name: &str) -> Value {
    vectors("rds_tokens.json")
        .into_iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// From a JDBC URL, the signing target comes from the plan: the same vector.
#[test]
fn a_jdbc_url_signs_for_its_host_port_user_and_region() {
    let case = rds_case("session_token_slash_plus_eq");
    let url = format!(
        "jdbc:aws-wrapper:postgresql://{}:{}/postgres?wrapperPlugins=iam&sslmode=require&user={}",
        str_of(&case, "host"),
        case["port"],
        str_of(&case, "user"),
    );
    let run = env_of(&case).run(&[&url, "--at", str_of(&case, "at")]);
    assert_eq!(run.token(), str_of(&case, "token"));

    // Flags override the URL: a tunnel URL, signed for the real endpoint.
    let case = rds_case("user_with_plus");
    let run = env_of(&case).run(&[
        "jdbc:aws-wrapper:mysql://127.0.0.1:13306/app?wrapperPlugins=iam&user=someone",
        "--host",
        str_of(&case, "host"),
        "--port",
        &case["port"].to_string(),
        "--user",
        str_of(&case, "user"),
        "--at",
        str_of(&case, "at"),
    ]);
    assert_eq!(run.token(), str_of(&case, "token"));
}

/// Logs go to stderr (warnings by default, what `RUST_LOG` asks for otherwise), never a
/// secret; stdout stays the token alone.
#[test]
fn logs_go_to_stderr_as_rust_log_says() {
    let case = rds_case("session_token_slash_plus_eq");
    let port = case["port"].to_string();
    let args = [
        "--host",
        str_of(&case, "host"),
        "--port",
        &port,
        "--user",
        str_of(&case, "user"),
        "--region",
        str_of(&case, "region"),
        "--at",
        str_of(&case, "at"),
    ];
    let quiet = env_of(&case).run(&args);
    assert_eq!(quiet.token(), str_of(&case, "token"));

    let verbose = env_of(&case).var("RUST_LOG", "rds_iam=debug").run(&args);
    assert_eq!(verbose.code, Some(0), "{verbose:?}");
    assert_eq!(verbose.stdout, quiet.stdout);
    assert!(
        verbose.stderr.contains("DEBUG") && verbose.stderr.contains("fetched AWS credentials"),
        "{verbose:?}"
    );
    for secret in [str_of(&case, "secret_access_key"), str_of(&case, "token")] {
        assert!(!verbose.stderr.contains(secret), "{verbose:?}");
    }
    let session_token = case["session_token"].as_str().unwrap();
    assert!(!verbose.stderr.contains(session_token), "{verbose:?}");
}

#[test]
fn json_output_has_the_token_and_its_facts() {
    let case = rds_case("basic_mysql");
    let run = env_of(&case).run(&[
        &format!(
            "jdbc:aws-wrapper:mysql://{}:{}/app?wrapperPlugins=iam&user={}",
            str_of(&case, "host"),
            case["port"],
            str_of(&case, "user")
        ),
        "--at",
        str_of(&case, "at"),
        "--json",
    ]);
    let json = run.json();
    let expected = serde_json::json!({
        "token": str_of(&case, "token"),
        "host": str_of(&case, "host"),
        "port": case["port"],
        "user": str_of(&case, "user"),
        "region": str_of(&case, "region"),
        "signed_at": "2024-02-29T12:34:56Z",
        "expires_at": "2024-02-29T12:49:56Z",
        "endpoint_kind": "cluster-writer",
    });
    assert_eq!(json, expected);
    assert_eq!(str_of(&case, "at"), "2024-02-29T12:34:56Z");

    let dsql = vectors("dsql_tokens.json")
        .into_iter()
        .find(|c| c["name"] == "admin_one_week")
        .unwrap();
    let json = env_of(&dsql)
        .run(&[
            "--engine",
            "dsql",
            "--host",
            str_of(&dsql, "host"),
            "--action",
            "DbConnectAdmin",
            "--expires-in",
            "604800",
            "--at",
            str_of(&dsql, "at"),
            "--json",
        ])
        .json();
    // The region comes from the cluster endpoint's name.
    assert_eq!(
        json,
        serde_json::json!({
            "token": str_of(&dsql, "token"),
            "host": str_of(&dsql, "host"),
            "port": null,
            "user": null,
            "region": "eu-west-1",
            "signed_at": "2040-07-04T18:30:00Z",
            "expires_at": "2040-07-11T18:30:00Z",
            "endpoint_kind": "dsql",
            "action": "DbConnectAdmin",
        })
    );
}

#[test]
fn dry_run_needs_no_credentials() {
    let json = ChildEnv::empty()
        .run(&[
            "--dry-run",
            "--json",
            "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
             ?wrapperPlugins=iam&ssl=true&sslmode=require&user=harness_iam_user",
        ])
        .json();
    assert_eq!(
        json,
        serde_json::json!({
            "engine": "postgresql",
            "iam": true,
            "hosts": [{"host": "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com", "port": 5432}],
            "database": "postgres",
            "user": "harness_iam_user",
            "signing_host": "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com",
            "signing_port": 5432,
            "region": "us-east-1",
            "endpoint_kind": "cluster-writer",
            "tls": "require",
        })
    );
}

// ---------------------------------------------------------------------------
// Errors: one line on stderr, exit 1 (or 2 for usage), never a secret.

const IAM_URL: &str = "jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com:5432/app?wrapperPlugins=iam&user=app";

fn with_keys() -> ChildEnv {
    ChildEnv::with_keys("AKIDEXAMPLE", SECRET_ACCESS_KEY, Some(SESSION_TOKEN))
}

#[test]
fn bad_url_is_exit_1() {
    let line = with_keys()
        .run(&["jdbc:aws-wrapper:oracle://db/app?wrapperPlugins=iam&user=u"])
        .error(1)
        .to_owned();
    assert!(line.contains("postgresql, mysql or mariadb"), "{line}");
}

#[test]
fn non_iam_url_is_exit_1_and_says_how_to_enable_iam() {
    let env = with_keys();
    let line = env.run(&["jdbc:postgresql://db.abc123.eu-west-1.rds.amazonaws.com/app?user=u"]);
    let line = line.error(1);
    assert!(line.contains("jdbc:aws-wrapper:"), "{line}");
    assert!(line.contains("wrapperPlugins=iam"), "{line}");
    let run = env
        .run(&["jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com/app?user=u"]);
    assert!(run.error(1).contains("add wrapperPlugins=iam"), "{run:?}");
}

#[test]
fn missing_region_is_exit_1() {
    let env = with_keys();
    let run = env.run(&["--host", "localhost", "--port", "5432", "--user", "app"]);
    assert!(run.error(1).contains("--region REGION"), "{run:?}");
    // The library's error names the URL parameter, the command adds its flag.
    let run =
        env.run(&["jdbc:aws-wrapper:postgresql://localhost:15432/app?wrapperPlugins=iam&user=u"]);
    let line = run.error(1);
    assert!(
        line.contains("set iamRegion=REGION in the JDBC URL"),
        "{line}"
    );
    assert!(line.ends_with("; or pass --region REGION"), "{line}");
    let run = env.run(&["--engine", "dsql", "--host", "db.example.com"]);
    assert!(run.error(1).contains("--region REGION"), "{run:?}");
}

#[test]
fn missing_user_names_the_url_parameter_and_the_flag() {
    let run = with_keys()
        .run(&["jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com/app?wrapperPlugins=iam"]);
    let line = run.error(1);
    assert!(
        line.starts_with(
            "no database user to sign the IAM token for: add user=NAME to the JDBC URL"
        ),
        "{line}"
    );
    assert!(line.ends_with("; or pass --user USER"), "{line}");
}

#[test]
fn no_credentials_is_exit_1_and_names_the_sources_tried() {
    let run = ChildEnv::empty().run(&[IAM_URL]);
    let line = run.error(1);
    assert!(
        line.starts_with("no AWS credentials found: tried the default AWS credentials chain"),
        "{line}"
    );
    assert!(
        line.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set"),
        "{line}"
    );
    // The aws-config cause follows, once.
    assert_eq!(
        line.matches("no credentials found in chain").count(),
        1,
        "{line}"
    );

    let run = ChildEnv::empty().run(&[IAM_URL, "--profile", "deploy"]);
    assert!(run.error(1).contains("profile `deploy`"), "{run:?}");
}

#[test]
fn usage_errors_are_exit_2() {
    let env = with_keys();
    // clap's messages, on one line.
    let run = env.run(&[IAM_URL, "--bogus"]);
    assert_eq!(
        run.error(2),
        "unexpected argument '--bogus' found (see --help)"
    );
    let run = env.run(&[IAM_URL, "--region"]);
    assert_eq!(
        run.error(2),
        "a value is required for '--region <REGION>' but none was supplied (see --help)"
    );
    let run = env.run(&[
        "--host",
        "db.abc123.eu-west-1.rds.amazonaws.com",
        "--user",
        "app",
    ]);
    assert!(run.error(2).contains("--port PORT"), "{run:?}");
    let run = env.run(&[IAM_URL, "--at", "yesterday"]);
    assert!(run.error(2).contains("RFC 3339"), "{run:?}");
    let run = env.run(&["--dry-run"]);
    assert!(run.error(2).contains("no JDBC URL"), "{run:?}");
    let help = env.run(&["--help"]);
    assert_eq!(help.code, Some(0));
    assert!(
        help.stdout.contains("Usage: token [OPTIONS] [JDBC_URL]"),
        "{help:?}"
    );
}

// ---------------------------------------------------------------------------
// ECS container credentials from a loopback server.

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const ECS_SECRET: &str = "secret-from-ecs/+=";
const ECS_TOKEN: &str = "IQoJb3JpZ2luX2VjECS/+token=";

/// An ECS credentials endpoint answering `status` (200: credentials valid until T0 + 1 h).
async fn ecs_server(status: u16) -> (HttpServer, Arc<AtomicU64>) {
    let requests = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&requests);
    let handler: Handler = Arc::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        Some(Response {
            status,
            content_type: "application/json",
            body: if status == 200 {
                format!(
                    r#"{{"AccessKeyId":"ASIAECSEXAMPLE","SecretAccessKey":"{ECS_SECRET}","Token":"{ECS_TOKEN}","Expiration":"2030-01-01T01:00:00Z"}}"#
                )
            } else {
                r#"{"code":"InternalError","message":"test server told to fail"}"#.to_owned()
            },
        })
    });
    (HttpServer::start("/creds", handler).await, requests)
}

#[tokio::test]
async fn ecs_container_credentials_mint_a_valid_token() {
    let (server, requests) = ecs_server(200).await;
    let env = ChildEnv::empty().var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url);
    let run = env
        .run_async(&[IAM_URL, "--at", "2030-01-01T00:00:00Z"])
        .await;
    assert!(!run.stdout.contains(ECS_SECRET));

    // The token the library signs with the served credentials at the same instant.
    let credentials = Credentials::new(
        "ASIAECSEXAMPLE",
        ECS_SECRET,
        Some(ECS_TOKEN.to_owned()),
        Some(UNIX_EPOCH + Duration::from_secs(T0 + 3600)),
        "ecs",
    );
    let params = RdsTokenParams::new(
        "db.abc123.eu-west-1.rds.amazonaws.com",
        5432,
        "app",
        "eu-west-1",
    );
    let expected =
        sign_rds_token(&params, &credentials, UNIX_EPOCH + Duration::from_secs(T0)).unwrap();
    assert_eq!(run.token(), expected.expose());
    assert!(
        run.token()
            .contains("&X-Amz-Security-Token=IQoJb3JpZ2luX2VjECS%2F%2Btoken%3D&")
    );
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

/// The command refuses what the library and the connectors refuse: credentials that had
/// expired at the signing instant (here `--at` an hour after the served credentials' expiry)
/// give an error naming the expiry, not a token nobody accepts.
#[tokio::test]
async fn credentials_expired_at_the_signing_instant_are_refused() {
    let (server, _) = ecs_server(200).await;
    let env = ChildEnv::empty().var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url);
    let run = env
        .run_async(&[IAM_URL, "--at", "2030-01-01T02:00:00Z", "--json"])
        .await;
    let line = run.error(1);
    assert!(
        line.starts_with(
            "the AWS credentials expired at 2030-01-01T01:00:00Z, at or before the signing time \
             2030-01-01T02:00:00Z"
        ),
        "{line}"
    );
}

/// `--json`'s `expires_at` is the token's real end of validity: the credentials' expiry when
/// it comes before signing + 900 s.
#[tokio::test]
async fn json_expires_at_is_the_end_of_the_tokens_validity() {
    let (server, _) = ecs_server(200).await;
    let env = ChildEnv::empty().var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url);
    let json = env
        .run_async(&[IAM_URL, "--at", "2030-01-01T00:50:00Z", "--json"])
        .await
        .json();
    assert_eq!(json["signed_at"], "2030-01-01T00:50:00Z");
    assert_eq!(json["expires_at"], "2030-01-01T01:00:00Z", "{json}");
    let json = env
        .run_async(&[IAM_URL, "--at", "2030-01-01T00:30:00Z", "--json"])
        .await
        .json();
    assert_eq!(json["expires_at"], "2030-01-01T00:45:00Z", "{json}");
}

// ---------------------------------------------------------------------------
// --role-arn: STS on loopback (`AWS_ENDPOINT_URL_STS`).

#[tokio::test]
async fn role_arn_assumes_the_role_through_sts_in_the_signing_region() {
    let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let handler: Handler = Arc::new(move |request: crate::support::http::Request| {
        seen.lock()
            .unwrap()
            .push(format!("{}{}", request.head, request.body));
        Some(Response {
            status: 200,
            content_type: "text/xml",
            body: r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:rds-iam-token</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/db-connect/rds-iam-token</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIASTSEXAMPLE</AccessKeyId>
      <SecretAccessKey>secret-from-sts</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjSTS+token=</SessionToken>
      <Expiration>2030-01-01T01:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
</AssumeRoleResponse>"#
                .to_owned(),
        })
    });
    let sts = HttpServer::start("/", handler).await;
    let env = ChildEnv::with_keys("AKIDSOURCE", SECRET_ACCESS_KEY, None)
        .var("AWS_ENDPOINT_URL_STS", &sts.url)
        // The signing region wins over the environment's for STS.
        .var("AWS_REGION", "us-west-2");
    let run = env
        .run_async(&[
            IAM_URL,
            "--role-arn",
            "arn:aws:iam::123456789012:role/db-connect",
            "--at",
            "2030-01-01T00:00:00Z",
        ])
        .await;

    let credentials = Credentials::new(
        "ASIASTSEXAMPLE",
        "secret-from-sts",
        Some("IQoJb3JpZ2luX2VjSTS+token=".to_owned()),
        None,
        "sts",
    );
    let params = RdsTokenParams::new(
        "db.abc123.eu-west-1.rds.amazonaws.com",
        5432,
        "app",
        "eu-west-1",
    );
    let expected =
        sign_rds_token(&params, &credentials, UNIX_EPOCH + Duration::from_secs(T0)).unwrap();
    assert_eq!(run.token(), expected.expose());

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert!(
        request.contains("Credential=AKIDSOURCE/")
            && request.contains("/eu-west-1/sts/aws4_request"),
        "{request}"
    );
    assert!(
        request.contains("Action=AssumeRole")
            && request.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdb-connect")
            && request.contains("RoleSessionName=rds-iam-token"),
        "{request}"
    );
}

//! A misbehaving ECS container credentials endpoint on loopback: it answers HTTP 500, never
//! answers, answers something that is not JSON, leaves out the secret key, or hands out
//! credentials that expired long ago.
//!
//! For each fault, through the library (`CredentialsConfig` / `CredentialsProvider`) and
//! through the `token` command (one line on stderr, exit 1): the error's first clause names
//! the cause, and the error comes within [`BOUND`], the hang included. And a `TokenProvider`
//! holding a still-valid token keeps handing it out, at once, while the endpoint misbehaves.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rds_iam::clock::{Clock, ManualClock, SystemClock};
use rds_iam::credentials::CredentialsError;
use rds_iam::provider::{ProviderStats, TokenProvider};
use rds_iam::token::RdsTokenParams;

use crate::support::aws_env::{AwsEnv, rfc3339};
use crate::support::example::{self, ChildEnv};
use crate::support::http::{Handler, HttpServer, Response};

/// How long any failure may take to reach the caller. The hang is what needs it: aws-config
/// alone would wait 5 s per attempt over 3 attempts (about 16 s); the credentials fetch
/// deadline (`DEFAULT_FETCH_TIMEOUT`, 8 s) cuts that short, and 2 s are left for a busy
/// machine. The other faults fail in about a second.
const BOUND: Duration = Duration::from_secs(10);

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const HOUR: Duration = Duration::from_secs(3600);
const SECRET_ACCESS_KEY: &str = "faultTestSecretAccessKey/+=";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjFaultTestSession/+=";
/// What the endpoint serves as the expiry of expired credentials.
const LONG_AGO: &str = "2020-01-01T00:00:00Z";
const IAM_URL: &str = "jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com:5432/app?wrapperPlugins=iam&user=app";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// How the endpoint misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// HTTP 500 with an error body.
    Http500,
    /// Reads the request and never answers.
    Hang,
    /// HTTP 200 with an HTML page (a proxy's, say).
    NotJson,
    /// HTTP 200 with credentials lacking `SecretAccessKey`.
    NoSecretKey,
    /// HTTP 200 with credentials that expired at [`LONG_AGO`].
    Expired,
}

impl Fault {
    /// The first clause of the error: the cause, before anything else.
    fn first_clause(self) -> String {
        let from = "from the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI)";
        match self {
            Self::Http500 => format!("HTTP 500 {from}"),
            Self::Hang => format!("no answer within 8 s {from}"),
            Self::NotJson => format!("invalid JSON {from}"),
            Self::NoSecretKey => format!("no `SecretAccessKey` in the answer {from}"),
            Self::Expired => format!("credentials that had expired at {LONG_AGO} {from}"),
        }
    }
}

/// The endpoint: valid credentials (an hour from its clock's now) until told to misbehave.
struct Endpoint {
    http: HttpServer,
    fault: Arc<Mutex<Option<Fault>>>,
    requests: Arc<AtomicU64>,
}

impl Endpoint {
    async fn start(clock: Arc<dyn Clock>, fault: Option<Fault>) -> Self {
        let fault = Arc::new(Mutex::new(fault));
        let requests = Arc::new(AtomicU64::new(0));
        let (now_fault, count) = (Arc::clone(&fault), Arc::clone(&requests));
        let handler: Handler = Arc::new(move |_| {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let credentials = |expiration: &str| {
                format!(
                    r#"{{"AccessKeyId":"ASIAFAULT{n:08}","SecretAccessKey":"{SECRET_ACCESS_KEY}","Token":"{SESSION_TOKEN}","Expiration":"{expiration}"}}"#
                )
            };
            let json = |status, body| Response {
                status,
                content_type: "application/json",
                body,
            };
            match *now_fault.lock().unwrap() {
                None => Some(json(200, credentials(&rfc3339(clock.now() + HOUR)))),
                Some(Fault::Http500) => Some(json(
                    500,
                    r#"{"code":"InternalError","message":"test endpoint told to fail"}"#.into(),
                )),
                Some(Fault::Hang) => None,
                Some(Fault::NotJson) => Some(Response {
                    status: 200,
                    content_type: "text/html",
                    body: "<html><body>502 Bad Gateway</body></html>".into(),
                }),
                Some(Fault::NoSecretKey) => Some(json(
                    200,
                    format!(
                        r#"{{"AccessKeyId":"ASIAFAULT{n:08}","Token":"{SESSION_TOKEN}","Expiration":"{}"}}"#,
                        rfc3339(clock.now() + HOUR)
                    ),
                )),
                Some(Fault::Expired) => Some(json(200, credentials(LONG_AGO))),
            }
        });
        Self {
            http: HttpServer::start("/creds", handler).await,
            fault,
            requests,
        }
    }

    fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = Some(fault);
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

/// What the message must not carry: secrets, and checks that do not apply to an endpoint
/// that was reached (the Harness runner's role, the environment keys, the profile files,
/// instance metadata).
fn assert_only_what_applies(message: &str) {
    for unwanted in [
        SECRET_ACCESS_KEY,
        SESSION_TOKEN,
        "HARNESS_ECS_BUILD_TASK_ROLE_ARN",
        "AWS_ACCESS_KEY_ID",
        "profile `default`",
        "instance metadata",
    ] {
        assert!(!message.contains(unwanted), "{unwanted:?} in: {message}");
    }
}

// ---------------------------------------------------------------------------
// Through the library.

async fn library(fault: Fault) {
    let clock = ManualClock::new(at(T0));
    let endpoint = Endpoint::start(Arc::new(clock.clone()), Some(fault)).await;
    let env = AwsEnv::ecs(&endpoint.http.url);
    let provider = env.config(&clock).build().await.unwrap();

    let started = Instant::now();
    let err = provider.credentials().await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        matches!(err, CredentialsError::Unavailable { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.starts_with(&fault.first_clause()), "{message}");
    assert_only_what_applies(&message);
    assert!(elapsed < BOUND, "{fault:?}: {elapsed:?}");
    assert!(std::error::Error::source(&err).is_some(), "{err:?}");
    assert!(endpoint.requests() >= 1);
    assert_eq!(provider.stats().failures, 1);
}

#[tokio::test]
async fn library_http_500() {
    library(Fault::Http500).await;
}

#[tokio::test]
async fn library_hang() {
    library(Fault::Hang).await;
}

#[tokio::test]
async fn library_not_json() {
    library(Fault::NotJson).await;
}

#[tokio::test]
async fn library_no_secret_key() {
    library(Fault::NoSecretKey).await;
}

#[tokio::test]
async fn library_expired() {
    library(Fault::Expired).await;
}

// ---------------------------------------------------------------------------
// Through the `token` command.

async fn command(fault: Fault) {
    let endpoint = Endpoint::start(Arc::new(SystemClock), Some(fault)).await;
    let env = ChildEnv::empty().var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &endpoint.http.url);
    example::built("token"); // not timed

    let started = Instant::now();
    let run = env
        .run_example_async("token", &[IAM_URL], &[SECRET_ACCESS_KEY, SESSION_TOKEN])
        .await;
    let elapsed = started.elapsed();

    let line = run.error(1);
    assert!(line.starts_with(&fault.first_clause()), "{line}");
    assert_only_what_applies(line);
    assert!(elapsed < BOUND, "{fault:?}: {elapsed:?}");
}

#[tokio::test]
async fn command_http_500() {
    command(Fault::Http500).await;
}

#[tokio::test]
async fn command_hang() {
    command(Fault::Hang).await;
}

#[tokio::test]
async fn command_not_json() {
    command(Fault::NotJson).await;
}

#[tokio::test]
async fn command_no_secret_key() {
    command(Fault::NoSecretKey).await;
}

#[tokio::test]
async fn command_expired() {
    command(Fault::Expired).await;
}

// ---------------------------------------------------------------------------
// A still-valid cached token keeps working.

/// Wait (in real time, the hang takes seconds) until the provider's counters satisfy `done`.
async fn settle(provider: &TokenProvider, done: impl Fn(&ProviderStats) -> bool) {
    tokio::time::timeout(BOUND, async {
        while !done(&provider.stats()) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the refresh attempt ended within the bound");
}

async fn cached_token_keeps_working(fault: Fault) {
    let clock = ManualClock::new(at(T0));
    let endpoint = Endpoint::start(Arc::new(clock.clone()), None).await;
    let env = AwsEnv::ecs(&endpoint.http.url);
    let provider = TokenProvider::builder(env.config(&clock).build().await.unwrap())
        .clock(clock.clone())
        .build();
    let params = RdsTokenParams::new(
        "db.abc123.eu-west-1.rds.amazonaws.com",
        5432,
        "app",
        "eu-west-1",
    );

    // Credentials fetched at T0, valid until T0 + 1 h. A token signed with them at T0 + 3000 s
    // is handed out until T0 + 3570 s and refreshed ahead from T0 + 3380 s, when the
    // credentials are due for a refresh too (5 minutes before they expire).
    provider.token(&params).await.unwrap();
    clock.set(at(T0 + 3000));
    let held = provider.token(&params).await.unwrap();
    assert_eq!(endpoint.requests(), 1);

    // The endpoint misbehaves. At T0 + 3400 s callers get the held token at once, while the
    // refresh the first of them started is on the endpoint.
    endpoint.set(fault);
    clock.set(at(T0 + 3400));
    for _ in 0..3 {
        let started = Instant::now();
        let got = provider.token(&params).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(1), "{fault:?}");
        assert!(got.from_cache());
        assert_eq!(got.expose(), held.expose());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The refresh fails; the held token is still handed out.
    settle(&provider, |stats| stats.failures >= 1).await;
    assert!(
        endpoint.requests() >= 2,
        "{fault:?}: the endpoint was asked"
    );
    let got = provider.token(&params).await.unwrap();
    assert!(got.from_cache());
    assert_eq!(got.expose(), held.expose());
    assert_eq!(provider.stats().refreshes, 0);
}

#[tokio::test]
async fn cached_token_keeps_working_http_500() {
    cached_token_keeps_working(Fault::Http500).await;
}

#[tokio::test]
async fn cached_token_keeps_working_hang() {
    cached_token_keeps_working(Fault::Hang).await;
}

#[tokio::test]
async fn cached_token_keeps_working_not_json() {
    cached_token_keeps_working(Fault::NotJson).await;
}

#[tokio::test]
async fn cached_token_keeps_working_no_secret_key() {
    cached_token_keeps_working(Fault::NoSecretKey).await;
}

#[tokio::test]
async fn cached_token_keeps_working_expired() {
    cached_token_keeps_working(Fault::Expired).await;
}

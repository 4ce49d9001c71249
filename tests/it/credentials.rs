//! Credentials loading and caching against real HTTP servers on loopback: ECS
//! container credentials (`AWS_CONTAINER_CREDENTIALS_FULL_URI`, which
//! aws-config accepts over plain HTTP for loopback addresses) and STS.
//!
//! aws-config is given an explicit environment (`ConfigLoader::env`, from its
//! `test-util` feature) and the same variables go to the crate's diagnostics
//! (`Environment::from_vars`): no test mutates the process environment, so the
//! tests run in parallel. Time is a `ManualClock` shared with the servers,
//! which stamp `Expiration` from it; no test sleeps.

use std::error::Error as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::{Clock, ManualClock};
use rds_iam::credentials::{
    CredentialsConfig, CredentialsError, CredentialsProvider, DEFAULT_REFRESH_BEFORE,
    REFRESH_RETRY_INTERVAL,
};

use crate::support::aws_env::{AwsEnv, rfc3339};
use crate::support::http::{Handler, HttpServer, Request, Response};

use crate::support::logs::LogCapture;

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/db-connect";
const BUILD_TASK_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/harness-build-task";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The `n`th credentials a server hands out (`prefix` tells servers apart).
fn access_key(prefix: &str, n: u64) -> String {
    format!("ASIA{prefix}{n:010}")
}
fn secret_key(prefix: &str, n: u64) -> String {
    format!("wJalrXUtnFEMI/K7MDENG/bPxRfiCY{prefix}+secret{n}")
}
fn session_token(prefix: &str, n: u64) -> String {
    format!("IQoJb3JpZ2luX2VjEJr//////////wEaCXVz{prefix}+token{n}=")
}

/// What a test server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    /// Fresh credentials valid for an hour from the shared clock's now.
    Credentials,
    /// This HTTP status with an error body.
    Status(u16),
}

/// State shared by a test server and its test.
struct Counter {
    requests: AtomicU64,
    served: AtomicU64,
    reply: Mutex<Reply>,
    last: Mutex<Option<(String, String)>>,
}

impl Counter {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            requests: AtomicU64::new(0),
            served: AtomicU64::new(0),
            reply: Mutex::new(Reply::Credentials),
            last: Mutex::new(None),
        })
    }

    fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }

    fn set_reply(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    /// Count a request; `Some(n)` when the `n`th credentials are to be served.
    fn on_request(&self, request: &Request) -> Result<u64, u16> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        *self.last.lock().unwrap() = Some((request.head.clone(), request.body.clone()));
        match *self.reply.lock().unwrap() {
            Reply::Credentials => Ok(self.served.fetch_add(1, Ordering::SeqCst) + 1),
            Reply::Status(status) => Err(status),
        }
    }
}

/// An ECS container credentials endpoint.
struct EcsServer {
    http: HttpServer,
    counter: Arc<Counter>,
}

impl EcsServer {
    async fn start(clock: ManualClock) -> Self {
        let counter = Counter::new();
        let state = Arc::clone(&counter);
        let handler: Handler = Arc::new(move |request| {
            Some(match state.on_request(&request) {
                Ok(n) => Response {
                    status: 200,
                    content_type: "application/json",
                    body: format!(
                        r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{}","RoleArn":"{BUILD_TASK_ROLE_ARN}"}}"#,
                        access_key("ECS", n),
                        secret_key("ECS", n),
                        session_token("ECS", n),
                        rfc3339(clock.now() + HOUR),
                    ),
                },
                Err(status) => Response {
                    status,
                    content_type: "application/json",
                    body: r#"{"code":"InternalError","message":"test server told to fail"}"#
                        .to_owned(),
                },
            })
        });
        Self {
            http: HttpServer::start("/creds", handler).await,
            counter,
        }
    }

    fn url(&self) -> &str {
        &self.http.url
    }
}

/// An STS endpoint answering `AssumeRole`.
struct StsServer {
    http: HttpServer,
    counter: Arc<Counter>,
}

impl StsServer {
    async fn start(clock: ManualClock) -> Self {
        let counter = Counter::new();
        let state = Arc::clone(&counter);
        let handler: Handler = Arc::new(move |request| {
            Some(match state.on_request(&request) {
                Ok(n) => Response {
                    status: 200,
                    content_type: "text/xml",
                    body: format!(
                        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:rds-iam-test</AssumedRoleId>
      <Arn>arn:aws:sts::123456789012:assumed-role/db-connect/rds-iam-test</Arn>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{}</AccessKeyId>
      <SecretAccessKey>{}</SecretAccessKey>
      <SessionToken>{}</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#,
                        access_key("STS", n),
                        secret_key("STS", n),
                        session_token("STS", n),
                        rfc3339(clock.now() + HOUR),
                    ),
                },
                Err(status) => Response {
                    status,
                    content_type: "text/xml",
                    body: String::new(),
                },
            })
        });
        Self {
            http: HttpServer::start("/", handler).await,
            counter,
        }
    }
}

fn error_chain(err: &CredentialsError) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

fn assert_no_ecs_secrets(text: &str, upto: u64) {
    for n in 1..=upto {
        assert!(
            !text.contains(&secret_key("ECS", n)),
            "secret key {n} leaked: {text}"
        );
        assert!(
            !text.contains(&session_token("ECS", n)),
            "session token {n} leaked: {text}"
        );
    }
}

// ---------------------------------------------------------------------------
// Tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_fetch() {
    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(server.url());
    let provider = env.config(&clock).build().await.unwrap();
    assert_eq!(server.counter.requests(), 0, "building fetches nothing");

    let barrier = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let provider = provider.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                provider.credentials().await
            })
        })
        .collect();
    for task in tasks {
        let credentials = task.await.unwrap().unwrap();
        assert_eq!(credentials.access_key_id(), access_key("ECS", 1));
        assert_eq!(credentials.secret_access_key(), secret_key("ECS", 1));
        assert_eq!(
            credentials.session_token(),
            Some(session_token("ECS", 1).as_str())
        );
        assert_eq!(credentials.expiry(), Some(at(T0) + HOUR));
    }
    assert_eq!(server.counter.requests(), 1);
    let stats = provider.stats();
    assert_eq!((stats.fetches, stats.failures), (1, 0));

    // Later callers are served from the cache.
    for _ in 0..50 {
        provider.credentials().await.unwrap();
    }
    assert_eq!(server.counter.requests(), 1);
    let identity = provider.current_identity().unwrap();
    assert_eq!(identity.source(), "default-chain");
    assert_eq!(identity.access_key_id(), access_key("ECS", 1));
}

#[tokio::test]
async fn credentials_are_refetched_once_due_and_once_expired() {
    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(server.url());
    let provider = env.config(&clock).build().await.unwrap();
    assert_eq!(provider.refresh_before(), DEFAULT_REFRESH_BEFORE);

    let first = provider.credentials().await.unwrap();
    assert_eq!(first.access_key_id(), access_key("ECS", 1));

    // One second before `expiry - refresh_before`: still the cached ones.
    clock.set(at(T0) + HOUR - DEFAULT_REFRESH_BEFORE - Duration::from_secs(1));
    let same = provider.credentials().await.unwrap();
    assert_eq!(same.access_key_id(), access_key("ECS", 1));
    assert_eq!(server.counter.requests(), 1);

    // At `expiry - refresh_before`: the next call refetches and gets the new keys.
    clock.advance(Duration::from_secs(1));
    let refreshed = provider.credentials().await.unwrap();
    assert_eq!(refreshed.access_key_id(), access_key("ECS", 2));
    assert_eq!(
        refreshed.session_token(),
        Some(session_token("ECS", 2).as_str())
    );
    assert_eq!(server.counter.requests(), 2);
    assert_eq!(
        provider.current_identity().unwrap().access_key_id(),
        access_key("ECS", 2)
    );
    provider.credentials().await.unwrap();
    assert_eq!(server.counter.requests(), 2);

    // Long after everything expired: fetched again.
    clock.set(at(T0) + 5 * HOUR);
    let third = provider.credentials().await.unwrap();
    assert_eq!(third.access_key_id(), access_key("ECS", 3));
    assert_eq!(server.counter.requests(), 3);
    assert_eq!(provider.stats().fetches, 3);
}

#[tokio::test]
async fn refresh_before_is_configurable() {
    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(server.url());
    let provider = env
        .config(&clock)
        .refresh_before(MINUTE)
        .build()
        .await
        .unwrap();
    provider.credentials().await.unwrap();
    clock.set(at(T0) + 58 * MINUTE);
    assert_eq!(
        provider.credentials().await.unwrap().access_key_id(),
        access_key("ECS", 1)
    );
    clock.set(at(T0) + 59 * MINUTE);
    assert_eq!(
        provider.credentials().await.unwrap().access_key_id(),
        access_key("ECS", 2)
    );
    assert_eq!(server.counter.requests(), 2);
}

#[tokio::test]
async fn failing_endpoint_leads_with_the_status_and_lists_only_what_applies() {
    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    server.counter.set_reply(Reply::Status(500));
    let env = AwsEnv::ecs(server.url()).var("HARNESS_ECS_BUILD_TASK_ROLE_ARN", BUILD_TASK_ROLE_ARN);
    let provider = env.config(&clock).build().await.unwrap();

    let err = provider.credentials().await.unwrap_err();
    assert!(
        matches!(err, CredentialsError::Unavailable { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "HTTP 500 from the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), \
             so no AWS credentials were loaded; check that the endpoint is healthy"
        ),
        "{msg}"
    );
    // The endpoint was reached: where else credentials could come from does not apply, nor
    // does the Harness runner's role.
    for unwanted in [
        "HARNESS_ECS_BUILD_TASK_ROLE_ARN",
        "AWS_ACCESS_KEY_ID",
        "AWS_EC2_METADATA_DISABLED",
    ] {
        assert!(!msg.contains(unwanted), "{unwanted} in: {msg}");
    }
    // The endpoint URL is not echoed, and the cause is carried, not repeated.
    assert!(!msg.contains(server.url()), "{msg}");
    let cause = err.source().expect("the aws-config error is the source");
    assert!(
        !msg.contains(&cause.to_string()),
        "cause repeated in: {msg}"
    );
    assert!(error_chain(&err).contains("500"), "{}", error_chain(&err));
    assert!(err.aws_error().is_some());

    assert!(server.counter.requests() >= 1);
    let stats = provider.stats();
    assert_eq!((stats.fetches, stats.failures), (1, 1));
}

#[tokio::test]
async fn refused_connection_leads_with_the_connection() {
    // A port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let clock = ManualClock::new(at(T0));
    let env = AwsEnv::ecs(&format!("http://127.0.0.1:{port}/creds"));
    let provider = env.config(&clock).build().await.unwrap();

    let err = provider.credentials().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "no connection to the container credentials endpoint \
             (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check that \
             the endpoint is up and reachable from here"
        ),
        "{msg}"
    );
    assert!(!msg.contains("HARNESS_ECS_BUILD_TASK_ROLE_ARN"), "{msg}");
    assert!(err.source().is_some());
    assert_eq!(provider.stats().failures, 1);
}

#[tokio::test]
async fn failed_refresh_keeps_valid_credentials_then_recovers() {
    let logs = LogCapture::default();
    let _guard = logs.install();

    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(server.url());
    let provider = env.config(&clock).build().await.unwrap();
    provider.credentials().await.unwrap();

    // The endpoint breaks; the credentials are due but valid until T0 + 1h.
    server.counter.set_reply(Reply::Status(500));
    clock.set(at(T0) + 56 * MINUTE);
    let kept = provider.credentials().await.unwrap();
    assert_eq!(kept.access_key_id(), access_key("ECS", 1));
    assert_eq!(provider.stats().failures, 1);
    let requests_after_failure = server.counter.requests();
    assert!(requests_after_failure >= 2);

    // Backing off: no new attempt right away.
    let kept = provider.credentials().await.unwrap();
    assert_eq!(kept.access_key_id(), access_key("ECS", 1));
    assert_eq!(server.counter.requests(), requests_after_failure);

    // After the retry interval, one more failed attempt, same credentials.
    clock.advance(REFRESH_RETRY_INTERVAL);
    let kept = provider.credentials().await.unwrap();
    assert_eq!(kept.access_key_id(), access_key("ECS", 1));
    let stats = provider.stats();
    assert_eq!((stats.fetches, stats.failures), (3, 2));

    // Logged once for the run of failures.
    let text = logs.text();
    assert_eq!(
        text.matches("refreshing AWS credentials failed; using the cached ones")
            .count(),
        1,
        "{text}"
    );

    // The endpoint recovers: the next attempt gets new credentials.
    server.counter.set_reply(Reply::Credentials);
    clock.advance(REFRESH_RETRY_INTERVAL);
    let recovered = provider.credentials().await.unwrap();
    assert_eq!(recovered.access_key_id(), access_key("ECS", 2));
    let stats = provider.stats();
    assert_eq!((stats.fetches, stats.failures), (4, 2));

    // Broken again, and nothing valid left: the error reaches the caller.
    server.counter.set_reply(Reply::Status(500));
    clock.set(at(T0) + 3 * HOUR);
    let err = provider.credentials().await.unwrap_err();
    assert!(matches!(err, CredentialsError::Unavailable { .. }));
    assert_no_ecs_secrets(&format!("{err} {err:?} {}", error_chain(&err)), 2);

    // Nothing logged carries a secret key or a session token.
    let text = logs.text();
    assert!(text.contains(&access_key("ECS", 1)), "logs name the key id");
    assert_no_ecs_secrets(&text, 2);
}

#[tokio::test]
async fn static_credentials_are_never_fetched() {
    let creds = Credentials::new(
        "AKIDSTATICEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/static",
        Some("static-session-token".to_owned()),
        None,
        "test",
    );
    let provider = CredentialsConfig::static_credentials(creds)
        .clock(ManualClock::new(at(T0)))
        .build()
        .await
        .unwrap();
    for _ in 0..100 {
        let got = provider.credentials().await.unwrap();
        assert_eq!(got.access_key_id(), "AKIDSTATICEXAMPLE");
        assert_eq!(got.session_token(), Some("static-session-token"));
    }
    assert_eq!(provider.stats().fetches, 0);
    assert_eq!(provider.current_identity().unwrap().source(), "static");
}

#[tokio::test]
async fn assume_role_calls_sts_with_the_container_credentials() {
    let clock = ManualClock::new(at(T0));
    let ecs = EcsServer::start(clock.clone()).await;
    let sts = StsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(ecs.url()).var("AWS_REGION", "eu-west-1");
    let loader = env.loader().endpoint_url(&sts.http.url);
    let provider = env
        .config_with(loader, &clock)
        .assume_role(ROLE_ARN)
        .role_session_name("rds-iam-test")
        .external_id("external-id-123")
        .build()
        .await
        .unwrap();

    let creds = provider.credentials().await.unwrap();
    assert_eq!(creds.access_key_id(), access_key("STS", 1));
    assert_eq!(
        creds.session_token(),
        Some(session_token("STS", 1).as_str())
    );
    assert_eq!(creds.expiry(), Some(at(T0) + HOUR));
    assert_eq!((ecs.counter.requests(), sts.counter.requests()), (1, 1));

    let (head, body) = sts.counter.last.lock().unwrap().clone().unwrap();
    for expected in [
        "Action=AssumeRole",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdb-connect",
        "RoleSessionName=rds-iam-test",
        "ExternalId=external-id-123",
    ] {
        assert!(
            body.contains(expected),
            "missing {expected:?} in STS body: {body}"
        );
    }
    // Signed with the container credentials, for STS in the resolved region.
    let head = head.to_ascii_lowercase();
    let credential_scope = format!("credential={}/", access_key("ECS", 1)).to_ascii_lowercase();
    assert!(head.contains(&credential_scope), "{head}");
    assert!(head.contains("/eu-west-1/sts/aws4_request"), "{head}");

    // Cached: no more calls to either endpoint.
    for _ in 0..10 {
        provider.credentials().await.unwrap();
    }
    assert_eq!((ecs.counter.requests(), sts.counter.requests()), (1, 1));
    assert_eq!(
        provider.current_identity().unwrap().source(),
        format!("assume-role:{ROLE_ARN}<-default-chain")
    );

    // A failing STS names the role and the region.
    sts.counter.set_reply(Reply::Status(403));
    clock.set(at(T0) + 2 * HOUR);
    let msg = provider.credentials().await.unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "assuming role `{ROLE_ARN}` through STS in `eu-west-1`"
        )),
        "{msg}"
    );
    assert!(msg.contains("trust policy"), "{msg}");
}

#[tokio::test]
async fn assume_role_without_a_region_is_an_error_not_us_east_1() {
    let clock = ManualClock::new(at(T0));
    let env = AwsEnv::ecs("http://127.0.0.1:9/creds");
    let err = env
        .config(&clock)
        .assume_role(ROLE_ARN)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(err, CredentialsError::MissingRegion { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("AWS_REGION"), "{msg}");
    assert!(msg.contains("CredentialsConfig::region"), "{msg}");
    // A library error names builder methods, not a command's flags.
    assert!(!msg.contains("--region"), "{msg}");
    assert!(!msg.contains("us-east-1"), "{msg}");

    // An explicit region is enough (nothing is fetched while building).
    let provider = env
        .config(&clock)
        .assume_role(ROLE_ARN)
        .region("eu-central-1")
        .build()
        .await
        .unwrap();
    assert_eq!(provider.stats().fetches, 0);
}

/// A profile aws-config refuses (a `role_arn` without `source_profile` or `credential_source`)
/// stops the default chain: the message says a setting is invalid and points at the profile,
/// not at instance metadata or at sources that were never asked.
#[tokio::test]
async fn an_invalid_profile_is_reported_as_an_invalid_setting() {
    let clock = ManualClock::new(at(T0));
    let env = AwsEnv::empty().var("AWS_PROFILE", "deploy");
    let var = |wanted: &str| {
        let (_, value) = env.vars().iter().find(|(name, _)| name == wanted).unwrap();
        value.clone()
    };
    let (config_file, credentials_file) =
        (var("AWS_CONFIG_FILE"), var("AWS_SHARED_CREDENTIALS_FILE"));
    std::fs::write(
        &config_file,
        format!("[profile deploy]\nrole_arn = {ROLE_ARN}\n"),
    )
    .unwrap();
    let provider = env.config(&clock).build().await.unwrap();

    let err = provider.credentials().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "an invalid setting in the default AWS credentials chain, so no AWS credentials were \
             loaded; check the setting the cause names (in the environment, in profile `deploy` \
             in AWS_CONFIG_FILE=`{config_file}` / \
             AWS_SHARED_CREDENTIALS_FILE=`{credentials_file}`, or in the aws-config loader given \
             to CredentialsConfig::aws_config_loader)"
        )
    );
    // The cause (aws-config's words about the profile) is the source, said once.
    let chain = error_chain(&err);
    assert!(chain.contains("source_profile"), "{chain}");
    assert!(!err.to_string().contains("source_profile"), "{err}");
}

#[tokio::test]
async fn debug_output_never_shows_secrets() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYstatic";
    let token = "IQoJb3JpZ2luX2VjEJr-static-token";
    let creds = Credentials::new("AKIDSTATIC", secret, Some(token.to_owned()), None, "test");

    let config = CredentialsConfig::static_credentials(creds.clone())
        .assume_role(ROLE_ARN)
        .external_id("external-id-secret-ish")
        .region("eu-west-1");
    let text = format!("{config:?} {config:#?}");
    assert!(!text.contains(secret) && !text.contains(token), "{text}");
    assert!(!text.contains("external-id-secret-ish"), "{text}");
    assert!(text.contains(ROLE_ARN) && text.contains("***"), "{text}");

    let provider = CredentialsConfig::static_credentials(creds)
        .build()
        .await
        .unwrap();
    assert_eq!(
        format!("{provider:?}"),
        "CredentialsProvider { source: \"static\", refresh_before: 300s, clock: SystemClock, \
         cached_access_key_id: Some(\"AKIDSTATIC\"), cached_expiry: None, \
         stats: CredentialsStats { fetches: 0, failures: 0 } }"
    );

    // A provider holding fetched temporary credentials, and its errors.
    let clock = ManualClock::new(at(T0));
    let server = EcsServer::start(clock.clone()).await;
    let env = AwsEnv::ecs(server.url());
    let provider = env.config(&clock).build().await.unwrap();
    provider.credentials().await.unwrap();
    let text = format!("{provider:?} {provider:#?}");
    assert!(text.contains(&access_key("ECS", 1)), "{text}");
    assert_no_ecs_secrets(&text, 1);

    server.counter.set_reply(Reply::Status(500));
    clock.set(at(T0) + 2 * HOUR);
    let err = provider.credentials().await.unwrap_err();
    assert_no_ecs_secrets(&format!("{err:?} {err:#?} {err}"), 1);

    let missing = CredentialsError::MissingRegion {
        needed_for: "assuming a role through STS",
    };
    assert_eq!(
        format!("{missing:?}"),
        "MissingRegion { needed_for: \"assuming a role through STS\" }"
    );
}

/// The provider is usable from many threads and cheap to clone.
#[test]
fn provider_is_send_sync_clone() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<CredentialsProvider>();
    assert_traits::<CredentialsError>();
}

//! The token provider (`rds_iam::provider`): reuse, refresh ahead, single
//! flight, failure and recovery, bounds and logs.
//!
//! Time is a `ManualClock` shared by the credentials, the provider and the
//! loopback ECS credentials server (which stamps `Expiration` from it); no
//! test sleeps for an expiry. Where a test has to let a spawned refresh run,
//! it yields until the provider's counters say it finished. The tests with the ECS server
//! reach it through the default chain, so they need the `aws-config` feature.

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::{Clock, ManualClock};
use rds_iam::credentials::{CredentialsConfig, CredentialsProvider};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::provider::{
    DEFAULT_LIFETIME, DEFAULT_MARGIN, ProvidedToken, ProviderError, ProviderStats, RefreshAhead,
    TokenProvider, TokenProviderBuilder,
};
use rds_iam::token::{DsqlAction, DsqlTokenParams, RdsTokenParams, TokenError};

// The ECS server and the tests with it.
#[cfg(feature = "aws-config")]
use aws_config::BehaviorVersion;
#[cfg(feature = "aws-config")]
use aws_types::os_shim_internal::Env;
#[cfg(feature = "aws-config")]
use rds_iam::credentials::{CredentialsError, Environment};
#[cfg(feature = "aws-config")]
use rds_iam::provider::REFRESH_RETRY_INTERVAL;
#[cfg(feature = "aws-config")]
use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(feature = "aws-config")]
use tokio::io::{AsyncReadExt, AsyncWriteExt};
#[cfg(feature = "aws-config")]
use tokio::net::{TcpListener, TcpStream};
#[cfg(feature = "aws-config")]
use tokio::sync::watch;
#[cfg(feature = "aws-config")]
use tokio::task::JoinHandle;

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const HOUR: Duration = Duration::from_secs(3600);
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPROVIDERKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQProviderTest=";

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn params() -> RdsTokenParams {
    RdsTokenParams::new(
        "mydb.cluster-abc123.us-east-1.rds.amazonaws.com",
        5432,
        "harness_iam_user",
        "us-east-1",
    )
}

fn params_n(n: usize) -> RdsTokenParams {
    RdsTokenParams::new(
        format!("db{n}.cluster-abc123.us-east-1.rds.amazonaws.com"),
        5432,
        format!("user{n}"),
        "us-east-1",
    )
}

/// Static credentials (never fetched), optionally carrying an expiry.
async fn static_credentials(
    clock: &ManualClock,
    expiry: Option<SystemTime>,
) -> CredentialsProvider {
    let creds = Credentials::new(
        "ASIAPROVIDERTEST",
        SECRET_KEY,
        Some(SESSION_TOKEN.to_owned()),
        expiry,
        "test",
    );
    CredentialsConfig::static_credentials(creds)
        .clock(clock.clone())
        .build()
        .await
        .unwrap()
}

fn builder(credentials: CredentialsProvider, clock: &ManualClock) -> TokenProviderBuilder {
    TokenProvider::builder(credentials).clock(clock.clone())
}

/// Yield until the provider's counters satisfy `done` (a spawned refresh ran).
async fn settle(provider: &TokenProvider, done: impl Fn(&ProviderStats) -> bool) -> ProviderStats {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let stats = provider.stats();
            if done(&stats) {
                return stats;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the provider never reached the expected counters")
}

/// The `X-Amz-Signature` value of a token.
fn signature(token: &ProvidedToken) -> &str {
    token.expose().rsplit_once("X-Amz-Signature=").unwrap().1
}

// ---------------------------------------------------------------------------
// A loopback ECS container credentials endpoint that can fail or stall.

/// 2030-01-01T00:00:00Z-style timestamps.
#[cfg(feature = "aws-config")]
fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[cfg(feature = "aws-config")]
fn ecs_access_key(n: u64) -> String {
    format!("ASIAECS{n:010}")
}
#[cfg(feature = "aws-config")]
fn ecs_secret_key(n: u64) -> String {
    format!("ecsSecretKeyForProviderTests+{n}")
}
#[cfg(feature = "aws-config")]
fn ecs_session_token(n: u64) -> String {
    format!("IQoJb3JpZ2luX2VjEcsProviderSession+{n}=")
}

#[cfg(feature = "aws-config")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Credentials valid for an hour from the clock's now.
    Serve,
    /// HTTP 500.
    Fail,
    /// Hold the request until `release`, then serve.
    Stall,
}

#[cfg(feature = "aws-config")]
struct EcsState {
    clock: ManualClock,
    mode: Mutex<Mode>,
    served: AtomicU64,
    requests: watch::Sender<u64>,
    released: watch::Sender<bool>,
}

#[cfg(feature = "aws-config")]
struct EcsServer {
    state: Arc<EcsState>,
    task: JoinHandle<()>,
    _home: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

#[cfg(feature = "aws-config")]
impl Drop for EcsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(feature = "aws-config")]
impl EcsServer {
    async fn start(clock: &ManualClock) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/creds", listener.local_addr().unwrap());
        let state = Arc::new(EcsState {
            clock: clock.clone(),
            mode: Mutex::new(Mode::Serve),
            served: AtomicU64::new(0),
            requests: watch::channel(0).0,
            released: watch::channel(false).0,
        });
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _ = serve(stream, state).await;
                });
            }
        });
        // No credentials anywhere but the container endpoint.
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config");
        let credentials = home.path().join("credentials");
        std::fs::File::create(&config).unwrap();
        std::fs::File::create(&credentials).unwrap();
        let vars = vec![
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI".to_owned(), url.clone()),
            ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
            ("AWS_CONFIG_FILE".to_owned(), config.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
                credentials.display().to_string(),
            ),
            ("HOME".to_owned(), home.path().display().to_string()),
        ];
        Self {
            state,
            task,
            _home: home,
            vars,
        }
    }

    async fn credentials(&self) -> CredentialsProvider {
        let pairs: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let loader = aws_config::defaults(BehaviorVersion::latest()).env(Env::from_slice(&pairs));
        CredentialsConfig::default_chain()
            .aws_config_loader(loader)
            .environment(Environment::from_vars(self.vars.clone()))
            .clock(self.state.clock.clone())
            .build()
            .await
            .unwrap()
    }

    fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    fn requests(&self) -> u64 {
        *self.state.requests.borrow()
    }

    async fn wait_for_requests(&self, n: u64) {
        let mut rx = self.state.requests.subscribe();
        rx.wait_for(|seen| *seen >= n).await.unwrap();
    }

    fn release(&self) {
        self.state.released.send_replace(true);
    }
}

#[cfg(feature = "aws-config")]
async fn serve(mut stream: TcpStream, state: Arc<EcsState>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    state.requests.send_modify(|n| *n += 1);
    let mode = *state.mode.lock().unwrap();
    if mode == Mode::Stall {
        let mut released = state.released.subscribe();
        let _ = released.wait_for(|r| *r).await;
    }
    let (status, body) = if mode == Mode::Fail {
        (
            "500 Internal Server Error",
            r#"{"code":"InternalError","message":"test server told to fail"}"#.to_owned(),
        )
    } else {
        let n = state.served.fetch_add(1, Ordering::SeqCst) + 1;
        (
            "200 OK",
            format!(
                r#"{{"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{}"}}"#,
                ecs_access_key(n),
                ecs_secret_key(n),
                ecs_session_token(n),
                rfc3339(state.clock.now() + HOUR),
            ),
        )
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------------------
// Log capture.

/// Everything logged while installed on this thread (current-thread tests).
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

// ---------------------------------------------------------------------------
// Reuse and lifetime.

#[tokio::test]
async fn reuses_a_token_within_its_lifetime() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();

    let first = provider.token(&params()).await.unwrap();
    assert!(!first.from_cache());
    assert_eq!(first.signed_at(), at(0));
    assert_eq!(first.reuse_until(), at(840), "870 s lifetime - 30 s margin");

    let mut hits = Vec::new();
    for secs in [1, 100, 300, 559] {
        clock.set(at(secs));
        let again = provider.token(&params()).await.unwrap();
        assert!(again.from_cache(), "at {secs} s");
        assert_eq!(*again, *first);
        hits.push(again.shared());
    }
    // Every hit hands out the token that was signed: one copy, shared.
    assert!(hits.iter().all(|t| Arc::ptr_eq(t, &first.shared())));
    let stats = provider.stats();
    assert_eq!(
        (stats.minted, stats.hits, stats.refreshes, stats.entries),
        (1, 4, 0, 1)
    );

    // Refresh ahead disabled: the token runs to 840 s, then a caller signs.
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .refresh_ahead(RefreshAhead::Disabled)
        .build();
    clock.set(at(0));
    let first = provider.token(&params()).await.unwrap();
    clock.set(at(839));
    assert!(provider.token(&params()).await.unwrap().from_cache());
    clock.set(at(840));
    let next = provider.token(&params()).await.unwrap();
    assert!(!next.from_cache());
    assert_eq!(next.signed_at(), at(840));
    assert_ne!(signature(&next), signature(&first));
    assert_eq!(provider.stats().minted, 2);
}

#[tokio::test]
async fn refresh_ahead_happens_once_and_nobody_waits() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let first = provider.token(&params()).await.unwrap();

    // Past 2/3 of the window (560 s): a hundred callers at once all get the
    // current token straight from the cache; one refresh is started.
    clock.set(at(600));
    let callers: Vec<_> = (0..100)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token(&params()).await.unwrap() })
        })
        .collect();
    for caller in callers {
        let got = caller.await.unwrap();
        assert!(got.from_cache(), "no caller waits for the refresh");
    }
    let stats = settle(&provider, |s| s.refreshes == 1).await;
    assert_eq!((stats.minted, stats.refreshes, stats.failures), (2, 1, 0));

    let refreshed = provider.token(&params()).await.unwrap();
    assert!(refreshed.from_cache());
    assert_eq!(refreshed.signed_at(), at(600));
    assert_eq!(refreshed.reuse_until(), at(1440));
    assert_ne!(signature(&refreshed), signature(&first));

    // More callers: the new token is not due, nothing more is signed.
    for _ in 0..10 {
        provider.token(&params()).await.unwrap();
    }
    tokio::task::yield_now().await;
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.refreshes), (2, 1));
}

#[tokio::test]
async fn never_hands_out_a_token_past_its_end_minus_the_margin() {
    let clock = ManualClock::new(at(0));
    // Credentials expiring at 2000 s bound the last tokens.
    let credentials_expiry = at(2000);
    let provider = builder(
        static_credentials(&clock, Some(credentials_expiry)).await,
        &clock,
    )
    .build();

    let mut handed_out = 0;
    let mut secs = 0;
    while secs <= 2100 {
        clock.set(at(secs));
        let now = clock.now();
        match provider.token(&params()).await {
            Ok(token) => {
                handed_out += 1;
                assert!(now < token.reuse_until(), "at {secs} s: {token:?}");
                assert!(token.reuse_until() + DEFAULT_MARGIN <= token.valid_until());
                assert!(
                    token.reuse_until() <= token.signed_at() + DEFAULT_LIFETIME - DEFAULT_MARGIN
                );
                assert!(now + DEFAULT_MARGIN < token.valid_until(), "at {secs} s");
                assert_eq!(token.credentials_expiry(), Some(credentials_expiry));
            }
            Err(err) => {
                // Only once the credentials are within the margin of expiring.
                assert!(
                    now + DEFAULT_MARGIN >= credentials_expiry,
                    "at {secs} s: {err}"
                );
                assert!(
                    matches!(err, ProviderError::CredentialsExpiring { .. }),
                    "{err:?}"
                );
            }
        }
        // Let any refresh ahead that was started run before time moves on.
        tokio::task::yield_now().await;
        secs += 7;
    }
    assert!(handed_out > 250, "{handed_out}");
    assert!(provider.stats().refreshes >= 2, "{:?}", provider.stats());
}

/// The window a token is handed out in, and the instant upkeep refreshes it
/// from, for each setting (what `TokenProviderBuilder` documents).
#[tokio::test]
async fn windows_follow_lifetime_credentials_margin_and_refresh_ahead() {
    let (fraction, default) = (RefreshAhead::AtFraction, RefreshAhead::default());
    let before = |secs| RefreshAhead::Before(Duration::from_secs(secs));
    // Lifetime, refresh ahead, credentials expiry (s), then reuse_until and
    // refresh_at (ms after signing).
    let cases = [
        (870, default, None, 840_000, Some(560_000)),
        // Credentials expiring first shorten the window.
        (870, default, Some(600), 570_000, Some(380_000)),
        // 900 s still keeps the margin to the token's expiry; 20 s halves the margin.
        (900, default, None, 870_000, Some(580_000)),
        (20, fraction(0.5), None, 10_000, Some(5_000)),
        (870, before(120), None, 840_000, Some(720_000)),
        (870, before(5000), None, 840_000, Some(0)),
        (870, fraction(2.0), None, 840_000, Some(840_000)),
        (870, fraction(f64::NAN), None, 840_000, Some(560_000)),
        (870, RefreshAhead::Disabled, None, 840_000, None),
    ];
    let ms = |ms: u64| at(0) + Duration::from_millis(ms);
    for (n, (lifetime, refresh_ahead, expiry, reuse_until, refresh_at)) in
        cases.into_iter().enumerate()
    {
        let clock = ManualClock::new(at(0));
        let credentials = static_credentials(&clock, expiry.map(at)).await;
        let provider = builder(credentials, &clock)
            .lifetime(Duration::from_secs(lifetime))
            .refresh_ahead(refresh_ahead)
            .build();
        let token = provider.token(&params()).await.unwrap();
        assert_eq!(token.reuse_until(), ms(reuse_until), "case {n}");
        // Upkeep signs anew from the refresh point on, and not before it.
        let last = refresh_at.unwrap_or(reuse_until);
        if last > 0 {
            clock.set(ms(last - 1));
            provider.maintain().await;
            assert_eq!(provider.stats().minted, 1, "case {n}");
        }
        if refresh_at.is_some() {
            clock.set(ms(last));
            provider.maintain().await;
            assert_eq!(provider.stats().minted, 2, "case {n}");
        }
    }

    // Credentials expiring within the margin leave no window: no token.
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, Some(at(20))).await, &clock).build();
    let err = provider.token(&params()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::CredentialsExpiring { .. }),
        "{err:?}"
    );
    // A DSQL token that expires within the margin is handed out once, never reused.
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let short = DsqlTokenParams::new("db.example.com", "us-east-1", DsqlAction::DbConnect)
        .with_expires_in(Duration::from_secs(20));
    let token = provider.dsql_token(&short).await.unwrap();
    assert_eq!(token.reuse_until(), token.signed_at());
    assert!(!provider.dsql_token(&short).await.unwrap().from_cache());
}

#[cfg(feature = "aws-config")]
#[tokio::test]
async fn temporary_credentials_expiring_first_shorten_the_life() {
    let clock = ManualClock::new(at(0));
    let server = EcsServer::start(&clock).await;
    let credentials = server.credentials().await;
    let provider = builder(credentials.clone(), &clock).build();

    // Credentials from 0 s, expiring at 3600 s.
    let first = provider.token(&params()).await.unwrap();
    assert_eq!(first.credentials_expiry(), Some(at(3600)));
    assert_eq!(first.reuse_until(), at(840));

    // At 3000 s the token life (840 s) would end at 3840 s; the credentials
    // end at 3600 s, so the token is handed out until 3570 s.
    clock.set(at(3000));
    let late = provider.token(&params()).await.unwrap();
    assert!(!late.from_cache());
    assert_eq!(late.credentials_expiry(), Some(at(3600)));
    assert_eq!(late.valid_until(), at(3600));
    assert_eq!(late.reuse_until(), at(3570));
    assert_eq!(
        credentials.stats().fetches,
        1,
        "the credentials were still fresh"
    );
}

#[tokio::test]
async fn lifetime_zero_signs_for_every_call() {
    let clock = ManualClock::new(at(0));
    let url = JdbcUrl::parse(
        "jdbc:aws-wrapper:postgresql://mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432/app\
         ?wrapperPlugins=iam&iamExpiration=0",
    )
    .unwrap();
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .lifetime_from_url(&url)
        .build();
    assert_eq!(provider.lifetime(), Duration::ZERO);

    for i in 0..5 {
        clock.set(at(i));
        let token = provider.token(&params()).await.unwrap();
        assert!(!token.from_cache());
        assert_eq!(token.signed_at(), at(i));
        assert_eq!(token.reuse_until(), token.signed_at(), "never reused");
    }
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.hits, stats.entries), (5, 0, 0));

    // No iamExpiration in the URL: the 870 s default.
    let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam").unwrap();
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .lifetime_from_url(&url)
        .build();
    assert_eq!(provider.lifetime(), DEFAULT_LIFETIME);
}

#[tokio::test]
async fn invalidation_drops_only_the_cached_token() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let first = provider.token(&params()).await.unwrap();

    clock.set(at(10));
    let cached = provider.token(&params()).await.unwrap();
    assert!(cached.from_cache());
    assert!(provider.invalidate(&params(), &cached));
    let fresh = provider.token(&params()).await.unwrap();
    assert!(!fresh.from_cache());
    assert_eq!(fresh.signed_at(), at(10));

    // A second rejection report for the old token does not drop the new one.
    assert!(!provider.invalidate(&params(), &first));
    let again = provider.token(&params()).await.unwrap();
    assert!(again.from_cache());
    assert_eq!(signature(&again), signature(&fresh));
    // Unknown keys: nothing to drop.
    assert!(!provider.invalidate(&params_n(9), &fresh));
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.invalidations), (2, 1));
}

/// A thread of its own that asks a provider for a token on each request. It keeps nothing
/// between requests (the provider comes with each request and is dropped after it): what
/// outlives a request there is what the library keeps for the thread.
struct OtherThread {
    ask: std::sync::mpsc::Sender<TokenProvider>,
    answer: std::sync::mpsc::Receiver<ProvidedToken>,
}

impl OtherThread {
    fn start(params: RdsTokenParams) -> Self {
        let (ask, asked) = std::sync::mpsc::channel::<TokenProvider>();
        let (answered, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            while let Ok(provider) = asked.recv() {
                let token = runtime.block_on(provider.token(&params)).unwrap();
                drop(provider);
                if answered.send(token).is_err() {
                    break;
                }
            }
        });
        Self { ask, answer }
    }

    fn token(&self, provider: &TokenProvider) -> ProvidedToken {
        self.ask.send(provider.clone()).unwrap();
        self.answer.recv().unwrap()
    }
}

#[tokio::test]
async fn a_token_dropped_or_replaced_on_one_thread_is_not_handed_out_on_another() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let first = provider.token(&params()).await.unwrap();

    // The other thread hands out its own copy of the cached token.
    let other = OtherThread::start(params());
    let seen = other.token(&provider);
    assert!(seen.from_cache());
    assert_eq!(seen.expose(), first.expose());
    assert_eq!(other.token(&provider).expose(), first.expose());

    // Dropped here: the other thread signs anew rather than hand out its copy.
    clock.set(at(10));
    assert!(provider.invalidate(&params(), &first));
    let fresh = other.token(&provider);
    assert!(!fresh.from_cache());
    assert_eq!(fresh.signed_at(), at(10));
    assert_ne!(signature(&fresh), signature(&first));

    // Replaced here by a refresh ahead: the other thread hands out the new one.
    clock.set(at(600));
    assert!(provider.token(&params()).await.unwrap().from_cache());
    settle(&provider, |s| s.refreshes == 1).await;
    let refreshed = other.token(&provider);
    assert!(refreshed.from_cache());
    assert_eq!(refreshed.signed_at(), at(600));
    assert_eq!(
        refreshed.expose(),
        provider.token(&params()).await.unwrap().expose()
    );
    let stats = provider.stats();
    assert_eq!(
        (stats.minted, stats.refreshes, stats.invalidations),
        (3, 1, 1)
    );
}

/// Tasks alive on this runtime.
fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Wait until the tasks alive on this runtime are down to `expected`.
async fn tasks_down_to(expected: usize) {
    tokio::time::timeout(Duration::from_secs(60), async {
        while alive_tasks() > expected {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the provider's tasks never ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_outlives_its_provider() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let tasks_before = alive_tasks();
    provider
        .start_background_refresh(Duration::from_secs(60))
        .unwrap();
    let first = provider.token(&params()).await.unwrap();

    // Hits on a thread of its own, and on the runtime's worker threads.
    let other = OtherThread::start(params());
    assert!(other.token(&provider).from_cache());
    for _ in 0..4 {
        let provider = provider.clone();
        let hit = tokio::spawn(async move { provider.token(&params()).await.unwrap() });
        assert!(hit.await.unwrap().from_cache());
    }
    // A refresh ahead, signed in a task the hit spawns.
    clock.set(at(600));
    assert!(provider.token(&params()).await.unwrap().from_cache());
    settle(&provider, |s| s.refreshes == 1).await;
    let refreshed = other.token(&provider);
    assert_eq!(refreshed.signed_at(), at(600));

    let tokens = [first, refreshed].map(|token| Arc::downgrade(&token.shared()));
    drop(provider);
    tasks_down_to(tasks_before).await;
    for (n, token) in tokens.iter().enumerate() {
        assert!(
            token.upgrade().is_none(),
            "token {n} is still held after its provider went"
        );
    }
    // The threads that asked for tokens are still alive: nothing was kept for them.
    drop(other);
}

#[tokio::test]
async fn hits_on_every_thread_share_one_token_and_providers_keep_their_own() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let first = provider.token(&params()).await.unwrap().shared();
    let other = OtherThread::start(params());
    for _ in 0..3 {
        assert!(Arc::ptr_eq(&other.token(&provider).shared(), &first));
        assert!(Arc::ptr_eq(
            &provider.token(&params()).await.unwrap().shared(),
            &first
        ));
    }
    // Another provider on the same key signs and hands out its own token.
    clock.set(at(1));
    let second = builder(static_credentials(&clock, None).await, &clock).build();
    let theirs = other.token(&second);
    assert!(!theirs.from_cache());
    assert_ne!(
        signature(&theirs),
        signature(&provider.token(&params()).await.unwrap())
    );
    assert_eq!(signature(&other.token(&second)), signature(&theirs));
}

#[tokio::test]
async fn every_field_of_the_parameters_is_part_of_the_key() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let base = RdsTokenParams::new("db.example.com", 5432, "app", "eu-west-1");
    let rds = [
        base.clone(),
        RdsTokenParams::new("db2.example.com", 5432, "app", "eu-west-1"),
        RdsTokenParams::new("db.example.com", 5433, "app", "eu-west-1"),
        RdsTokenParams::new("db.example.com", 5432, "app2", "eu-west-1"),
        RdsTokenParams::new("db.example.com", 5432, "app", "eu-west-2"),
    ];
    let dsql = DsqlTokenParams::new("db.example.com", "eu-west-1", DsqlAction::DbConnect);
    let dsql = [
        dsql.clone(),
        DsqlTokenParams::new("db.example.com", "eu-west-1", DsqlAction::DbConnectAdmin),
        dsql.with_expires_in(Duration::from_secs(3600)),
    ];
    for round in 0..2 {
        for p in &rds {
            assert_eq!(provider.token(p).await.unwrap().from_cache(), round == 1);
        }
        for p in &dsql {
            assert_eq!(
                provider.dsql_token(p).await.unwrap().from_cache(),
                round == 1
            );
        }
    }
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.hits, stats.entries), (8, 8, 8));
}

#[tokio::test]
async fn a_full_cache_drops_the_least_recently_used_key() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .capacity(3)
        .build();
    for n in 0..3 {
        clock.set(at(n));
        provider.token(&params_n(n as usize)).await.unwrap();
    }
    clock.set(at(10));
    provider.token(&params_n(0)).await.unwrap(); // 1 is now the least recently used
    provider.token(&params_n(3)).await.unwrap();
    let stats = provider.stats();
    assert_eq!((stats.entries, stats.evictions), (3, 1));
    for (n, cached) in [(0, true), (2, true), (3, true), (1, false)] {
        let token = provider.token(&params_n(n)).await.unwrap();
        assert_eq!(token.from_cache(), cached, "key {n}");
    }
}

#[test]
fn provider_types_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<TokenProvider>();
    check::<ProvidedToken>();
    check::<ProviderError>();
}

#[tokio::test]
async fn dsql_tokens_are_cached_under_their_own_keys() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let admin = DsqlTokenParams::new(
        "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
        "us-east-1",
        DsqlAction::DbConnectAdmin,
    );
    let custom = DsqlTokenParams::new(admin.host.clone(), "us-east-1", DsqlAction::DbConnect);

    let a = provider.dsql_token(&admin).await.unwrap();
    assert_eq!(a.endpoint(), admin.host);
    assert!(a.expose().contains("Action=DbConnectAdmin"));
    let c = provider.dsql_token(&custom).await.unwrap();
    assert!(c.expose().contains("Action=DbConnect&"));
    clock.set(at(100));
    assert!(provider.dsql_token(&admin).await.unwrap().from_cache());
    assert!(provider.invalidate_dsql(&admin, &a));
    assert!(!provider.dsql_token(&admin).await.unwrap().from_cache());
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.entries), (3, 2));
}

#[tokio::test]
async fn signing_errors_reach_the_caller_with_their_cause() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let bad = RdsTokenParams::new("db.example.com", 5432, "", "us-east-1");
    let err = provider.token(&bad).await.unwrap_err();
    assert!(matches!(err, ProviderError::Signing { .. }), "{err:?}");
    // The problem and the fix; the cause is the source, not repeated.
    assert_eq!(
        err.to_string(),
        "no IAM token for  at db.example.com:5432: the parameters cannot be signed for; \
         correct the one the cause names"
    );
    assert_eq!(
        err.source().unwrap().to_string(),
        TokenError::EmptyUser.to_string(),
        "{}",
        error_chain(&err)
    );
    assert_eq!(provider.stats().failures, 1);
}

// ---------------------------------------------------------------------------
// Concurrency.

#[cfg(feature = "aws-config")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_callers_on_a_cold_key_share_one_signing_and_one_fetch() {
    let clock = ManualClock::new(at(0));
    let server = EcsServer::start(&clock).await;
    let credentials = server.credentials().await;
    let provider = builder(credentials.clone(), &clock).build();

    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let provider = provider.clone();
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                provider.token(&params()).await.unwrap()
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap());
    }
    let first = tokens[0].shared();
    assert!(tokens.iter().all(|t| **t == *first));
    assert_eq!(tokens.iter().filter(|t| !t.from_cache()).count() as u64, {
        let s = provider.stats();
        1 + s.coalesced
    });
    let stats = provider.stats();
    assert_eq!(stats.minted, 1, "{stats:?}");
    assert_eq!(stats.hits + stats.coalesced, 999, "{stats:?}");
    assert_eq!(credentials.stats().fetches, 1);
    assert_eq!(server.requests(), 1);

    // Past the refresh point, another thousand: one refresh, nobody waits.
    clock.set(at(600));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token(&params()).await.unwrap() })
        })
        .collect();
    for caller in callers {
        assert!(caller.await.unwrap().from_cache());
    }
    let stats = settle(&provider, |s| s.refreshes == 1).await;
    assert_eq!((stats.minted, stats.refreshes), (2, 1), "{stats:?}");
    assert_eq!(server.requests(), 1, "the credentials were still fresh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_keys_in_parallel_each_sign_once() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let callers: Vec<_> = (0..50 * 20)
        .map(|i| {
            let provider = provider.clone();
            tokio::spawn(async move {
                let key = i % 50;
                (key, provider.token(&params_n(key)).await.unwrap())
            })
        })
        .collect();
    let mut by_key: Vec<Option<Arc<rds_iam::token::AuthToken>>> = vec![None; 50];
    for caller in callers {
        let (key, token) = caller.await.unwrap();
        let p = params_n(key);
        assert_eq!(token.endpoint(), format!("{}:5432", p.host));
        assert!(token.expose().contains(&format!("DBUser=user{key}&")));
        match &by_key[key] {
            Some(seen) => assert_eq!(**seen, *token),
            None => by_key[key] = Some(token.shared()),
        }
    }
    let stats = provider.stats();
    assert_eq!((stats.minted, stats.entries), (50, 50), "{stats:?}");
    assert_eq!(stats.hits + stats.coalesced, 950);
}

#[cfg(feature = "aws-config")]
#[tokio::test]
async fn a_stalled_signing_does_not_block_other_keys() {
    let clock = ManualClock::new(at(0));
    let server = EcsServer::start(&clock).await;
    let credentials = server.credentials().await;
    let provider = builder(credentials.clone(), &clock).build();
    let (a, b, c) = (params_n(1), params_n(2), params_n(3));

    // B has a token signed at 3000 s with credentials expiring at 3600 s.
    provider.token(&b).await.unwrap();
    clock.set(at(3000));
    let b_token = provider.token(&b).await.unwrap();
    assert_eq!(b_token.reuse_until(), at(3570));

    // At 3310 s the credentials are due for refresh; the endpoint stalls, so
    // the first signing for a cold key A waits on that fetch.
    server.set_mode(Mode::Stall);
    clock.set(at(3310));
    let stalled = {
        let provider = provider.clone();
        tokio::spawn(async move { provider.token(&a).await })
    };
    server.wait_for_requests(2).await;

    // Meanwhile B is served from its cache, and a cold key C is signed with
    // the still-valid credentials: neither waits for A.
    let b_again = provider.token(&b).await.unwrap();
    assert!(b_again.from_cache());
    assert_eq!(signature(&b_again), signature(&b_token));
    let c_token = provider.token(&c).await.unwrap();
    assert!(!c_token.from_cache());
    assert!(c_token.expose().contains(&ecs_access_key(1)));
    assert!(!stalled.is_finished());

    server.release();
    let a_token = stalled.await.unwrap().unwrap();
    assert!(!a_token.from_cache());
    assert!(
        a_token.expose().contains(&ecs_access_key(2)),
        "signed with the new credentials"
    );
    assert_eq!(credentials.stats().fetches, 2);
}

// ---------------------------------------------------------------------------
// Failure and recovery.

#[cfg(feature = "aws-config")]
#[tokio::test]
async fn failed_refresh_keeps_the_valid_token_then_recovers() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();

    let clock = ManualClock::new(at(0));
    let server = EcsServer::start(&clock).await;
    let credentials = server.credentials().await;
    let provider = builder(credentials.clone(), &clock).build();
    provider.token(&params()).await.unwrap();

    // A token signed at 3000 s with the credentials from 0 s (expiring at
    // 3600 s): handed out until 3570 s, refreshed ahead from 3380 s.
    clock.set(at(3000));
    let held = provider.token(&params()).await.unwrap();
    assert_eq!(held.reuse_until(), at(3570));

    // The credentials endpoint goes down. At 3400 s a caller gets the held
    // token at once; the refresh it starts cannot get newer credentials.
    server.set_mode(Mode::Fail);
    clock.set(at(3400));
    let got = provider.token(&params()).await.unwrap();
    assert!(got.from_cache());
    assert_eq!(signature(&got), signature(&held));
    let stats = settle(&provider, |s| s.failures == 1).await;
    assert_eq!(stats.refreshes, 0);

    // Still the held token, and no new attempt during the back-off.
    let requests = server.requests();
    let got = provider.token(&params()).await.unwrap();
    assert_eq!(signature(&got), signature(&held));
    tokio::task::yield_now().await;
    assert_eq!(server.requests(), requests);

    // After the back-off, one more failed attempt; still the held token.
    clock.set(at(3400) + REFRESH_RETRY_INTERVAL + Duration::from_secs(5));
    let got = provider.token(&params()).await.unwrap();
    assert_eq!(signature(&got), signature(&held));
    settle(&provider, |s| s.failures == 2).await;

    // Logged once for the run of failures, at warn.
    let text = logs.text();
    assert_eq!(
        text.matches("refreshing the IAM token failed; handing out the cached one")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("WARN"), "{text}");

    // The endpoint recovers: the next refresh gets new credentials and a
    // token that lives longer; callers get it from the cache.
    server.set_mode(Mode::Serve);
    clock.set(at(3440));
    let got = provider.token(&params()).await.unwrap();
    assert_eq!(signature(&got), signature(&held));
    settle(&provider, |s| s.refreshes == 1).await;
    let renewed = provider.token(&params()).await.unwrap();
    assert!(renewed.from_cache());
    assert_eq!(renewed.signed_at(), at(3440));
    assert_eq!(renewed.reuse_until(), at(4280));
    assert!(renewed.expose().contains(&ecs_access_key(2)));

    let text = logs.text();
    for n in 1..=2 {
        assert!(!text.contains(&ecs_secret_key(n)), "{text}");
        assert!(!text.contains(&ecs_session_token(n)), "{text}");
    }
    for token in [&held, &renewed] {
        assert!(!text.contains(signature(token)), "{text}");
        assert!(!text.contains(token.expose()), "{text}");
    }
}

#[cfg(feature = "aws-config")]
#[tokio::test]
async fn once_nothing_valid_is_left_the_error_reaches_the_caller() {
    let clock = ManualClock::new(at(0));
    let server = EcsServer::start(&clock).await;
    let credentials = server.credentials().await;
    let provider = builder(credentials, &clock)
        .refresh_ahead(RefreshAhead::Disabled)
        .build();
    provider.token(&params()).await.unwrap();
    clock.set(at(3000));
    provider.token(&params()).await.unwrap(); // handed out until 3570 s

    server.set_mode(Mode::Fail);
    // 3580 s: the only credentials expire within the margin.
    clock.set(at(3580));
    let err = provider.token(&params()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::CredentialsExpiring { credentials_expiry, .. } if credentials_expiry == at(3600)),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "no IAM token for harness_iam_user at \
         mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432: the AWS credentials expire at \
         2030-01-01T01:00:00Z (within the token margin) and no newer ones could be fetched; \
         check that the credentials source is reachable (the credentials cache logs why its \
         refresh failed)"
    );
    assert!(err.source().is_none());

    // 3600 s: the credentials have expired; the credentials error is the cause.
    clock.set(at(3600));
    let err = provider.token(&params()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Credentials { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "no IAM token for harness_iam_user at \
         mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432: AWS credentials could not be \
         loaded; fix the credentials source as the cause says"
    );
    let cause = err
        .source()
        .and_then(|s| s.downcast_ref::<CredentialsError>())
        .expect("the credentials error is the source");
    assert!(matches!(cause, CredentialsError::Unavailable { .. }));
    assert!(
        !err.to_string().contains(&cause.to_string()),
        "the cause is not repeated in Display"
    );

    // The endpoint comes back: the next caller gets a fresh token.
    server.set_mode(Mode::Serve);
    clock.set(at(3610));
    let token = provider.token(&params()).await.unwrap();
    assert!(!token.from_cache());
    assert_eq!(token.reuse_until(), at(3610 + 840));
}

// ---------------------------------------------------------------------------
// Bounds, background refresh, logs.

#[tokio::test]
async fn idle_entries_are_dropped_and_memory_stays_bounded() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .capacity(4)
        .max_idle(Duration::from_secs(60))
        .build();

    for n in 0..10 {
        clock.set(at(n));
        provider.token(&params_n(n as usize)).await.unwrap();
        assert!(provider.stats().entries <= 4);
    }
    let stats = provider.stats();
    assert_eq!((stats.entries, stats.evictions), (4, 6));

    // Many calls on a few keys: entries do not grow with calls.
    for i in 0..3000 {
        provider.token(&params_n(100 + i % 3)).await.unwrap();
    }
    assert_eq!(provider.stats().entries, 4);

    // Nothing used for a minute: upkeep drops it all.
    clock.set(at(200));
    provider.maintain().await;
    let stats = provider.stats();
    assert_eq!(stats.entries, 0);
    assert_eq!(stats.evictions, 13);
}

#[tokio::test(start_paused = true)]
async fn background_refresher_keeps_hot_keys_fresh_and_stops_with_the_provider() {
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock)
        .max_idle(HOUR)
        .build();
    let tasks_before = alive_tasks();
    provider
        .start_background_refresh(Duration::from_secs(60))
        .unwrap();
    assert_eq!(alive_tasks(), tasks_before + 1);

    provider.token(&params()).await.unwrap();
    // Past the refresh point: the refresher (not a caller) signs anew.
    clock.set(at(600));
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(provider.stats().refreshes, 1);
    let token = provider.token(&params()).await.unwrap();
    assert!(token.from_cache());
    assert_eq!(token.signed_at(), at(600));

    // Used (at 600 s) since its token was signed: refreshed again at 1200 s.
    clock.set(at(1200));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(provider.stats().refreshes, 2);
    // Nobody asked since: not refreshed again, and it idles out after an hour.
    clock.set(at(1800));
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(provider.stats().refreshes, 2);
    assert_eq!(provider.stats().entries, 1);
    clock.set(at(600) + HOUR);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let stats = provider.stats();
    assert_eq!((stats.entries, stats.evictions, stats.refreshes), (0, 1, 2));

    // The refresher ends with the last clone of the provider.
    let clone = provider.clone();
    drop(provider);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(alive_tasks(), tasks_before + 1);
    drop(clone);
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), tasks_before);
}

#[test]
fn background_refresher_needs_a_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clock = ManualClock::new(at(0));
    let credentials = rt.block_on(static_credentials(&clock, None));
    let provider = builder(credentials, &clock).build();
    let err = provider
        .start_background_refresh(Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(err, ProviderError::NoRuntime));
    assert_eq!(
        err.to_string(),
        "the background token refresher needs a Tokio runtime; call start_background_refresh \
         from within one (e.g. inside #[tokio::main])"
    );
}

#[tokio::test]
async fn logs_trace_mint_and_refresh_but_never_a_secret() {
    let logs = CapturedLogs::default();
    let _guard = logs.install();
    let clock = ManualClock::new(at(0));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();

    let first = provider.token(&params()).await.unwrap();
    clock.set(at(600));
    provider.token(&params()).await.unwrap();
    settle(&provider, |s| s.refreshes == 1).await;
    let refreshed = provider.token(&params()).await.unwrap();
    assert!(provider.invalidate(&params(), &refreshed));
    let last = provider.token(&params()).await.unwrap();
    provider
        .token(&RdsTokenParams::new(
            "db.example.com",
            5432,
            "",
            "us-east-1",
        ))
        .await
        .unwrap_err();

    let text = logs.text();
    assert!(text.contains("signed an IAM token"), "{text}");
    assert!(
        text.contains("refreshed the IAM token ahead of its end"),
        "{text}"
    );
    assert!(text.contains("mint{"), "a mint span: {text}");
    assert!(text.contains("refresh{"), "a refresh span: {text}");
    assert!(text.contains("mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432"));
    assert!(
        text.contains("ASIAPROVIDERTEST"),
        "the key id is not secret"
    );
    assert!(!text.contains(SECRET_KEY), "{text}");
    assert!(!text.contains(SESSION_TOKEN), "{text}");
    assert!(!text.contains("X-Amz-Signature"), "{text}");
    for token in [&first, &refreshed, &last] {
        assert!(!text.contains(signature(token)), "{text}");
    }
    let debug = format!("{provider:?} {last:?}");
    assert!(!debug.contains(signature(&last)), "{debug}");
    assert!(!debug.contains(SECRET_KEY), "{debug}");
}

#[tokio::test]
async fn provided_token_debug_is_redacted() {
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_709_164_800));
    let provider = builder(static_credentials(&clock, None).await, &clock).build();
    let token = provider
        .token(&RdsTokenParams::new(
            "db.example.com",
            3306,
            "app",
            "eu-west-1",
        ))
        .await
        .unwrap();
    assert_eq!(
        format!("{token:?}"),
        "ProvidedToken { token: AuthToken { endpoint: \"db.example.com:3306\", \
         signed_at: 2024-02-29T00:00:00Z, expires_at: 2024-02-29T00:15:00Z, \
         credentials_expiry: None, token: *** }, reuse_until: 2024-02-29T00:14:00Z, \
         from_cache: false }"
    );
}

/// A credentials provider given to `CredentialsConfig::provider` (as in a lean build) that
/// never answers: the fetch deadline, on Tokio's timer, ends the wait, and the token provider's
/// error leads with the cause.
#[tokio::test(start_paused = true)]
async fn a_given_credentials_provider_that_never_answers_times_out() {
    use aws_credential_types::provider::{ProvideCredentials, future};

    #[derive(Debug)]
    struct Silent;

    impl ProvideCredentials for Silent {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            future::ProvideCredentials::new(std::future::pending())
        }
    }

    let credentials = CredentialsConfig::provider(Silent)
        .fetch_timeout(Duration::from_secs(3))
        .build()
        .await
        .unwrap();
    let provider = TokenProvider::builder(credentials.clone()).build();
    let started = tokio::time::Instant::now();
    let err = provider.token(&params()).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    let ProviderError::Credentials { source, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        source.to_string(),
        "no answer within 3 s from the credentials provider given, so no AWS credentials were \
         loaded; check the credentials provider given to CredentialsConfig::provider"
    );
    assert_eq!(credentials.stats().failures, 1);
}

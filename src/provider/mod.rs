//! The token provider: one signature per burst, refreshed before expiry, never
//! an expired token.
//!
//! A [`TokenProvider`] caches one IAM token per key (kind, signing host, port,
//! user, region; the credentials are the provider's own) and:
//!
//! - **reuses** it until `min(signed_at + lifetime, valid_until) - margin`
//!   (`lifetime`: the JDBC `iamExpiration`, default 870 s, zero turns reuse off;
//!   `valid_until`: the earlier of the token's and its credentials' expiry;
//!   `margin`: 30 s, [`DEFAULT_MARGIN`] says why);
//! - **refreshes it ahead**: past 2/3 of that window callers still get it at
//!   once while one refresh runs in a spawned task (or in the
//!   [background refresher](TokenProvider::start_background_refresh));
//! - **signs once per burst**: callers of a key with no valid token wait for one
//!   signing (and at most one credentials fetch) and share its outcome;
//! - **keeps serving** a valid token when a refresh fails (logged once, tried
//!   again after [`REFRESH_RETRY_INTERVAL`]), and returns the error, with its
//!   cause, once nothing valid is left;
//! - is **bounded** ([`DEFAULT_MAX_IDLE`], [`DEFAULT_CAPACITY`]), **counts**
//!   ([`ProviderStats`]) and **traces** (`mint` and `refresh` spans; never a
//!   token, a signature, a secret key or a session token).
//!
//! A cache hit takes a read lock, looks the parameters up, reads the [`Clock`]
//! and clones the token's `Arc`: callers share one copy of a token, which goes
//! with the provider. Tests drive time with a
//! [`ManualClock`](crate::clock::ManualClock):
//!
//! ```
//! use aws_credential_types::Credentials;
//! use rds_iam::{clock::ManualClock, credentials::CredentialsConfig};
//! use rds_iam::{provider::TokenProvider, token::RdsTokenParams};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example");
//! let credentials = CredentialsConfig::static_credentials(credentials).build().await?;
//! let provider = TokenProvider::builder(credentials).clock(clock.clone()).build();
//! let params = RdsTokenParams::new("db.example.com", 5432, "app", "us-east-1");
//!
//! let first = provider.token(&params).await?; // signed now
//! clock.advance(Duration::from_secs(300));
//! let again = provider.token(&params).await?; // the same token
//! assert!(!first.from_cache() && again.from_cache());
//! clock.advance(Duration::from_secs(540)); // 840 s: 870 s lifetime minus the 30 s margin
//! assert!(!provider.token(&params).await?.from_cache());
//!
//! // A login rejected with a cached token: drop it, the next call signs anew.
//! let cached = provider.token(&params).await?;
//! assert!(provider.invalidate(&params, &cached));
//! assert!(!provider.token(&params).await?.from_cache());
//! let stats = provider.stats();
//! assert_eq!((stats.minted, stats.hits, stats.invalidations), (3, 2, 1));
//! assert!(!format!("{cached:?}").contains("X-Amz-Signature"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod cache;

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

use self::cache::{Table, read};
use crate::clock::{Clock, SystemClock};
use crate::credentials::{CredentialsError, CredentialsProvider};
use crate::jdbc::JdbcUrl;
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams, Rfc3339, TokenError};

/// How long a token is reused by default: 870 s, the AWS Advanced JDBC
/// Wrapper's `iamExpiration` default (15 minutes minus 30 s: its users saw
/// tokens rejected at the 900 s edge, aws-advanced-jdbc-wrapper issue #612).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(870);

/// How long before the end of its life a token stops being handed out, by
/// default: 30 s, for the trip a token still makes (TCP, TLS, then the server
/// checks its date: a connect timeout is typically 10-30 s) and clock skew
/// with AWS (well under a second with NTP). With the defaults a token is handed
/// out at most 840 s after signing, 60 s before AWS stops accepting it, and
/// never later than 30 s before its credentials expire (which the credentials
/// cache prevents unless its refresh keeps failing).
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(30);

/// The share of a token's reuse window after which it is refreshed ahead by
/// default: 2/3 (560 s into the 840 s of the defaults).
pub const DEFAULT_REFRESH_FRACTION: f64 = 2.0 / 3.0;

/// After a refresh ahead fails, the next attempt for that key waits this long.
pub const REFRESH_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// The default [`max_idle`](TokenProviderBuilder::max_idle): 15 minutes.
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(15 * 60);

/// The default [`capacity`](TokenProviderBuilder::capacity); an entry is
/// about 1 KB.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Hands out IAM tokens for new connections, from a cache (see the
/// [module docs](self)). Clones share the cache; `Debug` shows the settings
/// and counters, never a token.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

/// What clones of a provider share; what its builder sets.
struct Inner {
    credentials: CredentialsProvider,
    clock: Arc<dyn Clock>,
    lifetime: Duration,
    margin: Duration,
    refresh_ahead: RefreshAhead,
    max_idle: Duration,
    /// Keys of each kind, at least 1.
    capacity: usize,
    rds: Table<RdsTokenParams>,
    dsql: Table<DsqlTokenParams>,
    counters: Counters,
    /// The background refresher (aborted when dropped, with the provider).
    background: Mutex<JoinSet<()>>,
}

impl TokenProvider {
    /// A builder, to set the lifetime, margin, refresh-ahead, bounds or clock;
    /// [`build`](TokenProviderBuilder::build) it as it is for the defaults.
    pub fn builder(credentials: CredentialsProvider) -> TokenProviderBuilder {
        TokenProviderBuilder(Inner {
            credentials,
            clock: Arc::new(SystemClock),
            lifetime: DEFAULT_LIFETIME,
            margin: DEFAULT_MARGIN,
            refresh_ahead: RefreshAhead::default(),
            max_idle: DEFAULT_MAX_IDLE,
            capacity: DEFAULT_CAPACITY,
            rds: Table::default(),
            dsql: Table::default(),
            counters: Counters::default(),
            background: Mutex::default(),
        })
    }

    /// A token for a new connection to `params`: the cached one while it may be handed out,
    /// otherwise one signed now (once for all callers).
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when no valid token is cached and none can be signed.
    pub async fn token(&self, params: &RdsTokenParams) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(params).await
    }

    /// A token for an Aurora DSQL cluster, cached (and failing) as [`token`](Self::token) does;
    /// the action and the token expiry are part of the key.
    pub async fn dsql_token(
        &self,
        params: &DsqlTokenParams,
    ) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(params).await
    }

    /// Drop `token` if it is still the one cached for `params` (a login was rejected with it),
    /// so that the next call signs anew. Returns whether it was dropped.
    pub fn invalidate(&self, params: &RdsTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(params, token)
    }

    /// [`invalidate`](Self::invalidate) for a DSQL token.
    pub fn invalidate_dsql(&self, params: &DsqlTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(params, token)
    }

    /// Upkeep, now: drop the idle entries, and refresh the tokens past their refresh-ahead point
    /// whose keys were used since they were signed (what the background refresher does each tick).
    pub async fn maintain(&self) {
        let (inner, now) = (&self.inner, self.inner.clock.now());
        inner.maintain(&inner.rds, now).await;
        inner.maintain(&inner.dsql, now).await;
    }

    /// Start a Tokio task that runs [`maintain`](Self::maintain) every `interval` (at least 10 ms;
    /// say a minute), so that callers never wait for a refresh. It stops with the last clone of
    /// the provider; starting it again replaces it.
    ///
    /// # Errors
    ///
    /// [`ProviderError::NoRuntime`] when called outside a Tokio runtime.
    pub fn start_background_refresh(&self, interval: Duration) -> Result<(), ProviderError> {
        tokio::runtime::Handle::try_current().map_err(|_| ProviderError::NoRuntime)?;
        let (weak, mut task) = (Arc::downgrade(&self.inner), JoinSet::new());
        task.spawn(async move {
            let period = interval.max(Duration::from_millis(10));
            let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while let (_, Some(inner)) = (ticks.tick().await, weak.upgrade()) {
                let span = tracing::debug_span!("background_refresh");
                TokenProvider { inner }.maintain().instrument(span).await;
            }
        });
        // Dropping the previous task's set aborts it.
        let background = &self.inner.background;
        *background.lock().unwrap_or_else(PoisonError::into_inner) = task;
        Ok(())
    }

    /// The counters so far, and the number of keys cached.
    pub fn stats(&self) -> ProviderStats {
        let (c, inner) = (&self.inner.counters, &*self.inner);
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ProviderStats {
            minted: load(&c.minted),
            hits: load(&c.hits),
            coalesced: load(&c.coalesced),
            refreshes: load(&c.refreshes),
            failures: load(&c.failures),
            invalidations: load(&c.invalidations),
            evictions: load(&c.evictions),
            entries: read(&inner.rds).len() + read(&inner.dsql).len(),
        }
    }

    /// The provider's clock's current instant (what `reuse_until` is compared with).
    #[cfg(feature = "sqlx")]
    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// How long a token is reused after it is signed.
    pub fn lifetime(&self) -> Duration {
        self.inner.lifetime
    }

    /// The credentials the provider signs with.
    pub fn credentials(&self) -> &CredentialsProvider {
        &self.inner.credentials
    }
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("TokenProvider")
            .field("credentials", &inner.credentials.source_label())
            .field("lifetime", &inner.lifetime)
            .field("margin", &inner.margin)
            .field("refresh_ahead", &inner.refresh_ahead)
            .field("clock", &inner.clock)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Settings for a [`TokenProvider`]; from [`TokenProvider::builder`].
#[must_use]
pub struct TokenProviderBuilder(Inner);

impl TokenProviderBuilder {
    /// The clock tokens are signed and aged by (default: [`SystemClock`]).
    /// Give the credentials provider the same one.
    pub fn clock(self, clock: impl Clock) -> Self {
        self.shared_clock(Arc::new(clock))
    }

    /// As [`clock`](Self::clock), for a clock already behind an `Arc`.
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.0.clock = clock;
        self
    }

    /// How long a token is reused after it is signed: the JDBC wrapper's `iamExpiration`
    /// (default [`DEFAULT_LIFETIME`]; zero: every call signs a new token).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.0.lifetime = lifetime;
        self
    }

    /// The lifetime a JDBC URL asks for: its `iamExpiration`, or
    /// [`DEFAULT_LIFETIME`] when the URL does not set it.
    pub fn lifetime_from_url(self, url: &JdbcUrl) -> Self {
        self.lifetime(url.iam_expiration().unwrap_or(DEFAULT_LIFETIME))
    }

    /// How long before the end of its life a token stops being handed out
    /// (default [`DEFAULT_MARGIN`]).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.0.margin = margin;
        self
    }

    /// When a cached token is refreshed ahead: [`RefreshAhead`], or `0.5` (a
    /// share of the window) or `Duration::from_secs(120)` (before its end).
    pub fn refresh_ahead(mut self, refresh_ahead: impl Into<RefreshAhead>) -> Self {
        self.0.refresh_ahead = refresh_ahead.into();
        self
    }

    /// Drop the entry of a key unused for this long (default
    /// [`DEFAULT_MAX_IDLE`]): when a new key finds the cache full, and in
    /// [`TokenProvider::maintain`].
    pub fn max_idle(mut self, max_idle: Duration) -> Self {
        self.0.max_idle = max_idle;
        self
    }

    /// Hold at most this many keys of each kind (default [`DEFAULT_CAPACITY`];
    /// at least 1). A new key in a full cache drops the idle entries, then the
    /// least recently used.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.0.capacity = capacity.max(1);
        self
    }

    /// The provider.
    pub fn build(self) -> TokenProvider {
        let inner = Arc::new(self.0);
        TokenProvider { inner }
    }
}

/// When a cached token is refreshed ahead of the end of its reuse window
/// (default: [`DEFAULT_REFRESH_FRACTION`] of it).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RefreshAhead {
    /// Never: a new token is minted only when the cached one is no longer
    /// handed out (a caller then waits for it).
    Disabled,
    /// Once this share (0.0 to 1.0) of the reuse window (from signing to the
    /// last instant the token is handed out) has passed. Values outside 0..=1
    /// are clamped; NaN means [`DEFAULT_REFRESH_FRACTION`].
    AtFraction(f64),
    /// This long before the end of the reuse window (at the latest when the
    /// token is signed).
    Before(Duration),
}

impl Default for RefreshAhead {
    fn default() -> Self {
        Self::AtFraction(DEFAULT_REFRESH_FRACTION)
    }
}

impl From<f64> for RefreshAhead {
    fn from(fraction: f64) -> Self {
        Self::AtFraction(fraction)
    }
}

impl From<Duration> for RefreshAhead {
    fn from(before: Duration) -> Self {
        Self::Before(before)
    }
}

/// A token from a [`TokenProvider`]: the cache's [`AuthToken`], and whether
/// it came from the cache. It dereferences to the token, so
/// `provided.expose()` is the password to send; `Debug` is redacted like the
/// token's.
#[derive(Clone)]
pub struct ProvidedToken {
    token: Arc<AuthToken>,
    reuse_until: SystemTime,
    /// When the cache refreshes the token ahead (`None`: never).
    refresh_at: Option<SystemTime>,
    from_cache: bool,
}

impl ProvidedToken {
    /// The token, shared with the cache (a reference count, not a copy).
    pub fn shared(&self) -> Arc<AuthToken> {
        Arc::clone(&self.token)
    }

    /// Whether the token was cached before this call. If the database rejects
    /// a cached token, [`invalidate`](TokenProvider::invalidate) it and ask
    /// again; a token signed during this call (by this caller or one it
    /// waited for) would not be any better.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The last instant the provider hands this token out (the signing time
    /// when tokens are not reused).
    pub fn reuse_until(&self) -> SystemTime {
        self.reuse_until
    }

    fn handed_out(&self, from_cache: bool) -> Self {
        let mut token = self.clone();
        token.from_cache = from_cache;
        token
    }
}

impl Deref for ProvidedToken {
    type Target = AuthToken;

    fn deref(&self) -> &AuthToken {
        &self.token
    }
}

impl fmt::Debug for ProvidedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProvidedToken")
            .field("token", &*self.token)
            .field("reuse_until", &Rfc3339(self.reuse_until))
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

/// A snapshot of a [`TokenProvider`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Tokens signed (for callers, by refreshes ahead, with a zero lifetime).
    pub minted: u64,
    /// Calls answered with a token already cached ([`ProvidedToken::from_cache`]).
    pub hits: u64,
    /// Calls that waited for another caller's signing of the key and got its
    /// token (1,000 callers on a cold key: 1 mint, up to 999 of these).
    pub coalesced: u64,
    /// Refreshes ahead that replaced a token (part of `minted`).
    pub refreshes: u64,
    /// Failed attempts to sign: no credentials, parameters that cannot be
    /// signed for, or a refresh that could not extend a token's life.
    pub failures: u64,
    /// Cached tokens dropped by [`TokenProvider::invalidate`].
    pub invalidations: u64,
    /// Cache entries dropped for being idle or to keep within the capacity.
    pub evictions: u64,
    /// Keys in the cache now.
    pub entries: usize,
}

/// No valid token could be handed out. `Display` says what failed and what to
/// do; the cause ([`CredentialsError`], [`TokenError`]) is the `source`, not
/// repeated. No token or key enters an error. Cheap to clone: callers waiting
/// on one signing all receive its error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// AWS credentials could not be loaded, and no cached token is valid.
    #[error(
        "no IAM token for {who} at {endpoint}: AWS credentials could not be loaded; \
         fix the credentials source as the cause says"
    )]
    Credentials {
        /// `host:port` (RDS) or `host` (DSQL).
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// Why the credentials could not be loaded.
        #[source]
        source: CredentialsError,
    },

    /// The parameters cannot be signed for (empty user, bad host or region, ...).
    #[error(
        "no IAM token for {who} at {endpoint}: the parameters cannot be signed for; \
         correct the one the cause names"
    )]
    Signing {
        /// `host:port` (RDS) or `host` (DSQL), as given.
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// What is wrong with the parameters.
        #[source]
        source: TokenError,
    },

    /// The only credentials available expire too soon for a token to be
    /// handed out (within the provider's margin), and no newer ones could be
    /// fetched.
    #[error(
        "no IAM token for {who} at {endpoint}: the AWS credentials expire at {} (within the \
         token margin) and no newer ones could be fetched; check that the credentials \
         source is reachable (the credentials cache logs why its refresh failed)",
        Rfc3339(*credentials_expiry)
    )]
    CredentialsExpiring {
        /// `host:port` (RDS) or `host` (DSQL).
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// When the credentials expire.
        credentials_expiry: SystemTime,
    },

    /// A background refresher was asked for outside a Tokio runtime.
    #[error(
        "the background token refresher needs a Tokio runtime; call \
         start_background_refresh from within one (e.g. inside #[tokio::main])"
    )]
    NoRuntime,
}

/// The live counters: tallies, so `Relaxed` is enough.
#[derive(Default)]
struct Counters {
    minted: AtomicU64,
    hits: AtomicU64,
    coalesced: AtomicU64,
    refreshes: AtomicU64,
    failures: AtomicU64,
    invalidations: AtomicU64,
    evictions: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

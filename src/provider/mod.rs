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
//! - **keeps serving** a valid token when a refresh fails (logged once), and
//!   returns the error, with its cause, once nothing valid is left;
//! - is **bounded** ([`DEFAULT_MAX_IDLE`], [`DEFAULT_CAPACITY`]), **counts**
//!   ([`ProviderStats`]) and **traces** (`mint` and `refresh` spans; never a
//!   token, a signature, a secret key or a session token).
//!
//! A cache hit takes a read lock, looks the caller's parameters up, reads the
//! [`Clock`] and clones the token's `Arc`: callers share one copy of a token,
//! which goes with the provider. Tests drive time with a
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

mod builder;
mod error;
mod lifetime;
mod provide;
mod provided;
mod stats;
mod table;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use builder::{DEFAULT_CAPACITY, DEFAULT_MAX_IDLE, TokenProviderBuilder};
pub use error::ProviderError;
pub use lifetime::{DEFAULT_LIFETIME, DEFAULT_MARGIN, DEFAULT_REFRESH_FRACTION, RefreshAhead};
pub use provided::ProvidedToken;
pub use stats::ProviderStats;

use self::lifetime::Policy;
use self::stats::Counters;
use self::table::Table;
use crate::clock::Clock;
use crate::credentials::CredentialsProvider;
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams};

/// After a refresh ahead fails, the next attempt for that key waits this
/// long (callers keep getting the still-valid token meanwhile).
pub const REFRESH_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Hands out IAM tokens for new connections, from a cache (see the
/// [module docs](self)). Clones share the cache; `Debug` shows the settings
/// and counters, never a token.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

/// What clones of a provider share.
struct Inner {
    credentials: CredentialsProvider,
    clock: Arc<dyn Clock>,
    policy: Policy,
    rds: Table<RdsTokenParams>,
    dsql: Table<DsqlTokenParams>,
    counters: Counters,
    /// The background refresher (aborted when dropped, with the provider).
    background: Mutex<JoinSet<()>>,
}

impl TokenProvider {
    /// A provider with the defaults (870 s lifetime, 30 s margin, refresh
    /// after 2/3, the system clock), signing with `credentials`.
    pub fn new(credentials: CredentialsProvider) -> Self {
        Self::builder(credentials).build()
    }

    /// A builder, to set the lifetime, margin, refresh-ahead, bounds or clock.
    pub fn builder(credentials: CredentialsProvider) -> TokenProviderBuilder {
        TokenProviderBuilder::new(credentials)
    }

    /// A token for a new connection to `params`: the cached one while it may
    /// be handed out, otherwise one signed now (once for all callers).
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when no valid token is cached and none can be signed.
    pub async fn token(&self, params: &RdsTokenParams) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(params).await
    }

    /// A token for an Aurora DSQL cluster, cached as [`token`](Self::token)
    /// does (the action and the token expiry are part of the key).
    ///
    /// # Errors
    ///
    /// As [`token`](Self::token).
    pub async fn dsql_token(
        &self,
        params: &DsqlTokenParams,
    ) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(params).await
    }

    /// Drop `token` if it is still the one cached for `params` (a login was
    /// rejected with it), so that the next call signs anew. Returns whether
    /// it was dropped.
    pub fn invalidate(&self, params: &RdsTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(params, token)
    }

    /// [`invalidate`](Self::invalidate) for a DSQL token.
    pub fn invalidate_dsql(&self, params: &DsqlTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(params, token)
    }

    /// Upkeep, now: drop the idle entries, and refresh the tokens past their
    /// refresh-ahead point whose keys were used since they were signed (what
    /// the background refresher does on every tick).
    pub async fn maintain(&self) {
        self.inner.maintain().await;
    }

    /// Start a Tokio task that runs [`maintain`](Self::maintain) every
    /// `interval` (at least 10 ms; say a minute), so that callers never wait
    /// for a refresh. It stops with the last clone of the provider; starting
    /// it again replaces it.
    ///
    /// # Errors
    ///
    /// [`ProviderError::NoRuntime`] when called outside a Tokio runtime.
    pub fn start_background_refresh(&self, interval: Duration) -> Result<(), ProviderError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ProviderError::NoRuntime)?;
        let weak = Arc::downgrade(&self.inner);
        let mut task = JoinSet::new();
        task.spawn_on(
            async move {
                let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(10)));
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                ticks.tick().await; // the first tick is immediate
                loop {
                    ticks.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    let span = tracing::debug_span!("background_refresh");
                    inner.maintain().instrument(span).await;
                }
            },
            &runtime,
        );
        // Dropping the previous task's set aborts it.
        *self
            .inner
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = task;
        Ok(())
    }

    /// The counters so far, and the number of keys cached.
    pub fn stats(&self) -> ProviderStats {
        self.inner
            .counters
            .snapshot(self.inner.rds.len() + self.inner.dsql.len())
    }

    /// How long a token is reused after it is signed.
    pub fn lifetime(&self) -> Duration {
        self.inner.policy.lifetime
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
            .field("lifetime", &inner.policy.lifetime)
            .field("margin", &inner.policy.margin)
            .field("refresh_ahead", &inner.policy.refresh_ahead)
            .field("clock", &inner.clock)
            .field("stats", &self.stats())
            .finish()
    }
}

//! The token provider: one signature per burst, refreshed before expiry, never
//! an expired token.
//!
//! A [`TokenProvider`] hands out IAM tokens for new database connections. It
//! caches one token per key (token kind, signing host, signing port, user,
//! region; the credential identity is the provider's own credentials source,
//! and each token is bounded by the expiry of the credentials that signed it)
//! and:
//!
//! - **reuses** a token until `min(signed_at + lifetime, valid_until) - margin`,
//!   where `lifetime` is the JDBC `iamExpiration` (default 870 s; zero turns
//!   reuse off), `valid_until` the earlier of the token's 900 s expiry and its
//!   temporary credentials' expiry, and `margin` 30 s ([`DEFAULT_MARGIN`]
//!   says why);
//! - **refreshes ahead**: once a token has used 2/3 of that window (by
//!   default), the next caller still gets it at once while exactly one
//!   refresh runs in a spawned task; no caller waits while a valid token
//!   exists. [`TokenProvider::start_background_refresh`] also keeps hot keys
//!   fresh from a task of its own, so that no caller pays for signing;
//! - **signs once per burst**: callers of a key with no valid token wait for
//!   one signing (and at most one credentials fetch) and all get its token;
//! - **keeps serving** a valid token when a refresh fails (logged once), and
//!   returns the error, with its cause, once nothing valid is left;
//! - is **bounded**: entries unused for [`DEFAULT_MAX_IDLE`] are dropped, and
//!   at most [`DEFAULT_CAPACITY`] keys are held;
//! - **counts** ([`ProviderStats`]) and **traces**: `mint` and `refresh`
//!   spans and events at `debug` (a refresh failure at `warn`), with
//!   endpoints, users, regions, times and access key ids, never a token, a
//!   signature, a secret key or a session token.
//!
//! A cache hit takes no lock, allocates nothing and writes no memory another
//! thread reads: each thread keeps a replica of the slots it used last (the
//! entry, the token record and its own `Arc` of the token) and checks it
//! against the caller's borrowed parameters and the generation of the
//! copy-on-write table it came from; a stale replica is read again from the
//! table (hashed from the borrowed parameters, loaded through `arc-swap`).
//! The time a hit compares with the token's window is [`Clock::recent`]: on
//! Linux the kernel's coarse clock advanced by one tick, so a token stops
//! being handed out up to a tick (1-10 ms) early, against a margin of 30 s.
//! Threads asking for one key do not slow each other down (`cargo bench
//! --bench provider`, `hit_threads`).
//!
//! Time comes from the [`Clock`] the provider is given,
//! so tests drive hours of token lifetimes in microseconds:
//!
//! ```
//! use aws_credential_types::Credentials;
//! use rds_iam::clock::ManualClock;
//! use rds_iam::credentials::CredentialsConfig;
//! use rds_iam::token::RdsTokenParams;
//! use rds_iam::provider::TokenProvider;
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let credentials = CredentialsConfig::static_credentials(
//!     Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example"),
//! )
//! .clock(clock.clone())
//! .build()
//! .await?;
//! let provider = TokenProvider::builder(credentials).clock(clock.clone()).build();
//! let params = RdsTokenParams::new("mydb.cluster-abc123.us-east-1.rds.amazonaws.com", 5432, "app", "us-east-1");
//!
//! let first = provider.token(&params).await?; // signed now
//! assert!(!first.from_cache());
//! clock.advance(Duration::from_secs(300));
//! let again = provider.token(&params).await?; // the same token
//! assert!(again.from_cache());
//! assert_eq!(again.expose(), first.expose());
//!
//! clock.advance(Duration::from_secs(540)); // 840 s: 870 s lifetime minus the 30 s margin
//! let next = provider.token(&params).await?;
//! assert!(!next.from_cache());
//! assert_ne!(next.expose(), first.expose());
//!
//! // A login rejected with a cached token: drop it, the next call signs anew.
//! clock.advance(Duration::from_secs(10));
//! let cached = provider.token(&params).await?;
//! assert!(provider.invalidate(&params, &cached));
//! assert!(!provider.token(&params).await?.from_cache());
//!
//! let stats = provider.stats();
//! assert_eq!((stats.minted, stats.hits, stats.invalidations), (3, 2, 1));
//! assert!(!format!("{next:?}").contains("X-Amz-Signature"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod builder;
mod cache;
mod entry;
mod error;
mod key;
mod lifetime;
mod mint;
mod provided;
mod refresher;
mod replica;
mod stats;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use builder::{DEFAULT_CAPACITY, DEFAULT_MAX_IDLE, TokenProviderBuilder};
pub use error::ProviderError;
pub use lifetime::{DEFAULT_LIFETIME, DEFAULT_MARGIN, DEFAULT_REFRESH_FRACTION, RefreshAhead};
pub use provided::ProvidedToken;
pub use stats::ProviderStats;

use self::cache::Cache;
use self::key::TargetRef;
use self::lifetime::Policy;
use self::stats::Counters;
use crate::clock::Clock;
use crate::credentials::CredentialsProvider;
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams};

/// After a refresh ahead fails, the next attempt for that key waits this
/// long (callers keep getting the still-valid token meanwhile).
pub const REFRESH_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Hands out IAM tokens for new connections, from a cache (see the
/// [module docs](self)).
///
/// Cheap to clone (clones share one cache), `Send + Sync`. `Debug` shows the
/// settings and counters, never a token.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

/// What clones of a provider share.
struct Inner {
    credentials: CredentialsProvider,
    clock: Arc<dyn Clock>,
    policy: Policy,
    cache: Cache,
    counters: Counters,
    /// The background refresher, stopped when the provider goes.
    background: Mutex<Option<tokio::task::AbortHandle>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let task = self
            .background
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }
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
    /// be handed out, otherwise a freshly signed one (one signing for all
    /// concurrent callers of the key).
    ///
    /// # Errors
    ///
    /// [`ProviderError`] when no valid token is cached and none can be
    /// signed: credentials cannot be loaded, the parameters cannot be signed
    /// for, or the only credentials expire within the margin.
    pub async fn token(&self, params: &RdsTokenParams) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(TargetRef::Rds(params)).await
    }

    /// A token for an Aurora DSQL cluster, cached as [`token`](Self::token)
    /// does (the key includes the action and the token expiry; a token is
    /// reused for at most the provider's lifetime).
    ///
    /// # Errors
    ///
    /// As [`token`](Self::token).
    pub async fn dsql_token(
        &self,
        params: &DsqlTokenParams,
    ) -> Result<ProvidedToken, ProviderError> {
        self.inner.provide(TargetRef::Dsql(params)).await
    }

    /// Drop `token` from the cache if it is still the one cached for
    /// `params`, so that the next call signs a new one. Returns whether it
    /// was dropped (false: it was replaced already, or never cached).
    ///
    /// For a connector that saw a login rejected with a token that
    /// [came from the cache](ProvidedToken::from_cache).
    pub fn invalidate(&self, params: &RdsTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(TargetRef::Rds(params), token)
    }

    /// [`invalidate`](Self::invalidate) for a DSQL token.
    pub fn invalidate_dsql(&self, params: &DsqlTokenParams, token: &AuthToken) -> bool {
        self.inner.invalidate(TargetRef::Dsql(params), token)
    }

    /// The counters so far, and the number of keys cached.
    pub fn stats(&self) -> ProviderStats {
        self.inner.counters.snapshot(self.inner.cache.len())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<TokenProvider>();
        check::<ProvidedToken>();
        check::<ProviderError>();
    }
}

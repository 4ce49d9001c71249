//! Token provider: hands out a valid IAM token for a new connection.
//!
//! INTERIM: a small, correct stand-in with the interface of issue 4 (`TokenProvider`,
//! `ProvidedToken`, `invalidate`, `stats`) so the connectors can be written and tested; issue
//! 4's module replaces this one wholesale when it lands. It caches one token per
//! [`RdsTokenParams`], reuses it until `min(signed_at + lifetime, credentials expiry) -
//! margin`, and signs outside its lock (no refresh ahead, no single flight).
//!
//! ```
//! use aws_credential_types::Credentials;
//! use rds_iam::clock::ManualClock;
//! use rds_iam::credentials::CredentialsConfig;
//! use rds_iam::provider::TokenProvider;
//! use rds_iam::token::RdsTokenParams;
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let credentials = CredentialsConfig::static_credentials(Credentials::new("AKID", "secret", None, None, "doc"))
//!     .build()
//!     .await?;
//! let provider = TokenProvider::builder(credentials).clock(clock.clone()).build();
//! let params = RdsTokenParams::new("db.abc123.us-east-1.rds.amazonaws.com", 5432, "app", "us-east-1");
//!
//! let first = provider.token(&params).await?;
//! assert!(!first.from_cache());
//! let second = provider.token(&params).await?;
//! assert!(second.from_cache());
//! provider.invalidate(&params, second.token());
//! assert!(!provider.token(&params).await?.from_cache());
//! assert_eq!(provider.stats().minted, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::clock::{Clock, SystemClock};
use crate::credentials::{CredentialsError, CredentialsProvider};
use crate::token::{AuthToken, RdsTokenParams, TokenError, sign_rds_token};

/// How long a token is reused by default: 870 s (15 minutes minus 30 s).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(870);
/// A token is not handed out within this margin of the end of its life.
pub const MARGIN: Duration = Duration::from_secs(30);

/// A cached, cheap-to-clone source of IAM tokens.
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

struct Inner {
    credentials: CredentialsProvider,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
    cache: Mutex<HashMap<RdsTokenParams, AuthToken>>,
    minted: AtomicU64,
    hits: AtomicU64,
    invalidations: AtomicU64,
    failures: AtomicU64,
}

/// Builds a [`TokenProvider`].
pub struct TokenProviderBuilder {
    credentials: CredentialsProvider,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
}

impl TokenProviderBuilder {
    /// How long a token is reused (default [`DEFAULT_LIFETIME`]; zero: never reused).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The clock tokens are signed and aged by (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The provider.
    pub fn build(self) -> TokenProvider {
        TokenProvider {
            inner: Arc::new(Inner {
                credentials: self.credentials,
                lifetime: self.lifetime,
                clock: self.clock,
                cache: Mutex::new(HashMap::new()),
                minted: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                invalidations: AtomicU64::new(0),
                failures: AtomicU64::new(0),
            }),
        }
    }
}

/// A token and where it came from.
#[derive(Debug, Clone)]
pub struct ProvidedToken {
    token: AuthToken,
    from_cache: bool,
}

impl ProvidedToken {
    /// The token.
    pub fn token(&self) -> &AuthToken {
        &self.token
    }

    /// Whether the token was signed earlier and reused (rather than minted for this call).
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Tokens signed.
    pub minted: u64,
    /// Tokens served from the cache.
    pub hits: u64,
    /// Cached tokens dropped by callers.
    pub invalidations: u64,
    /// Failed attempts to get a token.
    pub failures: u64,
}

/// No token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The AWS credentials could not be loaded.
    #[error("no AWS credentials to sign the IAM token with")]
    Credentials(#[source] CredentialsError),
    /// The token could not be signed.
    #[error("the IAM token could not be signed")]
    Sign(#[source] TokenError),
}

impl TokenProvider {
    /// A provider with the default lifetime and the system clock.
    pub fn new(credentials: CredentialsProvider) -> Self {
        Self::builder(credentials).build()
    }

    /// A builder.
    pub fn builder(credentials: CredentialsProvider) -> TokenProviderBuilder {
        TokenProviderBuilder {
            credentials,
            lifetime: DEFAULT_LIFETIME,
            clock: Arc::new(SystemClock),
        }
    }

    /// A valid token for `params`.
    pub async fn token(&self, params: &RdsTokenParams) -> Result<ProvidedToken, ProviderError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        if let Some(token) = inner.cache().get(params)
            && usable(token, inner.lifetime, now)
        {
            inner.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(ProvidedToken {
                token: token.clone(),
                from_cache: true,
            });
        }
        let token = self.mint(params).await.inspect_err(|_| {
            inner.failures.fetch_add(1, Ordering::Relaxed);
        })?;
        inner.minted.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "rds_iam::provider", endpoint = token.endpoint(), "minted an IAM token");
        if !inner.lifetime.is_zero() {
            inner.cache().insert(params.clone(), token.clone());
        }
        Ok(ProvidedToken {
            token,
            from_cache: false,
        })
    }

    async fn mint(&self, params: &RdsTokenParams) -> Result<AuthToken, ProviderError> {
        let credentials = self
            .inner
            .credentials
            .credentials()
            .await
            .map_err(ProviderError::Credentials)?;
        sign_rds_token(params, &credentials, self.inner.clock.now()).map_err(ProviderError::Sign)
    }

    /// Forget `token` for `params` (a login with it was rejected): the next call mints a new
    /// one. A token that is no longer the cached one is left alone. Returns whether it was
    /// dropped.
    pub fn invalidate(&self, params: &RdsTokenParams, token: &AuthToken) -> bool {
        let mut cache = self.inner.cache();
        if cache.get(params) == Some(token) {
            cache.remove(params);
            self.inner.invalidations.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ProviderStats {
        ProviderStats {
            minted: self.inner.minted.load(Ordering::Relaxed),
            hits: self.inner.hits.load(Ordering::Relaxed),
            invalidations: self.inner.invalidations.load(Ordering::Relaxed),
            failures: self.inner.failures.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<RdsTokenParams, AuthToken>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn usable(token: &AuthToken, lifetime: Duration, now: SystemTime) -> bool {
    let end = (token.signed_at() + lifetime).min(token.valid_until());
    end.checked_sub(MARGIN).is_some_and(|last| now < last)
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("lifetime", &self.inner.lifetime)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

//! [`ProvidedToken`]: a token handed out by a provider, and where it came from.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use crate::token::{AuthToken, Rfc3339};

/// A token from a [`TokenProvider`](super::TokenProvider): the cache's
/// [`AuthToken`], shared (every caller handed a cached token holds the same
/// allocation: cloning is a reference count, the token text is never
/// copied), and whether it came from the cache.
///
/// It dereferences to the [`AuthToken`], so `provided.expose()` is the
/// password to send. `Debug` is redacted like the token's.
#[derive(Clone)]
pub struct ProvidedToken {
    token: Arc<AuthToken>,
    reuse_until: SystemTime,
    from_cache: bool,
}

impl ProvidedToken {
    pub(crate) fn new(token: Arc<AuthToken>, reuse_until: SystemTime, from_cache: bool) -> Self {
        Self {
            token,
            reuse_until,
            from_cache,
        }
    }

    /// The token.
    pub fn token(&self) -> &AuthToken {
        &self.token
    }

    /// The token, shared (a reference count, no copy).
    pub fn shared(&self) -> Arc<AuthToken> {
        Arc::clone(&self.token)
    }

    /// The token, shared, without a reference count change.
    pub fn into_shared(self) -> Arc<AuthToken> {
        self.token
    }

    /// Whether the token was cached before this call. If the database rejects
    /// a cached token, [`invalidate`](super::TokenProvider::invalidate) it and
    /// ask again; a token signed during this call (by this caller or one it
    /// waited for) would not be any better.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The last instant the provider hands this token out (its window:
    /// `min(signed_at + lifetime, valid_until) - margin`). Equal to the
    /// signing time when tokens are not reused (lifetime zero).
    pub fn reuse_until(&self) -> SystemTime {
        self.reuse_until
    }
}

impl Deref for ProvidedToken {
    type Target = AuthToken;

    fn deref(&self) -> &AuthToken {
        &self.token
    }
}

impl AsRef<AuthToken> for ProvidedToken {
    fn as_ref(&self) -> &AuthToken {
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

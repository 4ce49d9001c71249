//! [`ProvidedToken`]: a token handed out by a provider, and where it came from.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use crate::token::{AuthToken, Rfc3339};

/// A token from a [`TokenProvider`](super::TokenProvider): a shared
/// [`AuthToken`] (cloning is a reference count, the token text is not
/// copied on a cache hit) and whether it came from the cache.
///
/// Compare tokens by value (`==`, or [`AuthToken::expose`]), not by
/// `Arc::ptr_eq`: each thread hands out its own `Arc` of a cached token.
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

    /// Whether the token was already cached before this call.
    ///
    /// `true`: it was signed earlier (for another connection); if the
    /// database rejects it, [`invalidate`](super::TokenProvider::invalidate)
    /// it and ask again: the next token is signed anew. `false`: it was
    /// signed during this call (by this caller, or by the caller whose
    /// signing this one waited for), so retrying with another token signed
    /// by the same credentials is unlikely to help.
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

//! Handing out tokens: the lock-free hit, the single-flight signing of a cold
//! key, and the refresh ahead.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument as _;

use super::cache::Expect;
use super::entry::{Entry, Minted, RefreshClaim};
use super::error::ProviderError;
use super::key::{KeyRef, TargetRef};
use super::provided::ProvidedToken;
use super::replica;
use super::stats::Counters;
use super::{Inner, REFRESH_RETRY_INTERVAL};
use crate::token::{AuthToken, Rfc3339, TokenError, sign_dsql_token, sign_rds_token};

impl Inner {
    pub(super) async fn provide(
        self: &Arc<Self>,
        target: TargetRef<'_>,
    ) -> Result<ProvidedToken, ProviderError> {
        // The hit is decided in a plain function, so that none of its locals
        // is kept in this future across the await; the slow paths are boxed,
        // as their state (credentials loading, signing, tracing) would make
        // every hit's future large, and moving it would cost more than the
        // hit itself.
        let now = match self.lookup(target) {
            Ok(hit) => return Ok(hit),
            Err(now) => now,
        };
        Box::pin(self.provide_slow(target, now)).await
    }

    /// The cached token for `target`, or the time it was looked up at.
    ///
    /// A hit decides with the cheap reading of the clock (up to a tick ahead
    /// of the exact time, against a margin of seconds); signing reads the
    /// exact time.
    #[inline]
    fn lookup(self: &Arc<Self>, target: TargetRef<'_>) -> Result<ProvidedToken, SystemTime> {
        let now = self.clock.recent();
        if self.policy.reuses()
            && let Some(hit) = self.try_hit(&target.key(), now)
        {
            return Ok(hit);
        }
        Err(now)
    }

    /// No token to hand out from the cache: sign one.
    async fn provide_slow(
        self: &Arc<Self>,
        target: TargetRef<'_>,
        now: SystemTime,
    ) -> Result<ProvidedToken, ProviderError> {
        if !self.policy.reuses() {
            return self.provide_unreused(target).await;
        }
        let hash = self.cache.hash(&target.key());
        self.provide_cold(hash, target, now).await
    }

    /// The cached token, if it may be handed out at `now`; starts the one
    /// refresh ahead when it is due. No lock, no allocation, no write to
    /// memory another thread reads (see [`replica`]).
    #[inline]
    fn try_hit(self: &Arc<Self>, key: &KeyRef<'_>, now: SystemTime) -> Option<ProvidedToken> {
        replica::with(&self.cache, key, |replica| {
            let minted = &replica.minted;
            if !minted.usable(now) {
                return None;
            }
            replica.touch(now);
            if minted.refresh_due(now) {
                self.start_refresh(&replica.entry, now);
            }
            self.counters.hit();
            Some(ProvidedToken::new(
                Arc::clone(&replica.token),
                minted.window.reuse_until,
                true,
            ))
        })
        .flatten()
    }

    /// Start the refresh of `entry` in a task of its own, unless one runs or
    /// the last one failed recently. Without a Tokio runtime there is no
    /// refresh ahead: the token is signed anew when it runs out.
    fn start_refresh(self: &Arc<Self>, entry: &Arc<Entry>, now: SystemTime) {
        if entry.backing_off(now) || !entry.claim_refresh() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            drop(RefreshClaim(entry));
            return;
        };
        let inner = Arc::clone(self);
        let entry = Arc::clone(entry);
        runtime.spawn(async move {
            let claim = RefreshClaim(&entry);
            inner.refresh(claim.0).await;
        });
    }

    /// No usable token for the key: sign one, once for all callers waiting.
    async fn provide_cold(
        self: &Arc<Self>,
        hash: u64,
        target: TargetRef<'_>,
        now: SystemTime,
    ) -> Result<ProvidedToken, ProviderError> {
        let (entry, evicted) = self.cache.get_or_insert(hash, target, now);
        for _ in 0..evicted {
            Counters::bump(&self.counters.evictions);
        }
        entry.touch(now);
        let seen = entry.completed.load(std::sync::atomic::Ordering::Acquire);
        let mut flight = entry.flight.lock().await;
        let now = self.clock.now();
        if let Some(minted) = self.cache.current(&entry).filter(|m| m.usable(now)) {
            // Signed while we waited (coalesced), or just before we looked.
            let from_cache = flight.completed == seen;
            if from_cache {
                self.counters.hit();
            } else {
                Counters::bump(&self.counters.coalesced);
            }
            return Ok(ProvidedToken::new(
                Arc::clone(&minted.token),
                minted.window.reuse_until,
                from_cache,
            ));
        }
        if flight.completed != seen
            && let Some(err) = &flight.last_error
        {
            // The signing we waited for failed: share its outcome.
            return Err(err.clone());
        }

        let result = self.mint(target, "cold").await;
        flight.completed += 1;
        entry
            .completed
            .store(flight.completed, std::sync::atomic::Ordering::Release);
        let outcome = result.and_then(|token| {
            let now = self.clock.now();
            self.check_credentials(target, &token, now)?;
            let window = self.policy.window(&token);
            let token = Arc::new(token);
            if window.reuse_until > now {
                let minted = Arc::new(Minted {
                    token: Arc::clone(&token),
                    window,
                });
                self.cache.replace(&entry, Expect::Any, Some(minted));
            }
            // else: a token too short-lived to reuse (a DSQL expiry under the
            // margin) is handed out once and not cached.
            entry.succeeded();
            Ok(ProvidedToken::new(token, window.reuse_until, false))
        });
        flight.last_error = outcome.as_ref().err().cloned();
        outcome
    }

    /// Lifetime zero: sign for every call, cache nothing.
    async fn provide_unreused(
        &self,
        target: TargetRef<'_>,
    ) -> Result<ProvidedToken, ProviderError> {
        let token = self.mint(target, "unreused").await?;
        self.check_credentials(target, &token, self.clock.now())?;
        let signed_at = token.signed_at();
        Ok(ProvidedToken::new(Arc::new(token), signed_at, false))
    }

    /// Refresh `entry` (whose refresh this task has claimed): sign a new
    /// token and install it if it lives longer than the current one; on
    /// failure keep the current one, back off, and log once.
    pub(super) async fn refresh(&self, entry: &Entry) {
        let target = entry.target.as_ref();
        let span = tracing::debug_span!(
            "refresh",
            kind = target.kind_name(),
            endpoint = %target.endpoint(),
            user = target.who(),
            region = target.region(),
        );
        async {
            let Some(old) = self.cache.current(entry) else {
                return; // invalidated or evicted meanwhile: the next caller signs
            };
            let mut flight = entry.flight.lock().await;
            if !self
                .cache
                .current(entry)
                .is_some_and(|current| Arc::ptr_eq(&current, &old))
            {
                return; // replaced while we waited for the lock
            }
            let result = self.mint(target, "refresh").await;
            let now = self.clock.now();
            flight.completed += 1;
            entry
                .completed
                .store(flight.completed, std::sync::atomic::Ordering::Release);
            let outcome = result.and_then(|token| {
                let window = self.policy.window(&token);
                if window.reuse_until <= old.window.reuse_until {
                    // Signed with the same credentials, about to expire: no gain.
                    Counters::bump(&self.counters.failures);
                    let expiry = token.credentials_expiry().unwrap_or(token.valid_until());
                    return Err(expiring(target, expiry));
                }
                Ok(Minted {
                    token: Arc::new(token),
                    window,
                })
            });
            match outcome {
                Ok(minted) => {
                    tracing::debug!(
                        reuse_until = %Rfc3339(minted.window.reuse_until),
                        "refreshed the IAM token ahead of its end"
                    );
                    self.cache.replace(
                        entry,
                        Expect::Current(Some(&old)),
                        Some(Arc::new(minted)),
                    );
                    entry.succeeded();
                    Counters::bump(&self.counters.refreshes);
                    flight.last_error = None;
                }
                Err(err) => {
                    entry.back_off_until(now + REFRESH_RETRY_INTERVAL);
                    if old.usable(now) {
                        if entry
                            .warned
                            .swap(true, std::sync::atomic::Ordering::Relaxed)
                        {
                            tracing::debug!(error = %ErrorChain(&err), "refreshing the IAM token failed again");
                        } else {
                            tracing::warn!(
                                reuse_until = %Rfc3339(old.window.reuse_until),
                                error = %ErrorChain(&err),
                                "refreshing the IAM token failed; handing out the cached one until it runs out"
                            );
                        }
                    }
                    flight.last_error = Some(err);
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Load credentials and sign, counting and tracing (never the token).
    async fn mint(
        &self,
        target: TargetRef<'_>,
        reason: &'static str,
    ) -> Result<AuthToken, ProviderError> {
        let span = tracing::debug_span!(
            "mint",
            kind = target.kind_name(),
            endpoint = %target.endpoint(),
            user = target.who(),
            region = target.region(),
            reason,
        );
        async {
            let credentials = match self.credentials.credentials().await {
                Ok(credentials) => credentials,
                Err(source) => {
                    Counters::bump(&self.counters.failures);
                    tracing::debug!(error = %ErrorChain(&source), "loading AWS credentials for an IAM token failed");
                    return Err(ProviderError::Credentials {
                        endpoint: target.endpoint(),
                        who: target.who().to_owned(),
                        source,
                    });
                }
            };
            let now = self.clock.now();
            let signed = match target {
                TargetRef::Rds(params) => sign_rds_token(params, &credentials, now),
                TargetRef::Dsql(params) => sign_dsql_token(params, &credentials, now),
            };
            match signed {
                Ok(token) => {
                    Counters::bump(&self.counters.minted);
                    tracing::debug!(
                        access_key_id = credentials.access_key_id(),
                        signed_at = %Rfc3339(token.signed_at()),
                        valid_until = %Rfc3339(token.valid_until()),
                        "signed an IAM token"
                    );
                    Ok(token)
                }
                Err(TokenError::CredentialsExpired { expiry, .. }) => {
                    Counters::bump(&self.counters.failures);
                    Err(expiring(target, expiry))
                }
                Err(source) => {
                    Counters::bump(&self.counters.failures);
                    tracing::debug!(error = %source, "signing an IAM token failed");
                    Err(ProviderError::Signing {
                        endpoint: target.endpoint(),
                        who: target.who().to_owned(),
                        source,
                    })
                }
            }
        }
        .instrument(span)
        .await
    }

    /// A token signed with credentials that expire within the margin is
    /// never handed out.
    fn check_credentials(
        &self,
        target: TargetRef<'_>,
        token: &AuthToken,
        now: SystemTime,
    ) -> Result<(), ProviderError> {
        match token.credentials_expiry() {
            Some(expiry)
                if expiry
                    .checked_sub(self.policy.margin)
                    .is_none_or(|last| last <= now) =>
            {
                Counters::bump(&self.counters.failures);
                Err(expiring(target, expiry))
            }
            _ => Ok(()),
        }
    }

    pub(super) fn invalidate(&self, target: TargetRef<'_>, token: &AuthToken) -> bool {
        let key = target.key();
        let hash = self.cache.hash(&key);
        let Some((entry, minted)) = self.cache.with_slot(hash, &key, |slot| {
            (Arc::clone(&slot.entry), slot.minted.clone())
        }) else {
            return false;
        };
        let Some(minted) = minted else {
            return false;
        };
        if !(std::ptr::eq(&*minted.token, token) || *minted.token == *token) {
            return false;
        }
        let dropped = self
            .cache
            .replace(&entry, Expect::Current(Some(&minted)), None);
        if dropped {
            Counters::bump(&self.counters.invalidations);
            tracing::debug!(
                endpoint = %target.endpoint(),
                user = target.who(),
                "dropped an invalidated IAM token"
            );
        }
        dropped
    }
}

/// The only credentials left expire within the margin.
fn expiring(target: TargetRef<'_>, credentials_expiry: SystemTime) -> ProviderError {
    ProviderError::CredentialsExpiring {
        endpoint: target.endpoint(),
        who: target.who().to_owned(),
        credentials_expiry,
    }
}

/// An error and its causes on one line, for logs (none of the errors involved
/// carries a secret).
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

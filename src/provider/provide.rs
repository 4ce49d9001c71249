//! Handing out tokens: the cache hit, the single-flight signing of a cold
//! key, the refresh ahead, invalidation and upkeep.

use std::sync::Arc;
use std::time::SystemTime;

use tracing::Instrument as _;

use super::error::ProviderError;
use super::provided::ProvidedToken;
use super::stats::bump;
use super::table::{Entry, Minted, Params};
use super::{Inner, REFRESH_RETRY_INTERVAL};
use crate::credentials::ErrorChain;
use crate::single_flight::Turn;
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams, Rfc3339, TokenError};

impl Inner {
    pub(super) async fn provide<P: Params>(
        self: &Arc<Self>,
        params: &P,
    ) -> Result<ProvidedToken, ProviderError> {
        let now = self.clock.now();
        if self.policy.reuses()
            && let Some(hit) = P::table(self).with(params, |e| self.hit(params, e, now))
            && let Some(hit) = hit
        {
            return Ok(hit);
        }
        // Boxed: the state of signing (credentials, tracing) would make the
        // future of every call large, hits included.
        Box::pin(self.provide_cold(params, now)).await
    }

    /// The token of `entry`, if it may be handed out at `now`; starts the one
    /// refresh ahead when it is due (unless a signing runs or the last
    /// refresh failed lately; without a Tokio runtime the token is signed
    /// anew when it runs out).
    fn hit<P: Params>(
        self: &Arc<Self>,
        params: &P,
        entry: &Entry,
        now: SystemTime,
    ) -> Option<ProvidedToken> {
        let minted = entry.current.as_ref().filter(|m| m.usable(now))?;
        entry.touch(now);
        if minted.refresh_due(now)
            && entry.retry_after.is_none_or(|after| now >= after)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
            && let Some(turn) = entry.flight.try_turn()
        {
            let (inner, params) = (Arc::clone(self), params.clone());
            runtime.spawn(async move { inner.refresh(&params, turn).await });
        }
        bump(&self.counters.hits);
        Some(minted.clone().handed_out(true))
    }

    /// No token to hand out from the cache: sign one, once for all callers
    /// waiting (with lifetime zero, one per call, cached nowhere).
    async fn provide_cold<P: Params>(
        self: &Arc<Self>,
        params: &P,
        now: SystemTime,
    ) -> Result<ProvidedToken, ProviderError> {
        if !self.policy.reuses() {
            let token = self.sign(params, "unreused").await?.token;
            let signed_at = token.signed_at();
            return Ok(ProvidedToken::new(token, signed_at, false));
        }
        let table = P::table(self);
        let (flight, evicted) = table.flight(params, now);
        self.counters.evicted(evicted);
        let turn = flight.turn().await;
        let now = self.clock.now();
        let current = table.with(params, |e| e.current.clone()).flatten();
        if let Some(minted) = current.filter(|m| m.usable(now)) {
            // Signed while we waited (coalesced), or just before we looked.
            let from_cache = turn.shared().is_none();
            let counters = &self.counters;
            bump(if from_cache {
                &counters.hits
            } else {
                &counters.coalesced
            });
            return Ok(minted.handed_out(from_cache));
        }
        if let Some(Err(err)) = turn.shared() {
            return Err(err.clone()); // the signing we waited for failed
        }
        let outcome = self.sign(params, "cold").await;
        if let Ok(minted) = &outcome {
            table.with_mut(params, |e| {
                (e.retry_after, e.warned) = (None, false);
                // A token too short-lived to reuse (a DSQL expiry under the
                // margin) is handed out once and not cached.
                if minted.usable(self.clock.now()) {
                    e.current = Some(minted.clone());
                }
            });
        }
        turn.finish(outcome.as_ref().map(drop).map_err(Clone::clone));
        outcome.map(|minted| minted.handed_out(false))
    }

    /// Refresh the token of `params` in `turn`: sign a new one and install it
    /// if it lives longer than the current one; on failure keep the current
    /// one, back off, and log once.
    async fn refresh<P: Params>(&self, params: &P, turn: Turn<Result<(), ProviderError>>) {
        let table = P::table(self);
        let (kind, endpoint, user, region) = params.parts();
        let span = tracing::debug_span!("refresh", kind, endpoint, user, region);
        async {
            // Invalidated, or replaced by a cold signing, since it was found due.
            let old = table.with(params, |e| e.current.clone()).flatten();
            let Some(old) = old.filter(|m| m.refresh_due(self.clock.now())) else {
                return;
            };
            let outcome = self.sign(params, "refresh").await.and_then(|new| {
                if new.window.reuse_until > old.window.reuse_until {
                    return Ok(new);
                }
                // Signed with the same credentials, about to expire: no gain.
                bump(&self.counters.failures);
                let expiry = new.token.credentials_expiry();
                Err(expiring(params, expiry.unwrap_or(new.token.valid_until())))
            });
            let now = self.clock.now();
            let warned = table.with_mut(params, |e| match &outcome {
                Ok(new) => {
                    if e.current.as_ref().is_some_and(|c| Arc::ptr_eq(&c.token, &old.token)) {
                        e.current = Some(new.clone());
                    }
                    (e.retry_after, e.warned) = (None, false);
                    false
                }
                Err(_) => {
                    e.retry_after = Some(now + REFRESH_RETRY_INTERVAL);
                    std::mem::replace(&mut e.warned, true)
                }
            });
            let err = match outcome {
                Ok(new) => {
                    let reuse_until = Rfc3339(new.window.reuse_until);
                    tracing::debug!(%reuse_until, "refreshed the IAM token ahead of its end");
                    bump(&self.counters.refreshes);
                    return turn.finish(Ok(()));
                }
                Err(err) => err,
            };
            let error = ErrorChain(&err);
            if !old.usable(now) {
                // Nothing left to hand out: the next caller gets the error.
            } else if warned == Some(true) {
                tracing::debug!(%error, "refreshing the IAM token failed again");
            } else {
                let reuse_until = Rfc3339(old.window.reuse_until);
                tracing::warn!(%reuse_until, %error, "refreshing the IAM token failed; handing out the cached one until it runs out");
            }
            turn.finish(Err(err));
        }
        .instrument(span)
        .await;
    }

    /// Load credentials and sign, counting and tracing (never the token); a
    /// token whose credentials expire within the margin is an error.
    async fn sign<P: Params>(&self, params: &P, reason: &str) -> Result<Minted, ProviderError> {
        let (kind, endpoint, user, region) = params.parts();
        let span = tracing::debug_span!("mint", kind, endpoint, user, region, reason);
        let fail = |err| {
            bump(&self.counters.failures);
            tracing::debug!(error = %ErrorChain(&err), "signing an IAM token failed");
            err
        };
        async {
            let credentials = self.credentials.credentials().await.map_err(|source| {
                let (_, endpoint, who, _) = params.parts();
                fail(ProviderError::Credentials {
                    endpoint,
                    who: who.into(),
                    source,
                })
            })?;
            let now = self.clock.now();
            let token = params.sign(&credentials, now).map_err(|source| {
                let (_, endpoint, who, _) = params.parts();
                fail(match source {
                    // Expired credentials are the provider's "expiring" case, past its margin.
                    TokenError::CredentialsExpired { expiry, .. } => expiring(params, expiry),
                    source => ProviderError::Signing {
                        endpoint,
                        who: who.into(),
                        source,
                    },
                })
            })?;
            bump(&self.counters.minted);
            tracing::debug!(
                access_key_id = credentials.access_key_id(),
                signed_at = %Rfc3339(token.signed_at()),
                valid_until = %Rfc3339(token.valid_until()),
                "signed an IAM token"
            );
            if let Some(expiry) = token.credentials_expiry()
                && expiry
                    .checked_sub(self.policy.margin)
                    .is_none_or(|last| last <= now)
            {
                return Err(fail(expiring(params, expiry)));
            }
            let window = self.policy.window(&token);
            Ok(Minted {
                token: Arc::new(token),
                window,
            })
        }
        .instrument(span)
        .await
    }

    pub(super) fn invalidate<P: Params>(&self, params: &P, token: &AuthToken) -> bool {
        let dropped = P::table(self).with_mut(params, |e| {
            let cached = e.current.as_ref().map(|m| &*m.token);
            let dropped = cached.is_some_and(|c| std::ptr::eq(c, token) || c == token);
            if dropped {
                e.current = None;
            }
            dropped
        });
        if dropped == Some(true) {
            bump(&self.counters.invalidations);
            let (_, endpoint, user, _) = params.parts();
            tracing::debug!(endpoint, user, "dropped an invalidated IAM token");
        }
        dropped == Some(true)
    }

    pub(super) async fn maintain(&self) {
        let now = self.clock.now();
        self.maintain_table::<RdsTokenParams>(now).await;
        self.maintain_table::<DsqlTokenParams>(now).await;
    }

    /// Drop the idle entries of a table, then refresh, one after the other,
    /// its due tokens of keys in use (a key nobody asked for since its token
    /// was signed is left to idle out).
    async fn maintain_table<P: Params>(&self, now: SystemTime) {
        let table = P::table(self);
        let evicted = table.evict_idle(now);
        self.counters.evicted(evicted);
        if evicted > 0 {
            tracing::debug!(evicted, "dropped idle IAM token cache entries");
        }
        for params in table.due(now) {
            if let Some(Some(turn)) = table.with(&params, |e| e.flight.try_turn()) {
                self.refresh(&params, turn).await;
            }
        }
    }
}

/// The only credentials left expire within the margin.
fn expiring(params: &impl Params, credentials_expiry: SystemTime) -> ProviderError {
    let (_, endpoint, who, _) = params.parts();
    let who = who.to_owned();
    ProviderError::CredentialsExpiring {
        endpoint,
        who,
        credentials_expiry,
    }
}

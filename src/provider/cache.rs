//! How the cache works: per token kind, a map behind a read-write lock from
//! the caller's parameters (hashed as given: a lookup builds no key) to the
//! key's current token and its one signing in flight.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;

use super::{DEFAULT_REFRESH_FRACTION, REFRESH_RETRY_INTERVAL, RefreshAhead};
use super::{Inner, ProvidedToken, ProviderError, add};
use crate::credentials::ErrorChain;
use crate::single_flight::{SingleFlight, Turn};
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams, Rfc3339, TokenError};
use crate::token::{sign_dsql_token, sign_rds_token};

/// What a token is signed for, and the key it is cached under.
pub(super) trait Params: Hash + Eq + Clone + Send + Sync + 'static {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError>;
    fn table(inner: &Inner) -> &Table<Self>;
    /// For logs and errors (not secret): `host:port` (RDS) or `host` (DSQL).
    fn endpoint(&self) -> String;
    /// The user (RDS) or the action (DSQL).
    fn who(&self) -> &str;
}

impl Params for RdsTokenParams {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError> {
        sign_rds_token(self, credentials, now)
    }
    fn table(inner: &Inner) -> &Table<Self> {
        &inner.rds
    }
    fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
    fn who(&self) -> &str {
        &self.user
    }
}

impl Params for DsqlTokenParams {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError> {
        sign_dsql_token(self, credentials, now)
    }
    fn table(inner: &Inner) -> &Table<Self> {
        &inner.dsql
    }
    fn endpoint(&self) -> String {
        self.host.clone()
    }
    fn who(&self) -> &str {
        self.action.as_str()
    }
}

/// The keys of one kind and their entries.
pub(super) type Table<P> = RwLock<Map<P>>;

/// A fast hasher (std's SipHash would be a third of a cache hit), seeded
/// per process.
type Map<P> = HashMap<P, Entry, foldhash::fast::RandomState>;

pub(super) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// What callers who waited for a signing learn: its error, or to look again.
type Outcome = Result<(), ProviderError>;

type Provided = Result<ProvidedToken, ProviderError>;

/// One key.
#[derive(Default)]
pub(super) struct Entry {
    /// The token handed out (`None`: not signed yet, or invalidated).
    current: Option<ProvidedToken>,
    /// One signing at a time for the key (a cold key's or a refresh).
    flight: SingleFlight<Outcome>,
    /// No refresh before this instant (set while refreshes fail).
    retry_after: Option<SystemTime>,
    /// Unix seconds of the last use (stored by hits, under the read lock).
    last_used: AtomicU64,
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Entry {
    /// Record a use (the shared store happens at most once a second).
    fn touch(&self, now: SystemTime) {
        let secs = unix_secs(now);
        if self.last_used() != secs {
            self.last_used.store(secs, Ordering::Relaxed);
        }
    }

    fn last_used(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// The current token, if it may be handed out at `now`.
    fn usable(&self, now: SystemTime) -> Option<&ProvidedToken> {
        self.current.as_ref().filter(|t| now < t.reuse_until)
    }

    /// The current token, if it is past its refresh point at `now` and no
    /// refresh failed lately.
    fn due(&self, now: SystemTime) -> Option<&ProvidedToken> {
        let retry = self.retry_after.is_none_or(|after| now >= after);
        let due = |t: &&ProvidedToken| retry && t.refresh_at.is_some_and(|at| now >= at);
        self.current.as_ref().filter(due)
    }
}

impl Inner {
    /// `f` of the entry for `params`, under the read lock.
    fn with<P: Params, R>(&self, params: &P, f: impl FnOnce(&Entry) -> Option<R>) -> Option<R> {
        read(P::table(self)).get(params).and_then(f)
    }

    pub(super) async fn provide<P: Params>(self: &Arc<Self>, params: &P) -> Provided {
        let now = self.clock.now();
        let hit = self.with(params, |entry| {
            let token = entry.usable(now)?;
            entry.touch(now);
            // The one refresh ahead, unless a signing runs (without a Tokio
            // runtime the token is signed anew when it runs out).
            if entry.due(now).is_some()
                && let Ok(runtime) = tokio::runtime::Handle::try_current()
                && let Some(turn) = entry.flight.try_turn()
            {
                let (inner, params) = (Arc::clone(self), params.clone());
                runtime.spawn(async move { inner.refresh(&params, turn).await });
            }
            Some(token.handed_out(true))
        });
        if let Some(hit) = hit {
            add(&self.counters.hits, 1);
            return Ok(hit);
        }
        // Boxed: the state of signing (credentials, tracing) would make the
        // future of every call large, hits included.
        Box::pin(self.provide_cold(params)).await
    }

    /// No token to hand out from the cache: sign one, once for all callers
    /// waiting (with lifetime zero, one per call, cached nowhere). A new key
    /// in a full table makes room first.
    async fn provide_cold<P: Params>(&self, params: &P) -> Provided {
        if self.lifetime.is_zero() {
            return self.sign(params, "unreused").await;
        }
        let flight = {
            let (mut map, now) = (write(P::table(self)), self.clock.now());
            if !map.contains_key(params) && map.len() >= self.capacity {
                self.evict(&mut map, now, self.capacity - 1);
            }
            let entry = map.entry(params.clone()).or_default();
            entry.touch(now);
            entry.flight.clone()
        };
        let turn = flight.turn().await;
        let now = self.clock.now();
        if let Some(token) = self.with(params, |e| e.usable(now).cloned()) {
            // Signed while we waited (coalesced), or just before we looked.
            let (from_cache, c) = (turn.shared().is_none(), &self.counters);
            add(if from_cache { &c.hits } else { &c.coalesced }, 1);
            return Ok(token.handed_out(from_cache));
        }
        if let Some(Err(err)) = turn.shared() {
            return Err(err.clone()); // the signing we waited for failed
        }
        self.renew(params, turn, None).await
    }

    /// Refresh the token of `params` ahead in `turn`, if it is still due (not
    /// invalidated or replaced since it was found due).
    #[tracing::instrument(level = "debug", skip_all,
        fields(endpoint = params.endpoint(), who = params.who()))]
    async fn refresh<P: Params>(&self, params: &P, turn: Turn<Outcome>) {
        let now = self.clock.now();
        if let Some(old) = self.with(params, |e| e.due(now).cloned()) {
            let _ = self.renew(params, turn, Some(old)).await;
        }
    }

    /// Sign for `params` in `turn` and cache the token. A refresh of `old`
    /// keeps `old` unless the new token lives longer; it backs off when it
    /// fails, and warns once per run of failures.
    async fn renew<P: Params>(
        &self,
        params: &P,
        turn: Turn<Outcome>,
        old: Option<ProvidedToken>,
    ) -> Provided {
        let reason = if old.is_some() { "refresh" } else { "cold" };
        let outcome = self.sign(params, reason).await.and_then(|new| match &old {
            // Signed with the same credentials, about to expire: no gain.
            Some(old) if new.reuse_until <= old.reuse_until => {
                add(&self.counters.failures, 1);
                let expiry = new.credentials_expiry();
                Err(expiring(params, expiry.unwrap_or(new.valid_until())))
            }
            _ => Ok(new),
        });
        let now = self.clock.now();
        let failing = write(P::table(self)).get_mut(params).is_some_and(|e| {
            // In our turn, only an invalidation changes the cached token: a
            // refresh leaves it dropped. A token too short-lived to reuse (a
            // DSQL expiry under the margin) is handed out once, not cached.
            if let Ok(new) = &outcome
                && now < new.reuse_until
                && (old.is_none() || e.current.is_some())
            {
                e.current = Some(new.clone());
            }
            let retry_after = outcome.is_err().then(|| now + REFRESH_RETRY_INTERVAL);
            std::mem::replace(&mut e.retry_after, retry_after).is_some()
        });
        match (&outcome, old) {
            (_, None) => {}
            (Ok(new), Some(_)) => {
                add(&self.counters.refreshes, 1);
                let reuse_until = Rfc3339(new.reuse_until);
                tracing::debug!(%reuse_until, "refreshed the IAM token ahead of its end");
            }
            // Once per run of failures, while there is a token to hand out.
            (Err(err), Some(old)) if !failing && now < old.reuse_until => {
                let (error, reuse_until) = (ErrorChain(err), Rfc3339(old.reuse_until));
                tracing::warn!(%reuse_until, %error, "refreshing the IAM token failed; handing out the cached one until it runs out");
            }
            (Err(err), Some(_)) => {
                let error = ErrorChain(err);
                tracing::debug!(%error, "refreshing the IAM token failed again");
            }
        }
        turn.finish(outcome.as_ref().map(drop).map_err(Clone::clone));
        outcome
    }

    /// Load credentials and sign, counting and tracing (never the token); a
    /// token whose credentials expire within the margin is an error.
    #[tracing::instrument(name = "mint", level = "debug", skip(self, params),
        fields(endpoint = params.endpoint(), who = params.who()))]
    async fn sign<P: Params>(&self, params: &P, reason: &str) -> Provided {
        let fail = |err| {
            add(&self.counters.failures, 1);
            tracing::debug!(error = %ErrorChain(&err), "signing an IAM token failed");
            err
        };
        let credentials = self.credentials.credentials().await.map_err(|source| {
            let (endpoint, who) = (params.endpoint(), params.who().into());
            fail(ProviderError::Credentials {
                endpoint,
                who,
                source,
            })
        })?;
        let now = self.clock.now();
        let token = params.sign(&credentials, now).map_err(|source| {
            let (endpoint, who) = (params.endpoint(), params.who().into());
            fail(match source {
                // Expired credentials are the provider's "expiring" case, past its margin.
                TokenError::CredentialsExpired { expiry, .. } => expiring(params, expiry),
                source => ProviderError::Signing {
                    endpoint,
                    who,
                    source,
                },
            })
        })?;
        add(&self.counters.minted, 1);
        tracing::debug!(
            access_key_id = credentials.access_key_id(),
            signed_at = %Rfc3339(token.signed_at()),
            valid_until = %Rfc3339(token.valid_until()),
            "signed an IAM token"
        );
        if let Some(expiry) = token.credentials_expiry()
            && expiry.checked_sub(self.margin).is_none_or(|t| t <= now)
        {
            return Err(fail(expiring(params, expiry)));
        }
        Ok(self.hand_out(token))
    }

    /// `token` as the cache hands it out, in the window the module docs give.
    /// A lifetime shorter than twice the margin (say `iamExpiration=20`) is
    /// far from the token's real expiry, so against the lifetime the margin
    /// shrinks to half of it; against `valid_until` it always applies.
    fn hand_out(&self, token: AuthToken) -> ProvidedToken {
        let signed = token.signed_at();
        let lifetime_margin = self.margin.min(self.lifetime / 2);
        let by_lifetime = signed + (self.lifetime - lifetime_margin);
        let by_validity = token.valid_until().checked_sub(self.margin);
        let by_validity = by_validity.unwrap_or(signed).max(signed);
        let reuse_until = by_lifetime.min(by_validity);
        let span = reuse_until.duration_since(signed).unwrap_or_default();
        let refresh_at = match self.refresh_ahead {
            RefreshAhead::Disabled => None,
            RefreshAhead::AtFraction(f) if f.is_nan() => {
                Some(signed + span.mul_f64(DEFAULT_REFRESH_FRACTION))
            }
            RefreshAhead::AtFraction(f) => Some(signed + span.mul_f64(f.clamp(0.0, 1.0))),
            RefreshAhead::Before(before) => Some(signed + span.saturating_sub(before)),
        };
        let (token, from_cache) = (Arc::new(token), false);
        ProvidedToken {
            token,
            reuse_until,
            refresh_at,
            from_cache,
        }
    }

    pub(super) fn invalidate<P: Params>(&self, params: &P, token: &AuthToken) -> bool {
        let take = |e: &mut Entry| e.current.take_if(|c| *c.token == *token);
        let dropped = write(P::table(self)).get_mut(params).and_then(take);
        if dropped.is_none() {
            return false;
        }
        add(&self.counters.invalidations, 1);
        let (endpoint, who) = (params.endpoint(), params.who());
        tracing::debug!(endpoint, who, "dropped an invalidated IAM token");
        true
    }

    /// [`TokenProvider::maintain`](super::TokenProvider::maintain) for one table.
    pub(super) async fn maintain<P: Params>(&self, table: &Table<P>, now: SystemTime) {
        self.evict(&mut write(table), now, usize::MAX);
        let in_use = |e: &Entry, t: &ProvidedToken| e.last_used() >= unix_secs(t.signed_at());
        let due: Vec<_> = (read(table).iter())
            .filter(|(_, e)| e.due(now).is_some_and(|t| in_use(e, t)))
            .filter_map(|(params, e)| Some((params.clone(), e.flight.try_turn()?)))
            .collect();
        for (params, turn) in due {
            self.refresh(&params, turn).await;
        }
    }

    /// Drop the entries unused for `max_idle` or longer, then the least
    /// recently used until `keep` are left (never one signing).
    fn evict<P: Params>(&self, map: &mut Map<P>, now: SystemTime, keep: usize) {
        let (before, now) = (map.len(), unix_secs(now));
        let max_idle = self.max_idle.as_secs();
        map.retain(|_, e| now.saturating_sub(e.last_used()) < max_idle || e.flight.busy());
        while map.len() > keep {
            let idle = map.iter().filter(|(_, e)| !e.flight.busy());
            let Some((lru, _)) = idle.min_by_key(|(_, e)| e.last_used()) else {
                break;
            };
            map.remove(&lru.clone());
        }
        let evicted = before - map.len();
        if evicted > 0 {
            add(&self.counters.evictions, evicted);
            tracing::debug!(evicted, "dropped IAM token cache entries");
        }
    }
}

/// The only credentials left expire within the margin.
fn expiring(params: &impl Params, credentials_expiry: SystemTime) -> ProviderError {
    let (endpoint, who) = (params.endpoint(), params.who().into());
    ProviderError::CredentialsExpiring {
        endpoint,
        who,
        credentials_expiry,
    }
}

//! The cache: a table per token kind, each a map behind a read-write lock from
//! the caller's parameters (hashed as given: a lookup builds no key) to an
//! entry with the key's current token and its one signing in flight.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;

use super::Inner;
use super::error::ProviderError;
use super::lifetime::Window;
use super::provided::ProvidedToken;
use crate::single_flight::SingleFlight;
use crate::token::{AuthToken, DsqlTokenParams, RdsTokenParams, TokenError};
use crate::token::{sign_dsql_token, sign_rds_token};

/// What a token is signed for, and the key it is cached under.
pub(super) trait Params: Hash + Eq + Clone + Send + Sync + 'static {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError>;
    /// For logs and errors (nothing secret): the kind, `host:port` (RDS) or
    /// `host` (DSQL), the user (RDS) or the action (DSQL), the region.
    fn parts(&self) -> (&'static str, String, &str, &str);
    fn table(inner: &Inner) -> &Table<Self>;
}

impl Params for RdsTokenParams {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError> {
        sign_rds_token(self, credentials, now)
    }
    fn parts(&self) -> (&'static str, String, &str, &str) {
        (
            "rds",
            format!("{}:{}", self.host, self.port),
            &self.user,
            &self.region,
        )
    }
    fn table(inner: &Inner) -> &Table<Self> {
        &inner.rds
    }
}

impl Params for DsqlTokenParams {
    fn sign(&self, credentials: &Credentials, now: SystemTime) -> Result<AuthToken, TokenError> {
        sign_dsql_token(self, credentials, now)
    }
    fn parts(&self) -> (&'static str, String, &str, &str) {
        (
            "dsql",
            self.host.clone(),
            self.action.as_str(),
            &self.region,
        )
    }
    fn table(inner: &Inner) -> &Table<Self> {
        &inner.dsql
    }
}

/// One signing at a time for a key (a cold key's or a refresh); who waited
/// for a failed one gets its error.
pub(super) type Flight = SingleFlight<Result<(), ProviderError>>;

/// A signed token and when it is handed out until / refreshed at.
#[derive(Clone)]
pub(super) struct Minted {
    pub(super) token: Arc<AuthToken>,
    pub(super) window: Window,
}

impl Minted {
    pub(super) fn usable(&self, now: SystemTime) -> bool {
        now < self.window.reuse_until
    }

    pub(super) fn refresh_due(&self, now: SystemTime) -> bool {
        self.window.refresh_at.is_some_and(|at| now >= at)
    }

    pub(super) fn handed_out(self, from_cache: bool) -> ProvidedToken {
        ProvidedToken::new(self.token, self.window.reuse_until, from_cache)
    }
}

/// One key.
pub(super) struct Entry {
    /// The token handed out (`None`: not signed yet, or invalidated).
    pub(super) current: Option<Minted>,
    pub(super) flight: Flight,
    /// No refresh before this instant (set when one fails).
    pub(super) retry_after: Option<SystemTime>,
    /// Whether the current run of refresh failures has been logged.
    pub(super) warned: bool,
    /// Unix seconds of the last use (stored by hits, under the read lock).
    last_used: AtomicU64,
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Entry {
    /// Record a use (the shared store happens at most once a second).
    pub(super) fn touch(&self, now: SystemTime) {
        let secs = unix_secs(now);
        if self.last_used.load(Ordering::Relaxed) != secs {
            self.last_used.store(secs, Ordering::Relaxed);
        }
    }
}

/// A fast hasher (std's SipHash would be a third of a cache hit), seeded
/// per process.
type Map<P> = HashMap<P, Entry, foldhash::fast::RandomState>;

/// The keys of one kind and their entries, bounded in number and idle time.
pub(super) struct Table<P> {
    map: RwLock<Map<P>>,
    capacity: usize,
    max_idle: Duration,
}

impl<P: Params> Table<P> {
    pub(super) fn new(capacity: usize, max_idle: Duration) -> Self {
        let (map, capacity) = (RwLock::default(), capacity.max(1));
        Self {
            map,
            capacity,
            max_idle,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Map<P>> {
        self.map.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Map<P>> {
        self.map.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `f` on the entry for `params`, under the read lock.
    pub(super) fn with<R>(&self, params: &P, f: impl FnOnce(&Entry) -> R) -> Option<R> {
        self.read().get(params).map(f)
    }

    /// Run `f` on the entry for `params`, under the write lock.
    pub(super) fn with_mut<R>(&self, params: &P, f: impl FnOnce(&mut Entry) -> R) -> Option<R> {
        self.write().get_mut(params).map(f)
    }

    pub(super) fn len(&self) -> usize {
        self.read().len()
    }

    /// The single flight of the entry for `params`, used at `now`; the entry
    /// is made if there is none, after making room in a full table (idle
    /// entries go, then the least recently used). Also returns how many
    /// entries went.
    pub(super) fn flight(&self, params: &P, now: SystemTime) -> (Flight, usize) {
        let mut map = self.write();
        let mut evicted = 0;
        if !map.contains_key(params) && map.len() >= self.capacity {
            evicted += self.evict_idle_from(&mut map, now);
        }
        while !map.contains_key(params) && map.len() >= self.capacity {
            let idle = map.iter().filter(|(_, e)| !e.flight.busy());
            let lru = idle.min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed));
            let Some(lru) = lru.map(|(p, _)| p.clone()) else {
                break;
            };
            evicted += usize::from(map.remove(&lru).is_some());
        }
        let entry = map.entry(params.clone()).or_insert_with(|| Entry {
            current: None,
            flight: SingleFlight::new(),
            retry_after: None,
            warned: false,
            last_used: AtomicU64::new(unix_secs(now)),
        });
        entry.touch(now);
        (entry.flight.clone(), evicted)
    }

    /// Drop the entries unused for `max_idle` or longer (and not signing);
    /// returns how many went.
    pub(super) fn evict_idle(&self, now: SystemTime) -> usize {
        self.evict_idle_from(&mut self.write(), now)
    }

    fn evict_idle_from(&self, map: &mut Map<P>, now: SystemTime) -> usize {
        let before = map.len();
        let (now, max_idle) = (unix_secs(now), self.max_idle.as_secs());
        map.retain(|_, e| {
            let idle_for = now.saturating_sub(e.last_used.load(Ordering::Relaxed));
            idle_for < max_idle || e.flight.busy()
        });
        before - map.len()
    }

    /// The keys whose token is due for a refresh ahead at `now` and was used
    /// since it was signed, unless their last refresh failed lately.
    pub(super) fn due(&self, now: SystemTime) -> Vec<P> {
        let due = |e: &Entry| {
            e.retry_after.is_none_or(|after| now >= after)
                && e.current.as_ref().is_some_and(|m| {
                    let signed = unix_secs(m.token.signed_at());
                    m.refresh_due(now) && e.last_used.load(Ordering::Relaxed) >= signed
                })
        };
        let map = self.read();
        map.iter()
            .filter(|(_, e)| due(e))
            .map(|(p, _)| p.clone())
            .collect()
    }
}

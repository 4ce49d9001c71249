//! One key's cache entry: its parameters, its signing flight and its refresh
//! state (its current token lives in the cache's slot, next to it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::ProviderError;
use super::key::Target;
use super::lifetime::Window;
use crate::token::AuthToken;

/// A signed token and when it is handed out until / refreshed at.
#[derive(Debug)]
pub(crate) struct Minted {
    pub(crate) token: Arc<AuthToken>,
    pub(crate) window: Window,
}

impl Minted {
    pub(crate) fn usable(&self, now: SystemTime) -> bool {
        now < self.window.reuse_until
    }

    pub(crate) fn refresh_due(&self, now: SystemTime) -> bool {
        self.window.refresh_at.is_some_and(|at| now >= at)
    }
}

/// The outcome of the last signing of a key, shared with the callers that
/// waited for it.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    /// Signings completed (successful or not).
    pub(crate) completed: u64,
    /// The error of the last signing, if it failed.
    pub(crate) last_error: Option<ProviderError>,
}

/// One key's state. Readers touch `last_used` (written at most once a
/// second) and, once a refresh is due, `refreshing` and `retry_after`; the
/// async `flight` lock is taken only to sign.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) hash: u64,
    pub(crate) target: Target,
    pub(crate) flight: tokio::sync::Mutex<Flight>,
    /// `Flight::completed`, readable without the lock (written under it).
    pub(crate) completed: AtomicU64,
    /// One refresh ahead at a time.
    pub(crate) refreshing: AtomicBool,
    /// Whether the current run of refresh failures has been logged.
    pub(crate) warned: AtomicBool,
    /// No refresh attempt before this instant (Unix nanoseconds; 0: none).
    retry_after: AtomicU64,
    /// Unix seconds of the last use.
    last_used: AtomicU64,
}

fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Entry {
    pub(crate) fn new(hash: u64, target: Target, now: SystemTime) -> Self {
        Self {
            hash,
            target,
            flight: tokio::sync::Mutex::new(Flight::default()),
            completed: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            warned: AtomicBool::new(false),
            retry_after: AtomicU64::new(0),
            last_used: AtomicU64::new(unix_secs(now)),
        }
    }

    /// Record a use. The shared store happens at most once a second, so
    /// threads hitting one key do not keep writing one cache line. Returns
    /// the next second: touching before it would change nothing.
    #[inline]
    pub(crate) fn touch(&self, now: SystemTime) -> SystemTime {
        let secs = unix_secs(now);
        if self.last_used.load(Ordering::Relaxed) != secs {
            self.last_used.store(secs, Ordering::Relaxed);
        }
        UNIX_EPOCH + Duration::from_secs(secs.saturating_add(1))
    }

    /// How long the entry has not been used, at `now`.
    pub(crate) fn idle_for(&self, now: SystemTime) -> Duration {
        Duration::from_secs(unix_secs(now).saturating_sub(self.last_used.load(Ordering::Relaxed)))
    }

    /// Whether the entry was used at or after `at` (to the second).
    pub(crate) fn used_since(&self, at: SystemTime) -> bool {
        self.last_used.load(Ordering::Relaxed) >= unix_secs(at)
    }

    pub(crate) fn last_used_secs(&self) -> u64 {
        self.last_used.load(Ordering::Relaxed)
    }

    /// A refresh or a signing is running.
    pub(crate) fn busy(&self) -> bool {
        self.refreshing.load(Ordering::Relaxed) || self.flight.try_lock().is_err()
    }

    pub(crate) fn backing_off(&self, now: SystemTime) -> bool {
        let after = self.retry_after.load(Ordering::Relaxed);
        after != 0 && unix_nanos(now) < after
    }

    pub(crate) fn back_off_until(&self, until: SystemTime) {
        self.retry_after.store(unix_nanos(until), Ordering::Relaxed);
    }

    /// A token was signed: forget past failures.
    pub(crate) fn succeeded(&self) {
        self.retry_after.store(0, Ordering::Relaxed);
        self.warned.store(false, Ordering::Relaxed);
    }

    /// Claim the one refresh of this entry (false: one is running already).
    pub(crate) fn claim_refresh(&self) -> bool {
        !self.refreshing.load(Ordering::Relaxed) && !self.refreshing.swap(true, Ordering::AcqRel)
    }
}

/// Releases a claimed refresh when dropped (also when the refreshing task is
/// cancelled, for instance by a runtime shutting down).
pub(crate) struct RefreshClaim<'a>(pub(crate) &'a Entry);

impl Drop for RefreshClaim<'_> {
    fn drop(&mut self) {
        self.0.refreshing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::RdsTokenParams;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn entry() -> Entry {
        let params = RdsTokenParams::new("db.example.com", 5432, "app", "us-east-1");
        Entry::new(1, Target::Rds(params), at(100))
    }

    #[test]
    fn idle_time_follows_touches() {
        let e = entry();
        assert_eq!(e.idle_for(at(160)), Duration::from_secs(60));
        assert_eq!(e.touch(at(150)), at(151));
        assert_eq!(e.idle_for(at(160)), Duration::from_secs(10));
        assert_eq!(e.touch(at(150) + Duration::from_millis(999)), at(151));
        assert_eq!(e.idle_for(at(160)), Duration::from_secs(10));
        assert_eq!(e.idle_for(at(10)), Duration::ZERO);
    }

    #[test]
    fn one_refresh_claim_at_a_time() {
        let e = entry();
        assert!(e.claim_refresh());
        assert!(!e.claim_refresh());
        assert!(e.busy());
        drop(RefreshClaim(&e));
        assert!(!e.busy());
        assert!(e.claim_refresh());
    }

    #[test]
    fn back_off_ends_and_success_clears_it() {
        let e = entry();
        assert!(!e.backing_off(at(0)));
        e.back_off_until(at(110));
        assert!(e.backing_off(at(109)));
        assert!(!e.backing_off(at(110)));
        e.back_off_until(at(200));
        e.succeeded();
        assert!(!e.backing_off(at(150)));
    }
}

//! Time as an input.
//!
//! Signing and caching never read the wall clock themselves: they ask a [`Clock`].
//! Production code uses [`SystemClock`]; tests (ours and yours) drive a
//! [`ManualClock`] through hours of token lifetimes without sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> SystemTime;
}

/// The real wall clock: [`SystemTime::now`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to. Cheap to clone; clones share one time.
///
/// ```
/// use rds_iam::clock::{Clock, ManualClock};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let other = clock.clone();
/// clock.advance(Duration::from_secs(900));
/// assert_eq!(other.now(), UNIX_EPOCH + Duration::from_secs(1_700_000_900));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// Nanoseconds since the Unix epoch.
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock stopped at `at` (which must not be before the Unix epoch; earlier
    /// instants are clamped to it).
    pub fn new(at: SystemTime) -> Self {
        Self {
            nanos: Arc::new(AtomicU64::new(to_nanos(at))),
        }
    }

    /// Set the clock to `at`.
    pub fn set(&self, at: SystemTime) {
        self.nanos.store(to_nanos(at), Ordering::SeqCst);
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

fn to_nanos(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = UNIX_EPOCH + Duration::from_secs(10);
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now(), start + Duration::from_millis(1500));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn pre_epoch_is_clamped() {
        let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(clock.now(), UNIX_EPOCH);
    }
}

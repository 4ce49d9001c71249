//! Time as an input.
//!
//! Signing and caching never read the wall clock themselves: they ask a [`Clock`].
//! Production code uses [`SystemClock`]; tests (ours and yours) drive a
//! [`ManualClock`] through hours of token lifetimes without sleeping.
//!
//! A clock has two readings: [`Clock::now`], exact, for what is signed and
//! logged, and [`Clock::recent`], which may be the kernel's last tick, for
//! the token cache's checks of lifetimes that keep seconds of margin (reading
//! the exact time costs more than the rest of a cache hit together).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> SystemTime;

    /// The current instant, read cheaply: it may be off by a few
    /// milliseconds (a clock tick), and should rather be ahead of the exact
    /// time than behind it. The token cache compares it with token
    /// lifetimes, which keep a margin of seconds, on every cache hit.
    ///
    /// The default is [`now`](Self::now), exact (what a test clock wants).
    fn recent(&self) -> SystemTime {
        self.now()
    }
}

/// The real wall clock: [`SystemTime::now`], and for
/// [`recent`](Clock::recent) on Linux the kernel's coarse clock.
///
/// `CLOCK_REALTIME_COARSE` is the wall-clock time of the last timer tick,
/// read from the vDSO without touching the hardware clock (a few
/// nanoseconds, against some tens for the exact time in a VM). `recent`
/// adds one tick (the clock's resolution, 1-10 ms) to it, so that it is not
/// earlier than the exact time while the kernel's ticks keep up: a cached
/// token then stops being handed out up to a tick early rather than late.
/// Elsewhere `recent` is [`SystemTime::now`].
///
/// ```
/// use rds_iam::clock::{Clock, SystemClock};
/// use std::time::{Duration, SystemTime};
///
/// let before = SystemTime::now();
/// let recent = SystemClock.recent();
/// let after = SystemTime::now();
/// assert!(recent + Duration::from_millis(100) >= before);
/// assert!(recent <= after + Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    #[inline]
    fn recent(&self) -> SystemTime {
        coarse::recent()
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod coarse {
    use std::sync::OnceLock;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use rustix::time::{ClockId, Timespec, clock_getres, clock_gettime};

    /// A coarse clock's resolution above this is not a tick: use the exact time.
    const MAX_TICK: Duration = Duration::from_millis(20);

    /// The tick of `CLOCK_REALTIME_COARSE`, or `None` to read the exact time.
    fn tick() -> Option<Duration> {
        static TICK: OnceLock<Option<Duration>> = OnceLock::new();
        *TICK.get_or_init(|| {
            let res = duration(clock_getres(ClockId::RealtimeCoarse))?;
            (!res.is_zero() && res <= MAX_TICK).then_some(res)
        })
    }

    fn duration(ts: Timespec) -> Option<Duration> {
        let secs = u64::try_from(ts.tv_sec).ok()?;
        let nanos = u32::try_from(ts.tv_nsec).ok()?;
        (nanos < 1_000_000_000).then(|| Duration::new(secs, nanos))
    }

    #[inline]
    pub(super) fn recent() -> SystemTime {
        match (tick(), duration(clock_gettime(ClockId::RealtimeCoarse))) {
            (Some(tick), Some(since_epoch)) => UNIX_EPOCH + (since_epoch + tick),
            _ => SystemTime::now(),
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod coarse {
    use std::time::SystemTime;

    #[inline]
    pub(super) fn recent() -> SystemTime {
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
    fn manual_recent_is_exact() {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(10));
        assert_eq!(clock.recent(), clock.now());
        clock.advance(Duration::from_nanos(1));
        assert_eq!(clock.recent(), clock.now());
    }

    /// The coarse reading is within a few ticks of the exact one, on either
    /// side (a tick late when the kernel's tick is late, as in a VM whose
    /// timekeeping vCPU was descheduled; a tick early by design).
    #[test]
    fn system_recent_is_close_to_now() {
        let mut early = Duration::ZERO;
        for _ in 0..10_000 {
            let before = SystemTime::now();
            let recent = SystemClock.recent();
            let after = SystemTime::now();
            assert!(
                recent + Duration::from_millis(50) >= before,
                "recent() lags: {before:?} vs {recent:?}"
            );
            assert!(
                recent <= after + Duration::from_millis(50),
                "recent() runs ahead: {after:?} vs {recent:?}"
            );
            early = early.max(recent.duration_since(after).unwrap_or_default());
        }
        // It is ahead of the exact time by at most about a tick.
        assert!(early <= Duration::from_millis(21), "{early:?}");
    }

    #[test]
    fn pre_epoch_is_clamped() {
        let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(5));
        assert_eq!(clock.now(), UNIX_EPOCH);
    }
}

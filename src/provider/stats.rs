//! Counters a user can read: [`ProviderStats`].
//!
//! The cache-hit counter is bumped on every hit, from every thread: one shared
//! atomic would bounce its cache line between cores and serialize the read
//! path, so hits are counted in per-thread stripes (cache-line padded, each
//! written by one thread without a locked instruction) and summed when read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// A snapshot of a [`TokenProvider`](super::TokenProvider)'s counters.
///
/// ```
/// use rds_iam::provider::ProviderStats;
///
/// let stats = ProviderStats::default();
/// assert_eq!(stats.minted + stats.hits, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderStats {
    /// Tokens signed (for callers, by refreshes ahead, and with a zero lifetime).
    pub minted: u64,
    /// Calls answered with a token that was already cached
    /// ([`ProvidedToken::from_cache`](super::ProvidedToken::from_cache) true).
    pub hits: u64,
    /// Calls that waited for another caller's signing of the same key and got
    /// its fresh token (single flight: 1,000 callers on a cold key make 1 mint
    /// and up to 999 of these).
    pub coalesced: u64,
    /// Refreshes ahead that replaced a cached token with a newer one (part of
    /// `minted`).
    pub refreshes: u64,
    /// Failed attempts to sign: credentials could not be loaded, the
    /// parameters could not be signed for, or a refresh could not extend a
    /// token's life (its credentials expire and no newer ones came).
    pub failures: u64,
    /// Cached tokens dropped by [`TokenProvider::invalidate`](super::TokenProvider::invalidate).
    pub invalidations: u64,
    /// Cache entries dropped for being idle or to keep within the capacity.
    pub evictions: u64,
    /// Keys in the cache now.
    pub entries: usize,
}

/// Hit counter stripes. A thread that counts a hit leases a stripe for its
/// life and bumps it with a plain load and store (no locked instruction:
/// only the lessee writes it); when the thread exits the stripe goes back to
/// a free list for the next thread, so that threads that come and go (a
/// blocking pool, a test harness) do not run out of stripes. Beyond
/// `STRIPES - 1` live threads, the others share the last stripe through
/// `fetch_add`.
const STRIPES: usize = 64;
const SHARED_STRIPE: usize = STRIPES - 1;

#[repr(align(128))]
#[derive(Default)]
struct Stripe(AtomicU64);

/// The live counters.
pub(crate) struct Counters {
    hits: Box<[Stripe]>,
    pub(crate) minted: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Self {
            hits: (0..STRIPES).map(|_| Stripe::default()).collect(),
            minted: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }
}

/// Stripes never leased yet start here.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);
/// Stripes whose threads have exited.
static FREE_STRIPES: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// A thread's stripe, returned to [`FREE_STRIPES`] when the thread exits.
struct Lease(usize);

impl Lease {
    fn take() -> Self {
        let free = FREE_STRIPES
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        Self(free.unwrap_or_else(|| {
            NEXT_STRIPE
                .fetch_add(1, Ordering::Relaxed)
                .min(SHARED_STRIPE)
        }))
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.0 != SHARED_STRIPE {
            // The mutex orders this thread's last store to the stripe before
            // the next lessee's first load.
            FREE_STRIPES
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.0);
        }
    }
}

thread_local! {
    static STRIPE: Lease = Lease::take();
}

impl Counters {
    #[inline]
    pub(crate) fn hit(&self) {
        // A thread being torn down counts on the shared stripe.
        let stripe = STRIPE.try_with(|s| s.0).unwrap_or(SHARED_STRIPE);
        let counter = &self.hits[stripe].0;
        if stripe == SHARED_STRIPE {
            counter.fetch_add(1, Ordering::Relaxed);
        } else {
            // This thread is the stripe's only writer.
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, entries: usize) -> ProviderStats {
        ProviderStats {
            minted: self.minted.load(Ordering::Relaxed),
            hits: self.hits.iter().map(|s| s.0.load(Ordering::Relaxed)).sum(),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            invalidations: self.invalidations.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripes are leased process-wide: these tests take turns.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn hits_from_many_threads_add_up() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let counters = Counters::default();
        std::thread::scope(|s| {
            for _ in 0..(STRIPES + 3) {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counters.hit();
                    }
                });
            }
        });
        Counters::bump(&counters.minted);
        let stats = counters.snapshot(7);
        assert_eq!(stats.hits, 1000 * (STRIPES as u64 + 3));
        assert_eq!((stats.minted, stats.entries), (1, 7));
    }

    #[test]
    fn exited_threads_give_their_stripes_back() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let counters = Counters::default();
        // Far more threads than stripes, one after another: each leases a
        // stripe the previous one gave back, none has to share.
        let mut leased = Vec::new();
        for _ in 0..(4 * STRIPES) {
            let stripe = std::thread::spawn(|| STRIPE.with(|s| s.0)).join().unwrap();
            std::thread::scope(|s| {
                s.spawn(|| counters.hit());
            });
            leased.push(stripe);
        }
        assert!(
            leased.iter().all(|&s| s != SHARED_STRIPE),
            "a short-lived thread had to share: {leased:?}"
        );
        assert_eq!(counters.snapshot(0).hits, 4 * STRIPES as u64);
    }
}

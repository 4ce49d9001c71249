//! Counters a user can read: [`ProviderStats`].
//!
//! The cache-hit counter is bumped on every hit, from every thread: one shared
//! atomic would bounce its cache line between cores and serialize the read
//! path, so hits are counted in per-thread stripes (cache-line padded, each
//! written by one thread without a locked instruction) and summed when read.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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

/// Hit counter stripes. The first `STRIPES` threads that count a hit each
/// own a stripe and bump it with a plain load and store (no locked
/// instruction: only the owner writes it); later threads share the last
/// stripe through `fetch_add`.
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

/// Hands out stripes, one per thread, for the life of the process.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed).min(SHARED_STRIPE);
}

impl Counters {
    #[inline]
    pub(crate) fn hit(&self) {
        let stripe = STRIPE.with(|s| *s);
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

    #[test]
    fn hits_from_many_threads_add_up() {
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
}

//! Counters a user can read: [`ProviderStats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of a [`TokenProvider`](super::TokenProvider)'s counters (the
/// [module docs](super) read some).
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

/// The live counters: tallies, so `Relaxed` is enough.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) minted: AtomicU64,
    pub(crate) hits: AtomicU64,
    pub(crate) coalesced: AtomicU64,
    pub(crate) refreshes: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    evictions: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn evicted(&self, entries: usize) {
        self.evictions.fetch_add(entries as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, entries: usize) -> ProviderStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ProviderStats {
            minted: read(&self.minted),
            hits: read(&self.hits),
            coalesced: read(&self.coalesced),
            refreshes: read(&self.refreshes),
            failures: read(&self.failures),
            invalidations: read(&self.invalidations),
            evictions: read(&self.evictions),
            entries,
        }
    }
}

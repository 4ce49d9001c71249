//! The key table: sharded copy-on-write hash tables read without locks.
//!
//! A lookup hashes the borrowed key once, picks a shard, loads the shard's
//! current table through `arc-swap` (no lock, no reference count change:
//! `arc-swap` protects the load with a thread-local slot) and compares the
//! borrowed fields with the slots'. A slot holds the key's entry and its
//! current token. A cache hit usually skips even this: it reads its thread's
//! [replica](super::replica) of the slot, made by such a lookup.
//!
//! Writers (a new key, a new token, an eviction) copy the shard's table under
//! the shard's mutex, publish the copy and bump the shard's generation, which
//! tells threads that their replicas of its slots may be stale. A key is
//! added once, its token changes every few minutes, keys are dropped rarely,
//! and a shard holds a sixteenth of the keys: the copies are cheap next to
//! what a read lock would cost every hit (its shared counter bounces between
//! cores).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use hashbrown::{DefaultHashBuilder, HashTable};

use super::entry::{Entry, Minted};
use super::key::{KeyRef, TargetRef};

/// Shards: writers to different shards do not wait for one another, and a
/// copy-on-write touches 1/16 of the keys.
const SHARDS: usize = 16;

/// A key's entry and its current token.
#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) entry: Arc<Entry>,
    pub(crate) minted: Option<Arc<Minted>>,
}

impl Slot {
    fn is(&self, entry: &Entry) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.entry), entry)
    }
}

type Table = HashTable<Slot>;

struct Shard {
    table: ArcSwap<Table>,
    /// Tables published so far (bumped after each, under `write`).
    generation: AtomicU64,
    write: Mutex<()>,
}

impl Shard {
    /// Publish `table`, under the `write` lock.
    fn publish(&self, table: Table) {
        self.table.store(Arc::new(table));
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// A slot as read at a generation of its shard.
pub(crate) struct Found<'a> {
    pub(crate) slot: &'a Slot,
    pub(crate) shard: usize,
    pub(crate) generation: u64,
}

/// Gives each cache an id of its own (never reused, unlike an address).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// What [`Cache::replace`] expects the current token to be.
#[derive(Clone, Copy)]
pub(crate) enum Expect<'a> {
    Any,
    Current(Option<&'a Arc<Minted>>),
}

pub(crate) struct Cache {
    id: u64,
    hasher: DefaultHashBuilder,
    shards: Box<[Shard]>,
    len: AtomicUsize,
    capacity: usize,
    max_idle: Duration,
}

impl Cache {
    pub(crate) fn new(capacity: usize, max_idle: Duration) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            hasher: DefaultHashBuilder::default(),
            shards: (0..SHARDS)
                .map(|_| Shard {
                    table: ArcSwap::from_pointee(Table::new()),
                    generation: AtomicU64::new(0),
                    write: Mutex::new(()),
                })
                .collect(),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            max_idle,
        }
    }

    #[inline]
    pub(crate) fn hash(&self, key: &KeyRef<'_>) -> u64 {
        key.hash_with(&self.hasher)
    }

    /// This cache's id, unique in the process.
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    #[inline]
    fn shard_index(hash: u64) -> usize {
        // The table uses the low bits (bucket) and the top 7 (tag): pick the
        // shard from the middle so that neither loses entropy.
        (hash >> 32) as usize % SHARDS
    }

    #[inline]
    fn shard(&self, hash: u64) -> &Shard {
        &self.shards[Self::shard_index(hash)]
    }

    /// The generation of shard `shard`: it changes whenever the shard's
    /// table does (a slot read at an older generation may be stale).
    #[inline]
    pub(crate) fn generation(&self, shard: usize) -> u64 {
        self.shards[shard].generation.load(Ordering::Acquire)
    }

    /// Run `f` on the slot for `key`, if there is one, with the generation
    /// of its shard it was read at (the generation is read first: a slot may
    /// be newer than its generation says, never older).
    pub(crate) fn with_found<R>(
        &self,
        hash: u64,
        key: &KeyRef<'_>,
        f: impl FnOnce(Found<'_>) -> R,
    ) -> Option<R> {
        let index = Self::shard_index(hash);
        let shard = &self.shards[index];
        let generation = shard.generation.load(Ordering::Acquire);
        let table = shard.table.load();
        table
            .find(hash, |s| {
                s.entry.hash == hash && s.entry.target.key() == *key
            })
            .map(|slot| {
                f(Found {
                    slot,
                    shard: index,
                    generation,
                })
            })
    }

    /// Run `f` on the slot for `key`, if there is one, without taking a lock.
    #[inline]
    pub(crate) fn with_slot<R>(
        &self,
        hash: u64,
        key: &KeyRef<'_>,
        f: impl FnOnce(&Slot) -> R,
    ) -> Option<R> {
        self.with_found(hash, key, |found| f(found.slot))
    }

    /// The current token of `entry` (`None` too when the entry was evicted).
    pub(crate) fn current(&self, entry: &Entry) -> Option<Arc<Minted>> {
        let table = self.shard(entry.hash).table.load();
        table
            .find(entry.hash, |s| s.is(entry))
            .and_then(|s| s.minted.clone())
    }

    /// Set the token of `entry` to `new` if its current one is `expected`
    /// (compared by pointer; `None` expects no token) or if `expected` is
    /// `Any`. Returns whether it was set (false also when the entry was
    /// evicted meanwhile).
    pub(crate) fn replace(
        &self,
        entry: &Entry,
        expected: Expect<'_>,
        new: Option<Arc<Minted>>,
    ) -> bool {
        let shard = self.shard(entry.hash);
        let _write = shard.write.lock().unwrap_or_else(PoisonError::into_inner);
        let table = shard.table.load_full();
        let Some(slot) = table.find(entry.hash, |s| s.is(entry)) else {
            return false;
        };
        let matches = match expected {
            Expect::Any => true,
            Expect::Current(expected) => match (&slot.minted, expected) {
                (Some(current), Some(expected)) => Arc::ptr_eq(current, expected),
                (None, None) => true,
                _ => false,
            },
        };
        if !matches {
            return false;
        }
        let mut copy = Table::clone(&table);
        if let Some(slot) = copy.find_mut(entry.hash, |s| s.is(entry)) {
            slot.minted = new;
        }
        shard.publish(copy);
        true
    }

    /// The entry for `target`, made if there is none (after making room when
    /// the cache is full).
    pub(crate) fn get_or_insert(
        &self,
        hash: u64,
        target: TargetRef<'_>,
        now: SystemTime,
    ) -> (Arc<Entry>, usize) {
        let key = target.key();
        if let Some(entry) = self.with_slot(hash, &key, |s| Arc::clone(&s.entry)) {
            return (entry, 0);
        }
        let evicted = if self.len() >= self.capacity {
            self.make_room(now)
        } else {
            0
        };
        let shard = self.shard(hash);
        let _write = shard.write.lock().unwrap_or_else(PoisonError::into_inner);
        let table = shard.table.load_full();
        if let Some(slot) = table.find(hash, |s| {
            s.entry.hash == hash && s.entry.target.key() == key
        }) {
            return (Arc::clone(&slot.entry), evicted);
        }
        let entry = Arc::new(Entry::new(hash, target.to_owned(), now));
        let mut copy = Table::clone(&table);
        copy.insert_unique(
            hash,
            Slot {
                entry: Arc::clone(&entry),
                minted: None,
            },
            |s| s.entry.hash,
        );
        shard.publish(copy);
        self.len.fetch_add(1, Ordering::Relaxed);
        (entry, evicted)
    }

    /// Keys in the cache.
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Every slot (a snapshot).
    pub(crate) fn slots(&self) -> Vec<Slot> {
        self.shards
            .iter()
            .flat_map(|s| s.table.load().iter().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Drop the entries of `shard` for which `pred` holds.
    fn remove_where(&self, shard: &Shard, mut pred: impl FnMut(&Entry) -> bool) -> usize {
        let _write = shard.write.lock().unwrap_or_else(PoisonError::into_inner);
        let table = shard.table.load_full();
        let doomed: Vec<&Arc<Entry>> = table.iter().map(|s| &s.entry).filter(|e| pred(e)).collect();
        if doomed.is_empty() {
            return 0;
        }
        let mut copy = Table::clone(&table);
        copy.retain(|s| !doomed.iter().any(|d| Arc::ptr_eq(d, &s.entry)));
        shard.publish(copy);
        self.len.fetch_sub(doomed.len(), Ordering::Relaxed);
        doomed.len()
    }

    /// Drop the entries idle for `max_idle` or longer (except those signing
    /// or refreshing). Returns how many went.
    pub(crate) fn evict_idle(&self, now: SystemTime) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                self.remove_where(shard, |e| e.idle_for(now) >= self.max_idle && !e.busy())
            })
            .sum()
    }

    /// Make room for one more key: drop idle entries, then the least
    /// recently used ones, until the cache is below its capacity.
    fn make_room(&self, now: SystemTime) -> usize {
        let mut evicted = self.evict_idle(now);
        while self.len() >= self.capacity {
            let lru = self
                .slots()
                .into_iter()
                .map(|s| s.entry)
                .filter(|e| !e.busy())
                .min_by_key(|e| e.last_used_secs());
            let Some(lru) = lru else { break };
            let removed = self.remove_where(self.shard(lru.hash), |e| std::ptr::eq(e, &*lru));
            if removed == 0 {
                break;
            }
            evicted += removed;
        }
        evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::RdsTokenParams;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn params(i: usize) -> RdsTokenParams {
        RdsTokenParams::new(format!("db{i}.example.com"), 5432, "app", "us-east-1")
    }

    #[test]
    fn one_entry_per_key() {
        let cache = Cache::new(100, Duration::from_secs(60));
        let p = params(1);
        let target = TargetRef::Rds(&p);
        let hash = cache.hash(&target.key());
        let (a, _) = cache.get_or_insert(hash, target, at(0));
        let (b, _) = cache.get_or_insert(hash, target, at(0));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
        assert!(cache.with_slot(hash, &target.key(), |_| ()).is_some());
        let other = params(2);
        let other_key = KeyRef::rds(&other);
        assert!(
            cache
                .with_slot(cache.hash(&other_key), &other_key, |_| ())
                .is_none()
        );
    }

    #[test]
    fn idle_entries_go_and_capacity_holds() {
        let cache = Cache::new(8, Duration::from_secs(60));
        let all: Vec<RdsTokenParams> = (0..20).map(params).collect();
        let mut evicted = 0;
        for (i, p) in all.iter().enumerate() {
            let target = TargetRef::Rds(p);
            let (_, n) = cache.get_or_insert(cache.hash(&target.key()), target, at(i as u64));
            evicted += n;
            assert!(cache.len() <= 8);
        }
        assert_eq!(cache.len(), 8);
        assert_eq!(evicted, 12);
        // The survivors are the 8 most recently used.
        let last = &all[19];
        let key = KeyRef::rds(last);
        assert!(cache.with_slot(cache.hash(&key), &key, |_| ()).is_some());
        let first = &all[0];
        let key = KeyRef::rds(first);
        assert!(cache.with_slot(cache.hash(&key), &key, |_| ()).is_none());

        assert_eq!(cache.evict_idle(at(75)), 4);
        assert_eq!(cache.evict_idle(at(200)), 4);
        assert_eq!(cache.len(), 0);
    }
}

//! Per-thread replicas of cache slots: what a cache hit reads.
//!
//! A hit that went to the shared table would pay for hashing the key, an
//! `arc-swap` load (an atomic swap on a thread-local debt slot) and, to hand
//! the token out, an increment of the cache's own `Arc`: one cache line all
//! threads asking for the key would bounce between their cores. Instead each
//! thread keeps, for the few keys it used last, a replica of the slot: the
//! entry, the token record, and an `Arc` of its own copy of the token (made
//! the first time the thread hands that token out: one copy of about 1 KB per
//! thread per token, every few minutes), tagged with the cache's id and the
//! generation of the slot's shard it was read at.
//!
//! A hit compares the caller's key with the replicas' (no hashing), checks
//! that the shard's generation has not moved (one load of a cache line that
//! only changes when the shard's table does) and clones the thread's own
//! `Arc`. A stale or missing replica is made anew from the table.
//!
//! A replica holds strong references to its entry and token record, so that
//! a pointer comparison cannot mistake a new record for an old one at the
//! same address; a thread holds at most [`SLOTS`] of them. They stay until a
//! newer replica takes their place or the thread exits, also after their
//! provider is dropped (a provider cannot reach other threads' storage):
//! at most `SLOTS` tokens per thread, each expiring within 15 minutes.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::cache::{Cache, Found};
use super::entry::{Entry, Minted};
use super::key::KeyRef;
use crate::token::AuthToken;

/// Replicas a thread keeps (the keys it used most recently).
const SLOTS: usize = 4;

/// A thread's copy of one cache slot that held a token.
pub(crate) struct Replica {
    /// [`Cache::id`] of the cache the slot is in.
    cache: u64,
    shard: usize,
    /// The shard's generation the slot was read at.
    generation: u64,
    pub(crate) entry: Arc<Entry>,
    pub(crate) minted: Arc<Minted>,
    /// This thread's `Arc` of a copy of `minted.token`.
    pub(crate) token: Arc<AuthToken>,
    /// Hits before this instant need not [touch](Entry::touch) the entry:
    /// this thread recorded a use in the same second already.
    next_touch: Cell<SystemTime>,
}

impl Replica {
    /// A replica of `found`, if it holds a token; `token` gives the `Arc`
    /// of the token to hand out.
    fn from_found(
        cache: &Cache,
        found: Found<'_>,
        token: impl FnOnce(&Arc<Minted>) -> Arc<AuthToken>,
    ) -> Option<Self> {
        let minted = found.slot.minted.as_ref()?;
        Some(Self {
            cache: cache.id(),
            shard: found.shard,
            generation: found.generation,
            entry: Arc::clone(&found.slot.entry),
            minted: Arc::clone(minted),
            token: token(minted),
            next_touch: Cell::new(UNIX_EPOCH),
        })
    }

    /// Record a use of the entry at `now`, unless this thread did in the
    /// same second (its shared store happens at most once a second anyway;
    /// this saves working out the second on every hit).
    #[inline]
    pub(crate) fn touch(&self, now: SystemTime) {
        if now >= self.next_touch.get() {
            self.next_touch.set(self.entry.touch(now));
        }
    }

    /// Whether this replicates the slot for `key` of `cache`.
    #[inline]
    fn is_for(&self, cache: &Cache, key: &KeyRef<'_>) -> bool {
        self.cache == cache.id() && self.entry.target.key() == *key
    }

    /// Whether the slot has not changed since it was read.
    #[inline]
    fn is_current(&self, cache: &Cache) -> bool {
        cache.generation(self.shard) == self.generation
    }
}

#[derive(Default)]
struct Replicas {
    slots: [Option<Replica>; SLOTS],
    /// The slot the next new replica goes to.
    next: usize,
}

thread_local! {
    static REPLICAS: RefCell<Replicas> = RefCell::default();
}

/// Run `f` on this thread's current replica of the slot for `key` in
/// `cache`, made from the table if need be. `None`: no token is cached for
/// `key`.
#[inline]
pub(crate) fn with<R>(cache: &Cache, key: &KeyRef<'_>, f: impl FnOnce(&Replica) -> R) -> Option<R> {
    let mut f = Some(f);
    let found = REPLICAS.try_with(|replicas| {
        let Ok(mut replicas) = replicas.try_borrow_mut() else {
            return None; // re-entered from `f`: go to the table
        };
        let replicas = &mut *replicas;
        let held = replicas
            .slots
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.is_for(cache, key)));
        if let Some(i) = held
            && let Some(replica) = &replicas.slots[i]
            && replica.is_current(cache)
        {
            return Some(f.take().map(|f| f(replica)));
        }
        let stale = held.and_then(|i| replicas.slots[i].take());
        let fresh = cache.with_found(cache.hash(key), key, |found| {
            Replica::from_found(cache, found, |minted| match stale {
                // The same token record (another slot of the shard changed).
                Some(old) if Arc::ptr_eq(&old.minted, minted) => old.token,
                _ => Arc::new(AuthToken::clone(&minted.token)),
            })
        });
        let Some(Some(fresh)) = fresh else {
            return Some(None); // no token cached
        };
        let i = held.unwrap_or_else(|| {
            let i = replicas.next;
            replicas.next = (i + 1) % SLOTS;
            i
        });
        let replica = replicas.slots[i].insert(fresh);
        Some(f.take().map(|f| f(replica)))
    });
    match found {
        Ok(Some(result)) => result,
        // The thread is exiting, or this is a nested call: read the table
        // and share the cache's own token.
        Ok(None) | Err(_) => {
            let f = f?;
            cache
                .with_found(cache.hash(key), key, |found| {
                    Replica::from_found(cache, found, |minted| Arc::clone(&minted.token))
                })
                .flatten()
                .map(|replica| f(&replica))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::cache::Expect;
    use crate::provider::key::TargetRef;
    use crate::provider::lifetime::Policy;
    use crate::token::{RdsTokenParams, sign_rds_token};
    use aws_credential_types::Credentials;
    use std::time::{Duration, UNIX_EPOCH};

    fn params(n: usize) -> RdsTokenParams {
        RdsTokenParams::new(format!("db{n}.example.com"), 5432, "app", "us-east-1")
    }

    fn minted(p: &RdsTokenParams, at: u64) -> Arc<Minted> {
        let creds = Credentials::new("AKID", "SECRET", None, None, "test");
        let token = sign_rds_token(p, &creds, UNIX_EPOCH + Duration::from_secs(at)).unwrap();
        let window = Policy::default().window(&token);
        Arc::new(Minted {
            token: Arc::new(token),
            window,
        })
    }

    /// A cache holding a token for `p`.
    fn cache_with(p: &RdsTokenParams) -> (Cache, Arc<Entry>, Arc<Minted>) {
        let cache = Cache::new(100, Duration::from_secs(60));
        let target = TargetRef::Rds(p);
        let (entry, _) = cache.get_or_insert(cache.hash(&target.key()), target, UNIX_EPOCH);
        let m = minted(p, 1);
        assert!(cache.replace(&entry, Expect::Any, Some(Arc::clone(&m))));
        (cache, entry, m)
    }

    fn token_of(cache: &Cache, p: &RdsTokenParams) -> Option<Arc<AuthToken>> {
        with(cache, &KeyRef::rds(p), |r| Arc::clone(&r.token))
    }

    #[test]
    fn one_replica_per_thread_and_token() {
        let p = params(1);
        let (cache, _, m) = cache_with(&p);
        let first = token_of(&cache, &p).unwrap();
        let again = token_of(&cache, &p).unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same replica on this thread"
        );
        assert!(!Arc::ptr_eq(&first, &m.token), "not the cache's own Arc");
        assert_eq!(*first, *m.token);

        let other_thread =
            std::thread::scope(|s| s.spawn(|| token_of(&cache, &p).unwrap()).join().unwrap());
        assert!(!Arc::ptr_eq(&other_thread, &first));
        assert_eq!(*other_thread, *m.token);
    }

    #[test]
    fn a_changed_slot_is_read_again() {
        let p = params(2);
        let (cache, entry, m) = cache_with(&p);
        let first = token_of(&cache, &p).unwrap();
        assert_eq!(*first, *m.token);

        // A new token: the replica follows.
        let newer = minted(&p, 100);
        let current = Some(&m);
        assert!(cache.replace(&entry, Expect::Current(current), Some(Arc::clone(&newer))));
        let second = token_of(&cache, &p).unwrap();
        assert_eq!(*second, *newer.token);
        assert_ne!(*second, *first);

        // Another key of the same shard changes: the same token, the same replica.
        let neighbour = (3..10_000)
            .map(params)
            .find(|q| {
                let (a, b) = (cache.hash(&KeyRef::rds(q)), cache.hash(&KeyRef::rds(&p)));
                (a >> 32) % 16 == (b >> 32) % 16
            })
            .unwrap();
        let target = TargetRef::Rds(&neighbour);
        let _ = cache.get_or_insert(cache.hash(&target.key()), target, UNIX_EPOCH);
        let third = token_of(&cache, &p).unwrap();
        assert!(Arc::ptr_eq(&third, &second));

        // Dropped (invalidated): no token.
        assert!(cache.replace(&entry, Expect::Current(Some(&newer)), None));
        assert!(token_of(&cache, &p).is_none());
    }

    #[test]
    fn caches_do_not_share_replicas() {
        let p = params(3);
        let (a, _, ma) = cache_with(&p);
        let (b, _, mb) = cache_with(&p);
        assert_eq!(*token_of(&a, &p).unwrap(), *ma.token);
        assert_eq!(*token_of(&b, &p).unwrap(), *mb.token);
        let empty = Cache::new(100, Duration::from_secs(60));
        assert!(token_of(&empty, &p).is_none());
    }

    #[test]
    fn more_keys_than_slots() {
        let keys: Vec<RdsTokenParams> = (10..10 + SLOTS + 2).map(params).collect();
        let cache = Cache::new(100, Duration::from_secs(60));
        let mut expected = Vec::new();
        for p in &keys {
            let target = TargetRef::Rds(p);
            let (entry, _) = cache.get_or_insert(cache.hash(&target.key()), target, UNIX_EPOCH);
            let m = minted(p, 1);
            cache.replace(&entry, Expect::Any, Some(Arc::clone(&m)));
            expected.push(m);
        }
        for _ in 0..3 {
            for (p, m) in keys.iter().zip(&expected) {
                assert_eq!(*token_of(&cache, p).unwrap(), *m.token);
            }
        }
    }

    #[test]
    fn nested_calls_read_the_table() {
        let p = params(4);
        let (cache, _, m) = cache_with(&p);
        let inner = with(&cache, &KeyRef::rds(&p), |_| token_of(&cache, &p)).flatten();
        assert_eq!(*inner.unwrap(), *m.token);
    }
}

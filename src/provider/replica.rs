//! Per-thread replicas of cached tokens, so that threads hitting one key do
//! not share a reference count.
//!
//! Handing out an `Arc<AuthToken>` means an atomic increment on a hit and a
//! decrement when the caller is done. If every thread used the cache's own
//! `Arc`, those would all hit one cache line, which then bounces between
//! cores and makes threads asking for one key wait on each other. Instead
//! each thread keeps its own `Arc` of a copy of the token, made the first
//! time the thread hands that token out (one copy of about 1 KB per thread
//! per token, every few minutes), and hands out clones of that.
//!
//! A thread keeps at most [`SLOTS`] replicas, each with a strong reference to
//! the cache's token record, so that the pointer comparison cannot mistake a
//! new record for an old one at the same address.

use std::cell::RefCell;
use std::sync::Arc;

use super::entry::Minted;
use crate::token::AuthToken;

/// Replicas a thread keeps (the keys it uses most recently).
const SLOTS: usize = 4;

type Replica = (Arc<Minted>, Arc<AuthToken>);

thread_local! {
    static REPLICAS: RefCell<([Option<Replica>; SLOTS], usize)> = const {
        RefCell::new(([const { None }; SLOTS], 0))
    };
}

/// This thread's `Arc` of `minted`'s token.
#[inline]
pub(crate) fn token(minted: &Arc<Minted>) -> Arc<AuthToken> {
    REPLICAS
        .try_with(|replicas| {
            let Ok(mut replicas) = replicas.try_borrow_mut() else {
                return Arc::clone(&minted.token);
            };
            let (slots, next) = &mut *replicas;
            for (held, token) in slots.iter().flatten() {
                if Arc::ptr_eq(held, minted) {
                    return Arc::clone(token);
                }
            }
            let token = Arc::new(AuthToken::clone(&minted.token));
            slots[*next] = Some((Arc::clone(minted), Arc::clone(&token)));
            *next = (*next + 1) % SLOTS;
            token
        })
        // The thread is exiting: share the cache's own.
        .unwrap_or_else(|_| Arc::clone(&minted.token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::lifetime::Policy;
    use crate::token::{RdsTokenParams, sign_rds_token};
    use aws_credential_types::Credentials;
    use std::time::{Duration, UNIX_EPOCH};

    fn minted(n: u64) -> Arc<Minted> {
        let params = RdsTokenParams::new("db.example.com", 5432, "app", "us-east-1");
        let creds = Credentials::new("AKID", "SECRET", None, None, "test");
        let token = sign_rds_token(&params, &creds, UNIX_EPOCH + Duration::from_secs(n)).unwrap();
        let window = Policy::default().window(&token);
        Arc::new(Minted {
            token: Arc::new(token),
            window,
        })
    }

    #[test]
    fn one_replica_per_thread_and_token() {
        let a = minted(1);
        let first = token(&a);
        let again = token(&a);
        assert!(
            Arc::ptr_eq(&first, &again),
            "the same replica on this thread"
        );
        assert!(!Arc::ptr_eq(&first, &a.token), "not the cache's own Arc");
        assert_eq!(*first, *a.token);

        let other_thread = std::thread::scope(|s| s.spawn(|| token(&a)).join().unwrap());
        assert!(!Arc::ptr_eq(&other_thread, &first));
        assert_eq!(*other_thread, *a.token);

        // More tokens than slots: the oldest replica is replaced, still correct.
        let all: Vec<_> = (2..2 + SLOTS as u64 + 1).map(minted).collect();
        for m in &all {
            assert_eq!(*token(m), *m.token);
        }
        let replaced = token(&a);
        assert!(!Arc::ptr_eq(&replaced, &first));
        assert_eq!(*replaced, *a.token);
    }
}

//! One run at a time, and callers who waited for a run share its outcome.
//!
//! Both caches (AWS credentials, IAM tokens) load a value this way: a caller
//! that finds nothing usable takes the [`turn`](SingleFlight::turn), looks at
//! the cache again, and only then runs (fetches, signs). Callers that queued
//! behind a run that [finished](Turn::finish) while they waited get its
//! outcome from [`Turn::shared`] instead of running again. A refresh that
//! must not make anyone wait takes the turn with
//! [`try_turn`](SingleFlight::try_turn), which fails while a run is in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, OwnedMutexGuard};

/// The turn to run, and the outcome of the last run. Clones share them.
#[derive(Clone)]
pub(crate) struct SingleFlight<T> {
    /// The last outcome, held by whoever has the turn.
    last: Arc<Mutex<Option<T>>>,
    /// Runs finished: read before waiting, compared after.
    runs: Arc<AtomicU64>,
}

/// The turn to run: one holder at a time; released when dropped.
pub(crate) struct Turn<T> {
    last: OwnedMutexGuard<Option<T>>,
    runs: Arc<AtomicU64>,
    /// A run finished while this caller waited for the turn.
    waited_for_run: bool,
}

impl<T> Default for SingleFlight<T> {
    fn default() -> Self {
        let (last, runs) = (Arc::new(Mutex::new(None)), Arc::default());
        Self { last, runs }
    }
}

impl<T: Clone> SingleFlight<T> {
    /// Wait for the turn.
    pub(crate) async fn turn(&self) -> Turn<T> {
        let seen = self.runs.load(Ordering::Acquire);
        let last = Arc::clone(&self.last).lock_owned().await;
        self.turn_with(last, seen)
    }

    /// The turn, if no one holds it now.
    pub(crate) fn try_turn(&self) -> Option<Turn<T>> {
        let seen = self.runs.load(Ordering::Acquire);
        let last = Arc::clone(&self.last).try_lock_owned().ok()?;
        Some(self.turn_with(last, seen))
    }

    /// Whether someone holds the turn.
    pub(crate) fn busy(&self) -> bool {
        self.last.try_lock().is_err()
    }

    fn turn_with(&self, last: OwnedMutexGuard<Option<T>>, seen: u64) -> Turn<T> {
        Turn {
            last,
            runs: Arc::clone(&self.runs),
            waited_for_run: self.runs.load(Ordering::Acquire) != seen,
        }
    }
}

impl<T> Turn<T> {
    /// The outcome of a run that finished while this caller waited for the
    /// turn (`None` when none did).
    pub(crate) fn shared(&self) -> Option<&T> {
        self.last.as_ref().filter(|_| self.waited_for_run)
    }

    /// Record this caller's run, for those waiting for the turn, and release it.
    pub(crate) fn finish(mut self, outcome: T) {
        *self.last = Some(outcome);
        self.runs.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_turn_at_a_time() {
        let flight = SingleFlight::<u32>::default();
        let turn = flight.try_turn().unwrap();
        assert!(flight.busy());
        assert!(flight.try_turn().is_none());
        assert!(turn.shared().is_none());
        drop(turn); // released without a run: nothing to share
        assert!(!flight.busy());
        assert!(flight.turn().await.shared().is_none());
    }

    #[tokio::test]
    async fn who_waited_for_a_run_shares_its_outcome() {
        let flight = Arc::new(SingleFlight::<u32>::default());
        let running = flight.turn().await;
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let flight = Arc::clone(&flight);
                tokio::spawn(async move { flight.turn().await.shared().copied() })
            })
            .collect();
        tokio::task::yield_now().await; // the waiters queue
        running.finish(7);
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Some(7));
        }
        // A caller arriving after the run has nothing to share: it runs.
        assert!(flight.turn().await.shared().is_none());
    }
}

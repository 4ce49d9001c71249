//! Upkeep: refreshing due tokens and dropping idle entries, on request or
//! from a background task.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tracing::Instrument as _;

use super::entry::RefreshClaim;
use super::error::ProviderError;
use super::stats::Counters;
use super::{Inner, TokenProvider};

/// The shortest interval the background refresher accepts.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

impl TokenProvider {
    /// Upkeep, now: drop the entries idle for longer than the provider's
    /// `max_idle`, and refresh every cached token whose refresh-ahead point
    /// has passed (one at a time, each as a caller-triggered refresh would).
    /// The background refresher runs this on every tick; call it yourself to
    /// drive upkeep from your own scheduler.
    pub async fn maintain(&self) {
        self.inner.maintain().await;
    }

    /// Start a Tokio task that runs [`maintain`](Self::maintain) every
    /// `interval` (at least 10 ms), so that tokens of keys in use are
    /// refreshed before any caller reaches a refresh point and no caller pays
    /// for signing. Pick an interval well below a third of the lifetime
    /// (a minute, say, for the 870 s default). The task holds no strong
    /// reference between ticks and stops when the last clone of the provider
    /// is dropped; starting it again replaces the running one.
    ///
    /// # Errors
    ///
    /// [`ProviderError::NoRuntime`] when called outside a Tokio runtime.
    pub fn start_background_refresh(&self, interval: Duration) -> Result<(), ProviderError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| ProviderError::NoRuntime)?;
        let interval = interval.max(MIN_INTERVAL);
        let weak = Arc::downgrade(&self.inner);
        let task = runtime.spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await; // the first tick is immediate
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                inner
                    .maintain()
                    .instrument(tracing::debug_span!("background_refresh"))
                    .await;
            }
        });
        let previous = self
            .inner
            .background
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(task.abort_handle());
        if let Some(previous) = previous {
            previous.abort();
        }
        Ok(())
    }
}

impl Inner {
    pub(super) async fn maintain(&self) {
        let now = self.clock.now();
        let evicted = self.cache.evict_idle(now);
        for _ in 0..evicted {
            Counters::bump(&self.counters.evictions);
        }
        if evicted > 0 {
            tracing::debug!(evicted, "dropped idle IAM token cache entries");
        }
        for slot in self.cache.slots() {
            let entry = slot.entry;
            // Hot keys only: used since their token was signed (a key nobody
            // asked for since is refreshed at most once more before it idles out).
            let due = slot.minted.as_ref().is_some_and(|minted| {
                minted.refresh_due(now) && entry.used_since(minted.token.signed_at())
            });
            if due && !entry.backing_off(now) && entry.claim_refresh() {
                let claim = RefreshClaim(&entry);
                self.refresh(claim.0).await;
            }
        }
    }
}

//! One fetch from an `aws-config` provider, with two guarantees the cache relies on: it ends
//! within a deadline, and it never yields credentials that have already expired.
//!
//! Without the deadline a container credentials endpoint that accepts the connection and
//! never answers holds the caller for about 16 s (aws-config waits 5 s for an answer, three
//! times); with it, the fetch fails after [`DEFAULT_FETCH_TIMEOUT`]. Credentials that expired
//! before they arrived (an endpoint serving stale credentials, or a clock far off) are a
//! failed fetch, so the cache keeps the still-valid credentials it has instead of replacing
//! them.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::future::timeout::Timeout;
use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep};

use super::error::AwsCredentialsError;
use crate::clock::Clock;

/// How long one fetch of credentials may take by default: 8 s. Room for one whole attempt at
/// a container credentials or instance metadata endpoint (aws-config allows 2 s to connect
/// and 5 s for the answer), not for the two retries aws-config would add to a silent one.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(8);

/// A provider whose fetches end within `deadline` and never yield expired credentials.
pub(crate) struct GuardedFetch {
    inner: SharedCredentialsProvider,
    deadline: Duration,
    /// The `aws-config` sleep implementation; without one there is no deadline.
    sleep: Option<SharedAsyncSleep>,
    clock: Arc<dyn Clock>,
}

impl GuardedFetch {
    pub(crate) fn new(
        inner: SharedCredentialsProvider,
        deadline: Duration,
        sleep: Option<SharedAsyncSleep>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            inner,
            deadline,
            sleep,
            clock,
        }
    }

    async fn fetch(&self) -> provider::Result {
        let fetch = self.inner.provide_credentials();
        let credentials = match &self.sleep {
            Some(sleep) => Timeout::new(fetch, sleep.sleep(self.deadline))
                .await
                .map_err(|_| AwsCredentialsError::provider_timed_out(self.deadline))??,
            None => fetch.await?,
        };
        let now = self.clock.now();
        match credentials.expiry() {
            Some(expiry) if expiry <= now => {
                Err(AwsCredentialsError::provider_error(ExpiredOnArrival {
                    expiry,
                    now,
                }))
            }
            _ => Ok(credentials),
        }
    }
}

impl ProvideCredentials for GuardedFetch {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.fetch())
    }
}

impl fmt::Debug for GuardedFetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedFetch")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// Credentials that had expired when they arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExpiredOnArrival {
    /// Their expiry.
    pub(crate) expiry: SystemTime,
    /// The clock's reading when they arrived.
    pub(crate) now: SystemTime,
}

impl fmt::Display for ExpiredOnArrival {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The times are in the message of the error that carries this one.
        f.write_str("the credentials received had already expired")
    }
}

impl std::error::Error for ExpiredOnArrival {}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// The cause under a "credentials that had expired at ..." message: the times are in that
    /// message, not here.
    #[test]
    fn expired_on_arrival_message() {
        let expired = ExpiredOnArrival {
            expiry: UNIX_EPOCH,
            now: UNIX_EPOCH + Duration::from_secs(1),
        };
        assert_eq!(
            expired.to_string(),
            "the credentials received had already expired"
        );
    }
}

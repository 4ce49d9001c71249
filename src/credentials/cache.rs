//! [`CredentialsProvider`]: expiry-aware caching with one fetch in flight.
//!
//! States of the cached credentials at time `now` (from the provider's
//! [`Clock`]):
//! - **fresh** (`now < expiry - refresh_before`, or no expiry): served from the
//!   cache. This path takes a `std::sync::RwLock` read lock for a pointer copy
//!   and never an async lock.
//! - **due** (`expiry - refresh_before <= now < expiry`): still valid. The first
//!   caller to see this refreshes (and gets the new credentials); callers
//!   arriving while that refresh runs get the cached ones at once. If the
//!   refresh fails, the cached credentials keep being served (a `warn!` is
//!   logged once per run of failures) and no new attempt is made for
//!   [`REFRESH_RETRY_INTERVAL`].
//! - **expired** or nothing cached: callers queue for one
//!   [single flight](crate::single_flight); the first fetches, and callers
//!   that were waiting while a fetch completed take its outcome (credentials
//!   or error) instead of fetching again.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use super::diagnostics::Diagnostics;
use super::error::CredentialsError;
use super::origin::CredentialsOrigin;
use crate::clock::Clock;
use crate::single_flight::{SingleFlight, Turn};

/// After a failed refresh of still-valid credentials (or when fresh
/// credentials arrive already inside the refresh window), the next refresh
/// attempt waits this long, so a broken endpoint is not called on every request.
pub const REFRESH_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Where the provider gets credentials from.
pub(crate) enum Source {
    /// Served as given, forever; never fetched.
    Static(Credentials),
    /// An `aws-config` provider (no caching of its own).
    Fetch(SharedCredentialsProvider),
}

/// A cached, expiry-aware source of AWS credentials. Build one with
/// [`CredentialsConfig`](super::CredentialsConfig).
///
/// Cheap to clone (clones share the cache), `Send + Sync`. `Debug` shows the
/// source, the settings, the counters and the cached access key id and
/// expiry; never the secret key or the session token.
#[derive(Clone)]
pub struct CredentialsProvider {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    label: Arc<str>,
    clock: Arc<dyn Clock>,
    refresh_before: Duration,
    diagnostics: Diagnostics,
    /// The current credentials; read on the fast path.
    cached: RwLock<Option<Arc<Cached>>>,
    /// One fetch at a time; its outcome goes to the callers who waited.
    flight: SingleFlight<Result<Credentials, CredentialsError>>,
    fetches: AtomicU64,
    failures: AtomicU64,
    /// Whether the current run of refresh failures has been logged.
    warned: AtomicBool,
}

struct Cached {
    credentials: Credentials,
    expiry: Option<SystemTime>,
    refresh_at: Option<SystemTime>,
    /// No refresh attempt before this instant (after a failure, or for
    /// credentials that arrived already due).
    retry_not_before: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fresh,
    Due,
    Expired,
}

impl Cached {
    fn new(credentials: Credentials, refresh_before: Duration, now: SystemTime) -> Self {
        let expiry = credentials.expiry();
        let refresh_at = expiry.map(|e| e.checked_sub(refresh_before).unwrap_or(e.min(now)));
        let mut cached = Self {
            credentials,
            expiry,
            refresh_at,
            retry_not_before: None,
        };
        if cached.state(now) != State::Fresh {
            cached.retry_not_before = Some(now + REFRESH_RETRY_INTERVAL);
        }
        cached
    }

    fn state(&self, now: SystemTime) -> State {
        match (self.expiry, self.refresh_at) {
            (Some(expiry), _) if now >= expiry => State::Expired,
            (Some(_), Some(refresh_at)) if now >= refresh_at => State::Due,
            _ => State::Fresh,
        }
    }

    fn backing_off(&self, now: SystemTime) -> bool {
        self.retry_not_before.is_some_and(|t| now < t)
    }
}

/// Counters of a [`CredentialsProvider`] (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CredentialsStats {
    /// Calls made to the underlying source (one per HTTP fetch for ECS
    /// container credentials, one per `AssumeRole` call for STS). Static
    /// credentials are never fetched.
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
}

/// Who the credentials belong to, for keying tokens by credentials: the
/// provider's source label and the access key id. Not secret (the secret key
/// and session token are not part of it).
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::credentials::CredentialsConfig;
///
/// # tokio_test_block_on(async {
/// let creds = Credentials::new("AKIDEXAMPLE", "secret", None, None, "example");
/// let provider = CredentialsConfig::static_credentials(creds.clone()).build().await.unwrap();
/// let id = provider.identity(&creds);
/// assert_eq!(id.access_key_id(), "AKIDEXAMPLE");
/// assert_eq!(id.source(), "static");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CredentialsIdentity {
    source: Arc<str>,
    access_key_id: Arc<str>,
}

impl CredentialsIdentity {
    /// The label of the source (`default-chain`, `profile:NAME`, `static`,
    /// `assume-role:ARN<-BASE`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The access key id (not a secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
}

impl CredentialsProvider {
    pub(crate) fn new(
        source: Source,
        clock: Arc<dyn Clock>,
        refresh_before: Duration,
        diagnostics: Diagnostics,
    ) -> Self {
        let label = diagnostics.source().label().into();
        Self {
            inner: Arc::new(Inner {
                source,
                label,
                clock,
                refresh_before,
                diagnostics,
                cached: RwLock::new(None),
                flight: SingleFlight::default(),
                fetches: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                warned: AtomicBool::new(false),
            }),
        }
    }

    /// Valid credentials: from the cache when they are fresh, otherwise
    /// fetched (one fetch for all concurrent callers).
    ///
    /// # Errors
    /// [`CredentialsError::Unavailable`] when the fetch fails and no cached
    /// credentials are still valid.
    pub async fn credentials(&self) -> Result<Credentials, CredentialsError> {
        let inner = &*self.inner;
        let fetcher = match &inner.source {
            Source::Static(credentials) => return Ok(credentials.clone()),
            Source::Fetch(provider) => provider,
        };
        let now = inner.clock.now();
        if let Some(cached) = inner.current() {
            match cached.state(now) {
                State::Fresh => return Ok(cached.credentials.clone()),
                State::Due => {
                    if cached.backing_off(now) {
                        return Ok(cached.credentials.clone());
                    }
                    // Someone is fetching already: do not wait for them.
                    let Some(turn) = inner.flight.try_turn() else {
                        return Ok(cached.credentials.clone());
                    };
                    // The one holding the lock before us may have refreshed.
                    if let Some(current) = inner.current()
                        && !Arc::ptr_eq(&current, &cached)
                    {
                        return Ok(current.credentials.clone());
                    }
                    return inner.fetch(turn, fetcher).await;
                }
                State::Expired => {}
            }
        }

        let turn = inner.flight.turn().await;
        let now = inner.clock.now();
        if let Some(cached) = inner.current()
            && cached.state(now) != State::Expired
        {
            return Ok(cached.credentials.clone());
        }
        if let Some(outcome) = turn.shared() {
            return outcome.clone(); // a fetch finished while we waited
        }
        inner.fetch(turn, fetcher).await
    }

    /// The identity of `credentials` as obtained from this provider, for
    /// keying tokens (see [`CredentialsIdentity`]).
    pub fn identity(&self, credentials: &Credentials) -> CredentialsIdentity {
        CredentialsIdentity {
            source: Arc::clone(&self.inner.label),
            access_key_id: credentials.access_key_id().into(),
        }
    }

    /// The identity of the credentials cached now, without fetching (`None`
    /// before the first successful fetch).
    pub fn current_identity(&self) -> Option<CredentialsIdentity> {
        match &self.inner.source {
            Source::Static(credentials) => Some(self.identity(credentials)),
            Source::Fetch(_) => self
                .inner
                .current()
                .map(|cached| self.identity(&cached.credentials)),
        }
    }

    /// Which source answered with `credentials` (credentials this provider returned): the
    /// environment, a profile, a web identity token, the ECS container endpoint (task role),
    /// instance metadata, a role assumed through STS, ... (see [`CredentialsOrigin`]).
    pub fn origin(&self, credentials: &Credentials) -> CredentialsOrigin {
        self.inner.diagnostics.origin(credentials)
    }

    /// A label for the source (`default-chain`, `profile:NAME`, `static`,
    /// `assume-role:ARN<-BASE`).
    pub fn source_label(&self) -> &str {
        &self.inner.label
    }

    /// How long before their expiry cached credentials are refreshed.
    pub fn refresh_before(&self) -> Duration {
        self.inner.refresh_before
    }

    /// The counters so far.
    pub fn stats(&self) -> CredentialsStats {
        CredentialsStats {
            fetches: self.inner.fetches.load(Ordering::Relaxed),
            failures: self.inner.failures.load(Ordering::Relaxed),
        }
    }
}

impl Inner {
    fn current(&self) -> Option<Arc<Cached>> {
        self.cached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, cached: Cached) {
        *self.cached.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(cached));
    }

    /// Fetch in our turn, update the cache and share the outcome.
    async fn fetch(
        &self,
        turn: Turn<Result<Credentials, CredentialsError>>,
        fetcher: &SharedCredentialsProvider,
    ) -> Result<Credentials, CredentialsError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = fetcher.provide_credentials().await;
        let now = self.clock.now();
        let outcome = match result {
            Ok(credentials) => {
                tracing::debug!(
                    source = %self.label,
                    access_key_id = credentials.access_key_id(),
                    expires = ?credentials.expiry(),
                    "fetched AWS credentials"
                );
                self.warned.store(false, Ordering::Relaxed);
                self.store(Cached::new(credentials.clone(), self.refresh_before, now));
                Ok(credentials)
            }
            Err(err) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                let err = self.diagnostics.unavailable(Arc::new(err));
                match self.current().filter(|c| c.state(now) != State::Expired) {
                    Some(cached) => {
                        self.keep_serving(&cached, &err, now);
                        Ok(cached.credentials.clone())
                    }
                    None => {
                        tracing::debug!(source = %self.label, error = %ErrorChain(&err), "loading AWS credentials failed");
                        Err(err)
                    }
                }
            }
        };
        turn.finish(outcome.clone());
        outcome
    }

    /// A refresh failed but `cached` is still valid: keep it, back off, log once.
    fn keep_serving(&self, cached: &Cached, err: &CredentialsError, now: SystemTime) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                source = %self.label,
                access_key_id = cached.credentials.access_key_id(),
                valid_until = ?cached.expiry,
                error = %ErrorChain(err),
                "refreshing AWS credentials failed; using the cached ones until they expire"
            );
        } else {
            tracing::debug!(source = %self.label, error = %ErrorChain(err), "refreshing AWS credentials failed again");
        }
        self.store(Cached {
            credentials: cached.credentials.clone(),
            expiry: cached.expiry,
            refresh_at: cached.refresh_at,
            retry_not_before: Some(now + REFRESH_RETRY_INTERVAL),
        });
    }
}

/// An error and its causes on one line, for logs (no secrets: none of the
/// errors of the credentials and token caches carries one).
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

impl fmt::Debug for CredentialsProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let cached = match &inner.source {
            Source::Static(credentials) => Some((credentials.access_key_id().to_owned(), None)),
            Source::Fetch(_) => inner
                .current()
                .map(|c| (c.credentials.access_key_id().to_owned(), c.expiry)),
        };
        f.debug_struct("CredentialsProvider")
            .field("source", &inner.label)
            .field("refresh_before", &inner.refresh_before)
            .field("clock", &inner.clock)
            .field("cached_access_key_id", &cached.as_ref().map(|c| &c.0))
            .field("cached_expiry", &cached.as_ref().and_then(|c| c.1))
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn creds(expiry: Option<SystemTime>) -> Credentials {
        Credentials::new("AKID", "SECRET", Some("TOKEN".into()), expiry, "test")
    }

    #[test]
    fn states_follow_expiry_and_refresh_window() {
        let c = Cached::new(creds(Some(at(3600))), Duration::from_secs(300), at(0));
        assert_eq!(c.state(at(0)), State::Fresh);
        assert_eq!(c.state(at(3299)), State::Fresh);
        assert_eq!(c.state(at(3300)), State::Due);
        assert_eq!(c.state(at(3599)), State::Due);
        assert_eq!(c.state(at(3600)), State::Expired);
        assert!(!c.backing_off(at(0)));
    }

    #[test]
    fn no_expiry_is_fresh_forever() {
        let c = Cached::new(creds(None), Duration::from_secs(300), at(0));
        assert_eq!(c.state(at(u32::MAX as u64)), State::Fresh);
    }

    #[test]
    fn credentials_arriving_due_back_off() {
        let c = Cached::new(creds(Some(at(100))), Duration::from_secs(300), at(0));
        assert_eq!(c.state(at(0)), State::Due);
        assert!(c.backing_off(at(9)));
        assert!(!c.backing_off(at(10)));
    }
}

//! [`TokenProviderBuilder`]: lifetime, margin, refresh-ahead, bounds, clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::lifetime::{DEFAULT_LIFETIME, Policy, RefreshAhead};
use super::stats::Counters;
use super::table::Table;
use super::{Inner, TokenProvider};
use crate::clock::{Clock, SystemClock};
use crate::credentials::CredentialsProvider;
use crate::jdbc::JdbcUrl;

/// How long a key may go unused before its entry is dropped, by default: 15
/// minutes (longer than a token is handed out).
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(15 * 60);

/// How many keys of each kind (RDS, DSQL) the cache holds at most, by
/// default. An entry is about 1 KB (its token and parameters).
pub const DEFAULT_CAPACITY: usize = 1024;

/// Settings for a [`TokenProvider`]; from [`TokenProvider::builder`].
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::{credentials::CredentialsConfig, jdbc::JdbcUrl};
/// use rds_iam::{clock::SystemClock, provider::TokenProvider};
/// use std::time::Duration;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example");
/// let credentials = CredentialsConfig::static_credentials(credentials).build().await?;
/// let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?wrapperPlugins=iam&iamExpiration=600")?;
/// let provider = TokenProvider::builder(credentials)
///     .clock(SystemClock)
///     .lifetime_from_url(&url)
///     .margin(Duration::from_secs(60))
///     .refresh_ahead(Duration::from_secs(120))
///     .max_idle(Duration::from_secs(3600))
///     .capacity(64)
///     .build();
/// assert_eq!(provider.lifetime(), Duration::from_secs(600));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[must_use]
pub struct TokenProviderBuilder {
    credentials: CredentialsProvider,
    clock: Arc<dyn Clock>,
    policy: Policy,
    max_idle: Duration,
    capacity: usize,
}

impl TokenProviderBuilder {
    pub(crate) fn new(credentials: CredentialsProvider) -> Self {
        Self {
            credentials,
            clock: Arc::new(SystemClock),
            policy: Policy::default(),
            max_idle: DEFAULT_MAX_IDLE,
            capacity: DEFAULT_CAPACITY,
        }
    }

    /// The clock tokens are signed and aged by (default: [`SystemClock`]).
    /// Give the credentials provider the same one.
    pub fn clock(self, clock: impl Clock) -> Self {
        self.shared_clock(Arc::new(clock))
    }

    /// As [`clock`](Self::clock), for a clock already behind an `Arc`.
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How long a token is reused after it is signed: the JDBC wrapper's
    /// `iamExpiration` (default [`DEFAULT_LIFETIME`], 870 s; zero: every call
    /// signs a new token). No token is handed out past its expiry minus the
    /// margin.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.policy.lifetime = lifetime;
        self
    }

    /// The lifetime a JDBC URL asks for: its `iamExpiration` (0 to 900 s; 0
    /// turns reuse off), or [`DEFAULT_LIFETIME`] when the URL does not set it.
    pub fn lifetime_from_url(self, url: &JdbcUrl) -> Self {
        self.lifetime(url.iam_expiration().unwrap_or(DEFAULT_LIFETIME))
    }

    /// How long before the end of its life a token stops being handed out
    /// (default [`DEFAULT_MARGIN`](super::DEFAULT_MARGIN), 30 s).
    pub fn margin(mut self, margin: Duration) -> Self {
        self.policy.margin = margin;
        self
    }

    /// When a cached token is refreshed ahead: a share of its reuse window
    /// (`0.5`), a time before its end (`Duration::from_secs(120)`), or
    /// [`RefreshAhead::Disabled`]. Default: 2/3 of the window.
    pub fn refresh_ahead(mut self, refresh_ahead: impl Into<RefreshAhead>) -> Self {
        self.policy.refresh_ahead = refresh_ahead.into();
        self
    }

    /// Drop the entry of a key unused for this long (default
    /// [`DEFAULT_MAX_IDLE`]): when a new key finds the cache full, and in
    /// [`TokenProvider::maintain`].
    pub fn max_idle(mut self, max_idle: Duration) -> Self {
        self.max_idle = max_idle;
        self
    }

    /// Hold at most this many keys of each kind (default [`DEFAULT_CAPACITY`];
    /// at least 1). A new key in a full cache drops the idle entries, then the
    /// least recently used.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The provider.
    pub fn build(self) -> TokenProvider {
        TokenProvider {
            inner: Arc::new(Inner {
                credentials: self.credentials,
                clock: self.clock,
                policy: self.policy,
                rds: Table::new(self.capacity, self.max_idle),
                dsql: Table::new(self.capacity, self.max_idle),
                counters: Counters::default(),
                background: Mutex::default(),
            }),
        }
    }
}

//! A [bb8](https://docs.rs/bb8/0.9) pool of tokio-postgres clients whose every new connection
//! logs in through a [`PgConnector`] (feature `bb8`, with `postgres` or `postgres-rustls`).
//!
//! An IAM token is checked only at login, so a pool needs a valid token exactly when it opens
//! a connection: [`PgManager::connect`](::bb8::ManageConnection::connect) calls
//! [`PgConnector::connect`] (the token from the connector's cache, TLS as the URL says, one
//! retry when the server rejects a cached token) and spawns the connection task.
//!
//! ```no_run
//! use rds_iam::bb8::{PgManager, Pool};
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::postgres::PgConnector;
//!
//! # async fn demo(url: &JdbcUrl) -> Result<(), Box<dyn std::error::Error>> {
//! let connector = PgConnector::from_url(url)?.build().await?;
//! let pool = Pool::builder().max_size(8).retry_connection(false).build(PgManager::new(connector)).await?;
//! let client = pool.get().await?;
//! let row = client.query_one("SELECT current_user::text", &[]).await?;
//! # let _ = row; Ok(()) }
//! ```
//!
//! # How a failed login reaches you
//!
//! bb8 opens connections in the background and hands them to waiting `get()` calls, so a
//! failed login is not the result of a `get()`:
//! - [`Builder::build`](::bb8::Builder::build) opens `min_idle` connections first and returns
//!   a failure as our [`ConnectError`] (at once with `retry_connection(false)`, else after
//!   retrying until `connection_timeout`; with no `min_idle` nothing is opened);
//! - every later failure goes to the builder's
//!   [`error_sink`](::bb8::Builder::error_sink) (default: dropped) as the [`ConnectError`],
//!   with its likely causes; a `get()` that found no connection in `connection_timeout`
//!   fails with [`RunError::TimedOut`](::bb8::RunError::TimedOut);
//! - with [`retry_connection(false)`](::bb8::Builder::retry_connection) a failed login is not
//!   retried until the timeout: it reaches the sink at once. Keep it `false` for IAM: the
//!   connector already retries the one case worth retrying (a rejected cached token).
//!
//! [`LogErrors`] is a sink that logs each failure with its causes (through `tracing`, at
//! `error`), without secrets (errors hold none).
//!
//! # Validity
//!
//! `has_broken` is [`Client::is_closed`] (the connection task ended); `is_valid` (bb8's
//! `test_on_check_out`, on by default) also sends an empty simple query (one round trip,
//! nothing parsed). A recycled client needs no token: only new connections log in.
//!
//! # Which bb8
//!
//! bb8 0.9. [`Pool`] and [`RunError`] name its types for this manager, and [`::bb8`] is
//! re-exported as `rds_iam::bb8::bb8` for the rest (`Builder`, `ErrorSink`).

pub use ::bb8;
use ::bb8::{ErrorSink, ManageConnection};
use tokio_postgres::Client;

use crate::connect::ConnectError;
use crate::postgres::PgConnector;

/// A bb8 pool of clients logged in by a [`PgConnector`].
pub type Pool = ::bb8::Pool<PgManager>;

/// What [`Pool::get`](::bb8::Pool::get) fails with.
pub type RunError = ::bb8::RunError<ConnectError>;

/// The bb8 connection manager: new connections through a [`PgConnector`] (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct PgManager {
    connector: PgConnector,
}

impl PgManager {
    /// A manager whose new connections log in through `connector`.
    pub fn new(connector: PgConnector) -> Self {
        Self { connector }
    }

    /// The connector (its token provider has the cache's statistics).
    pub fn connector(&self) -> &PgConnector {
        &self.connector
    }
}

impl ManageConnection for PgManager {
    type Connection = Client;
    type Error = ConnectError;

    async fn connect(&self) -> Result<Client, ConnectError> {
        crate::postgres::connect_spawned(&self.connector).await
    }

    async fn is_valid(&self, client: &mut Client) -> Result<(), ConnectError> {
        crate::postgres::check_alive(&self.connector, client).await
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// An error sink that logs each connection failure with its causes (`tracing`, level
/// `error`): give it to [`Builder::error_sink`](::bb8::Builder::error_sink).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogErrors;

impl ErrorSink<ConnectError> for LogErrors {
    fn sink(&self, error: ConnectError) {
        let causes: String =
            std::iter::successors(std::error::Error::source(&error), |e| e.source())
                .map(|cause| format!(": {cause}"))
                .collect();
        tracing::error!("a pooled connection could not log in: {error}{causes}");
    }

    fn boxed_clone(&self) -> Box<dyn ErrorSink<ConnectError>> {
        Box::new(*self)
    }
}

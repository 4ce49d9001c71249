//! [bb8](https://docs.rs/bb8/0.9) pools whose every new connection logs in through the crate's
//! connector (feature `bb8`): tokio-postgres clients through a `PgConnector` (`PgManager`, with
//! `postgres` or `postgres-rustls`; the connection task is spawned), mysql_async connections
//! through a `MySqlConnector` (`MySqlManager`, with `mysql` or `mysql-rustls`).
//!
//! An IAM token is checked only at login, so a pool needs a valid token exactly when it opens
//! a connection: [`ManageConnection::connect`] calls the
//! connector's `connect` (the token from the connector's cache, TLS as the URL says, one retry
//! when the server rejects a cached token).
//!
//! ```no_run
//! # #[cfg(feature = "_postgres")]
//! # mod demo {
//! use rds_iam::bb8::{PgManager, PgPool};
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::postgres::PgConnector;
//!
//! # async fn demo(url: &JdbcUrl) -> Result<(), Box<dyn std::error::Error>> {
//! let connector = PgConnector::from_url(url)?.build().await?;
//! let pool = PgPool::builder()
//!     .max_size(8)
//!     .retry_connection(false)
//!     .build(PgManager::new(connector))
//!     .await?;
//! let client = pool.get().await?;
//! let row = client.query_one("SELECT current_user::text", &[]).await?;
//! # let _ = row; Ok(()) }
//! # }
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
//! `has_broken` is whether the connection has ended (`Client::is_closed`,
//! `Conn::is_disconnected`); `is_valid` (bb8's `test_on_check_out`, on by default) also makes
//! one round trip: an empty simple query for PostgreSQL (nothing parsed), a `COM_PING` for
//! MySQL. A recycled connection needs no token: only new connections log in.
//!
//! # Which bb8
//!
//! bb8 0.9. [`RunError`] and the pool types here name its types for these managers, and
//! [`::bb8`] is re-exported as `rds_iam::bb8::bb8` for the rest (`Builder`, `ErrorSink`).

pub use ::bb8;
use ::bb8::{ErrorSink, ManageConnection};

use crate::connect::ConnectError;

/// What [`Pool::get`](::bb8::Pool::get) fails with.
pub type RunError = ::bb8::RunError<ConnectError>;

/// The manager of both pool modules: new connections log in through a connector of the crate
/// (see the [module docs](self)).
pub use crate::connect::ConnectorManager;

/// The manager of tokio-postgres clients logged in by a
/// [`PgConnector`](crate::postgres::PgConnector).
#[cfg(feature = "_postgres")]
pub type PgManager = ConnectorManager<crate::postgres::PgConnector>;

/// A bb8 pool of tokio-postgres clients logged in by a
/// [`PgConnector`](crate::postgres::PgConnector).
#[cfg(feature = "_postgres")]
pub type PgPool = ::bb8::Pool<PgManager>;

#[cfg(feature = "_postgres")]
impl ManageConnection for PgManager {
    type Connection = tokio_postgres::Client;
    type Error = ConnectError;

    async fn connect(&self) -> Result<Self::Connection, ConnectError> {
        crate::postgres::connect_spawned(self.connector()).await
    }

    async fn is_valid(&self, client: &mut Self::Connection) -> Result<(), ConnectError> {
        crate::postgres::check_alive(self.connector(), client).await
    }

    fn has_broken(&self, client: &mut Self::Connection) -> bool {
        client.is_closed()
    }
}

/// The manager of mysql_async connections logged in by a
/// [`MySqlConnector`](crate::mysql::MySqlConnector).
#[cfg(feature = "_mysql")]
pub type MySqlManager = ConnectorManager<crate::mysql::MySqlConnector>;

/// A bb8 pool of mysql_async connections logged in by a
/// [`MySqlConnector`](crate::mysql::MySqlConnector).
#[cfg(feature = "_mysql")]
pub type MySqlPool = ::bb8::Pool<MySqlManager>;

#[cfg(feature = "_mysql")]
impl ManageConnection for MySqlManager {
    type Connection = mysql_async::Conn;
    type Error = ConnectError;

    async fn connect(&self) -> Result<Self::Connection, ConnectError> {
        self.connector().connect().await
    }

    async fn is_valid(&self, conn: &mut Self::Connection) -> Result<(), ConnectError> {
        crate::mysql::check_alive(self.connector(), conn).await
    }

    fn has_broken(&self, conn: &mut Self::Connection) -> bool {
        conn.is_disconnected()
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

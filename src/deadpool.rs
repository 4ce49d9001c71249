//! [deadpool](https://docs.rs/deadpool/0.12) pools whose every new connection logs in through
//! the crate's connector (feature `deadpool`): tokio-postgres clients through a `PgConnector`
//! (`PgManager`, with `postgres` or `postgres-rustls`), mysql_async connections through a
//! `MySqlConnector` (`MySqlManager`, with `mysql` or `mysql-rustls`).
//!
//! An IAM token is checked only at login, so a pool needs a valid token exactly when it opens
//! a connection. [`Manager::create`](::deadpool::managed::Manager::create) calls the
//! connector's `connect`: the token comes from the connector's cache (minted or refreshed
//! when needed), TLS is as the URL says, and a cached token the server rejects is replaced and
//! retried once. A token frozen into a pool's config instead fails every new connection 15
//! minutes later.
//!
//! ```no_run
//! # #[cfg(feature = "_postgres")]
//! # mod demo {
//! use rds_iam::deadpool::{PgManager, PgPool};
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::postgres::PgConnector;
//!
//! # async fn demo(url: &JdbcUrl) -> Result<(), Box<dyn std::error::Error>> {
//! let connector = PgConnector::from_url(url)?.build().await?;
//! let pool = PgPool::builder(PgManager::new(connector)).max_size(8).build()?;
//! let client = pool.get().await?; // a `PoolError` whose `Backend` is our `ConnectError`
//! let row = client.query_one("SELECT current_user::text", &[]).await?;
//! # let _ = row; Ok(()) }
//! # }
//! ```
//!
//! # Why a manager of our own, not deadpool-postgres
//!
//! deadpool-postgres reports every failure as a `tokio_postgres::Error`, which nobody outside
//! tokio-postgres can construct, so a [`ConnectError`] (the token, TLS or login failure with
//! its likely causes and fix) could not reach the caller. With these managers it does:
//! [`Pool::get`](::deadpool::managed::Pool::get) fails with
//! [`PoolError::Backend`](::deadpool::managed::PoolError::Backend) holding the connector's
//! [`ConnectError`], unchanged.
//!
//! # Recycling
//!
//! A returned connection is checked before it is handed out again: if it has ended
//! (`Client::is_closed`, `Conn::is_disconnected`) it is dropped; otherwise one round trip must
//! succeed: for PostgreSQL an empty simple query (`""`, nothing parsed, what
//! deadpool-postgres's `Verified` method sends), for MySQL a `COM_PING`. A recycled connection
//! needs no token: only new connections log in.
//!
//! # Which deadpool
//!
//! deadpool 0.12 (with its `managed` and `rt_tokio_1` features). [`PoolError`] and the pool
//! types here name its types for these managers, and [`::deadpool`] is re-exported as
//! `rds_iam::deadpool::deadpool` for the rest (`managed::Timeouts`, `Runtime`).

pub use ::deadpool;
use ::deadpool::managed::{self, Metrics, RecycleError, RecycleResult};

use crate::connect::ConnectError;
#[cfg(feature = "_postgres")]
use crate::postgres::PgConnector;

/// What `get()` on these pools fails with; `Backend` is the connector's [`ConnectError`].
pub type PoolError = managed::PoolError<ConnectError>;

/// The manager of both pool modules: new connections log in through a connector of the crate
/// (see the [module docs](self)).
pub use crate::connect::ConnectorManager;

/// The manager of tokio-postgres clients logged in by a [`PgConnector`].
#[cfg(feature = "_postgres")]
pub type PgManager = ConnectorManager<PgConnector>;

/// A deadpool pool of tokio-postgres clients logged in by a [`PgConnector`].
#[cfg(feature = "_postgres")]
pub type PgPool = managed::Pool<PgManager>;

/// A client checked out of a [`PgPool`] (derefs to [`tokio_postgres::Client`]).
#[cfg(feature = "_postgres")]
pub type PgObject = managed::Object<PgManager>;

#[cfg(feature = "_postgres")]
impl managed::Manager for PgManager {
    type Type = tokio_postgres::Client;
    type Error = ConnectError;

    async fn create(&self) -> Result<Self::Type, ConnectError> {
        crate::postgres::connect_spawned(self.connector()).await
    }

    async fn recycle(&self, client: &mut Self::Type, _: &Metrics) -> RecycleResult<ConnectError> {
        crate::postgres::check_alive(self.connector(), client)
            .await
            .map_err(RecycleError::Backend)
    }
}

/// The manager of mysql_async connections logged in by a
/// [`MySqlConnector`](crate::mysql::MySqlConnector).
#[cfg(feature = "_mysql")]
pub type MySqlManager = ConnectorManager<crate::mysql::MySqlConnector>;

/// A deadpool pool of mysql_async connections logged in by a
/// [`MySqlConnector`](crate::mysql::MySqlConnector).
#[cfg(feature = "_mysql")]
pub type MySqlPool = managed::Pool<MySqlManager>;

/// A connection checked out of a [`MySqlPool`] (derefs to [`mysql_async::Conn`]).
#[cfg(feature = "_mysql")]
pub type MySqlObject = managed::Object<MySqlManager>;

#[cfg(feature = "_mysql")]
impl managed::Manager for MySqlManager {
    type Type = mysql_async::Conn;
    type Error = ConnectError;

    async fn create(&self) -> Result<Self::Type, ConnectError> {
        self.connector().connect().await
    }

    async fn recycle(&self, conn: &mut Self::Type, _: &Metrics) -> RecycleResult<ConnectError> {
        crate::mysql::check_alive(self.connector(), conn)
            .await
            .map_err(RecycleError::Backend)
    }
}

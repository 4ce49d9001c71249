//! A [deadpool](https://docs.rs/deadpool/0.12) pool of tokio-postgres clients whose every new
//! connection logs in through a [`PgConnector`] (feature `deadpool`, with `postgres` or
//! `postgres-rustls`).
//!
//! An IAM token is checked only at login, so a pool needs a valid token exactly when it opens
//! a connection. [`Manager::create`](::deadpool::managed::Manager::create) calls
//! [`PgConnector::connect`]: the token comes from the connector's cache (minted or refreshed
//! when needed), TLS is as the URL says, and a cached token the server rejects is replaced and
//! retried once. A token frozen into a pool's config instead fails every new connection 15
//! minutes later.
//!
//! ```no_run
//! use rds_iam::deadpool::{Manager, Pool};
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::postgres::PgConnector;
//!
//! # async fn demo(url: &JdbcUrl) -> Result<(), Box<dyn std::error::Error>> {
//! let connector = PgConnector::from_url(url)?.build().await?;
//! let pool = Pool::builder(Manager::new(connector)).max_size(8).build()?;
//! let client = pool.get().await?; // a `PoolError` whose `Backend` is our `ConnectError`
//! let row = client.query_one("SELECT current_user::text", &[]).await?;
//! # let _ = row; Ok(()) }
//! ```
//!
//! # Why a manager of our own, not deadpool-postgres
//!
//! deadpool-postgres reports every failure as a `tokio_postgres::Error`, which nobody outside
//! tokio-postgres can construct, so a [`ConnectError`] (the token, TLS or login failure with
//! its likely causes and fix) could not reach the caller. With this [`Manager`] it does:
//! [`Pool::get`](::deadpool::managed::Pool::get) fails with
//! [`PoolError::Backend`](::deadpool::managed::PoolError::Backend) holding the connector's
//! [`ConnectError`], unchanged.
//!
//! # Recycling
//!
//! A returned client is checked before it is handed out again: if its connection has ended
//! ([`Client::is_closed`]) it is dropped; otherwise an empty simple query (`""`, one round trip
//! and no parsing, what deadpool-postgres's `Verified` method sends) must succeed. A recycled
//! client needs no token: only new connections log in.
//!
//! # Which deadpool
//!
//! deadpool 0.12 (with its `managed` and `rt_tokio_1` features). [`Pool`], [`PoolError`] and
//! [`Object`] name its types for this manager, so no direct dependency on deadpool is needed;
//! an application that names more of its types depends on `deadpool = "0.12"`.

use ::deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio_postgres::Client;

use crate::connect::ConnectError;
use crate::postgres::PgConnector;

/// A deadpool pool of clients logged in by a [`PgConnector`].
pub type Pool = managed::Pool<Manager>;

/// What [`Pool::get`](::deadpool::managed::Pool::get) fails with; `Backend` is the
/// connector's [`ConnectError`].
pub type PoolError = managed::PoolError<ConnectError>;

/// A client checked out of a [`Pool`] (derefs to [`Client`]).
pub type Object = managed::Object<Manager>;

/// The deadpool manager: new connections through a [`PgConnector`] (see the
/// [module docs](self)).
#[derive(Debug, Clone)]
pub struct Manager {
    connector: PgConnector,
}

impl Manager {
    /// A manager whose new connections log in through `connector`.
    pub fn new(connector: PgConnector) -> Self {
        Self { connector }
    }

    /// The connector (its token provider has the cache's statistics).
    pub fn connector(&self) -> &PgConnector {
        &self.connector
    }
}

impl managed::Manager for Manager {
    type Type = Client;
    type Error = ConnectError;

    async fn create(&self) -> Result<Client, ConnectError> {
        crate::postgres::connect_spawned(&self.connector).await
    }

    async fn recycle(&self, client: &mut Client, _: &Metrics) -> RecycleResult<ConnectError> {
        crate::postgres::check_alive(&self.connector, client)
            .await
            .map_err(RecycleError::Backend)
    }
}

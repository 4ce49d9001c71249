//! What the PostgreSQL and MySQL connectors share: their settings (whose targets come from
//! [`plan::targets`](crate::plan::targets)), the login with one retry on a rejected cached token, and
//! [`ConnectError`], whose messages say which TLS check failed or list the likely causes of a
//! rejected IAM login.
//!
//! # The login, for every host in order
//!
//! 1. Get a token for the host's [`Target::token`](crate::plan::Target::token) from the
//!    [`TokenProvider`](crate::provider::TokenProvider).
//! 2. Connect with TLS; the certificate is checked against
//!    [`Target::tls_name`](crate::plan::Target::tls_name) as the TLS mode
//!    says; only then is the token sent (as the password).
//! 3. If the server rejects the login (PostgreSQL SQLSTATE 28P01 or 28000, MySQL error 1045 or
//!    SQLSTATE 28000) and the token came from the cache, invalidate it, mint a fresh one and try
//!    once more. A second rejection (or a rejection of a fresh token) is
//!    [`ConnectError::LoginRejected`], listing the likely causes.
//! 4. Any failure moves on to the next host; when all fail, [`ConnectError::AllHostsFailed`]
//!    (one host: its own error).

pub(crate) mod builder;
mod error;
pub(crate) mod login;
mod settings;

pub use error::{BoxError, ConnectError, LoginRefusal};
pub(crate) use settings::Settings;

/// For the pools: a pooled connection that failed its liveness check, as a
/// [`ConnectError::Server`] naming the connector's hosts.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
pub(crate) fn pooled_connection_failed(
    targets: &[crate::plan::Target],
    source: BoxError,
) -> ConnectError {
    ConnectError::Server {
        server: targets
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" or "),
        source,
    }
}

/// A pool manager whose new connections log in through a connector of the crate
/// ([`PgConnector`](crate::postgres::PgConnector) or
/// [`MySqlConnector`](crate::mysql::MySqlConnector)): one type for both pools, a deadpool
/// `Manager` with the `deadpool` feature and a bb8 `ManageConnection` with `bb8`. Use it as
/// `rds_iam::deadpool::PgManager`, `rds_iam::bb8::MySqlManager` and so on.
#[cfg(any(feature = "deadpool", feature = "bb8"))]
#[derive(Debug, Clone)]
pub struct ConnectorManager<C> {
    connector: C,
}

#[cfg(any(feature = "deadpool", feature = "bb8"))]
impl<C> ConnectorManager<C> {
    /// A manager whose new connections log in through `connector`.
    pub fn new(connector: C) -> Self {
        Self { connector }
    }

    /// The connector (its token provider has the cache's statistics).
    pub fn connector(&self) -> &C {
        &self.connector
    }
}

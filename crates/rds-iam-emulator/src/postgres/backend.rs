//! Logging in to the real PostgreSQL behind the emulator, with the shared login of
//! `rds_iam_wire::postgres::client` (trust, cleartext, MD5 and SCRAM-SHA-256).

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use rds_iam_wire::postgres::client::{self, LoginError};
use tokio::net::TcpStream;

use crate::{BackendFailure, client_text};
use rds_iam::secret::Password;

/// A backend connection that has just said `AuthenticationOk`.
pub(crate) type BackendSession = client::Session<TcpStream>;

/// Why the backend login failed.
pub(crate) struct BackendLoginError {
    pub(crate) failure: BackendFailure,
    /// The backend's own `ErrorResponse`, raw, to pass on to the client.
    pub(crate) error_response: Option<BytesMut>,
    /// What to log (never a secret).
    pub(crate) detail: String,
}

impl BackendLoginError {
    fn new(failure: BackendFailure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            error_response: None,
            detail: detail.into(),
        }
    }

    /// The backend login did not finish within the handshake timeout.
    pub(crate) fn timed_out() -> Self {
        Self::new(
            BackendFailure::TimedOut,
            "the backend login did not finish within the handshake timeout",
        )
    }
}

/// Connect to `addr` and log in with the startup `params` (which include `user`).
pub(crate) async fn login(
    addr: SocketAddr,
    params: &[(String, String)],
    password: Option<&Password>,
) -> Result<BackendSession, BackendLoginError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| {
        BackendLoginError::new(
            BackendFailure::Unreachable,
            format!("could not connect to {addr}: {e}"),
        )
    })?;
    let _ = stream.set_nodelay(true);
    let password = password.map(|p| p.expose().as_bytes());
    client::login(stream, params, password)
        .await
        .map_err(|error| match error {
            LoginError::PasswordNeeded => BackendLoginError::new(
                BackendFailure::PasswordNeeded,
                "the backend asks for a password and none is configured",
            ),
            LoginError::Refused {
                code,
                message,
                after_authentication,
                response,
            } => BackendLoginError {
                failure: BackendFailure::Refused { code: code.clone() },
                error_response: Some(response),
                // The message may quote what the client chose (a database name).
                detail: if after_authentication {
                    format!("backend refused the session after authentication: {code}")
                } else {
                    format!(
                        "backend refused the login: {code} {}",
                        client_text(&message)
                    )
                },
            },
            other => BackendLoginError::new(BackendFailure::Protocol, other.to_string()),
        })
}

/// Whether the session's user is a member of a role `rds_iam` (directly or through another
/// role), as RDS requires of IAM users: one simple query on the fresh session, whose answer is
/// read up to `ReadyForQuery` and not passed on.
pub(crate) async fn is_rds_iam_member(session: &mut BackendSession) -> io::Result<bool> {
    client::simple_query_returns_rows(
        &mut session.stream,
        "SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam' AND pg_has_role(current_user, oid, 'MEMBER')",
    )
    .await
}

/// Pass a `CancelRequest` (process id and secret key, as the backend issued them)
/// on to the backend.
pub(crate) async fn cancel(addr: SocketAddr, key: [u8; 8]) -> io::Result<()> {
    client::cancel(TcpStream::connect(addr).await?, key).await
}

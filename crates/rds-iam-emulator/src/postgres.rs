//! The PostgreSQL front end: TLS first, then a cleartext password that must be a
//! valid token, then a relay to the real backend.
//!
//! What a client sees, as on an RDS instance with `rds.force_ssl` whose user has the
//! `rds_iam` role:
//! - `SSLRequest` is answered `S` and TLS starts; `GSSENCRequest` is answered `N`.
//! - A `StartupMessage` without TLS gets `FATAL 28000 no pg_hba.conf entry for host
//!   "...", user "...", database "...", no encryption` before any password is asked.
//! - Over TLS the server asks for a cleartext password (the token). A bad token gets
//!   `FATAL 28000 PAM authentication failed for user "..."`.
//! - With `require_rds_iam`, a user who is not a member of `rds_iam` in the backend gets the
//!   same `PAM authentication failed` (checked on the backend session before it is relayed).
//! - A good token: the emulator logs in to the backend as that user (or the mapped
//!   user) and from `AuthenticationOk` on relays both directions unchanged, so
//!   `ParameterStatus`, `BackendKeyData`, queries and errors are the backend's own.
//! - A `CancelRequest` (plain or over TLS) is passed on to the backend.
//! - Each step before the login completes has the handshake timeout; a connection over
//!   the connection limit gets `FATAL 53300 sorry, too many clients already` at once.
//! - A `PasswordMessage` sent after a startup without TLS (without being asked) is
//!   counted as a plaintext password.
//!
//! Not supported: direct TLS without `SSLRequest` (PostgreSQL 17 `sslnegotiation=direct`).

mod backend;
pub(super) mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{LoginOutcome, Rejection, Shared, client_text};
use wire::{Initial, Startup};

/// SQLSTATE `invalid_authorization_specification`, as RDS uses for both refusals.
const INVALID_AUTHORIZATION: &str = "28000";
/// SQLSTATE `protocol_violation`.
const PROTOCOL_VIOLATION: &str = "08P01";
/// SQLSTATE `connection_failure`, when the backend cannot be reached.
const CONNECTION_FAILURE: &str = "08006";
/// SQLSTATE `too_many_connections`.
const TOO_MANY_CONNECTIONS: &str = "53300";
/// How long to watch a refused plaintext connection for a password sent anyway.
const PLAINTEXT_WATCH: Duration = Duration::from_millis(250);

/// Serve one client connection to its end.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    if let Err(error) = serve_plain(stream, peer, &shared).await {
        tracing::debug!(target: "rds_iam_emulator", %peer, %error, "connection ended with an error");
    }
}

/// What a connection over the limit gets before it is closed, as PostgreSQL says it.
pub(crate) fn too_many_connections() -> Vec<u8> {
    let mut out = BytesMut::new();
    wire::error_response(
        &mut out,
        "FATAL",
        TOO_MANY_CONNECTIONS,
        "sorry, too many clients already",
    );
    out.to_vec()
}

async fn serve_plain(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    let mut gssenc_declined = false;
    loop {
        let first = shared.stage(peer, "the first packet", wire::read_initial(&mut stream));
        let Some(initial) = first.await? else {
            return Ok(());
        };
        match initial {
            Initial::SslRequest => {
                stream.write_all(b"S").await?;
                let handshake = async {
                    shared
                        .tls
                        .accept(stream)
                        .await
                        .map_err(std::io::Error::other)
                };
                let tls = shared.stage(peer, "the TLS handshake", handshake).await?;
                return serve_tls(tls, peer, shared).await;
            }
            // Once, as PostgreSQL: a client may then ask for TLS.
            Initial::GssEncRequest if !gssenc_declined => {
                gssenc_declined = true;
                stream.write_all(b"N").await?;
            }
            Initial::Cancel(key) => return cancel(shared, peer, key).await,
            Initial::Startup(startup) => {
                return refuse_plaintext(stream, peer, &startup, shared).await;
            }
            Initial::GssEncRequest | Initial::Unsupported => {
                return send_error(
                    &mut stream,
                    PROTOCOL_VIOLATION,
                    "unsupported frontend protocol",
                )
                .await;
            }
        }
    }
}

async fn serve_tls<S>(mut stream: S, peer: SocketAddr, shared: &Shared) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let startup = shared.stage(peer, "the startup message", wire::read_initial(&mut stream));
    match startup.await? {
        None => Ok(()),
        Some(Initial::Startup(startup)) => login(stream, peer, startup, shared).await,
        Some(Initial::Cancel(key)) => cancel(shared, peer, key).await,
        Some(_) => {
            send_error(
                &mut stream,
                PROTOCOL_VIOLATION,
                "unexpected packet after TLS negotiation",
            )
            .await
        }
    }
}

/// Pass a `CancelRequest` on to the backend, within the handshake timeout.
async fn cancel(shared: &Shared, peer: SocketAddr, key: [u8; 8]) -> std::io::Result<()> {
    let forward = backend::cancel(shared.config.backend, key);
    shared.stage(peer, "the backend (cancel)", forward).await
}

/// A startup without TLS: refuse before asking for a password, as RDS with
/// `rds.force_ssl` does, and watch whether the client sends a password anyway.
async fn refuse_plaintext(
    mut stream: TcpStream,
    peer: SocketAddr,
    startup: &Startup,
    shared: &Shared,
) -> std::io::Result<()> {
    let full_user = startup.param("user").unwrap_or_default();
    let user = client_text(full_user);
    let database = client_text(startup.param("database").unwrap_or(full_user));
    shared.record(
        peer,
        full_user,
        startup.param("database"),
        false,
        LoginOutcome::Rejected(Rejection::NoTls),
    );
    let message = format!(
        "no pg_hba.conf entry for host \"{}\", user \"{user}\", database \"{database}\", no encryption",
        peer.ip()
    );
    send_error(&mut stream, INVALID_AUTHORIZATION, &message).await?;
    // Only a complete, well-formed PasswordMessage counts (not any byte `p`).
    if let Ok(Ok(Some(_))) =
        tokio::time::timeout(PLAINTEXT_WATCH, wire::read_password(&mut stream)).await
    {
        shared.count_plaintext_password(peer);
    }
    Ok(())
}

async fn login<S>(
    mut stream: S,
    peer: SocketAddr,
    startup: Startup,
    shared: &Shared,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(user) = startup.param("user").map(str::to_owned) else {
        shared.record(
            peer,
            "",
            startup.param("database"),
            true,
            LoginOutcome::Rejected(Rejection::Malformed("no user name in the startup packet")),
        );
        return send_error(
            &mut stream,
            INVALID_AUTHORIZATION,
            "no PostgreSQL user name specified in startup packet",
        )
        .await;
    };
    let database = startup.param("database").map(str::to_owned);

    let mut out = BytesMut::new();
    let protocol_options: Vec<&str> = startup
        .params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("_pq_."))
        .collect();
    if startup.minor_version != 0 || !protocol_options.is_empty() {
        wire::negotiate_protocol_version(&mut out, &protocol_options);
    }
    wire::authentication_cleartext_password(&mut out);
    stream.write_all(&out).await?;
    stream.flush().await?;

    let shown = client_text(&user);
    let password = shared.stage(peer, "the password", wire::read_password(&mut stream));
    let Some(password) = password.await? else {
        tracing::debug!(target: "rds_iam_emulator", %peer, user = %shown, "client closed before sending a password");
        return Ok(());
    };
    let verdict = match std::str::from_utf8(&password) {
        Ok(token) => shared.verifier.verify(token, &user).map(|_| ()),
        Err(_) => Err(Rejection::Malformed("the password is not UTF-8")),
    };
    if let Err(rejection) = verdict {
        shared.record(
            peer,
            &user,
            database.as_deref(),
            true,
            LoginOutcome::Rejected(rejection),
        );
        let message = format!("PAM authentication failed for user \"{shown}\"");
        return send_error(&mut stream, INVALID_AUTHORIZATION, &message).await;
    }

    let backend_user = shared
        .config
        .backend_user
        .clone()
        .unwrap_or_else(|| user.clone());
    let params: Vec<(String, String)> = startup
        .params
        .iter()
        .filter(|(k, _)| k != "user" && !k.starts_with("_pq_."))
        .cloned()
        .chain([("user".to_owned(), backend_user)])
        .collect();
    let backend_login = backend::login(
        shared.config.backend,
        &params,
        shared.config.backend_password.as_ref(),
    );
    let result = tokio::time::timeout(shared.config.handshake_timeout, backend_login)
        .await
        .unwrap_or_else(|_| Err(backend::BackendLoginError::timed_out()));
    let result = match result {
        Ok(mut session) if shared.config.require_rds_iam => {
            let check = backend::is_rds_iam_member(&mut session);
            match tokio::time::timeout(shared.config.handshake_timeout, check).await {
                Ok(Ok(true)) => Ok(session),
                outcome => {
                    if let Ok(Err(e)) = &outcome {
                        tracing::warn!(target: "rds_iam_emulator", %peer, user = %shown, error = %e, "the rds_iam check failed");
                    }
                    shared.record(
                        peer,
                        &user,
                        database.as_deref(),
                        true,
                        LoginOutcome::Rejected(Rejection::NotRdsIamMember),
                    );
                    let message = format!("PAM authentication failed for user \"{shown}\"");
                    return send_error(&mut stream, INVALID_AUTHORIZATION, &message).await;
                }
            }
        }
        other => other,
    };
    match result {
        Ok(mut session) => {
            shared.record(
                peer,
                &user,
                database.as_deref(),
                true,
                LoginOutcome::Accepted,
            );
            stream.write_all(&session.pending).await?;
            stream.flush().await?;
            tokio::io::copy_bidirectional(&mut stream, &mut session.stream).await?;
            Ok(())
        }
        Err(error) => {
            tracing::warn!(target: "rds_iam_emulator", %peer, user = %shown, detail = %error.detail, "backend login failed");
            shared.record(
                peer,
                &user,
                database.as_deref(),
                true,
                LoginOutcome::BackendFailed(error.failure),
            );
            match error.error_response {
                Some(raw) => {
                    stream.write_all(&raw).await?;
                    stream.flush().await
                }
                None => {
                    send_error(
                        &mut stream,
                        CONNECTION_FAILURE,
                        "the emulator could not log in to its backend database",
                    )
                    .await
                }
            }
        }
    }
}

async fn send_error<S>(stream: &mut S, code: &str, message: &str) -> std::io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    wire::error_response(&mut out, "FATAL", code, message);
    stream.write_all(&out).await?;
    stream.flush().await?;
    stream.shutdown().await
}

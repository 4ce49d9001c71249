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
//! - A good token: the emulator logs in to the backend as that user (or the mapped
//!   user) and from `AuthenticationOk` on relays both directions unchanged, so
//!   `ParameterStatus`, `BackendKeyData`, queries and errors are the backend's own.
//! - A `CancelRequest` (plain or over TLS) is passed on to the backend.
//!
//! Not supported: direct TLS without `SSLRequest` (PostgreSQL 17 `sslnegotiation=direct`).

mod backend;
pub(super) mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{LoginOutcome, Rejection, Shared};
use wire::{Initial, Startup};

/// SQLSTATE `invalid_authorization_specification`, as RDS uses for both refusals.
const INVALID_AUTHORIZATION: &str = "28000";
/// SQLSTATE `protocol_violation`.
const PROTOCOL_VIOLATION: &str = "08P01";
/// SQLSTATE `connection_failure`, when the backend cannot be reached.
const CONNECTION_FAILURE: &str = "08006";
/// How long to watch a refused plaintext connection for a password sent anyway.
const PLAINTEXT_WATCH: Duration = Duration::from_millis(250);

/// Serve one client connection to its end.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    if let Err(error) = serve_plain(stream, peer, &shared).await {
        tracing::debug!(target: "rds_iam::emulator", %peer, %error, "connection ended with an error");
    }
}

async fn serve_plain(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    loop {
        let Some(initial) = wire::read_initial(&mut stream).await? else {
            return Ok(());
        };
        match initial {
            Initial::SslRequest => {
                stream.write_all(b"S").await?;
                let tls = shared
                    .tls
                    .accept(stream)
                    .await
                    .map_err(std::io::Error::other)?;
                return serve_tls(tls, peer, shared).await;
            }
            Initial::GssEncRequest => stream.write_all(b"N").await?,
            Initial::Cancel(key) => return backend::cancel(shared.config.backend, key).await,
            Initial::Startup(startup) => {
                return refuse_plaintext(stream, peer, &startup, shared).await;
            }
            Initial::PasswordMessage => {
                shared.count_plaintext_password(peer);
                return Ok(());
            }
            Initial::Unsupported => {
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
    match wire::read_initial(&mut stream).await? {
        None => Ok(()),
        Some(Initial::Startup(startup)) => login(stream, peer, startup, shared).await,
        Some(Initial::Cancel(key)) => backend::cancel(shared.config.backend, key).await,
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

/// A startup without TLS: refuse before asking for a password, as RDS with
/// `rds.force_ssl` does, and watch whether the client sends a password anyway.
async fn refuse_plaintext(
    mut stream: TcpStream,
    peer: SocketAddr,
    startup: &Startup,
    shared: &Shared,
) -> std::io::Result<()> {
    let user = startup.param("user").unwrap_or_default();
    let database = startup.param("database").unwrap_or(user);
    shared.record(
        peer,
        user,
        startup.param("database"),
        false,
        LoginOutcome::Rejected(Rejection::NoTls),
    );
    let message = format!(
        "no pg_hba.conf entry for host \"{}\", user \"{user}\", database \"{database}\", no encryption",
        peer.ip()
    );
    send_error(&mut stream, INVALID_AUTHORIZATION, &message).await?;
    let mut first = [0u8; 1];
    if let Ok(Ok(1)) = tokio::time::timeout(PLAINTEXT_WATCH, stream.read(&mut first)).await
        && first[0] == b'p'
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

    let Some(password) = wire::read_password(&mut stream).await? else {
        tracing::debug!(target: "rds_iam::emulator", %peer, user, "client closed before sending a password");
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
        let message = format!("PAM authentication failed for user \"{user}\"");
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
    match backend::login(
        shared.config.backend,
        &params,
        shared.config.backend_password.as_ref(),
    )
    .await
    {
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
            tracing::warn!(target: "rds_iam::emulator", %peer, user, detail = %error.detail, "backend login failed");
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

//! A PostgreSQL client of the proxy: its start-up (an `SSLRequest` is answered `N`: the proxy
//! is the TLS end), the IAM login to the server as the user it names, then the relay. The
//! client is never asked for a password; it sees the server's own `AuthenticationOk`,
//! parameters, backend key and errors.

use std::sync::Arc;

use bytes::BytesMut;
use rds_iam_wire::postgres::{self as wire, Initial, Startup};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::metrics::FailureCause;
use super::{Peer, Permit, State, describe};
use crate::connect::login;
use crate::jdbc::Engine;

/// SQLSTATE `invalid_authorization_specification`.
const INVALID_AUTHORIZATION: &str = "28000";
/// SQLSTATE `protocol_violation`.
const PROTOCOL_VIOLATION: &str = "08P01";
/// SQLSTATE `connection_failure`.
const CONNECTION_FAILURE: &str = "08006";
/// SQLSTATE `too_many_connections`.
const TOO_MANY_CONNECTIONS: &str = "53300";

/// Serve one client to its end. `permit` is `None` when the connection limit is reached: the
/// client is told so after its start-up, as PostgreSQL does.
pub(super) async fn serve<C>(state: Arc<State>, mut client: C, peer: Peer, permit: Option<Permit>)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let peer = &peer;
    let startup = match tokio::time::timeout(state.handshake_timeout, startup(&mut client)).await {
        Ok(Ok(Some(startup))) => startup,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, error = %e, "dropped a client that sent no PostgreSQL start-up");
            let _ = send_error(
                &mut client,
                PROTOCOL_VIOLATION,
                "rds-iam proxy: expected a PostgreSQL start-up message",
            )
            .await;
            return;
        }
        Err(_) => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, after = ?state.handshake_timeout, "dropped a client that sent no start-up in time");
            return;
        }
    };
    let startup = match startup {
        First::Startup(startup) => startup,
        First::Cancel(key) => return cancel(&state, peer, key).await,
    };
    let Some(permit) = permit else {
        state.counters.failed(FailureCause::TooManyConnections);
        tracing::warn!(target: "rds_iam::proxy", %peer, limit = state.max_connections, "refused a client: the connection limit is reached");
        let message = format!(
            "rds-iam proxy: sorry, too many clients already: the proxy's limit of {} connections \
             is reached; retry later, or raise the limit (max connections) of the proxy",
            state.max_connections.unwrap_or_default()
        );
        let _ = send_error(&mut client, TOO_MANY_CONNECTIONS, &message).await;
        return;
    };
    // The login's state (boxed) is freed before the relay: an idle session holds only its
    // streams and buffers.
    let Some((server, key)) = Box::pin(log_in(&state, &mut client, peer, startup)).await else {
        return;
    };
    // The key is forgotten when the session ends.
    let _forget = Forget(&state, key);
    super::relay_session(&state, peer, client, server, permit).await;
}

enum First {
    Startup(Startup),
    Cancel([u8; 8]),
}

/// Read initial packets up to the start-up message (or a cancel request). `Ok(None)`: the
/// client closed first.
async fn startup<C: AsyncRead + AsyncWrite + Unpin>(
    client: &mut C,
) -> std::io::Result<Option<First>> {
    let mut refused_tls = false;
    loop {
        let Some(initial) = wire::read_initial(client).await? else {
            if refused_tls {
                tracing::info!(
                    target: "rds_iam::proxy",
                    "a client asked for TLS and closed when refused: the proxy is the TLS end (it \
                     encrypts and verifies the connection to the database); connect to it with \
                     sslmode=disable or sslmode=prefer, not require or verify-*"
                );
            }
            return Ok(None);
        };
        match initial {
            Initial::SslRequest | Initial::GssEncRequest => {
                refused_tls = true;
                client.write_all(b"N").await?;
            }
            Initial::Startup(startup) => return Ok(Some(First::Startup(startup))),
            Initial::Cancel(key) => return Ok(Some(First::Cancel(key))),
            Initial::Unsupported => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not a PostgreSQL start-up (version 3)",
                ));
            }
        }
    }
}

/// Log in as the user `startup` names and pass the server's greeting on to `client`: the
/// server's stream and the session's backend key (registered for cancel requests), or `None`
/// when the client has been told why not.
async fn log_in<C: AsyncRead + AsyncWrite + Unpin>(
    state: &Arc<State>,
    client: &mut C,
    peer: &Peer,
    startup: Startup,
) -> Option<(super::upstream::Upstream, Option<[u8; 8]>)> {
    let user = startup.param("user").unwrap_or_default().to_owned();
    if !state.allows(&user) {
        state.counters.failed(FailureCause::UserNotAllowed);
        tracing::warn!(target: "rds_iam::proxy", %peer, user = %user, "refused a client: it names a database user the proxy does not log in as");
        let message = format!(
            "rds-iam proxy: the proxy does not log in as user \"{user}\": it logs in only as {}; \
             connect as one of them, or allow this user when starting the proxy",
            state.allowed_list()
        );
        let _ = send_error(client, INVALID_AUTHORIZATION, &message).await;
        return None;
    }
    let mut params: Vec<(String, String)> = startup
        .params
        .iter()
        .filter(|(k, _)| !k.starts_with("_pq_."))
        .cloned()
        .collect();
    if startup.param("database").is_none()
        && let Some(database) = &state.default_database
    {
        params.push(("database".to_owned(), database.clone()));
    }
    let targets = state.targets_for(&user);
    let dialer = &state.dialer;
    let tokens = &state.tokens;
    let logging_in = login::each_target(&targets, |index, target| {
        let params = &params;
        async move {
            login::login(tokens, target, Engine::Postgresql, |token| {
                dialer.postgres_login(target, params, token)
            })
            .await
            .map(|session| (index, session))
        }
    });
    let result = match tokio::time::timeout(state.handshake_timeout, logging_in).await {
        Ok(result) => result,
        Err(_) => Err(state.timed_out(&targets)),
    };
    let (index, session) = match result {
        Ok(connected) => connected,
        Err(err) => {
            let cause = state.login_failed(peer, &user, &err);
            let _ = match super::upstream::server_refusal(&err) {
                Some(raw) => {
                    let raw = raw.to_vec();
                    async {
                        client.write_all(&raw).await?;
                        client.shutdown().await
                    }
                    .await
                }
                None => {
                    let code = match cause {
                        FailureCause::Rejected | FailureCause::Token => INVALID_AUTHORIZATION,
                        _ => CONNECTION_FAILURE,
                    };
                    send_error(client, code, &format!("rds-iam proxy: {}", describe(&err))).await
                }
            };
            return None;
        }
    };
    state.logged_in(peer, &user);
    tracing::debug!(target: "rds_iam::proxy", %peer, server = %targets[index], "logged in at");
    let mut hello = BytesMut::new();
    let options: Vec<&str> = startup
        .params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("_pq_."))
        .collect();
    if startup.minor_version != 0 || !options.is_empty() {
        // The server was asked for 3.0 without the options: say so to the client.
        wire::negotiate_protocol_version(&mut hello, &options);
    }
    hello.extend_from_slice(&session.pending);
    client.write_all(&hello).await.ok()?;
    let key = session.backend_key();
    if let Some(key) = key {
        state
            .cancel_keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, targets[index].clone());
    }
    Some((session.stream, key))
}

/// Removes a session's backend key when dropped.
struct Forget<'a>(&'a State, Option<[u8; 8]>);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.1 {
            self.0
                .cancel_keys
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        }
    }
}

/// Forward a cancel request to the server of the session whose backend key it carries (a
/// key no session has is ignored, as PostgreSQL does).
async fn cancel(state: &State, peer: &Peer, key: [u8; 8]) {
    let target = state
        .cancel_keys
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    let Some(target) = target else {
        tracing::debug!(target: "rds_iam::proxy", %peer, "ignored a cancel request for no session of the proxy");
        return;
    };
    let forwarding = state.dialer.postgres_cancel(&target, key);
    match tokio::time::timeout(state.handshake_timeout, forwarding).await {
        Ok(Ok(())) => {
            state
                .counters
                .cancels
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::debug!(target: "rds_iam::proxy", %peer, server = %target, "forwarded a cancel request");
        }
        Ok(Err(e)) => {
            tracing::warn!(target: "rds_iam::proxy", %peer, error = %describe(&e), "could not forward a cancel request")
        }
        Err(_) => {
            tracing::warn!(target: "rds_iam::proxy", %peer, "could not forward a cancel request in time")
        }
    }
}

/// A `FATAL` error response, then close.
async fn send_error<S: AsyncWrite + Unpin>(
    stream: &mut S,
    code: &str,
    message: &str,
) -> std::io::Result<()> {
    let mut out = BytesMut::new();
    wire::error_response(&mut out, "FATAL", code, message);
    stream.write_all(&out).await?;
    stream.flush().await?;
    stream.shutdown().await
}

//! A MySQL or MariaDB client of the proxy: the server's greeting read first (nothing sent to
//! it), the client greeted with the server's version and capabilities (without TLS: the
//! proxy is the TLS end) and a scramble of the proxy's own, the client's handshake response
//! read (any password in it is never used), then the IAM login to the server over verified
//! TLS with the client's capabilities, and the server's OK passed on before the relay.
//!
//! Capabilities and sequence ids line up: the client is offered the server's capabilities
//! less TLS and compression; the server is asked for those the client chose (plus TLS), so
//! both ends agree on the session's format; the OK is the client's packet 2 whatever the
//! server's number was, and every command after it starts again at 0 on both sides.

use std::sync::{Arc, Mutex};

use rds_iam_wire::mysql::{self as wire, PacketStream};
use rds_iam_wire::mysql_common::constants::CapabilityFlags;
use rds_iam_wire::mysql_common::packets::HandshakeResponse;
use rds_iam_wire::mysql_common::proto::MySerialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::metrics::FailureCause;
use super::upstream::{Greeted, MySqlClient};
use super::{Peer, Permit, State, describe};
use crate::connect::ConnectError;
use crate::connect::login;

/// `ER_CON_COUNT_ERROR`.
const TOO_MANY_CONNECTIONS: u16 = 1040;
/// `ER_ACCESS_DENIED_ERROR`, SQLSTATE `28000`.
const ACCESS_DENIED: u16 = 1045;
const INVALID_AUTHORIZATION: &[u8; 5] = b"28000";
/// `ER_HANDSHAKE_ERROR`, SQLSTATE `08S01`.
const HANDSHAKE_ERROR: u16 = 1043;
const COMMUNICATION_ERROR: &[u8; 5] = b"08S01";
/// `CR_CONN_HOST_ERROR` ("Can't connect to MySQL server"), as MySQL Router sends it when it
/// cannot reach its server.
const CONNECTION_FAILURE: u16 = 2003;

/// How long a server connection that has greeted is used for the login: MySQL and MariaDB
/// drop a handshake after `connect_timeout` (10 s by default); a client slower than this is
/// logged in over a new connection.
const FRESH_GREETING: std::time::Duration = std::time::Duration::from_secs(5);

/// Serve one client to its end. `permit` is `None` when the connection limit is reached: the
/// client gets MySQL's "too many connections" at once, instead of a greeting.
pub(super) async fn serve<C>(state: Arc<State>, client: C, peer: Peer, permit: Option<Permit>)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let peer = &peer;
    let mut client = PacketStream::new(client);
    let Some(permit) = permit else {
        state.counters.failed(FailureCause::TooManyConnections);
        tracing::warn!(target: "rds_iam::proxy", %peer, limit = state.max_connections, "refused a client: the connection limit is reached");
        let message = format!(
            "rds-iam proxy: Too many connections: the proxy's limit of {} connections is \
             reached; retry later, or raise the limit (max connections) of the proxy",
            state.max_connections.unwrap_or_default()
        );
        let err = wire::err_packet_before_handshake(TOO_MANY_CONNECTIONS, &message);
        let _ = close_with(&mut client, &err).await;
        return;
    };

    // The login's state (boxed) is freed before the relay: an idle session holds only its
    // streams and buffers.
    let Some(server) = Box::pin(log_in(&state, &mut client, peer)).await else {
        return;
    };
    let (client, _) = client.into_parts();
    super::relay_session(&state, peer, client, server, permit).await;
}

/// Greet `client` with the server's greeting, read its handshake response, log in as the
/// user it names and pass the server's OK on: the server's stream, or `None` when the client
/// has been told why not.
async fn log_in<C>(
    state: &Arc<State>,
    client: &mut PacketStream<C>,
    peer: &Peer,
) -> Option<super::upstream::Upstream>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    // The server's greeting, from the first host that greets: nothing is sent to it.
    let greeting = login::each_target(&state.targets, |index, target| {
        let dialer = &state.dialer;
        async move { dialer.mysql_greeted(target).await.map(|g| (index, g)) }
    });
    let greeted = match tokio::time::timeout(state.handshake_timeout, greeting).await {
        Ok(result) => result,
        Err(_) => Err(state.timed_out(&state.targets)),
    };
    let (index, greeted) = match greeted {
        Ok(greeted) => greeted,
        Err(err) => {
            let cause = state.login_failed(peer, "", &err);
            let code = match cause {
                FailureCause::Server => HANDSHAKE_ERROR,
                _ => CONNECTION_FAILURE,
            };
            let message = format!("rds-iam proxy: {}", describe(&err));
            let _ = close_with(client, &wire::err_packet_before_handshake(code, &message)).await;
            return None;
        }
    };
    let offered = greeted.greeting.capabilities() - wire::NOT_OFFERED - CapabilityFlags::CLIENT_SSL;
    let hello =
        wire::greeting_for_client(&greeted.greeting, offered, greeted.greeting.connection_id());
    client.write_packet(&hello).await.ok()?;

    let response = match tokio::time::timeout(state.handshake_timeout, client.read()).await {
        Ok(Ok(Some(response))) => response,
        Ok(Ok(None)) => return None,
        Ok(Err(e)) => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, error = %e, "dropped a client that sent no MySQL handshake response");
            return None;
        }
        Err(_) => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, after = ?state.handshake_timeout, "dropped a client that sent no handshake response in time");
            return None;
        }
    };
    let parsed = wire::parse::<HandshakeResponse<'_>>(&response, ());
    let refuse = |text: &str| wire::err_packet(HANDSHAKE_ERROR, COMMUNICATION_ERROR, text);
    let user = match parsed {
        _ if wire::is_ssl_request(&response) => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, "a client asked for TLS: the proxy is the TLS end");
            let err = refuse(
                "rds-iam proxy: the proxy is the TLS end (it encrypts and verifies the \
                 connection to the database): connect to it without TLS (--ssl=0, \
                 sslMode=disable)",
            );
            let _ = close_with(client, &err).await;
            return None;
        }
        Ok(parsed)
            if parsed
                .capabilities()
                .contains(CapabilityFlags::CLIENT_PROTOCOL_41) =>
        {
            String::from_utf8_lossy(parsed.user()).into_owned()
        }
        _ => {
            state.counters.failed(FailureCause::Client);
            tracing::info!(target: "rds_iam::proxy", %peer, "dropped a client whose handshake response is not MySQL 4.1's");
            let _ = close_with(client, &refuse("rds-iam proxy: Bad handshake")).await;
            return None;
        }
    };
    if !state.allows(&user) {
        state.counters.failed(FailureCause::UserNotAllowed);
        tracing::warn!(target: "rds_iam::proxy", %peer, user = %user, "refused a client: it names a database user the proxy does not log in as");
        let message = format!(
            "rds-iam proxy: Access denied: the proxy does not log in as user '{user}': it logs \
             in only as {}; connect as one of them, or allow this user when starting the proxy",
            state.allowed_list()
        );
        let err = wire::err_packet(ACCESS_DENIED, INVALID_AUTHORIZATION, &message);
        let _ = close_with(client, &err).await;
        return None;
    }

    let request = MySqlClient {
        user: user.clone(),
        response,
        offered,
    };
    let targets = state.targets_for(&user);
    let pending = Mutex::new(Some(greeted));
    let dialer = &state.dialer;
    let tokens = &state.tokens;
    let engine = state.engine;
    let logging_in = login::each_target(&targets[index..], |_, target| {
        let (request, pending) = (&request, &pending);
        async move {
            login::login(tokens, target, engine, |token| {
                // The first attempt goes on with the connection that greeted the client, unless
                // the client took so long that the server may have given up on it.
                let greeted: Option<Greeted> = pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .filter(|g| g.at.elapsed() < FRESH_GREETING);
                dialer.mysql_login(target, greeted, request, token)
            })
            .await
        }
    });
    let result = match tokio::time::timeout(state.handshake_timeout, logging_in).await {
        Ok(result) => result,
        Err(_) => Err(state.timed_out(&targets)),
    };
    let session = match result {
        Ok(session) => session,
        Err(err) => {
            let cause = state.login_failed(peer, &user, &err);
            let err = match super::upstream::server_refusal(&err) {
                Some(raw) => raw.to_vec(),
                None => {
                    let message = format!("rds-iam proxy: {}", describe(&err));
                    match cause {
                        FailureCause::Rejected | FailureCause::Token => {
                            wire::err_packet(ACCESS_DENIED, INVALID_AUTHORIZATION, &message)
                        }
                        _ => wire::err_packet(CONNECTION_FAILURE, b"08S01", &message),
                    }
                }
            };
            let _ = close_with(client, &err).await;
            return None;
        }
    };
    state.logged_in(peer, &user);
    client.write(&session.ok).await.ok()?;
    Some(session.stream)
}

/// One full IAM login as `user` (to the URL's database), then log out: the proxy's
/// `test_login` for MySQL.
pub(super) async fn test_login(state: &State, user: &str) -> Result<(), ConnectError> {
    let capabilities = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB;
    let mut response = Vec::new();
    HandshakeResponse::new(
        None::<Vec<u8>>,
        (8, 0, 0),
        Some(user.as_bytes()),
        state.default_database.as_deref().map(str::as_bytes),
        None,
        capabilities,
        None,
        1 << 24,
    )
    .serialize(&mut response);
    let request = MySqlClient {
        user: user.to_owned(),
        response,
        offered: capabilities,
    };
    let targets = state.targets_for(user);
    let session = login::each_target(&targets, |_, target| {
        let request = &request;
        login::login(&state.tokens, target, state.engine, move |token| {
            state.dialer.mysql_login(target, None, request, token)
        })
    })
    .await?;
    let mut stream = session.stream;
    // COM_QUIT.
    let _ = stream.write_all(&wire::frame(0, &[0x01])).await;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Write one packet (an ERR) and close.
async fn close_with<S: AsyncRead + AsyncWrite + Unpin>(
    client: &mut PacketStream<S>,
    payload: &[u8],
) -> std::io::Result<()> {
    client.write(payload).await?;
    client.stream.shutdown().await
}

/// The greeting the client gets is the server's but for TLS, compression and the scramble.
#[cfg(test)]
mod tests {
    use super::*;
    use rds_iam_wire::mysql_common::constants::StatusFlags;
    use rds_iam_wire::mysql_common::packets::{AuthPlugin, HandshakePacket};

    #[test]
    fn the_client_is_offered_the_servers_capabilities_without_tls() {
        let server = HandshakePacket::new(
            10,
            b"8.0.39".to_vec(),
            77,
            *b"12345678",
            Some(b"9abcdefghijk\0".to_vec()),
            CapabilityFlags::CLIENT_PROTOCOL_41
                | CapabilityFlags::CLIENT_SECURE_CONNECTION
                | CapabilityFlags::CLIENT_SSL
                | CapabilityFlags::CLIENT_COMPRESS
                | CapabilityFlags::CLIENT_DEPRECATE_EOF
                | CapabilityFlags::CLIENT_PLUGIN_AUTH,
            255,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(b"caching_sha2_password".to_vec()),
        );
        let offered = server.capabilities() - wire::NOT_OFFERED - CapabilityFlags::CLIENT_SSL;
        let mut bytes = Vec::new();
        wire::greeting_for_client(&server, offered, server.connection_id()).serialize(&mut bytes);
        let hello = wire::parse::<HandshakePacket<'_>>(&bytes, ()).unwrap();
        assert_eq!(hello.server_version_ref(), b"8.0.39");
        assert_eq!(hello.connection_id(), 77);
        assert!(
            hello
                .capabilities()
                .contains(CapabilityFlags::CLIENT_DEPRECATE_EOF)
        );
        assert!(
            !hello
                .capabilities()
                .intersects(CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_COMPRESS)
        );
        assert_eq!(hello.auth_plugin(), Some(AuthPlugin::MysqlNativePassword));
        assert_ne!(hello.nonce(), server.nonce());
    }
}

//! The MySQL front end (MariaDB, MySQL, Aurora MySQL): TLS first, then the token by
//! `mysql_clear_password`, then a relay to the real backend.
//!
//! What a client sees, as with an RDS user `IDENTIFIED WITH AWSAuthenticationPlugin`:
//! - The greeting is the backend's own (server version, connection id, character
//!   set, status, capabilities without compression), plus `CLIENT_SSL`. The emulator
//!   connects to the backend before greeting the client, so the capabilities the
//!   client agrees to are ones the backend has too, and once logged in the session
//!   is relayed byte for byte (`KILL QUERY <connection id>` from another
//!   connection reaches the right backend session too). The greeting names
//!   `mysql_native_password` with a fresh scramble of the emulator's own.
//! - A client that sends its `HandshakeResponse` without an `SslRequest` first is
//!   refused at once with `ERROR 1045 (28000): Access denied for user
//!   '<user>'@'<client address>' (using password: YES|NO)`: never asked for the
//!   token. (1045 rather than MySQL 8's 3159 "insecure transport": an IAM login
//!   refused is an access denied, and MariaDB itself answers 1045 to a plaintext
//!   login under `require_secure_transport`.) If that response carried a
//!   `mysql_clear_password` password anyway, or the client sends another packet
//!   after the refusal, it is counted as a plaintext password.
//! - Over TLS the client's first authentication answer is not used: it gets an
//!   `AuthSwitchRequest` to `mysql_clear_password` and sends the token (a client that
//!   already chose `mysql_clear_password` is not asked again). A bad token gets
//!   `ERROR 1045 (28000): Access denied for user '<user>'@'<client address>' (using
//!   password: YES)`.
//! - A good token: the emulator logs in to the backend as that user (or the mapped
//!   user) with the backend password, the database, the connection attributes and
//!   the character set the client asked for; the backend's OK (or its error) goes to
//!   the client, and from there on both directions are relayed unchanged.
//!
//! Not supported: clients without `CLIENT_PROTOCOL_41` / `CLIENT_PLUGIN_AUTH`
//! (anything older than MySQL 5.5), the compressed protocol (not offered), and a
//! backend that needs TLS on the emulator's own link to it.

mod backend;
pub(super) mod wire;

use std::net::SocketAddr;
use std::time::Duration;

use mysql_common::constants::{CapabilityFlags, MariadbCapabilities};
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::{LoginOutcome, Rejection, Shared};
use backend::{Backend, Greeting, LoginRequest};
use wire::PacketStream;

/// `ER_ACCESS_DENIED_ERROR`, SQLSTATE `28000`: RDS's answer to a bad IAM login.
const ACCESS_DENIED: u16 = 1045;
const INVALID_AUTHORIZATION: &[u8; 5] = b"28000";
/// `ER_HANDSHAKE_ERROR`, SQLSTATE `08S01`: a handshake the emulator cannot serve.
const HANDSHAKE_ERROR: u16 = 1043;
const COMMUNICATION_ERROR: &[u8; 5] = b"08S01";
/// How long to watch a refused plaintext connection for a password sent anyway.
const PLAINTEXT_WATCH: Duration = Duration::from_millis(250);

/// Capabilities never offered to the client: the compressed protocols (the relay
/// would have to start compressing mid-stream) and flags only clients set.
const NOT_OFFERED: CapabilityFlags = CapabilityFlags::CLIENT_COMPRESS
    .union(CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM)
    .union(CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT)
    .union(CapabilityFlags::CLIENT_REMEMBER_OPTIONS);

/// Serve one client connection to its end.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: std::sync::Arc<Shared>) {
    if let Err(error) = serve_plain(stream, peer, &shared).await {
        tracing::debug!(target: "rds_iam::emulator", %peer, %error, "connection ended with an error");
    }
}

async fn serve_plain(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> std::io::Result<()> {
    let mut client = PacketStream::new(stream);
    let mut backend = match backend::connect(shared.config.backend).await {
        Ok(Greeting::Ready(backend)) => backend,
        Ok(Greeting::Refused(err)) => {
            tracing::warn!(target: "rds_iam::emulator", %peer, "the backend refused the connection before login");
            return client.write(&err).await;
        }
        Err(error) => {
            tracing::warn!(target: "rds_iam::emulator", %peer, detail = %error.detail, "backend not available");
            let message = "the emulator could not reach its backend database";
            return client
                .write(&wire::err_packet_before_handshake(HANDSHAKE_ERROR, message))
                .await;
        }
    };
    let offered = offered_capabilities(&backend.greeting);
    client
        .write_packet(&greeting_for_client(&backend.greeting, offered))
        .await?;

    let Some(first) = client.read().await? else {
        return Ok(());
    };
    if !wire::is_ssl_request(&first) {
        return refuse_plaintext(client, peer, &first, shared).await;
    }
    let (stream, codec) = client.into_parts();
    let tls = shared
        .tls
        .accept(stream)
        .await
        .map_err(std::io::Error::other)?;
    let mut client = PacketStream::from_parts(tls, codec);
    let Some(response) = client.read().await? else {
        return Ok(());
    };
    login(client, &mut backend, offered, peer, &response, shared).await
}

/// What the client is offered: the backend's capabilities, minus compression and
/// client-only flags, plus TLS (which the emulator serves itself).
fn offered_capabilities(backend: &HandshakePacket<'_>) -> CapabilityFlags {
    (backend.capabilities() - NOT_OFFERED) | CapabilityFlags::CLIENT_SSL
}

fn greeting_for_client(
    backend: &HandshakePacket<'_>,
    offered: CapabilityFlags,
) -> HandshakePacket<'static> {
    let scramble = wire::scramble();
    let mut scramble_1 = [0u8; 8];
    scramble_1.copy_from_slice(&scramble[..8]);
    // The second part is NUL-terminated, as servers send it (8 + 13 = 21 bytes).
    let mut scramble_2 = scramble[8..].to_vec();
    scramble_2.push(0);
    HandshakePacket::new(
        backend.protocol_version(),
        backend.server_version_ref().to_vec(),
        backend.connection_id(),
        scramble_1,
        Some(scramble_2),
        offered,
        backend.default_collation(),
        backend.status_flags(),
        Some(AuthPlugin::MysqlNativePassword.as_bytes().to_vec()),
    )
    .with_mariadb_ext_capabilities(backend.mariadb_ext_capabilities())
}

fn access_denied(user: &str, peer: SocketAddr, using_password: bool) -> Vec<u8> {
    let message = format!(
        "Access denied for user '{user}'@'{}' (using password: {})",
        peer.ip(),
        if using_password { "YES" } else { "NO" }
    );
    wire::err_packet(ACCESS_DENIED, INVALID_AUTHORIZATION, &message)
}

/// A `HandshakeResponse` without TLS: refuse before asking for the token, and
/// count a password the client sent anyway.
async fn refuse_plaintext(
    mut client: PacketStream<TcpStream>,
    peer: SocketAddr,
    payload: &[u8],
    shared: &Shared,
) -> std::io::Result<()> {
    let response = wire::parse::<HandshakeResponse<'_>>(payload, ()).ok();
    let user = response
        .as_ref()
        .map(|r| String::from_utf8_lossy(r.user()).into_owned())
        .unwrap_or_default();
    let database = response
        .as_ref()
        .and_then(|r| r.db_name())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let auth_data = response.as_ref().map_or(&[][..], |r| r.scramble_buf());
    let cleartext = response
        .as_ref()
        .is_some_and(|r| r.auth_plugin() == Some(&AuthPlugin::MysqlClearPassword));
    if cleartext && !auth_data.iter().all(|&b| b == 0) {
        shared.count_plaintext_password(peer);
    }
    shared.record(
        peer,
        &user,
        database.as_deref(),
        false,
        LoginOutcome::Rejected(Rejection::NoTls),
    );
    client
        .write(&access_denied(&user, peer, !auth_data.is_empty()))
        .await?;
    // Whatever comes next could only be an answer to an authentication request
    // the client was never sent: a password.
    if let Ok(Ok(Some(packet))) = tokio::time::timeout(PLAINTEXT_WATCH, client.read()).await
        && !packet.is_empty()
    {
        shared.count_plaintext_password(peer);
    }
    Ok(())
}

async fn login<S>(
    mut client: PacketStream<S>,
    backend: &mut Backend,
    offered: CapabilityFlags,
    peer: SocketAddr,
    payload: &[u8],
    shared: &Shared,
) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let response = match wire::parse::<HandshakeResponse<'_>>(payload, ()) {
        Ok(response) => response,
        Err(_) => {
            shared.record(
                peer,
                "",
                None,
                true,
                LoginOutcome::Rejected(Rejection::Malformed("the handshake response is malformed")),
            );
            let err = wire::err_packet(HANDSHAKE_ERROR, COMMUNICATION_ERROR, "Bad handshake");
            return client.write(&err).await;
        }
    };
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let database = response
        .db_name()
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let capabilities = response.capabilities();
    let needed = CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    if !capabilities.contains(needed) {
        shared.record(
            peer,
            &user,
            database.as_deref(),
            true,
            LoginOutcome::Rejected(Rejection::Malformed(
                "the client cannot switch authentication plugins (no CLIENT_PLUGIN_AUTH)",
            )),
        );
        return client.write(&access_denied(&user, peer, true)).await;
    }

    let token = match response.auth_plugin() {
        Some(AuthPlugin::MysqlClearPassword) if !response.scramble_buf().is_empty() => {
            response.scramble_buf().to_vec()
        }
        _ => {
            let switch = AuthSwitchRequest::new(AuthPlugin::MysqlClearPassword.as_bytes(), &[][..]);
            client.write_packet(&switch).await?;
            match client.read().await? {
                Some(token) => token,
                None => {
                    tracing::debug!(target: "rds_iam::emulator", %peer, user, "client closed before sending the token");
                    return Ok(());
                }
            }
        }
    };
    let token = token.strip_suffix(&[0]).unwrap_or(&token);
    let verdict = match std::str::from_utf8(token) {
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
        return client.write(&access_denied(&user, peer, true)).await;
    }

    let backend_user = shared.config.backend_user.as_deref().unwrap_or(&user);
    let mut max_packet_and_collation = [0u8; 5];
    max_packet_and_collation.copy_from_slice(&payload[4..9]);
    // MariaDB's extended capabilities are only in play when the client does not
    // claim to be MySQL (bit 0 clear), as in the backend's greeting.
    let mariadb_capabilities = if capabilities.contains(CapabilityFlags::CLIENT_LONG_PASSWORD) {
        MariadbCapabilities::empty()
    } else {
        response.mariadb_ext_capabilities() & backend.greeting.mariadb_ext_capabilities()
    };
    let request = LoginRequest {
        user: backend_user,
        database: response.db_name(),
        capabilities: (capabilities & offered) - CapabilityFlags::CLIENT_SSL,
        mariadb_capabilities,
        attributes: response.connect_attributes(),
        max_packet_and_collation,
    };
    match backend::login(backend, request, shared.config.backend_password.as_ref()).await {
        Ok(ok) => {
            shared.record(
                peer,
                &user,
                database.as_deref(),
                true,
                LoginOutcome::Accepted,
            );
            client.write(&ok).await?;
            let (mut client, _) = client.into_parts();
            let backend_stream = &mut backend.conn.stream;
            tokio::io::copy_bidirectional(&mut client, backend_stream).await?;
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
            let err = error.err_packet.unwrap_or_else(|| {
                wire::err_packet(
                    HANDSHAKE_ERROR,
                    COMMUNICATION_ERROR,
                    "the emulator could not log in to its backend database",
                )
            });
            client.write(&err).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::StatusFlags;
    use mysql_common::proto::MySerialize;

    fn backend_greeting() -> HandshakePacket<'static> {
        HandshakePacket::new(
            10,
            b"5.5.5-10.11.19-MariaDB".to_vec(),
            42,
            *b"12345678",
            Some(b"9abcdefghijk\0".to_vec()),
            CapabilityFlags::CLIENT_PROTOCOL_41
                | CapabilityFlags::CLIENT_SECURE_CONNECTION
                | CapabilityFlags::CLIENT_PLUGIN_AUTH
                | CapabilityFlags::CLIENT_COMPRESS
                | CapabilityFlags::CLIENT_CONNECT_ATTRS
                | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT,
            45,
            StatusFlags::SERVER_STATUS_AUTOCOMMIT,
            Some(b"mysql_native_password".to_vec()),
        )
        .with_mariadb_ext_capabilities(MariadbCapabilities::MARIADB_CLIENT_PROGRESS)
    }

    #[test]
    fn client_greeting_is_the_backends_with_tls_and_without_compression() {
        let backend = backend_greeting();
        let offered = offered_capabilities(&backend);
        assert!(
            offered.contains(CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_CONNECT_ATTRS)
        );
        assert!(!offered.intersects(
            CapabilityFlags::CLIENT_COMPRESS | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT
        ));
        let mut bytes = Vec::new();
        greeting_for_client(&backend, offered).serialize(&mut bytes);
        let parsed = wire::parse::<HandshakePacket<'_>>(&bytes, ()).unwrap();
        assert_eq!(parsed.server_version_ref(), backend.server_version_ref());
        assert_eq!(parsed.connection_id(), 42);
        assert_eq!(parsed.capabilities(), offered);
        assert_eq!(parsed.default_collation(), 45);
        assert_eq!(parsed.status_flags(), StatusFlags::SERVER_STATUS_AUTOCOMMIT);
        assert_eq!(
            parsed.mariadb_ext_capabilities(),
            MariadbCapabilities::MARIADB_CLIENT_PROGRESS
        );
        assert_eq!(parsed.auth_plugin(), Some(AuthPlugin::MysqlNativePassword));
        // The emulator's own scramble, not the backend's.
        assert_eq!(parsed.nonce().len(), 20);
        assert_ne!(parsed.nonce(), backend.nonce());
    }

    #[test]
    fn access_denied_reads_like_mysql() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let payload = access_denied("jane_doe", peer, true);
        assert_eq!(
            wire::err_code(&payload, CapabilityFlags::CLIENT_PROTOCOL_41),
            Some((1045, "28000".to_owned()))
        );
        assert!(
            String::from_utf8_lossy(&payload)
                .ends_with("Access denied for user 'jane_doe'@'127.0.0.1' (using password: YES)")
        );
        assert!(
            String::from_utf8_lossy(&access_denied("u", peer, false))
                .ends_with("(using password: NO)")
        );
    }
}

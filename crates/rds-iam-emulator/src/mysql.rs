//! The MySQL front end (MariaDB, MySQL, Aurora MySQL): TLS first, then the token by
//! `mysql_clear_password`, then a relay to the real backend.
//!
//! What a client sees, as with an RDS user `IDENTIFIED WITH AWSAuthenticationPlugin`:
//! - The greeting is the emulator's own, made from the backend's: the emulator learns
//!   the backend's server version, capabilities, character set and status once (it
//!   connects, reads the greeting and closes; again on the next client while that
//!   fails) and greets every client with them, minus compression and client-only
//!   flags, plus `CLIENT_SSL`. The greeting names `mysql_native_password` with a
//!   fresh scramble of the emulator's own.
//! - The backend connection is opened only once the token is verified, so clients
//!   that never log in use no backend connection, and a slow client cannot run into
//!   the backend's own handshake timeout (`connect_timeout`).
//! - So the connection id in the greeting is not a backend session's: the emulator
//!   numbers its connections from 1 000 000 000 up, a range no backend session id
//!   reaches. `CONNECTION_ID()` returns the backend session's id. `KILL [QUERY |
//!   CONNECTION] <id>` (also MariaDB's `HARD`/`SOFT`) sent as a whole statement by a
//!   logged-in client is passed on with the greeting id of another logged-in session
//!   of this emulator replaced by that session's backend id, so both ids work, as
//!   with ProxySQL or MaxScale (statements that only contain a `KILL` among others,
//!   or after a comment, are passed on unchanged).
//! - A client that sends its `HandshakeResponse` without an `SslRequest` first is
//!   refused at once with `ERROR 1045 (28000): Access denied for user
//!   '<user>'@'<client address>' (using password: YES|NO)`: never asked for the
//!   token. (1045 rather than MySQL 8's 3159 "insecure transport": an IAM login
//!   refused is an access denied, and MariaDB itself answers 1045 to a plaintext
//!   login under `require_secure_transport`.) If that response is well formed and
//!   carries a `mysql_clear_password` password, it is counted as a plaintext password.
//! - Over TLS the client's first authentication answer is not used: it gets an
//!   `AuthSwitchRequest` to `mysql_clear_password` and sends the token (a client that
//!   already chose `mysql_clear_password` is not asked again). A bad token gets
//!   `ERROR 1045 (28000): Access denied for user '<user>'@'<client address>' (using
//!   password: YES)`.
//! - A good token: the emulator logs in to the backend as that user (or the mapped
//!   user) with the backend password, the database, the connection attributes and
//!   the character set the client asked for; the backend's OK (or its error) goes to
//!   the client, and from there on both directions are relayed unchanged (but for
//!   the `KILL` ids above).
//! - Each step before the login completes has the handshake timeout; a connection
//!   over the connection limit gets `ERROR 1040 Too many connections` at once.
//!
//! Not supported: clients without `CLIENT_PROTOCOL_41` / `CLIENT_PLUGIN_AUTH`
//! (anything older than MySQL 5.5), the compressed protocol (not offered), and a
//! backend that needs TLS on the emulator's own link to it.

mod backend;
mod relay;
pub(super) use rds_iam_wire::mysql as wire;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::OnceCell;

use super::{LoginOutcome, Rejection, Shared, client_text};
use backend::BackendLoginError;
use wire::{LoginRequest, PacketStream};

/// `ER_ACCESS_DENIED_ERROR`, SQLSTATE `28000`: RDS's answer to a bad IAM login.
const ACCESS_DENIED: u16 = 1045;
const INVALID_AUTHORIZATION: &[u8; 5] = b"28000";
/// `ER_HANDSHAKE_ERROR`, SQLSTATE `08S01`: a handshake the emulator cannot serve.
const HANDSHAKE_ERROR: u16 = 1043;
const COMMUNICATION_ERROR: &[u8; 5] = b"08S01";
/// `ER_CON_COUNT_ERROR`.
const TOO_MANY_CONNECTIONS: u16 = 1040;

/// The first connection id the emulator gives a client, and how many it uses before
/// starting over: ids stay below 2^31 (some clients keep them in a signed 32-bit
/// integer) and far above the ids of backend sessions, which count up from 1.
const FIRST_CONNECTION_ID: u32 = 1_000_000_000;
const CONNECTION_IDS: u32 = 1_000_000_000;

/// What the MySQL front end shares between connections.
pub(crate) struct State {
    /// The backend's greeting, learned from the first connection that succeeds.
    profile: OnceCell<HandshakePacket<'static>>,
    /// How many connection ids were given out.
    issued: AtomicU32,
    /// The backend session id behind each logged-in client's connection id.
    sessions: Mutex<HashMap<u32, u32>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            profile: OnceCell::new(),
            issued: AtomicU32::new(0),
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

/// Why the backend's greeting could not be learned.
enum ProbeError {
    /// The backend answered with an ERR packet (too many connections, host blocked):
    /// for the client, as is.
    Refused(Vec<u8>),
    /// It could not be reached or spoke something else (what to log).
    Failed(String),
}

impl State {
    /// The backend's greeting: learned once, or again while that fails.
    async fn profile(&self, addr: SocketAddr) -> Result<&HandshakePacket<'static>, ProbeError> {
        self.profile
            .get_or_try_init(|| async {
                match backend::connect(addr).await {
                    Ok(backend::Greeting::Ready(backend)) => Ok(backend.greeting),
                    Ok(backend::Greeting::Refused(err)) => Err(ProbeError::Refused(err)),
                    Err(error) => Err(ProbeError::Failed(error.detail)),
                }
            })
            .await
    }

    fn next_connection_id(&self) -> u32 {
        FIRST_CONNECTION_ID + self.issued.fetch_add(1, Ordering::Relaxed) % CONNECTION_IDS
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<u32, u32>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The backend session behind a connection id the emulator gave a client.
    fn backend_session(&self, connection_id: u32) -> Option<u32> {
        self.sessions().get(&connection_id).copied()
    }
}

/// A logged-in session's entry in [`State::sessions`], removed when dropped.
struct Registered<'a> {
    state: &'a State,
    connection_id: u32,
}

impl<'a> Registered<'a> {
    fn new(state: &'a State, connection_id: u32, backend_session: u32) -> Self {
        state.sessions().insert(connection_id, backend_session);
        Self {
            state,
            connection_id,
        }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.state.sessions().remove(&self.connection_id);
    }
}

/// What a connection over the limit gets before it is closed, as MySQL sends it
/// instead of a greeting (a whole packet, sequence id 0).
pub(crate) fn too_many_connections() -> Vec<u8> {
    wire::frame(
        0,
        &wire::err_packet_before_handshake(TOO_MANY_CONNECTIONS, "Too many connections"),
    )
}

/// Serve one client connection to its end.
pub(crate) async fn serve(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    if let Err(error) = serve_plain(stream, peer, &shared).await {
        tracing::debug!(target: "rds_iam_emulator", %peer, %error, "connection ended with an error");
    }
}

async fn serve_plain(stream: TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let mut client = PacketStream::new(stream);
    let probe = shared.mysql.profile(shared.config.backend);
    let profile = match tokio::time::timeout(shared.config.handshake_timeout, probe).await {
        Ok(Ok(profile)) => profile,
        Ok(Err(ProbeError::Refused(err))) => {
            tracing::warn!(target: "rds_iam_emulator", %peer, "the backend refused the connection before login");
            return client.write(&err).await;
        }
        Ok(Err(ProbeError::Failed(detail))) => {
            tracing::warn!(target: "rds_iam_emulator", %peer, detail, "backend not available");
            return unreachable_backend(&mut client).await;
        }
        Err(_) => {
            tracing::warn!(target: "rds_iam_emulator", %peer, "the backend did not greet within the handshake timeout");
            return unreachable_backend(&mut client).await;
        }
    };
    let offered = offered_capabilities(profile);
    let connection_id = shared.mysql.next_connection_id();
    client
        .write_packet(&wire::greeting_for_client(profile, offered, connection_id))
        .await?;

    let Some(first) = shared.stage(peer, "the SSL request", client.read()).await? else {
        return Ok(());
    };
    if !wire::is_ssl_request(&first) {
        return refuse_plaintext(client, peer, &first, shared).await;
    }
    let (stream, codec) = client.into_parts();
    let handshake = async { shared.tls.accept(stream).await.map_err(io::Error::other) };
    let tls = shared.stage(peer, "the TLS handshake", handshake).await?;
    let mut client = PacketStream::from_parts(tls, codec);
    let response = shared.stage(peer, "the handshake response", client.read());
    let Some(response) = response.await? else {
        return Ok(());
    };
    let greeted = Greeted {
        offered,
        connection_id,
        peer,
    };
    login(client, greeted, &response, shared).await
}

async fn unreachable_backend(client: &mut PacketStream<TcpStream>) -> io::Result<()> {
    let message = "the emulator could not reach its backend database";
    client
        .write(&wire::err_packet_before_handshake(HANDSHAKE_ERROR, message))
        .await
}

/// What the client is offered: the backend's capabilities, minus compression and
/// client-only flags, plus TLS (which the emulator serves itself).
fn offered_capabilities(backend: &HandshakePacket<'_>) -> CapabilityFlags {
    (backend.capabilities() - wire::NOT_OFFERED) | CapabilityFlags::CLIENT_SSL
}

fn access_denied(user: &str, peer: SocketAddr, using_password: bool) -> Vec<u8> {
    let message = format!(
        "Access denied for user '{}'@'{}' (using password: {})",
        client_text(user),
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
) -> io::Result<()> {
    let response = wire::parse::<HandshakeResponse<'_>>(payload, ()).ok();
    if wire::carries_cleartext_password(payload) {
        shared.count_plaintext_password(peer);
    }
    let user = response
        .as_ref()
        .map(|r| String::from_utf8_lossy(r.user()).into_owned())
        .unwrap_or_default();
    let database = response
        .as_ref()
        .and_then(|r| r.db_name())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let using_password = response
        .as_ref()
        .is_some_and(|r| !r.scramble_buf().is_empty());
    shared.record(
        peer,
        &user,
        database.as_deref(),
        false,
        LoginOutcome::Rejected(Rejection::NoTls),
    );
    client
        .write(&access_denied(&user, peer, using_password))
        .await
}

/// What the greeting promised a client.
struct Greeted {
    offered: CapabilityFlags,
    connection_id: u32,
    peer: SocketAddr,
}

async fn login<S>(
    mut client: PacketStream<S>,
    greeted: Greeted,
    payload: &[u8],
    shared: &Shared,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let peer = greeted.peer;
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
            match shared.stage(peer, "the token", client.read()).await? {
                Some(token) => token,
                None => {
                    tracing::debug!(target: "rds_iam_emulator", %peer, user = %client_text(&user), "client closed before sending the token");
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

    // Only now, with the token verified, is a backend connection opened.
    let backend_user = shared.config.backend_user.as_deref().unwrap_or(&user);
    let request = LoginRequest {
        user: backend_user,
        ..LoginRequest::from_client(&user, &response, payload, greeted.offered)
    };
    let open = backend::open(
        shared.config.backend,
        request,
        shared.config.backend_password.as_ref(),
    );
    let opened = tokio::time::timeout(shared.config.handshake_timeout, open)
        .await
        .unwrap_or_else(|_| Err(BackendLoginError::timed_out()));
    match opened {
        Ok(backend) => {
            shared.record(
                peer,
                &user,
                database.as_deref(),
                true,
                LoginOutcome::Accepted,
            );
            client.write(&backend.ok).await?;
            let _registered =
                Registered::new(&shared.mysql, greeted.connection_id, backend.connection_id);
            let (client, _) = client.into_parts();
            let kill_ids = |id| shared.mysql.backend_session(id);
            relay::relay(client, backend.stream, backend.capabilities, &kill_ids).await
        }
        Err(error) => {
            tracing::warn!(target: "rds_iam_emulator", %peer, user = %client_text(&user), detail = %error.detail, "backend login failed");
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
    use mysql_common::constants::{MariadbCapabilities, StatusFlags};
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
        let state = State::default();
        let connection_id = state.next_connection_id();
        assert!(
            offered.contains(CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_CONNECT_ATTRS)
        );
        assert!(!offered.intersects(
            CapabilityFlags::CLIENT_COMPRESS | CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT
        ));
        let mut bytes = Vec::new();
        wire::greeting_for_client(&backend, offered, connection_id).serialize(&mut bytes);
        let parsed = wire::parse::<HandshakePacket<'_>>(&bytes, ()).unwrap();
        assert_eq!(parsed.server_version_ref(), backend.server_version_ref());
        // The emulator's own connection id, from a range backend sessions never reach.
        assert_eq!(parsed.connection_id(), FIRST_CONNECTION_ID);
        assert_eq!(state.next_connection_id(), FIRST_CONNECTION_ID + 1);
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
    fn connection_ids_stay_in_their_range_and_name_registered_sessions() {
        let state = State::default();
        state.issued.store(CONNECTION_IDS - 1, Ordering::Relaxed);
        assert_eq!(state.next_connection_id(), 1_999_999_999);
        assert_eq!(state.next_connection_id(), FIRST_CONNECTION_ID);
        let registered = Registered::new(&state, FIRST_CONNECTION_ID, 17);
        assert_eq!(state.backend_session(FIRST_CONNECTION_ID), Some(17));
        assert_eq!(state.backend_session(17), None);
        drop(registered);
        assert_eq!(state.backend_session(FIRST_CONNECTION_ID), None);
    }

    #[test]
    fn too_many_connections_is_a_whole_packet_without_sqlstate() {
        let packet = too_many_connections();
        assert_eq!(&packet[..4], &[packet.len() as u8 - 4, 0, 0, 0]);
        assert_eq!(
            wire::err_code(&packet[4..], CapabilityFlags::empty()),
            Some((1040, String::new()))
        );
        assert!(packet.ends_with(b"Too many connections"));
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

//! The real MariaDB/MySQL behind the emulator: its greeting (learned once, so the
//! client is offered what the backend supports) and, once a token is verified, a
//! connection logged in as the IAM user (`mysql_native_password`, or whatever the
//! backend switches to among `mysql_native_password`, `mysql_clear_password` and the
//! fast path of `caching_sha2_password`).

use std::io;
use std::net::SocketAddr;

use mysql_common::auth::plugins::caching_sha2_password::scramble_sha256;
use mysql_common::auth::plugins::mysql_native_password::scramble_native;
use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::{AuthPlugin, AuthSwitchRequest, HandshakePacket};
use tokio::net::TcpStream;

use super::wire::{
    self, AUTH_MORE_DATA_HEADER, AUTH_SWITCH_HEADER, ERR_HEADER, LoginRequest, OK_HEADER,
    PacketStream,
};
use crate::BackendFailure;
use rds_iam::secret::Password;

/// `caching_sha2_password`'s "fast authentication succeeded" (`AuthMoreData` 0x03).
const FAST_AUTH_SUCCESS: u8 = 0x03;
/// How many authentication round trips the backend gets before the emulator gives up.
const MAX_AUTH_ROUNDS: usize = 4;

/// A connected backend that has greeted the emulator.
pub(crate) struct Backend {
    pub(crate) conn: PacketStream<TcpStream>,
    pub(crate) greeting: HandshakePacket<'static>,
}

/// What the backend said first.
pub(crate) enum Greeting {
    /// A handshake: go on.
    Ready(Box<Backend>),
    /// An ERR packet (too many connections, host blocked...): for the client, as is.
    Refused(Vec<u8>),
}

/// Why the backend login failed.
pub(crate) struct BackendLoginError {
    pub(crate) failure: BackendFailure,
    /// The backend's own ERR packet payload, to pass on to the client.
    pub(crate) err_packet: Option<Vec<u8>>,
    /// What to log (never a secret).
    pub(crate) detail: String,
}

impl BackendLoginError {
    fn new(failure: BackendFailure, detail: impl Into<String>) -> Self {
        Self {
            failure,
            err_packet: None,
            detail: detail.into(),
        }
    }

    fn protocol(error: io::Error) -> Self {
        Self::new(BackendFailure::Protocol, error.to_string())
    }

    /// The backend login did not finish within the handshake timeout.
    pub(crate) fn timed_out() -> Self {
        Self::new(
            BackendFailure::TimedOut,
            "the backend login did not finish within the handshake timeout",
        )
    }
}

/// A backend connection logged in for a client.
pub(crate) struct Opened {
    pub(crate) stream: TcpStream,
    /// The backend's OK packet payload, for the client.
    pub(crate) ok: Vec<u8>,
    /// The backend session's connection id (`CONNECTION_ID()`).
    pub(crate) connection_id: u32,
    /// The capabilities the session runs with.
    pub(crate) capabilities: CapabilityFlags,
}

/// Connect to the backend and log in with `request`.
pub(crate) async fn open(
    addr: SocketAddr,
    request: LoginRequest<'_>,
    password: Option<&Password>,
) -> Result<Opened, BackendLoginError> {
    let mut backend = match connect(addr).await? {
        Greeting::Ready(backend) => backend,
        Greeting::Refused(err) => {
            let (code, _) = wire::err_code(&err, CapabilityFlags::empty()).unwrap_or_default();
            return Err(BackendLoginError {
                failure: BackendFailure::Refused {
                    code: code.to_string(),
                },
                // The client has sent its handshake response by now: it reads a 4.1
                // ERR packet, with a SQLSTATE.
                err_packet: Some(wire::with_sql_state(&err)),
                detail: format!("the backend refused the connection: {code}"),
            });
        }
    };
    let (ok, capabilities) = login(&mut backend, request, password).await?;
    Ok(Opened {
        connection_id: backend.greeting.connection_id(),
        stream: backend.conn.stream,
        ok,
        capabilities,
    })
}

/// Connect to the backend and read its greeting.
pub(crate) async fn connect(addr: SocketAddr) -> Result<Greeting, BackendLoginError> {
    let stream = TcpStream::connect(addr).await.map_err(|e| {
        BackendLoginError::new(
            BackendFailure::Unreachable,
            format!("could not connect to {addr}: {e}"),
        )
    })?;
    let _ = stream.set_nodelay(true);
    let mut conn = PacketStream::new(stream);
    let payload = conn
        .read()
        .await
        .map_err(BackendLoginError::protocol)?
        .ok_or_else(|| {
            BackendLoginError::new(
                BackendFailure::Protocol,
                "the backend closed the connection before greeting",
            )
        })?;
    if payload.first() == Some(&ERR_HEADER) {
        return Ok(Greeting::Refused(payload));
    }
    let greeting = wire::parse::<HandshakePacket<'_>>(&payload, ())
        .map_err(BackendLoginError::protocol)?
        .into_owned();
    let needed = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    if greeting.protocol_version() != 10 || !greeting.capabilities().contains(needed) {
        return Err(BackendLoginError::new(
            BackendFailure::Protocol,
            "the backend does not speak protocol 10 with 4.1 authentication and plugins",
        ));
    }
    Ok(Greeting::Ready(Box::new(Backend { conn, greeting })))
}

/// Log in to the greeted backend. `Ok` carries the backend's OK packet payload and
/// the capabilities of the session.
async fn login(
    backend: &mut Backend,
    request: LoginRequest<'_>,
    password: Option<&Password>,
) -> Result<(Vec<u8>, CapabilityFlags), BackendLoginError> {
    let password = password.map_or(&[][..], |p| p.expose().as_bytes());
    let nonce = backend.greeting.nonce();
    let auth = scramble_native(&nonce, password).map_or_else(Vec::new, |s| s.to_vec());
    let (payload, capabilities) = wire::login_response(
        &backend.greeting,
        request,
        CapabilityFlags::empty(),
        AuthPlugin::MysqlNativePassword,
        auth,
    );
    let conn = &mut backend.conn;
    conn.write(&payload)
        .await
        .map_err(BackendLoginError::protocol)?;

    for _ in 0..MAX_AUTH_ROUNDS {
        let reply = conn
            .read()
            .await
            .map_err(BackendLoginError::protocol)?
            .ok_or_else(|| {
                BackendLoginError::new(
                    BackendFailure::Protocol,
                    "the backend closed the connection during login",
                )
            })?;
        match reply.first().copied() {
            Some(OK_HEADER) => return Ok((reply, capabilities)),
            Some(ERR_HEADER) => {
                let (code, state) = wire::err_code(&reply, capabilities).unwrap_or_default();
                return Err(BackendLoginError {
                    failure: BackendFailure::Refused {
                        code: code.to_string(),
                    },
                    err_packet: Some(reply),
                    detail: format!("backend refused the login: {code} ({state})"),
                });
            }
            Some(AUTH_SWITCH_HEADER) => {
                let switch = wire::parse::<AuthSwitchRequest<'_>>(&reply, ())
                    .map_err(BackendLoginError::protocol)?;
                let data = switch_response(&switch, password)?;
                conn.write(&data)
                    .await
                    .map_err(BackendLoginError::protocol)?;
            }
            Some(AUTH_MORE_DATA_HEADER) if reply[1..] == [FAST_AUTH_SUCCESS] => {}
            _ => {
                return Err(BackendLoginError::new(
                    BackendFailure::Protocol,
                    "the backend sent an unexpected packet during login (full \
                     caching_sha2_password authentication, which needs TLS to the \
                     backend, is not supported)",
                ));
            }
        }
    }
    Err(BackendLoginError::new(
        BackendFailure::Protocol,
        "the backend kept asking for more authentication",
    ))
}

/// Answer the backend's `AuthSwitchRequest` with the backend password.
fn switch_response(
    switch: &AuthSwitchRequest<'_>,
    password: &[u8],
) -> Result<Vec<u8>, BackendLoginError> {
    let needs_password = || {
        if password.is_empty() {
            Err(BackendLoginError::new(
                BackendFailure::PasswordNeeded,
                "the backend asks for a password and none is configured",
            ))
        } else {
            Ok(())
        }
    };
    match switch.auth_plugin() {
        AuthPlugin::MysqlNativePassword => {
            Ok(scramble_native(switch.plugin_data(), password)
                .map_or_else(Vec::new, |s| s.to_vec()))
        }
        AuthPlugin::MysqlClearPassword => {
            needs_password()?;
            let mut data = password.to_vec();
            data.push(0);
            Ok(data)
        }
        AuthPlugin::CachingSha2Password => {
            let nonce: &[u8; 20] = switch.plugin_data().try_into().map_err(|_| {
                BackendLoginError::new(BackendFailure::Protocol, "bad caching_sha2 nonce")
            })?;
            Ok(scramble_sha256(nonce, password).map_or_else(Vec::new, |s| s.to_vec()))
        }
        other => Err(BackendLoginError::new(
            BackendFailure::Protocol,
            format!(
                "the backend asks for authentication plugin {}, which the emulator does \
                 not speak (use mysql_native_password or no password for the backend user)",
                String::from_utf8_lossy(other.as_bytes())
            ),
        )),
    }
}

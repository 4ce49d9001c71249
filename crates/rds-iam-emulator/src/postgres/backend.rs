//! Logging in to the real PostgreSQL behind the emulator, with `postgres-protocol`'s
//! frontend messages and backend parser: trust, cleartext, MD5 and SCRAM-SHA-256.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{ErrorResponseBody, Header, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{BackendFailure, client_text};
use rds_iam::secret::Password;

/// A backend connection that has just said `AuthenticationOk`.
pub(crate) struct BackendSession {
    pub(crate) stream: TcpStream,
    /// The raw `AuthenticationOk` and whatever the backend sent after it so far
    /// (parameter statuses, key data, ready for query): for the client, unchanged.
    pub(crate) pending: BytesMut,
}

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
    let protocol = |e: io::Error| BackendLoginError::new(BackendFailure::Protocol, e.to_string());
    let mut stream = TcpStream::connect(addr).await.map_err(|e| {
        BackendLoginError::new(
            BackendFailure::Unreachable,
            format!("could not connect to {addr}: {e}"),
        )
    })?;
    let _ = stream.set_nodelay(true);
    let user = params
        .iter()
        .find(|(k, _)| k == "user")
        .map_or("", |(_, v)| v.as_str())
        .to_owned();
    let mut out = BytesMut::new();
    frontend::startup_message(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &mut out,
    )
    .map_err(protocol)?;
    stream.write_all(&out).await.map_err(protocol)?;

    let mut buf = BytesMut::with_capacity(8192);
    let mut scram: Option<ScramSha256> = None;
    let need_password = || {
        password.ok_or_else(|| {
            BackendLoginError::new(
                BackendFailure::PasswordNeeded,
                "the backend asks for a password and none is configured",
            )
        })
    };
    loop {
        let Some(header) = Header::parse(&buf).map_err(protocol)? else {
            read_more(&mut stream, &mut buf).await.map_err(protocol)?;
            continue;
        };
        let total = header.len() as usize + 1;
        if buf.len() < total {
            read_more(&mut stream, &mut buf).await.map_err(protocol)?;
            continue;
        }
        if header.tag() == b'R' && total >= 9 && buf[5..9] == [0, 0, 0, 0] {
            // AuthenticationOk: from here on the client gets everything unchanged.
            return finish_startup(stream, buf).await;
        }
        let raw = (header.tag() == b'E').then(|| BytesMut::from(&buf[..total]));
        let message = Message::parse(&mut buf)
            .map_err(protocol)?
            .ok_or_else(|| protocol(io::Error::other("incomplete message")))?;
        out.clear();
        match message {
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(need_password()?.expose().as_bytes(), &mut out)
                    .map_err(protocol)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(
                    user.as_bytes(),
                    need_password()?.expose().as_bytes(),
                    body.salt(),
                );
                frontend::password_message(hash.as_bytes(), &mut out).map_err(protocol)?;
            }
            Message::AuthenticationSasl(body) => {
                let offers_scram = body
                    .mechanisms()
                    .any(|m| Ok(m == SCRAM_SHA_256))
                    .map_err(protocol)?;
                if !offers_scram {
                    return Err(BackendLoginError::new(
                        BackendFailure::Protocol,
                        "the backend offers no SASL mechanism the emulator knows (SCRAM-SHA-256)",
                    ));
                }
                // The backend link is plain TCP on loopback: no channel binding.
                let s = ScramSha256::new(
                    need_password()?.expose().as_bytes(),
                    ChannelBinding::unsupported(),
                );
                frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                    .map_err(protocol)?;
                scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| protocol(io::Error::other("SASL continue without a start")))?;
                s.update(body.data()).map_err(protocol)?;
                frontend::sasl_response(s.message(), &mut out).map_err(protocol)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| protocol(io::Error::other("SASL final without a start")))?;
                s.finish(body.data()).map_err(protocol)?;
            }
            Message::ErrorResponse(body) => {
                let mut code = String::new();
                let mut message = String::new();
                let mut fields = body.fields();
                while let Some(field) = fields.next().map_err(protocol)? {
                    match field.type_() {
                        b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
                        b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
                        _ => {}
                    }
                }
                return Err(BackendLoginError {
                    failure: BackendFailure::Refused { code: code.clone() },
                    error_response: raw,
                    // The message may quote what the client chose (a database name).
                    detail: format!(
                        "backend refused the login: {code} {}",
                        client_text(&message)
                    ),
                });
            }
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(BackendLoginError::new(
                    BackendFailure::Protocol,
                    "the backend sent an unexpected message during authentication",
                ));
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(protocol)?;
        }
    }
}

/// After `AuthenticationOk` the backend still sets the session up and may refuse it
/// (a role that does not exist, a database that does not exist, too many
/// connections). Read up to `ReadyForQuery` or `ErrorResponse` so the login is
/// recorded as what it was; everything read stays in `pending` for the client.
async fn finish_startup(
    mut stream: TcpStream,
    mut pending: BytesMut,
) -> Result<BackendSession, BackendLoginError> {
    let protocol = |e: io::Error| BackendLoginError::new(BackendFailure::Protocol, e.to_string());
    let mut offset = 0;
    loop {
        let Some(header) = Header::parse(&pending[offset..]).map_err(protocol)? else {
            read_more(&mut stream, &mut pending)
                .await
                .map_err(protocol)?;
            continue;
        };
        let total = header.len() as usize + 1;
        if pending.len() < offset + total {
            read_more(&mut stream, &mut pending)
                .await
                .map_err(protocol)?;
            continue;
        }
        match header.tag() {
            b'Z' => return Ok(BackendSession { stream, pending }),
            b'E' => {
                let mut error = BytesMut::from(&pending[offset..offset + total]);
                let code = match Message::parse(&mut error).map_err(protocol)? {
                    Some(Message::ErrorResponse(body)) => error_code(&body).map_err(protocol)?,
                    _ => String::new(),
                };
                return Err(BackendLoginError {
                    failure: BackendFailure::Refused { code: code.clone() },
                    error_response: Some(pending),
                    detail: format!("backend refused the session after authentication: {code}"),
                });
            }
            _ => offset += total,
        }
    }
}

/// Whether the session's user is a member of a role `rds_iam` (directly or through another
/// role), as RDS requires of IAM users: one simple query on the fresh session, whose answer is
/// read up to `ReadyForQuery` and not passed on.
pub(crate) async fn is_rds_iam_member(session: &mut BackendSession) -> io::Result<bool> {
    let mut out = BytesMut::new();
    frontend::query(
        "SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam' AND pg_has_role(current_user, oid, 'MEMBER')",
        &mut out,
    )?;
    session.stream.write_all(&out).await?;
    let mut answer = BytesMut::new();
    let mut member = false;
    loop {
        match Header::parse(&answer)? {
            Some(header) if answer.len() > header.len() as usize => {
                match header.tag() {
                    b'D' => member = true,
                    b'Z' => return Ok(member),
                    _ => {}
                }
                let _ = answer.split_to(header.len() as usize + 1);
            }
            _ => read_more(&mut session.stream, &mut answer).await?,
        }
    }
}

fn error_code(body: &ErrorResponseBody) -> io::Result<String> {
    let mut fields = body.fields();
    while let Some(field) = fields.next()? {
        if field.type_() == b'C' {
            return Ok(String::from_utf8_lossy(field.value_bytes()).into_owned());
        }
    }
    Ok(String::new())
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<()> {
    if stream.read_buf(buf).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the backend closed the connection during login",
        ));
    }
    Ok(())
}

/// Pass a `CancelRequest` (process id and secret key, as the backend issued them)
/// on to the backend.
pub(crate) async fn cancel(addr: SocketAddr, key: [u8; 8]) -> io::Result<()> {
    let process_id = i32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    let secret = i32::from_be_bytes([key[4], key[5], key[6], key[7]]);
    let mut out = BytesMut::new();
    frontend::cancel_request(process_id, secret, &mut out);
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&out).await?;
    stream.shutdown().await
}

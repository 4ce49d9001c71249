//! The server-facing side: logging in to a PostgreSQL server with `postgres-protocol`'s
//! frontend messages and backend parser (trust, cleartext, MD5 and SCRAM-SHA-256 without
//! channel binding), and cancel requests.
//!
//! The login reads up to `ReadyForQuery` (or the server's refusal) and keeps every byte from
//! `AuthenticationOk` on in [`Session::pending`], so that a client behind the caller sees the
//! server's own parameters, backend key and status, unchanged.

use std::fmt;
use std::io;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{ErrorResponseBody, Header, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A server connection that has said `AuthenticationOk` and `ReadyForQuery`.
#[derive(Debug)]
pub struct Session<S> {
    /// The connection, ready for queries.
    pub stream: S,
    /// The raw `AuthenticationOk` and everything the server sent after it up to and including
    /// `ReadyForQuery` (parameter statuses, backend key data): for the client, unchanged.
    pub pending: BytesMut,
}

impl<S> Session<S> {
    /// The process id and secret key of the `BackendKeyData` the server sent (as sent: the
    /// body of a `CancelRequest`), if it sent one.
    pub fn backend_key(&self) -> Option<[u8; 8]> {
        let mut rest = &self.pending[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let total = (len + 1).min(rest.len());
            if rest[0] == b'K' && len == 12 && total == 13 {
                return rest[5..13].try_into().ok();
            }
            rest = &rest[total.max(5)..];
        }
        None
    }
}

/// Why a login failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoginError {
    /// Reading or writing failed, or the server closed the connection.
    Io(io::Error),
    /// The server sent something this login does not understand.
    Protocol(String),
    /// The server asks for a password and none was given.
    PasswordNeeded,
    /// The server refused the login with an `ErrorResponse`.
    Refused {
        /// The SQLSTATE (`28P01`, `28000`, `3D000`...).
        code: String,
        /// The server's message.
        message: String,
        /// Whether the refusal came after `AuthenticationOk` (the credentials were
        /// accepted; the session was not: no such database, too many connections).
        after_authentication: bool,
        /// The raw bytes to pass on to a client: the `ErrorResponse`, preceded by what the
        /// server sent after `AuthenticationOk` when it refused after it.
        response: BytesMut,
    },
}

impl LoginError {
    /// Whether the server refused the credentials (SQLSTATE `28P01` or `28000` before
    /// `AuthenticationOk`): what RDS answers to a bad or expired IAM token.
    pub fn is_credentials_rejected(&self) -> bool {
        matches!(self, Self::Refused { code, after_authentication: false, .. }
            if code == "28P01" || code == "28000")
    }
}

impl fmt::Display for LoginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "the connection failed during the login: {e}"),
            Self::Protocol(what) => write!(f, "protocol error during the login: {what}"),
            Self::PasswordNeeded => f.write_str("the server asks for a password and none is given"),
            Self::Refused { code, message, .. } => {
                write!(f, "the server refused the login: {code} {message}")
            }
        }
    }
}

impl std::error::Error for LoginError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

fn protocol(e: io::Error) -> LoginError {
    LoginError::Protocol(e.to_string())
}

/// Log in on `stream` (connected, and encrypted if it is to be) with the start-up `params`
/// (which include `user`), answering a password request with `password`.
pub async fn login<S>(
    mut stream: S,
    params: &[(String, String)],
    password: Option<&[u8]>,
) -> Result<Session<S>, LoginError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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
    stream.write_all(&out).await.map_err(LoginError::Io)?;
    stream.flush().await.map_err(LoginError::Io)?;

    let mut buf = BytesMut::with_capacity(8192);
    let mut scram: Option<ScramSha256> = None;
    let need_password = || password.ok_or(LoginError::PasswordNeeded);
    loop {
        let Some(header) = Header::parse(&buf).map_err(protocol)? else {
            read_more(&mut stream, &mut buf).await?;
            continue;
        };
        let total = header.len() as usize + 1;
        if buf.len() < total {
            read_more(&mut stream, &mut buf).await?;
            continue;
        }
        if header.tag() == b'R' && total >= 9 && buf[5..9] == [0, 0, 0, 0] {
            // AuthenticationOk: from here on the client gets everything unchanged.
            return finish_startup(stream, buf).await;
        }
        let raw = (header.tag() == b'E').then(|| BytesMut::from(&buf[..total]));
        let message = Message::parse(&mut buf)
            .map_err(protocol)?
            .ok_or_else(|| LoginError::Protocol("incomplete message".into()))?;
        out.clear();
        match message {
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(need_password()?, &mut out).map_err(protocol)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let hash = md5_hash(user.as_bytes(), need_password()?, body.salt());
                frontend::password_message(hash.as_bytes(), &mut out).map_err(protocol)?;
            }
            Message::AuthenticationSasl(body) => {
                let offers_scram = body
                    .mechanisms()
                    .any(|m| Ok(m == SCRAM_SHA_256))
                    .map_err(protocol)?;
                if !offers_scram {
                    return Err(LoginError::Protocol(
                        "the server offers no SASL mechanism known here (SCRAM-SHA-256)".into(),
                    ));
                }
                let s = ScramSha256::new(need_password()?, ChannelBinding::unsupported());
                frontend::sasl_initial_response(SCRAM_SHA_256, s.message(), &mut out)
                    .map_err(protocol)?;
                scram = Some(s);
            }
            Message::AuthenticationSaslContinue(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| LoginError::Protocol("SASL continue without a start".into()))?;
                s.update(body.data()).map_err(protocol)?;
                frontend::sasl_response(s.message(), &mut out).map_err(protocol)?;
            }
            Message::AuthenticationSaslFinal(body) => {
                let s = scram
                    .as_mut()
                    .ok_or_else(|| LoginError::Protocol("SASL final without a start".into()))?;
                s.finish(body.data()).map_err(protocol)?;
            }
            Message::ErrorResponse(body) => {
                let (code, message) = error_fields(&body).map_err(protocol)?;
                return Err(LoginError::Refused {
                    code,
                    message,
                    after_authentication: false,
                    response: raw.unwrap_or_default(),
                });
            }
            Message::NoticeResponse(_) => {}
            _ => {
                return Err(LoginError::Protocol(
                    "the server sent an unexpected message during authentication".into(),
                ));
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await.map_err(LoginError::Io)?;
            stream.flush().await.map_err(LoginError::Io)?;
        }
    }
}

/// After `AuthenticationOk` the server still sets the session up and may refuse it (a role
/// or database that does not exist, too many connections). Read up to `ReadyForQuery` or
/// `ErrorResponse`; everything read stays in `pending` for the client.
async fn finish_startup<S>(mut stream: S, mut pending: BytesMut) -> Result<Session<S>, LoginError>
where
    S: AsyncRead + Unpin,
{
    let mut offset = 0;
    loop {
        let Some(header) = Header::parse(&pending[offset..]).map_err(protocol)? else {
            read_more(&mut stream, &mut pending).await?;
            continue;
        };
        let total = header.len() as usize + 1;
        if pending.len() < offset + total {
            read_more(&mut stream, &mut pending).await?;
            continue;
        }
        match header.tag() {
            b'Z' if pending.len() == offset + total => return Ok(Session { stream, pending }),
            b'Z' => {
                return Err(LoginError::Protocol(
                    "the server sent messages after ReadyForQuery unasked".into(),
                ));
            }
            b'E' => {
                let mut error = BytesMut::from(&pending[offset..offset + total]);
                let (code, message) = match Message::parse(&mut error).map_err(protocol)? {
                    Some(Message::ErrorResponse(body)) => error_fields(&body).map_err(protocol)?,
                    _ => Default::default(),
                };
                pending.truncate(offset + total);
                return Err(LoginError::Refused {
                    code,
                    message,
                    after_authentication: true,
                    response: pending,
                });
            }
            _ => offset += total,
        }
    }
}

/// The SQLSTATE and message of an `ErrorResponse`.
fn error_fields(body: &ErrorResponseBody) -> io::Result<(String, String)> {
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Some(field) = fields.next()? {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    Ok((code, message))
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
) -> Result<(), LoginError> {
    if stream.read_buf(buf).await.map_err(LoginError::Io)? == 0 {
        return Err(LoginError::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection during the login",
        )));
    }
    Ok(())
}

/// Run `sql` as a simple query on a logged-in `stream` and read its answer up to
/// `ReadyForQuery`: whether it returned a row (an error returns none).
pub async fn simple_query_returns_rows<S>(stream: &mut S, sql: &str) -> io::Result<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = BytesMut::new();
    frontend::query(sql, &mut out)?;
    stream.write_all(&out).await?;
    stream.flush().await?;
    let mut answer = BytesMut::new();
    let mut rows = false;
    loop {
        match Header::parse(&answer)? {
            Some(header) if answer.len() > header.len() as usize => {
                match header.tag() {
                    b'D' => rows = true,
                    b'Z' => return Ok(rows),
                    _ => {}
                }
                let _ = answer.split_to(header.len() as usize + 1);
            }
            _ => {
                if stream.read_buf(&mut answer).await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during a query",
                    ));
                }
            }
        }
    }
}

/// A `CancelRequest` for the backend `key` (process id and secret key, as the server sent them
/// in `BackendKeyData`).
pub fn cancel_request(key: [u8; 8]) -> BytesMut {
    let process_id = i32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    let secret = i32::from_be_bytes([key[4], key[5], key[6], key[7]]);
    let mut out = BytesMut::new();
    frontend::cancel_request(process_id, secret, &mut out);
    out
}

/// Send a `CancelRequest` for `key` on `stream` (a new connection to the server; encrypted
/// when it is to be) and close it.
pub async fn cancel<S: AsyncWrite + Unpin>(mut stream: S, key: [u8; 8]) -> io::Result<()> {
    stream.write_all(&cancel_request(key)).await?;
    stream.flush().await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_key_is_found_among_the_start_up_messages() {
        let mut pending = BytesMut::new();
        pending.extend_from_slice(b"R\0\0\0\x08\0\0\0\0");
        pending.extend_from_slice(b"S\0\0\0\x09a\0bc\0"); // ParameterStatus a=bc
        pending.extend_from_slice(b"K\0\0\0\x0c\0\0\0\x2a\x01\x02\x03\x04");
        pending.extend_from_slice(b"Z\0\0\0\x05I");
        let session = Session {
            stream: (),
            pending,
        };
        assert_eq!(session.backend_key(), Some([0, 0, 0, 42, 1, 2, 3, 4]));
        let none = Session {
            stream: (),
            pending: BytesMut::from(&b"Z\0\0\0\x05I"[..]),
        };
        assert_eq!(none.backend_key(), None);
    }

    #[test]
    fn cancel_request_layout() {
        assert_eq!(
            &cancel_request([0, 0, 0, 42, 0, 0, 0, 7])[..],
            &[0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 42, 0, 0, 0, 7]
        );
    }

    /// A login against a scripted server: cleartext password asked, then the refusal.
    #[tokio::test]
    async fn a_refusal_before_authentication_is_a_credentials_rejection() {
        let (client, mut server) = tokio::io::duplex(4096);
        let script = tokio::spawn(async move {
            let mut buf = vec![0u8; 1024];
            let _ = server.read(&mut buf).await.unwrap(); // the start-up
            let mut out = BytesMut::new();
            crate::postgres::authentication_cleartext_password(&mut out);
            server.write_all(&out).await.unwrap();
            let _ = server.read(&mut buf).await.unwrap(); // the password
            out.clear();
            crate::postgres::error_response(&mut out, "FATAL", "28P01", "bad password");
            server.write_all(&out).await.unwrap();
        });
        let params = [("user".to_owned(), "u".to_owned())];
        let err = login(client, &params, Some(b"pw")).await.unwrap_err();
        script.await.unwrap();
        assert!(err.is_credentials_rejected(), "{err}");
        assert_eq!(
            err.to_string(),
            "the server refused the login: 28P01 bad password"
        );
    }
}

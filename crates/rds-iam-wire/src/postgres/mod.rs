//! The PostgreSQL protocol (version 3) as the emulator and the proxy need it.
//!
//! `postgres-protocol` writes frontend messages and parses backend messages (the
//! client's view), which is what [`client`] uses towards a server. For the
//! client-facing side the opposite direction is needed: read the initial packet
//! and a password message, write an authentication request and an error. Those few
//! layouts live here; the tests check them against `postgres-protocol` in both
//! directions.
//!
//! The decoders are functions over byte slices ([`parse_initial`], [`initial_body_len`],
//! [`password_body_len`], [`parse_password`]); the async readers only frame the bytes
//! and never allocate more than the limits below, whatever a length field says.

pub mod client;

use std::io;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Request codes of the initial packet (protocol 3 docs, "Message Formats").
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;
/// The largest initial packet accepted (the server's own limit is 10000 bytes).
const MAX_INITIAL_LEN: usize = 10_000;
/// The largest password message accepted (tokens are about 1-2 KB).
const MAX_PASSWORD_LEN: usize = 64 * 1024;

/// The first packet of a connection (it has no type byte).
#[derive(Debug, PartialEq, Eq)]
pub enum Initial {
    /// `SSLRequest`: answer `S` and start TLS.
    SslRequest,
    /// `GSSENCRequest`: answer `N`.
    GssEncRequest,
    /// `CancelRequest` with its process id and secret key (8 bytes, as sent).
    Cancel([u8; 8]),
    /// `StartupMessage`.
    Startup(Startup),
    /// Anything else (an unknown code or protocol version, or a bad length).
    Unsupported,
}

/// A `StartupMessage`: protocol version and parameters, in the client's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    /// The minor protocol version asked for (3.x).
    pub minor_version: u16,
    /// The parameters (`user`, `database`, `application_name`, options), in order.
    pub params: Vec<(String, String)>,
}

impl Startup {
    /// The value of parameter `name`, if the client sent it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The body length of an initial packet from its 4-byte length field (which counts
/// itself), if it is one worth reading: 4 to 9,996 bytes (PostgreSQL's own limit is
/// 10,000 with the length).
pub fn initial_body_len(header: [u8; 4]) -> Option<usize> {
    let len = u32::from_be_bytes(header) as usize;
    (8..=MAX_INITIAL_LEN).contains(&len).then(|| len - 4)
}

/// Read the initial packet. `Ok(None)` if the client closed the connection first.
pub async fn read_initial<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Initial>> {
    let mut header = [0u8; 4];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some(len) = initial_body_len(header) else {
        return Ok(Some(Initial::Unsupported));
    };
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    Ok(Some(parse_initial(&body)))
}

/// Decode the body of an initial packet (what follows its length field).
pub fn parse_initial(body: &[u8]) -> Initial {
    let Some((code, rest)) = body.split_first_chunk::<4>() else {
        return Initial::Unsupported;
    };
    let code = u32::from_be_bytes(*code);
    match code {
        SSL_REQUEST if rest.is_empty() => Initial::SslRequest,
        GSSENC_REQUEST if rest.is_empty() => Initial::GssEncRequest,
        CANCEL_REQUEST => match <[u8; 8]>::try_from(rest) {
            Ok(key) => Initial::Cancel(key),
            Err(_) => Initial::Unsupported,
        },
        _ if code >> 16 == 3 => match parse_params(rest) {
            Some(params) => Initial::Startup(Startup {
                minor_version: (code & 0xffff) as u16,
                params,
            }),
            None => Initial::Unsupported,
        },
        _ => Initial::Unsupported,
    }
}

/// `name\0value\0 ... \0`
fn parse_params(mut rest: &[u8]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    loop {
        let (name, after) = cstr(rest)?;
        if name.is_empty() {
            return after.is_empty().then_some(params);
        }
        let (value, after) = cstr(after)?;
        params.push((name, value));
        rest = after;
    }
}

fn cstr(buf: &[u8]) -> Option<(String, &[u8])> {
    let end = buf.iter().position(|&b| b == 0)?;
    let s = std::str::from_utf8(&buf[..end]).ok()?.to_owned();
    Some((s, &buf[end + 1..]))
}

/// The body length of a `PasswordMessage` from its 5-byte header (type `p` and a
/// length that counts itself), if it is one: up to 64 KiB.
pub fn password_body_len(header: [u8; 5]) -> Option<usize> {
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    (header[0] == b'p' && (5..=MAX_PASSWORD_LEN).contains(&len)).then(|| len - 4)
}

/// The password in a `PasswordMessage` body: a string with exactly one NUL, at its
/// end (PostgreSQL refuses anything else as "invalid password packet size").
pub fn parse_password(body: &[u8]) -> Option<&[u8]> {
    let (&0, password) = body.split_last()? else {
        return None;
    };
    (!password.contains(&0)).then_some(password)
}

/// Read one typed frontend message, which must be a well-formed `PasswordMessage`,
/// and return the password. `Ok(None)` if the client closed the connection (or sent
/// `Terminate`) instead.
pub async fn read_password<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 5];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if header[0] == b'X' {
        // Terminate: the client gave up (psql -w without a password does this).
        return Ok(None);
    }
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "expected a password message");
    let len = password_body_len(header).ok_or_else(invalid)?;
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    let password = parse_password(&body).ok_or_else(invalid)?;
    body.truncate(password.len());
    Ok(Some(body))
}

/// `AuthenticationCleartextPassword`.
pub fn authentication_cleartext_password(buf: &mut BytesMut) {
    buf.put_u8(b'R');
    buf.put_i32(8);
    buf.put_i32(3);
}

/// An `ErrorResponse` with severity, SQLSTATE and message.
pub fn error_response(buf: &mut BytesMut, severity: &str, code: &str, message: &str) {
    let mut body = BytesMut::new();
    for (field, value) in [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', message),
    ] {
        body.put_u8(field);
        put_cstr(&mut body, value);
    }
    body.put_u8(0);
    tagged(buf, b'E', &body);
}

/// `NegotiateProtocolVersion`: the newest minor version served (0) and the
/// protocol options (`_pq_.*`) not recognised.
pub fn negotiate_protocol_version(buf: &mut BytesMut, unrecognised: &[&str]) {
    let mut body = BytesMut::new();
    body.put_i32(0);
    body.put_i32(i32::try_from(unrecognised.len()).unwrap_or(i32::MAX));
    for option in unrecognised {
        put_cstr(&mut body, option);
    }
    tagged(buf, b'v', &body);
}

fn put_cstr(buf: &mut BytesMut, s: &str) {
    // A NUL inside would end the field early; the emulator's texts have none.
    buf.put_slice(s.replace('\0', "").as_bytes());
    buf.put_u8(0);
}

fn tagged(buf: &mut BytesMut, tag: u8, body: &[u8]) {
    buf.put_u8(tag);
    buf.put_i32(i32::try_from(body.len() + 4).unwrap_or(i32::MAX));
    buf.put_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use fallible_iterator::FallibleIterator;
    use postgres_protocol::message::{backend, frontend};

    async fn initial(bytes: &[u8]) -> Option<Initial> {
        read_initial(&mut &bytes[..]).await.unwrap()
    }

    #[tokio::test]
    async fn reads_what_postgres_protocol_writes() {
        let mut buf = BytesMut::new();
        frontend::ssl_request(&mut buf);
        assert_eq!(initial(&buf).await, Some(Initial::SslRequest));

        buf.clear();
        frontend::cancel_request(42, 7, &mut buf);
        assert_eq!(
            initial(&buf).await,
            Some(Initial::Cancel([0, 0, 0, 42, 0, 0, 0, 7]))
        );

        buf.clear();
        frontend::startup_message([("user", "iam_user"), ("database", "app")], &mut buf).unwrap();
        let Some(Initial::Startup(startup)) = initial(&buf).await else {
            panic!("not a startup message");
        };
        assert_eq!(startup.minor_version, 0);
        assert_eq!(startup.param("user"), Some("iam_user"));
        assert_eq!(startup.param("database"), Some("app"));

        buf.clear();
        frontend::password_message(b"a-token", &mut buf).unwrap();
        assert_eq!(
            read_password(&mut &buf[..]).await.unwrap(),
            Some(b"a-token".to_vec())
        );
        // A password sent as if it were the first packet is not an initial packet.
        assert_eq!(initial(&buf).await, Some(Initial::Unsupported));
    }

    #[tokio::test]
    async fn odd_initial_packets() {
        assert_eq!(initial(&[]).await, None);
        assert_eq!(initial(&[0, 0, 0, 3]).await, Some(Initial::Unsupported));
        assert_eq!(
            initial(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]).await,
            Some(Initial::GssEncRequest)
        );
        // Protocol 2 is not served.
        assert_eq!(
            initial(&[0, 0, 0, 9, 0, 2, 0, 0, 0]).await,
            Some(Initial::Unsupported)
        );
        // Protocol 3.2 with an unterminated parameter list.
        assert_eq!(
            initial(&[0, 0, 0, 10, 0, 3, 0, 2, b'u', 0]).await,
            Some(Initial::Unsupported)
        );
        assert_eq!(
            initial(&[0, 0, 0, 9, 0, 3, 0, 2, 0]).await,
            Some(Initial::Startup(Startup {
                minor_version: 2,
                params: vec![]
            }))
        );
    }

    #[tokio::test]
    async fn only_well_formed_password_messages_are_passwords() {
        async fn password(bytes: &[u8]) -> Option<Vec<u8>> {
            read_password(&mut &bytes[..]).await.ok().flatten()
        }
        assert_eq!(password(b"p\0\0\0\x07ab\0").await, Some(b"ab".to_vec()));
        // No terminating NUL, a NUL inside, another message type, a length too short
        // or beyond the limit (refused before anything is allocated or read).
        assert_eq!(password(b"p\0\0\0\x06ab").await, None);
        assert_eq!(password(b"p\0\0\0\x08a\0b\0").await, None);
        assert_eq!(password(b"Q\0\0\0\x07ab\0").await, None);
        assert_eq!(password(b"p\0\0\0\x04").await, None);
        assert_eq!(password(b"p\x40\0\0\0ab\0").await, None);
        // Cut short.
        assert_eq!(password(b"p\0\0\0\x07a").await, None);
        assert_eq!(password(b"pab").await, None);
        assert_eq!(parse_initial(&[]), Initial::Unsupported);
        assert_eq!(parse_initial(&[0, 0x04]), Initial::Unsupported);
        assert_eq!(initial_body_len(0x4000_0000u32.to_be_bytes()), None);
    }

    #[test]
    fn postgres_protocol_parses_what_we_write() {
        let mut buf = BytesMut::new();
        authentication_cleartext_password(&mut buf);
        error_response(
            &mut buf,
            "FATAL",
            "28000",
            "PAM authentication failed for user \"u\"",
        );
        negotiate_protocol_version(&mut buf, &["_pq_.x"]);
        assert!(matches!(
            backend::Message::parse(&mut buf).unwrap(),
            Some(backend::Message::AuthenticationCleartextPassword)
        ));
        let Some(backend::Message::ErrorResponse(body)) =
            backend::Message::parse(&mut buf).unwrap()
        else {
            panic!("not an error response");
        };
        let fields: Vec<(u8, String)> = body
            .fields()
            .map(|f| {
                Ok((
                    f.type_(),
                    String::from_utf8_lossy(f.value_bytes()).into_owned(),
                ))
            })
            .collect()
            .unwrap();
        assert_eq!(
            fields,
            vec![
                (b'S', "FATAL".to_owned()),
                (b'V', "FATAL".to_owned()),
                (b'C', "28000".to_owned()),
                (b'M', "PAM authentication failed for user \"u\"".to_owned()),
            ]
        );
        // postgres-protocol has no type for NegotiateProtocolVersion: check the bytes.
        assert_eq!(&buf[..], b"v\0\0\0\x13\0\0\0\0\0\0\0\x01_pq_.x\0");
    }
}

//! MySQL packets as far as the emulator and the proxy need them, on top of `mysql_common`: its
//! `PacketCodec` frames payloads and checks sequence ids, its packet types
//! (`HandshakePacket`, `SslRequest`, `HandshakeResponse`, `AuthSwitchRequest`,
//! `ErrPacket`) lay out the bytes.
//!
//! Packets are read exactly (header, then payload), never ahead: a client sends its
//! TLS `ClientHello` right after its `SslRequest` without waiting, and those bytes
//! must stay in the socket for the TLS handshake. A packet is refused from its length
//! field before anything is allocated for it when it is larger than the handshake
//! needs.
//!
//! The decoders are functions over byte slices: [`payload_len`], [`parse`] (with
//! `mysql_common`'s packet types), [`is_ssl_request`],
//! [`carries_cleartext_password`], [`err_code`] and [`kill_target`].

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use std::collections::HashMap;

use mysql_common::constants::{CapabilityFlags, MAX_PAYLOAD_LEN, MariadbCapabilities};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, ErrPacket, HandshakePacket, HandshakeResponse, ServerError, SqlState,
};
use mysql_common::proto::codec::PacketCodec;
use mysql_common::proto::{MyDeserialize, MySerialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first byte of an OK packet.
pub const OK_HEADER: u8 = 0x00;
/// The first byte of an ERR packet.
pub const ERR_HEADER: u8 = 0xFF;
/// The first byte of an `AuthSwitchRequest` (and of an EOF packet).
pub const AUTH_SWITCH_HEADER: u8 = 0xFE;
/// The first byte of an `AuthMoreData` packet.
pub const AUTH_MORE_DATA_HEADER: u8 = 0x01;
/// The length of an `SslRequest` payload.
pub const SSL_REQUEST_LEN: usize = 32;
/// The largest packet accepted during the handshake (tokens are about 1-2 KB).
const MAX_HANDSHAKE_PACKET: usize = 64 * 1024;
/// The command byte of `COM_QUERY`.
pub const COM_QUERY: u8 = 0x03;

/// The payload length in a packet header (3 bytes little-endian, then the sequence id).
pub fn payload_len(header: [u8; 4]) -> usize {
    usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16
}

/// One packet: header with sequence id `seq`, then `payload` (shorter than
/// [`MAX_PAYLOAD_LEN`]).
pub fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    debug_assert!(payload.len() < MAX_PAYLOAD_LEN);
    let len = (payload.len() as u32).to_le_bytes();
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&[len[0], len[1], len[2], seq]);
    out.extend_from_slice(payload);
    out
}

/// One side of a connection during the handshake: the stream and the sequence ids.
pub struct PacketStream<S> {
    /// The connection.
    pub stream: S,
    codec: PacketCodec,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketStream<S> {
    /// A stream at sequence id 0, refusing packets larger than a handshake needs.
    pub fn new(stream: S) -> Self {
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = MAX_HANDSHAKE_PACKET;
        Self { stream, codec }
    }

    /// Split into the stream and the codec (to continue over an upgraded stream).
    pub fn into_parts(self) -> (S, PacketCodec) {
        (self.stream, self.codec)
    }

    /// Reassemble from [`into_parts`](Self::into_parts).
    pub fn from_parts(stream: S, codec: PacketCodec) -> Self {
        Self { stream, codec }
    }

    /// Read one packet's payload. `Ok(None)` if the peer closed before sending one.
    pub async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut src = BytesMut::new();
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            match self.stream.read_exact(&mut header).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && payload.is_empty() => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
            let len = payload_len(header);
            if payload.len() + len > MAX_HANDSHAKE_PACKET {
                return Err(invalid("a handshake packet is too large"));
            }
            src.extend_from_slice(&header);
            let start = src.len();
            src.resize(start + len, 0);
            self.stream.read_exact(&mut src[start..]).await?;
            if self
                .codec
                .decode(&mut src, &mut payload)
                .map_err(io::Error::other)?
            {
                return Ok(Some(payload));
            }
            if len != MAX_PAYLOAD_LEN {
                return Err(invalid("a packet ended in the middle"));
            }
        }
    }

    /// Write one packet with the next sequence id and flush.
    pub async fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut out = BytesMut::new();
        self.codec
            .encode(&mut &payload[..], &mut out)
            .map_err(io::Error::other)?;
        self.stream.write_all(&out).await?;
        self.stream.flush().await
    }

    /// Serialize `packet` and write it.
    pub async fn write_packet(&mut self, packet: &impl MySerialize) -> io::Result<()> {
        let mut payload = Vec::new();
        packet.serialize(&mut payload);
        self.write(&payload).await
    }
}

/// Parse a whole payload as `T`.
pub fn parse<'de, T>(payload: &'de [u8], ctx: T::Ctx) -> io::Result<T>
where
    T: MyDeserialize<'de>,
{
    ParseBuf(payload).parse(ctx)
}

/// The capability flags at the start of an `SslRequest` or `HandshakeResponse`.
pub fn client_capabilities(payload: &[u8]) -> Option<CapabilityFlags> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(CapabilityFlags::from_bits_truncate(u32::from_le_bytes(
        bytes,
    )))
}

/// Whether a client's first packet is an `SslRequest` (rather than a
/// `HandshakeResponse` sent without TLS).
pub fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == SSL_REQUEST_LEN
        && client_capabilities(payload).is_some_and(|c| c.contains(CapabilityFlags::CLIENT_SSL))
}

/// Whether a client's first packet is a well-formed `HandshakeResponse` carrying a
/// password in clear text (`mysql_clear_password` with authentication data).
pub fn carries_cleartext_password(payload: &[u8]) -> bool {
    parse::<HandshakeResponse<'_>>(payload, ()).is_ok_and(|response| {
        response.auth_plugin() == Some(&AuthPlugin::MysqlClearPassword)
            && response.scramble_buf().iter().any(|&b| b != 0)
    })
}

/// The thread id of a statement `KILL [HARD | SOFT] [CONNECTION | QUERY] <id>` (with
/// an optional `;` and white space around), and where its digits are in `query`.
/// Anything else (other statements, `KILL QUERY ID`, `KILL USER`, comments) is `None`.
pub fn kill_target(query: &[u8]) -> Option<(Range<usize>, u64)> {
    let mut pos = 0;
    let mut next_word = || {
        while query.get(pos).is_some_and(u8::is_ascii_whitespace) {
            pos += 1;
        }
        let start = pos;
        while query
            .get(pos)
            .is_some_and(|b| !b.is_ascii_whitespace() && *b != b';')
        {
            pos += 1;
        }
        (start < pos).then_some(start..pos)
    };
    let is = |word: &Range<usize>, keyword: &str| {
        query[word.clone()].eq_ignore_ascii_case(keyword.as_bytes())
    };
    let kill = next_word()?;
    if !is(&kill, "KILL") {
        return None;
    }
    let mut word = next_word()?;
    if is(&word, "HARD") || is(&word, "SOFT") {
        word = next_word()?;
    }
    if is(&word, "CONNECTION") || is(&word, "QUERY") {
        word = next_word()?;
    }
    let digits = &query[word.clone()];
    if digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let id = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let rest = &query[word.end..];
    let rest = rest.trim_ascii_start();
    let rest = rest.strip_prefix(b";").unwrap_or(rest);
    rest.trim_ascii().is_empty().then_some((word, id))
}

/// An ERR packet payload, protocol 4.1 style with the SQLSTATE.
pub fn err_packet(code: u16, state: &[u8; 5], message: &str) -> Vec<u8> {
    err_payload(code, Some(SqlState::new(*state)), message)
}

/// An ERR packet payload for a client that has not said yet whether it speaks
/// protocol 4.1 (before its handshake response): without the SQLSTATE, as servers
/// send it then.
pub fn err_packet_before_handshake(code: u16, message: &str) -> Vec<u8> {
    err_payload(code, None, message)
}

/// An ERR packet payload sent before the handshake (without a SQLSTATE) as a client
/// that has sent its handshake response reads it: with the generic SQLSTATE `HY000`
/// (what clients assume for such errors). Anything else is returned as it is.
pub fn with_sql_state(err: &[u8]) -> Vec<u8> {
    if err.len() < 3 || err[0] != ERR_HEADER || err.get(3) == Some(&b'#') {
        return err.to_vec();
    }
    let mut out = err[..3].to_vec();
    out.extend_from_slice(b"#HY000");
    out.extend_from_slice(&err[3..]);
    out
}

fn err_payload(code: u16, state: Option<SqlState>, message: &str) -> Vec<u8> {
    let packet = ErrPacket::Error(ServerError::new(code, state, message.as_bytes()));
    let mut payload = Vec::new();
    packet.serialize(&mut payload);
    payload
}

/// The error code and SQLSTATE of an ERR packet payload.
pub fn err_code(payload: &[u8], capabilities: CapabilityFlags) -> Option<(u16, String)> {
    match parse::<ErrPacket<'_>>(payload, capabilities).ok()? {
        ErrPacket::Error(error) => Some((
            error.error_code(),
            error
                .sql_state_ref()
                .map(|s| s.as_str().into_owned())
                .unwrap_or_default(),
        )),
        ErrPacket::Progress(_) => None,
    }
}

/// A fresh 20-byte scramble of printable ASCII, as servers send in their greeting.
/// The emulator never checks a response to it (it switches every client to
/// `mysql_clear_password`), so it only needs to differ between connections.
pub fn scramble() -> [u8; 20] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let keys = std::hash::RandomState::new();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut out = [0u8; 20];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut hasher = keys.build_hasher();
        hasher.write_u64(n);
        hasher.write_usize(i);
        for (byte, random) in chunk.iter_mut().zip(hasher.finish().to_le_bytes()) {
            // 33..=126: printable, never NUL.
            *byte = 33 + random % 94;
        }
    }
    out
}

/// Capabilities a machine in the middle never offers its clients: the compressed
/// protocols (the relay would have to start compressing mid-stream) and flags only
/// clients set.
pub const NOT_OFFERED: CapabilityFlags = CapabilityFlags::CLIENT_COMPRESS
    .union(CapabilityFlags::CLIENT_ZSTD_COMPRESSION_ALGORITHM)
    .union(CapabilityFlags::CLIENT_SSL_VERIFY_SERVER_CERT)
    .union(CapabilityFlags::CLIENT_REMEMBER_OPTIONS);

/// A greeting for a client made from a server's: the server's protocol and version,
/// collation, status and MariaDB capabilities, the capabilities `offered`, the
/// `connection_id`, and a fresh scramble of our own naming `mysql_native_password`
/// (never the server's: its scramble is for the one who logs in to it).
pub fn greeting_for_client(
    server: &HandshakePacket<'_>,
    offered: CapabilityFlags,
    connection_id: u32,
) -> HandshakePacket<'static> {
    let scramble = scramble();
    let mut scramble_1 = [0u8; 8];
    scramble_1.copy_from_slice(&scramble[..8]);
    // The second part is NUL-terminated, as servers send it (8 + 13 = 21 bytes).
    let mut scramble_2 = scramble[8..].to_vec();
    scramble_2.push(0);
    HandshakePacket::new(
        server.protocol_version(),
        server.server_version_ref().to_vec(),
        connection_id,
        scramble_1,
        Some(scramble_2),
        // The greeting carries the scramble's second part, which clients read only with
        // CLIENT_SECURE_CONNECTION (every server since MySQL 4.1 offers it).
        offered | CapabilityFlags::CLIENT_SECURE_CONNECTION,
        server.default_collation(),
        server.status_flags(),
        Some(AuthPlugin::MysqlNativePassword.as_bytes().to_vec()),
    )
    .with_mariadb_ext_capabilities(server.mariadb_ext_capabilities())
}

/// What a client asked for in its `HandshakeResponse`, to log in to a server with on
/// its behalf.
pub struct LoginRequest<'a> {
    /// The user to log in as.
    pub user: &'a str,
    /// The database from the client's handshake, if any.
    pub database: Option<&'a [u8]>,
    /// The client's capabilities, limited to what it was offered, without `CLIENT_SSL`
    /// (and limited again to the server's by [`login_response`]).
    pub capabilities: CapabilityFlags,
    /// The client's MariaDB extended capabilities.
    pub mariadb_capabilities: MariadbCapabilities,
    /// The client's connection attributes.
    pub attributes: Option<HashMap<String, String>>,
    /// The client's maximum packet size and character set: bytes 4..9 of its
    /// `HandshakeResponse`, which `mysql_common` reads but does not hand back.
    pub max_packet_and_collation: [u8; 5],
}

impl<'a> LoginRequest<'a> {
    /// The request of a client that was `offered` these capabilities and answered with
    /// `response` (parsed from `payload`), to log in as `user`.
    pub fn from_client(
        user: &'a str,
        response: &'a HandshakeResponse<'a>,
        payload: &[u8],
        offered: CapabilityFlags,
    ) -> Self {
        let capabilities = response.capabilities();
        let mut max_packet_and_collation = [0u8; 5];
        if let Some(bytes) = payload.get(4..9) {
            max_packet_and_collation.copy_from_slice(bytes);
        }
        // MariaDB's extended capabilities are only in play when the client does not
        // claim to be MySQL (bit 0 clear), as in the server's greeting.
        let mariadb_capabilities = if capabilities.contains(CapabilityFlags::CLIENT_LONG_PASSWORD) {
            MariadbCapabilities::empty()
        } else {
            response.mariadb_ext_capabilities()
        };
        Self {
            user,
            database: response.db_name(),
            capabilities: (capabilities & offered) - CapabilityFlags::CLIENT_SSL,
            mariadb_capabilities,
            attributes: response.connect_attributes(),
            max_packet_and_collation,
        }
    }
}

/// The `HandshakeResponse` payload that logs `request` in to the server that sent
/// `greeting`, with `plugin` and its authentication data `auth`, and the capabilities
/// it was built with: the request's and `extra` (such as `CLIENT_SSL`), limited to the
/// server's, plus what plugin authentication needs.
pub fn login_response(
    greeting: &HandshakePacket<'_>,
    request: LoginRequest<'_>,
    extra: CapabilityFlags,
    plugin: AuthPlugin<'_>,
    auth: Vec<u8>,
) -> (Vec<u8>, CapabilityFlags) {
    let needed = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    let response = HandshakeResponse::new(
        Some(auth),
        greeting.server_version_parsed().unwrap_or((5, 5, 5)),
        Some(request.user.as_bytes()),
        request.database,
        Some(plugin),
        (request.capabilities | extra | needed) & greeting.capabilities(),
        request.attributes,
        0,
    )
    .with_mariadb_ext_capabilities(
        request.mariadb_capabilities & greeting.mariadb_ext_capabilities(),
    );
    let capabilities = response.capabilities();
    let mut payload = Vec::new();
    response.serialize(&mut payload);
    payload[4..9].copy_from_slice(&request.max_packet_and_collation);
    (payload, capabilities)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::packets::SslRequest;

    #[tokio::test]
    async fn packets_round_trip_with_sequence_ids() {
        let (a, b) = tokio::io::duplex(1024);
        let mut server = PacketStream::new(a);
        let mut client = PacketStream::new(b);
        server.write(b"greeting").await.unwrap();
        assert_eq!(client.read().await.unwrap().unwrap(), b"greeting");
        client.write(b"reply").await.unwrap();
        assert_eq!(server.read().await.unwrap().unwrap(), b"reply");
        // A packet out of sequence is refused.
        let (mut raw, c) = tokio::io::duplex(64);
        let mut peer = PacketStream::new(c);
        raw.write_all(&[1, 0, 0, 5, b'x']).await.unwrap();
        assert!(peer.read().await.is_err());
        drop(raw);
        // A clean close before a packet is `None`.
        let (raw, c) = tokio::io::duplex(64);
        drop(raw);
        assert!(PacketStream::new(c).read().await.unwrap().is_none());
    }

    #[test]
    fn ssl_request_is_recognised() {
        let mut payload = Vec::new();
        SslRequest::new(
            CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_PROTOCOL_41,
            1 << 24,
            45,
        )
        .serialize(&mut payload);
        assert!(is_ssl_request(&payload));
        payload[1] &= !0x08;
        assert!(!is_ssl_request(&payload));
    }

    #[test]
    fn err_packets_parse_back() {
        let payload = err_packet(
            1045,
            b"28000",
            "Access denied for user 'u'@'127.0.0.1' (using password: YES)",
        );
        assert_eq!(payload[0], ERR_HEADER);
        assert_eq!(
            err_code(&payload, CapabilityFlags::CLIENT_PROTOCOL_41),
            Some((1045, "28000".to_owned()))
        );
    }

    #[test]
    fn kill_statements_are_recognised() {
        fn id(q: &str) -> Option<(&str, u64)> {
            kill_target(q.as_bytes()).map(|(r, id)| (&q[r], id))
        }
        assert_eq!(id("KILL 1000000007"), Some(("1000000007", 1_000_000_007)));
        assert_eq!(id("  kill query\t42 ; "), Some(("42", 42)));
        assert_eq!(id("KILL CONNECTION 42;"), Some(("42", 42)));
        assert_eq!(id("KILL HARD QUERY 42"), Some(("42", 42)));
        assert_eq!(id("kill soft 42"), Some(("42", 42)));
        for other in [
            "",
            "KILL",
            "KILL QUERY",
            "KILL QUERY ID 42",
            "KILL USER bob",
            "KILL 42; SELECT 1",
            "KILL 42 43",
            "KILL 4x2",
            "KILL 99999999999",
            "SELECT 'KILL 42'",
            "/* c */ KILL 42",
            "KILLS 42",
        ] {
            assert_eq!(id(other), None, "{other:?}");
        }
        // Any bytes: no panic.
        assert_eq!(kill_target(b"KILL \xff\x00"), None);
    }

    #[test]
    fn errors_before_the_handshake_get_a_sqlstate_for_later() {
        let before = err_packet_before_handshake(1040, "Too many connections");
        let after = with_sql_state(&before);
        assert_eq!(
            err_code(&after, CapabilityFlags::CLIENT_PROTOCOL_41),
            Some((1040, "HY000".to_owned()))
        );
        assert!(after.ends_with(b"#HY000Too many connections"));
        let with_state = err_packet(1045, b"28000", "no");
        assert_eq!(with_sql_state(&with_state), with_state);
        for short in [&[][..], &[ERR_HEADER], &[ERR_HEADER, 1]] {
            assert_eq!(with_sql_state(short), short);
        }
    }

    #[test]
    fn only_a_well_formed_cleartext_response_carries_a_password() {
        let response = |plugin: AuthPlugin<'static>, auth: &[u8]| {
            let mut payload = Vec::new();
            HandshakeResponse::new(
                Some(auth.to_vec()),
                (10, 11, 0),
                Some(&b"u"[..]),
                None::<&[u8]>,
                Some(plugin),
                CapabilityFlags::CLIENT_PROTOCOL_41
                    | CapabilityFlags::CLIENT_SECURE_CONNECTION
                    | CapabilityFlags::CLIENT_PLUGIN_AUTH
                    | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
                None,
                1 << 24,
            )
            .serialize(&mut payload);
            payload
        };
        assert!(carries_cleartext_password(&response(
            AuthPlugin::MysqlClearPassword,
            b"token\0"
        )));
        assert!(!carries_cleartext_password(&response(
            AuthPlugin::MysqlClearPassword,
            b""
        )));
        assert!(!carries_cleartext_password(&response(
            AuthPlugin::MysqlNativePassword,
            &[7; 20]
        )));
        let mut cut = response(AuthPlugin::MysqlClearPassword, b"token\0");
        cut.truncate(20);
        assert!(!carries_cleartext_password(&cut));
        assert!(!carries_cleartext_password(b"p\0\0\0garbage"));
    }

    #[test]
    fn scrambles_are_printable_and_fresh() {
        let (a, b) = (scramble(), scramble());
        assert_ne!(a, b);
        assert!(a.iter().all(|c| (33..=126).contains(c)));
    }
}

//! MySQL packets as far as the emulator needs them, on top of `mysql_common`: its
//! `PacketCodec` frames payloads and checks sequence ids, its packet types
//! (`HandshakePacket`, `SslRequest`, `HandshakeResponse`, `AuthSwitchRequest`,
//! `ErrPacket`) lay out the bytes.
//!
//! Packets are read exactly (header, then payload), never ahead: a client sends its
//! TLS `ClientHello` right after its `SslRequest` without waiting, and those bytes
//! must stay in the socket for the TLS handshake.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use mysql_common::constants::{CapabilityFlags, MAX_PAYLOAD_LEN};
use mysql_common::io::ParseBuf;
use mysql_common::packets::{ErrPacket, ServerError, SqlState};
use mysql_common::proto::codec::PacketCodec;
use mysql_common::proto::{MyDeserialize, MySerialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The first byte of an OK packet.
pub(crate) const OK_HEADER: u8 = 0x00;
/// The first byte of an ERR packet.
pub(crate) const ERR_HEADER: u8 = 0xFF;
/// The first byte of an `AuthSwitchRequest` (and of an EOF packet).
pub(crate) const AUTH_SWITCH_HEADER: u8 = 0xFE;
/// The first byte of an `AuthMoreData` packet.
pub(crate) const AUTH_MORE_DATA_HEADER: u8 = 0x01;
/// The length of an `SslRequest` payload.
pub(crate) const SSL_REQUEST_LEN: usize = 32;
/// The largest packet accepted during the handshake (tokens are about 1-2 KB).
const MAX_HANDSHAKE_PACKET: usize = 64 * 1024;

/// One side of a connection during the handshake: the stream and the sequence ids.
pub(crate) struct PacketStream<S> {
    pub(crate) stream: S,
    codec: PacketCodec,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PacketStream<S> {
    pub(crate) fn new(stream: S) -> Self {
        let mut codec = PacketCodec::default();
        codec.max_allowed_packet = MAX_HANDSHAKE_PACKET;
        Self { stream, codec }
    }

    /// Split into the stream and the codec (to continue over an upgraded stream).
    pub(crate) fn into_parts(self) -> (S, PacketCodec) {
        (self.stream, self.codec)
    }

    /// Reassemble from [`into_parts`](Self::into_parts).
    pub(crate) fn from_parts(stream: S, codec: PacketCodec) -> Self {
        Self { stream, codec }
    }

    /// Read one packet's payload. `Ok(None)` if the peer closed before sending one.
    pub(crate) async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
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
            let len =
                usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
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
    pub(crate) async fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut out = BytesMut::new();
        self.codec
            .encode(&mut &payload[..], &mut out)
            .map_err(io::Error::other)?;
        self.stream.write_all(&out).await?;
        self.stream.flush().await
    }

    /// Serialize `packet` and write it.
    pub(crate) async fn write_packet(&mut self, packet: &impl MySerialize) -> io::Result<()> {
        let mut payload = Vec::new();
        packet.serialize(&mut payload);
        self.write(&payload).await
    }
}

/// Parse a whole payload as `T`.
pub(crate) fn parse<'de, T>(payload: &'de [u8], ctx: T::Ctx) -> io::Result<T>
where
    T: MyDeserialize<'de>,
{
    ParseBuf(payload).parse(ctx)
}

/// The capability flags at the start of an `SslRequest` or `HandshakeResponse`.
pub(crate) fn client_capabilities(payload: &[u8]) -> Option<CapabilityFlags> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(CapabilityFlags::from_bits_truncate(u32::from_le_bytes(
        bytes,
    )))
}

/// Whether a client's first packet is an `SslRequest` (rather than a
/// `HandshakeResponse` sent without TLS).
pub(crate) fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == SSL_REQUEST_LEN
        && client_capabilities(payload).is_some_and(|c| c.contains(CapabilityFlags::CLIENT_SSL))
}

/// An ERR packet payload, protocol 4.1 style with the SQLSTATE.
pub(crate) fn err_packet(code: u16, state: &[u8; 5], message: &str) -> Vec<u8> {
    err_payload(code, Some(SqlState::new(*state)), message)
}

/// An ERR packet payload for a client that has not said yet whether it speaks
/// protocol 4.1 (before its handshake response): without the SQLSTATE, as servers
/// send it then.
pub(crate) fn err_packet_before_handshake(code: u16, message: &str) -> Vec<u8> {
    err_payload(code, None, message)
}

fn err_payload(code: u16, state: Option<SqlState>, message: &str) -> Vec<u8> {
    let packet = ErrPacket::Error(ServerError::new(code, state, message.as_bytes()));
    let mut payload = Vec::new();
    packet.serialize(&mut payload);
    payload
}

/// The error code and SQLSTATE of an ERR packet payload.
pub(crate) fn err_code(payload: &[u8], capabilities: CapabilityFlags) -> Option<(u16, String)> {
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
pub(crate) fn scramble() -> [u8; 20] {
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
    fn scrambles_are_printable_and_fresh() {
        let (a, b) = (scramble(), scramble());
        assert_ne!(a, b);
        assert!(a.iter().all(|c| (33..=126).contains(c)));
    }
}

//! Reading the certificate a server presents, to explain a failed verification.
//!
//! Used only after a handshake has failed: it opens a new connection, asks the server for TLS
//! the way its protocol does, completes a handshake that accepts any certificate, keeps the
//! certificate and closes. It never sends a user name or a password.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a server is asked to start TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(all(feature = "_postgres", feature = "_mysql")),
    allow(dead_code) // reason: each connector feature uses its own protocol
)]
pub(crate) enum Protocol {
    /// PostgreSQL: an `SSLRequest` message, answered with `S`.
    Postgres,
    /// MySQL and MariaDB: read the server greeting, answer with an SSL request packet.
    MySql,
}

/// PostgreSQL's `SSLRequest`: length 8, code 80877103.
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// MySQL capability flags.
const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
/// `utf8mb4_general_ci`.
const UTF8MB4: u8 = 45;

/// The DER certificate `addr` presents for `server_name` (as SNI), within `timeout`.
pub(crate) async fn server_certificate(
    addr: SocketAddr,
    server_name: &str,
    protocol: Protocol,
    timeout: Duration,
) -> io::Result<Vec<u8>> {
    tokio::time::timeout(timeout, fetch(addr, server_name, protocol))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the server did not answer in time"))?
}

async fn fetch(addr: SocketAddr, server_name: &str, protocol: Protocol) -> io::Result<Vec<u8>> {
    let stream = start_tls(TcpStream::connect(addr).await?, protocol).await?;
    // native-tls when it is built (as before the rustls stack existed), else rustls.
    #[cfg(feature = "_native-tls")]
    return super::native::peer_certificate(stream, server_name).await;
    #[cfg(not(feature = "_native-tls"))]
    return super::rustls::peer_certificate(stream, server_name).await;
}

/// Ask the server at the other end of `stream` to start TLS the way `protocol` does; the
/// stream is then ready for a TLS handshake. A server that says no is an error of kind
/// [`io::ErrorKind::Unsupported`].
pub(crate) async fn start_tls(mut stream: TcpStream, protocol: Protocol) -> io::Result<TcpStream> {
    let refused = || {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "the server does not support TLS",
        )
    };
    match protocol {
        Protocol::Postgres => {
            stream.write_all(&PG_SSL_REQUEST).await?;
            let mut answer = [0u8; 1];
            stream.read_exact(&mut answer).await?;
            if answer[0] != b'S' {
                return Err(refused());
            }
        }
        Protocol::MySql => {
            let greeting = read_mysql_packet(&mut stream).await?;
            if greeting_capabilities(&greeting).is_none_or(|c| c & CLIENT_SSL == 0) {
                return Err(refused());
            }
            stream.write_all(&mysql_ssl_request()).await?;
        }
    }
    Ok(stream)
}

async fn read_mysql_packet(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await?;
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await?;
    Ok(payload)
}

/// The capability flags of a protocol-10 greeting.
fn greeting_capabilities(greeting: &[u8]) -> Option<u32> {
    // protocol version, server version (NUL-terminated), connection id (4), auth data (8),
    // filler (1), capabilities low (2), charset (1), status (2), capabilities high (2).
    if greeting.first() != Some(&10) {
        return None;
    }
    let version_end = 1 + greeting[1..].iter().position(|&b| b == 0)?;
    let low_at = version_end + 1 + 4 + 8 + 1;
    let low = greeting.get(low_at..low_at + 2)?;
    let high = greeting.get(low_at + 5..low_at + 7).unwrap_or(&[0, 0][..]);
    Some(
        u32::from(u16::from_le_bytes([low[0], low[1]]))
            | u32::from(u16::from_le_bytes([high[0], high[1]])) << 16,
    )
}

/// An SSL request packet (sequence id 1): capabilities, max packet size, charset, 23 zeros.
fn mysql_ssl_request() -> Vec<u8> {
    let capabilities = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_SSL
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH;
    let mut packet = vec![32, 0, 0, 1];
    packet.extend_from_slice(&capabilities.to_le_bytes());
    packet.extend_from_slice(&(16u32 << 20).to_le_bytes());
    packet.push(UTF8MB4);
    packet.extend_from_slice(&[0; 23]);
    packet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_capabilities_are_read() {
        let mut greeting = vec![10];
        greeting.extend_from_slice(b"11.8.3-MariaDB\0");
        greeting.extend_from_slice(&[1, 0, 0, 0]); // connection id
        greeting.extend_from_slice(&[b'x'; 8]); // auth data part 1
        greeting.push(0); // filler
        greeting.extend_from_slice(&0xf7feu16.to_le_bytes()); // low flags, with CLIENT_SSL
        greeting.push(45);
        greeting.extend_from_slice(&[2, 0]);
        greeting.extend_from_slice(&0x0008u16.to_le_bytes()); // high flags: plugin auth
        assert_eq!(greeting_capabilities(&greeting), Some(0x0008_f7fe));
        assert_eq!(greeting_capabilities(&[9, 0]), None);
        assert_eq!(greeting_capabilities(&greeting[..20]), None);
    }

    #[test]
    fn ssl_request_layout() {
        let packet = mysql_ssl_request();
        assert_eq!(packet.len(), 4 + 32);
        assert_eq!(&packet[..4], &[32, 0, 0, 1]);
        let flags = u32::from_le_bytes(packet[4..8].try_into().unwrap());
        assert_ne!(flags & CLIENT_SSL, 0);
    }
}

//! The relay of a logged-in session. Backend to client: byte for byte. Client to
//! backend: packet by packet, byte for byte too, except a `COM_QUERY` that is exactly
//! `KILL ... <id>` where `<id>` is the connection id the emulator gave another
//! logged-in client in its greeting: that id is replaced by the backend session's.

use std::io;

use mysql_common::constants::{CapabilityFlags, MAX_PAYLOAD_LEN};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::wire::{self, COM_QUERY};

/// Packets up to this size are read whole and written with their header in one go;
/// larger ones are streamed through.
const WHOLE_PACKET: usize = 16 * 1024;

/// Relay `client` and `backend` until both directions end. `kill_ids` maps a
/// connection id the emulator gave a client to its backend session id.
pub(crate) async fn relay<C>(
    client: C,
    backend: TcpStream,
    capabilities: CapabilityFlags,
    kill_ids: &impl Fn(u32) -> Option<u32>,
) -> io::Result<()>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let (client_read, mut client_write) = tokio::io::split(client);
    let (mut backend_read, mut backend_write) = backend.into_split();
    let query_attributes = capabilities.contains(CapabilityFlags::CLIENT_QUERY_ATTRIBUTES);
    let to_backend = async {
        let mut client_read = BufReader::new(client_read);
        commands(
            &mut client_read,
            &mut backend_write,
            query_attributes,
            kill_ids,
        )
        .await?;
        backend_write.shutdown().await
    };
    let to_client = async {
        tokio::io::copy(&mut backend_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    tokio::try_join!(to_backend, to_client).map(|_| ())
}

/// Copy the client's packets to the backend until the client closes.
async fn commands<R, W>(
    client: &mut R,
    backend: &mut W,
    query_attributes: bool,
    kill_ids: &impl Fn(u32) -> Option<u32>,
) -> io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // A payload of MAX_PAYLOAD_LEN bytes continues in the next packet.
    let mut continued = false;
    loop {
        let mut header = [0u8; 4];
        match client.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = wire::payload_len(header);
        let starts_command = header[3] == 0 && !continued;
        continued = len == MAX_PAYLOAD_LEN;
        if len <= WHOLE_PACKET {
            let mut payload = vec![0u8; len];
            client.read_exact(&mut payload).await?;
            let packet = match starts_command
                .then(|| translate_kill(&payload, query_attributes, kill_ids))
                .flatten()
            {
                Some(translated) => wire::frame(0, &translated),
                None => {
                    let mut packet = header.to_vec();
                    packet.append(&mut payload);
                    packet
                }
            };
            backend.write_all(&packet).await?;
        } else {
            backend.write_all(&header).await?;
            let expected = len as u64;
            let copied = tokio::io::copy_buf(&mut (&mut *client).take(expected), backend).await?;
            if copied != expected {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }
}

/// `payload` with the id of a `KILL` replaced, if it is a `COM_QUERY` that is exactly
/// a `KILL` naming a connection id in `kill_ids`.
pub(crate) fn translate_kill(
    payload: &[u8],
    query_attributes: bool,
    kill_ids: impl Fn(u32) -> Option<u32>,
) -> Option<Vec<u8>> {
    let query = payload.strip_prefix(&[COM_QUERY])?;
    // With query attributes: a parameter count and a parameter set count (1) first.
    let query = if query_attributes {
        query.strip_prefix(&[0, 1])?
    } else {
        query
    };
    let (digits, id) = wire::kill_target(query)?;
    let backend_id = kill_ids(u32::try_from(id).ok()?)?;
    let start = payload.len() - query.len();
    let mut out = payload[..start + digits.start].to_vec();
    out.extend_from_slice(backend_id.to_string().as_bytes());
    out.extend_from_slice(&query[digits.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(id: u32) -> Option<u32> {
        (id == 1_000_000_003).then_some(57)
    }

    #[test]
    fn kill_of_an_emulator_id_names_the_backend_session() {
        assert_eq!(
            translate_kill(b"\x03KILL QUERY 1000000003;", false, ids),
            Some(b"\x03KILL QUERY 57;".to_vec())
        );
        assert_eq!(
            translate_kill(b"\x03\x00\x01kill 1000000003", true, ids),
            Some(b"\x03\x00\x01kill 57".to_vec())
        );
        // Unknown ids, backend ids, other statements and commands are left alone.
        for (payload, attributes) in [
            (&b"\x03KILL QUERY 1000000004"[..], false),
            (b"\x03KILL QUERY 57", false),
            (b"\x03SELECT 1000000003", false),
            (b"\x16KILL 1000000003", false),
            (b"\x03KILL 1000000003", true),
            (b"\x03\x01\x01KILL 1000000003", true),
            (b"\x03KILL 4294967296", false),
            (b"", false),
        ] {
            assert_eq!(translate_kill(payload, attributes, ids), None);
        }
    }

    async fn relayed(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        commands(&mut &input[..], &mut out, false, &ids)
            .await
            .unwrap();
        out
    }

    #[tokio::test]
    async fn packets_pass_unchanged_but_for_kill() {
        let kill = wire::frame(0, b"\x03KILL 1000000003");
        let select = wire::frame(0, b"\x03SELECT 1");
        let stream = [select.clone(), kill, select.clone()].concat();
        let expected = [select.clone(), wire::frame(0, b"\x03KILL 57"), select].concat();
        assert_eq!(relayed(&stream).await, expected);

        // A KILL inside a multi-packet payload (or any packet but a command's first)
        // is data, not a statement.
        let not_first = wire::frame(3, b"\x03KILL 1000000003");
        assert_eq!(relayed(&not_first).await, not_first);
        let mut big = vec![0xFF, 0xFF, 0xFF, 0];
        big.resize(4 + MAX_PAYLOAD_LEN, b'x');
        big.extend_from_slice(&wire::frame(1, b"\x03KILL 1000000003"));
        big.extend_from_slice(&wire::frame(0, b"\x03KILL 1000000003"));
        let out = relayed(&big).await;
        assert_eq!(out.len(), big.len() - 8);
        assert!(out.ends_with(&wire::frame(0, b"\x03KILL 57")));
        assert_eq!(out[..out.len() - 12], big[..big.len() - 20]);
    }

    #[tokio::test]
    async fn a_packet_cut_short_is_an_error() {
        let mut cut = wire::frame(0, b"\x03SELECT 1");
        cut.truncate(7);
        let mut out = Vec::new();
        let err = commands(&mut &cut[..], &mut out, false, &ids)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let mut big = vec![0, 0x80, 0, 0];
        big.extend_from_slice(&[1; 100]);
        let err = commands(&mut &big[..], &mut out, false, &ids)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

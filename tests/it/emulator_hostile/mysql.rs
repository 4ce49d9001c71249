//! The MySQL front end's raw protocol for the hostile clients.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_native_tls::TlsStream;

use super::{Malformed, Rng, Wire, long_name};
use crate::support::engine::MySql;
use crate::support::engine::mysql_wire::{
    err_code, handshake_response, packet, read_packet, ssl_request,
};

impl Wire for MySql {
    const SEED: u64 = 0x5EED_1000;

    /// Random packets after the greeting: some as one well-framed packet, some as raw bytes,
    /// some followed by a packet in sequence after the refusal (packet 3 after the ERR packet
    /// 2: counted as a password before).
    fn random_clients(rng: &mut Rng) -> Vec<Vec<u8>> {
        (0..200)
            .map(|i| {
                let body = rng.bytes(300);
                match i % 3 {
                    0 => packet(1, &body),
                    1 => body,
                    _ => [packet(1, &body), packet(3, b"p\0")].concat(),
                }
            })
            .collect()
    }

    fn malformed() -> Vec<Malformed> {
        let mut cut = handshake_response(1, "emu_hostile_cut", None);
        cut.truncate(cut.len() / 2);
        let case = |what, over_tls, bytes| Malformed {
            what,
            over_tls,
            bytes,
            then_shutdown: false,
            reply: <[u8]>::is_empty,
            by_the_timeout: false,
        };
        vec![
            // The largest length a packet header can give: refused before anything is
            // allocated for it, without waiting for the payload.
            case(
                "a packet claiming 16 MB",
                false,
                vec![0xFF, 0xFF, 0xFF, 1, b'x'],
            ),
            // The same over TLS, where the handshake response goes.
            case(
                "over TLS, a packet claiming 16 MB",
                true,
                vec![0xFF, 0xFF, 0xFF, 2, b'x'],
            ),
            Malformed {
                by_the_timeout: true,
                ..case("half a handshake response", false, cut)
            },
            Malformed {
                reply: |_| true,
                ..case(
                    "a packet out of sequence",
                    false,
                    handshake_response(5, "emu_hostile_seq", None),
                )
            },
        ]
    }

    async fn request_tls(stream: &mut TcpStream) {
        stream.write_all(&ssl_request()).await.unwrap();
    }

    async fn start_login(tls: &mut TlsStream<TcpStream>, user: &str) {
        tls.write_all(&handshake_response(2, user, None))
            .await
            .unwrap();
        // AuthSwitchRequest to mysql_clear_password.
        let switch = read_packet(tls).await;
        assert!(switch.starts_with(b"\xFEmysql_clear_password\0"));
    }

    async fn send_password(tls: &mut TlsStream<TcpStream>, password: &str) {
        let token = [password.as_bytes(), b"\0"].concat();
        tls.write_all(&packet(4, &token)).await.unwrap();
    }

    /// Handshake responses without TLS, with 9 KB user and database names.
    fn long_login(i: usize) -> Vec<u8> {
        handshake_response(1, &long_name(i), Some(&long_name(i)))
    }

    /// Every user, and every database but the last record's.
    const CUT_AT_LEAST: (usize, usize) = (100, 99);

    /// An ERR packet (the only message the emulator sends after the greeting before TLS).
    fn is_message(reply: &[u8]) -> bool {
        err_code(reply).is_some()
    }

    fn is_error(reply: &[u8], code: &str) -> bool {
        err_code(reply).is_some_and(|c| c.to_string() == code)
    }

    fn assert_over_the_limit(reply: &[u8]) {
        assert_eq!(err_code(reply), Some(1040), "{reply:?}");
        assert!(reply.ends_with(b"Too many connections"));
    }

    fn assert_refused_at_the_limit(error: &mysql_async::Error) {
        match error {
            mysql_async::Error::Server(e) => assert_eq!(e.code, 1040, "{e:?}"),
            other => panic!("{other:?}"),
        }
    }

    async fn stalls_of_its_own(_: SocketAddr) -> Vec<(&'static str, Duration)> {
        Vec::new()
    }
}

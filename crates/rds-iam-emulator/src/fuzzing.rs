//! Entry points for the fuzz targets in `fuzz/` (`pg_wire`, `mysql_wire`): not part of the
//! API, hidden from the docs, and free to change at any time.
//!
//! Each function feeds arbitrary bytes, as a client would send them, to the emulator's own
//! message decoders in the order its front end calls them, and describes what they decoded.
//! The fuzz targets check that this never panics and never allocates more than the decoders'
//! limits.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::HandshakeResponse;

use super::mysql::wire::{self as mysql_wire, PacketStream};
use super::postgres::wire::{self as postgres_wire, Initial};

/// Decode `bytes` as a PostgreSQL client's stream: initial packets (another one follows an
/// `SSLRequest` or a `GSSENCRequest`), then the password message after a `StartupMessage`;
/// and the password reader alone on the whole input. One description per decoded item.
pub fn decode_postgres_client(bytes: &[u8]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut stream = bytes;
    loop {
        let initial = ready(postgres_wire::read_initial(&mut stream));
        seen.push(format!("{initial:?}"));
        match initial {
            Ok(Some(Initial::SslRequest | Initial::GssEncRequest)) => continue,
            Ok(Some(Initial::Startup(_))) => {
                let password = ready(postgres_wire::read_password(&mut stream));
                seen.push(format!("password: {password:?}"));
            }
            _ => {}
        }
        break;
    }
    let password = ready(postgres_wire::read_password(&mut &bytes[..]));
    seen.push(format!("password alone: {password:?}"));
    seen
}

/// Decode `bytes` as a MySQL client's stream, after the server's greeting: every packet the
/// framing yields goes through each payload decoder (`SslRequest`, capabilities,
/// `HandshakeResponse`, ERR packet). After a handshake response the server writes one packet
/// (an `AuthSwitchRequest` or an ERR), which moves the sequence ids on as in a real login.
pub fn decode_mysql_client(bytes: &[u8]) -> Vec<String> {
    let mut seen = Vec::new();
    let mut client = PacketStream::new(tokio::io::join(bytes, tokio::io::sink()));
    // The greeting: the client's packets start at sequence id 1.
    if let Err(error) = ready(client.write(&[])) {
        seen.push(format!("greeting: {error:?}"));
        return seen;
    }
    loop {
        let payload = match ready(client.read()) {
            Ok(Some(payload)) => payload,
            end => {
                seen.push(format!("end: {end:?}"));
                return seen;
            }
        };
        let ssl_request = mysql_wire::is_ssl_request(&payload);
        let capabilities = mysql_wire::client_capabilities(&payload);
        let response = mysql_wire::parse::<HandshakeResponse<'_>>(&payload, ()).ok();
        let err = mysql_wire::err_code(&payload, capabilities.unwrap_or(CapabilityFlags::empty()));
        seen.push(format!(
            "ssl_request: {ssl_request}, capabilities: {capabilities:?}, response: {response:?}, err: {err:?}"
        ));
        if let Some(response) = response {
            let needed = CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_PLUGIN_AUTH;
            // The front end's `login` copies bytes 4..9 of a response it accepts.
            assert!(
                !response.capabilities().contains(needed) || payload.len() >= 9,
                "an accepted handshake response is shorter than 9 bytes"
            );
            if !ssl_request && let Err(error) = ready(client.write(&[])) {
                seen.push(format!("reply: {error:?}"));
                return seen;
            }
        }
    }
}

/// Run a future over in-memory streams, which never wait.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("in-memory reads and writes never wait"),
    }
}

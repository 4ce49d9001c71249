//! `mysql_wire`: a client's bytes to the emulator's MySQL packet framing and payload decoders
//! (`SslRequest`, `HandshakeResponse`, ERR), as its front end reads them after its greeting.
//!
//! Decoding never panics, and no single allocation exceeds [`alloc::LIMIT`] whatever the length
//! fields claim (the seeds include a claim of 16 MiB).

use crate::alloc;

/// Run the decoders on `data`; returns what they decoded, one description per packet.
pub fn check(data: &[u8]) -> Vec<String> {
    alloc::bounded(|| rds_iam_emulator::fuzzing::decode_mysql_client(data))
}

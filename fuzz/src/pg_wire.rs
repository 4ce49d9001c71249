//! `pg_wire`: a client's bytes to the emulator's PostgreSQL message decoders (initial packets,
//! then the password message), as its front end reads them.
//!
//! Decoding never panics, and no single allocation exceeds [`alloc::LIMIT`] whatever the length
//! fields claim (the seeds include a claim of about 2 GiB).

use crate::alloc;

/// Run the decoders on `data`; returns what they decoded, one description per message.
pub fn check(data: &[u8]) -> Vec<String> {
    alloc::bounded(|| rds_iam_emulator::fuzzing::decode_postgres_client(data))
}

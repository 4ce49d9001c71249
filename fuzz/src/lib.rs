//! The bodies of rds-iam's fuzz targets, one module per target, and their seeds.
//!
//! Each `fuzz_targets/<name>.rs` only calls `<name>::check`, so the same checks run under
//! libFuzzer (`cargo +nightly fuzz run <name>`, nightly) and over the seeds in a plain
//! `cargo test` (stable), which keeps the targets from rotting between fuzzing runs. A check
//! panics when an invariant breaks; its return value tells the seed tests how far an input got.
//!
//! | target | what it feeds | what must hold |
//! |---|---|---|
//! | [`jdbc_url`] | arbitrary text to `JdbcUrl::parse` | no panic; the full URL parses back equal; `Display`/`Debug` do not depend on secret values |
//! | [`endpoint`] | arbitrary text to `endpoint::classify` | no panic; answers agree with the documented name shapes, ignore ASCII case and one trailing dot |
//! | [`sign_verify`] | signing parameters to `sign_rds_token` | every token signed is accepted by the emulator's verifier, and refused for another user, region or port |
//! | [`pg_wire`] | a client's bytes to the emulator's PostgreSQL decoders | no panic; no allocation over [`alloc::LIMIT`] |
//! | [`mysql_wire`] | a client's bytes to the emulator's MySQL decoders | no panic; no allocation over [`alloc::LIMIT`] |
//!
//! [`seeds`] turns the data files under `../tests/data` into each target's seed inputs
//! (`cargo run --example seeds` writes them as corpus directories).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod alloc;
pub mod endpoint;
pub mod jdbc_url;
pub mod mysql_wire;
pub mod pg_wire;
pub mod seeds;
pub mod sign_verify;

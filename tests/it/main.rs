//! Integration tests: one binary, one module per area.

mod support;

#[cfg(feature = "postgres")]
mod live_postgres;

#[cfg(all(feature = "emulator", feature = "postgres"))]
mod emulator_postgres;

//! The integration test binary: one module per area.

mod token_redaction;
mod token_vectors;

//! Integration tests: one binary, one module per area.

mod credentials;
mod jdbc_props;
mod jdbc_urls;
mod rds_hosts;
mod support;
mod token_cli;
mod token_redaction;
mod token_vectors;

//! Integration tests: one binary, one module per area.

mod credentials;
mod jdbc_props;
mod jdbc_urls;
mod provider;
mod rds_hosts;
mod token_redaction;
mod token_vectors;

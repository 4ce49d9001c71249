//! Integration tests: one binary, one module per area.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod ca_bundles;
mod credentials;
mod jdbc_props;
mod jdbc_urls;
mod rds_hosts;
mod token_redaction;
mod token_vectors;

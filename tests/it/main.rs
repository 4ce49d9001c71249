//! The integration tests: one binary, one module per area.

mod jdbc_props;
mod jdbc_urls;
mod rds_hosts;

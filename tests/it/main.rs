//! Integration tests: one binary, one module per area.

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod ca_bundles;
mod credentials;
mod credentials_faults;
#[cfg(all(feature = "postgres", feature = "mysql"))]
mod hostile_servers;
mod ipv6_signing;
mod jdbc_props;
mod jdbc_urls;
mod provider;
mod rds_hosts;
mod support;
mod token_cli;
mod token_redaction;
mod token_vectors;

#[cfg(feature = "mysql")]
mod live_mariadb;
#[cfg(feature = "postgres")]
mod live_postgres;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod emulator;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod emulator_hostile;
mod emulator_verifier;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod connect;
#[cfg(all(feature = "postgres", feature = "mysql"))]
mod connect_cli;

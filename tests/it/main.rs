//! Integration tests: one binary, one module per area.

#[cfg(any(feature = "_postgres", feature = "_mysql"))]
mod ca_bundles;
#[cfg(feature = "aws-config")]
mod credentials;
#[cfg(feature = "aws-config")]
mod credentials_faults;
#[cfg(all(feature = "_postgres", feature = "_mysql"))]
mod hostile_servers;
mod ipv6_signing;
mod jdbc_props;
mod jdbc_urls;
#[cfg(all(
    not(feature = "aws-config"),
    any(feature = "_postgres", feature = "_mysql")
))]
mod lean;
mod provider;
mod rds_hosts;
#[cfg(all(feature = "aws-config", feature = "postgres", feature = "mysql"))]
mod setup;
mod support;
#[cfg(feature = "aws-config")]
mod token_cli;
mod token_redaction;
mod token_vectors;

#[cfg(feature = "_mysql")]
mod live_mariadb;
#[cfg(feature = "_postgres")]
mod live_postgres;

#[cfg(any(feature = "_postgres", feature = "_mysql"))]
mod emulator;
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
mod emulator_hostile;
mod emulator_verifier;

#[cfg(any(feature = "_postgres", feature = "_mysql"))]
mod connect;
#[cfg(all(feature = "aws-config", feature = "_postgres", feature = "_mysql"))]
mod connect_cli;
#[cfg(all(feature = "aws-config", feature = "_postgres", feature = "_mysql"))]
mod doctor_cli;
#[cfg(any(feature = "deadpool", feature = "bb8", feature = "sqlx"))]
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
mod pools;
#[cfg(all(feature = "proxy", feature = "_postgres"))]
mod proxy;
#[cfg(all(feature = "proxy", feature = "aws-config", feature = "_postgres"))]
mod proxy_cli;
#[cfg(all(feature = "proxy", feature = "_mysql"))]
mod proxy_mysql;

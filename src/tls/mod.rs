//! TLS for the connectors: which CAs are trusted, loading CA bundles whole, and the TLS
//! connector for an effective [`TlsMode`](crate::tls_mode::TlsMode), with either TLS stack.
//!
//! The CA sources, the bundle loading, the mode checks and the errors are shared; only the glue
//! differs: native-tls (features `postgres`, `mysql`; `tls_connector`) and rustls (features
//! `postgres-rustls`, `mysql-rustls`; `rustls_config`). Both give the same trust in each mode,
//! and their failures the same [`ConnectError`](crate::connect::ConnectError)s: native-tls's
//! read from its error text, rustls's from its error types.
//!
//! Trusted CAs come from [`CaSource`]s, collected in a [`TrustConfig`]:
//!
//! - the file named in the JDBC URL (`sslrootcert` for PostgreSQL, `sslCa` or `serverSslCert`
//!   for MySQL and MariaDB): [`CaSource::UrlFile`], added by the connectors' `from_url`;
//! - a PEM file or PEM text given in code: [`CaSource::File`], [`CaSource::Pem`];
//! - the file a Harness ECS runner mounts into build tasks from AWS Secrets Manager,
//!   [`BUILD_TASK_CA_FILE`]: [`CaSource::MountedBuildTaskBundle`], read only when added;
//! - the system trust store, on by default (RDS Proxy and Aurora DSQL present certificates
//!   from public CAs); [`TrustConfig::with_system_roots`] turns it off. native-tls reads it
//!   through OpenSSL, rustls through rustls-native-certs: the same files (`SSL_CERT_FILE` and
//!   `SSL_CERT_DIR` included).
//!
//! What each TLS mode trusts ([`CaBundle::system_roots_in`]), with either stack:
//!
//! | mode | chain checked against | host name |
//! |---|---|---|
//! | `verify-full` | the CA sources, and the system trust store unless turned off | checked |
//! | `verify-ca` | exactly the CA sources given, never the system trust store; none given is [`TlsSetupError::VerifyCaWithoutCa`] when the connector is built | not checked |
//! | `require` | nothing (a warning says the server is not authenticated) | not checked |
//!
//! `verify-ca` accepts any host name, so trusting the system store there would let any server
//! with a certificate for any name from any public CA receive the token: libpq likewise trusts
//! only the `sslrootcert` file in `verify-ca`, and refuses `sslrootcert=system` with it.
//!
//! [`CaBundle::load`] reads them all. Every certificate of a bundle becomes a trusted root
//! (the RDS global bundle has over 100; native-tls's `Certificate::from_pem` would take only
//! the first). An empty, garbled or missing file is an error that names the file, raised when
//! the connector is built rather than as a TLS failure at the first connection.
//!
//! ```
//! use rds_iam::tls::{CaBundle, CaError, CaSource, TrustConfig};
//!
//! # let dir = tempfile::tempdir()?;
//! # let empty = dir.path().join("root_ca.crt");
//! # std::fs::write(&empty, "")?;
//! let trust = TrustConfig::new().with_source(CaSource::file(&empty));
//! let err = CaBundle::load(&trust).unwrap_err();
//! assert!(matches!(err, CaError::Empty { .. }));
//! assert!(err.to_string().contains("root_ca.crt is empty"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bundle;
pub(crate) mod connector;
pub(crate) mod diagnose;
pub(crate) mod inspect;
#[cfg(feature = "_native-tls")]
mod native;
pub(crate) mod probe;
#[cfg(feature = "_rustls")]
pub(crate) mod rustls;
mod source;

pub use bundle::{CaBundle, CaError};
pub use connector::TlsSetupError;
pub use inspect::ServerTls;
#[cfg(feature = "_native-tls")]
pub use native::tls_connector;
#[cfg(feature = "_rustls")]
pub use rustls::rustls_config;
pub use source::{BUILD_TASK_CA_FILE, CaSource, TrustConfig};

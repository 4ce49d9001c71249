//! # rds-iam
//!
//! IAM database authentication for Amazon Aurora and RDS (PostgreSQL and MySQL).
//!
//! Give it the `jdbc:aws-wrapper:` URL your pipeline already has: it tells you what an IAM
//! token would be signed for (host, port, region, user) and how the connection is protected
//! (TLS is always on: an IAM token is a bearer secret).
//!
//! ```
//! use rds_iam::endpoint::EndpointKind;
//! use rds_iam::jdbc::{Engine, JdbcUrl};
//! use rds_iam::plan::{ConnectPlan, PlanOverrides};
//! use rds_iam::tls_mode::TlsMode;
//!
//! // The URL from the Harness guide, with the database user added.
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!      ?wrapperPlugins=iam&ssl=true&sslmode=require&user=harness_iam_user",
//! )?;
//! assert_eq!(url.engine(), Engine::Postgresql);
//! assert!(url.is_iam());
//!
//! let plan = ConnectPlan::resolve(&url, &PlanOverrides::new())?;
//! assert_eq!(plan.signing_host, "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com");
//! assert_eq!(plan.signing_port, 5432);
//! assert_eq!(plan.region, "us-east-1");
//! assert_eq!(plan.endpoint.kind, EndpointKind::ClusterWriter);
//! assert_eq!(plan.user, "harness_iam_user");
//! assert_eq!(plan.tls.mode(), TlsMode::Require);
//!
//! // Overrides, as the token example's --user and --region.
//! let plan = ConnectPlan::resolve(&url, &PlanOverrides::new().user("deployer").region("us-west-2"))?;
//! assert_eq!((plan.user.as_str(), plan.region.as_str()), ("deployer", "us-west-2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! | module | what it does |
//! |---|---|
//! | [`jdbc`] | parses `jdbc:aws-wrapper:` URLs and the plain `jdbc:postgresql:`, `jdbc:mysql:`, `jdbc:mariadb:` ones |
//! | [`endpoint`] | classifies RDS host names (instance, cluster, proxy, ...) and finds the region |
//! | [`tls_mode`] | the effective TLS mode, following libpq, pgjdbc and MySQL Connector/J |
//! | [`plan`] | what an IAM token would be signed for: host, port, region, user |
//! | [`provider`] | the token cache every connection asks: reuse, refresh ahead, single flight |
//! | [`secret`] | secrets with redacted `Debug` and no `Display` |
//! | [`clock`] | time as an input, for signing and caching |
//!
//! All of these but [`provider`] (which loads AWS credentials) are pure: no I/O, no environment
//! reads.
//!
//! Connecting (features `postgres` / `mysql`):
//!
//! | module | what it does |
//! |---|---|
//! | `postgres` | `PgConnector`: IAM login with tokio-postgres, TLS always on |
//! | `mysql` | `MySqlConnector`: IAM login with mysql_async (MySQL, MariaDB), TLS always on |
//! | `tls` | trusted CAs (URL file, PEM, build-task mount, system store), whole-bundle loading |
//! | `connect` | what both connectors share: targets, the retry on a rejected cached token, `ConnectError` |
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `postgres` | yes | the PostgreSQL connector (tokio-postgres + postgres-native-tls) |
//! | `mysql` | yes | the MySQL/MariaDB connector (mysql_async with native-tls) |
//! | `emulator` | no | a local IAM-enabled RDS endpoint emulator for tests |
//!
//! The URL parser, the endpoint classifier, the TLS mode and the plan need no feature.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod connect;
pub mod credentials;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod endpoint;
pub mod jdbc;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod plan;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod provider;
pub mod secret;
mod single_flight;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub mod tls;
pub mod tls_mode;
pub mod token;

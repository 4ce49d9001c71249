//! # rds-iam
//!
//! IAM database authentication for Amazon Aurora and RDS (PostgreSQL and MySQL).
//!
//! Give it the `jdbc:aws-wrapper:` URL your pipeline already has: it mints the same
//! `rds-db:connect` token the AWS SDKs produce, caches it, and connects with TLS always on (an
//! IAM token is a bearer secret). One call each, one `use`:
//!
//! ```no_run
//! # #[cfg(all(feature = "aws-config", feature = "_postgres"))]
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! const URL: &str = "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!     ?wrapperPlugins=iam&user=harness_iam_user&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem";
//!
//! // A token, as `aws rds generate-db-auth-token` gives (default AWS credentials chain):
//! let token = rds_iam::mint_token(URL).await?;
//! let password: &str = token.expose(); // `{token:?}` shows no secret
//!
//! // A connection (tokio-postgres; `connect_mysql` for MySQL and MariaDB URLs):
//! let (client, connection) = rds_iam::connect_postgres(URL).await?;
//! tokio::spawn(connection);
//! client.batch_execute("SELECT 1").await?;
//! # let _ = password; Ok(()) }
//! ```
//!
//! What would be signed and dialled, without AWS credentials (pure: no I/O):
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
//! let target = plan.first();
//! assert_eq!(target.token.host, "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com");
//! assert_eq!(target.token.port, 5432);
//! assert_eq!(target.token.region, "us-east-1");
//! assert_eq!(target.endpoint.kind, EndpointKind::ClusterWriter);
//! assert_eq!(plan.user, "harness_iam_user");
//! assert_eq!(plan.tls.mode(), TlsMode::Require);
//!
//! // Overrides, as the token example's --user and --region.
//! let plan = ConnectPlan::resolve(&url, &PlanOverrides::new().user("deployer").region("us-west-2"))?;
//! assert_eq!((plan.user.as_str(), plan.first().token.region.as_str()), ("deployer", "us-west-2"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//!
//! | module | what it does |
//! |---|---|
//! | [`jdbc`] | parses `jdbc:aws-wrapper:` URLs and the plain `jdbc:postgresql:`, `jdbc:mysql:`, `jdbc:mariadb:` ones |
//! | [`endpoint`] | classifies RDS host names (instance, cluster, proxy, ...) and finds the region and partition |
//! | [`tls_mode`] | the effective TLS mode, following libpq, pgjdbc and MySQL Connector/J |
//! | [`plan`] | what is dialled, signed and verified for each host: the one resolver |
//! | [`token`] | the signer: `rds-db:connect` and Aurora DSQL tokens, byte for byte the SDKs' |
//! | [`credentials`] | AWS credentials, given or (feature `aws-config`) from the standard chain, cached |
//! | [`provider`] | the token cache every connection asks: reuse, refresh ahead, single flight |
//! | [`secret`] | secrets with redacted `Debug` and no `Display` |
//! | [`setup`] | what an administrator creates for an IAM user: the `rds-db:connect` policy, the SQL |
//! | [`clock`] | time as an input, for signing and caching |
//!
//! [`jdbc`], [`endpoint`], [`tls_mode`], [`plan`], [`setup`] and [`token`] are pure: no I/O, no
//! environment reads.
//!
//! Connecting (features `postgres` / `mysql`, or their rustls forms):
//!
//! | module | what it does |
//! |---|---|
//! | `postgres` | `PgConnector`: IAM login with tokio-postgres, TLS always on |
//! | `mysql` | `MySqlConnector`: IAM login with mysql_async (MySQL, MariaDB), TLS always on |
//! | `tls` | trusted CAs (URL file, PEM, build-task mount, system store), whole-bundle loading |
//! | `connect` | what both connectors share: the retry on a rejected cached token, `ConnectError` |
//! | `deadpool` | deadpool pools whose new connections log in through a connector (feature `deadpool`) |
//! | `bb8` | bb8 pools whose new connections log in through a connector (feature `bb8`) |
//! | `proxy` | a local IAM login proxy for tools that cannot embed the crate (feature `proxy`) |
//! | `sqlx` | sqlx connect options from the URL and pools whose options are refreshed from the token cache (feature `sqlx`) |
//!
//! # Cargo features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `aws-config` | yes | the default AWS credentials chain (aws-config, with its HTTP client and TLS stack): `CredentialsConfig::default_chain`, `::profile`, `::assume_role`; `mint_token`, `connect_postgres`, `connect_mysql`; connectors that find credentials themselves |
//! | `postgres` | yes | the PostgreSQL connector over native-tls (tokio-postgres, postgres-native-tls, native-tls: OpenSSL on Linux), `connect_postgres` (with `aws-config`) |
//! | `mysql` | yes | the MySQL/MariaDB connector over native-tls (mysql_async with `native-tls-tls`), `connect_mysql` (with `aws-config`) |
//! | `postgres-rustls` | no | the same PostgreSQL connector over rustls (tokio-postgres, tokio-rustls, rustls with aws-lc-rs, rustls-native-certs); wins over `postgres` when both are on |
//! | `mysql-rustls` | no | the same MySQL/MariaDB connector over rustls (mysql_async with `rustls-tls` and `aws-lc-rs`, rustls-native-certs); cannot be combined with `mysql` |
//! | `deadpool` | no | `deadpool`: deadpool 0.12 pools of tokio-postgres clients and mysql_async connections, each new one logged in through `PgConnector` or `MySqlConnector` (with a connector feature) |
//! | `bb8` | no | `bb8`: the same with bb8 0.9, and an error sink that logs failed logins with their causes |
//! | `proxy` | no | `proxy`: a local IAM login proxy (PostgreSQL, MySQL and MariaDB clients connect to loopback without a password; the `rds-iam proxy` command), with a connector feature for its TLS stack |
//! | `sqlx` | no | `sqlx`: sqlx 0.9 connect options from the URL (`PgIamOptions`, `MySqlIamOptions`) and pools whose options are refreshed from the token cache (`IamPool`); sqlx's drivers and TLS stack follow the connector features (with a connector feature) |
//!
//! The API, the CA sources, the three TLS modes and the errors are the same with either TLS
//! stack. To use rustls only, turn the default features off (keeping the default chain):
//! `rds-iam = { version = "0.1", default-features = false, features = ["aws-config", "postgres-rustls", "mysql-rustls"] }`.
//! `mysql` and `mysql-rustls` exclude each other: mysql_async's `native-tls-tls` and
//! `rustls-tls` do, and the build stops inside mysql_async (`the name TlsConnector is defined
//! multiple times`) before this crate could say so. Features whose names start with `_` are
//! internal.
//!
//! # Lean builds
//!
//! With `default-features = false`, rds-iam is the URL parser, the endpoint classifier, the
//! signer and the token cache, and builds no HTTP client and no TLS stack: the AWS
//! credentials are yours to give, as a [`Credentials`](aws_credential_types::Credentials)
//! value ([`CredentialsConfig::static_credentials`](credentials::CredentialsConfig::static_credentials))
//! or any [`ProvideCredentials`](aws_credential_types::provider::ProvideCredentials)
//! ([`CredentialsConfig::provider`](credentials::CredentialsConfig::provider)), both from
//! `aws-credential-types`. Enable `aws-config` for the default chain.
//!
//! ```toml
//! [dependencies]
//! rds-iam = { version = "0.1", default-features = false }
//! aws-credential-types = "1"
//! ```
//!
//! ```
//! use aws_credential_types::Credentials;
//! use rds_iam::credentials::CredentialsConfig;
//! use rds_iam::provider::TokenProvider;
//! use rds_iam::token::RdsTokenParams;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let credentials = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", None, None, "vault");
//! let credentials = CredentialsConfig::static_credentials(credentials).build().await?;
//! let tokens = TokenProvider::builder(credentials).build(); // the token cache
//!
//! let params = RdsTokenParams::new("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app", "us-east-1");
//! let token = tokens.token(&params).await?; // signed now, then reused for 840 s
//! assert!(token.expose().starts_with(
//!     "mydb.abc123.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256"
//! ));
//! assert!(tokens.token(&params).await?.from_cache());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The connectors (features `postgres`, `mysql` and their `-rustls` twins) work without
//! `aws-config` too, given a token provider (their builders' `token_provider`); without one,
//! building them fails with `ConnectError::NoTokenProvider`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(all(feature = "bb8", any(feature = "_postgres", feature = "_mysql")))]
pub mod bb8;
pub mod clock;
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
pub mod connect;
pub mod credentials;
#[cfg(all(feature = "deadpool", any(feature = "_postgres", feature = "_mysql")))]
pub mod deadpool;
pub mod endpoint;
pub mod jdbc;
#[cfg(feature = "_mysql")]
pub mod mysql;
#[cfg(feature = "aws-config")]
mod one_call;
pub mod plan;
#[cfg(feature = "_postgres")]
pub mod postgres;
pub mod provider;
#[cfg(all(feature = "proxy", any(feature = "_postgres", feature = "_mysql")))]
pub mod proxy;
pub mod secret;
pub mod setup;
mod single_flight;
#[cfg(all(feature = "sqlx", any(feature = "_postgres", feature = "_mysql")))]
pub mod sqlx;
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
pub mod tls;
pub mod tls_mode;
pub mod token;

#[cfg(all(feature = "aws-config", feature = "_mysql"))]
pub use one_call::connect_mysql;
#[cfg(all(feature = "aws-config", feature = "_postgres"))]
pub use one_call::connect_postgres;
#[cfg(feature = "aws-config")]
pub use one_call::{Error, mint_token};

/// The README's Rust snippets, compiled and run as doc tests (with the default chain and both
/// connectors, which the README is written for; either TLS stack).
#[cfg(all(
    doctest,
    feature = "aws-config",
    feature = "_postgres",
    feature = "_mysql"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

//! A JDBC URL string in, a token or a connection out, in one call each (re-exported at the
//! crate root): the URL is parsed, must enable IAM authentication, is resolved by
//! [`plan`](crate::plan), and AWS credentials come from the default chain.

use crate::clock::{Clock, SystemClock};
use crate::credentials::{CredentialsConfig, CredentialsError};
use crate::jdbc::{JdbcUrl, JdbcUrlError};
use crate::plan::{self, ConnectPlan, PlanError, PlanOverrides};
use crate::token::{AuthToken, TokenError, sign_rds_token};

/// Why a one-call function failed: each variant is the error of one step, shown as that step
/// shows it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The JDBC URL does not parse.
    #[error(transparent)]
    Url(#[from] JdbcUrlError),
    /// The URL does not enable IAM, or what to sign cannot be worked out from it.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// No AWS credentials.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The token could not be signed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The connection failed (features `postgres`, `mysql`).
    #[cfg(any(feature = "_postgres", feature = "_mysql"))]
    #[error(transparent)]
    Connect(#[from] crate::connect::ConnectError),
}

/// The URL, parsed and checked to enable IAM authentication.
fn iam_url(jdbc_url: &str) -> Result<JdbcUrl, Error> {
    let url = JdbcUrl::parse(jdbc_url)?;
    plan::require_iam(&url)?;
    Ok(url)
}

/// Mint an IAM token for a JDBC URL, as `aws rds generate-db-auth-token` would: for the URL's
/// user at its first host (or `iamHost`/`iamDefaultPort`) in its region (or `iamRegion`), with
/// credentials from the default AWS chain (environment, profile, web identity, ECS task role,
/// instance metadata), signed now. The token is valid for 15 minutes.
///
/// For many connections, use a [`TokenProvider`](crate::provider::TokenProvider) (it caches),
/// or a connector.
///
/// ```no_run
/// # async fn demo() -> Result<(), rds_iam::Error> {
/// let token = rds_iam::mint_token(
///     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
///      ?wrapperPlugins=iam&user=harness_iam_user",
/// )
/// .await?;
/// let password: &str = token.expose(); // `{token:?}` shows no secret
/// # let _ = password; Ok(()) }
/// ```
pub async fn mint_token(jdbc_url: &str) -> Result<AuthToken, Error> {
    let url = iam_url(jdbc_url)?;
    let plan = ConnectPlan::resolve(&url, &PlanOverrides::new())?;
    let credentials = CredentialsConfig::default_chain()
        .build()
        .await?
        .credentials()
        .await?;
    Ok(sign_rds_token(
        &plan.first().token,
        &credentials,
        SystemClock.now(),
    )?)
}

/// Connect to PostgreSQL with IAM in one call: what
/// [`PgConnector::connect`](crate::postgres::PgConnector::connect) returns (spawn the
/// connection future). To connect more than once, build a
/// [`PgConnector`](crate::postgres::PgConnector) and keep it: it holds the token cache and the
/// TLS set-up.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let (client, connection) = rds_iam::connect_postgres(
///     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
///      ?wrapperPlugins=iam&user=harness_iam_user&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem",
/// )
/// .await?;
/// tokio::spawn(connection);
/// client.batch_execute("SELECT 1").await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "_postgres")]
pub async fn connect_postgres(
    jdbc_url: &str,
) -> Result<(tokio_postgres::Client, crate::postgres::PgConnection), Error> {
    let url = iam_url(jdbc_url)?;
    let connector = crate::postgres::PgConnector::from_url(&url)?
        .build()
        .await?;
    Ok(connector.connect().await?)
}

/// Connect to MySQL or MariaDB with IAM in one call: what
/// [`MySqlConnector::connect`](crate::mysql::MySqlConnector::connect) returns. To connect more
/// than once, build a [`MySqlConnector`](crate::mysql::MySqlConnector) and keep it.
///
/// ```no_run
/// use mysql_async::prelude::Queryable;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut conn = rds_iam::connect_mysql(
///     "jdbc:aws-wrapper:mysql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:3306/app\
///      ?wrapperPlugins=iam&user=iam_user&sslCa=/etc/ssl/certs/rds-global-bundle.pem",
/// )
/// .await?;
/// let user: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
/// # let _ = user; Ok(()) }
/// ```
#[cfg(feature = "_mysql")]
pub async fn connect_mysql(jdbc_url: &str) -> Result<mysql_async::Conn, Error> {
    let url = iam_url(jdbc_url)?;
    let connector = crate::mysql::MySqlConnector::from_url(&url)?
        .build()
        .await?;
    Ok(connector.connect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_url_without_iam_says_what_to_add() {
        let err = mint_token(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/d?user=u",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::Plan(PlanError::NotIam { .. })),
            "{err:?}"
        );
        assert!(err.to_string().contains("add wrapperPlugins=iam"), "{err}");
        let err = mint_token("jdbc:aws-wrapper:postgresql://db:99999/d")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Url(_)), "{err:?}");
    }

    /// Each variant shows its step's error once: the same text, and that error's source as its
    /// own (not the step's error a second time).
    #[test]
    fn each_step_is_shown_once() {
        use std::error::Error as _;
        use std::sync::Arc;

        use crate::credentials::AwsCredentialsError;

        let credentials = || CredentialsError::Unavailable {
            problem: "no AWS credentials found: tried the static credentials given".into(),
            check: "the static credentials given to CredentialsConfig::static_credentials".into(),
            source: Arc::new(AwsCredentialsError::not_loaded("distinctive-aws-cause")),
        };
        let cases: Vec<(Error, String)> = vec![
            (
                JdbcUrlError::EmptyKey.into(),
                JdbcUrlError::EmptyKey.to_string(),
            ),
            (
                PlanError::MissingUser.into(),
                PlanError::MissingUser.to_string(),
            ),
            (credentials().into(), credentials().to_string()),
            (
                TokenError::EmptyHost.into(),
                TokenError::EmptyHost.to_string(),
            ),
            #[cfg(any(feature = "_postgres", feature = "_mysql"))]
            (
                crate::connect::ConnectError::from(PlanError::InvalidRegion).into(),
                PlanError::InvalidRegion.to_string(),
            ),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
        let e = Error::from(credentials());
        let source = e.source().unwrap();
        assert_eq!(
            source.to_string(),
            credentials().source().unwrap().to_string()
        );
        assert!(!e.to_string().contains(&source.to_string()));
    }
}

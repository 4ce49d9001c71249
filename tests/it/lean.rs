//! Without the `aws-config` feature: a connector needs a token provider, and says so.

use rds_iam::connect::ConnectError;

#[cfg(feature = "_postgres")]
#[tokio::test]
async fn a_postgres_connector_without_a_token_provider_says_to_give_one() {
    let err = rds_iam::postgres::PgConnector::builder("localhost", 5432)
        .user("app")
        .region("us-east-1")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::NoTokenProvider), "{err:?}");
    assert!(err.to_string().contains(".token_provider("), "{err}");
    assert!(
        err.to_string().contains("enable the `aws-config` feature"),
        "{err}"
    );
}

#[cfg(feature = "_mysql")]
#[tokio::test]
async fn a_mysql_connector_without_a_token_provider_says_to_give_one() {
    let err = rds_iam::mysql::MySqlConnector::builder("localhost", 3306)
        .user("app")
        .region("us-east-1")
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::NoTokenProvider), "{err:?}");
}

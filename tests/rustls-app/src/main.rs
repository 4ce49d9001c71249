//! An application using mysql_async over rustls, and rds-iam's connectors over rustls: both
//! share one mysql_async (its `Conn` and `Opts` are the same types).

use mysql_async::{Opts, OptsBuilder, SslOpts};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::postgres::PgConnector;
use rds_iam::tls::CaSource;

/// The application's own options, with rustls.
fn own_opts() -> Opts {
    OptsBuilder::default()
        .ip_or_hostname("db.abc123.us-east-1.rds.amazonaws.com")
        .ssl_opts(SslOpts::default())
        .into()
}

/// A connection from rds-iam is the application's mysql_async `Conn`.
#[allow(dead_code)] // reason: a compile-time check; nothing to connect to here
async fn iam_conn(connector: &MySqlConnector) -> mysql_async::Conn {
    connector.connect().await.expect("connected")
}

/// rds-iam's options are the application's mysql_async `Opts`.
#[allow(dead_code)] // reason: a compile-time check
async fn iam_opts(connector: &MySqlConnector) -> Opts {
    connector.opts().await.expect("a token").0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opts = own_opts();
    let url = JdbcUrl::parse(
        "jdbc:aws-wrapper:mysql://db.abc123.us-east-1.rds.amazonaws.com:3306/app\
         ?wrapperPlugins=iam&user=iam_user&sslMode=VERIFY_IDENTITY",
    )?;
    let mysql = MySqlConnector::from_url(&url)?.ca(CaSource::MountedBuildTaskBundle);
    let postgres = PgConnector::builder("db.abc123.us-east-1.rds.amazonaws.com", 5432)
        .user("iam_user")
        .database("postgres");
    println!(
        "mysql_async {} with rustls; rds-iam connectors: {mysql:?}, {postgres:?}",
        opts.ip_or_hostname()
    );
    Ok(())
}

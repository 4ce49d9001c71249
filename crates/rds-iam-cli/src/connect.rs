//! `connect`: connect with IAM and run SQL, a minimal `psql -c` / `mysql -e` for IAM users.
//!
//! ```sh
//! rds-iam connect \
//!   'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&sslmode=verify-full' \
//!   --user harness_iam_user --ca /etc/ssl/certs/dbops/root_ca.crt -c 'SELECT current_user'
//! ```
//!
//! The same module is the root package's `connect` example (`cargo run --example connect`).

use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::plan::PlanError;
use rds_iam::postgres::PgConnector;
use rds_iam::tls::CaSource;

use super::report::{self, Failure};

/// Warnings, exit codes, and how result rows are printed.
const AFTER_HELP: &str = "\
Result rows are printed tab-separated, one per line, NULL as an empty field. Credentials come \
from the default AWS chain (environment, profile, ECS task role, ...).

Warnings are printed on stderr, such as sslmode=require's \"the server is not authenticated\"; \
RUST_LOG chooses what is logged (default warn; e.g. RUST_LOG=error).

Exit codes: 0 success, 1 failure (URL, credentials, TLS, login, SQL), 2 usage error.";

/// Connect to the database of a JDBC URL with an IAM token and run SQL
///
/// Prints the result rows tab-separated, one per line.
#[derive(Debug, clap::Parser)]
#[command(name = "connect", after_long_help = AFTER_HELP)]
pub struct Args {
    /// The JDBC URL of the database (jdbc:aws-wrapper:...?wrapperPlugins=iam)
    #[arg(value_name = "JDBC_URL")]
    pub url: String,
    /// The database user (instead of the URL's user=)
    #[arg(long)]
    pub user: Option<String>,
    /// The signing region (instead of iamRegion= or the host's region)
    #[arg(long)]
    pub region: Option<String>,
    /// Also trust the CA certificates in PEM_FILE (as well as the URL's CA file, and in
    /// verify-full the system trust store)
    #[arg(long, value_name = "PEM_FILE")]
    pub ca: Option<String>,
    /// The SQL to run (several statements separated by ';' are allowed)
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    pub sql: String,
}

/// Connect, run the SQL, and print the rows on stdout.
pub fn run(args: Args) -> Result<(), Failure> {
    let rows = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(&e))?
        .block_on(query(args))
        .map_err(|e| Failure::Error(error_line(&*e)))?;
    for row in rows {
        let fields: Vec<&str> = row.iter().map(|f| f.as_deref().unwrap_or("")).collect();
        report::print(&fields.join("\t"));
    }
    Ok(())
}

/// The error and its causes, on one line, and the flag of this command that does what a
/// library error asks for.
fn error_line(error: &(dyn std::error::Error + 'static)) -> String {
    let flag = match error.downcast_ref::<ConnectError>() {
        Some(ConnectError::Plan(PlanError::MissingUser)) => "; or pass --user USER",
        Some(ConnectError::Plan(
            PlanError::UnknownRegion { .. } | PlanError::GlobalEndpointNeedsRegion { .. },
        )) => "; or pass --region REGION",
        _ => "",
    };
    format!("{}{flag}", report::error_line(error))
}

type BoxError = Box<dyn std::error::Error>;

/// The rows `args.sql` returns, each field as text (`None`: NULL).
async fn query(args: Args) -> Result<Vec<Vec<Option<String>>>, BoxError> {
    let url = JdbcUrl::parse(&args.url)?;
    if url.engine().is_mysql_family() {
        let mut builder = MySqlConnector::from_url(&url)?;
        if let Some(user) = args.user {
            builder = builder.user(user);
        }
        if let Some(region) = args.region {
            builder = builder.region(region);
        }
        if let Some(ca) = args.ca {
            builder = builder.ca(CaSource::file(ca));
        }
        let connector = builder.build().await?;
        let mut conn = connector.connect().await?;
        let rows = mysql::query(&mut conn, &args.sql).await;
        let _ = conn.disconnect().await;
        rows
    } else {
        let mut builder = PgConnector::from_url(&url)?;
        if let Some(user) = args.user {
            builder = builder.user(user);
        }
        if let Some(region) = args.region {
            builder = builder.region(region);
        }
        if let Some(ca) = args.ca {
            builder = builder.ca(CaSource::file(ca));
        }
        let connector = builder.build().await?;
        let (client, connection) = connector.connect().await?;
        let connection = tokio::spawn(connection);
        let rows = postgres::query(&client, &args.sql).await;
        drop(client);
        let _ = connection.await;
        rows
    }
}

pub(super) mod postgres {
    use tokio_postgres::{Client, SimpleQueryMessage};

    pub async fn query(
        client: &Client,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, super::BoxError> {
        let mut rows = Vec::new();
        for message in client.simple_query(sql).await? {
            if let SimpleQueryMessage::Row(row) = message {
                rows.push(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_owned))
                        .collect(),
                );
            }
        }
        Ok(rows)
    }
}

pub(super) mod mysql {
    use mysql_async::prelude::Queryable;
    use mysql_async::{Conn, Row, Value};

    pub async fn query(
        conn: &mut Conn,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, super::BoxError> {
        let mut result = conn.query_iter(sql).await?;
        let mut rows = Vec::new();
        while !result.is_empty() {
            let set: Vec<Row> = result.collect().await?;
            rows.extend(
                set.into_iter()
                    .map(|row| row.unwrap().into_iter().map(text).collect()),
            );
        }
        Ok(rows)
    }

    fn text(value: Value) -> Option<String> {
        Some(match value {
            Value::NULL => return None,
            Value::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Value::Int(n) => n.to_string(),
            Value::UInt(n) => n.to_string(),
            Value::Float(x) => x.to_string(),
            Value::Double(x) => x.to_string(),
            Value::Date(y, mo, d, h, mi, s, us) => {
                format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
            }
            Value::Time(negative, days, h, mi, s, us) => {
                let sign = if negative { "-" } else { "" };
                format!("{sign}{}:{mi:02}:{s:02}.{us:06}", u32::from(h) + days * 24)
            }
        })
    }
}

//! Connect with IAM and run SQL: a minimal `psql -c` / `mysql -e` for IAM users.
//!
//! ```sh
//! cargo run --example connect -- \
//!   'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&sslmode=verify-full' \
//!   --user harness_iam_user --ca /etc/ssl/certs/dbops/root_ca.crt -c 'SELECT current_user'
//! ```
//!
//! Credentials come from the default AWS chain (environment, profile, ECS task role, ...).
//! Result rows are printed tab-separated, one per line, NULL as an empty field. Errors are
//! one line on stderr (the error and its causes, separated by `: `). Warnings go to stderr
//! too, such as `sslmode=require`'s "the server is not authenticated" (`RUST_LOG` chooses
//! more or less, e.g. `RUST_LOG=error`).
//!
//! Exit codes: 0 success, 1 failure (URL, credentials, TLS, login, SQL), 2 usage error.

#[path = "common/log.rs"]
mod log;

use std::process::ExitCode;

use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::plan::PlanError;
use rds_iam::postgres::PgConnector;
use rds_iam::tls::CaSource;

const USAGE: &str = "\
usage: connect JDBC_URL [--user USER] [--region REGION] [--ca PEM_FILE] -c SQL

Connect to the database of JDBC_URL with an IAM token and run SQL, printing result rows
tab-separated.

options:
  --user USER      the database user (instead of the URL's user=)
  --region REGION  the signing region (instead of iamRegion= or the host's region)
  --ca PEM_FILE    also trust the CA certificates in PEM_FILE (as well as the URL's CA file,
                   and in verify-full the system trust store)
  -c SQL           the SQL to run (several statements separated by ';' are allowed)
  -h, --help       print this help

Warnings are printed on stderr; RUST_LOG chooses what is logged (default warn).

exit codes: 0 success, 1 failure, 2 usage error";

#[derive(Debug, Default, PartialEq)]
struct Args {
    url: Option<String>,
    user: Option<String>,
    region: Option<String>,
    ca: Option<String>,
    sql: Option<String>,
    help: bool,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |flag: &str| {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{flag} needs a value: {flag} VALUE"))
        };
        let slot = match name.as_str() {
            "-h" | "--help" => {
                args.help = true;
                continue;
            }
            "--user" => &mut args.user,
            "--region" => &mut args.region,
            "--ca" => &mut args.ca,
            "-c" | "--command" => &mut args.sql,
            other if other.starts_with('-') => {
                return Err(format!("unknown option {other}: see --help"));
            }
            _ => {
                if args.url.replace(arg).is_some() {
                    return Err(
                        "more than one URL given: quote the JDBC URL (it contains '&')".into(),
                    );
                }
                continue;
            }
        };
        *slot = Some(value(&name)?);
    }
    if !args.help {
        if args.url.is_none() {
            return Err("no JDBC URL given".into());
        }
        if args.sql.is_none() {
            return Err("no SQL given: add -c 'SQL'".into());
        }
    }
    Ok(args)
}

/// The error and its causes, on one line, and the flag of this command that does what a
/// library error asks for.
fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let flag = match error.downcast_ref::<ConnectError>() {
        Some(ConnectError::Plan(PlanError::MissingUser)) => "; or pass --user USER",
        Some(ConnectError::Plan(
            PlanError::UnknownRegion { .. } | PlanError::GlobalEndpointNeedsRegion { .. },
        )) => "; or pass --region REGION",
        _ => "",
    };
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        // Some drivers print their cause in their own message too: do not repeat it.
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line.push_str(flag);
    line.replace('\n', " ")
}

type Failure = Box<dyn std::error::Error>;

async fn run(args: Args) -> Result<Vec<Vec<Option<String>>>, Failure> {
    let url = JdbcUrl::parse(args.url.as_deref().unwrap_or_default())?;
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
        let rows = mysql::query(&mut conn, args.sql.as_deref().unwrap_or_default()).await;
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
        let rows = postgres::query(&client, args.sql.as_deref().unwrap_or_default()).await;
        drop(client);
        let _ = connection.await;
        rows
    }
}

mod postgres {
    use tokio_postgres::{Client, SimpleQueryMessage};

    pub async fn query(
        client: &Client,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, super::Failure> {
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

mod mysql {
    use mysql_async::prelude::Queryable;
    use mysql_async::{Conn, Row, Value};

    pub async fn query(
        conn: &mut Conn,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, super::Failure> {
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    log::to_stderr();
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(usage) => {
            eprintln!("connect: error: {usage}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(args).await {
        Ok(rows) => {
            for row in rows {
                let fields: Vec<&str> = row.iter().map(|f| f.as_deref().unwrap_or("")).collect();
                println!("{}", fields.join("\t"));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("connect: error: {}", one_line(&*e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn arguments() {
        let args = parse(&["jdbc:x", "--user=u", "--ca", "/ca.pem", "-c", "SELECT 1"]).unwrap();
        assert_eq!(args.url.as_deref(), Some("jdbc:x"));
        assert_eq!(args.user.as_deref(), Some("u"));
        assert_eq!(args.ca.as_deref(), Some("/ca.pem"));
        assert_eq!(args.sql.as_deref(), Some("SELECT 1"));
        assert!(parse(&["jdbc:x"]).unwrap_err().contains("-c"));
        assert!(parse(&["-c", "SELECT 1"]).unwrap_err().contains("URL"));
        assert!(parse(&["jdbc:x", "jdbc:y", "-c", "x"]).is_err());
        assert!(parse(&["jdbc:x", "--bogus", "-c", "x"]).is_err());
        assert!(parse(&["--help"]).unwrap().help);
    }
}

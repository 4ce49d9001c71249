//! `setup`: what an administrator creates so that a database user logs in with IAM, filled in:
//! the IAM policy allowing `rds-db:connect` and the SQL (`rds_iam::setup` generates both), and
//! with `--apply` the SQL run through the administrator's connection.
//!
//! ```sh
//! rds-iam setup --engine postgres --user harness_iam_user --account 123456789012 \
//!   --region us-east-1 --resource-id cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2 \
//!   --liquibase-shared-owner postgres
//! rds-iam setup --engine mysql --user app --database app --apply \
//!   --admin-url 'jdbc:mysql://admin@mydb.abc123.us-east-1.rds.amazonaws.com:3306/?sslMode=VERIFY_IDENTITY'
//! ```
//!
//! The same module is the root package's `setup` example (`cargo run --example setup`).

use rds_iam::jdbc::JdbcUrl;
use rds_iam::setup::{self as generate, ResourceId, ResourceKind, Statement, Step};

use super::admin::{self, Session};
use super::report::{self, Failure};

/// The `--help` text after the options.
fn after_help() -> String {
    format!(
        "\
Prints the IAM policy (with --account, --region and --resource-id) and the SQL. The resource id \
is the cluster's DbClusterResourceId (cluster-...) for Aurora, the instance's DbiResourceId \
(db-...) for RDS, never the cluster or instance identifier:
  aws rds describe-db-clusters --db-cluster-identifier NAME --query 'DBClusters[0].DbClusterResourceId' --output text
  aws rds describe-db-instances --db-instance-identifier NAME --query 'DBInstances[0].DbiResourceId' --output text

--apply runs the SQL through --admin-url, whose user must be able to create users and grant: \
{} The statements can run again: existing users and grants are left as they are.

Exit codes: 0 success, 1 failure (a statement, the connection), 2 usage error.",
        admin::URL_HELP
    )
}

/// Print (and apply) the IAM policy and the SQL that let a database user log in with IAM
#[derive(Debug, clap::Parser)]
#[command(name = "setup", after_long_help = after_help())]
pub struct Args {
    /// The database engine
    #[arg(long, value_enum)]
    pub engine: EngineArg,
    /// The database user that logs in with IAM (case and every character kept)
    #[arg(long)]
    pub user: String,
    /// The AWS account id of the cluster or instance (12 digits), for the policy
    #[arg(long, requires_all = ["region", "resource_id"])]
    pub account: Option<String>,
    /// The region of the cluster or instance, for the policy
    #[arg(long, requires_all = ["account", "resource_id"])]
    pub region: Option<String>,
    /// The cluster's DbClusterResourceId (cluster-...) or the instance's DbiResourceId
    /// (db-...), for the policy
    #[arg(long, requires_all = ["account", "region"])]
    pub resource_id: Option<String>,
    /// The resource id is an Aurora cluster's
    #[arg(long, requires = "resource_id", conflicts_with = "instance")]
    pub cluster: bool,
    /// The resource id is an RDS instance's
    #[arg(long, requires = "resource_id")]
    pub instance: bool,
    /// The database to grant privileges on (PostgreSQL: default the admin URL's, else
    /// postgres; MySQL: no database grant without it)
    #[arg(long)]
    pub database: Option<String>,
    /// PostgreSQL: also the Liquibase shared-ownership block, with ROLE (usually the master
    /// user) and the IAM user in liquibase_owners, which owns the Liquibase tables
    #[arg(long, value_name = "ROLE")]
    pub liquibase_shared_owner: Option<String>,
    /// Print only the policy or only the SQL
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Run the SQL through --admin-url
    #[arg(long, requires = "admin_url")]
    pub apply: bool,
    /// The administrator's JDBC URL (see below)
    #[arg(long, value_name = "JDBC_URL", requires = "apply")]
    pub admin_url: Option<String>,
    /// Also trust the CA certificates in PEM_FILE for the admin connection
    #[arg(long, value_name = "PEM_FILE", requires = "apply")]
    pub ca: Option<String>,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// Aurora PostgreSQL, RDS for PostgreSQL
    Postgres,
    /// Aurora MySQL, RDS for MySQL and MariaDB
    Mysql,
}

/// `--only`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// The IAM policy JSON
    Policy,
    /// The SQL
    Sql,
}

/// Print the policy and the SQL; with `--apply`, run the SQL.
pub fn run(args: Args) -> Result<(), Failure> {
    let admin_url = args
        .admin_url
        .as_deref()
        .map(|url| admin_url(url, args.engine))
        .transpose()?;
    let mut database = database(&args, admin_url.as_ref())?;
    if args.engine == EngineArg::Postgres {
        database.get_or_insert_with(|| "postgres".into());
    }
    let policy = policy(&args)?;
    let statements = match args.engine {
        EngineArg::Postgres => generate::postgres(
            &args.user,
            database.as_deref().unwrap_or_default(),
            args.liquibase_shared_owner.as_deref(),
        ),
        EngineArg::Mysql if args.liquibase_shared_owner.is_some() => {
            return Err(Failure::Usage(
                "--liquibase-shared-owner is for PostgreSQL: MySQL and MariaDB tables have no \
                 owner, and the database grant (--database) lets the IAM user write the \
                 Liquibase tables whoever created them"
                    .into(),
            ));
        }
        EngineArg::Mysql => generate::mysql(&args.user, database.as_deref()),
    }
    .map_err(|e| Failure::error(&e))?;

    let headers = args.only.is_none();
    if args.only != Some(Only::Sql) {
        match &policy {
            Some(policy) => {
                if headers {
                    report::print(
                        "IAM policy (attach it to the IAM role that signs the tokens, e.g. the \
                         role in HARNESS_ECS_BUILD_TASK_ROLE_ARN):",
                    );
                }
                report::print(policy);
            }
            None if args.only == Some(Only::Policy) => {
                return Err(Failure::Usage(
                    "--only policy needs --account, --region and --resource-id".into(),
                ));
            }
            None => {}
        }
    }
    if args.only != Some(Only::Policy) {
        if headers {
            if policy.is_some() {
                report::print("");
            }
            report::print(match args.engine {
                EngineArg::Postgres => {
                    "SQL (run it as the master user, connected to the database it grants on):"
                }
                EngineArg::Mysql => "SQL (run it as the master user):",
            });
        }
        for statement in &statements {
            report::print(&format!("-- {}\n{statement}", statement.step.describe()));
        }
    }
    let Some(url) = admin_url else {
        return Ok(());
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(&e))?
        .block_on(apply(
            &url,
            database.as_deref(),
            args.ca.as_deref(),
            &statements,
        ))
        .map_err(Failure::Error)?;
    report::print(&format!(
        "applied {} statements as {}",
        statements.len(),
        url.user().unwrap_or_default()
    ));
    Ok(())
}

/// The admin URL, which must be for `engine`.
fn admin_url(text: &str, engine: EngineArg) -> Result<JdbcUrl, Failure> {
    let (mysql, name) = match engine {
        EngineArg::Postgres => (false, "postgres"),
        EngineArg::Mysql => (true, "mysql"),
    };
    admin::url(text, mysql, &format!("--engine is {name}"))
}

/// The database granted on (and connected to): `--database`, else the admin URL's. On
/// PostgreSQL the schema grants apply to the database connected to, so the two must agree.
fn database(args: &Args, url: Option<&JdbcUrl>) -> Result<Option<String>, Failure> {
    let from_url = url.and_then(JdbcUrl::database).filter(|d| !d.is_empty());
    match (&args.database, from_url) {
        (Some(given), Some(url_db)) if args.engine == EngineArg::Postgres && given != url_db => {
            Err(Failure::Usage(
                "--database differs from the --admin-url's database: the schema grants apply to \
                 the database connected to; give the same database in both"
                    .into(),
            ))
        }
        (Some(given), _) => Ok(Some(given.clone())),
        (None, url_db) => Ok(url_db.map(str::to_owned)),
    }
}

/// The policy JSON, when the account, region and resource id are given.
fn policy(args: &Args) -> Result<Option<String>, Failure> {
    let (Some(account), Some(region), Some(id)) = (&args.account, &args.region, &args.resource_id)
    else {
        return Ok(None);
    };
    let kind = match (args.cluster, args.instance) {
        (true, _) => Some(ResourceKind::Cluster),
        (_, true) => Some(ResourceKind::Instance),
        _ => None,
    };
    let arn = ResourceId::parse(id, kind)
        .and_then(|id| generate::connect_arn(region, account, &id, &args.user))
        .map_err(|e| Failure::error(&e))?;
    Ok(Some(generate::policy_json(&arn)))
}

/// Run `statements` in order through the admin connection; the first failure ends the run,
/// with what it means.
async fn apply(
    url: &JdbcUrl,
    database: Option<&str>,
    ca: Option<&str>,
    statements: &[Statement],
) -> Result<(), String> {
    let line = |e: &(dyn std::error::Error + 'static)| report::error_line(e);
    let session = admin::connect(url, database, ca, None)
        .await
        .map_err(|e| line(&*e))?;
    match session {
        Session::Pg(client) => {
            for (i, statement) in statements.iter().enumerate() {
                if let Err(e) = client.batch_execute(&statement.sql).await {
                    let code = e.code().map(|c| c.code()).unwrap_or_default();
                    return Err(failed(i, statement, code, &line(&e)));
                }
            }
        }
        Session::MySql(mut conn) => {
            use mysql_async::prelude::Queryable;
            for (i, statement) in statements.iter().enumerate() {
                if let Err(e) = conn.query_drop(&statement.sql).await {
                    let code = match &e {
                        mysql_async::Error::Server(server) => server.code.to_string(),
                        _ => String::new(),
                    };
                    return Err(failed(i, statement, &code, &line(&e)));
                }
            }
            let _ = conn.disconnect().await;
        }
    }
    Ok(())
}

/// The error line for statement `i` failing with server error `code`: what it means and
/// the fix for the refusals that say the server is not set up for IAM.
fn failed(i: usize, statement: &Statement, code: &str, error: &str) -> String {
    let meaning = match (statement.step, code) {
        (Step::CreateUser, "1524") => {
            "; the server has no AWSAuthenticationPlugin: IAM database authentication is off \
             for this instance or cluster (or it is not RDS/Aurora): turn it on (aws rds \
             modify-db-instance --enable-iam-database-authentication, modify-db-cluster for \
             Aurora) and run setup again"
        }
        (Step::GrantRdsIam, "42704") => {
            "; the server has no rds_iam role: it is not RDS/Aurora PostgreSQL (a local \
             stand-in needs CREATE ROLE rds_iam first)"
        }
        _ => "",
    };
    format!(
        "statement {} ({}) failed: {error}{meaning}",
        i + 1,
        statement.step.describe()
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["setup", "--engine", "postgres", "--user", "u"];
        argv.extend(extra);
        Args::try_parse_from(argv).unwrap()
    }

    #[test]
    fn refusals_that_mean_no_iam_on_the_server_say_so() {
        let create = &generate::mysql("u", None).unwrap()[0];
        let line = failed(
            0,
            create,
            "1524",
            "Plugin 'AWSAuthenticationPlugin' is not loaded",
        );
        assert!(line.starts_with("statement 1 (the database user"), "{line}");
        assert!(
            line.contains("--enable-iam-database-authentication"),
            "{line}"
        );
        let grant = &generate::postgres("u", "postgres", None).unwrap()[1];
        let line = failed(1, grant, "42704", "role \"rds_iam\" does not exist");
        assert!(line.contains("not RDS/Aurora PostgreSQL"), "{line}");
        // Any other refusal is the server's words alone.
        assert_eq!(
            failed(1, grant, "42501", "permission denied"),
            "statement 2 (the rds_iam role: without it RDS refuses every IAM token) failed: \
             permission denied"
        );
    }

    #[test]
    fn the_database_is_the_flags_or_the_urls_and_they_must_agree_on_postgres() {
        let url = admin_url("jdbc:postgresql://db/app?user=admin", EngineArg::Postgres).unwrap();
        assert_eq!(
            database(&args(&[]), Some(&url)).unwrap().as_deref(),
            Some("app")
        );
        assert_eq!(
            database(&args(&["--database", "app"]), Some(&url))
                .unwrap()
                .as_deref(),
            Some("app")
        );
        assert!(matches!(
            database(&args(&["--database", "other"]), Some(&url)),
            Err(Failure::Usage(_))
        ));
        assert_eq!(database(&args(&[]), None).unwrap(), None);
        // The wrong engine, or no user, in the admin URL.
        assert!(matches!(
            admin_url("jdbc:mysql://db/app?user=admin", EngineArg::Postgres),
            Err(Failure::Usage(_))
        ));
        assert!(matches!(
            admin_url("jdbc:postgresql://db/app", EngineArg::Postgres),
            Err(Failure::Usage(_))
        ));
    }
}

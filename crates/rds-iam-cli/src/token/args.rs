//! The command line of `token`: flags into [`Args`]; mistakes are usage errors (exit code 2).

use std::time::{Duration, SystemTime};

use clap::builder::NonEmptyStringValueParser;
use rds_iam::token::DsqlAction;

/// What `--help` adds after the flags.
const AFTER_HELP: &str = "\
What is signed for: from a JDBC URL (jdbc:aws-wrapper:...?wrapperPlugins=iam&user=USER), the \
signing host and port (iamHost / iamDefaultPort, else the first host), the user, and the region \
(iamRegion, else the host name's); flags override them. Without a URL, --host, --port and --user \
are required, as for `aws rds generate-db-auth-token`. The region is --region, else iamRegion, \
else the one in an RDS host name; it is never guessed.

Credentials come from the standard AWS chain (environment, shared files, web identity, ECS \
container credentials, EC2 instance metadata), or --profile; --role-arn assumes a role on top.

Warnings are printed on stderr; RUST_LOG chooses what is logged (default warn; e.g. \
RUST_LOG=error, RUST_LOG=rds_iam=debug).

Exit codes: 0 success, 1 error (bad or non-IAM URL, no credentials, no region), 2 usage error.";

/// Mint an IAM database authentication token, like `aws rds generate-db-auth-token`
///
/// Prints only the token (so PGPASSWORD=$(... token ...) works), or with --json one JSON object.
/// --dry-run prints what would be signed for a JDBC URL, without credentials.
#[derive(Debug, clap::Parser)]
#[command(name = "token", after_long_help = AFTER_HELP)]
pub struct Args {
    /// The JDBC URL to sign for (jdbc:aws-wrapper:...?wrapperPlugins=iam&user=USER)
    #[arg(value_name = "JDBC_URL")]
    pub url: Option<String>,
    /// The host name to sign for (the database endpoint, not a tunnel)
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub host: Option<String>,
    /// The port to sign for (no default without a URL)
    #[arg(long, value_parser = port)]
    pub port: Option<u16>,
    /// The database user
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub user: Option<String>,
    /// The database's AWS region (also the region STS is called in)
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub region: Option<String>,
    /// Assume this role through STS before signing
    #[arg(long, value_name = "ARN", value_parser = NonEmptyStringValueParser::new())]
    pub role_arn: Option<String>,
    /// Take credentials from this AWS profile instead of the default chain
    #[arg(long, value_parser = NonEmptyStringValueParser::new())]
    pub profile: Option<String>,
    /// Sign at this instant (e.g. 2024-02-29T12:34:56Z) instead of now
    #[arg(long, value_name = "RFC3339", value_parser = instant)]
    pub at: Option<SystemTime>,
    /// Print one JSON object, the token and its facts, instead of the token alone
    ///
    /// {token, host, port, user, region, signed_at, expires_at, endpoint_kind} (and action for
    /// DSQL); expires_at is the end of the token's validity, earlier when the credentials
    /// expire first.
    #[arg(long)]
    pub json: bool,
    /// rds (RDS / Aurora PostgreSQL and MySQL) or dsql (an Aurora DSQL cluster endpoint)
    #[arg(long, value_enum, default_value_t)]
    pub engine: EngineArg,
    /// DSQL only: DbConnect (default) or DbConnectAdmin
    #[arg(long)]
    pub action: Option<DsqlAction>,
    /// DSQL only: token lifetime, 1 to 604800 (default 900)
    #[arg(long, value_name = "SECS", value_parser = expires_in)]
    pub expires_in: Option<Duration>,
    /// Parse the URL and print what would be signed; no credentials are read
    #[arg(long)]
    pub dry_run: bool,
}

/// `--engine`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// RDS / Aurora PostgreSQL or MySQL: `rds-db:connect`.
    #[default]
    Rds,
    /// Aurora DSQL.
    Dsql,
}

impl Args {
    /// Flags that make no sense together.
    pub fn check_combinations(&self) -> Result<(), String> {
        let problem = match self.engine {
            EngineArg::Rds if self.action.is_some() || self.expires_in.is_some() => {
                "--action and --expires-in are for Aurora DSQL tokens: add --engine dsql \
                 (RDS tokens always last 900 seconds)"
            }
            EngineArg::Dsql if self.url.is_some() || self.dry_run => {
                "--engine dsql takes the cluster endpoint as --host HOST, not a JDBC URL \
                 (and has no --dry-run)"
            }
            EngineArg::Dsql if self.port.is_some() || self.user.is_some() => {
                "DSQL tokens carry no port and no user: drop --port and --user \
                 (choose the role with --action DbConnect or DbConnectAdmin)"
            }
            _ => return Ok(()),
        };
        Err(problem.to_owned())
    }
}

fn port(value: &str) -> Result<u16, &'static str> {
    match value.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err("a port number from 1 to 65535 is needed (e.g. 5432 or 3306)"),
    }
}

fn instant(value: &str) -> Result<SystemTime, &'static str> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| "an RFC 3339 instant with a time zone is needed, e.g. 2024-02-29T12:34:56Z")
}

fn expires_in(value: &str) -> Result<Duration, &'static str> {
    match value.parse::<u64>() {
        Ok(secs) if (1..=604_800).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err("whole seconds from 1 to 604800 (7 days) are needed"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        let args = Args::try_parse_from(std::iter::once("token").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        args.check_combinations()?;
        Ok(args)
    }

    #[test]
    fn flags_and_inline_values() {
        let args = parse(&[
            "--host=db.example.com",
            "--port",
            "3306",
            "--user",
            "a b",
            "--at",
            "2024-02-29T12:34:56Z",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.host.as_deref(), Some("db.example.com"));
        assert_eq!(args.port, Some(3306));
        assert_eq!(args.user.as_deref(), Some("a b"));
        assert_eq!(
            args.at,
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_709_210_096))
        );
        assert!(args.json);
        let args = parse(&["--engine", "dsql", "--action", "DbConnectAdmin"]).unwrap();
        assert_eq!(args.action, Some(DsqlAction::DbConnectAdmin));
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            &["--port"][..],
            &["--port", "0"],
            &["--port", "65536"],
            &["--host", ""],
            &["--at", "yesterday"],
            &["--bogus"],
            &["--engine", "oracle"],
            &["--action", "DbConnect"],
            &["--engine", "dsql", "--action", "dbconnect"],
            &["--engine", "dsql", "--port", "5432"],
            &["--engine", "dsql", "--expires-in", "604801"],
            &["--engine", "dsql", "jdbc:aws-wrapper:postgresql://h/d"],
            &["a", "b"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}

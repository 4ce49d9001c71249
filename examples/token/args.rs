//! The command line: flags into [`Args`], mistakes into [`UsageError`] (exit code 2).

use std::time::{Duration, SystemTime};

use rds_iam::token::DsqlAction;

pub const USAGE: &str = "\
usage: token [JDBC_URL] [--host HOST] [--port PORT] [--user USER] [--region REGION]
             [--role-arn ARN] [--profile PROFILE] [--at RFC3339] [--json]
       token --engine dsql --host HOST [--region REGION] [--action DbConnect|DbConnectAdmin]
             [--expires-in SECS] [--role-arn ARN] [--profile PROFILE] [--at RFC3339] [--json]
       token --dry-run [--json] [--user USER] [--region REGION] JDBC_URL

Mint an IAM database authentication token, like `aws rds generate-db-auth-token`, and print
only the token (so PGPASSWORD=$(token ...) works), or with --json one JSON object.

What is signed for:
  from a JDBC URL (jdbc:aws-wrapper:...?wrapperPlugins=iam&user=USER): the signing host and port
  (iamHost / iamDefaultPort, else the first host), the user, and the region (iamRegion, else the
  host name's); flags override them. Without a URL, --host, --port and --user are required, as
  for `aws rds generate-db-auth-token`. The region is --region, else iamRegion, else the one in
  an RDS host name; it is never guessed.

options:
  --host HOST          the host name to sign for (the database endpoint, not a tunnel)
  --port PORT          the port to sign for (no default without a URL)
  --user USER          the database user
  --region REGION      the database's AWS region (also the region STS is called in)
  --role-arn ARN       assume this role through STS before signing
  --profile PROFILE    take credentials from this AWS profile instead of the default chain
  --at RFC3339         sign at this instant (e.g. 2024-02-29T12:34:56Z) instead of now
  --json               print {token, host, port, user, region, signed_at, expires_at,
                       endpoint_kind} instead of the token alone (expires_at: the end of
                       the token's validity, earlier when the credentials expire first)
  --engine rds|dsql    rds (default) or an Aurora DSQL cluster endpoint
  --action ACTION      DSQL only: DbConnect (default) or DbConnectAdmin
  --expires-in SECS    DSQL only: token lifetime, 1 to 604800 (default 900)
  --dry-run            parse the URL and print what would be signed; no credentials are read
  -h, --help           print this help

Credentials come from the standard AWS chain (environment, shared files, web identity, ECS
container credentials, EC2 instance metadata), or --profile; --role-arn assumes a role on top.

Warnings are printed on stderr; RUST_LOG chooses what is logged (default warn; e.g.
RUST_LOG=error, RUST_LOG=rds_iam=debug).

exit codes: 0 success, 1 error (bad or non-IAM URL, no credentials, no region), 2 usage error";

/// What the command line asks for.
#[derive(Debug, Default)]
pub struct Args {
    pub url: Option<String>,
    pub help: bool,
    pub dry_run: bool,
    pub json: bool,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub region: Option<String>,
    pub role_arn: Option<String>,
    pub profile: Option<String>,
    pub at: Option<SystemTime>,
    pub engine: EngineArg,
    pub action: Option<DsqlAction>,
    pub expires_in: Option<Duration>,
}

/// `--engine`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum EngineArg {
    /// RDS / Aurora PostgreSQL or MySQL: `rds-db:connect`.
    #[default]
    Rds,
    /// Aurora DSQL.
    Dsql,
}

/// A command-line mistake (exit code 2).
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

/// Parse the arguments after the program name.
pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, UsageError> {
    let mut args = Args::default();
    let mut positional_only = false;
    while let Some(arg) = argv.next() {
        if positional_only || !arg.starts_with('-') || arg == "-" {
            if args.url.replace(arg).is_some() {
                return Err(UsageError::new(
                    "more than one URL given: quote the JDBC URL (it contains '&') and give only one",
                ));
            }
            continue;
        }
        // `--name=value` or `--name value`.
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = |flag: &str| -> Result<String, UsageError> {
            inline
                .clone()
                .or_else(|| argv.next())
                .ok_or_else(|| UsageError(format!("{flag} needs a value: {flag} VALUE")))
        };
        match name.as_str() {
            "--" => positional_only = true,
            "-h" | "--help" => args.help = true,
            "--dry-run" => args.dry_run = true,
            "--json" => args.json = true,
            "--host" => args.host = Some(non_empty("--host", value("--host")?)?),
            "--port" => args.port = Some(port(&value("--port")?)?),
            "--user" => args.user = Some(non_empty("--user", value("--user")?)?),
            "--region" => args.region = Some(non_empty("--region", value("--region")?)?),
            "--role-arn" => args.role_arn = Some(non_empty("--role-arn", value("--role-arn")?)?),
            "--profile" => args.profile = Some(non_empty("--profile", value("--profile")?)?),
            "--at" => args.at = Some(instant(&value("--at")?)?),
            "--engine" => args.engine = engine(&value("--engine")?)?,
            "--action" => args.action = Some(action(&value("--action")?)?),
            "--expires-in" => args.expires_in = Some(expires_in(&value("--expires-in")?)?),
            other => {
                return Err(UsageError(format!(
                    "unknown option {other}: see --help for the options"
                )));
            }
        }
    }
    check_combinations(&args)?;
    Ok(args)
}

/// Flags that make no sense together.
fn check_combinations(args: &Args) -> Result<(), UsageError> {
    match args.engine {
        EngineArg::Rds => {
            if args.action.is_some() || args.expires_in.is_some() {
                return Err(UsageError::new(
                    "--action and --expires-in are for Aurora DSQL tokens: add --engine dsql \
                     (RDS tokens always last 900 seconds)",
                ));
            }
        }
        EngineArg::Dsql => {
            if args.url.is_some() || args.dry_run {
                return Err(UsageError::new(
                    "--engine dsql takes the cluster endpoint as --host HOST, not a JDBC URL \
                     (and has no --dry-run)",
                ));
            }
            if args.port.is_some() || args.user.is_some() {
                return Err(UsageError::new(
                    "DSQL tokens carry no port and no user: drop --port and --user \
                     (choose the role with --action DbConnect or DbConnectAdmin)",
                ));
            }
        }
    }
    Ok(())
}

fn non_empty(flag: &str, value: String) -> Result<String, UsageError> {
    if value.is_empty() {
        Err(UsageError(format!("{flag} needs a non-empty value")))
    } else {
        Ok(value)
    }
}

fn port(value: &str) -> Result<u16, UsageError> {
    match value.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(UsageError::new(
            "--port needs a port number from 1 to 65535 (e.g. 5432 or 3306)",
        )),
    }
}

fn instant(value: &str) -> Result<SystemTime, UsageError> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| {
            UsageError::new(
                "--at needs an RFC 3339 instant with a time zone, e.g. 2024-02-29T12:34:56Z",
            )
        })
}

fn engine(value: &str) -> Result<EngineArg, UsageError> {
    match value {
        "rds" => Ok(EngineArg::Rds),
        "dsql" => Ok(EngineArg::Dsql),
        _ => Err(UsageError::new(
            "--engine needs rds (RDS / Aurora PostgreSQL and MySQL, the default) or dsql",
        )),
    }
}

fn action(value: &str) -> Result<DsqlAction, UsageError> {
    // The library's error says what to use.
    value
        .parse()
        .map_err(|e| UsageError(format!("--action: {e}")))
}

fn expires_in(value: &str) -> Result<Duration, UsageError> {
    match value.parse::<u64>() {
        Ok(secs) if (1..=604_800).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(UsageError::new(
            "--expires-in needs whole seconds from 1 to 604800 (7 days)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(args: &[&str]) -> Result<Args, UsageError> {
        parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn flags_and_inline_values() {
        let args = parse_str(&[
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
    }

    #[test]
    fn mistakes_are_usage_errors() {
        for bad in [
            &["--port"][..],
            &["--port", "0"],
            &["--port", "65536"],
            &["--at", "yesterday"],
            &["--bogus"],
            &["--engine", "oracle"],
            &["--action", "DbConnect"],
            &["--engine", "dsql", "--port", "5432"],
            &["--engine", "dsql", "--expires-in", "604801"],
            &["--engine", "dsql", "jdbc:aws-wrapper:postgresql://h/d"],
            &["a", "b"],
        ] {
            assert!(parse_str(bad).is_err(), "{bad:?}");
        }
    }
}

//! Mint an RDS IAM token for a JDBC URL, or show what would be signed.
//!
//! ```sh
//! cargo run --example token -- --dry-run --json 'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&ssl=true&sslmode=require&user=harness_iam_user'
//! ```
//!
//! Exit codes: 0 success, 1 the URL (or what it resolves to) is unusable, 2 usage error.

use std::io::Write;
use std::process::ExitCode;

use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::{ConnectPlan, PlanOverrides};

const USAGE: &str = "\
usage: token --dry-run [--json] [--user USER] [--region REGION] JDBC_URL

Show what an RDS IAM token for JDBC_URL would be signed for: engine, hosts, database,
user, signing host and port, region, endpoint kind and the effective TLS mode.

options:
  --dry-run        parse the URL and print the plan; no credentials are read
  --json           print one JSON object instead of readable lines
  --user USER      the database user (instead of the URL's user=)
  --region REGION  the signing region (instead of iamRegion= or the host's region)
  -h, --help       print this help

exit codes: 0 success, 1 unusable URL, 2 usage error";

/// What the command line asks for.
#[derive(Debug, Default)]
struct Args {
    url: Option<String>,
    dry_run: bool,
    json: bool,
    help: bool,
    user: Option<String>,
    region: Option<String>,
}

/// A command-line mistake (exit code 2).
struct UsageError(String);

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, UsageError> {
    let mut args = Args::default();
    let mut positional_only = false;
    while let Some(arg) = argv.next() {
        if positional_only || !arg.starts_with('-') || arg == "-" {
            if args.url.replace(arg).is_some() {
                return Err(UsageError(
                    "more than one URL given: quote the JDBC URL (it contains '&') and give only one"
                        .into(),
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
            "--user" => args.user = Some(value("--user")?),
            "--region" => args.region = Some(value("--region")?),
            other => {
                return Err(UsageError(format!(
                    "unknown option {other}: see --help for the options"
                )));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(UsageError(msg)) => return fail(2, &msg),
    };
    if args.help {
        print(USAGE);
        return ExitCode::SUCCESS;
    }
    let Some(url) = args.url.as_deref() else {
        return fail(
            2,
            "no JDBC URL given: token --dry-run [--json] 'jdbc:aws-wrapper:...'",
        );
    };
    // Token minting (with --host, --port, --role-arn, --profile, --at, --engine dsql, --action,
    // --expires-in) goes here, next to dry_run; until then only --dry-run is available.
    if !args.dry_run {
        return fail(
            2,
            "only --dry-run is available in this build (token minting is not built yet): add --dry-run",
        );
    }
    dry_run(url, &args)
}

fn dry_run(url: &str, args: &Args) -> ExitCode {
    let url = match JdbcUrl::parse(url) {
        Ok(url) => url,
        Err(e) => return fail(1, &e.to_string()),
    };
    let mut overrides = PlanOverrides::new();
    if let Some(user) = &args.user {
        overrides = overrides.user(user);
    }
    if let Some(region) = &args.region {
        overrides = overrides.region(region);
    }
    let plan = match ConnectPlan::resolve(&url, &overrides) {
        Ok(plan) => plan,
        Err(e) => return fail(1, &e.to_string()),
    };
    if args.json {
        print(&plan_json(&plan));
    } else {
        print(&plan_lines(&plan));
    }
    ExitCode::SUCCESS
}

/// The `--json` output, fields in this order.
#[derive(serde::Serialize)]
struct PlanJson<'a> {
    engine: &'a str,
    iam: bool,
    hosts: Vec<HostJson<'a>>,
    database: Option<&'a str>,
    user: &'a str,
    signing_host: &'a str,
    signing_port: u16,
    region: &'a str,
    endpoint_kind: &'a str,
    tls: &'a str,
}

#[derive(serde::Serialize)]
struct HostJson<'a> {
    host: &'a str,
    port: u16,
}

fn plan_json(plan: &ConnectPlan) -> String {
    let json = PlanJson {
        engine: plan.engine.as_str(),
        iam: plan.iam,
        hosts: plan
            .hosts
            .iter()
            .map(|h| HostJson {
                host: &h.host,
                port: h.port,
            })
            .collect(),
        database: plan.database.as_deref(),
        user: &plan.user,
        signing_host: &plan.signing_host,
        signing_port: plan.signing_port,
        region: &plan.region,
        endpoint_kind: plan.endpoint.kind.as_str(),
        tls: plan.tls.mode().as_str(),
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

fn plan_lines(plan: &ConnectPlan) -> String {
    let hosts: Vec<String> = plan.hosts.iter().map(ToString::to_string).collect();
    let rows = [
        ("engine", plan.engine.as_str().to_owned()),
        ("iam", plan.iam.to_string()),
        ("hosts", hosts.join(", ")),
        (
            "database",
            plan.database.clone().unwrap_or_else(|| "(none)".into()),
        ),
        ("user", plan.user.clone()),
        ("signing host", plan.signing_host.clone()),
        ("signing port", plan.signing_port.to_string()),
        ("region", plan.region.clone()),
        ("endpoint kind", plan.endpoint.kind.as_str().to_owned()),
        ("tls", plan.tls.mode().as_str().to_owned()),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<15}{v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Print to stdout, ignoring a closed pipe (`| head`) instead of panicking.
fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// A one-line error on stderr, and the exit code.
fn fail(code: u8, msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "token: error: {msg}");
    ExitCode::from(code)
}

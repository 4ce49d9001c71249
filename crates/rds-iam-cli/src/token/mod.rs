//! `token`: mint an IAM database authentication token, like `aws rds generate-db-auth-token`,
//! or show what would be signed for a JDBC URL.
//!
//! ```sh
//! # The token alone on stdout, for a password variable:
//! PGPASSWORD=$(rds-iam token \
//!     'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&user=harness_iam_user')
//! # From flags (--port is required, as for the AWS CLI):
//! rds-iam token --host mydb.abc123.eu-west-1.rds.amazonaws.com --port 3306 --user app
//! # Aurora DSQL, the admin role, as JSON:
//! rds-iam token --engine dsql --host abc.dsql.us-east-1.on.aws --action DbConnectAdmin --json
//! # What would be signed, without credentials:
//! rds-iam token --dry-run --json 'jdbc:aws-wrapper:postgresql://...'
//! ```
//!
//! The same module is the root package's `token` example (`cargo run --example token -- ...`).

mod args;
mod output;

use std::time::Duration;

use rds_iam::clock::{Clock, SystemClock};
use rds_iam::credentials::CredentialsConfig;
use rds_iam::endpoint::EndpointKind;
use rds_iam::jdbc::{HostPort, JdbcUrl};
use rds_iam::plan::{self, ConnectPlan, PlanError, PlanOverrides};
use rds_iam::token::{
    AuthToken, DsqlAction, DsqlTokenParams, RdsTokenParams, sign_dsql_token, sign_rds_token,
};

pub use args::Args;
use args::EngineArg;

use super::report::{self, Failure};

/// Mint (or with `--dry-run` plan) as `args` say, and print the result on stdout.
pub fn run(args: Args) -> Result<(), Failure> {
    args.check_combinations().map_err(Failure::Usage)?;
    let text = if args.dry_run {
        dry_run(&args)?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::error(&e))?
            .block_on(mint(&args))?
    };
    report::print(&text);
    Ok(())
}

/// `--dry-run`: the plan for the URL, flags applied; no credentials are read.
fn dry_run(args: &Args) -> Result<String, Failure> {
    let Some(url) = args.url.as_deref() else {
        return Err(Failure::Usage(
            "no JDBC URL given: token --dry-run [--json] 'jdbc:aws-wrapper:...'".into(),
        ));
    };
    let plan = plan(&parse_url(url)?, args)?;
    Ok(if args.json {
        output::plan_json(&plan)
    } else {
        output::plan_lines(&plan)
    })
}

/// Mint a token and format it.
async fn mint(args: &Args) -> Result<String, Failure> {
    let target = target(args)?;

    let mut config = match &args.profile {
        Some(profile) => CredentialsConfig::profile(profile),
        None => CredentialsConfig::default_chain(),
    };
    if let Some(role_arn) = &args.role_arn {
        // STS is called in the signing region: the database's.
        config = config
            .assume_role(role_arn)
            .role_session_name("rds-iam-token")
            .region(target.region());
    }
    let provider = config.build().await.map_err(|e| Failure::error(&e))?;
    let credentials = provider
        .credentials()
        .await
        .map_err(|e| Failure::error(&e))?;

    let at = args.at.unwrap_or_else(|| SystemClock.now());
    let token = match &target {
        Target::Rds { params, .. } => sign_rds_token(params, &credentials, at),
        Target::Dsql { params } => sign_dsql_token(params, &credentials, at),
    }
    .map_err(|e| Failure::error(&e))?;

    Ok(if args.json {
        output::token_json(token.expose(), &describe(&token, &target)).ok_or_else(|| {
            Failure::Error(
                "the token expires after the year 9999, which --json cannot write (RFC 3339 \
                 has four-digit years): leave out --json to print the token alone"
                    .into(),
            )
        })?
    } else {
        token.into_exposed()
    })
}

/// What a token is signed for.
enum Target {
    /// `rds-db:connect`.
    Rds {
        params: RdsTokenParams,
        kind: EndpointKind,
    },
    /// Aurora DSQL.
    Dsql { params: DsqlTokenParams },
}

impl Target {
    fn region(&self) -> &str {
        match self {
            Self::Rds { params, .. } => &params.region,
            Self::Dsql { params } => &params.region,
        }
    }
}

/// The signing target from the URL and flags, resolved by the library (`rds_iam::plan`).
fn target(args: &Args) -> Result<Target, Failure> {
    if args.engine == EngineArg::Dsql {
        return dsql_target(args);
    }
    let target = match &args.url {
        Some(url) => {
            let url = parse_url(url)?;
            plan::require_iam(&url).map_err(|e| plan_failure(&e))?;
            plan(&url, args)?.targets.swap_remove(0)
        }
        None => {
            let (Some(host), Some(port), Some(_)) = (&args.host, args.port, &args.user) else {
                return Err(Failure::Usage(missing_flags(args)));
            };
            let dial = HostPort {
                host: host.clone(),
                port,
            };
            plan::targets(&[dial], &overrides(args))
                .map_err(|e| plan_failure(&e))?
                .swap_remove(0)
        }
    };
    Ok(Target::Rds {
        kind: target.endpoint.kind,
        params: target.token,
    })
}

fn parse_url(url: &str) -> Result<JdbcUrl, Failure> {
    JdbcUrl::parse(url).map_err(|e| Failure::error(&e))
}

/// The flags as plan overrides: `--user`, `--region`, and `--host`/`--port` as the signing host
/// and port (the region then comes from `--host`'s name unless `--region` or `iamRegion` gives
/// one).
fn overrides(args: &Args) -> PlanOverrides {
    let mut overrides = PlanOverrides::new();
    overrides.user.clone_from(&args.user);
    overrides.region.clone_from(&args.region);
    overrides.iam_host.clone_from(&args.host);
    overrides.iam_port = args.port;
    overrides
}

/// The URL's plan with the flags applied.
fn plan(url: &JdbcUrl, args: &Args) -> Result<ConnectPlan, Failure> {
    ConnectPlan::resolve(url, &overrides(args)).map_err(|e| plan_failure(&e))
}

/// A plan error on one line, with this command's flag where the library names a URL parameter
/// or a method.
fn plan_failure(e: &PlanError) -> Failure {
    let flag = match e {
        PlanError::MissingUser => "; or pass --user USER",
        PlanError::UnknownRegion { .. } | PlanError::GlobalEndpointNeedsRegion { .. } => {
            "; or pass --region REGION"
        }
        PlanError::InvalidRegion => " (--region)",
        _ => "",
    };
    Failure::Error(format!("{}{flag}", report::error_line(e)))
}

/// What is missing to sign without a URL: `--host`, `--port` and `--user`, as for the AWS CLI.
fn missing_flags(args: &Args) -> String {
    let missing: Vec<&str> = [
        ("--host HOST", args.host.is_none()),
        ("--port PORT", args.port.is_none()),
        ("--user USER", args.user.is_none()),
    ]
    .into_iter()
    .filter_map(|(flag, missing)| missing.then_some(flag))
    .collect();
    format!(
        "nothing to sign for: give a JDBC URL, or {} (see --help)",
        missing.join(", ")
    )
}

/// `--engine dsql`: `--host`, the region, `--action`, `--expires-in`.
fn dsql_target(args: &Args) -> Result<Target, Failure> {
    let Some(host) = &args.host else {
        return Err(Failure::Usage(
            "--engine dsql needs the cluster endpoint: --host ID.dsql.REGION.on.aws".into(),
        ));
    };
    let region = region(args, dsql_region(host), host)?;
    let params = DsqlTokenParams::new(host, region, args.action.unwrap_or(DsqlAction::DbConnect))
        .with_expires_in(args.expires_in.unwrap_or(Duration::from_secs(900)));
    Ok(Target::Dsql { params })
}

/// `--region` (lower-cased), else the region in the host name; never a default.
fn region(args: &Args, from_host: Option<String>, host: &str) -> Result<String, Failure> {
    args.region
        .as_deref()
        .map(str::to_ascii_lowercase)
        .or(from_host)
        .ok_or_else(|| {
            Failure::Error(format!(
                "no AWS region to sign the token in: `{host}` is not an endpoint name that \
                 carries one, so pass --region REGION (the database's region, e.g. us-east-1); \
                 it is part of the signature and is never guessed"
            ))
        })
}

/// The region in a DSQL cluster endpoint name, `ID.dsql.REGION.on.aws`.
fn dsql_region(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let rest = host.strip_suffix(".on.aws")?;
    let (_, region) = rest.rsplit_once(".dsql.")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

/// The token's facts for `--json`.
fn describe(token: &AuthToken, target: &Target) -> output::TokenFacts {
    match target {
        Target::Rds { params, kind } => output::TokenFacts {
            host: params.host.clone(),
            port: Some(params.port),
            user: Some(params.user.clone()),
            region: params.region.clone(),
            endpoint_kind: kind.as_str(),
            action: None,
            signed_at: token.signed_at(),
            expires_at: token.valid_until(),
        },
        Target::Dsql { params } => output::TokenFacts {
            host: params.host.clone(),
            port: None,
            user: None,
            region: params.region.clone(),
            endpoint_kind: "dsql",
            action: Some(params.action.as_str()),
            signed_at: token.signed_at(),
            expires_at: token.valid_until(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsql_region_from_the_endpoint_name() {
        assert_eq!(
            dsql_region("abc.dsql.us-east-1.on.aws").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            dsql_region("ABC.DSQL.EU-WEST-1.ON.AWS.").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(dsql_region("abc.dsql.on.aws"), None);
        assert_eq!(dsql_region("db.example.com"), None);
    }
}

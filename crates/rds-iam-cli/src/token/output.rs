//! What `token` prints on stdout: the token, or JSON; with `--dry-run` the plan.

use std::time::SystemTime;

use rds_iam::plan::ConnectPlan;
use time::format_description::well_known::Rfc3339;

/// The facts `--json` prints beside the token.
pub struct TokenFacts {
    pub host: String,
    /// `None` for DSQL (its tokens carry no port).
    pub port: Option<u16>,
    /// `None` for DSQL (the role comes from the action).
    pub user: Option<String>,
    pub region: String,
    pub endpoint_kind: &'static str,
    /// DSQL only.
    pub action: Option<&'static str>,
    pub signed_at: SystemTime,
    /// The token's real end: the earlier of its own expiry and its credentials' expiry.
    pub expires_at: SystemTime,
}

/// The `--json` output of a minted token, fields in this order.
#[derive(serde::Serialize)]
struct TokenJson<'a> {
    token: &'a str,
    host: &'a str,
    port: Option<u16>,
    user: Option<&'a str>,
    region: &'a str,
    signed_at: String,
    expires_at: String,
    endpoint_kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'a str>,
}

/// `None` when an instant lies after the year 9999, which RFC 3339 cannot write (a token
/// signed in the last 15 minutes of 9999 expires in 10000).
pub fn token_json(token: &str, facts: &TokenFacts) -> Option<String> {
    let json = TokenJson {
        token,
        host: &facts.host,
        port: facts.port,
        user: facts.user.as_deref(),
        region: &facts.region,
        signed_at: rfc3339(facts.signed_at)?,
        expires_at: rfc3339(facts.expires_at)?,
        endpoint_kind: facts.endpoint_kind,
        action: facts.action,
    };
    // Serialising plain strings and numbers cannot fail.
    Some(serde_json::to_string_pretty(&json).unwrap_or_default())
}

/// `2024-02-29T12:34:56Z`; `None` after 9999-12-31T23:59:59Z.
fn rfc3339(at: SystemTime) -> Option<String> {
    // Signing instants lie between 1970 and 9999 (the signer refuses others).
    let since_epoch = at.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    time::OffsetDateTime::UNIX_EPOCH
        .checked_add(time::Duration::try_from(since_epoch).ok()?)?
        .format(&Rfc3339)
        .ok()
}

/// The `--dry-run --json` output, fields in this order.
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

pub fn plan_json(plan: &ConnectPlan) -> String {
    let first = plan.first();
    let json = PlanJson {
        engine: plan.engine.as_str(),
        iam: plan.iam,
        hosts: plan
            .targets
            .iter()
            .map(|t| HostJson {
                host: &t.dial.host,
                port: t.dial.port,
            })
            .collect(),
        database: plan.database.as_deref(),
        user: &plan.user,
        signing_host: &first.token.host,
        signing_port: first.token.port,
        region: &first.token.region,
        endpoint_kind: first.endpoint.kind.as_str(),
        tls: plan.tls.mode().as_str(),
    };
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

pub fn plan_lines(plan: &ConnectPlan) -> String {
    let first = plan.first();
    let hosts: Vec<String> = plan.targets.iter().map(|t| t.dial.to_string()).collect();
    let rows = [
        ("engine", plan.engine.as_str().to_owned()),
        ("iam", plan.iam.to_string()),
        ("hosts", hosts.join(", ")),
        (
            "database",
            plan.database.clone().unwrap_or_else(|| "(none)".into()),
        ),
        ("user", plan.user.clone()),
        ("signing host", first.token.host.clone()),
        ("signing port", first.token.port.to_string()),
        ("region", first.token.region.clone()),
        ("endpoint kind", first.endpoint.kind.as_str().to_owned()),
        ("tls", plan.tls.mode().as_str().to_owned()),
    ];
    rows.iter()
        .map(|(k, v)| format!("{:<15}{v}", format!("{k}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

//! What the command prints: the token or JSON on stdout, one error line on stderr.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;
use std::time::SystemTime;

use rds_iam::plan::ConnectPlan;
use time::format_description::well_known::Rfc3339;

/// Print to stdout, ignoring a closed pipe (`| head`) instead of panicking.
pub fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// A one-line error on stderr, and the exit code.
pub fn fail(code: u8, msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "token: error: {msg}");
    ExitCode::from(code)
}

/// An error and its causes on one line: `error: cause: cause`, each said once (a cause whose
/// text is already in the line, because a layer printed it, is left out).
pub fn error_line(err: &(dyn Error + 'static)) -> String {
    let mut line = one_line(&err.to_string());
    let mut cause = err.source();
    while let Some(err) = cause {
        let text = one_line(&err.to_string());
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = err.source();
    }
    line
}

/// Line breaks and runs of white space as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

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

pub fn token_json(token: &str, facts: &TokenFacts) -> String {
    let json = TokenJson {
        token,
        host: &facts.host,
        port: facts.port,
        user: facts.user.as_deref(),
        region: &facts.region,
        signed_at: rfc3339(facts.signed_at),
        expires_at: rfc3339(facts.expires_at),
        endpoint_kind: facts.endpoint_kind,
        action: facts.action,
    };
    // Serialising plain strings and numbers cannot fail.
    serde_json::to_string_pretty(&json).unwrap_or_default()
}

/// `2024-02-29T12:34:56Z`.
fn rfc3339(at: SystemTime) -> String {
    // Token instants lie between 1970 and 9999 (the signer refuses others).
    time::OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer problem; do this")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: inner\ncause")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner cause")]
    struct Inner;

    #[test]
    fn causes_are_said_once_on_one_line() {
        assert_eq!(
            error_line(&Outer(Middle(Inner))),
            "outer problem; do this: middle: inner cause"
        );
    }
}

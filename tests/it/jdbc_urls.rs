//! Runs `tests/data/jdbc_urls.json`: every valid case is parsed and compared field by field
//! (absent fields mean "not set"), round-tripped, and checked for redaction; every invalid case
//! must fail with the named error kind. Secret values in the data contain the marker `SeCrEt`,
//! which must never appear in `Display`, `Debug` or an error message.

use std::collections::BTreeMap;

use rds_iam::jdbc::{JdbcUrl, JdbcUrlError};
use rds_iam::plan::{ConnectPlan, PlanError, PlanOverrides};
use rds_iam::tls_mode::{EffectiveTls, TlsModeError};
use serde::Deserialize;

const SECRET_MARKER: &str = "SeCrEt";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    origin: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    url: String,
    expect: Option<Expect>,
    error: Option<String>,
    error_key: Option<String>,
    secret: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    engine: String,
    aws_wrapper: bool,
    iam: bool,
    hosts: Vec<(String, u16)>,
    #[serde(default)]
    database: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    wrapper_plugins: Option<Vec<String>>,
    #[serde(default)]
    iam_host: Option<String>,
    #[serde(default)]
    iam_default_port: Option<u16>,
    #[serde(default)]
    iam_region: Option<String>,
    #[serde(default)]
    iam_expiration_secs: Option<u64>,
    #[serde(default)]
    ssl: Option<bool>,
    #[serde(default)]
    sslmode: Option<String>,
    #[serde(default)]
    sslrootcert: Option<String>,
    #[serde(default)]
    mysql_ssl_mode: Option<String>,
    #[serde(default)]
    server_ssl_cert: Option<String>,
    #[serde(default)]
    ssl_ca: Option<String>,
    #[serde(default)]
    connect_timeout_ms: Option<u128>,
    #[serde(default)]
    extra: Vec<(String, String)>,
    #[serde(default)]
    tls: Option<String>,
    #[serde(default)]
    tls_error: Option<String>,
    #[serde(default)]
    plan: Option<Plan>,
    #[serde(default)]
    plan_error: Option<String>,
}

#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct Plan {
    signing_host: String,
    signing_port: u16,
    region: String,
    endpoint_kind: String,
}

fn load() -> File {
    let text = include_str!("../data/jdbc_urls.json");
    serde_json::from_str(text).expect("tests/data/jdbc_urls.json is valid")
}

pub(crate) fn valid_urls() -> Vec<String> {
    load()
        .cases
        .into_iter()
        .filter(|c| c.expect.is_some())
        .map(|c| c.url)
        .collect()
}

fn error_kind(e: &JdbcUrlError) -> &'static str {
    match e {
        JdbcUrlError::NotJdbc => "not-jdbc",
        JdbcUrlError::UppercasePrefix(_) => "uppercase-prefix",
        JdbcUrlError::UnknownEngine => "unknown-engine",
        JdbcUrlError::MissingHost(_) => "missing-host",
        JdbcUrlError::InvalidHost { .. } => "invalid-host",
        JdbcUrlError::InvalidPort { .. } => "invalid-port",
        JdbcUrlError::MalformedEscape { .. } => "malformed-escape",
        JdbcUrlError::InvalidUtf8 { .. } => "invalid-utf8",
        JdbcUrlError::EmptyKey => "empty-key",
        JdbcUrlError::InvalidValue { .. } => "invalid-value",
        JdbcUrlError::WrongEngine { .. } => "wrong-engine",
        JdbcUrlError::JksTrustStore { .. } => "jks-trust-store",
        _ => "unlisted",
    }
}

/// Whether the error points at `key`.
fn error_names_key(e: &JdbcUrlError, key: &str) -> bool {
    match e {
        JdbcUrlError::InvalidValue { key: k, .. } | JdbcUrlError::WrongEngine { key: k, .. } => {
            *k == key
        }
        JdbcUrlError::MalformedEscape { part } | JdbcUrlError::InvalidUtf8 { part } => {
            part.contains(key)
        }
        _ => false,
    }
}

fn tls_error_kind(e: &TlsModeError) -> &'static str {
    match e {
        TlsModeError::PlaintextWithIam { .. } => "plaintext-with-iam",
        TlsModeError::PlaintextNotSupported { .. } => "plaintext-not-supported",
        TlsModeError::SystemRootsNeedVerifyFull => "system-roots-need-verify-full",
        TlsModeError::ConflictingCaFiles => "conflicting-ca-files",
        _ => "unlisted",
    }
}

fn plan_error_kind(e: &PlanError) -> &'static str {
    match e {
        PlanError::Tls(_) => "tls",
        PlanError::MissingUser => "missing-user",
        PlanError::NotIam { .. } => "not-iam",
        PlanError::UnknownRegion { .. } => "unknown-region",
        PlanError::GlobalEndpointNeedsRegion { .. } => "global-needs-region",
        PlanError::InvalidRegion => "invalid-region",
        _ => "unlisted",
    }
}

/// Compare one valid case; returns the mismatches.
fn check_valid(url: &JdbcUrl, e: &Expect) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{what}: got {got}, want {want}"));
        }
    };
    let s = |o: Option<&str>| format!("{o:?}");
    eq("engine", url.engine().to_string(), e.engine.clone());
    eq(
        "aws_wrapper",
        url.is_aws_wrapper().to_string(),
        e.aws_wrapper.to_string(),
    );
    eq("iam", url.is_iam().to_string(), e.iam.to_string());
    let hosts: Vec<(String, u16)> = url
        .hosts()
        .iter()
        .map(|h| (h.host.clone(), h.port))
        .collect();
    eq("hosts", format!("{hosts:?}"), format!("{:?}", e.hosts));
    eq("database", s(url.database()), s(e.database.as_deref()));
    eq("user", s(url.user()), s(e.user.as_deref()));
    eq(
        "password",
        s(url.password().map(|p| p.expose())),
        s(e.password.as_deref()),
    );
    eq(
        "wrapper_plugins",
        format!("{:?}", url.wrapper_plugins()),
        format!("{:?}", e.wrapper_plugins.as_deref()),
    );
    eq("iam_host", s(url.iam_host()), s(e.iam_host.as_deref()));
    eq(
        "iam_default_port",
        format!("{:?}", url.iam_default_port()),
        format!("{:?}", e.iam_default_port),
    );
    eq(
        "iam_region",
        s(url.iam_region()),
        s(e.iam_region.as_deref()),
    );
    eq(
        "iam_expiration",
        format!("{:?}", url.iam_expiration().map(|d| d.as_secs())),
        format!("{:?}", e.iam_expiration_secs),
    );
    eq("ssl", format!("{:?}", url.ssl()), format!("{:?}", e.ssl));
    eq(
        "sslmode",
        s(url.sslmode().map(|m| m.as_str())),
        s(e.sslmode.as_deref()),
    );
    eq(
        "sslrootcert",
        s(url.sslrootcert()),
        s(e.sslrootcert.as_deref()),
    );
    eq(
        "mysql_ssl_mode",
        s(url.mysql_ssl_mode().map(|m| m.as_str())),
        s(e.mysql_ssl_mode.as_deref()),
    );
    eq(
        "server_ssl_cert",
        s(url.server_ssl_cert()),
        s(e.server_ssl_cert.as_deref()),
    );
    eq("ssl_ca", s(url.ssl_ca()), s(e.ssl_ca.as_deref()));
    eq(
        "connect_timeout",
        format!("{:?}", url.connect_timeout().map(|d| d.as_millis())),
        format!("{:?}", e.connect_timeout_ms),
    );
    eq(
        "extra",
        format!("{:?}", url.extra_params()),
        format!("{:?}", e.extra),
    );

    let tls = EffectiveTls::resolve(url);
    if let Some(want) = &e.tls {
        eq(
            "tls",
            format!("{:?}", tls.as_ref().map(|t| t.mode().as_str())),
            format!("{:?}", Ok::<_, ()>(want)),
        );
    }
    if let Some(want) = &e.tls_error {
        eq(
            "tls_error",
            format!("{:?}", tls.as_ref().err().map(tls_error_kind)),
            format!("{:?}", Some(want)),
        );
    }
    let plan = ConnectPlan::resolve(url, &PlanOverrides::new());
    if let Some(want) = &e.plan {
        let got = plan.as_ref().map(|p| Plan {
            signing_host: p.first().token.host.clone(),
            signing_port: p.first().token.port,
            region: p.first().token.region.clone(),
            endpoint_kind: p.first().endpoint.kind.as_str().to_owned(),
        });
        eq(
            "plan",
            format!("{got:?}"),
            format!("{:?}", Ok::<_, ()>(want)),
        );
    }
    if let Some(want) = &e.plan_error {
        eq(
            "plan_error",
            format!("{:?}", plan.as_ref().err().map(plan_error_kind)),
            format!("{:?}", Some(want)),
        );
    }
    let mut outputs = vec![url.to_string(), format!("{url:?}"), format!("{url:#?}")];
    outputs.extend(tls.err().map(|e| e.to_string()));
    outputs.extend(plan.err().map(|e| e.to_string()));
    for out in outputs {
        if out.contains(SECRET_MARKER) {
            bad.push(format!("a secret leaks into output: {out}"));
        }
    }

    // Round trips.
    let full = url.to_url_exposing_secrets();
    match JdbcUrl::parse(&full) {
        Ok(again) if again == *url => {}
        other => bad.push(format!("round trip through {full} gave {other:?}")),
    }
    let redacted_equal =
        url.password().is_none() && !e.extra.iter().any(|(_, v)| v.contains(SECRET_MARKER));
    if redacted_equal {
        let shown = url.to_string();
        if JdbcUrl::parse(&shown).as_ref() != Ok(url) {
            bad.push(format!("Display {shown} does not parse back equal"));
        }
    }
    bad
}

#[test]
fn jdbc_url_cases() {
    let file = load();
    assert!(file.origin.len() > 100, "the data file states its origin");
    let valid = file.cases.iter().filter(|c| c.expect.is_some()).count();
    let invalid = file.cases.iter().filter(|c| c.error.is_some()).count();
    assert!(
        valid + invalid >= 60 && valid >= 30 && invalid >= 30,
        "{valid} valid, {invalid} invalid"
    );

    let mut failures = Vec::new();
    for case in &file.cases {
        assert!(!case.note.is_empty(), "every case has a note: {}", case.url);
        let parsed = JdbcUrl::parse(&case.url);
        let problems = match (&case.expect, &case.error, parsed) {
            (Some(expect), None, Ok(url)) => check_valid(&url, expect),
            (None, Some(kind), Err(err)) => {
                let mut p = Vec::new();
                if error_kind(&err) != kind {
                    p.push(format!(
                        "error kind {} ({err}), want {kind}",
                        error_kind(&err)
                    ));
                }
                if let Some(key) = &case.error_key
                    && !error_names_key(&err, key)
                {
                    p.push(format!("error does not name {key}: {err:?}"));
                }
                let msg = err.to_string();
                if msg.contains(SECRET_MARKER)
                    || case.secret.as_deref().is_some_and(|s| msg.contains(s))
                {
                    p.push(format!("error message leaks a secret: {msg}"));
                }
                p
            }
            (Some(_), None, Err(err)) => vec![format!("unexpected error: {err}")],
            (None, Some(kind), Ok(url)) => vec![format!("parsed, want {kind}: {url:?}")],
            _ => vec!["a case needs exactly one of expect and error".to_owned()],
        };
        if !problems.is_empty() {
            failures.push(format!(
                "{} ({})\n    {}",
                case.url,
                case.note,
                problems.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn error_kinds_are_all_covered() {
    let file = load();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &file.cases {
        if let Some(kind) = &case.error {
            *seen.entry(kind.as_str()).or_default() += 1;
        }
    }
    for kind in [
        "not-jdbc",
        "uppercase-prefix",
        "unknown-engine",
        "missing-host",
        "invalid-host",
        "invalid-port",
        "malformed-escape",
        "invalid-utf8",
        "empty-key",
        "invalid-value",
        "wrong-engine",
        "jks-trust-store",
    ] {
        assert!(seen.contains_key(kind), "no case for {kind}");
    }
}

#[test]
fn error_messages_name_the_fix() {
    let cases = [
        (
            "jdbc:aws-wrapper:postgresql://h/db?sslmode=requre",
            "verify-full",
        ),
        (
            "jdbc:aws-wrapper:mysql://h/db?trustCertificateKeyStoreUrl=x",
            "sslCa=",
        ),
        (
            "jdbc:aws-wrapper:postgresql://h/db?trustCertificateKeyStoreUrl=x",
            "sslrootcert=",
        ),
        (
            "jdbc:aws-wrapper:oracle://h",
            "postgresql, mysql or mariadb",
        ),
        ("jdbc:aws-wrapper:postgresql://h:0/db", "1 to 65535"),
        ("jdbc:aws-wrapper:mysql://h/db?sslmode=require", "sslMode="),
        ("jdbc:postgresql://h/db?x=100%", "%25"),
    ];
    for (url, fix) in cases {
        let err = JdbcUrl::parse(url).unwrap_err().to_string();
        assert!(err.contains(fix), "{url}: {err}");
    }
}

#[test]
fn display_and_debug_redact_every_password_form() {
    for url in [
        "jdbc:postgresql://u:hunter2@h/d",
        "jdbc:postgresql://h/d?password=hunter2",
        "jdbc:mysql://h/d?user=u&password=hunter2&trustCertificateKeyStorePassword=hunter2",
        "jdbc:aws-wrapper:mysql://h/d?awsSecretAccessKey=hunter2",
    ] {
        let parsed = JdbcUrl::parse(url).unwrap();
        for shown in [
            parsed.to_string(),
            format!("{parsed:?}"),
            format!("{parsed:#?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        assert!(parsed.to_url_exposing_secrets().contains("hunter2"));
    }
}

//! `jdbc_url`: [`JdbcUrl::parse`] on arbitrary text.
//!
//! Parsing never panics. A URL that parses:
//! - round-trips: [`JdbcUrl::to_url_exposing_secrets`] parses back to an equal URL whose
//!   settings all read the same, and writes the same text again; `Display` parses back and
//!   prints the same text again;
//! - keeps its secrets out of `Display` and `Debug`: changing the password, or the value of an
//!   unknown parameter whose name suggests a secret, changes neither output. (A check that the
//!   output does not contain the password would fail on a password that is also part of the
//!   host name; this one has no such false alarm.)
//! - can be planned without a panic ([`ConnectPlan::resolve`] is pure too).

use std::fmt::Write as _;

use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::{ConnectPlan, PlanOverrides};

/// Parts of parameter names whose values `Display` and `Debug` hide, as the `rds_iam::jdbc`
/// docs list them (the names are compared ignoring ASCII case).
const SECRET_NAME_PARTS: [&str; 5] = ["password", "secret", "token", "passphrase", "credential"];

/// Run the checks on `data`; returns whether it parsed as a URL.
pub fn check(data: &[u8]) -> bool {
    let Ok(input) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(url) = JdbcUrl::parse(input) else {
        return false;
    };
    round_trip(&url);
    secrets_do_not_show(&url);
    let _ = ConnectPlan::resolve(&url, &PlanOverrides::new());
    true
}

fn round_trip(url: &JdbcUrl) {
    let full = url.to_url_exposing_secrets();
    let again = JdbcUrl::parse(&full)
        .unwrap_or_else(|e| panic!("to_url_exposing_secrets() does not parse back: {e}"));
    assert_eq!(
        again, *url,
        "to_url_exposing_secrets() parses back to another URL"
    );
    assert_eq!(
        settings(&again),
        settings(url),
        "the settings differ after a round trip"
    );
    assert_eq!(
        again.to_url_exposing_secrets(),
        full,
        "the full URL is not a fixed point"
    );

    let shown = url.to_string();
    let parsed = JdbcUrl::parse(&shown)
        .unwrap_or_else(|e| panic!("Display does not parse back: {e}; Display: {shown}"));
    assert_eq!(parsed.to_string(), shown, "Display is not a fixed point");
}

/// Every accessor, so that a difference names the setting.
fn settings(url: &JdbcUrl) -> impl std::fmt::Debug + PartialEq + use<> {
    (
        (url.engine(), url.is_aws_wrapper(), url.is_iam()),
        (url.hosts().to_vec(), url.database().map(str::to_owned)),
        (
            url.user().map(str::to_owned),
            url.password().map(|p| p.expose().to_owned()),
        ),
        (
            url.wrapper_plugins().map(<[String]>::to_vec),
            url.iam_host().map(str::to_owned),
            url.iam_default_port(),
            url.iam_region().map(str::to_owned),
            url.iam_expiration(),
        ),
        (
            url.ssl(),
            url.sslmode(),
            url.sslrootcert().map(str::to_owned),
            url.mysql_ssl_mode(),
            url.server_ssl_cert().map(str::to_owned),
            url.ssl_ca().map(str::to_owned),
        ),
        url.connect_timeout(),
        url.extra_params().to_vec(),
    )
}

fn secrets_do_not_show(url: &JdbcUrl) {
    let full = url.to_url_exposing_secrets();
    let shown = (url.to_string(), format!("{url:?}"));
    let mut secrets: Vec<(&str, &str)> = url
        .extra_params()
        .iter()
        .filter(|(key, _)| looks_secret(key))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    if let Some(password) = url.password() {
        secrets.push(("password", password.expose()));
    }
    for (key, value) in secrets {
        let other = if value == "x" { "y" } else { "x" };
        // A repeated parameter's last value wins, at the parameter's first position.
        let changed = JdbcUrl::parse(&format!("{full}&{}={other}", encode(key)))
            .unwrap_or_else(|e| panic!("changing the value of `{key}` broke the URL: {e}"));
        let now = match key {
            "password" => changed.password().map(|p| p.expose()),
            _ => changed.extra_param(key),
        };
        assert_eq!(now, Some(other), "the value of `{key}` did not change");
        assert_eq!(
            (changed.to_string(), format!("{changed:?}")),
            shown,
            "Display or Debug shows something of the value of `{key}`"
        );
    }
}

fn looks_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| key.contains(part))
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

//! Golden token vectors made by botocore (see `tests/data/token_vectors/generate.py`): every
//! case must match byte for byte.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::Clock;
use rds_iam::credentials::CredentialsConfig;
use rds_iam::provider::TokenProvider;
use rds_iam::token::{
    AuthToken, DsqlAction, DsqlTokenParams, RdsTokenParams, TokenError, sign_dsql_token,
    sign_rds_token,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile<C> {
    origin: String,
    botocore_version: String,
    cases: Vec<C>,
}

#[derive(Deserialize)]
struct CaseCommon {
    name: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    at: String,
    at_unix: u64,
    at_nanos: u32,
    token: String,
}

impl CaseCommon {
    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "token_vectors",
        )
    }

    fn at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::new(self.at_unix, self.at_nanos)
    }
}

#[derive(Deserialize)]
struct RdsCase {
    #[serde(flatten)]
    common: CaseCommon,
    host: String,
    port: u16,
    user: String,
}

#[derive(Deserialize)]
struct DsqlCase {
    #[serde(flatten)]
    common: CaseCommon,
    host: String,
    action: String,
    expires_in: u64,
}

fn load<C: for<'de> Deserialize<'de>>(file: &str) -> VectorFile<C> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/token_vectors")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let vectors: VectorFile<C> = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    assert!(
        vectors.origin.contains("botocore") && vectors.origin.contains("generate.py"),
        "{file}: the origin note is missing"
    );
    assert!(!vectors.botocore_version.is_empty());
    vectors
}

/// Check one signed token against its case; describe every difference.
fn check(
    common: &CaseCommon,
    signed: Result<AuthToken, TokenError>,
    lifetime: Duration,
) -> Option<String> {
    let token = match signed {
        Ok(token) => token,
        Err(e) => return Some(format!("{}: error: {e}", common.name)),
    };
    if token.expose() != common.token {
        return Some(format!(
            "{} (at {}):\n    expected {}\n    got      {}",
            common.name,
            common.at,
            common.token,
            token.expose()
        ));
    }
    let signed_at = UNIX_EPOCH + Duration::from_secs(common.at_unix);
    if token.signed_at() != signed_at || token.expires_at() != signed_at + lifetime {
        return Some(format!(
            "{}: signed_at/expires_at wrong: {token:?}",
            common.name
        ));
    }
    None
}

fn report(kind: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} {kind} token vectors do not match:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rds_tokens_match_botocore() {
    let vectors: VectorFile<RdsCase> = load("rds_tokens.json");
    assert!(vectors.cases.len() >= 30, "expected at least 30 RDS cases");
    let failures: Vec<String> = vectors
        .cases
        .iter()
        .filter_map(|case| {
            let params =
                RdsTokenParams::new(&case.host, case.port, &case.user, &case.common.region);
            let signed = sign_rds_token(&params, &case.common.credentials(), case.common.at());
            check(&case.common, signed, RdsTokenParams::LIFETIME)
        })
        .collect();
    report("RDS", vectors.cases.len(), &failures);
}

/// A clock stopped at any instant (`ManualClock` stops at 2554, and a case signs in 9999).
#[derive(Debug)]
struct Stopped(SystemTime);

impl Clock for Stopped {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// The same tokens from the token cache, with the credentials given as a lean build
/// (`default-features = false`, no aws-config) gives them: as a `Credentials` value, and
/// through a `ProvideCredentials` (which `Credentials` is too), fetched once and cached.
#[tokio::test]
async fn rds_tokens_from_the_token_cache_with_given_credentials_match_botocore() {
    let vectors: VectorFile<RdsCase> = load("rds_tokens.json");
    let mut failures = Vec::new();
    for case in &vectors.cases {
        let params = RdsTokenParams::new(&case.host, case.port, &case.user, &case.common.region);
        for (how, config) in [
            (
                "static_credentials",
                CredentialsConfig::static_credentials(case.common.credentials()),
            ),
            (
                "provider",
                CredentialsConfig::provider(case.common.credentials()),
            ),
        ] {
            let credentials = config
                .build()
                .await
                .expect("given credentials always build");
            let tokens = TokenProvider::builder(credentials.clone())
                .clock(Stopped(case.common.at()))
                .build();
            match tokens.token(&params).await {
                Ok(token) if token.expose() == case.common.token && !token.from_cache() => {}
                Ok(token) => failures.push(format!(
                    "{} ({how}):\n    expected {}\n    got      {} (from cache: {})",
                    case.common.name,
                    case.common.token,
                    token.expose(),
                    token.from_cache()
                )),
                Err(e) => failures.push(format!("{} ({how}): error: {e}", case.common.name)),
            }
            let again = tokens.token(&params).await.expect("a cached token");
            assert!(again.from_cache() && again.expose() == case.common.token);
            let fetches = u64::from(how == "provider");
            assert_eq!(credentials.stats().fetches, fetches, "{how}");
        }
    }
    report("RDS (token cache)", 2 * vectors.cases.len(), &failures);
}

#[test]
fn dsql_tokens_match_botocore() {
    let vectors: VectorFile<DsqlCase> = load("dsql_tokens.json");
    assert!(vectors.cases.len() >= 6, "expected at least 6 DSQL cases");
    let failures: Vec<String> = vectors
        .cases
        .iter()
        .filter_map(|case| {
            let action: DsqlAction = match case.action.parse() {
                Ok(action) => action,
                Err(e) => return Some(format!("{}: {e}", case.common.name)),
            };
            let expires_in = Duration::from_secs(case.expires_in);
            let params = DsqlTokenParams::new(&case.host, &case.common.region, action)
                .with_expires_in(expires_in);
            let signed = sign_dsql_token(&params, &case.common.credentials(), case.common.at());
            check(&case.common, signed, expires_in)
        })
        .collect();
    report("DSQL", vectors.cases.len(), &failures);
}

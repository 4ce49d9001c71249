//! No public type that holds a token or signing secret prints it with `{:?}` (or `{}` where
//! it has `Display`): not the token, its signature, the secret key or the session token.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::token::{
    AuthToken, DsqlAction, DsqlTokenParams, RdsTokenParams, sign_dsql_token, sign_rds_token,
};

const SECRET_KEY: &str = "SecretKeyNeverPrinted/abc+def";
const SESSION_TOKEN: &str = "SessionTokenNeverPrinted/xyz+uvw==";

fn credentials() -> Credentials {
    Credentials::new(
        "AKIDREDACTIONTEST",
        SECRET_KEY,
        Some(SESSION_TOKEN.to_owned()),
        Some(UNIX_EPOCH + Duration::from_secs(1_709_211_000)), // 2024-02-29T12:50:00Z
        "redaction-test",
    )
}

fn at() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_709_210_096) // 2024-02-29T12:34:56Z
}

fn signature(token: &AuthToken) -> &str {
    let (_, signature) = token
        .expose()
        .rsplit_once("&X-Amz-Signature=")
        .expect("a token ends with its signature");
    assert_eq!(signature.len(), 64);
    signature
}

/// The strings that must never be printed for `token`.
fn secrets(token: &AuthToken) -> Vec<String> {
    vec![
        token.expose().to_owned(),
        signature(token).to_owned(),
        SECRET_KEY.to_owned(),
        SESSION_TOKEN.to_owned(),
        // The session token as it appears inside the token text, and recognisable parts.
        "SessionTokenNeverPrinted%2Fxyz%2Buvw%3D%3D".to_owned(),
        "SessionTokenNeverPrinted".to_owned(),
        "SecretKeyNeverPrinted".to_owned(),
    ]
}

fn assert_hidden(what: &str, shown: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "{what} prints a secret ({} chars): {shown}",
            secret.len()
        );
    }
}

fn rds_token() -> AuthToken {
    let params = RdsTokenParams::new("db.example.com", 5432, "app_user", "us-east-1");
    sign_rds_token(&params, &credentials(), at()).unwrap()
}

fn dsql_token() -> AuthToken {
    let params = DsqlTokenParams::new(
        "abc.dsql.us-east-1.on.aws",
        "us-east-1",
        DsqlAction::DbConnect,
    );
    sign_dsql_token(&params, &credentials(), at()).unwrap()
}

#[test]
fn auth_token_debug_is_pinned_and_redacted() {
    let token = rds_token();
    assert_eq!(
        format!("{token:?}"),
        "AuthToken { endpoint: \"db.example.com:5432\", signed_at: 2024-02-29T12:34:56Z, \
         expires_at: 2024-02-29T12:49:56Z, credentials_expiry: Some(2024-02-29T12:50:00Z), \
         token: *** }"
    );
    let dsql = dsql_token();
    assert_eq!(
        format!("{dsql:?}"),
        "AuthToken { endpoint: \"abc.dsql.us-east-1.on.aws\", signed_at: 2024-02-29T12:34:56Z, \
         expires_at: 2024-02-29T12:49:56Z, credentials_expiry: Some(2024-02-29T12:50:00Z), \
         token: *** }"
    );
}

#[test]
fn no_debug_or_display_output_holds_a_secret() {
    for token in [rds_token(), dsql_token()] {
        let secrets = secrets(&token);
        assert_hidden("AuthToken {:?}", &format!("{token:?}"), &secrets);
        assert_hidden("AuthToken {:#?}", &format!("{token:#?}"), &secrets);
        assert_hidden(
            "Option<AuthToken>",
            &format!("{:?}", Some(&token)),
            &secrets,
        );
        assert_hidden(
            "Vec<AuthToken>",
            &format!("{:?}", vec![token.clone()]),
            &secrets,
        );
        assert_hidden("redacted() {}", &token.redacted().to_string(), &secrets);
        assert_hidden(
            "redacted() {:?}",
            &format!("{:?}", token.redacted()),
            &secrets,
        );
        assert_hidden(
            "Result<AuthToken, _>",
            &format!("{:?}", Ok::<_, ()>(&token)),
            &secrets,
        );
        // The credentials type we take in is redacted too (aws-credential-types' own Debug).
        assert_hidden("Credentials", &format!("{:?}", credentials()), &secrets);
    }
}

#[test]
fn redacted_form_keeps_what_helps_debugging() {
    let token = rds_token();
    let shown = token.redacted().to_string();
    assert!(shown.starts_with("db.example.com:5432/?Action=connect&DBUser=app_user&"));
    assert!(shown.contains("&X-Amz-Credential=AKIDREDACTIONTEST%2F20240229%2Fus-east-1%2F"));
    assert!(shown.ends_with("&X-Amz-Security-Token=***&X-Amz-Signature=***"));
}

#[test]
fn errors_never_print_credentials() {
    let creds = credentials();
    let secrets = [SECRET_KEY, SESSION_TOKEN, "NeverPrinted"];
    let failures = [
        sign_rds_token(
            &RdsTokenParams::new("", 5432, "u", "us-east-1"),
            &creds,
            at(),
        ),
        sign_rds_token(
            &RdsTokenParams::new("h", 5432, "", "us-east-1"),
            &creds,
            at(),
        ),
        sign_rds_token(&RdsTokenParams::new("h", 5432, "u", "US"), &creds, at()),
        sign_rds_token(
            &RdsTokenParams::new("h", 5432, "u", "us-east-1"),
            &creds,
            UNIX_EPOCH - Duration::from_secs(1),
        ),
        sign_dsql_token(
            &DsqlTokenParams::new("h", "us-east-1", DsqlAction::DbConnect)
                .with_expires_in(Duration::from_secs(604_801)),
            &creds,
            at(),
        ),
    ];
    for failure in failures {
        let err = failure.unwrap_err();
        for shown in [format!("{err}"), format!("{err:?}")] {
            for secret in secrets {
                assert!(!shown.contains(secret), "error prints a secret: {shown}");
            }
        }
    }
}

//! The emulator's token verifier against botocore's tokens
//! (`tests/data/token_vectors/rds_tokens.json`): every one verifies at its signing
//! instant for its own endpoint, region, user and credentials, and not for a
//! neighbouring port.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::Clock;
use rds_iam_emulator::{DEFAULT_ALLOWED_SKEW, Rejection, Verifier};
use serde_json::Value;

/// A clock stopped at one instant (`ManualClock` counts nanoseconds in 64 bits, which
/// ends in 2554; one vector is signed in 9999).
#[derive(Debug)]
struct StoppedAt(SystemTime);

impl Clock for StoppedAt {
    fn now(&self) -> SystemTime {
        self.0
    }
}

#[test]
fn every_botocore_token_verifies() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/token_vectors/rds_tokens.json");
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() > 40);
    let mut failures = Vec::new();
    for case in cases {
        let text = |field: &str| case[field].as_str().unwrap().to_owned();
        let port = u16::try_from(case["port"].as_u64().unwrap()).unwrap();
        let credentials = Credentials::new(
            text("access_key_id"),
            text("secret_access_key"),
            case["session_token"].as_str().map(str::to_owned),
            None,
            "botocore vectors",
        );
        let at = UNIX_EPOCH + Duration::from_secs(case["at_unix"].as_u64().unwrap());
        let verifier = |port| {
            Verifier::new(
                text("host"),
                port,
                text("region"),
                credentials.clone(),
                Arc::new(StoppedAt(at)),
                DEFAULT_ALLOWED_SKEW,
            )
        };
        let token = text("token");
        let user = text("user");
        match verifier(port).verify(&token, &user) {
            Ok(verified) if verified.user == user => {}
            other => failures.push(format!("{}: {other:?}", text("name"))),
        }
        let other_port = port.checked_add(1).unwrap_or(port - 1);
        assert_eq!(
            verifier(other_port).verify(&token, &user),
            Err(Rejection::WrongHost),
            "{}",
            text("name")
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

//! The AWS Rust SDK's generator (`aws_sdk_rds::auth_token`) over rds-iam's botocore golden
//! vectors (`tests/data/token_vectors/rds_tokens.json`), its signing time pinned to each
//! case's. rds-iam matches every case byte for byte; where the SDK does not, the outcome is
//! listed in `SDK_KNOWN_DIFFERENCES`, and the test fails when that list goes stale (as
//! the `url` crate's WPT runner does with its known failures).

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::token::{RdsTokenParams, sign_rds_token};
use rds_iam_peers::{Target, ready, same_parameters, sdk_generator};
use serde_json::Value;

/// What the SDK's generator does with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Byte for byte botocore's token.
    Same,
    /// botocore's parameters and signature, `X-Amz-Security-Token` moved after the signature.
    SameReordered,
    /// A different token (another signature, or another encoding).
    Differs,
    /// `auth_token` returned an error.
    Error,
    /// `auth_token` panicked.
    Panics,
}

/// The cases where the SDK (aws-sdk-rds 1.159.0) does not give botocore's token byte for
/// byte. Everything not listed is `Same`, except cases with a session token, which are
/// `SameReordered` unless listed.
const SDK_KNOWN_DIFFERENCES: &[(&str, Outcome)] = &[
    // The SDK puts the user into a URL unencoded and parses it: characters a URI cannot
    // hold make `SignableRequest::new(..).expect("signable request")` panic.
    ("user_with_space", Outcome::Panics),
    ("region_us_gov_east_1", Outcome::Panics), // user "gov user"
    ("port_443_session_token", Outcome::Panics), // user "name with space"
    ("user_tab_and_newline", Outcome::Panics),
    ("user_percent_and_quotes", Outcome::Panics), // `"`
    // aws-sigv4 reads the query as a form: `+` is signed as a space while the token keeps
    // `+`; `%41` and `&`/`=`/`#` inside the user change what is signed.
    ("user_with_plus", Outcome::Differs),
    ("user_with_at", Outcome::Differs),
    ("user_slash_semi_amp_eq", Outcome::Differs),
    ("user_reserved_gen_delims", Outcome::Differs),
    // `url::Url` lower-cases the host and drops `:443` (https' default port) from the token.
    ("host_mixed_case", Outcome::Differs),
    ("port_443", Outcome::Differs),
];

#[test]
fn sdk_generator_against_botocore_vectors() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/token_vectors/rds_tokens.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = file["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);

    // The SDK's panics are expected here; keep their messages out of the test output.
    std::panic::set_hook(Box::new(|_| {}));

    let mut actual = BTreeMap::new();
    for case in cases {
        let s = |key: &str| case[key].as_str().unwrap().to_owned();
        let target = Target {
            host: s("host"),
            port: u16::try_from(case["port"].as_u64().unwrap()).unwrap(),
            user: s("user"),
            region: s("region"),
        };
        let session_token = case["session_token"].as_str().map(str::to_owned);
        let credentials = Credentials::new(
            s("access_key_id"),
            s("secret_access_key"),
            session_token.clone(),
            None,
            "vectors",
        );
        let at = UNIX_EPOCH
            + Duration::new(
                case["at_unix"].as_u64().unwrap(),
                u32::try_from(case["at_nanos"].as_u64().unwrap()).unwrap(),
            );
        let expected = s("token");

        // rds-iam: every case, byte for byte.
        let params = RdsTokenParams::new(&target.host, target.port, &target.user, &target.region);
        let ours = sign_rds_token(&params, &credentials, at).unwrap();
        assert_eq!(ours.expose(), expected, "rds-iam, case {}", s("name"));

        let (generator, sdk_config) = sdk_generator(&target, &credentials, at);
        let result = catch_unwind(AssertUnwindSafe(|| {
            ready(generator.auth_token(&sdk_config)).map(|t| t.as_str().to_owned())
        }));
        let outcome = match &result {
            Err(_) => Outcome::Panics,
            Ok(Err(_)) => Outcome::Error,
            Ok(Ok(token)) if *token == expected => Outcome::Same,
            Ok(Ok(token)) if same_parameters(token, &expected) => Outcome::SameReordered,
            Ok(Ok(_)) => Outcome::Differs,
        };
        if outcome == Outcome::Differs {
            // Made-up credentials: the tokens are safe to show (`--nocapture`).
            eprintln!(
                "{}:\n  botocore {expected}\n  SDK      {}",
                s("name"),
                result.unwrap().unwrap()
            );
        }
        let usual = if session_token.is_some() {
            Outcome::SameReordered
        } else {
            Outcome::Same
        };
        if outcome != usual {
            actual.insert(s("name"), outcome);
        }
    }
    let _ = std::panic::take_hook();

    let known: BTreeMap<String, Outcome> = SDK_KNOWN_DIFFERENCES
        .iter()
        .map(|(name, outcome)| ((*name).to_owned(), *outcome))
        .collect();
    assert_eq!(
        actual, known,
        "the SDK's outcomes changed: update SDK_KNOWN_DIFFERENCES"
    );
}

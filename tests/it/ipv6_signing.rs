//! An IPv6 signing host, one form end to end: the URL's `[::1]` (or `iamHost=::1`, or the
//! `token` command's `--host ::1`) is an address without brackets in the plan and the token
//! parameters, as the URL parser stores every host; the signer writes it in brackets in the
//! token, as in any URL; and the emulator's independent `Verifier` accepts the token. The
//! verifier compares its configured host with the token's text before `:port`, so it is given
//! `[::1]`.

use std::sync::Arc;

use rds_iam::clock::ManualClock;
use rds_iam::endpoint::EndpointKind;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::{ConnectPlan, PlanOverrides};
use rds_iam::token::{RdsTokenParams, sign_rds_token};
use rds_iam_emulator::{DEFAULT_ALLOWED_SKEW, Verifier};
use serde_json::Value;

use crate::support::example::ChildEnv;
use crate::support::iam::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, credentials, t0};

/// [`t0`] for the command's `--at`.
const T0: &str = "2025-01-01T00:00:00Z";

/// Tokens for `[host]:port` in [`REGION`] with the test credentials, judged at [`t0`]; the
/// verifier takes the address as written in a URL's `iamHost`, without brackets.
fn verifier(host: &str, port: u16) -> Verifier {
    Verifier::new(
        host,
        port,
        REGION,
        credentials(),
        Arc::new(ManualClock::new(t0())),
        DEFAULT_ALLOWED_SKEW,
    )
}

#[test]
fn an_ipv6_host_from_the_url_or_iam_host_signs_a_token_the_verifier_accepts() {
    for url in [
        "jdbc:aws-wrapper:postgresql://[::1]:5432/postgres?wrapperPlugins=iam&user=app\
         &iamRegion=us-east-1",
        "jdbc:aws-wrapper:postgresql://127.0.0.1:15432/postgres?wrapperPlugins=iam&user=app\
         &iamRegion=us-east-1&iamHost=::1&iamDefaultPort=5432",
        "jdbc:aws-wrapper:postgresql://127.0.0.1:15432/postgres?wrapperPlugins=iam&user=app\
         &iamRegion=us-east-1&iamHost=[::1]&iamDefaultPort=5432",
    ] {
        let plan =
            ConnectPlan::resolve(&JdbcUrl::parse(url).unwrap(), &PlanOverrides::new()).unwrap();
        let target = plan.first();
        assert_eq!(target.token.host, "::1", "{url}");
        assert_eq!(target.endpoint.kind, EndpointKind::Ip);
        let token = sign_rds_token(&target.token, &credentials(), t0()).unwrap();
        assert_eq!(token.endpoint(), "[::1]:5432");
        let verified = verifier("::1", 5432).verify(token.expose(), "app").unwrap();
        assert_eq!(verified.user, "app");
    }
}

#[test]
fn with_or_without_brackets_the_token_is_the_same() {
    // botocore's convention is the bracketed form (its golden vector `host_ipv6`); the
    // address as the URL parser stores it signs the same token.
    for (bare, port) in [
        ("::1", 5432),
        ("fd00:ec2::254", 3306),
        ("FD00:EC2::254", 5433),
    ] {
        let sign = |host: String| {
            sign_rds_token(
                &RdsTokenParams::new(host, port, "app", REGION),
                &credentials(),
                t0(),
            )
            .unwrap()
        };
        let token = sign(bare.to_owned());
        assert_eq!(token, sign(format!("[{bare}]")));
        assert!(token.expose().starts_with(&format!("[{bare}]:{port}/?")));
        // The emulator's verifier takes the address in either form, as the signer does.
        verifier(bare, port).verify(token.expose(), "app").unwrap();
        verifier(&format!("[{bare}]"), port)
            .verify(token.expose(), "app")
            .unwrap();
    }
}

#[tokio::test]
async fn the_token_command_signs_for_an_ipv6_host() {
    let env = ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None);
    let verifier = verifier("::1", 5432);
    let url = "jdbc:aws-wrapper:postgresql://[::1]:5432/postgres?wrapperPlugins=iam&user=app\
               &iamRegion=us-east-1";
    let mut tokens = Vec::new();
    for args in [
        &[url, "--at", T0][..],
        &[
            "--host", "::1", "--port", "5432", "--user", "app", "--region", REGION, "--at", T0,
        ],
        &[
            "jdbc:aws-wrapper:postgresql://localhost:15432/postgres?wrapperPlugins=iam&user=app\
             &iamRegion=us-east-1",
            "--host",
            "::1",
            "--port",
            "5432",
            "--at",
            T0,
        ],
    ] {
        let run = env
            .run_example_async("token", args, &[SECRET_ACCESS_KEY])
            .await;
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), ""), "{run:?}");
        let token = run.stdout.trim_end().to_owned();
        verifier.verify(&token, "app").unwrap();
        tokens.push(token);
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");

    // What --dry-run shows is what is signed.
    let run = env
        .run_example_async("token", &["--dry-run", "--json", url], &[])
        .await;
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(plan["signing_host"], "::1");
    assert_eq!(plan["hosts"][0]["host"], "::1");
    assert_eq!(plan["endpoint_kind"], "ip");
}

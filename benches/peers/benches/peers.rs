//! rds-iam's `sign_rds_token` against the AWS Rust SDK's `aws_sdk_rds::auth_token`
//! generator, same inputs, same run.
//!
//! ```sh
//! cargo bench --manifest-path benches/peers/Cargo.toml -- --warm-up-time 1 --measurement-time 5
//! ```
//!
//! Before measuring, both tokens are checked to be the same (the SDK's signing time is
//! pinned with a `StaticTimeSource`), so the two do the same work: byte for byte without a
//! session token; with one, the same parameters and signature, the SDK putting
//! `X-Amz-Security-Token` after the signature where botocore and rds-iam put it before.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use criterion::{Criterion, criterion_group, criterion_main};
use rds_iam::credentials::CredentialsConfig;
use rds_iam::provider::TokenProvider;
use rds_iam::token::{RdsTokenParams, sign_rds_token};
use rds_iam_peers::{Target, ready, same_parameters, sdk_generator, sdk_token};

/// A session token of the size STS hands out for an assumed role (about 1 KB of base64).
fn session_token() -> String {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut token = String::from("IQoJb3JpZ2luX2Vj");
    token.extend(alphabet.chars().cycle().take(1_000));
    token.push_str("==");
    token
}

fn bench_peers(c: &mut Criterion) {
    let at = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
    let target = Target {
        host: "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com".into(),
        port: 5432,
        user: "harness_iam_user".into(),
        region: "us-east-1".into(),
    };
    let params = RdsTokenParams::new(&target.host, target.port, &target.user, &target.region);
    let cases = [
        (
            "static_credentials",
            Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "bench",
            ),
        ),
        (
            "session_token",
            Credentials::new(
                "ASIAQEXAMPLE7TEMPKEY",
                "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
                Some(session_token()),
                None,
                "bench",
            ),
        ),
    ];

    for (name, credentials) in &cases {
        let (generator, sdk_config) = sdk_generator(&target, credentials, at);
        // Same work: the same token, byte for byte.
        let ours = sign_rds_token(&params, credentials, at).expect("rds-iam signs");
        let sdk = sdk_token(&generator, &sdk_config);
        if credentials.session_token().is_none() {
            assert_eq!(ours.expose(), sdk, "{name}: rds-iam and the SDK disagree");
        } else {
            assert!(
                same_parameters(ours.expose(), &sdk),
                "{name}: rds-iam and the SDK disagree:\n{}\n{sdk}",
                ours.expose()
            );
        }

        let mut group = c.benchmark_group(format!("rds_token/{name}"));
        group.bench_function("aws_sdk_rds", |b| {
            b.iter(|| {
                ready(black_box(&generator).auth_token(black_box(&sdk_config)))
                    .expect("the SDK generator signs")
            })
        });
        group.bench_function("rds_iam", |b| {
            b.iter(|| {
                sign_rds_token(black_box(&params), black_box(credentials), black_box(at))
                    .expect("rds-iam signs")
            })
        });
        group.finish();
    }

    // Issue 4's target: a token for a new connection in steady state. The SDK signs every
    // time; rds-iam's provider hands out its cached token (static credentials, real clock;
    // a run lasts far less than the 560 s after which a refresh ahead would start).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let (_, credentials) = &cases[0];
    let (generator, sdk_config) = sdk_generator(&target, credentials, at);
    let provider = TokenProvider::builder(
        runtime
            .block_on(CredentialsConfig::static_credentials(credentials.clone()).build())
            .expect("static credentials"),
    )
    .build();
    let first = runtime
        .block_on(provider.token(&params))
        .expect("the provider signs");
    let again = ready(provider.token(&params)).expect("a cache hit");
    assert!(again.from_cache(), "the second token comes from the cache");
    assert_eq!(first.expose(), again.expose());

    let mut group = c.benchmark_group("new_connection_token");
    group.bench_function("aws_sdk_rds", |b| {
        b.iter(|| {
            ready(black_box(&generator).auth_token(black_box(&sdk_config)))
                .expect("the SDK generator signs")
        })
    });
    group.bench_function("rds_iam_provider", |b| {
        b.iter(|| ready(black_box(&provider).token(black_box(&params))).expect("a cache hit"))
    });
    group.finish();
}

criterion_group!(benches, bench_peers);
criterion_main!(benches);

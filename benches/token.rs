//! Cost of minting one token: RDS without and with a session token, and DSQL.
//!
//! `cargo bench --bench token -- --warm-up-time 1 --measurement-time 3`
//!
//! `sigv4_signing_key` measures the part a per-(secret, date, region, service) signing-key
//! cache could save.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use criterion::{Criterion, criterion_group, criterion_main};
use rds_iam::token::{
    DsqlAction, DsqlTokenParams, RdsTokenParams, sign_dsql_token, sign_rds_token,
};

/// A session token of the size STS hands out for an assumed role (about 1 KB of base64).
fn session_token() -> String {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut token = String::from("IQoJb3JpZ2luX2Vj");
    token.extend(alphabet.chars().cycle().take(1_000));
    token.push_str("==");
    token
}

fn bench_tokens(c: &mut Criterion) {
    let at = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
    let static_credentials = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "bench",
    );
    let session_credentials = Credentials::new(
        "ASIAQEXAMPLE7TEMPKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        Some(session_token()),
        Some(at + Duration::from_secs(3600)),
        "bench",
    );
    let rds = RdsTokenParams::new(
        "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
        5432,
        "harness_iam_user",
        "us-east-1",
    );
    let dsql = DsqlTokenParams::new(
        "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws",
        "us-east-1",
        DsqlAction::DbConnectAdmin,
    );

    let mut group = c.benchmark_group("token");
    group.bench_function("rds_static_credentials", |b| {
        b.iter(|| {
            sign_rds_token(
                black_box(&rds),
                black_box(&static_credentials),
                black_box(at),
            )
        })
    });
    group.bench_function("rds_session_token_1kb", |b| {
        b.iter(|| {
            sign_rds_token(
                black_box(&rds),
                black_box(&session_credentials),
                black_box(at),
            )
        })
    });
    group.bench_function("dsql_static_credentials", |b| {
        b.iter(|| {
            sign_dsql_token(
                black_box(&dsql),
                black_box(&static_credentials),
                black_box(at),
            )
        })
    });
    group.bench_function("sigv4_signing_key", |b| {
        b.iter(|| {
            aws_sigv4::sign::v4::generate_signing_key(
                black_box("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                black_box(at),
                black_box("us-east-1"),
                black_box("rds-db"),
            )
            .as_ref()
            .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_tokens);
criterion_main!(benches);

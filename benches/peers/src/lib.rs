//! Side by side: rds-iam's token signer and the AWS Rust SDK's `aws_sdk_rds::auth_token`
//! generator, on the same inputs.
//!
//! This crate has a `[workspace]` of its own so that `aws-sdk-rds` stays out of rds-iam's
//! dependency graph. The speed comparison is `benches/peers.rs`; `tests/sdk_vectors.rs`
//! runs the SDK generator over rds-iam's botocore golden vectors and records where it
//! differs.
//!
//! ```sh
//! cargo bench --manifest-path benches/peers/Cargo.toml
//! cargo test --manifest-path benches/peers/Cargo.toml
//! ```

#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
use aws_smithy_async::time::StaticTimeSource;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// What both generators sign: `user` at `host:port` in `region`.
#[derive(Debug, Clone)]
pub struct Target {
    /// Signing host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Database user.
    pub user: String,
    /// Region.
    pub region: String,
}

/// The AWS SDK's generator for `target` with fixed `credentials`, and the `SdkConfig` whose
/// time source pins its signing instant to `at` (the SDK reads the time from there).
pub fn sdk_generator(
    target: &Target,
    credentials: &Credentials,
    at: SystemTime,
) -> (AuthTokenGenerator, SdkConfig) {
    let config = Config::builder()
        .hostname(target.host.clone())
        .port(u64::from(target.port))
        .username(target.user.clone())
        .region(Region::new(target.region.clone()))
        .credentials(credentials.clone())
        .build()
        .expect("hostname and username are set");
    let sdk_config = SdkConfig::builder()
        .time_source(StaticTimeSource::new(at))
        .build();
    (AuthTokenGenerator::new(config), sdk_config)
}

/// Run a future that completes without waiting (both generators' futures do with static
/// credentials), without an async runtime in the measurement.
///
/// # Panics
/// If the future is not ready on its first poll.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited; use an async runtime"),
    }
}

/// The SDK generator's token, as a string.
///
/// # Panics
/// When the SDK's generator panics or fails (see `tests/sdk_vectors.rs`).
pub fn sdk_token(generator: &AuthTokenGenerator, sdk_config: &SdkConfig) -> String {
    ready(generator.auth_token(sdk_config))
        .expect("the SDK generator signs")
        .as_str()
        .to_owned()
}

/// The query parameters of a token (`host:port/?k=v&...`), in order, still encoded.
pub fn query_pairs(token: &str) -> Vec<(&str, &str)> {
    let (_, query) = token.split_once("/?").expect("a token has `/?`");
    query
        .split('&')
        .map(|pair| pair.split_once('=').expect("every pair has `=`"))
        .collect()
}

/// Whether two tokens carry the same query parameters, in any order (the SDK puts
/// `X-Amz-Security-Token` after `X-Amz-Signature`, botocore and rds-iam before it) and
/// the same endpoint.
pub fn same_parameters(a: &str, b: &str) -> bool {
    let endpoint = |t: &str| t.split_once("/?").map(|(e, _)| e.to_owned());
    let mut pa = query_pairs(a);
    let mut pb = query_pairs(b);
    pa.sort_unstable();
    pb.sort_unstable();
    endpoint(a) == endpoint(b) && pa == pb
}

//! AWS credentials: where they come from, and an expiry-aware cache in front.
//!
//! [`CredentialsConfig`] says where credentials come from (explicit static
//! credentials, a credentials provider of your own; with the `aws-config`
//! feature, on by default, also the standard AWS chain, a named profile, and
//! optionally a role assumed through STS) and builds a [`CredentialsProvider`]:
//! a cheap-to-clone cache that reuses credentials until
//! [`DEFAULT_REFRESH_BEFORE`] (or the configured margin) before they expire,
//! lets concurrent callers share one fetch in flight, and keeps serving
//! still-valid credentials when a refresh fails. Credentials providers do not
//! cache by themselves (`aws-config`'s ECS container endpoint, for one, answers
//! one HTTP call per fetch).
//!
//! A fetch ends within [`DEFAULT_FETCH_TIMEOUT`] (configurable), and
//! credentials that arrive already expired are a failed fetch, not new
//! credentials.
//!
//! Failures are [`CredentialsError`]s that lead with the cause (`HTTP 500 from
//! the container credentials endpoint (...)`, no answer in time, invalid JSON,
//! a missing field, expired credentials) and list only the checks for it; when
//! no source had credentials, which sources were tried and what to check (in
//! ECS: whether `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is set; the Harness
//! runner's `HARNESS_ECS_BUILD_TASK_ROLE_ARN`; the role ARN; the profile name).

mod cache;
mod config;
mod diagnostics;
mod error;
mod fetch;
mod origin;

pub(crate) use cache::ErrorChain;
pub use cache::{
    CredentialsIdentity, CredentialsProvider, CredentialsStats, REFRESH_RETRY_INTERVAL,
};
pub use config::{CredentialsConfig, DEFAULT_REFRESH_BEFORE};
#[cfg(feature = "aws-config")]
pub use diagnostics::{
    ENV_CONTAINER_FULL_URI, ENV_CONTAINER_RELATIVE_URI, ENV_HARNESS_BUILD_TASK_ROLE_ARN,
    Environment,
};
pub use error::{AwsCredentialsError, CredentialsError};
pub use fetch::DEFAULT_FETCH_TIMEOUT;
pub use origin::{AccessKeyKind, CredentialsOrigin};

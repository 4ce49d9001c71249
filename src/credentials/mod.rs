//! AWS credentials: where they come from, and an expiry-aware cache in front.
//!
//! [`CredentialsConfig`] says where credentials come from (the standard AWS
//! chain, a named profile, explicit static credentials, optionally a role
//! assumed through STS) and builds a [`CredentialsProvider`]: a cheap-to-clone
//! cache that reuses credentials until [`DEFAULT_REFRESH_BEFORE`] (or the
//! configured margin) before they expire, lets concurrent callers share one
//! fetch in flight, and keeps serving still-valid credentials when a refresh
//! fails. `aws-config`'s providers do not cache by themselves: the ECS
//! container endpoint, for one, answers one HTTP call per fetch.
//!
//! Failures are [`CredentialsError`]s that say which sources were tried and
//! what to check (in ECS: whether `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is
//! set; the Harness runner's `HARNESS_ECS_BUILD_TASK_ROLE_ARN`; the role ARN;
//! the profile name).

mod cache;
mod config;
mod diagnostics;
mod error;

pub(crate) use cache::ErrorChain;
pub use cache::{
    CredentialsIdentity, CredentialsProvider, CredentialsStats, REFRESH_RETRY_INTERVAL,
};
pub use config::{CredentialsConfig, DEFAULT_REFRESH_BEFORE};
pub use diagnostics::{
    ENV_CONTAINER_FULL_URI, ENV_CONTAINER_RELATIVE_URI, ENV_HARNESS_BUILD_TASK_ROLE_ARN,
    Environment,
};
pub use error::{AwsCredentialsError, CredentialsError};

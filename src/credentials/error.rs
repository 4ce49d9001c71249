//! What can go wrong while loading AWS credentials.

use std::sync::Arc;

/// The error `aws-config` returns when a credentials provider fails.
pub type AwsCredentialsError = aws_credential_types::provider::error::CredentialsError;

/// Loading AWS credentials failed.
///
/// `Display` names what was tried and what to check; the underlying
/// `aws-config` error is the [`source`](std::error::Error::source) and is not
/// repeated in the message. No variant ever holds a secret key or a session
/// token. Cheap to clone (the cause is shared), so that concurrent callers
/// waiting on one fetch can all receive its error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No credentials could be loaded from the configured source.
    ///
    /// `tried` describes the sources (for the default chain: environment,
    /// profile, web identity, ECS container credentials, instance metadata);
    /// `check` lists what to look at, from the environment the provider was
    /// built with (whether the ECS container variables are set, never their
    /// values' secrets; the role ARN; the profile name).
    #[error("unable to load AWS credentials: tried {tried}; check {check}")]
    Unavailable {
        /// The sources that were tried, in order.
        tried: String,
        /// What to check to fix it.
        check: String,
        /// The error from `aws-config`.
        #[source]
        source: Arc<AwsCredentialsError>,
    },

    /// A region is needed (for example to call STS to assume a role) and none
    /// is configured. The crate never falls back to `us-east-1` silently.
    #[error(
        "no AWS region is set for {needed_for}: set AWS_REGION (or `region` in the AWS profile), or iamRegion in the JDBC URL / --region"
    )]
    MissingRegion {
        /// What the region was needed for.
        needed_for: &'static str,
    },
}

impl CredentialsError {
    /// The `aws-config` error underneath, if there is one.
    pub fn aws_error(&self) -> Option<&AwsCredentialsError> {
        match self {
            Self::Unavailable { source, .. } => Some(source),
            Self::MissingRegion { .. } => None,
        }
    }
}

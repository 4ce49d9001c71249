//! What can go wrong while loading AWS credentials.

use std::sync::Arc;

/// The error a credentials provider (`aws-config`'s, or one given to
/// [`CredentialsConfig::provider`](super::CredentialsConfig::provider)) returns when it fails.
pub type AwsCredentialsError = aws_credential_types::provider::error::CredentialsError;

/// Loading AWS credentials failed.
///
/// `Display` leads with the cause (an HTTP status, no answer in time, an answer that is not
/// credentials, expired credentials, or nothing found anywhere), then says what to check for
/// that cause only; the underlying `aws-config` error is the
/// [`source`](std::error::Error::source) and is not repeated in the message. No variant ever
/// holds a secret key or a session token. Cheap to clone (the cause is shared), so that
/// concurrent callers waiting on one fetch can all receive its error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No credentials could be loaded from the configured source.
    #[error("{problem}; check {check}")]
    Unavailable {
        /// The cause, first, and where it happened: e.g. `HTTP 500 from the container
        /// credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials
        /// were loaded`, or, when no source had any, `no AWS credentials found: tried ...`.
        problem: String,
        /// What to check, for this cause (for a source that was not found, from the
        /// environment the provider was built with: whether the ECS container variables are
        /// set, never their values' secrets; the role ARN; the profile name).
        check: String,
        /// The error from `aws-config`.
        #[source]
        source: Arc<AwsCredentialsError>,
    },

    /// A region is needed (for example to call STS to assume a role) and none
    /// is configured. The crate never falls back to `us-east-1` silently.
    #[error(
        "no AWS region is set for {needed_for}: set AWS_REGION (or `region` in the AWS profile), \
         or give it to CredentialsConfig::region; it is never guessed"
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Every message, pinned (the texts of `Unavailable`'s parts, per cause, are pinned in
    /// `diagnostics`); the cause is the source, not repeated in the message.
    #[test]
    fn messages() {
        let unavailable = CredentialsError::Unavailable {
            problem: "HTTP 500 from the container credentials endpoint \
                      (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded"
                .into(),
            check: "that the endpoint is healthy".into(),
            source: Arc::new(AwsCredentialsError::provider_error(
                "distinctive-cause-text StatusCode(500)",
            )),
        };
        assert_eq!(
            unavailable.to_string(),
            "HTTP 500 from the container credentials endpoint \
             (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check that \
             the endpoint is healthy"
        );
        let source = unavailable.source().unwrap();
        assert!(
            !unavailable.to_string().contains(&source.to_string()),
            "{unavailable}"
        );
        assert!(
            std::iter::successors(Some(source), |e| (*e).source())
                .any(|e| e.to_string().contains("distinctive-cause-text"))
        );

        let missing = CredentialsError::MissingRegion {
            needed_for: "assuming a role through STS",
        };
        assert_eq!(
            missing.to_string(),
            "no AWS region is set for assuming a role through STS: set AWS_REGION (or `region` \
             in the AWS profile), or give it to CredentialsConfig::region; it is never guessed"
        );
        assert!(missing.source().is_none());
    }
}

//! Where credentials came from, for a reader: which source of the chain answered, and what
//! kind of access key it gave (`rds-iam doctor`'s credentials stage).
//!
//! The source is read from what `aws-config`'s providers record on the credentials they
//! return (`aws_credential_types::credential_feature::AwsCredentialFeature`, also used for the
//! SDK's user agent), together with how the [`CredentialsProvider`](super::CredentialsProvider)
//! was configured and, for container credentials, which variable named the endpoint.

use std::fmt;

use aws_credential_types::Credentials;
use aws_credential_types::credential_feature::AwsCredentialFeature;

/// Which source answered with credentials. `Display` says it in words.
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::credentials::{CredentialsConfig, CredentialsOrigin};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let given = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "vault");
/// let provider = CredentialsConfig::static_credentials(given).build().await?;
/// let credentials = provider.credentials().await?;
/// assert_eq!(provider.origin(&credentials), CredentialsOrigin::Given);
/// assert_eq!(provider.origin(&credentials).to_string(), "the static credentials given");
/// # Ok::<(), rds_iam::credentials::CredentialsError>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsOrigin {
    /// Static credentials given to `CredentialsConfig::static_credentials`.
    Given,
    /// A provider given to `CredentialsConfig::provider` that records no source of its own.
    Provider,
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`).
    Environment,
    /// Keys in a profile of the shared config or credentials file.
    Profile,
    /// A role assumed with the web identity token in `AWS_WEB_IDENTITY_TOKEN_FILE` (EKS IRSA,
    /// CI systems).
    WebIdentity,
    /// A container credentials endpoint: in ECS, the task role (the Harness runner's
    /// `HARNESS_ECS_BUILD_TASK_ROLE_ARN` reaches build tasks this way).
    Container {
        /// The variable that named the endpoint, when known.
        variable: Option<&'static str>,
    },
    /// The EC2 instance metadata service: the instance profile's role.
    InstanceMetadata,
    /// An IAM Identity Center (SSO) session of a profile.
    Sso,
    /// A `credential_process` of a profile.
    Process,
    /// A role assumed through STS (`CredentialsConfig::assume_role`, or a profile's
    /// `role_arn`).
    AssumedRole {
        /// The role, when it was configured here.
        role_arn: Option<String>,
    },
    /// A source that recorded nothing this crate knows.
    Unknown,
}

impl CredentialsOrigin {
    /// What the recorded features of `credentials` say, if anything.
    pub(crate) fn from_features(credentials: &Credentials) -> Option<Self> {
        let features = credentials.get_property::<Vec<AwsCredentialFeature>>()?;
        let has = |wanted: &[AwsCredentialFeature]| features.iter().any(|f| wanted.contains(f));
        use AwsCredentialFeature as F;
        // The outermost step first: a role assumed on top of a profile is an assumed role.
        Some(
            if has(&[
                F::CredentialsStsAssumeRoleWebId,
                F::CredentialsProfileStsWebIdToken,
            ]) || has(&[F::CredentialsEnvVarsStsWebIdToken])
            {
                Self::WebIdentity
            } else if has(&[
                F::CredentialsStsAssumeRole,
                F::CredentialsProfileSourceProfile,
            ]) {
                Self::AssumedRole { role_arn: None }
            } else if has(&[F::CredentialsHttp]) {
                Self::Container { variable: None }
            } else if has(&[F::CredentialsImds]) {
                Self::InstanceMetadata
            } else if has(&[F::CredentialsSso, F::CredentialsProfileSso]) {
                Self::Sso
            } else if has(&[F::CredentialsProcess, F::CredentialsProfileProcess]) {
                Self::Process
            } else if has(&[F::CredentialsEnvVars]) {
                Self::Environment
            } else if has(&[F::CredentialsProfile]) {
                Self::Profile
            } else {
                return None;
            },
        )
    }
}

impl fmt::Display for CredentialsOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given => f.write_str("the static credentials given"),
            Self::Provider => f.write_str("the credentials provider given"),
            Self::Environment => {
                f.write_str("environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")
            }
            Self::Profile => f.write_str("a profile of the shared config / credentials files"),
            Self::WebIdentity => {
                f.write_str("a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)")
            }
            Self::Container { variable: Some(v) } => {
                write!(
                    f,
                    "the ECS container credentials endpoint ({v}): the task role"
                )
            }
            Self::Container { variable: None } => {
                f.write_str("a container credentials endpoint (the ECS task role)")
            }
            Self::InstanceMetadata => {
                f.write_str("the EC2 instance metadata service (the instance profile)")
            }
            Self::Sso => f.write_str("an IAM Identity Center (SSO) session"),
            Self::Process => f.write_str("a credential_process"),
            Self::AssumedRole {
                role_arn: Some(arn),
            } => write!(f, "role `{arn}` assumed through STS"),
            Self::AssumedRole { role_arn: None } => f.write_str("a role assumed through STS"),
            Self::Unknown => f.write_str("an unrecognised source"),
        }
    }
}

/// What kind of access key an access key id names, from its prefix.
///
/// ```
/// use rds_iam::credentials::AccessKeyKind;
///
/// assert_eq!(AccessKeyKind::of("AKIAIOSFODNN7EXAMPLE"), AccessKeyKind::LongTerm);
/// assert_eq!(AccessKeyKind::of("ASIAXXXXXXXXEXAMPLE"), AccessKeyKind::Temporary);
/// assert_eq!(AccessKeyKind::of("AKIDEXAMPLE"), AccessKeyKind::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccessKeyKind {
    /// `AKIA...`: an IAM user's long-term key.
    LongTerm,
    /// `ASIA...`: temporary credentials from STS (a role, a session), with a session token.
    Temporary,
    /// Any other prefix (test keys, other partitions' conventions).
    Other,
}

impl AccessKeyKind {
    /// The kind of `access_key_id`.
    pub fn of(access_key_id: &str) -> Self {
        if access_key_id.starts_with("AKIA") {
            Self::LongTerm
        } else if access_key_id.starts_with("ASIA") {
            Self::Temporary
        } else {
            Self::Other
        }
    }
}

impl fmt::Display for AccessKeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::LongTerm => "AKIA: an IAM user's long-term key",
            Self::Temporary => "ASIA: temporary credentials",
            Self::Other => "not an AKIA/ASIA key",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(features: &[AwsCredentialFeature]) -> Credentials {
        let mut credentials = Credentials::new("ASIAEXAMPLE", "s", None, None, "test");
        for f in features {
            credentials
                .get_property_mut_or_default::<Vec<AwsCredentialFeature>>()
                .push(f.clone());
        }
        credentials
    }

    #[test]
    fn the_outermost_source_is_named() {
        use AwsCredentialFeature as F;
        for (features, origin) in [
            (vec![F::CredentialsEnvVars], CredentialsOrigin::Environment),
            (
                vec![F::CredentialsHttp],
                CredentialsOrigin::Container { variable: None },
            ),
            (
                vec![F::CredentialsImds],
                CredentialsOrigin::InstanceMetadata,
            ),
            (
                vec![F::CredentialsProfile, F::CredentialsStsAssumeRole],
                CredentialsOrigin::AssumedRole { role_arn: None },
            ),
            (
                vec![F::CredentialsProfileStsWebIdToken],
                CredentialsOrigin::WebIdentity,
            ),
            (vec![F::CredentialsProfile], CredentialsOrigin::Profile),
        ] {
            assert_eq!(
                CredentialsOrigin::from_features(&with(&features)),
                Some(origin)
            );
        }
        assert_eq!(CredentialsOrigin::from_features(&with(&[])), None);
    }
}

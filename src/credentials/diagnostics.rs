//! Explaining a credentials failure: which sources were tried and what to check.
//!
//! The facts come from an [`Environment`] read once, when the provider is
//! built. Only whether a variable is set is reported for anything that could
//! carry a secret; names that are not secret (a role ARN, a profile name, a
//! file path) are quoted so the reader can compare them with what they meant.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::error::{AwsCredentialsError, CredentialsError};

/// ECS sets this in containers of a task that has a task role.
pub const ENV_CONTAINER_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
/// A full URL of a container credentials endpoint (EKS Pod Identity, local servers).
pub const ENV_CONTAINER_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// The Harness ECS runner's build-task role (see the runner's IAM authentication guide).
pub const ENV_HARNESS_BUILD_TASK_ROLE_ARN: &str = "HARNESS_ECS_BUILD_TASK_ROLE_ARN";

/// The environment variables consulted to explain a credentials failure.
///
/// By default the process environment ([`Environment::process`]). Tests that
/// give `aws-config` an explicit environment (its `ConfigLoader::env`) pass
/// the same variables here with [`Environment::from_vars`], so the error
/// describes the environment that was actually used, without mutating the
/// process environment.
///
/// `Debug` lists variable names only, never values.
///
/// ```
/// use rds_iam::credentials::Environment;
///
/// let env = Environment::from_vars([("AWS_SECRET_ACCESS_KEY", "wJalr-secret")]);
/// assert!(!format!("{env:?}").contains("wJalr"));
/// ```
#[derive(Clone, Default)]
pub struct Environment {
    /// `None`: the process environment.
    vars: Option<Arc<BTreeMap<String, String>>>,
}

impl Environment {
    /// The process environment, read when the provider is built.
    pub fn process() -> Self {
        Self::default()
    }

    /// A fixed set of variables (anything not listed is unset).
    pub fn from_vars<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: Some(Arc::new(
                vars.into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            )),
        }
    }

    /// The value of `name`, if set and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            None => std::env::var(name).ok(),
            Some(vars) => vars.get(name).cloned(),
        };
        value.filter(|v| !v.trim().is_empty())
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.vars {
            None => f.write_str("Environment::Process"),
            Some(vars) => f
                .debug_struct("Environment")
                .field("names", &vars.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// Where credentials come from, as far as explaining a failure goes.
#[derive(Debug, Clone)]
pub(crate) enum SourceDescription {
    /// The standard AWS chain.
    DefaultChain,
    /// A named profile.
    Profile(String),
    /// Credentials given explicitly.
    Static,
    /// A role assumed through STS from another source.
    AssumeRole {
        role_arn: String,
        region: String,
        base: Box<SourceDescription>,
    },
}

impl SourceDescription {
    /// A short stable label (part of a credentials identity).
    pub(crate) fn label(&self) -> String {
        match self {
            Self::DefaultChain => "default-chain".to_owned(),
            Self::Profile(name) => format!("profile:{name}"),
            Self::Static => "static".to_owned(),
            Self::AssumeRole { role_arn, base, .. } => {
                format!("assume-role:{role_arn}<-{}", base.label())
            }
        }
    }
}

/// The facts read from the environment, once.
#[derive(Debug, Clone)]
pub(crate) struct Diagnostics {
    source: SourceDescription,
    access_key_id_set: bool,
    aws_profile: Option<String>,
    config_file: Option<String>,
    credentials_file: Option<String>,
    web_identity_token_file_set: bool,
    relative_uri_set: bool,
    full_uri_set: bool,
    harness_role_arn: Option<String>,
    imds_disabled: bool,
}

impl Diagnostics {
    pub(crate) fn new(source: SourceDescription, env: &Environment) -> Self {
        Self {
            source,
            access_key_id_set: env.get("AWS_ACCESS_KEY_ID").is_some(),
            aws_profile: env.get("AWS_PROFILE"),
            config_file: env.get("AWS_CONFIG_FILE"),
            credentials_file: env.get("AWS_SHARED_CREDENTIALS_FILE"),
            web_identity_token_file_set: env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some(),
            relative_uri_set: env.get(ENV_CONTAINER_RELATIVE_URI).is_some(),
            full_uri_set: env.get(ENV_CONTAINER_FULL_URI).is_some(),
            harness_role_arn: env.get(ENV_HARNESS_BUILD_TASK_ROLE_ARN),
            imds_disabled: env
                .get("AWS_EC2_METADATA_DISABLED")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
        }
    }

    pub(crate) fn source(&self) -> &SourceDescription {
        &self.source
    }

    /// The error for a failed load from this source.
    pub(crate) fn unavailable(&self, cause: Arc<AwsCredentialsError>) -> CredentialsError {
        let mut check = Vec::new();
        self.checks(&self.source, &mut check);
        CredentialsError::Unavailable {
            tried: self.tried(&self.source),
            check: check.join("; "),
            source: cause,
        }
    }

    fn tried(&self, source: &SourceDescription) -> String {
        match source {
            SourceDescription::DefaultChain => "the default AWS credentials chain (environment \
                 variables, shared config and credentials files, web identity token, ECS \
                 container credentials, EC2 instance metadata)"
                .to_owned(),
            SourceDescription::Profile(name) => format!("the AWS profile `{name}`"),
            SourceDescription::Static => "the static credentials given".to_owned(),
            SourceDescription::AssumeRole {
                role_arn,
                region,
                base,
            } => format!(
                "assuming role `{role_arn}` through STS in `{region}` with source credentials from {}",
                self.tried(base)
            ),
        }
    }

    fn checks(&self, source: &SourceDescription, out: &mut Vec<String>) {
        match source {
            SourceDescription::DefaultChain => self.chain_checks(out),
            SourceDescription::Profile(name) => out.push(format!(
                "that profile `{name}` exists in {} or {} and has credentials, a role, or SSO settings",
                self.config_file_label(),
                self.credentials_file_label()
            )),
            SourceDescription::Static => {
                out.push("the static credentials passed to the builder".to_owned());
            }
            SourceDescription::AssumeRole { role_arn, base, .. } => {
                out.push(format!(
                    "that the role ARN `{role_arn}` is right, that its trust policy lets the \
                     source identity call sts:AssumeRole (and the external id, if it requires \
                     one), and that STS is reachable on port 443"
                ));
                self.checks(base, out);
            }
        }
    }

    fn chain_checks(&self, out: &mut Vec<String>) {
        out.push(format!(
            "environment: AWS_ACCESS_KEY_ID is {}",
            set_or_not(self.access_key_id_set)
        ));
        out.push(format!(
            "profile `{}` in {} / {}",
            self.aws_profile.as_deref().unwrap_or("default"),
            self.config_file_label(),
            self.credentials_file_label()
        ));
        if self.web_identity_token_file_set {
            out.push(
                "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set (AWS_ROLE_ARN must be set too)"
                    .to_owned(),
            );
        }
        let container = format!(
            "ECS container credentials: {ENV_CONTAINER_RELATIVE_URI} is {}, \
             {ENV_CONTAINER_FULL_URI} is {}",
            set_or_not(self.relative_uri_set),
            set_or_not(self.full_uri_set)
        );
        if self.relative_uri_set || self.full_uri_set {
            out.push(format!(
                "{container} (the container credentials endpoint was tried: is it reachable, \
                 and does the task definition have a task role?)"
            ));
        } else {
            out.push(format!(
                "{container} (ECS sets {ENV_CONTAINER_RELATIVE_URI} only in tasks whose task \
                 definition has a task role)"
            ));
        }
        match &self.harness_role_arn {
            Some(arn) => out.push(format!(
                "{ENV_HARNESS_BUILD_TASK_ROLE_ARN} is `{arn}`: the build task must run with that \
                 role, and the role needs rds-db:connect"
            )),
            None if !self.relative_uri_set => out.push(format!(
                "{ENV_HARNESS_BUILD_TASK_ROLE_ARN} is not set: on a Harness ECS runner it must \
                 hold the ARN of the build task role"
            )),
            None => {}
        }
        if self.imds_disabled {
            out.push(
                "EC2 instance metadata: disabled by AWS_EC2_METADATA_DISABLED=true".to_owned(),
            );
        } else {
            out.push(
                "EC2 instance metadata: on EC2, that the instance has an instance profile"
                    .to_owned(),
            );
        }
    }

    fn config_file_label(&self) -> String {
        match &self.config_file {
            Some(path) => format!("AWS_CONFIG_FILE=`{path}`"),
            None => "~/.aws/config".to_owned(),
        }
    }

    fn credentials_file_label(&self) -> String {
        match &self.credentials_file {
            Some(path) => format!("AWS_SHARED_CREDENTIALS_FILE=`{path}`"),
            None => "~/.aws/credentials".to_owned(),
        }
    }
}

fn set_or_not(set: bool) -> &'static str {
    if set { "set" } else { "not set" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn cause() -> Arc<AwsCredentialsError> {
        Arc::new(AwsCredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ))
    }

    #[test]
    fn ecs_without_task_role_names_the_variables_and_the_runner_role() {
        let env = Environment::from_vars([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "super-secret-auth"),
        ]);
        let diag = Diagnostics::new(SourceDescription::DefaultChain, &env);
        let err = diag.unavailable(cause());
        let msg = err.to_string();
        assert!(
            msg.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set"),
            "{msg}"
        );
        assert!(
            msg.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI is not set"),
            "{msg}"
        );
        assert!(
            msg.contains("HARNESS_ECS_BUILD_TASK_ROLE_ARN is not set"),
            "{msg}"
        );
        assert!(
            msg.contains("disabled by AWS_EC2_METADATA_DISABLED"),
            "{msg}"
        );
        assert!(!msg.contains("super-secret-auth"));
        // The cause is the source, not repeated in the message.
        assert!(!msg.contains("no providers in chain"), "{msg}");
        assert!(err.source().is_some());
    }

    #[test]
    fn harness_role_and_container_endpoint_are_reported() {
        let arn = "arn:aws:iam::123456789012:role/build-task";
        let env = Environment::from_vars([
            (ENV_CONTAINER_RELATIVE_URI, "/v2/credentials/abc"),
            (ENV_HARNESS_BUILD_TASK_ROLE_ARN, arn),
        ]);
        let msg = Diagnostics::new(SourceDescription::DefaultChain, &env)
            .unavailable(cause())
            .to_string();
        assert!(
            msg.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set"),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("HARNESS_ECS_BUILD_TASK_ROLE_ARN is `{arn}`")),
            "{msg}"
        );
        assert!(msg.contains("endpoint was tried"), "{msg}");
        // The relative URI itself is not echoed.
        assert!(!msg.contains("/v2/credentials/abc"), "{msg}");
    }

    #[test]
    fn assume_role_names_the_role_region_and_base_source() {
        let source = SourceDescription::AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/db".to_owned(),
            region: "eu-west-1".to_owned(),
            base: Box::new(SourceDescription::Profile("deploy".to_owned())),
        };
        let env = Environment::from_vars([("AWS_CONFIG_FILE", "/etc/aws/config")]);
        let msg = Diagnostics::new(source, &env)
            .unavailable(cause())
            .to_string();
        assert!(
            msg.contains(
                "assuming role `arn:aws:iam::123456789012:role/db` through STS in `eu-west-1` \
                 with source credentials from the AWS profile `deploy`"
            ),
            "{msg}"
        );
        assert!(msg.contains("that profile `deploy` exists in AWS_CONFIG_FILE=`/etc/aws/config`"));
    }

    #[test]
    fn environment_debug_lists_names_only() {
        let env = Environment::from_vars([("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE")]);
        assert_eq!(
            format!("{env:?}"),
            r#"Environment { names: ["AWS_SESSION_TOKEN"] }"#
        );
        assert_eq!(
            format!("{:?}", Environment::process()),
            "Environment::Process"
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_vars([(ENV_CONTAINER_FULL_URI, "  ")]);
        assert_eq!(env.get(ENV_CONTAINER_FULL_URI), None);
    }
}

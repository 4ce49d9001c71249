//! Explaining a credentials failure: which sources were tried and what to check.
//!
//! For the sources `aws-config` resolves (feature `aws-config`), the facts come from an
//! [`Environment`] read once, when the provider is built. Only whether a variable is set is
//! reported for anything that could carry a secret; names that are not secret (a role ARN, a
//! profile name, a file path) are quoted so the reader can compare them with what they meant.

#[cfg(feature = "aws-config")]
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::error::{AwsCredentialsError, CredentialsError};
use super::fetch::ExpiredOnArrival;
use super::origin::CredentialsOrigin;
use crate::token::Rfc3339;

/// ECS sets this in containers of a task that has a task role.
#[cfg(feature = "aws-config")]
pub const ENV_CONTAINER_RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
/// A full URL of a container credentials endpoint (EKS Pod Identity, local servers).
#[cfg(feature = "aws-config")]
pub const ENV_CONTAINER_FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
/// The Harness ECS runner's build-task role (see the runner's IAM authentication guide).
#[cfg(feature = "aws-config")]
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
#[cfg(feature = "aws-config")]
#[derive(Clone, Default)]
pub struct Environment {
    /// `None`: the process environment.
    vars: Option<Arc<BTreeMap<String, String>>>,
}

#[cfg(feature = "aws-config")]
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

#[cfg(feature = "aws-config")]
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
    /// Credentials given explicitly.
    Static,
    /// A credentials provider given (`CredentialsConfig::provider`).
    Provider,
    /// The standard AWS chain.
    #[cfg(feature = "aws-config")]
    DefaultChain,
    /// A named profile.
    #[cfg(feature = "aws-config")]
    Profile(String),
    /// A role assumed through STS from another source.
    #[cfg(feature = "aws-config")]
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
            Self::Static => "static".to_owned(),
            Self::Provider => "provider".to_owned(),
            #[cfg(feature = "aws-config")]
            Self::DefaultChain => "default-chain".to_owned(),
            #[cfg(feature = "aws-config")]
            Self::Profile(name) => format!("profile:{name}"),
            #[cfg(feature = "aws-config")]
            Self::AssumeRole { role_arn, base, .. } => {
                format!("assume-role:{role_arn}<-{}", base.label())
            }
        }
    }
}

/// What explains a failure to load credentials from a source.
#[derive(Debug, Clone)]
pub(crate) struct Diagnostics {
    source: SourceDescription,
    /// The facts read from the environment, once.
    #[cfg(feature = "aws-config")]
    env: EnvFacts,
}

/// What the environment says about the sources of the default chain.
#[cfg(feature = "aws-config")]
#[derive(Debug, Clone)]
struct EnvFacts {
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
    /// For a source given explicitly (no environment is consulted).
    #[cfg(not(feature = "aws-config"))]
    pub(crate) fn new(source: SourceDescription) -> Self {
        Self { source }
    }

    /// For `source`, with the facts of `env`.
    #[cfg(feature = "aws-config")]
    pub(crate) fn new(source: SourceDescription, env: &Environment) -> Self {
        Self {
            source,
            env: EnvFacts::read(env),
        }
    }
}

#[cfg(feature = "aws-config")]
impl EnvFacts {
    fn read(env: &Environment) -> Self {
        Self {
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
}

impl Diagnostics {
    pub(crate) fn source(&self) -> &SourceDescription {
        &self.source
    }

    /// Which source answered with `credentials`: the configured source, refined by what the
    /// chain's providers recorded on them (see [`CredentialsOrigin`]).
    pub(crate) fn origin(
        &self,
        credentials: &aws_credential_types::Credentials,
    ) -> CredentialsOrigin {
        match &self.source {
            SourceDescription::Static => return CredentialsOrigin::Given,
            #[cfg(feature = "aws-config")]
            SourceDescription::AssumeRole { role_arn, .. } => {
                return CredentialsOrigin::AssumedRole {
                    role_arn: Some(role_arn.clone()),
                };
            }
            _ => {}
        }
        match CredentialsOrigin::from_features(credentials) {
            #[cfg(feature = "aws-config")]
            Some(CredentialsOrigin::Container { .. }) => CredentialsOrigin::Container {
                variable: self.container_variable(),
            },
            Some(origin) => origin,
            None if matches!(self.source, SourceDescription::Provider) => {
                CredentialsOrigin::Provider
            }
            None => CredentialsOrigin::Unknown,
        }
    }

    /// The error for a failed load from this source: the cause first, then the checks that
    /// apply to it.
    pub(crate) fn unavailable(&self, cause: Arc<AwsCredentialsError>) -> CredentialsError {
        let fault = Fault::of(&cause);
        let mut check = Vec::new();
        let problem = if fault == Fault::NotFound {
            self.checks(&self.source, &mut check);
            format!(
                "no AWS credentials found: tried {}",
                self.tried(&self.source)
            )
        } else {
            let place = match self.failed_at(&self.source, &fault, &mut check) {
                Place::At(name) => format!("{} {name}", fault.preposition()),
                #[cfg(feature = "aws-config")]
                Place::While(doing) => format!("while {doing}"),
            };
            if let Fault::Expired(expired) = &fault {
                // Credentials came, already expired: wherever they came from, the clock (or a
                // stale source) is what to check.
                check = vec![expired_check(expired)];
            }
            format!("{fault} {place}, so no AWS credentials were loaded")
        };
        CredentialsError::Unavailable {
            problem,
            check: check.join("; "),
            source: cause,
        }
    }

    /// Where `fault` happened, and what to check for it.
    #[cfg_attr(not(feature = "aws-config"), allow(unused_variables))] // reason: read by the chain's sources only
    fn failed_at(&self, source: &SourceDescription, fault: &Fault, out: &mut Vec<String>) -> Place {
        match source {
            SourceDescription::Static | SourceDescription::Provider => {
                self.checks(source, out);
                Place::At(self.tried(source))
            }
            #[cfg(feature = "aws-config")]
            SourceDescription::DefaultChain => {
                if *fault == Fault::InvalidConfiguration {
                    // Any source of the chain may have refused its settings (a profile comes
                    // before the container and instance metadata): the cause says which.
                    out.push(format!(
                        "the setting the cause names (in the environment, in profile `{}` in \
                         {} / {}, or in the aws-config loader given to \
                         CredentialsConfig::aws_config_loader)",
                        self.profile_name(),
                        self.config_file_label(),
                        self.credentials_file_label()
                    ));
                    Place::At("the default AWS credentials chain".to_owned())
                } else if let Some(var) = self.container_variable() {
                    out.push(fault.endpoint_check(var));
                    Place::At(format!("the container credentials endpoint ({var})"))
                } else if self.env.web_identity_token_file_set {
                    out.push(
                        "that AWS_ROLE_ARN names a role whose trust policy accepts the web \
                         identity token in AWS_WEB_IDENTITY_TOKEN_FILE, and that STS is reachable"
                            .to_owned(),
                    );
                    Place::While(
                        "assuming a role with the web identity token (AWS_WEB_IDENTITY_TOKEN_FILE)"
                            .to_owned(),
                    )
                } else if !self.env.imds_disabled {
                    out.push(
                        "that this runs on EC2 with an instance profile, and that the instance \
                         metadata service is reachable"
                            .to_owned(),
                    );
                    Place::At("the EC2 instance metadata service".to_owned())
                } else {
                    self.checks(source, out);
                    Place::At("the default AWS credentials chain".to_owned())
                }
            }
            #[cfg(feature = "aws-config")]
            SourceDescription::Profile(_) => {
                self.checks(source, out);
                Place::At(self.tried(source))
            }
            #[cfg(feature = "aws-config")]
            SourceDescription::AssumeRole {
                role_arn,
                region,
                base,
            } => {
                let for_role = format!("the source credentials for assuming role `{role_arn}`");
                match self.failed_at(base, fault, out) {
                    Place::At(name) if fault.is_from_credentials_endpoint() => {
                        Place::At(format!("{name} ({for_role})"))
                    }
                    Place::While(doing) if fault.is_from_credentials_endpoint() => {
                        Place::While(format!("{doing} ({for_role})"))
                    }
                    _ => {
                        // The source credentials were there: STS is where it failed.
                        out.clear();
                        out.push(role_check(role_arn));
                        Place::While(format!(
                            "assuming role `{role_arn}` through STS in `{region}`"
                        ))
                    }
                }
            }
        }
    }

    /// The variable naming the container credentials endpoint aws-config uses, if set (the
    /// relative URI wins, as in aws-config).
    #[cfg(feature = "aws-config")]
    fn container_variable(&self) -> Option<&'static str> {
        if self.env.relative_uri_set {
            Some(ENV_CONTAINER_RELATIVE_URI)
        } else if self.env.full_uri_set {
            Some(ENV_CONTAINER_FULL_URI)
        } else {
            None
        }
    }

    fn tried(&self, source: &SourceDescription) -> String {
        match source {
            SourceDescription::Static => "the static credentials given".to_owned(),
            SourceDescription::Provider => "the credentials provider given".to_owned(),
            #[cfg(feature = "aws-config")]
            SourceDescription::DefaultChain => "the default AWS credentials chain (environment \
                 variables, shared config and credentials files, web identity token, ECS \
                 container credentials, EC2 instance metadata)"
                .to_owned(),
            #[cfg(feature = "aws-config")]
            SourceDescription::Profile(name) => format!("the AWS profile `{name}`"),
            #[cfg(feature = "aws-config")]
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
            SourceDescription::Static => {
                out.push(
                    "the static credentials given to CredentialsConfig::static_credentials"
                        .to_owned(),
                );
            }
            SourceDescription::Provider => out.push(
                "the credentials provider given to CredentialsConfig::provider".to_owned(),
            ),
            #[cfg(feature = "aws-config")]
            SourceDescription::DefaultChain => self.chain_checks(out),
            #[cfg(feature = "aws-config")]
            SourceDescription::Profile(name) => out.push(format!(
                "that profile `{name}` exists in {} or {} and has credentials, a role, or SSO settings",
                self.config_file_label(),
                self.credentials_file_label()
            )),
            #[cfg(feature = "aws-config")]
            SourceDescription::AssumeRole { role_arn, base, .. } => {
                out.push(role_check(role_arn));
                self.checks(base, out);
            }
        }
    }
}

/// The explanations for the sources `aws-config` resolves.
#[cfg(feature = "aws-config")]
impl Diagnostics {
    fn chain_checks(&self, out: &mut Vec<String>) {
        out.push(format!(
            "environment: AWS_ACCESS_KEY_ID is {}",
            set_or_not(self.env.access_key_id_set)
        ));
        out.push(format!(
            "profile `{}` in {} / {}",
            self.profile_name(),
            self.config_file_label(),
            self.credentials_file_label()
        ));
        if self.env.web_identity_token_file_set {
            out.push(
                "web identity: AWS_WEB_IDENTITY_TOKEN_FILE is set (AWS_ROLE_ARN must be set too)"
                    .to_owned(),
            );
        }
        let container = format!(
            "ECS container credentials: {ENV_CONTAINER_RELATIVE_URI} is {}, \
             {ENV_CONTAINER_FULL_URI} is {}",
            set_or_not(self.env.relative_uri_set),
            set_or_not(self.env.full_uri_set)
        );
        if self.env.relative_uri_set || self.env.full_uri_set {
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
        match &self.env.harness_role_arn {
            Some(arn) => out.push(format!(
                "{ENV_HARNESS_BUILD_TASK_ROLE_ARN} is `{arn}`: the build task must run with that \
                 role, and the role needs rds-db:connect"
            )),
            None if !self.env.relative_uri_set && !self.env.full_uri_set => out.push(format!(
                "{ENV_HARNESS_BUILD_TASK_ROLE_ARN} is not set: on a Harness ECS runner it must \
                 hold the ARN of the build task role"
            )),
            None => {}
        }
        if self.env.imds_disabled {
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

    /// The profile the default chain reads.
    fn profile_name(&self) -> &str {
        self.env.aws_profile.as_deref().unwrap_or("default")
    }

    fn config_file_label(&self) -> String {
        match &self.env.config_file {
            Some(path) => format!("AWS_CONFIG_FILE=`{path}`"),
            None => "~/.aws/config".to_owned(),
        }
    }

    fn credentials_file_label(&self) -> String {
        match &self.env.credentials_file {
            Some(path) => format!("AWS_SHARED_CREDENTIALS_FILE=`{path}`"),
            None => "~/.aws/credentials".to_owned(),
        }
    }
}

/// Where a fetch failed: at a place (`HTTP 500 from ...`) or while doing something
/// (`... while assuming role ...`).
enum Place {
    At(String),
    #[cfg(feature = "aws-config")]
    While(String),
}

/// What went wrong in a fetch, read from `aws-config`'s error.
///
/// Beyond its public variants (nothing found, timed out) aws-config's error types are
/// private, so the rest is read from the text of the causes; what is not recognised is
/// [`Fault::Other`], and the message then names only where it happened (the cause follows in
/// `source()`). The tests against a misbehaving endpoint keep these readings honest.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fault {
    /// No source in the chain had credentials.
    NotFound,
    /// A source refused its own settings (a profile without credentials source, an invalid
    /// container credentials URI, ...).
    InvalidConfiguration,
    /// No answer within the fetch deadline (`Some`), or an HTTP timeout.
    TimedOut(Option<Duration>),
    /// No connection could be made.
    Unreachable,
    /// An HTTP error status.
    Status(u16),
    /// An answer that is not JSON.
    InvalidJson,
    /// An answer without this field.
    MissingField(String),
    /// Credentials that had expired when they arrived.
    Expired(ExpiredOnArrival),
    /// Anything else.
    Other,
}

impl Fault {
    fn of(err: &AwsCredentialsError) -> Self {
        match err {
            AwsCredentialsError::CredentialsNotLoaded(_) => return Self::NotFound,
            AwsCredentialsError::ProviderTimedOut(timeout) => {
                return Self::TimedOut(Some(timeout.timeout_duration()));
            }
            AwsCredentialsError::InvalidConfiguration(_) => return Self::InvalidConfiguration,
            _ => {}
        }
        let mut text = String::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
        while let Some(cause) = next {
            if let Some(expired) = cause.downcast_ref::<ExpiredOnArrival>() {
                return Self::Expired(*expired);
            }
            text.push_str(&cause.to_string());
            text.push('\n');
            next = cause.source();
        }
        let between = |start: &str, end: &str| {
            let rest = &text[text.find(start)? + start.len()..];
            Some(rest[..rest.find(end)?].to_owned())
        };
        if let Some(status) = between("HTTP credential provider: StatusCode(", ")") {
            status.parse().map_or(Self::Other, Self::Status)
        } else if text.contains("invalid JSON in response") {
            Self::InvalidJson
        } else if let Some(field) = between("Expected field `", "` in response") {
            Self::MissingField(field)
        } else if text.contains("timeout") || text.contains("timed out") {
            Self::TimedOut(None)
        } else if text.contains("dispatch failure") {
            Self::Unreachable
        } else {
            Self::Other
        }
    }

    /// How the cause relates to the place it happened at.
    fn preposition(&self) -> &'static str {
        match self {
            Self::Unreachable => "to",
            Self::InvalidConfiguration => "in",
            _ => "from",
        }
    }

    /// Whether this is how a container credentials endpoint (an HTTP credentials provider)
    /// fails, as opposed to STS. (Expired credentials under a role are STS's: the expiry is
    /// checked on what the whole source hands out.)
    #[cfg(feature = "aws-config")]
    fn is_from_credentials_endpoint(&self) -> bool {
        matches!(
            self,
            Self::Status(_) | Self::InvalidJson | Self::MissingField(_)
        )
    }

    /// What to check when the container credentials endpoint named by `var` failed so.
    #[cfg(feature = "aws-config")]
    fn endpoint_check(&self, var: &str) -> String {
        match self {
            Self::Status(status) if *status >= 500 => {
                "that the endpoint is healthy: a 5xx status is its own failure (its logs say \
                 why); a later attempt may succeed"
                    .to_owned()
            }
            Self::Status(_) => format!(
                "that {var} names the right endpoint and path, that the authorization token it \
                 needs (AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE) is set, and, in ECS, that \
                 the task definition has a task role"
            ),
            Self::TimedOut(_) | Self::Unreachable => {
                "that the endpoint is up and reachable from here (network, firewall, proxy \
                 settings)"
                    .to_owned()
            }
            Self::InvalidJson | Self::MissingField(_) => format!(
                "that {var} points at a container credentials endpoint, which answers a JSON \
                 object with AccessKeyId, SecretAccessKey, Token and Expiration (not a proxy's \
                 or another service's page)"
            ),
            Self::Expired(expired) => expired_check(expired),
            Self::NotFound | Self::InvalidConfiguration | Self::Other => format!(
                "that the endpoint {var} names is reachable and healthy, and, in ECS, that the \
                 task definition has a task role"
            ),
        }
    }
}

/// The cause, in a few words, to lead the message.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("no AWS credentials found"),
            Self::InvalidConfiguration => f.write_str("an invalid setting"),
            Self::TimedOut(Some(after)) if after.subsec_nanos() == 0 => {
                write!(f, "no answer within {} s", after.as_secs())
            }
            Self::TimedOut(Some(after)) => write!(f, "no answer within {} ms", after.as_millis()),
            Self::TimedOut(None) => f.write_str("a timeout"),
            Self::Unreachable => f.write_str("no connection"),
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::InvalidJson => f.write_str("invalid JSON"),
            Self::MissingField(field) => write!(f, "no `{field}` in the answer"),
            Self::Expired(expired) => write!(
                f,
                "credentials that had expired at {}",
                Rfc3339(expired.expiry)
            ),
            Self::Other => f.write_str("an error"),
        }
    }
}

/// What to check for credentials that arrived already expired.
fn expired_check(expired: &ExpiredOnArrival) -> String {
    format!(
        "this machine's clock (it read {}), and that the source hands out current credentials",
        Rfc3339(expired.now)
    )
}

#[cfg(feature = "aws-config")]
fn role_check(role_arn: &str) -> String {
    format!(
        "that the role ARN `{role_arn}` is right, that its trust policy lets the source identity \
         call sts:AssumeRole (and the external id, if it requires one), and that STS is \
         reachable on port 443"
    )
}

#[cfg(feature = "aws-config")]
fn set_or_not(set: bool) -> &'static str {
    if set { "set" } else { "not set" }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "aws-config")]
    use std::error::Error as _;

    #[cfg(feature = "aws-config")]
    fn cause() -> Arc<AwsCredentialsError> {
        Arc::new(AwsCredentialsError::not_loaded(
            "no providers in chain provided credentials",
        ))
    }

    #[cfg(feature = "aws-config")]
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

    #[cfg(feature = "aws-config")]
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

    #[cfg(feature = "aws-config")]
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
    fn faults_are_read_from_aws_config_errors() {
        use std::time::{Duration, UNIX_EPOCH};
        let expired = ExpiredOnArrival {
            expiry: UNIX_EPOCH,
            now: UNIX_EPOCH + Duration::from_secs(1),
        };
        for (err, fault) in [
            (AwsCredentialsError::not_loaded("nothing"), Fault::NotFound),
            (
                AwsCredentialsError::provider_timed_out(Duration::from_secs(8)),
                Fault::TimedOut(Some(Duration::from_secs(8))),
            ),
            (
                AwsCredentialsError::provider_error(
                    "Non-success status from HTTP credential provider: StatusCode(503)",
                ),
                Fault::Status(503),
            ),
            (
                AwsCredentialsError::unhandled("invalid JSON in response: Error at offset 0"),
                Fault::InvalidJson,
            ),
            (
                AwsCredentialsError::unhandled(
                    "Expected field `Token` in response but it was missing",
                ),
                Fault::MissingField("Token".to_owned()),
            ),
            (
                AwsCredentialsError::unhandled(
                    "dispatch failure: timeout: HTTP read timeout occurred after 5s",
                ),
                Fault::TimedOut(None),
            ),
            (
                AwsCredentialsError::unhandled("dispatch failure: io error: Connection refused"),
                Fault::Unreachable,
            ),
            (
                AwsCredentialsError::provider_error(expired),
                Fault::Expired(expired),
            ),
            (
                AwsCredentialsError::invalid_configuration(
                    "ProfileFile provider could not be built: invalid credential source",
                ),
                Fault::InvalidConfiguration,
            ),
            (
                AwsCredentialsError::unhandled("something new"),
                Fault::Other,
            ),
        ] {
            assert_eq!(Fault::of(&err), fault, "{err}");
        }
        assert_eq!(
            Fault::TimedOut(Some(Duration::from_millis(2500))).to_string(),
            "no answer within 2500 ms"
        );
    }

    #[cfg(feature = "aws-config")]
    #[test]
    fn a_failure_names_its_place_and_only_its_checks() {
        use std::time::Duration;
        let env = Environment::from_vars([(ENV_HARNESS_BUILD_TASK_ROLE_ARN, "arn:x")]);
        let message = |source, err| {
            Diagnostics::new(source, &env)
                .unavailable(Arc::new(err))
                .to_string()
        };
        let timeout = || AwsCredentialsError::provider_timed_out(Duration::from_secs(8));

        // Instance metadata is the last source of the chain.
        let msg = message(SourceDescription::DefaultChain, timeout());
        assert!(
            msg.starts_with(
                "no answer within 8 s from the EC2 instance metadata service, so no AWS \
                 credentials were loaded; check that this runs on EC2 with an instance profile"
            ),
            "{msg}"
        );
        assert!(!msg.contains(ENV_HARNESS_BUILD_TASK_ROLE_ARN), "{msg}");

        // STS failing: the role is the only thing to check.
        let role = SourceDescription::AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/db".to_owned(),
            region: "eu-west-1".to_owned(),
            base: Box::new(SourceDescription::DefaultChain),
        };
        let msg = message(role.clone(), timeout());
        assert!(
            msg.starts_with(
                "no answer within 8 s while assuming role `arn:aws:iam::123456789012:role/db` \
                 through STS in `eu-west-1`, so no AWS credentials were loaded; check that the \
                 role ARN"
            ),
            "{msg}"
        );
        assert!(!msg.contains("instance"), "{msg}");

        // The container endpoint failing under a role: the endpoint, for the role.
        let env = Environment::from_vars([(ENV_CONTAINER_RELATIVE_URI, "/v2/credentials/x")]);
        let msg = Diagnostics::new(role, &env)
            .unavailable(Arc::new(AwsCredentialsError::provider_error(
                "Non-success status from HTTP credential provider: StatusCode(404)",
            )))
            .to_string();
        assert!(
            msg.starts_with(
                "HTTP 404 from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI) (the source credentials for assuming \
                 role `arn:aws:iam::123456789012:role/db`), so no AWS credentials were loaded; \
                 check that AWS_CONTAINER_CREDENTIALS_RELATIVE_URI names the right endpoint"
            ),
            "{msg}"
        );
        assert!(!msg.contains("/v2/credentials/x"), "{msg}");
    }

    #[cfg(feature = "aws-config")]
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

    #[cfg(feature = "aws-config")]
    #[test]
    fn empty_values_count_as_unset() {
        let env = Environment::from_vars([(ENV_CONTAINER_FULL_URI, "  ")]);
        assert_eq!(env.get(ENV_CONTAINER_FULL_URI), None);
    }

    /// Every kind of message for the sources `aws-config` resolves, pinned: one per cause, and
    /// one per place a cause is found at.
    #[cfg(feature = "aws-config")]
    #[test]
    fn messages() {
        use std::time::{Duration, UNIX_EPOCH};
        let off = Environment::from_vars([("AWS_EC2_METADATA_DISABLED", "true")]);
        let ecs = Environment::from_vars([
            (ENV_CONTAINER_FULL_URI, "http://127.0.0.1/creds"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]);
        let ecs_harness = Environment::from_vars([
            (ENV_CONTAINER_RELATIVE_URI, "/v2/credentials/x"),
            (
                ENV_HARNESS_BUILD_TASK_ROLE_ARN,
                "arn:aws:iam::123456789012:role/build",
            ),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
        ]);
        let web = Environment::from_vars([("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")]);
        let imds = Environment::from_vars([("AWS_PROFILE", "dev")]);
        let profile = || SourceDescription::Profile("deploy".to_owned());
        let role = |base| SourceDescription::AssumeRole {
            role_arn: "arn:aws:iam::123456789012:role/db".to_owned(),
            region: "eu-west-1".to_owned(),
            base: Box::new(base),
        };
        let unhandled = AwsCredentialsError::unhandled;
        let status = |code: u16| {
            AwsCredentialsError::provider_error(format!(
                "Non-success status from HTTP credential provider: StatusCode({code})"
            ))
        };
        let expired = ExpiredOnArrival {
            expiry: UNIX_EPOCH + Duration::from_secs(1_709_164_800),
            now: UNIX_EPOCH + Duration::from_secs(1_709_168_400),
        };
        for (source, env, cause, text) in [
            (
                SourceDescription::DefaultChain,
                &off,
                AwsCredentialsError::not_loaded("x"),
                "no AWS credentials found: tried the default AWS credentials chain (environment \
                 variables, shared config and credentials files, web identity token, ECS container \
                 credentials, EC2 instance metadata); check environment: AWS_ACCESS_KEY_ID is not \
                 set; profile `default` in ~/.aws/config / ~/.aws/credentials; ECS container \
                 credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set, \
                 AWS_CONTAINER_CREDENTIALS_FULL_URI is not set (ECS sets \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI only in tasks whose task definition has a \
                 task role); HARNESS_ECS_BUILD_TASK_ROLE_ARN is not set: on a Harness ECS runner it \
                 must hold the ARN of the build task role; EC2 instance metadata: disabled by \
                 AWS_EC2_METADATA_DISABLED=true",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs_harness,
                AwsCredentialsError::not_loaded("x"),
                "no AWS credentials found: tried the default AWS credentials chain (environment \
                 variables, shared config and credentials files, web identity token, ECS container \
                 credentials, EC2 instance metadata); check environment: AWS_ACCESS_KEY_ID is set; \
                 profile `default` in ~/.aws/config / ~/.aws/credentials; web identity: \
                 AWS_WEB_IDENTITY_TOKEN_FILE is set (AWS_ROLE_ARN must be set too); ECS container \
                 credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is set, \
                 AWS_CONTAINER_CREDENTIALS_FULL_URI is not set (the container credentials endpoint \
                 was tried: is it reachable, and does the task definition have a task role?); \
                 HARNESS_ECS_BUILD_TASK_ROLE_ARN is `arn:aws:iam::123456789012:role/build`: the \
                 build task must run with that role, and the role needs rds-db:connect; EC2 \
                 instance metadata: on EC2, that the instance has an instance profile",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                AwsCredentialsError::provider_timed_out(Duration::from_secs(8)),
                "no answer within 8 s from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that the endpoint is up and reachable from here (network, firewall, proxy \
                 settings)",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                unhandled("dispatch failure: timeout: HTTP read timeout occurred after 5s"),
                "a timeout from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that the endpoint is up and reachable from here (network, firewall, proxy \
                 settings)",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                unhandled("dispatch failure: io error: Connection refused"),
                "no connection to the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that the endpoint is up and reachable from here (network, firewall, proxy \
                 settings)",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                status(500),
                "HTTP 500 from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that the endpoint is healthy: a 5xx status is its own failure (its logs say why); \
                 a later attempt may succeed",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                status(403),
                "HTTP 403 from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that AWS_CONTAINER_CREDENTIALS_FULL_URI names the right endpoint and path, that \
                 the authorization token it needs (AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE) is \
                 set, and, in ECS, that the task definition has a task role",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                unhandled("invalid JSON in response: Error at offset 0"),
                "invalid JSON from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that AWS_CONTAINER_CREDENTIALS_FULL_URI points at a container credentials \
                 endpoint, which answers a JSON object with AccessKeyId, SecretAccessKey, Token and \
                 Expiration (not a proxy's or another service's page)",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                unhandled("Expected field `Token` in response but it was missing"),
                "no `Token` in the answer from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that AWS_CONTAINER_CREDENTIALS_FULL_URI points at a container credentials \
                 endpoint, which answers a JSON object with AccessKeyId, SecretAccessKey, Token and \
                 Expiration (not a proxy's or another service's page)",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                AwsCredentialsError::provider_error(expired),
                "credentials that had expired at 2024-02-29T00:00:00Z from the container \
                 credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials \
                 were loaded; check this machine's clock (it read 2024-02-29T01:00:00Z), and that \
                 the source hands out current credentials",
            ),
            (
                SourceDescription::DefaultChain,
                &ecs,
                unhandled("something new"),
                "an error from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI), so no AWS credentials were loaded; check \
                 that the endpoint AWS_CONTAINER_CREDENTIALS_FULL_URI names is reachable and \
                 healthy, and, in ECS, that the task definition has a task role",
            ),
            (
                SourceDescription::DefaultChain,
                &web,
                unhandled("something new"),
                "an error while assuming a role with the web identity token \
                 (AWS_WEB_IDENTITY_TOKEN_FILE), so no AWS credentials were loaded; check that \
                 AWS_ROLE_ARN names a role whose trust policy accepts the web identity token in \
                 AWS_WEB_IDENTITY_TOKEN_FILE, and that STS is reachable",
            ),
            (
                SourceDescription::DefaultChain,
                &imds,
                AwsCredentialsError::provider_timed_out(Duration::from_secs(8)),
                "no answer within 8 s from the EC2 instance metadata service, so no AWS credentials \
                 were loaded; check that this runs on EC2 with an instance profile, and that the \
                 instance metadata service is reachable",
            ),
            (
                SourceDescription::DefaultChain,
                &off,
                unhandled("something new"),
                "an error from the default AWS credentials chain, so no AWS credentials were \
                 loaded; check environment: AWS_ACCESS_KEY_ID is not set; profile `default` in \
                 ~/.aws/config / ~/.aws/credentials; ECS container credentials: \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not set, \
                 AWS_CONTAINER_CREDENTIALS_FULL_URI is not set (ECS sets \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI only in tasks whose task definition has a \
                 task role); HARNESS_ECS_BUILD_TASK_ROLE_ARN is not set: on a Harness ECS runner it \
                 must hold the ARN of the build task role; EC2 instance metadata: disabled by \
                 AWS_EC2_METADATA_DISABLED=true",
            ),
            (
                SourceDescription::DefaultChain,
                &imds,
                AwsCredentialsError::invalid_configuration("bad profile"),
                "an invalid setting in the default AWS credentials chain, so no AWS credentials \
                 were loaded; check the setting the cause names (in the environment, in profile \
                 `dev` in ~/.aws/config / ~/.aws/credentials, or in the aws-config loader given to \
                 CredentialsConfig::aws_config_loader)",
            ),
            (
                profile(),
                &off,
                AwsCredentialsError::not_loaded("x"),
                "no AWS credentials found: tried the AWS profile `deploy`; check that profile \
                 `deploy` exists in ~/.aws/config or ~/.aws/credentials and has credentials, a \
                 role, or SSO settings",
            ),
            (
                profile(),
                &off,
                AwsCredentialsError::invalid_configuration("bad profile"),
                "an invalid setting in the AWS profile `deploy`, so no AWS credentials were loaded; \
                 check that profile `deploy` exists in ~/.aws/config or ~/.aws/credentials and has \
                 credentials, a role, or SSO settings",
            ),
            (
                role(SourceDescription::Static),
                &off,
                AwsCredentialsError::not_loaded("x"),
                "no AWS credentials found: tried assuming role `arn:aws:iam::123456789012:role/db` \
                 through STS in `eu-west-1` with source credentials from the static credentials \
                 given; check that the role ARN `arn:aws:iam::123456789012:role/db` is right, that \
                 its trust policy lets the source identity call sts:AssumeRole (and the external \
                 id, if it requires one), and that STS is reachable on port 443; the static \
                 credentials given to CredentialsConfig::static_credentials",
            ),
            (
                role(SourceDescription::DefaultChain),
                &off,
                AwsCredentialsError::provider_timed_out(Duration::from_secs(8)),
                "no answer within 8 s while assuming role `arn:aws:iam::123456789012:role/db` \
                 through STS in `eu-west-1`, so no AWS credentials were loaded; check that the role \
                 ARN `arn:aws:iam::123456789012:role/db` is right, that its trust policy lets the \
                 source identity call sts:AssumeRole (and the external id, if it requires one), and \
                 that STS is reachable on port 443",
            ),
            (
                role(SourceDescription::DefaultChain),
                &ecs,
                status(404),
                "HTTP 404 from the container credentials endpoint \
                 (AWS_CONTAINER_CREDENTIALS_FULL_URI) (the source credentials for assuming role \
                 `arn:aws:iam::123456789012:role/db`), so no AWS credentials were loaded; check \
                 that AWS_CONTAINER_CREDENTIALS_FULL_URI names the right endpoint and path, that \
                 the authorization token it needs (AWS_CONTAINER_AUTHORIZATION_TOKEN or _FILE) is \
                 set, and, in ECS, that the task definition has a task role",
            ),
            (
                role(SourceDescription::DefaultChain),
                &web,
                AwsCredentialsError::provider_error(expired),
                "credentials that had expired at 2024-02-29T00:00:00Z while assuming role \
                 `arn:aws:iam::123456789012:role/db` through STS in `eu-west-1`, so no AWS \
                 credentials were loaded; check this machine's clock (it read \
                 2024-02-29T01:00:00Z), and that the source hands out current credentials",
            ),
        ] {
            let err = Diagnostics::new(source, env).unavailable(Arc::new(cause));
            assert_eq!(err.to_string(), text);
        }
    }

    /// Every kind of message for the sources given explicitly, pinned (no environment is
    /// consulted for them).
    #[test]
    fn messages_for_given_sources() {
        use std::time::{Duration, UNIX_EPOCH};
        let given = |source| {
            #[cfg(feature = "aws-config")]
            let diagnostics = Diagnostics::new(source, &Environment::process());
            #[cfg(not(feature = "aws-config"))]
            let diagnostics = Diagnostics::new(source);
            diagnostics
        };
        let expired = ExpiredOnArrival {
            expiry: UNIX_EPOCH + Duration::from_secs(1_709_164_800),
            now: UNIX_EPOCH + Duration::from_secs(1_709_168_400),
        };
        for (source, cause, text) in [
            (
                SourceDescription::Static,
                AwsCredentialsError::unhandled("something new"),
                "an error from the static credentials given, so no AWS credentials were loaded; \
                 check the static credentials given to CredentialsConfig::static_credentials",
            ),
            (
                SourceDescription::Provider,
                AwsCredentialsError::not_loaded("vault sealed"),
                "no AWS credentials found: tried the credentials provider given; check the \
                 credentials provider given to CredentialsConfig::provider",
            ),
            (
                SourceDescription::Provider,
                AwsCredentialsError::provider_timed_out(Duration::from_secs(8)),
                "no answer within 8 s from the credentials provider given, so no AWS credentials \
                 were loaded; check the credentials provider given to CredentialsConfig::provider",
            ),
            (
                SourceDescription::Provider,
                AwsCredentialsError::provider_error(expired),
                "credentials that had expired at 2024-02-29T00:00:00Z from the credentials \
                 provider given, so no AWS credentials were loaded; check this machine's clock \
                 (it read 2024-02-29T01:00:00Z), and that the source hands out current \
                 credentials",
            ),
        ] {
            let err = given(source).unavailable(Arc::new(cause));
            assert_eq!(err.to_string(), text);
        }
    }
}

//! [`CredentialsConfig`]: where credentials come from, and how they are cached.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

use super::cache::{CredentialsProvider, Source};
use super::diagnostics::{Diagnostics, Environment, SourceDescription};
use super::error::{AwsCredentialsError, CredentialsError};
use super::fetch::{DEFAULT_FETCH_TIMEOUT, GuardedFetch};
use crate::clock::{Clock, SystemClock};

/// How long before their expiry cached credentials are refreshed by default:
/// 5 minutes. Temporary credentials from ECS, IMDS and STS last an hour or
/// more, and a token signed with them must stay usable for its own 15 minutes
/// only as long as the credentials do, so refreshing 5 minutes ahead leaves
/// margin for clock skew and a slow endpoint without refetching often.
pub const DEFAULT_REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// Where AWS credentials come from, and how they are cached: a builder for a
/// [`CredentialsProvider`].
///
/// - [`default_chain`](Self::default_chain) (also `Default`): the standard AWS
///   chain through `aws-config`: environment variables, the shared config and
///   credentials files, web identity token, ECS container credentials (in an ECS
///   task: the task role, which is how a Harness ECS runner hands its build
///   tasks the role named by `HARNESS_ECS_BUILD_TASK_ROLE_ARN`), EC2 instance
///   metadata.
/// - [`profile`](Self::profile): a named profile from the shared files.
/// - [`static_credentials`](Self::static_credentials): given explicitly.
/// - [`assume_role`](Self::assume_role): on top of any of these, assume a role
///   through STS; the STS region is [`region`](Self::region) or the one
///   `aws-config` resolves (`AWS_REGION`, the profile), and an error if neither
///   is set (never a silent `us-east-1`).
///
/// `Debug` never shows a secret key, a session token or the external id.
///
/// # Examples
///
/// Static credentials (never fetched):
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::clock::ManualClock;
/// use rds_iam::credentials::CredentialsConfig;
/// use std::time::{Duration, UNIX_EPOCH};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG", None, None, "example");
/// let provider = CredentialsConfig::static_credentials(creds)
///     .clock(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
///     .build()
///     .await?;
/// let got = provider.credentials().await?;
/// assert_eq!(got.access_key_id(), "AKIDEXAMPLE");
/// assert_eq!(provider.stats().fetches, 0);
/// assert!(!format!("{provider:?}").contains("wJalr"));
/// # Ok::<(), rds_iam::credentials::CredentialsError>(())
/// # }).unwrap();
/// ```
///
/// The default chain, optionally assuming a role:
///
/// ```no_run
/// use rds_iam::credentials::CredentialsConfig;
/// use std::time::Duration;
///
/// # async fn example() -> Result<(), rds_iam::credentials::CredentialsError> {
/// let provider = CredentialsConfig::default_chain()
///     .assume_role("arn:aws:iam::123456789012:role/db-connect")
///     .role_session_name("rds-iam")
///     .region("eu-west-1")
///     .refresh_before(Duration::from_secs(600))
///     .build()
///     .await?;
/// let credentials = provider.credentials().await?; // fetched once, then cached
/// # let _ = credentials;
/// # Ok(())
/// # }
/// ```
pub struct CredentialsConfig {
    base: Base,
    assume_role: Option<AssumeRole>,
    region: Option<String>,
    clock: Arc<dyn Clock>,
    refresh_before: Duration,
    fetch_timeout: Duration,
    loader: Option<ConfigLoader>,
    environment: Environment,
}

enum Base {
    DefaultChain,
    Profile(String),
    Static(Credentials),
}

struct AssumeRole {
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
}

impl Default for CredentialsConfig {
    fn default() -> Self {
        Self::default_chain()
    }
}

impl CredentialsConfig {
    fn with_base(base: Base) -> Self {
        Self {
            base,
            assume_role: None,
            region: None,
            clock: Arc::new(SystemClock),
            refresh_before: DEFAULT_REFRESH_BEFORE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            loader: None,
            environment: Environment::process(),
        }
    }

    /// The standard AWS credentials chain (`aws-config`).
    pub fn default_chain() -> Self {
        Self::with_base(Base::DefaultChain)
    }

    /// The named profile from the shared config and credentials files
    /// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, by default
    /// `~/.aws/config` and `~/.aws/credentials`), and nothing else: unlike the
    /// default chain, environment credentials do not take precedence. The
    /// profile files are found through the process environment (the loader's
    /// region still applies).
    pub fn profile(name: impl Into<String>) -> Self {
        Self::with_base(Base::Profile(name.into()))
    }

    /// These credentials, as given, for tests and special cases. They are
    /// never fetched or refreshed, and served even past an expiry they carry
    /// (the signer then refuses them: [`TokenError::CredentialsExpired`](crate::token::TokenError::CredentialsExpired)).
    pub fn static_credentials(credentials: Credentials) -> Self {
        Self::with_base(Base::Static(credentials))
    }

    /// Assume this role through STS, with the credentials from the source
    /// chosen above as the source identity.
    pub fn assume_role(mut self, role_arn: impl Into<String>) -> Self {
        self.assume_role = Some(AssumeRole {
            role_arn: role_arn.into(),
            session_name: None,
            external_id: None,
        });
        self
    }

    /// The role session name for [`assume_role`](Self::assume_role)
    /// (default: one generated by `aws-config`). Ignored without a role.
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        if let Some(role) = &mut self.assume_role {
            role.session_name = Some(name.into());
        }
        self
    }

    /// The external id the role's trust policy requires, for
    /// [`assume_role`](Self::assume_role). Ignored without a role.
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        if let Some(role) = &mut self.assume_role {
            role.external_id = Some(external_id.into());
        }
        self
    }

    /// The AWS region for STS (and for the `aws-config` loader). Without it,
    /// the region `aws-config` resolves is used, and assuming a role with no
    /// region anywhere is [`CredentialsError::MissingRegion`].
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The clock that decides whether cached credentials are fresh (default:
    /// [`SystemClock`]).
    pub fn clock(self, clock: impl Clock) -> Self {
        self.shared_clock(Arc::new(clock))
    }

    /// Like [`clock`](Self::clock), with a clock shared with other parts.
    pub fn shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Refresh cached credentials this long before they expire (default
    /// [`DEFAULT_REFRESH_BEFORE`]).
    pub fn refresh_before(mut self, refresh_before: Duration) -> Self {
        self.refresh_before = refresh_before;
        self
    }

    /// How long one fetch of credentials may take (default [`DEFAULT_FETCH_TIMEOUT`], 8 s)
    /// before it fails as timed out: an endpoint that never answers costs a caller this long,
    /// not aws-config's three attempts of 5 s each. Needs the loader's sleep implementation
    /// (aws-config's default is Tokio's).
    pub fn fetch_timeout(mut self, fetch_timeout: Duration) -> Self {
        self.fetch_timeout = fetch_timeout;
        self
    }

    /// The `aws-config` loader to start from (default:
    /// `aws_config::defaults(BehaviorVersion::latest())`): its HTTP client,
    /// timeouts, region, endpoint URL and profile files are used for the
    /// default chain and for STS. [`profile`](Self::profile) and
    /// [`region`](Self::region) are applied on top of it.
    pub fn aws_config_loader(mut self, loader: ConfigLoader) -> Self {
        self.loader = Some(loader);
        self
    }

    /// The environment used to explain failures (default: the process
    /// environment). Pass the same variables as to the loader when the loader
    /// was given an explicit environment.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// Build the provider. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`CredentialsError::MissingRegion`] when a role is to be assumed and no
    /// region is set; [`CredentialsError::Unavailable`] when the `aws-config`
    /// loader was configured without a credentials provider.
    pub async fn build(self) -> Result<CredentialsProvider, CredentialsError> {
        let Self {
            base,
            assume_role,
            region,
            clock,
            refresh_before,
            fetch_timeout,
            loader,
            environment,
        } = self;

        let needs_sdk_config = assume_role.is_some() || !matches!(base, Base::Static(_));
        let sdk_config = if needs_sdk_config {
            let mut loader =
                loader.unwrap_or_else(|| aws_config::defaults(BehaviorVersion::latest()));
            if let Some(region) = &region {
                loader = loader.region(Region::new(region.clone()));
            }
            if let Base::Profile(name) = &base {
                loader = loader.profile_name(name);
            }
            Some(loader.load().await)
        } else {
            None
        };
        let sleep = sdk_config.as_ref().and_then(|c| c.sleep_impl());

        let (mut source, mut description) = match base {
            Base::Static(credentials) => (Source::Static(credentials), SourceDescription::Static),
            Base::DefaultChain => {
                let provider = sdk_config
                    .as_ref()
                    .and_then(|c| c.credentials_provider())
                    .ok_or_else(|| {
                        Diagnostics::new(SourceDescription::DefaultChain, &environment).unavailable(
                            Arc::new(AwsCredentialsError::invalid_configuration(
                                "the aws-config loader was configured without a credentials provider",
                            )),
                        )
                    })?;
                (Source::Fetch(provider), SourceDescription::DefaultChain)
            }
            Base::Profile(name) => {
                let conf = ProviderConfig::without_region()
                    .with_region(sdk_config.as_ref().and_then(|c| c.region().cloned()));
                let provider = ProfileFileCredentialsProvider::builder()
                    .configure(&conf)
                    .profile_name(name.clone())
                    .build();
                (
                    Source::Fetch(SharedCredentialsProvider::new(provider)),
                    SourceDescription::Profile(name),
                )
            }
        };

        if let Some(role) = assume_role {
            let sdk_config = sdk_config.unwrap_or_else(|| {
                unreachable!("the aws-config loader runs whenever a role is assumed")
            });
            let region = sdk_config
                .region()
                .cloned()
                .ok_or(CredentialsError::MissingRegion {
                    needed_for: "assuming a role through STS",
                })?;
            let mut builder = AssumeRoleProvider::builder(role.role_arn.clone())
                .configure(&sdk_config)
                .region(region.clone());
            if let Some(name) = role.session_name {
                builder = builder.session_name(name);
            }
            if let Some(id) = role.external_id {
                builder = builder.external_id(id);
            }
            let provider = match source {
                Source::Static(credentials) => builder.build_from_provider(credentials).await,
                Source::Fetch(base) => builder.build_from_provider(base).await,
            };
            source = Source::Fetch(SharedCredentialsProvider::new(provider));
            description = SourceDescription::AssumeRole {
                role_arn: role.role_arn,
                region: region.to_string(),
                base: Box::new(description),
            };
        }

        if let Source::Fetch(provider) = source {
            source = Source::Fetch(SharedCredentialsProvider::new(GuardedFetch::new(
                provider,
                fetch_timeout,
                sleep,
                Arc::clone(&clock),
            )));
        }

        let diagnostics = Diagnostics::new(description, &environment);
        Ok(CredentialsProvider::new(
            source,
            clock,
            refresh_before,
            diagnostics,
        ))
    }
}

impl fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CredentialsConfig");
        match &self.base {
            Base::DefaultChain => d.field("source", &"default-chain"),
            Base::Profile(name) => d.field("profile", name),
            // `Credentials`' own Debug shows the access key id only.
            Base::Static(credentials) => d.field("static_credentials", credentials),
        };
        if let Some(role) = &self.assume_role {
            d.field("assume_role", &role.role_arn)
                .field("role_session_name", &role.session_name)
                .field(
                    "external_id",
                    &role.external_id.as_ref().map(|_| crate::secret::REDACTED),
                );
        }
        d.field("region", &self.region)
            .field("refresh_before", &self.refresh_before)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("clock", &self.clock)
            .field(
                "aws_config_loader",
                &if self.loader.is_some() {
                    "custom"
                } else {
                    "defaults"
                },
            )
            .field("environment", &self.environment)
            .finish()
    }
}

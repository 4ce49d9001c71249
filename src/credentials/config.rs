//! [`CredentialsConfig`]: where credentials come from, and how they are cached.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "aws-config")]
use aws_config::profile::ProfileFileCredentialsProvider;
#[cfg(feature = "aws-config")]
use aws_config::provider_config::ProviderConfig;
#[cfg(feature = "aws-config")]
use aws_config::sts::AssumeRoleProvider;
#[cfg(feature = "aws-config")]
use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_smithy_async::rt::sleep::{SharedAsyncSleep, TokioSleep};

use super::cache::{CredentialsProvider, Source};
#[cfg(feature = "aws-config")]
use super::diagnostics::Environment;
use super::diagnostics::{Diagnostics, SourceDescription};
#[cfg(feature = "aws-config")]
use super::error::AwsCredentialsError;
use super::error::CredentialsError;
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
/// - [`static_credentials`](Self::static_credentials): given explicitly.
/// - [`provider`](Self::provider): any [`ProvideCredentials`] (a source of your
///   own, or one of `aws-config`'s), fetched when needed.
///
/// With the `aws-config` feature (on by default), also:
///
/// - `default_chain` (also `Default`): the standard AWS
///   chain through `aws-config`: environment variables, the shared config and
///   credentials files, web identity token, ECS container credentials (in an ECS
///   task: the task role, which is how a Harness ECS runner hands its build
///   tasks the role named by `HARNESS_ECS_BUILD_TASK_ROLE_ARN`), EC2 instance
///   metadata.
/// - `profile`: a named profile from the shared files.
/// - `assume_role`: on top of any of these, assume a role
///   through STS; the STS region is `region` or the one
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
/// The default chain (feature `aws-config`), optionally assuming a role:
///
/// ```no_run
/// use rds_iam::credentials::CredentialsConfig;
/// use std::time::Duration;
///
/// # #[cfg(feature = "aws-config")]
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
    clock: Arc<dyn Clock>,
    refresh_before: Duration,
    fetch_timeout: Duration,
    #[cfg(feature = "aws-config")]
    chain: Chain,
}

enum Base {
    Given(Given),
    #[cfg(feature = "aws-config")]
    DefaultChain,
    #[cfg(feature = "aws-config")]
    Profile(String),
}

/// Credentials, or where to fetch them, given by the caller: no `aws-config` involved.
enum Given {
    Static(Credentials),
    Provider(SharedCredentialsProvider),
}

/// The settings that need `aws-config`.
#[cfg(feature = "aws-config")]
#[derive(Default)]
struct Chain {
    assume_role: Option<AssumeRole>,
    region: Option<String>,
    loader: Option<ConfigLoader>,
    environment: Environment,
}

#[cfg(feature = "aws-config")]
struct AssumeRole {
    role_arn: String,
    session_name: Option<String>,
    external_id: Option<String>,
}

#[cfg(feature = "aws-config")]
impl Default for CredentialsConfig {
    fn default() -> Self {
        Self::default_chain()
    }
}

impl CredentialsConfig {
    fn with_base(base: Base) -> Self {
        Self {
            base,
            clock: Arc::new(SystemClock),
            refresh_before: DEFAULT_REFRESH_BEFORE,
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            #[cfg(feature = "aws-config")]
            chain: Chain::default(),
        }
    }

    /// The standard AWS credentials chain (`aws-config`).
    #[cfg(feature = "aws-config")]
    pub fn default_chain() -> Self {
        Self::with_base(Base::DefaultChain)
    }

    /// The named profile from the shared config and credentials files
    /// (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, by default
    /// `~/.aws/config` and `~/.aws/credentials`), and nothing else: unlike the
    /// default chain, environment credentials do not take precedence. The
    /// profile files are found through the process environment (the loader's
    /// region still applies).
    #[cfg(feature = "aws-config")]
    pub fn profile(name: impl Into<String>) -> Self {
        Self::with_base(Base::Profile(name.into()))
    }

    /// These credentials, as given, for tests and special cases. They are
    /// never fetched or refreshed, and served even past an expiry they carry
    /// (the signer then refuses them: [`TokenError::CredentialsExpired`](crate::token::TokenError::CredentialsExpired)).
    pub fn static_credentials(credentials: Credentials) -> Self {
        Self::with_base(Base::Given(Given::Static(credentials)))
    }

    /// Credentials from `provider`, any [`ProvideCredentials`] (a source of your own, or one
    /// of `aws-config`'s), cached like the others: fetched when none are cached or they are
    /// due for refresh, each fetch bounded by [`fetch_timeout`](Self::fetch_timeout) (on
    /// Tokio's timer), and credentials that arrive already expired are a failed fetch.
    ///
    /// ```
    /// use aws_credential_types::Credentials;
    /// use aws_credential_types::provider::{ProvideCredentials, future};
    /// use rds_iam::credentials::CredentialsConfig;
    ///
    /// /// Credentials from a vault of your own (here: fixed ones).
    /// #[derive(Debug)]
    /// struct Vault;
    ///
    /// impl ProvideCredentials for Vault {
    ///     fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    ///     where
    ///         Self: 'a,
    ///     {
    ///         future::ProvideCredentials::ready(Ok(Credentials::new(
    ///             "AKIDEXAMPLE", "example-secret", None, None, "vault",
    ///         )))
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let provider = CredentialsConfig::provider(Vault).build().await?;
    /// assert_eq!(provider.credentials().await?.access_key_id(), "AKIDEXAMPLE");
    /// assert_eq!(provider.credentials().await?.access_key_id(), "AKIDEXAMPLE");
    /// assert_eq!(provider.stats().fetches, 1); // no expiry: cached for good
    /// assert_eq!(provider.source_label(), "provider");
    /// # Ok::<(), rds_iam::credentials::CredentialsError>(())
    /// # }).unwrap();
    /// ```
    pub fn provider(provider: impl ProvideCredentials + 'static) -> Self {
        Self::with_base(Base::Given(Given::Provider(
            SharedCredentialsProvider::new(provider),
        )))
    }

    /// Assume this role through STS, with the credentials from the source
    /// chosen above as the source identity.
    #[cfg(feature = "aws-config")]
    pub fn assume_role(mut self, role_arn: impl Into<String>) -> Self {
        self.chain.assume_role = Some(AssumeRole {
            role_arn: role_arn.into(),
            session_name: None,
            external_id: None,
        });
        self
    }

    /// The role session name for [`assume_role`](Self::assume_role)
    /// (default: one generated by `aws-config`). Ignored without a role.
    #[cfg(feature = "aws-config")]
    pub fn role_session_name(mut self, name: impl Into<String>) -> Self {
        if let Some(role) = &mut self.chain.assume_role {
            role.session_name = Some(name.into());
        }
        self
    }

    /// The external id the role's trust policy requires, for
    /// [`assume_role`](Self::assume_role). Ignored without a role.
    #[cfg(feature = "aws-config")]
    pub fn external_id(mut self, external_id: impl Into<String>) -> Self {
        if let Some(role) = &mut self.chain.assume_role {
            role.external_id = Some(external_id.into());
        }
        self
    }

    /// The AWS region for STS (and for the `aws-config` loader). Without it,
    /// the region `aws-config` resolves is used, and assuming a role with no
    /// region anywhere is [`CredentialsError::MissingRegion`].
    #[cfg(feature = "aws-config")]
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.chain.region = Some(region.into());
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
    /// not aws-config's three attempts of 5 s each. The default chain and profiles time it
    /// with the `aws-config` loader's sleep implementation (its default is Tokio's; a loader
    /// without one sets no deadline), a [`provider`](Self::provider) with Tokio's timer.
    pub fn fetch_timeout(mut self, fetch_timeout: Duration) -> Self {
        self.fetch_timeout = fetch_timeout;
        self
    }

    /// The `aws-config` loader to start from (default:
    /// `aws_config::defaults(BehaviorVersion::latest())`): its HTTP client,
    /// timeouts, region, endpoint URL and profile files are used for the
    /// default chain and for STS. [`profile`](Self::profile) and
    /// [`region`](Self::region) are applied on top of it.
    #[cfg(feature = "aws-config")]
    pub fn aws_config_loader(mut self, loader: ConfigLoader) -> Self {
        self.chain.loader = Some(loader);
        self
    }

    /// The environment used to explain failures (default: the process
    /// environment). Pass the same variables as to the loader when the loader
    /// was given an explicit environment.
    #[cfg(feature = "aws-config")]
    pub fn environment(mut self, environment: Environment) -> Self {
        self.chain.environment = environment;
        self
    }

    /// Build the provider. Nothing is fetched yet.
    ///
    /// # Errors
    /// With the `aws-config` feature: [`CredentialsError::MissingRegion`] when a role is to be
    /// assumed and no region is set; [`CredentialsError::Unavailable`] when the `aws-config`
    /// loader was configured without a credentials provider. Static credentials and a
    /// [`provider`](Self::provider) alone never fail here.
    pub async fn build(self) -> Result<CredentialsProvider, CredentialsError> {
        let Self {
            base,
            clock,
            refresh_before,
            fetch_timeout,
            #[cfg(feature = "aws-config")]
            chain,
        } = self;
        #[cfg(feature = "aws-config")]
        let (source, sleep, diagnostics) = chain.resolve(base).await?;
        #[cfg(not(feature = "aws-config"))]
        let (source, sleep, diagnostics) = {
            let Base::Given(given) = base;
            let (source, description) = given.source();
            (source, Some(tokio_sleep()), Diagnostics::new(description))
        };

        let source = match source {
            Source::Fetch(provider) => Source::Fetch(SharedCredentialsProvider::new(
                GuardedFetch::new(provider, fetch_timeout, sleep, Arc::clone(&clock)),
            )),
            source @ Source::Static(_) => source,
        };
        Ok(CredentialsProvider::new(
            source,
            clock,
            refresh_before,
            diagnostics,
        ))
    }
}

impl Given {
    /// The source, and its description for errors.
    fn source(self) -> (Source, SourceDescription) {
        match self {
            Self::Static(credentials) => (Source::Static(credentials), SourceDescription::Static),
            Self::Provider(provider) => (Source::Fetch(provider), SourceDescription::Provider),
        }
    }
}

/// Tokio's timer, for the deadline of fetches when no `aws-config` loader gives a sleep
/// implementation.
fn tokio_sleep() -> SharedAsyncSleep {
    SharedAsyncSleep::new(TokioSleep::new())
}

#[cfg(feature = "aws-config")]
impl Chain {
    /// `base` and the role to assume on top, resolved with `aws-config` (whose loader runs
    /// only for the default chain, a profile or a role): the source, the sleep implementation
    /// for the fetch deadline, and what explains a failure.
    async fn resolve(
        self,
        base: Base,
    ) -> Result<(Source, Option<SharedAsyncSleep>, Diagnostics), CredentialsError> {
        let Self {
            assume_role,
            region,
            loader,
            environment,
        } = self;
        let needs_sdk_config = assume_role.is_some() || !matches!(base, Base::Given(_));
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
        let sleep = match &sdk_config {
            Some(config) => config.sleep_impl(),
            None => Some(tokio_sleep()),
        };

        let (mut source, mut description) = match base {
            Base::Given(given) => given.source(),
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
        Ok((source, sleep, Diagnostics::new(description, &environment)))
    }
}

impl fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("CredentialsConfig");
        match &self.base {
            // `Credentials`' own Debug shows the access key id only.
            Base::Given(Given::Static(credentials)) => d.field("static_credentials", credentials),
            // Not the provider's own Debug: it is the caller's, and may show what it holds.
            Base::Given(Given::Provider(_)) => d.field("source", &"provider"),
            #[cfg(feature = "aws-config")]
            Base::DefaultChain => d.field("source", &"default-chain"),
            #[cfg(feature = "aws-config")]
            Base::Profile(name) => d.field("profile", name),
        };
        #[cfg(feature = "aws-config")]
        {
            let chain = &self.chain;
            if let Some(role) = &chain.assume_role {
                d.field("assume_role", &role.role_arn)
                    .field("role_session_name", &role.session_name)
                    .field(
                        "external_id",
                        &role.external_id.as_ref().map(|_| crate::secret::REDACTED),
                    );
            }
            d.field("region", &chain.region);
        }
        d.field("refresh_before", &self.refresh_before)
            .field("fetch_timeout", &self.fetch_timeout)
            .field("clock", &self.clock);
        #[cfg(feature = "aws-config")]
        d.field(
            "aws_config_loader",
            &if self.chain.loader.is_some() {
                "custom"
            } else {
                "defaults"
            },
        )
        .field("environment", &self.chain.environment);
        d.finish()
    }
}

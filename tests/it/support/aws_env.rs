//! The AWS environment of one test, given explicitly to aws-config (`ConfigLoader::env`), to
//! the crate's diagnostics (`Environment::from_vars`) or to a child process: no test mutates
//! the process environment, so the tests run in parallel.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_types::os_shim_internal::Env;
#[cfg(feature = "aws-config")]
use rds_iam::clock::ManualClock;
#[cfg(feature = "aws-config")]
use rds_iam::credentials::{CredentialsConfig, Environment};

/// Environment variables, and the home directory they point into.
pub struct AwsEnv {
    vars: Vec<(String, String)>,
    _home: tempfile::TempDir,
}

impl AwsEnv {
    /// No credentials anywhere: a fresh `HOME` with empty shared config and credentials files,
    /// instance metadata off.
    pub fn empty() -> Self {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("config");
        let credentials = home.path().join("credentials");
        std::fs::File::create(&config).unwrap();
        std::fs::File::create(&credentials).unwrap();
        let vars = vec![
            ("HOME".to_owned(), home.path().display().to_string()),
            ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
            ("AWS_CONFIG_FILE".to_owned(), config.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
                credentials.display().to_string(),
            ),
        ];
        Self { vars, _home: home }
    }

    /// No credentials anywhere but the container credentials endpoint at `full_uri`.
    pub fn ecs(full_uri: &str) -> Self {
        Self::empty().var("AWS_CONTAINER_CREDENTIALS_FULL_URI", full_uri)
    }

    /// With `name` set to `value`.
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The variables.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// An aws-config loader that sees these variables only.
    pub fn loader(&self) -> ConfigLoader {
        let pairs: Vec<(&str, &str)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        aws_config::defaults(BehaviorVersion::latest()).env(Env::from_slice(&pairs))
    }

    /// The default chain over these variables, on `clock`.
    #[cfg(feature = "aws-config")]
    pub fn config(&self, clock: &ManualClock) -> CredentialsConfig {
        self.config_with(self.loader(), clock)
    }

    /// The default chain from `loader` (made with [`AwsEnv::loader`]), on `clock`; the
    /// diagnostics see these variables.
    #[cfg(feature = "aws-config")]
    pub fn config_with(&self, loader: ConfigLoader, clock: &ManualClock) -> CredentialsConfig {
        CredentialsConfig::default_chain()
            .aws_config_loader(loader)
            .environment(Environment::from_vars(self.vars.clone()))
            .clock(clock.clone())
    }
}

/// `2030-01-01T00:00:00Z`: how credentials endpoints write `Expiration`.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

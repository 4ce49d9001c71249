//! The setters both connector builders share, generated into each (their docs then name the
//! right connector), and the one-time TLS set-up.

use crate::tls::{CaBundle, TlsSetupError};
use crate::tls_mode::TlsMode;

use super::{ConnectError, Settings};

/// Load the CA bundle and build what the TLS stack needs from it with `build` (a connector,
/// or the trusted certificates for a driver that builds its own), off the async threads
/// (reading the system trust store takes about 100 ms). Done once per connector.
pub(crate) async fn tls_setup<T: Send + 'static>(
    settings: &Settings,
    build: fn(&CaBundle, TlsMode) -> Result<T, TlsSetupError>,
) -> Result<(CaBundle, T), ConnectError> {
    let trust = settings.trust.clone();
    let mode = settings.mode;
    blocking(move || {
        let bundle = CaBundle::load(&trust)?;
        let tls = build(&bundle, mode)?;
        Ok((bundle, tls))
    })
    .await
}

/// Run `work` on tokio's blocking threads, logging to the caller's subscriber and span (the
/// `require` warning is logged there).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ConnectError> + Send + 'static,
) -> Result<T, ConnectError> {
    let dispatch = tracing::dispatcher::get_default(tracing::Dispatch::clone);
    let span = tracing::Span::current();
    let work = move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(work));
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}

/// Setters over a builder's `settings: Settings` and `tokens: Option<TokenProvider>` fields.
macro_rules! shared_setters {
    () => {
        /// The database user to log in as and sign the token for (instead of the URL's
        /// `user`). It must match the user in the IAM policy's `rds-db:connect` resource,
        /// case included.
        pub fn user(mut self, user: impl Into<String>) -> Self {
            self.settings.signing.user = Some(user.into());
            self
        }

        /// The database to connect to.
        pub fn database(mut self, database: impl Into<String>) -> Self {
            self.settings.database = Some(database.into());
            self
        }

        /// The AWS region to sign the token in (instead of `iamRegion` or the region in the
        /// RDS host name).
        pub fn region(mut self, region: impl Into<String>) -> Self {
            self.settings.signing.region = Some(region.into());
            self
        }

        /// The host name the certificate is checked against and the token signed for, when it
        /// differs from the host dialled (SSH tunnels, IP addresses): the RDS endpoint name.
        /// As `iamHost` in the URL.
        pub fn iam_host(mut self, host: impl Into<String>) -> Self {
            self.settings.signing.iam_host = Some(host.into());
            self
        }

        /// The port the token is signed for, when it differs from the port dialled. As
        /// `iamDefaultPort` in the URL.
        pub fn iam_port(mut self, port: u16) -> Self {
            self.settings.signing.iam_port = Some(port);
            self
        }

        /// Another host to try, after those given so far (each signs its own token).
        pub fn add_host(mut self, host: impl Into<String>, port: u16) -> Self {
            self.settings.hosts.push($crate::jdbc::HostPort {
                host: host.into(),
                port,
            });
            self
        }

        /// How the server certificate is checked (TLS itself is always on). Default: what the
        /// URL says, else [`TlsMode::VerifyFull`](crate::tls_mode::TlsMode::VerifyFull).
        pub fn tls_mode(mut self, mode: $crate::tls_mode::TlsMode) -> Self {
            self.settings.mode = mode;
            self
        }

        /// Also trust the CA certificates of `source` (a PEM file, PEM text, or the
        /// build-task bundle). `verify-ca` trusts exactly these sources (and the URL's CA
        /// file), so it needs at least one.
        pub fn ca(mut self, source: $crate::tls::CaSource) -> Self {
            self.settings.trust.add_source(source);
            self
        }

        /// Whether the system trust store is trusted too in `verify-full` (default: yes). It is
        /// never trusted in `verify-ca`, which checks no host name: there only the CA sources
        /// given ([`ca`](Self::ca), the URL's CA file) are.
        pub fn system_roots(mut self, system_roots: bool) -> Self {
            self.settings.trust.set_system_roots(system_roots);
            self
        }

        /// A limit on each host's connection and login. As `connectTimeout` in the URL.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.settings.connect_timeout = Some(timeout).filter(|t| !t.is_zero());
            self
        }

        /// Where tokens come from. Default: a provider over the default AWS credentials chain
        /// ([`CredentialsConfig::default_chain`](crate::credentials::CredentialsConfig::default_chain))
        /// reusing tokens for the URL's `iamExpiration` (default 870 s). A provider given here
        /// keeps its own lifetime. Share one provider between connectors to share its cache.
        pub fn token_provider(mut self, tokens: $crate::provider::TokenProvider) -> Self {
            self.tokens = Some(tokens);
            self
        }
    };
}

pub(crate) use shared_setters;

/// The given token provider, or one over the default AWS credentials chain with the URL's
/// `iamExpiration` as its lifetime.
pub(crate) async fn tokens_or_default(
    tokens: Option<crate::provider::TokenProvider>,
    settings: &Settings,
) -> Result<crate::provider::TokenProvider, ConnectError> {
    match tokens {
        Some(tokens) => {
            if settings.iam_expiration.is_some() {
                tracing::debug!(
                    target: "rds_iam::connect",
                    "iamExpiration ignored: the token provider given keeps its own lifetime"
                );
            }
            Ok(tokens)
        }
        None => {
            let credentials = crate::credentials::CredentialsConfig::default_chain()
                .build()
                .await?;
            Ok(provider_for(credentials, settings))
        }
    }
}

/// A provider over `credentials` with the settings' `iamExpiration` as its lifetime.
fn provider_for(
    credentials: crate::credentials::CredentialsProvider,
    settings: &Settings,
) -> crate::provider::TokenProvider {
    let mut builder = crate::provider::TokenProvider::builder(credentials);
    if let Some(lifetime) = settings.iam_expiration {
        builder = builder.lifetime(lifetime);
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::Credentials;

    use super::*;
    use crate::credentials::CredentialsConfig;
    use crate::jdbc::{Engine, JdbcUrl};
    use crate::provider::DEFAULT_LIFETIME;

    #[tokio::test]
    async fn the_default_provider_reuses_tokens_for_iam_expiration() {
        let credentials = || async {
            CredentialsConfig::static_credentials(Credentials::new("AKID", "s", None, None, "t"))
                .build()
                .await
                .unwrap()
        };
        let settings = |query: &str| {
            let url =
                JdbcUrl::parse(&format!("jdbc:aws-wrapper:postgresql://h/d?{query}")).unwrap();
            Settings::from_url(&url, "PgConnector", &[Engine::Postgresql]).unwrap()
        };
        let with = provider_for(credentials().await, &settings("iamExpiration=600"));
        assert_eq!(with.lifetime(), Duration::from_secs(600));
        let without = provider_for(credentials().await, &settings("user=u"));
        assert_eq!(without.lifetime(), DEFAULT_LIFETIME);
    }
}

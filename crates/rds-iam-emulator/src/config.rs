//! What an emulator is told: engine, addresses, the endpoint it pretends to be, the
//! AWS credentials whose tokens it accepts, its TLS identity, its clock and its limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_credential_types::Credentials;

use super::verify::DEFAULT_ALLOWED_SKEW;
use rds_iam::clock::{Clock, SystemClock};
use rds_iam::secret::Password;

/// How long each step of a login may take by default
/// ([`EmulatorConfigBuilder::handshake_timeout`]): long enough for a client that pauses
/// (a debugger, a loaded CI machine; MySQL's own `connect_timeout` is 10 s), short enough
/// that idle connections do not pile up.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections an emulator serves at once by default
/// ([`EmulatorConfigBuilder::max_connections`]): with the backend connection of each relayed
/// session that is 512 file descriptors, well under the usual limit of 1024.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;

/// How many login records an emulator keeps by default
/// ([`EmulatorConfigBuilder::login_history`]).
pub const DEFAULT_LOGIN_HISTORY: usize = 1000;

/// The wire protocol the emulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wire {
    /// PostgreSQL (Aurora PostgreSQL, RDS for PostgreSQL).
    Postgres,
    /// MySQL / MariaDB (Aurora MySQL, RDS for MySQL and MariaDB).
    Mysql,
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
        })
    }
}

/// Where the emulator's TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsIdentity {
    /// A certificate chain and its PKCS#8 private key, as PEM files.
    PemFiles {
        /// The server certificate (followed by any intermediates), PEM.
        cert: PathBuf,
        /// The private key (PKCS#8, `-----BEGIN PRIVATE KEY-----`), PEM.
        key: PathBuf,
    },
    /// Generate a fresh test CA and a server certificate for the endpoint name,
    /// `localhost`, `127.0.0.1` and `::1`. The CA certificate is written to
    /// `write_ca_to`, or, when that is `None`, to a file in a fresh temporary
    /// directory that is removed when the emulator stops. Either way
    /// [`RunningEmulator::ca_path`](super::RunningEmulator::ca_path) names it.
    GenerateTestCa {
        /// Where to write the CA certificate (PEM).
        write_ca_to: Option<PathBuf>,
    },
}

impl Default for TlsIdentity {
    fn default() -> Self {
        Self::GenerateTestCa { write_ca_to: None }
    }
}

/// A problem with the settings given to [`EmulatorConfigBuilder`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required setting was not given.
    #[error("the emulator needs its {0}: set it with EmulatorConfigBuilder::{0}")]
    Missing(&'static str),
    /// The endpoint host name is empty.
    #[error(
        "the emulated endpoint host name is empty: give EmulatorConfigBuilder::endpoint the RDS \
         name the tokens are signed for, e.g. mydb.cluster-abc123.us-east-1.rds.amazonaws.com"
    )]
    EmptyEndpointHost,
    /// The region is empty.
    #[error(
        "the emulated region is empty: give EmulatorConfigBuilder::region the region the tokens \
         are signed for, e.g. us-east-1"
    )]
    EmptyRegion,
    /// The endpoint port is 0.
    #[error(
        "the emulated endpoint port is 0: give EmulatorConfigBuilder::endpoint the port the \
         tokens are signed for, e.g. 5432"
    )]
    ZeroEndpointPort,
    /// The connection limit is 0.
    #[error("the connection limit is 0: give EmulatorConfigBuilder::max_connections at least 1")]
    ZeroMaxConnections,
    /// The handshake timeout is 0.
    #[error(
        "the handshake timeout is 0: give EmulatorConfigBuilder::handshake_timeout a positive duration"
    )]
    ZeroHandshakeTimeout,
}

/// Everything an emulator needs. Build one with [`EmulatorConfig::builder`].
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub(crate) wire: Wire,
    pub(crate) listen: SocketAddr,
    pub(crate) backend: SocketAddr,
    pub(crate) backend_user: Option<String>,
    pub(crate) backend_password: Option<Password>,
    pub(crate) endpoint_host: String,
    pub(crate) endpoint_port: u16,
    pub(crate) region: String,
    pub(crate) credentials: Credentials,
    pub(crate) tls: TlsIdentity,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) allowed_skew: Duration,
    pub(crate) require_rds_iam: bool,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) login_history: usize,
}

impl EmulatorConfig {
    /// Start describing an emulator speaking `wire`.
    ///
    /// ```
    /// use aws_credential_types::Credentials;
    /// use rds_iam_emulator::{EmulatorConfig, Wire};
    ///
    /// let config = EmulatorConfig::builder(Wire::Postgres)
    ///     .backend("127.0.0.1:5432".parse().unwrap())
    ///     .endpoint("mydb.cluster-abc123.us-east-1.rds.amazonaws.com", 5432)
    ///     .region("us-east-1")
    ///     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None, None, "example"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.wire(), Wire::Postgres);
    /// assert_eq!(config.endpoint(), ("mydb.cluster-abc123.us-east-1.rds.amazonaws.com", 5432));
    /// ```
    pub fn builder(wire: Wire) -> EmulatorConfigBuilder {
        EmulatorConfigBuilder {
            wire,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backend: None,
            backend_user: None,
            backend_password: None,
            endpoint: None,
            region: None,
            credentials: None,
            tls: TlsIdentity::default(),
            clock: Arc::new(SystemClock),
            allowed_skew: DEFAULT_ALLOWED_SKEW,
            require_rds_iam: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            login_history: DEFAULT_LOGIN_HISTORY,
        }
    }

    /// The wire protocol.
    pub fn wire(&self) -> Wire {
        self.wire
    }

    /// The emulated endpoint (`host`, `port`) tokens must be signed for.
    pub fn endpoint(&self) -> (&str, u16) {
        (&self.endpoint_host, self.endpoint_port)
    }

    /// The address the emulator listens on (port 0: any free port).
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The real database behind the emulator.
    pub fn backend(&self) -> SocketAddr {
        self.backend
    }

    /// How long each step of a login may take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// How many connections are served at once.
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }
}

/// Builder for [`EmulatorConfig`]. Required: [`backend`](Self::backend),
/// [`endpoint`](Self::endpoint), [`region`](Self::region),
/// [`credentials`](Self::credentials).
#[derive(Debug)]
#[must_use]
pub struct EmulatorConfigBuilder {
    wire: Wire,
    listen: SocketAddr,
    backend: Option<SocketAddr>,
    backend_user: Option<String>,
    backend_password: Option<Password>,
    endpoint: Option<(String, u16)>,
    region: Option<String>,
    credentials: Option<Credentials>,
    tls: TlsIdentity,
    clock: Arc<dyn Clock>,
    allowed_skew: Duration,
    require_rds_iam: bool,
    handshake_timeout: Duration,
    max_connections: usize,
    login_history: usize,
}

impl EmulatorConfigBuilder {
    /// Where to listen. Default `127.0.0.1:0` (a free loopback port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The real database the emulator logs in to after a token is accepted.
    pub fn backend(mut self, addr: SocketAddr) -> Self {
        self.backend = Some(addr);
        self
    }

    /// Log every accepted login in to the backend as this one user, instead of as
    /// the login's own user name (the RDS behaviour, and the default).
    pub fn backend_user(mut self, user: impl Into<String>) -> Self {
        self.backend_user = Some(user.into());
        self
    }

    /// The password for the backend login, if the backend asks for one (PostgreSQL:
    /// cleartext, MD5 or SCRAM-SHA-256; MySQL: `mysql_native_password`,
    /// `mysql_clear_password` or the fast path of `caching_sha2_password`). Without
    /// it only backends that trust the emulator (or users without a password) work.
    pub fn backend_password(mut self, password: Password) -> Self {
        self.backend_password = Some(password);
        self
    }

    /// The endpoint the emulator pretends to be: tokens must be signed for exactly
    /// this `host:port`, and a generated certificate names this host.
    pub fn endpoint(mut self, host: impl Into<String>, port: u16) -> Self {
        self.endpoint = Some((host.into(), port));
        self
    }

    /// The AWS region tokens must be signed for.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The AWS credentials whose tokens are accepted: the access key id and secret
    /// access key, and the session token if tokens must carry one (a token with a
    /// session token is refused when none is configured, and the other way round).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The TLS identity. Default: [`TlsIdentity::GenerateTestCa`] into a temporary file.
    pub fn tls(mut self, tls: TlsIdentity) -> Self {
        self.tls = tls;
        self
    }

    /// The clock that judges token expiry. Default: the system clock. Give a
    /// [`ManualClock`](rds_iam::clock::ManualClock) to present a 16-minute-old token
    /// without waiting.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How far in the future a token's `X-Amz-Date` may lie (clock skew between the
    /// signer and the emulator). Default 5 minutes. Expiry gets no such tolerance:
    /// a token is refused as soon as date + `X-Amz-Expires` has passed.
    pub fn allowed_skew(mut self, skew: Duration) -> Self {
        self.allowed_skew = skew;
        self
    }

    /// PostgreSQL only: refuse a user who is not a member of a role `rds_iam` in the backend
    /// database (directly or through another role), as RDS refuses every IAM login of a user
    /// without `GRANT rds_iam`: `FATAL 28000 PAM authentication failed`, recorded as
    /// [`Rejection::NotRdsIamMember`](crate::Rejection::NotRdsIamMember). Create a local role
    /// `rds_iam` (`CREATE ROLE rds_iam`) to stand in for the one RDS creates. Checked with one
    /// query on the fresh backend session before anything is relayed (the client never sees
    /// it). Off by default; superusers pass (PostgreSQL counts them members of every role).
    pub fn require_rds_iam(mut self, require: bool) -> Self {
        self.require_rds_iam = require;
        self
    }

    /// How long each step of a login may take before the emulator closes the connection:
    /// the client's first packet, the TLS handshake, each later packet of the client
    /// until the token is verified, and the login to the backend. Default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`] (30 s). A logged-in session has no time limit.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// How many connections the emulator serves at once, logging in or logged in.
    /// A connection over the limit gets the engine's own error at once and is closed
    /// (PostgreSQL: `FATAL 53300 sorry, too many clients already`; MySQL: `ERROR 1040
    /// Too many connections`). Default [`DEFAULT_MAX_CONNECTIONS`] (256).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// How many of the most recent login records
    /// [`RunningEmulator::logins`](super::RunningEmulator::logins) keeps; older ones are
    /// dropped (every login is still counted in
    /// [`RunningEmulator::login_counts`](super::RunningEmulator::login_counts)). Default
    /// [`DEFAULT_LOGIN_HISTORY`] (1000).
    pub fn login_history(mut self, records: usize) -> Self {
        self.login_history = records;
        self
    }

    /// Check the settings.
    pub fn build(self) -> Result<EmulatorConfig, ConfigError> {
        let backend = self.backend.ok_or(ConfigError::Missing("backend"))?;
        let (endpoint_host, endpoint_port) =
            self.endpoint.ok_or(ConfigError::Missing("endpoint"))?;
        let region = self.region.ok_or(ConfigError::Missing("region"))?;
        let credentials = self
            .credentials
            .ok_or(ConfigError::Missing("credentials"))?;
        // One form for an IPv6 address: without brackets (the certificate's IP address).
        let endpoint_host = super::verify::unbracketed(&endpoint_host).to_owned();
        if endpoint_host.is_empty() {
            return Err(ConfigError::EmptyEndpointHost);
        }
        if endpoint_port == 0 {
            return Err(ConfigError::ZeroEndpointPort);
        }
        if region.is_empty() {
            return Err(ConfigError::EmptyRegion);
        }
        if self.max_connections == 0 {
            return Err(ConfigError::ZeroMaxConnections);
        }
        if self.handshake_timeout.is_zero() {
            return Err(ConfigError::ZeroHandshakeTimeout);
        }
        Ok(EmulatorConfig {
            wire: self.wire,
            listen: self.listen,
            backend,
            backend_user: self.backend_user,
            backend_password: self.backend_password,
            endpoint_host,
            endpoint_port,
            region,
            credentials,
            tls: self.tls,
            clock: self.clock,
            allowed_skew: self.allowed_skew,
            require_rds_iam: self.require_rds_iam,
            handshake_timeout: self.handshake_timeout,
            max_connections: self.max_connections,
            login_history: self.login_history,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> EmulatorConfigBuilder {
        EmulatorConfig::builder(Wire::Postgres)
            .backend("127.0.0.1:5432".parse().unwrap())
            .endpoint("db.example", 5432)
            .region("us-east-1")
            .credentials(Credentials::new("AK", "SECRETKEY", None, None, "t"))
    }

    #[test]
    fn missing_settings_are_named() {
        let err = EmulatorConfig::builder(Wire::Postgres)
            .endpoint("db.example", 5432)
            .build()
            .unwrap_err();
        assert_eq!(err, ConfigError::Missing("backend"));
        assert_eq!(
            err.to_string(),
            "the emulator needs its backend: set it with EmulatorConfigBuilder::backend"
        );
        assert_eq!(
            complete().region("").build().unwrap_err(),
            ConfigError::EmptyRegion
        );
        assert_eq!(
            complete().endpoint("", 1).build().unwrap_err(),
            ConfigError::EmptyEndpointHost
        );
        assert_eq!(
            complete().endpoint("h", 0).build().unwrap_err(),
            ConfigError::ZeroEndpointPort
        );
        assert_eq!(
            complete().max_connections(0).build().unwrap_err(),
            ConfigError::ZeroMaxConnections
        );
        assert_eq!(
            complete()
                .handshake_timeout(Duration::ZERO)
                .build()
                .unwrap_err(),
            ConfigError::ZeroHandshakeTimeout
        );
    }

    #[test]
    fn limits_have_defaults() {
        let config = complete().build().unwrap();
        assert_eq!(config.handshake_timeout(), DEFAULT_HANDSHAKE_TIMEOUT);
        assert_eq!(config.max_connections(), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(config.login_history, DEFAULT_LOGIN_HISTORY);
    }

    #[test]
    fn debug_hides_secrets() {
        let config = complete()
            .backend_password(Password::new("backendpw"))
            .credentials(Credentials::new(
                "AK",
                "SECRETKEY",
                Some("SESSIONTOKEN".into()),
                None,
                "t",
            ))
            .build()
            .unwrap();
        let debug = format!("{config:?}");
        for secret in ["backendpw", "SECRETKEY", "SESSIONTOKEN"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    /// Every message, pinned: each names the builder method that fixes it.
    #[test]
    fn messages() {
        for (e, text) in [
            (
                ConfigError::Missing("credentials"),
                "the emulator needs its credentials: set it with \
                 EmulatorConfigBuilder::credentials",
            ),
            (
                ConfigError::EmptyEndpointHost,
                "the emulated endpoint host name is empty: give EmulatorConfigBuilder::endpoint \
                 the RDS name the tokens are signed for, e.g. \
                 mydb.cluster-abc123.us-east-1.rds.amazonaws.com",
            ),
            (
                ConfigError::EmptyRegion,
                "the emulated region is empty: give EmulatorConfigBuilder::region the region the \
                 tokens are signed for, e.g. us-east-1",
            ),
            (
                ConfigError::ZeroEndpointPort,
                "the emulated endpoint port is 0: give EmulatorConfigBuilder::endpoint the port \
                 the tokens are signed for, e.g. 5432",
            ),
            (
                ConfigError::ZeroMaxConnections,
                "the connection limit is 0: give EmulatorConfigBuilder::max_connections at least 1",
            ),
            (
                ConfigError::ZeroHandshakeTimeout,
                "the handshake timeout is 0: give EmulatorConfigBuilder::handshake_timeout a \
                 positive duration",
            ),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }
}

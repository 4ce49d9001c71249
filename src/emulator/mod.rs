//! A local IAM-enabled RDS endpoint, for tests (ours and yours).
//!
//! The emulator listens on a loopback port and behaves like an RDS or Aurora endpoint
//! whose users log in with IAM tokens: it insists on TLS before it asks for a
//! password, verifies the token (signature, endpoint, region, user, expiry, session
//! token) independently of this crate's signer, and on success logs in to a real
//! database behind it as the same user and relays the session both ways, so the
//! client talks to a real database afterwards. A refused login gets the error RDS
//! gives, and the reason is recorded for tests ([`RunningEmulator::logins`]).
//!
//! Engines: PostgreSQL ([`Engine::Postgres`]) and MySQL/MariaDB ([`Engine::Mysql`]).
//!
//! Needs the cargo feature `emulator`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use aws_credential_types::Credentials;
//! use rds_iam::clock::ManualClock;
//! use rds_iam::emulator::{Emulator, EmulatorConfig, Engine};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = ManualClock::new(std::time::SystemTime::now());
//! let config = EmulatorConfig::builder(Engine::Postgres)
//!     .backend("127.0.0.1:5432".parse()?)
//!     .endpoint("mydb.cluster-abc123.us-east-1.rds.amazonaws.com", 5432)
//!     .region("us-east-1")
//!     .credentials(Credentials::new("AKIDEXAMPLE", "secret", None, None, "test"))
//!     .clock(Arc::new(clock.clone()))
//!     .build()?;
//! let emulator = Emulator::start(config).await?;
//! println!("connect to {} trusting {:?}", emulator.local_addr(), emulator.ca_path());
//! // ... log in with a token; then move the clock to see it expire:
//! clock.advance(std::time::Duration::from_secs(16 * 60));
//! assert_eq!(emulator.plaintext_passwords_received(), 0);
//! # Ok(()) }
//! ```
//!
//! Every login decision is logged with `tracing` at target `rds_iam::emulator`
//! (peer, user, endpoint, decision and reason; never the token).

mod config;
#[doc(hidden)]
pub mod fuzzing;
mod mysql;
mod postgres;
mod tls;
mod verify;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

pub use config::{ConfigError, EmulatorConfig, EmulatorConfigBuilder, Engine, TlsIdentity};
pub use verify::{DEFAULT_ALLOWED_SKEW, MAX_EXPIRES_SECS, Rejection, VerifiedToken, Verifier};

/// Why an emulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}: pick a free address, or port 0 for any free port")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: io::Error,
    },
    /// A TLS certificate or key file could not be read.
    #[error("could not read TLS file {path}: check that it exists and is readable")]
    ReadTlsFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The certificate and key do not make a TLS identity.
    #[error(
        "the TLS certificate and key are not a usable identity: give a PEM certificate chain and its PKCS#8 PEM private key"
    )]
    TlsIdentity {
        /// The cause.
        source: native_tls::Error,
    },
    /// The test CA could not be generated.
    #[error("could not generate the test CA and server certificate")]
    GenerateCa {
        /// The cause.
        source: rcgen::Error,
    },
    /// The generated CA certificate could not be written.
    #[error(
        "could not write the test CA certificate to {path}: check the directory exists and is writable"
    )]
    WriteCa {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// The entry point: [`Emulator::start`].
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Bind the listening socket, set up TLS and start serving on the current tokio
    /// runtime. The emulator stops when the returned handle is dropped (or when the
    /// runtime shuts down).
    pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator, EmulatorError> {
        let server_tls = tls::server_tls(&config.tls, &config.endpoint_host)?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| EmulatorError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let verifier = Verifier::new(
            config.endpoint_host.clone(),
            config.endpoint_port,
            config.region.clone(),
            config.credentials.clone(),
            config.clock.clone(),
            config.allowed_skew,
        );
        let shared = Arc::new(Shared {
            config,
            verifier,
            tls: server_tls.acceptor,
            logins: Mutex::new(Vec::new()),
            plaintext_passwords: AtomicU64::new(0),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        tracing::info!(
            target: "rds_iam::emulator",
            %local_addr,
            engine = %shared.config.engine,
            endpoint = %shared.endpoint(),
            backend = %shared.config.backend,
            "emulator listening"
        );
        Ok(RunningEmulator {
            local_addr,
            shared,
            ca: server_tls.ca,
            stop: Some(stop),
            task,
        })
    }
}

/// A started emulator. Dropping it stops the listener and every relayed session.
pub struct RunningEmulator {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    ca: Option<tls::CaFile>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for RunningEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningEmulator")
            .field("local_addr", &self.local_addr)
            .field("endpoint", &self.shared.endpoint())
            .field("ca_path", &self.ca_path())
            .finish_non_exhaustive()
    }
}

impl RunningEmulator {
    /// The address the emulator listens on (dial this; sign and verify the endpoint name).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The generated CA certificate file clients should trust, if the emulator
    /// generated its certificate ([`TlsIdentity::GenerateTestCa`]).
    pub fn ca_path(&self) -> Option<&Path> {
        self.ca.as_ref().map(|ca| ca.path.as_path())
    }

    /// The generated CA certificate (PEM), if any.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_ref().map(|ca| ca.pem.as_str())
    }

    /// Every login attempt so far, oldest first.
    pub fn logins(&self) -> Vec<LoginRecord> {
        self.shared
            .logins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many passwords clients sent without TLS. The emulator never asks for one
    /// over plaintext; this counts clients that sent one anyway. Must stay 0 for a
    /// client that handles IAM tokens safely.
    pub fn plaintext_passwords_received(&self) -> u64 {
        self.shared.plaintext_passwords.load(Ordering::SeqCst)
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// One login attempt as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRecord {
    /// The client's address.
    pub peer: SocketAddr,
    /// The user name the client logged in as.
    pub user: String,
    /// The database the client asked for, if it named one.
    pub database: Option<String>,
    /// Whether the connection was TLS-encrypted.
    pub tls: bool,
    /// The decision.
    pub outcome: LoginOutcome,
    /// When it was decided, by the emulator's clock.
    pub at: SystemTime,
}

/// How a login attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginOutcome {
    /// The token was valid and the backend accepted the login; the session is relayed.
    Accepted,
    /// The emulator refused the login (with the RDS error).
    Rejected(Rejection),
    /// The token was valid but the backend database did not accept the login.
    BackendFailed(BackendFailure),
}

/// Why the backend database did not take over an accepted login.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendFailure {
    /// The backend could not be reached.
    Unreachable,
    /// The backend refused the login; its error went to the client unchanged.
    Refused {
        /// The backend's SQLSTATE (PostgreSQL) or error code (MySQL).
        code: String,
    },
    /// The backend asked for a password and none was configured
    /// ([`EmulatorConfigBuilder::backend_password`]).
    PasswordNeeded,
    /// The backend spoke something unexpected.
    Protocol,
}

/// State shared by the accept loop and every connection.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) verifier: Verifier,
    pub(crate) tls: tokio_native_tls::TlsAcceptor,
    logins: Mutex<Vec<LoginRecord>>,
    plaintext_passwords: AtomicU64,
}

impl Shared {
    pub(crate) fn endpoint(&self) -> String {
        format!(
            "{}:{}",
            self.config.endpoint_host, self.config.endpoint_port
        )
    }

    /// Record and log one login decision.
    pub(crate) fn record(
        &self,
        peer: SocketAddr,
        user: &str,
        database: Option<&str>,
        tls: bool,
        outcome: LoginOutcome,
    ) {
        let endpoint = self.endpoint();
        match &outcome {
            LoginOutcome::Accepted => tracing::info!(
                target: "rds_iam::emulator",
                %peer, user, endpoint, tls, decision = "accepted", "login accepted"
            ),
            LoginOutcome::Rejected(reason) => tracing::warn!(
                target: "rds_iam::emulator",
                %peer, user, endpoint, tls, decision = "rejected", %reason, "login rejected"
            ),
            LoginOutcome::BackendFailed(failure) => tracing::warn!(
                target: "rds_iam::emulator",
                %peer, user, endpoint, tls, decision = "backend_failed", ?failure,
                "token accepted but the backend database did not accept the login"
            ),
        }
        let record = LoginRecord {
            peer,
            user: user.to_owned(),
            database: database.map(str::to_owned),
            tls,
            outcome,
            at: self.config.clock.now(),
        };
        self.logins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
    }

    pub(crate) fn count_plaintext_password(&self, peer: SocketAddr) {
        self.plaintext_passwords.fetch_add(1, Ordering::SeqCst);
        tracing::error!(
            target: "rds_iam::emulator",
            %peer,
            "a client sent a password without TLS (the emulator never asks for one over plaintext)"
        );
    }
}

/// Serve one connection with the engine's front end (each engine in its own module).
async fn serve(stream: tokio::net::TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    match shared.config.engine {
        Engine::Postgres => postgres::serve(stream, peer, shared).await,
        Engine::Mysql => mysql::serve(stream, peer, shared).await,
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    sessions.spawn(serve(stream, peer, shared.clone()));
                }
                Err(error) => {
                    tracing::warn!(target: "rds_iam::emulator", %error, "accept failed");
                }
            },
        }
    }
    // Dropping `sessions` aborts every relayed session.
}

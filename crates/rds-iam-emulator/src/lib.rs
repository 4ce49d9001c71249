//! # rds-iam-emulator
//!
//! A local IAM-enabled RDS endpoint, for tests (ours and yours): add it as a
//! dev-dependency and point the code under test, or any client (psql, mariadb, JDBC), at it.
//!
//! The emulator listens on a loopback port and behaves like an RDS or Aurora endpoint
//! whose users log in with IAM tokens: it insists on TLS before it asks for a
//! password, verifies the token (signature, endpoint, region, user, expiry, session
//! token) independently of this crate's signer, and on success logs in to a real
//! database behind it as the same user and relays the session both ways, so the
//! client talks to a real database afterwards. A refused login gets the error RDS
//! gives, and the reason is recorded for tests ([`RunningEmulator::logins`]).
//!
//! Hostile clients are bounded: each step of a login has a time limit
//! ([`EmulatorConfigBuilder::handshake_timeout`]), the number of connections is capped
//! ([`EmulatorConfigBuilder::max_connections`]), the emulator keeps only the most recent
//! login records ([`EmulatorConfigBuilder::login_history`]) and cuts what clients chose
//! (user and database names) to [`MAX_CLIENT_TEXT`] bytes in records and logs, and it
//! backs off when accepting fails (out of file descriptors), logging once per burst.
//!
//! Wire protocols: PostgreSQL ([`Wire::Postgres`]) and MySQL/MariaDB ([`Wire::Mysql`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use aws_credential_types::Credentials;
//! use rds_iam::clock::ManualClock;
//! use rds_iam_emulator::{Emulator, EmulatorConfig, Wire};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let clock = ManualClock::new(std::time::SystemTime::now());
//! let config = EmulatorConfig::builder(Wire::Postgres)
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
//! Every login decision is logged with `tracing` at target `rds_iam_emulator`
//! (peer, user, endpoint, decision and reason; never the token). Listening on an
//! address other than loopback is logged as a warning.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
#[doc(hidden)]
pub mod fuzzing;
mod mysql;
mod postgres;
mod tls;
mod verify;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::{JoinHandle, JoinSet};

pub use config::{
    ConfigError, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_LOGIN_HISTORY, DEFAULT_MAX_CONNECTIONS,
    EmulatorConfig, EmulatorConfigBuilder, TlsIdentity, Wire,
};
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
    /// The test CA could not be generated (for example for an endpoint host name that is not
    /// ASCII).
    #[error(
        "could not generate the test CA and a server certificate for the endpoint host: give \
         EmulatorConfigBuilder::endpoint an ASCII host name or an IP address, or give a \
         certificate and key (EmulatorConfigBuilder::tls with TlsIdentity::PemFiles)"
    )]
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
            logins: Mutex::new(Logins::default()),
            plaintext_passwords: AtomicU64::new(0),
            mysql: mysql::State::default(),
        });
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        tracing::info!(
            target: "rds_iam_emulator",
            %local_addr,
            wire = %shared.config.wire,
            endpoint = %shared.endpoint(),
            backend = %shared.config.backend,
            "emulator listening"
        );
        if !local_addr.ip().is_loopback() {
            tracing::warn!(
                target: "rds_iam_emulator",
                %local_addr,
                "the emulator listens on a non-loopback address: other machines can reach this \
                 test endpoint and the database behind it; listen on 127.0.0.1 unless that is meant"
            );
        }
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

    /// The most recent login attempts, oldest first: at most
    /// [`EmulatorConfigBuilder::login_history`] of them (every attempt is counted in
    /// [`login_counts`](Self::login_counts)).
    pub fn logins(&self) -> Vec<LoginRecord> {
        self.shared.logins().recent.iter().cloned().collect()
    }

    /// How many login attempts ended each way since the emulator started.
    pub fn login_counts(&self) -> LoginCounts {
        self.shared.logins().counts
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

/// The longest text chosen by a client (user name, database name) that a
/// [`LoginRecord`] or a log line holds, in bytes. Longer text is cut at a character
/// boundary and ends in `…`.
pub const MAX_CLIENT_TEXT: usize = 128;

/// `text` as records and logs show it: at most [`MAX_CLIENT_TEXT`] bytes plus `…`.
pub(crate) fn client_text(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_CLIENT_TEXT {
        return Cow::Borrowed(text);
    }
    let mut end = MAX_CLIENT_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

/// One login attempt as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRecord {
    /// The client's address.
    pub peer: SocketAddr,
    /// The user name the client logged in as (cut to [`MAX_CLIENT_TEXT`] bytes).
    pub user: String,
    /// The database the client asked for, if it named one (cut to [`MAX_CLIENT_TEXT`]
    /// bytes).
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

/// How many login attempts ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginCounts {
    /// [`LoginOutcome::Accepted`].
    pub accepted: u64,
    /// [`LoginOutcome::Rejected`].
    pub rejected: u64,
    /// [`LoginOutcome::BackendFailed`].
    pub backend_failed: u64,
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
    /// The backend login took longer than the handshake timeout
    /// ([`EmulatorConfigBuilder::handshake_timeout`]).
    TimedOut,
}

/// State shared by the accept loop and every connection.
pub(crate) struct Shared {
    pub(crate) config: EmulatorConfig,
    pub(crate) verifier: Verifier,
    pub(crate) tls: tokio_native_tls::TlsAcceptor,
    logins: Mutex<Logins>,
    plaintext_passwords: AtomicU64,
    /// What the MySQL front end learns once and shares between connections.
    pub(crate) mysql: mysql::State,
}

/// The most recent login records and the counts of all.
#[derive(Default)]
struct Logins {
    recent: VecDeque<LoginRecord>,
    counts: LoginCounts,
}

impl Shared {
    pub(crate) fn endpoint(&self) -> String {
        format!(
            "{}:{}",
            self.config.endpoint_host, self.config.endpoint_port
        )
    }

    fn logins(&self) -> std::sync::MutexGuard<'_, Logins> {
        self.logins.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run one step of a login (`stage` names it for the log) within the handshake
    /// timeout; past it the step fails with `TimedOut` and the connection is closed.
    pub(crate) async fn stage<T>(
        &self,
        peer: SocketAddr,
        stage: &'static str,
        step: impl Future<Output = io::Result<T>>,
    ) -> io::Result<T> {
        match tokio::time::timeout(self.config.handshake_timeout, step).await {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(target: "rds_iam_emulator", %peer, stage, "login step timed out; closing the connection");
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("timed out waiting for {stage}"),
                ))
            }
        }
    }

    /// Record and log one login decision. `user` and `database` are the client's and
    /// are cut to [`MAX_CLIENT_TEXT`] here.
    pub(crate) fn record(
        &self,
        peer: SocketAddr,
        user: &str,
        database: Option<&str>,
        tls: bool,
        outcome: LoginOutcome,
    ) {
        let endpoint = self.endpoint();
        let user = &*client_text(user);
        match &outcome {
            LoginOutcome::Accepted => tracing::info!(
                target: "rds_iam_emulator",
                %peer, user, endpoint, tls, decision = "accepted", "login accepted"
            ),
            LoginOutcome::Rejected(reason) => tracing::warn!(
                target: "rds_iam_emulator",
                %peer, user, endpoint, tls, decision = "rejected", %reason, "login rejected"
            ),
            LoginOutcome::BackendFailed(failure) => tracing::warn!(
                target: "rds_iam_emulator",
                %peer, user, endpoint, tls, decision = "backend_failed", ?failure,
                "token accepted but the backend database did not accept the login"
            ),
        }
        let mut logins = self.logins();
        let counts = &mut logins.counts;
        match outcome {
            LoginOutcome::Accepted => counts.accepted += 1,
            LoginOutcome::Rejected(_) => counts.rejected += 1,
            LoginOutcome::BackendFailed(_) => counts.backend_failed += 1,
        }
        if self.config.login_history == 0 {
            return;
        }
        if logins.recent.len() == self.config.login_history {
            logins.recent.pop_front();
        }
        logins.recent.push_back(LoginRecord {
            peer,
            user: user.to_owned(),
            database: database.map(|d| client_text(d).into_owned()),
            tls,
            outcome,
            at: self.config.clock.now(),
        });
    }

    pub(crate) fn count_plaintext_password(&self, peer: SocketAddr) {
        self.plaintext_passwords.fetch_add(1, Ordering::SeqCst);
        tracing::error!(
            target: "rds_iam_emulator",
            %peer,
            "a client sent a password without TLS (the emulator never asks for one over plaintext)"
        );
    }
}

/// Serve one connection with the engine's front end (each engine in its own module),
/// holding one of the connection slots until it ends.
async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    _slot: OwnedSemaphorePermit,
) {
    match shared.config.wire {
        Wire::Postgres => postgres::serve(stream, peer, shared).await,
        Wire::Mysql => mysql::serve(stream, peer, shared).await,
    }
}

/// The first pause after a failed `accept`; it doubles with each failure in a row.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two `accept` attempts.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut sessions = JoinSet::new();
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    // Failed accepts in a row (the file-descriptor limit: the same pending connection
    // fails again at once), and connections refused in a row at the limit. Each burst
    // is logged once when it starts and once when it ends.
    let mut failed_accepts = 0u64;
    let mut refused = 0u64;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    if failed_accepts > 0 {
                        tracing::warn!(target: "rds_iam_emulator", failed_accepts, "accepting connections again");
                        failed_accepts = 0;
                    }
                    match slots.clone().try_acquire_owned() {
                        Ok(slot) => {
                            if refused > 0 {
                                tracing::warn!(target: "rds_iam_emulator", refused, "below the connection limit again");
                                refused = 0;
                            }
                            let _ = stream.set_nodelay(true);
                            sessions.spawn(serve(stream, peer, shared.clone(), slot));
                        }
                        Err(_) => {
                            if refused == 0 {
                                tracing::warn!(
                                    target: "rds_iam_emulator",
                                    max_connections = shared.config.max_connections,
                                    "connection limit reached: refusing new connections until some close"
                                );
                            }
                            refused += 1;
                            refuse_over_limit(stream, shared.config.wire);
                        }
                    }
                }
                Err(error) => {
                    if failed_accepts == 0 {
                        tracing::warn!(
                            target: "rds_iam_emulator", %error,
                            "accept failed; retrying with back-off (failures in a row are not logged)"
                        );
                    }
                    failed_accepts += 1;
                    let pause = ACCEPT_BACKOFF_MIN
                        .saturating_mul(1 << failed_accepts.min(10).saturating_sub(1))
                        .min(ACCEPT_BACKOFF_MAX);
                    tokio::select! {
                        _ = &mut stop => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                }
            },
        }
    }
    // Dropping `sessions` aborts every relayed session.
}

/// Answer a connection over the limit with the engine's "too many connections" error
/// and close it, without waiting on the client: the write goes into the fresh socket's
/// empty send buffer, and what the client already sent is read so that closing sends a
/// FIN (a reset could discard the error before the client reads it).
fn refuse_over_limit(stream: TcpStream, wire: Wire) {
    let reply = match wire {
        Wire::Postgres => postgres::too_many_connections(),
        Wire::Mysql => mysql::too_many_connections(),
    };
    let Ok(mut stream) = stream.into_std() else {
        return;
    };
    let mut sent = io::Write::write(&mut stream, &reply);
    if matches!(&sent, Ok(n) if *n < reply.len()) {
        sent = Err(io::ErrorKind::WriteZero.into());
    }
    let mut scratch = [0u8; 4096];
    for _ in 0..16 {
        match io::Read::read(&mut stream, &mut scratch) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    if let Err(error) = sent {
        tracing::debug!(target: "rds_iam_emulator", %error, "could not send the connection-limit error");
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    /// Every message of [`EmulatorError`], pinned; the cause is the source, not in the message.
    #[test]
    fn messages() {
        let io = || io::Error::other("distinctive-io-cause");
        let Err(tls) = native_tls::Identity::from_pkcs8(b"no", b"key") else {
            panic!("an identity from nothing")
        };
        let Err(rcgen) = rcgen::CertificateParams::new(vec!["bücher.example".to_owned()]) else {
            panic!("a certificate name that is not ASCII")
        };
        for (e, text) in [
            (
                EmulatorError::Bind {
                    addr: "127.0.0.1:15432".parse().unwrap(),
                    source: io(),
                },
                "could not listen on 127.0.0.1:15432: pick a free address, or port 0 for any \
                 free port",
            ),
            (
                EmulatorError::ReadTlsFile {
                    path: "/etc/emulator/cert.pem".into(),
                    source: io(),
                },
                "could not read TLS file /etc/emulator/cert.pem: check that it exists and is \
                 readable",
            ),
            (
                EmulatorError::TlsIdentity { source: tls },
                "the TLS certificate and key are not a usable identity: give a PEM certificate \
                 chain and its PKCS#8 PEM private key",
            ),
            (
                EmulatorError::GenerateCa { source: rcgen },
                "could not generate the test CA and a server certificate for the endpoint host: \
                 give EmulatorConfigBuilder::endpoint an ASCII host name or an IP address, or \
                 give a certificate and key (EmulatorConfigBuilder::tls with \
                 TlsIdentity::PemFiles)",
            ),
            (
                EmulatorError::WriteCa {
                    path: "/tmp/emulator-ca.pem".into(),
                    source: io(),
                },
                "could not write the test CA certificate to /tmp/emulator-ca.pem: check the \
                 directory exists and is writable",
            ),
        ] {
            assert_eq!(e.to_string(), text);
            let source = e.source().expect("every variant has a cause").to_string();
            assert!(!text.contains(&source), "{source:?} repeated in: {text}");
        }
    }
}

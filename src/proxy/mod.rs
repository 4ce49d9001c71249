//! A local IAM login proxy (feature `proxy`): PostgreSQL, MySQL and MariaDB clients that
//! cannot embed this crate (psql, the mariadb command, Liquibase and Flyway over JDBC, GUI
//! tools) connect to it on loopback without a password; for each client it dials the database the JDBC URL names, verifies its
//! certificate, logs in with an IAM token from the token cache for the user the client named,
//! and then relays the session's bytes unchanged. The `rds-iam proxy` command is this, with
//! flags.
//!
//! ```no_run
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::proxy::ProxyBuilder;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!      ?wrapperPlugins=iam&user=harness_iam_user&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem",
//! )?;
//! let proxy = ProxyBuilder::from_url(&url)?
//!     .listen("127.0.0.1:0".parse()?) // any free port
//!     .start()
//!     .await?;
//! // Any tool: jdbc:postgresql://127.0.0.1:{port}/postgres?user=harness_iam_user, no password.
//! println!("listening on {}", proxy.local_addr());
//! // ... run the migrations ...
//! proxy.shutdown(std::time::Duration::from_secs(10)).await;
//! # Ok(()) }
//! ```
//!
//! # What a client sees
//!
//! The engine is the URL's: `postgresql` URLs serve PostgreSQL clients, `mysql` and `mariadb`
//! URLs MySQL and MariaDB clients.
//!
//! PostgreSQL:
//!
//! - The client speaks plaintext to the proxy: an `SSLRequest` is answered `N`, so
//!   `sslmode=prefer` and `disable` work; a `require` client stops there with libpq's own
//!   "server does not support SSL" (the proxy logs that the proxy is the TLS end). Keep the
//!   proxy on loopback (the default; another address needs
//!   [`allow_non_loopback`](ProxyBuilder::allow_non_loopback)) or on a Unix socket.
//! - No password is asked for; any given is never read. The client sees the server's own
//!   `AuthenticationOk`, parameters (`server_version` and the others), backend key, errors and
//!   results.
//! - A login that fails reaches the client as a PostgreSQL `ErrorResponse` (`FATAL`, SQLSTATE
//!   28000 for a rejected token, 08006 for TLS and network failures) whose message is this
//!   crate's diagnosis ([`ConnectError`]: which check failed and what to change); a server
//!   that refuses the session itself (no such database) is passed on as it said it.
//! - A cancel request (psql's Ctrl-C, `Statement.cancel()`) is forwarded, over a verified TLS
//!   connection, to the server of the session whose backend key it carries.
//!
//! MySQL and MariaDB:
//!
//! - The proxy reads the server's greeting first (sending it nothing), then greets the client
//!   with the server's version, connection id, character set, status and capabilities, less
//!   TLS (the client speaks plaintext to the proxy; one that asks for TLS is told the proxy is
//!   the TLS end) and compression, with a scramble of the proxy's own.
//! - The client's handshake response gives the user and database; any password in it is never
//!   read. The proxy logs in to the server with the capabilities the client chose (plus TLS),
//!   its character set, database and connection attributes, so the client and the server
//!   agree on the session's format; the token goes by `mysql_clear_password` (as RDS asks)
//!   only after the certificate is verified. The server's OK reaches the client, then the
//!   session is relayed unchanged; `KILL <id>` works with the id the client saw (the greeting's;
//!   after a retry, or for a client slower than 5 s, the session is on a new server connection
//!   whose id `CONNECTION_ID()` gives: a driver's cancel that kills the greeting's id, such as
//!   Connector/J's `Statement.cancel()`, does not reach it then).
//! - A login that fails reaches the client as a MySQL ERR packet whose message is the
//!   diagnosis: 1045 (SQLSTATE 28000) for a rejected token or a user the proxy does not log in
//!   as, 2003 for TLS and network failures (as MySQL Router says it); a server that refuses
//!   the session itself (no such database) is passed on as it said it. Over the connection
//!   limit a client gets 1040 (too many connections) instead of a greeting.
//!
//! # The login, per client
//!
//! The same as the connectors' ([`crate::connect`]): the hosts of the URL in order
//! ([`crate::plan`]: what is dialled, signed and verified), TLS started and the certificate
//! checked as the URL says before anything else is sent, a token from the
//! [`TokenProvider`] (one signature serves every client for its lifetime), and one retry with
//! a fresh token when the server rejects a cached one. The token is sent only over that
//! verified connection; it is never logged, counted or put in an error.
//!
//! # Security
//!
//! Whoever can connect to the proxy logs in as the IAM user: that is its purpose. The
//! listening address is loopback unless [`allow_non_loopback`](ProxyBuilder::allow_non_loopback)
//! says otherwise; the users it logs in as are the URL's (or the builder's
//! [`user`](ProxyBuilder::user)) unless [`allow_user`](ProxyBuilder::allow_user) lists others.
//!

mod http;
mod metrics;
mod mysql;
mod postgres;
mod relay;
mod upstream;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::connect::builder::{shared_setters, tls_setup, tokens_or_default};
use crate::connect::{ConnectError, Settings};
use crate::jdbc::{Engine, JdbcUrl};
use crate::plan::Target;
use crate::provider::TokenProvider;

pub use metrics::{FailureCause, ProxyMetrics};

use metrics::Counters;
use upstream::{Dialer, make_tls};

/// The default limit on a client's start-up and the login to the server.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many ports after the engine's default port are tried when no address is given.
const PORT_TRIES: u16 = 20;

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The URL, the TLS set-up or the credentials are refused (as by a connector).
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The address is not a loopback address and that was not allowed.
    #[error(
        "the proxy would listen on {addr}, which is not a loopback address: anyone who can reach \
         it would log in to the database as the IAM user without a password; listen on \
         127.0.0.1 or ::1, or allow it explicitly if that is what you want"
    )]
    NonLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The Unix socket could not be made.
    #[error(
        "could not make the Unix socket {}: check that its directory exists and is writable, and \
         that no other server uses that socket", path.display()
    )]
    UnixSocket {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The address could not be bound.
    #[error(
        "could not listen on {addr}: choose another address or port (is another server using it?)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// Builds and starts a proxy: [`ProxyBuilder::from_url`].
#[derive(Debug)]
pub struct ProxyBuilder {
    settings: Settings,
    tokens: Option<TokenProvider>,
    engine: Engine,
    listen: Option<SocketAddr>,
    non_loopback: bool,
    allowed: Vec<String>,
    max_connections: Option<usize>,
    handshake_timeout: Duration,
    idle_timeout: Option<Duration>,
    http: Option<SocketAddr>,
    unix_dir: Option<std::path::PathBuf>,
}

impl ProxyBuilder {
    /// A builder with the settings of `url` (hosts, user, `iamHost`, `iamDefaultPort`,
    /// `iamRegion`, the TLS mode and CA file, `connectTimeout`, `iamExpiration`).
    ///
    /// ```
    /// use rds_iam::jdbc::JdbcUrl;
    /// use rds_iam::proxy::ProxyBuilder;
    ///
    /// let url = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/app?user=u")?;
    /// let builder = ProxyBuilder::from_url(&url)?.max_connections(50);
    /// # let _ = builder;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_url(url: &JdbcUrl) -> Result<Self, ProxyError> {
        let engines = [Engine::Postgresql, Engine::Mysql, Engine::Mariadb];
        Ok(Self {
            settings: Settings::from_url(url, "the proxy", &engines)?,
            tokens: None,
            engine: url.engine(),
            listen: None,
            non_loopback: false,
            allowed: Vec::new(),
            max_connections: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            idle_timeout: None,
            http: None,
            unix_dir: None,
        })
    }

    shared_setters!();

    /// The address to listen on. Default: 127.0.0.1 and the engine's default port (5432 or 3306), or
    /// the next free one; port 0 takes any free port ([`RunningProxy::local_addr`] says which).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Whether an address that is not loopback may be listened on (default: no).
    ///
    /// # Security
    ///
    /// Anyone who can reach such an address logs in to the database as the IAM user, with no
    /// password. A warning is logged when the proxy starts on one.
    pub fn allow_non_loopback(mut self, allow: bool) -> Self {
        self.non_loopback = allow;
        self
    }

    /// Also log in as `user` when a client names it. Without any, the proxy logs in only as
    /// the URL's user (or the one given to [`user`](Self::user)); with some, only as these.
    pub fn allow_user(mut self, user: impl Into<String>) -> Self {
        self.allowed.push(user.into());
        self
    }

    /// At most `n` client sessions at once; the next client gets PostgreSQL's "too many
    /// clients" error (SQLSTATE 53300) or MySQL's 1040 (too many connections) naming the limit.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// The limit on a client's start-up and on the login to the server
    /// ([`DEFAULT_HANDSHAKE_TIMEOUT`]); a client that sends nothing (or garbage) is dropped.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Close a session in which nothing moved either way for `timeout` (default: never).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Serve health checks and metrics over HTTP on `addr`: `/startup` and `/liveness` (200
    /// while the proxy runs), `/readiness` (200 while it accepts clients under its connection
    /// limit, else 503; it never dials the database), `/metrics` (Prometheus text format, see
    /// [`ProxyMetrics::prometheus`]). No label or body carries a user name, address or secret.
    pub fn http_address(mut self, addr: SocketAddr) -> Self {
        self.http = Some(addr);
        self
    }

    /// Also listen on a Unix socket in the directory `dir` (which must exist), named as libpq
    /// expects: `DIR/.s.PGSQL.5432`, so that `psql -h DIR` connects (for MySQL and MariaDB:
    /// `DIR/mysql.sock`, for `mariadb --socket=DIR/mysql.sock`). The socket is made
    /// readable and writable by its owner only (mode 0600); a stale socket of that name is
    /// replaced, and the socket is removed at [`RunningProxy::shutdown`].
    #[cfg(unix)]
    pub fn unix_socket(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.unix_dir = Some(dir.into());
        self
    }

    /// Load the CAs, build the TLS connector, set up the token provider (the default AWS
    /// credentials chain unless one is given), bind the address and start serving.
    pub async fn start(mut self) -> Result<RunningProxy, ProxyError> {
        if let Some(addr) = self.listen
            && !addr.ip().is_loopback()
            && !self.non_loopback
        {
            return Err(ProxyError::NonLoopback { addr });
        }
        if self.settings.signing.user.is_none() {
            self.settings.signing.user = self.allowed.first().cloned();
        }
        let targets = self.settings.targets()?;
        if self.allowed.is_empty() {
            self.allowed.push(targets[0].token.user.clone());
        }
        let (bundle, tls) = tls_setup(&self.settings, make_tls)
            .await
            .map_err(ProxyError::from)?;
        let trusted = bundle.trusted_in(self.settings.mode).to_string();
        let tokens = tokens_or_default(self.tokens.take(), &self.settings).await?;
        let listener = self.bind().await?;
        let http = match self.http {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ProxyError::Bind { addr, source })?,
            ),
            None => None,
        };
        let local_addr = listener.local_addr().map_err(|source| ProxyError::Bind {
            addr: self
                .listen
                .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            source,
        })?;
        if !local_addr.ip().is_loopback() {
            tracing::warn!(
                target: "rds_iam::proxy",
                %local_addr,
                "listening on an address that is not loopback: anyone who can reach it logs in to \
                 the database as the IAM user without a password"
            );
        }
        let (stop, _) = watch::channel(false);
        let state = Arc::new(State {
            targets,
            tokens,
            engine: self.engine,
            dialer: Dialer {
                tls,
                trusted,
                connect_timeout: self.settings.connect_timeout,
            },
            allowed: self.allowed,
            default_database: self.settings.database.clone(),
            handshake_timeout: self.handshake_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            counters: Counters::default(),
            cancel_keys: Mutex::new(HashMap::new()),
            stop,
            accepting: AtomicBool::new(true),
        });
        tracing::info!(
            target: "rds_iam::proxy",
            %local_addr,
            servers = %state.targets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            tls_mode = %self.settings.mode,
            users = %state.allowed_list(),
            "proxy ready"
        );
        #[cfg(unix)]
        let unix = match &self.unix_dir {
            Some(dir) => Some(bind_unix(dir, self.engine)?),
            None => None,
        };
        let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
        let http = http.map(|listener| tokio::spawn(http::serve(listener, state.clone())));
        let accept = tokio::spawn(accept_loop(listener, state.clone()));
        #[cfg(unix)]
        let unix = unix.map(|(listener, path)| {
            tracing::info!(target: "rds_iam::proxy", socket = %path.display(), "also listening on a Unix socket");
            (tokio::spawn(unix_accept_loop(listener, state.clone())), path)
        });
        Ok(RunningProxy {
            local_addr,
            http_addr,
            state,
            accept,
            http,
            #[cfg(unix)]
            unix,
        })
    }

    async fn bind(&self) -> Result<TcpListener, ProxyError> {
        if let Some(addr) = self.listen {
            if !addr.ip().is_loopback() && !self.non_loopback {
                return Err(ProxyError::NonLoopback { addr });
            }
            return TcpListener::bind(addr)
                .await
                .map_err(|source| ProxyError::Bind { addr, source });
        }
        let first = self.engine.default_port();
        let mut last = None;
        for port in first..first.saturating_add(PORT_TRIES) {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match TcpListener::bind(addr).await {
                Ok(listener) => return Ok(listener),
                Err(source) => last = Some((addr, source)),
            }
        }
        let (addr, source) = last.unwrap_or_else(|| {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, first));
            (addr, io::Error::other("no port to try"))
        });
        Err(ProxyError::Bind { addr, source })
    }
}

/// What the sessions share.
pub(crate) struct State {
    targets: Vec<Target>,
    tokens: TokenProvider,
    engine: Engine,
    dialer: Dialer,
    allowed: Vec<String>,
    default_database: Option<String>,
    handshake_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_connections: Option<usize>,
    counters: Counters,
    /// The backend key of each open session, and its server.
    cancel_keys: Mutex<HashMap<[u8; 8], Target>>,
    /// Set when the proxy stops: the relays end.
    stop: watch::Sender<bool>,
    /// Whether clients are accepted (for `/readiness`).
    accepting: AtomicBool,
}

impl State {
    fn allows(&self, user: &str) -> bool {
        self.allowed.iter().any(|a| a == user)
    }

    fn allowed_list(&self) -> String {
        self.allowed
            .iter()
            .map(|u| format!("\"{u}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The targets, signed for `user`.
    fn targets_for(&self, user: &str) -> Vec<Target> {
        self.targets
            .iter()
            .map(|t| {
                let mut t = t.clone();
                t.token.user = user.to_owned();
                t
            })
            .collect()
    }

    /// The error of a login that did not finish within the handshake timeout.
    fn timed_out(&self, targets: &[Target]) -> ConnectError {
        ConnectError::Timeout {
            server: targets
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            after: self.handshake_timeout,
        }
    }

    /// Count and log a failed login; its cause.
    fn login_failed(&self, peer: &Peer, user: &str, err: &ConnectError) -> FailureCause {
        let cause = FailureCause::of(err);
        self.counters.failed(cause);
        tracing::warn!(target: "rds_iam::proxy", %peer, user = %user, cause = cause.as_str(), error = %describe(err), "login failed");
        cause
    }

    /// Count and log a login.
    fn logged_in(&self, peer: &Peer, user: &str) {
        self.counters.logins_ok.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: "rds_iam::proxy", %peer, user = %user, "client logged in");
    }

    /// Serve `client` with its accepted connection, for its engine.
    async fn serve<C>(self: Arc<Self>, client: C, peer: Peer, permit: Option<Permit>)
    where
        C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        match self.engine {
            Engine::Postgresql => postgres::serve(self, client, peer, permit).await,
            Engine::Mysql | Engine::Mariadb => mysql::serve(self, client, peer, permit).await,
        }
    }

    /// A session slot, unless the limit is reached.
    fn permit(self: &Arc<Self>) -> Option<Permit> {
        let open = self.counters.open.fetch_add(1, Ordering::AcqRel);
        let permit = Permit(self.clone());
        match self.max_connections {
            Some(max) if open >= max as u64 => None, // the permit's drop gives the slot back
            _ => Some(permit),
        }
    }
}

/// One open client session (counted in `connections_open`).
pub(crate) struct Permit(Arc<State>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.counters.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Who a client is, for the logs.
pub(crate) enum Peer {
    /// A TCP client.
    Tcp(SocketAddr),
    /// A client of the Unix socket.
    Unix,
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(addr) => addr.fmt(f),
            Self::Unix => f.write_str("unix socket"),
        }
    }
}

/// Bind `DIR/.s.PGSQL.PORT` (or `DIR/mysql.sock`), owner-only.
#[cfg(unix)]
fn bind_unix(
    dir: &std::path::Path,
    engine: Engine,
) -> Result<(tokio::net::UnixListener, std::path::PathBuf), ProxyError> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let path = match engine {
        Engine::Postgresql => dir.join(format!(".s.PGSQL.{}", engine.default_port())),
        Engine::Mysql | Engine::Mariadb => dir.join("mysql.sock"),
    };
    let failed = |source| ProxyError::UnixSocket {
        path: path.clone(),
        source,
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(&path).map_err(failed)?;
    }
    let listener = tokio::net::UnixListener::bind(&path).map_err(failed)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).map_err(failed)?;
    Ok((listener, path))
}

#[cfg(unix)]
async fn unix_accept_loop(listener: tokio::net::UnixListener, state: Arc<State>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(target: "rds_iam::proxy", %error, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        state.counters.total.fetch_add(1, Ordering::Relaxed);
        let permit = state.permit();
        tokio::spawn(state.clone().serve(stream, Peer::Unix, permit));
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(target: "rds_iam::proxy", %error, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        state.counters.total.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let permit = state.permit();
        tokio::spawn(state.clone().serve(stream, Peer::Tcp(peer), permit));
    }
}

/// Relay a logged-in session to its end, and log how it ended.
pub(crate) async fn relay_session<C, S>(
    state: &State,
    peer: &Peer,
    client: C,
    server: S,
    permit: Permit,
) where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let end = relay::relay(
        client,
        server,
        state.idle_timeout,
        state.stop.subscribe(),
        &state.counters.bytes_to_server,
        &state.counters.bytes_to_client,
    )
    .await;
    match end {
        relay::End::Closed => tracing::debug!(target: "rds_iam::proxy", %peer, "session ended"),
        relay::End::Idle => {
            tracing::info!(target: "rds_iam::proxy", %peer, after = ?state.idle_timeout, "closed an idle session")
        }
        relay::End::Stopped => {
            tracing::info!(target: "rds_iam::proxy", %peer, "closed a session: the proxy is stopping")
        }
    }
    drop(permit);
}

/// An error's message and its causes, on one line (no cause repeats its parent: the crate's
/// errors keep their causes out of their messages).
pub(crate) fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// A running proxy. Dropping it leaves the proxy running until the runtime ends; stop it with
/// [`shutdown`](Self::shutdown).
#[derive(Debug)]
pub struct RunningProxy {
    local_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    state: Arc<State>,
    accept: JoinHandle<()>,
    http: Option<JoinHandle<()>>,
    /// The Unix socket's accept task and path.
    #[cfg(unix)]
    unix: Option<(JoinHandle<()>, std::path::PathBuf)>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("targets", &self.targets)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

/// How a [`RunningProxy::shutdown`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shutdown {
    /// Sessions still open when the grace period ended, then closed (0: all ended by
    /// themselves).
    pub closed: u64,
}

impl RunningProxy {
    /// The address the proxy listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address of the health and metrics endpoints, when asked for
    /// ([`ProxyBuilder::http_address`]).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The counters now.
    pub fn metrics(&self) -> ProxyMetrics {
        self.state.counters.snapshot(self.state.tokens.stats())
    }

    /// The token provider (shared by every session; its statistics are the cache's).
    pub fn token_provider(&self) -> &TokenProvider {
        &self.state.tokens
    }

    /// Whether the proxy still accepts clients.
    pub fn is_accepting(&self) -> bool {
        !self.accept.is_finished()
    }

    /// One full IAM login to the server (TLS, token, start-up) as the first allowed user, then
    /// log out: what `--run-connection-test` does.
    pub async fn test_login(&self) -> Result<(), ConnectError> {
        let state = &*self.state;
        let user = state.allowed[0].clone();
        if state.engine != Engine::Postgresql {
            return mysql::test_login(state, &user).await;
        }
        let mut params = vec![("user".to_owned(), user.clone())];
        if let Some(database) = &state.default_database {
            params.push(("database".to_owned(), database.clone()));
        }
        let targets = state.targets_for(&user);
        let session = crate::connect::login::each_target(&targets, |_, target| {
            let params = &params;
            crate::connect::login::login(&state.tokens, target, Engine::Postgresql, move |token| {
                state.dialer.postgres_login(target, params, token)
            })
        })
        .await?;
        let mut stream = session.stream;
        // Terminate.
        let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, &[b'X', 0, 0, 0, 4]).await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
        Ok(())
    }

    /// Stop accepting clients, wait up to `grace` for the open sessions to end, then close
    /// those left.
    pub async fn shutdown(mut self, grace: Duration) -> Shutdown {
        self.state.accepting.store(false, Ordering::Release);
        self.accept.abort();
        let _ = (&mut self.accept).await;
        #[cfg(unix)]
        if let Some((task, path)) = &self.unix {
            task.abort();
            let _ = std::fs::remove_file(path);
        }
        let open = || self.state.counters.open.load(Ordering::Acquire);
        let deadline = tokio::time::Instant::now() + grace;
        while open() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20).min(grace)).await;
        }
        let closed = open();
        if closed > 0 {
            tracing::info!(target: "rds_iam::proxy", sessions = closed, "closing the sessions still open");
            self.state.stop.send_replace(true);
            let until = tokio::time::Instant::now() + Duration::from_secs(1);
            while open() > 0 && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if let Some(http) = &self.http {
            http.abort();
        }
        tracing::info!(target: "rds_iam::proxy", "proxy stopped");
        Shutdown { closed }
    }
}

//! The proxy's counters, and their Prometheus text form. No label value comes from a client or
//! a server (no user names, no addresses): the causes are a fixed list.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::connect::ConnectError;
use crate::provider::ProviderStats;

/// Why a client's login failed, as counted in `rds_iam_proxy_logins_failed_total{cause=..}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureCause {
    /// The server rejected the IAM token (after the one retry, if it was cached).
    Rejected,
    /// No token could be had (credentials).
    Token,
    /// The server's certificate, host name or TLS handshake failed verification, or the server
    /// refused TLS.
    Tls,
    /// The server could not be reached, or did not answer in time.
    Unreachable,
    /// The server refused the session or the connection broke.
    Server,
    /// The client named a database user the proxy does not log in as.
    UserNotAllowed,
    /// The client sent something that is not a start-up, or nothing in time.
    Client,
    /// The proxy's connection limit was reached.
    TooManyConnections,
}

impl FailureCause {
    const ALL: [FailureCause; 8] = [
        Self::Rejected,
        Self::Token,
        Self::Tls,
        Self::Unreachable,
        Self::Server,
        Self::UserNotAllowed,
        Self::Client,
        Self::TooManyConnections,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Token => "token",
            Self::Tls => "tls",
            Self::Unreachable => "unreachable",
            Self::Server => "server",
            Self::UserNotAllowed => "user_not_allowed",
            Self::Client => "client",
            Self::TooManyConnections => "too_many_connections",
        }
    }

    /// The cause of a failed login to the server.
    pub(crate) fn of(err: &ConnectError) -> Self {
        match err {
            ConnectError::AllHostsFailed { last, .. } => Self::of(last),
            e if e.is_login_rejected() => Self::Rejected,
            ConnectError::Token { .. } | ConnectError::Credentials(_) => Self::Token,
            ConnectError::TlsRefused { .. }
            | ConnectError::UntrustedCertificate { .. }
            | ConnectError::HostNameMismatch { .. }
            | ConnectError::Handshake { .. }
            | ConnectError::VerifyCaWithoutDnsName { .. } => Self::Tls,
            ConnectError::Unreachable { .. } | ConnectError::Timeout { .. } => Self::Unreachable,
            _ => Self::Server,
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// Live counters, shared by the sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) open: AtomicU64,
    pub(crate) total: AtomicU64,
    pub(crate) logins_ok: AtomicU64,
    failed: [AtomicU64; 8],
    pub(crate) bytes_to_server: AtomicU64,
    pub(crate) bytes_to_client: AtomicU64,
    pub(crate) cancels: AtomicU64,
}

impl Counters {
    pub(crate) fn failed(&self, cause: FailureCause) {
        self.failed[cause.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, tokens: ProviderStats) -> ProxyMetrics {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyMetrics {
            connections_open: load(&self.open),
            connections_total: load(&self.total),
            logins_ok: load(&self.logins_ok),
            logins_failed: FailureCause::ALL
                .iter()
                .map(|c| (*c, load(&self.failed[c.index()])))
                .collect(),
            tokens_minted: tokens.minted,
            token_cache_hits: tokens.hits,
            bytes_to_server: load(&self.bytes_to_server),
            bytes_to_client: load(&self.bytes_to_client),
            cancels_forwarded: load(&self.cancels),
        }
    }
}

/// A snapshot of a running proxy's counters ([`RunningProxy::metrics`](super::RunningProxy::metrics)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyMetrics {
    /// Client connections open now.
    pub connections_open: u64,
    /// Client connections accepted since the start.
    pub connections_total: u64,
    /// Clients logged in to the server.
    pub logins_ok: u64,
    /// Clients that could not be logged in, by cause (every cause listed, zeros included).
    pub logins_failed: Vec<(FailureCause, u64)>,
    /// Tokens signed by the token cache.
    pub tokens_minted: u64,
    /// Logins served with a cached token.
    pub token_cache_hits: u64,
    /// Bytes relayed from clients to servers (after the login).
    pub bytes_to_server: u64,
    /// Bytes relayed from servers to clients (after the login).
    pub bytes_to_client: u64,
    /// PostgreSQL cancel requests forwarded to a server.
    pub cancels_forwarded: u64,
}

impl ProxyMetrics {
    /// Failed logins with `cause`.
    pub fn failed(&self, cause: FailureCause) -> u64 {
        self.logins_failed
            .iter()
            .find(|(c, _)| *c == cause)
            .map_or(0, |(_, n)| *n)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    ///
    /// ```
    /// # #[cfg(all(feature = "proxy", any(feature = "_postgres", feature = "_mysql")))] {
    /// # let m = rds_iam::proxy::ProxyMetrics::default();
    /// let text = m.prometheus();
    /// assert!(text.contains("# TYPE rds_iam_proxy_connections_open gauge\nrds_iam_proxy_connections_open 0\n"));
    /// assert!(text.contains("rds_iam_proxy_logins_failed_total{cause=\"rejected\"} 0\n"));
    /// # }
    /// ```
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: u64| [(String::new(), v)];
        metric(
            "rds_iam_proxy_connections_open",
            "gauge",
            "Client connections open now.",
            &one(self.connections_open),
        );
        metric(
            "rds_iam_proxy_connections_total",
            "counter",
            "Client connections accepted.",
            &one(self.connections_total),
        );
        metric(
            "rds_iam_proxy_logins_ok_total",
            "counter",
            "Clients logged in to the database with an IAM token.",
            &one(self.logins_ok),
        );
        let failed: Vec<(String, u64)> = self
            .logins_failed
            .iter()
            .map(|(c, n)| (format!("{{cause=\"{}\"}}", c.as_str()), *n))
            .collect();
        metric(
            "rds_iam_proxy_logins_failed_total",
            "counter",
            "Clients that could not be logged in, by cause.",
            &failed,
        );
        metric(
            "rds_iam_proxy_tokens_minted_total",
            "counter",
            "IAM tokens signed.",
            &one(self.tokens_minted),
        );
        metric(
            "rds_iam_proxy_token_cache_hits_total",
            "counter",
            "Logins served with a cached IAM token.",
            &one(self.token_cache_hits),
        );
        metric(
            "rds_iam_proxy_bytes_relayed_total",
            "counter",
            "Bytes relayed after the login, by direction.",
            &[
                ("{direction=\"to_server\"}".to_owned(), self.bytes_to_server),
                ("{direction=\"to_client\"}".to_owned(), self.bytes_to_client),
            ],
        );
        metric(
            "rds_iam_proxy_cancels_forwarded_total",
            "counter",
            "PostgreSQL cancel requests forwarded.",
            &one(self.cancels_forwarded),
        );
        out
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        Counters::default().snapshot(ProviderStats::default())
    }
}

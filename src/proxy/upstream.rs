//! The server side of a proxied session: dial a target, start TLS the way its protocol does,
//! verify the certificate (the crate's one TLS set-up), and only then log in with the token.

use std::sync::Arc;
use std::time::Duration;

use rds_iam_wire::postgres::client::{self, LoginError, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::connect::ConnectError;
use crate::connect::login::{self, Outcome};
use crate::plan::Target;
use crate::tls::probe::Protocol;
use crate::tls::{CaBundle, TlsSetupError};
use crate::tls_mode::TlsMode;
use crate::token::AuthToken;

/// PostgreSQL's `SSLRequest`.
const PG_SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// The TLS connector of the stack built: rustls when it is (`postgres-rustls`, `mysql-rustls`),
/// else native-tls.
#[cfg(feature = "_rustls")]
pub(crate) type Tls = tokio_rustls::TlsConnector;
/// The TLS connector of the stack built.
#[cfg(not(feature = "_rustls"))]
pub(crate) type Tls = tokio_native_tls::TlsConnector;

/// An encrypted connection to a server.
#[cfg(feature = "_rustls")]
pub(crate) type Upstream = tokio_rustls::client::TlsStream<TcpStream>;
/// An encrypted connection to a server.
#[cfg(not(feature = "_rustls"))]
pub(crate) type Upstream = tokio_native_tls::TlsStream<TcpStream>;

/// The TLS connector for `mode` trusting `bundle`.
pub(crate) fn make_tls(bundle: &CaBundle, mode: TlsMode) -> Result<Tls, TlsSetupError> {
    #[cfg(feature = "_rustls")]
    return crate::tls::rustls_config(bundle, mode)
        .map(|config| tokio_rustls::TlsConnector::from(Arc::new(config)));
    #[cfg(not(feature = "_rustls"))]
    return crate::tls::tls_connector(bundle, mode).map(tokio_native_tls::TlsConnector::from);
}

/// How the proxy reaches its servers: the TLS connector, what it trusts (for errors), the
/// connection timeout.
pub(crate) struct Dialer {
    pub(crate) tls: Tls,
    /// The trusted CAs in words.
    pub(crate) trusted: String,
    pub(crate) connect_timeout: Option<Duration>,
}

impl Dialer {
    /// A TCP connection to `target`, TLS started with an `SSLRequest` and the certificate
    /// verified: nothing else has been sent.
    pub(crate) async fn postgres_tls(&self, target: &Target) -> Result<Upstream, ConnectError> {
        let server = || target.to_string();
        let connecting = TcpStream::connect((target.dial.host.as_str(), target.dial.port));
        let tcp = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connecting).await.map_err(|_| {
                ConnectError::Timeout {
                    server: server(),
                    after: limit,
                }
            })?,
            None => connecting.await,
        }
        .map_err(|e| ConnectError::Unreachable {
            server: server(),
            source: Box::new(e),
        })?;
        let _ = tcp.set_nodelay(true);
        let mut tcp = tcp;
        let broken = |e: std::io::Error| ConnectError::Server {
            server: server(),
            source: Box::new(e),
        };
        tcp.write_all(&PG_SSL_REQUEST).await.map_err(broken)?;
        let mut answer = [0u8; 1];
        tcp.read_exact(&mut answer).await.map_err(broken)?;
        if answer[0] != b'S' {
            return Err(ConnectError::TlsRefused {
                server: server(),
                source: "the server answered the SSLRequest with no".into(),
            });
        }
        self.handshake(target, tcp, Protocol::Postgres).await
    }

    async fn handshake(
        &self,
        target: &Target,
        tcp: TcpStream,
        protocol: Protocol,
    ) -> Result<Upstream, ConnectError> {
        #[cfg(feature = "_rustls")]
        let result = match pki_types::ServerName::try_from(target.tls_name().to_owned()) {
            Ok(name) => self.tls.connect(name, tcp).await,
            Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)),
        };
        #[cfg(not(feature = "_rustls"))]
        let result = self.tls.connect(target.tls_name(), tcp).await;
        match result {
            Ok(stream) => Ok(stream),
            Err(e) => Err(login::tls_failure(target, protocol, &self.trusted, Box::new(e)).await),
        }
    }

    /// Cancel the query running on the PostgreSQL backend `key` at `target`, over a verified
    /// TLS connection (the key is a secret too).
    pub(crate) async fn postgres_cancel(
        &self,
        target: &Target,
        key: [u8; 8],
    ) -> Result<(), ConnectError> {
        let stream = self.postgres_tls(target).await?;
        client::cancel(stream, key)
            .await
            .map_err(|e| ConnectError::Server {
                server: target.to_string(),
                source: Box::new(e),
            })
    }

    /// One PostgreSQL login attempt at `target` with `token`: TLS verified first, then the
    /// start-up `params` and the token as the cleartext password.
    pub(crate) async fn postgres_login(
        &self,
        target: &Target,
        params: &[(String, String)],
        token: Arc<AuthToken>,
    ) -> Outcome<Session<Upstream>> {
        let stream = match self.postgres_tls(target).await {
            Ok(stream) => stream,
            Err(e) => return Outcome::Failed(e),
        };
        match client::login(stream, params, Some(token.expose().as_bytes())).await {
            Ok(session) => Outcome::Connected(session),
            Err(e) if e.is_credentials_rejected() => Outcome::Rejected(Box::new(e)),
            Err(e) => Outcome::Failed(ConnectError::Server {
                server: target.to_string(),
                source: Box::new(e),
            }),
        }
    }
}

/// The raw error packet the server sent when it refused a session after authenticating it
/// (no such database, too many connections): for the client, as the server wrote it.
pub(crate) fn server_refusal(err: &ConnectError) -> Option<&[u8]> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(LoginError::Refused {
            response,
            after_authentication: true,
            ..
        }) = e.downcast_ref::<LoginError>()
        {
            return Some(response);
        }
        current = e.source();
    }
    None
}

//! The server side of a proxied session: dial a target, start TLS the way its protocol does,
//! verify the certificate (the crate's one TLS set-up), and only then log in with the token.

use std::sync::Arc;
use std::time::Duration;

use rds_iam_wire::mysql::{self, LoginRequest, PacketStream};
use rds_iam_wire::mysql_common::constants::CapabilityFlags;
use rds_iam_wire::mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse,
};
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

/// `ER_ACCESS_DENIED_ERROR`: RDS's answer to a token it does not accept.
const ACCESS_DENIED: u16 = 1045;
/// How many authentication round trips a MySQL server gets.
const MYSQL_AUTH_ROUNDS: usize = 3;

/// A MySQL server connection that has greeted: nothing sent yet.
pub(crate) struct Greeted {
    pub(crate) conn: PacketStream<TcpStream>,
    pub(crate) greeting: HandshakePacket<'static>,
    /// When the greeting came (servers drop a handshake after `connect_timeout`, 10 s).
    pub(crate) at: tokio::time::Instant,
}

/// A MySQL client's login, to repeat to the server.
pub(crate) struct MySqlClient {
    /// The user to log in as.
    pub(crate) user: String,
    /// The client's `HandshakeResponse` payload (any password in it is replaced).
    pub(crate) response: Vec<u8>,
    /// The capabilities the client was offered.
    pub(crate) offered: CapabilityFlags,
}

/// A logged-in MySQL session.
pub(crate) struct MySqlSession {
    pub(crate) stream: Upstream,
    /// The server's OK packet payload, for the client.
    pub(crate) ok: Vec<u8>,
}

/// A MySQL server's ERR packet: its code, SQLSTATE and message, and the packet for the client.
#[derive(Debug)]
pub(crate) struct MySqlRefusal {
    pub(crate) code: u16,
    pub(crate) state: String,
    message: String,
    /// The ERR payload, as a client that sent its handshake response reads it.
    pub(crate) payload: Vec<u8>,
}

impl MySqlRefusal {
    fn new(payload: Vec<u8>, capabilities: CapabilityFlags) -> Self {
        let (code, state) = mysql::err_code(&payload, capabilities).unwrap_or_default();
        let at = if payload.get(3) == Some(&b'#') { 9 } else { 3 };
        let message = payload.get(at..).unwrap_or_default();
        let message = String::from_utf8_lossy(message).into_owned();
        Self {
            code,
            state,
            message,
            payload,
        }
    }

    /// An ERR packet sent instead of a greeting (no SQLSTATE).
    fn before_handshake(payload: Vec<u8>) -> Self {
        Self::new(
            mysql::with_sql_state(&payload),
            CapabilityFlags::CLIENT_PROTOCOL_41,
        )
    }
}

impl std::fmt::Display for MySqlRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ERROR {} ({}): {}", self.code, self.state, self.message)
    }
}

impl std::error::Error for MySqlRefusal {}

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
        let mut tcp = self.tcp(target).await?;
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

    /// A TCP connection to `target` (within the connection timeout).
    async fn tcp(&self, target: &Target) -> Result<TcpStream, ConnectError> {
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
        Ok(tcp)
    }

    /// A TCP connection to the MySQL server `target` and its greeting, which offers TLS:
    /// nothing has been sent to it yet.
    pub(crate) async fn mysql_greeted(&self, target: &Target) -> Result<Greeted, ConnectError> {
        let broken = |e: std::io::Error| ConnectError::Server {
            server: target.to_string(),
            source: Box::new(e),
        };
        let mut conn = PacketStream::new(self.tcp(target).await?);
        let payload = conn
            .read()
            .await
            .map_err(broken)?
            .ok_or_else(|| broken(std::io::ErrorKind::UnexpectedEof.into()))?;
        if payload.first() == Some(&mysql::ERR_HEADER) {
            return Err(ConnectError::Server {
                server: target.to_string(),
                source: Box::new(MySqlRefusal::before_handshake(payload)),
            });
        }
        let greeting = mysql::parse::<HandshakePacket<'_>>(&payload, ())
            .map_err(broken)?
            .into_owned();
        // Refused here, before the client is greeted: an IAM login needs TLS.
        if !greeting
            .capabilities()
            .contains(CapabilityFlags::CLIENT_SSL)
        {
            return Err(ConnectError::TlsRefused {
                server: target.to_string(),
                source: "the server's greeting does not offer TLS (no CLIENT_SSL)".into(),
            });
        }
        Ok(Greeted {
            conn,
            greeting,
            at: tokio::time::Instant::now(),
        })
    }

    /// One MySQL login attempt at `target` with `token`, on the behalf of a client that was
    /// `offered` capabilities and answered with `response` (a `HandshakeResponse` payload) to
    /// log in as `user`: the greeting (`greeted`, or a new connection's), an `SslRequest`
    /// with the client's capabilities and TLS verified, then the same response with the
    /// token by `mysql_clear_password`.
    pub(crate) async fn mysql_login(
        &self,
        target: &Target,
        greeted: Option<Greeted>,
        client: &MySqlClient,
        token: Arc<AuthToken>,
    ) -> Outcome<MySqlSession> {
        let server = || target.to_string();
        let broken = |e: std::io::Error| {
            Outcome::Failed(ConnectError::Server {
                server: server(),
                source: Box::new(e),
            })
        };
        let Greeted {
            mut conn, greeting, ..
        } = match greeted {
            Some(greeted) => greeted,
            None => match self.mysql_greeted(target).await {
                Ok(greeted) => greeted,
                Err(e) => return Outcome::Failed(e),
            },
        };
        let Ok(response) = mysql::parse::<HandshakeResponse<'_>>(&client.response, ()) else {
            return broken(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the client's handshake response is malformed",
            ));
        };
        let request =
            LoginRequest::from_client(&client.user, &response, &client.response, client.offered);
        let mut auth = token.expose().as_bytes().to_vec();
        auth.push(0);
        let (payload, capabilities) = mysql::login_response(
            &greeting,
            request,
            // A token (1-2 KB) needs the length-encoded authentication data.
            CapabilityFlags::CLIENT_SSL | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
            AuthPlugin::MysqlClearPassword,
            auth,
        );
        // An SslRequest is the first 32 bytes of the response (with MariaDB's extended
        // capabilities at its end): the capabilities, and nothing secret.
        if let Err(e) = conn.write(&payload[..mysql::SSL_REQUEST_LEN]).await {
            return broken(e);
        }
        let (tcp, codec) = conn.into_parts();
        let tls = match self.handshake(target, tcp, Protocol::MySql).await {
            Ok(tls) => tls,
            Err(e) => return Outcome::Failed(e),
        };
        let mut conn = PacketStream::from_parts(tls, codec);
        if let Err(e) = conn.write(&payload).await {
            return broken(e);
        }
        for _ in 0..MYSQL_AUTH_ROUNDS {
            let reply = match conn.read().await {
                Ok(Some(reply)) => reply,
                Ok(None) => return broken(std::io::ErrorKind::UnexpectedEof.into()),
                Err(e) => return broken(e),
            };
            match reply.first().copied() {
                Some(mysql::OK_HEADER) => {
                    let (stream, _) = conn.into_parts();
                    return Outcome::Connected(MySqlSession { stream, ok: reply });
                }
                Some(mysql::ERR_HEADER) => {
                    let refusal = MySqlRefusal::new(reply, capabilities);
                    if refusal.code == ACCESS_DENIED || refusal.state == "28000" {
                        return Outcome::Rejected(Box::new(refusal));
                    }
                    return Outcome::Failed(ConnectError::Server {
                        server: server(),
                        source: Box::new(refusal),
                    });
                }
                Some(mysql::AUTH_SWITCH_HEADER)
                    if mysql::parse::<AuthSwitchRequest<'_>>(&reply, ())
                        .is_ok_and(|s| s.auth_plugin() == AuthPlugin::MysqlClearPassword) =>
                {
                    let mut auth = token.expose().as_bytes().to_vec();
                    auth.push(0);
                    if let Err(e) = conn.write(&auth).await {
                        return broken(e);
                    }
                }
                _ => break,
            }
        }
        broken(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the server asked for an authentication other than mysql_clear_password (is the \
             user IDENTIFIED WITH AWSAuthenticationPlugin?)",
        ))
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
        if let Some(refusal) = e.downcast_ref::<MySqlRefusal>()
            && !err.is_login_rejected()
        {
            return Some(&refusal.payload);
        }
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

//! Hostile database servers: they speak just enough PostgreSQL or MySQL to make a client send
//! its password, and record what the client sends.
//!
//! Each server either refuses TLS (PostgreSQL answers `N` to the SSLRequest; the MySQL greeting
//! lacks `CLIENT_SSL`) or completes a real TLS handshake with the certificate it is given (a
//! self-signed one, or one for another name). Then, as RDS does, it asks for the password in
//! cleartext (PostgreSQL `AuthenticationCleartextPassword`; MySQL an auth switch to
//! `mysql_clear_password`), records it, and refuses the login (`28P01`, `1045`). A client that
//! goes on without TLS after a refusal is asked for its password all the same.
//!
//! Besides the passwords, every byte a client sends after the TLS negotiation (decrypted) is
//! recorded, up to its closing the connection: a token sent anywhere else is seen too.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_native_tls::TlsAcceptor;

use super::ca::ServerCert;

/// How long one connection may last before the server drops it.
const CONNECTION_LIMIT: Duration = Duration::from_secs(20);

/// The wire protocol a hostile server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    MySql,
}

/// The certificate a hostile server presents, or none: it refuses TLS.
pub enum ServerTls {
    /// Refuse TLS.
    Refused,
    /// Complete the handshake with this certificate (PEM) and its PKCS#8 key (PEM).
    Certificate {
        /// The certificate.
        cert_pem: String,
        /// Its key.
        key_pem: String,
    },
}

impl ServerTls {
    /// A self-signed certificate for `names` (a man in the middle posing as the database).
    pub fn self_signed(names: &[&str]) -> Self {
        let key = rcgen::KeyPair::generate().expect("generate a key");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let cert = rcgen::CertificateParams::new(names)
            .expect("certificate parameters")
            .self_signed(&key)
            .expect("self-sign");
        Self::Certificate {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The certificate a test CA signed.
    pub fn signed(cert: &ServerCert) -> Self {
        Self::Certificate {
            cert_pem: cert.cert_pem.clone(),
            key_pem: cert.key_pem.clone(),
        }
    }
}

/// What a hostile server received.
#[derive(Clone, Default)]
pub struct Seen {
    /// Connections accepted.
    pub connections: usize,
    /// The passwords received, in order.
    pub passwords: Vec<String>,
    /// Every byte clients sent after the TLS negotiation, connections one after the other.
    pub bytes: Vec<u8>,
}

impl Seen {
    /// Whether anything that looks like an IAM token (a SigV4 query string) arrived, as a
    /// password or anywhere else.
    pub fn any_token(&self) -> bool {
        let text = String::from_utf8_lossy(&self.bytes);
        !self.passwords.is_empty() || text.contains("X-Amz-")
    }
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seen")
            .field("connections", &self.connections)
            .field("passwords", &self.passwords)
            .field("bytes", &String::from_utf8_lossy(&self.bytes))
            .finish()
    }
}

/// A running hostile server on a loopback port; it stops when dropped.
pub struct HostileServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    active: watch::Receiver<usize>,
    task: JoinHandle<()>,
}

impl HostileServer {
    /// Start a server speaking `protocol`, presenting `tls`.
    pub async fn start(protocol: Protocol, tls: ServerTls) -> Self {
        let acceptor = match tls {
            ServerTls::Refused => None,
            ServerTls::Certificate { cert_pem, key_pem } => {
                let identity =
                    native_tls::Identity::from_pkcs8(cert_pem.as_bytes(), key_pem.as_bytes())
                        .expect("a TLS identity");
                let acceptor = native_tls::TlsAcceptor::builder(identity)
                    .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
                    .build()
                    .expect("a TLS acceptor");
                Some(TlsAcceptor::from(acceptor))
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (count, active) = watch::channel(0usize);
        let task = tokio::spawn(accept_loop(
            listener,
            protocol,
            acceptor,
            seen.clone(),
            count,
        ));
        Self {
            addr,
            seen,
            active,
            task,
        }
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// What it received, once every connection so far has ended.
    pub async fn seen(&self) -> Seen {
        let mut active = self.active.clone();
        tokio::time::timeout(CONNECTION_LIMIT * 2, active.wait_for(|n| *n == 0))
            .await
            .expect("the hostile server's connections end")
            .expect("the hostile server runs");
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    protocol: Protocol,
    tls: Option<TlsAcceptor>,
    seen: Arc<Mutex<Seen>>,
    active: watch::Sender<usize>,
) {
    let active = Arc::new(active);
    while let Ok((stream, _)) = listener.accept().await {
        active.send_modify(|n| *n += 1);
        seen.lock().unwrap().connections += 1;
        let (tls, seen, active) = (tls.clone(), seen.clone(), active.clone());
        tokio::spawn(async move {
            let conn = Conn { seen };
            let serve = async {
                match protocol {
                    Protocol::Postgres => conn.postgres(stream, tls).await,
                    Protocol::MySql => conn.mysql(stream, tls).await,
                }
            };
            // A client that stops midway or misbehaves ends its connection: nothing to do.
            let _ = tokio::time::timeout(CONNECTION_LIMIT, serve).await;
            active.send_modify(|n| *n -= 1);
        });
    }
}

/// One connection's view of the record.
struct Conn {
    seen: Arc<Mutex<Seen>>,
}

/// PostgreSQL's SSLRequest and GSSENCRequest codes.
const PG_SSL_REQUEST: u32 = 80_877_103;
const PG_GSSENC_REQUEST: u32 = 80_877_104;

/// MySQL capability flags.
const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_LONG_FLAG: u32 = 0x4;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SSL: u32 = 0x800;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_MULTI_RESULTS: u32 = 0x2_0000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;

impl Conn {
    /// Read exactly `n` bytes, recording them.
    async fn read<S: AsyncRead + Unpin>(&self, stream: &mut S, n: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0; n];
        stream.read_exact(&mut buf).await?;
        self.seen.lock().unwrap().bytes.extend_from_slice(&buf);
        Ok(buf)
    }

    /// Record whatever the client still sends, up to its closing the connection.
    async fn drain<S: AsyncRead + Unpin>(&self, stream: &mut S) -> io::Result<()> {
        let mut rest = Vec::new();
        let result = stream.read_to_end(&mut rest).await;
        self.seen.lock().unwrap().bytes.extend_from_slice(&rest);
        result.map(drop)
    }

    fn password(&self, bytes: &[u8]) {
        let password = bytes.strip_suffix(b"\0").unwrap_or(bytes);
        self.seen
            .lock()
            .unwrap()
            .passwords
            .push(String::from_utf8_lossy(password).into_owned());
    }

    async fn postgres(&self, mut stream: TcpStream, tls: Option<TlsAcceptor>) -> io::Result<()> {
        loop {
            let mut head = [0u8; 8];
            stream.read_exact(&mut head).await?;
            let code = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
            match (code, &tls) {
                (PG_SSL_REQUEST, Some(acceptor)) => {
                    stream.write_all(b"S").await?;
                    let tls = acceptor.accept(stream).await.map_err(io::Error::other)?;
                    return self.postgres_login(tls, None).await;
                }
                (PG_SSL_REQUEST | PG_GSSENC_REQUEST, _) => stream.write_all(b"N").await?,
                // A startup message without TLS: go on in plaintext.
                _ => {
                    self.seen.lock().unwrap().bytes.extend_from_slice(&head);
                    return self.postgres_login(stream, Some(head)).await;
                }
            }
        }
    }

    /// The startup message (`head`: its first 8 bytes, if already read), a request for the
    /// password in cleartext, the password, a refusal.
    async fn postgres_login<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        head: Option<[u8; 8]>,
    ) -> io::Result<()> {
        let (len, read) = match head {
            Some(head) => (i32::from_be_bytes([head[0], head[1], head[2], head[3]]), 8),
            None => {
                let len = self.read(&mut stream, 4).await?;
                (i32::from_be_bytes([len[0], len[1], len[2], len[3]]), 4)
            }
        };
        let rest = usize::try_from(len).unwrap_or(0).saturating_sub(read);
        self.read(&mut stream, rest.min(10_000)).await?;
        // AuthenticationCleartextPassword.
        stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
        let header = self.read(&mut stream, 5).await?;
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let body = self
            .read(
                &mut stream,
                usize::try_from(len - 4).unwrap_or(0).min(10_000),
            )
            .await?;
        if header[0] == b'p' {
            self.password(&body);
        }
        let mut fields = Vec::new();
        for (kind, value) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', "28P01"),
            (b'M', "password authentication failed"),
        ] {
            fields.push(kind);
            fields.extend_from_slice(value.as_bytes());
            fields.push(0);
        }
        fields.push(0);
        let mut error = vec![b'E'];
        error.extend_from_slice(&(fields.len() as i32 + 4).to_be_bytes());
        error.extend_from_slice(&fields);
        stream.write_all(&error).await?;
        stream.flush().await?;
        self.drain(&mut stream).await
    }

    async fn mysql(&self, mut stream: TcpStream, tls: Option<TlsAcceptor>) -> io::Result<()> {
        write_packet(&mut stream, 0, &greeting(tls.is_some())).await?;
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await?;
        let mut payload = vec![0u8; packet_len(header).min(10_000)];
        stream.read_exact(&mut payload).await?;
        let flags = payload
            .get(..4)
            .map_or(0, |f| u32::from_le_bytes([f[0], f[1], f[2], f[3]]));
        match tls {
            Some(acceptor) if payload.len() == 32 && flags & CLIENT_SSL != 0 => {
                let mut tls = acceptor.accept(stream).await.map_err(io::Error::other)?;
                let (_, seq) = self.read_packet(&mut tls).await?;
                self.mysql_login(tls, seq).await
            }
            // Not an SSL request: a handshake response in plaintext.
            _ => {
                {
                    let mut seen = self.seen.lock().unwrap();
                    seen.bytes.extend_from_slice(&header);
                    seen.bytes.extend_from_slice(&payload);
                }
                self.mysql_login(stream, header[3]).await
            }
        }
    }

    /// After the handshake response (sequence id `seq`): an auth switch to
    /// `mysql_clear_password`, the password, a refusal.
    async fn mysql_login<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut stream: S,
        seq: u8,
    ) -> io::Result<()> {
        let mut switch = vec![0xfe];
        switch.extend_from_slice(b"mysql_clear_password\0");
        switch.extend_from_slice(&[b'x'; 20]);
        switch.push(0);
        write_packet(&mut stream, seq.wrapping_add(1), &switch).await?;
        let (password, seq) = self.read_packet(&mut stream).await?;
        self.password(&password);
        let mut error = vec![0xff];
        error.extend_from_slice(&1045u16.to_le_bytes());
        error.extend_from_slice(b"#28000Access denied");
        write_packet(&mut stream, seq.wrapping_add(1), &error).await?;
        self.drain(&mut stream).await
    }

    /// One packet's payload and sequence id, recorded.
    async fn read_packet<S: AsyncRead + Unpin>(&self, stream: &mut S) -> io::Result<(Vec<u8>, u8)> {
        let header = self.read(stream, 4).await?;
        let len = packet_len([header[0], header[1], header[2], header[3]]);
        Ok((self.read(stream, len.min(10_000)).await?, header[3]))
    }
}

/// The payload length in a MySQL packet header.
fn packet_len(header: [u8; 4]) -> usize {
    usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16
}

async fn write_packet<S: AsyncWrite + Unpin>(
    stream: &mut S,
    seq: u8,
    payload: &[u8],
) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .expect("a small packet")
        .to_le_bytes();
    let mut packet = vec![len[0], len[1], len[2], seq];
    packet.extend_from_slice(payload);
    stream.write_all(&packet).await?;
    stream.flush().await
}

/// A protocol-10 greeting as MySQL 8.0 sends it, with `CLIENT_SSL` when TLS is offered.
fn greeting(offer_tls: bool) -> Vec<u8> {
    let mut flags = CLIENT_LONG_PASSWORD
        | CLIENT_LONG_FLAG
        | CLIENT_CONNECT_WITH_DB
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_MULTI_RESULTS
        | CLIENT_PLUGIN_AUTH;
    if offer_tls {
        flags |= CLIENT_SSL;
    }
    let flags = flags.to_le_bytes();
    let mut greeting = vec![10];
    greeting.extend_from_slice(b"8.0.40\0");
    greeting.extend_from_slice(&7u32.to_le_bytes()); // connection id
    greeting.extend_from_slice(b"abcdefgh\0"); // scramble part 1, filler
    greeting.extend_from_slice(&flags[..2]);
    greeting.push(45); // utf8mb4_general_ci
    greeting.extend_from_slice(&2u16.to_le_bytes()); // autocommit
    greeting.extend_from_slice(&flags[2..]);
    greeting.push(21); // scramble length
    greeting.extend_from_slice(&[0; 10]);
    greeting.extend_from_slice(b"ijklmnopqrst\0"); // scramble part 2
    greeting.extend_from_slice(b"mysql_native_password\0");
    greeting
}

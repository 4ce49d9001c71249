//! Hostile clients against the MySQL front end.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse, SslRequest};
use mysql_common::proto::MySerialize;
use rds_iam::emulator::{EmulatorConfigBuilder, Engine, MAX_CLIENT_TEXT, RunningEmulator};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{
    Rng, SLACK, TIMEOUT, closed_by_the_timeout, largest_allocation_during, long_name,
    start_emulator, tls_connector, until_closed,
};
use crate::support::iam::{Claim, ENDPOINT_HOST};
use crate::support::logs::LogCapture;
use crate::support::mariadb::{self, UserAuth};

const ENDPOINT_PORT: u16 = 3306;

async fn emulator_with(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> RunningEmulator {
    start_emulator(
        Engine::Mysql,
        mariadb::shared().addr(),
        ENDPOINT_PORT,
        configure,
    )
    .await
}

async fn emulator() -> RunningEmulator {
    emulator_with(|b| b).await
}

/// A user that logs in with a token, and that token.
async fn iam_user(name: &str) -> String {
    mariadb::shared()
        .create_user(name, UserAuth::NoPassword)
        .await;
    Claim::for_endpoint(ENDPOINT_PORT, name).token()
}

/// Log in through `emulator` with mysql_async (TLS verified) and run a query.
async fn good_login(
    emulator: &RunningEmulator,
    user: &str,
    token: &str,
) -> Result<(), mysql_async::Error> {
    let ca = emulator.ca_pem().unwrap().as_bytes().to_vec();
    let ssl = SslOpts::default()
        .with_root_certs(vec![ca.into()])
        .with_disable_built_in_roots(true)
        .with_danger_tls_hostname_override(Some(ENDPOINT_HOST));
    let opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(emulator.local_addr().port())
        .prefer_socket(false)
        .user(Some(user))
        .pass(Some(token))
        .ssl_opts(ssl)
        .enable_cleartext_plugin(true);
    let mut conn = Conn::new(Opts::from(opts)).await?;
    let one: i64 = conn.query_first("SELECT 1").await?.unwrap();
    assert_eq!(one, 1);
    conn.disconnect().await
}

/// Frame `payload` as packet `seq`.
fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    let mut out = vec![len[0], len[1], len[2], seq];
    out.extend_from_slice(payload);
    out
}

/// Read one packet's payload.
async fn read_packet<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).await.unwrap();
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    payload
}

/// Connect and read the greeting.
async fn greeted(emulator: &RunningEmulator) -> (TcpStream, HandshakePacket<'static>) {
    let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
    let payload = read_packet(&mut stream).await;
    let greeting = ParseBuf(&payload)
        .parse::<HandshakePacket<'_>>(())
        .unwrap()
        .into_owned();
    (stream, greeting)
}

const CLIENT: CapabilityFlags = CapabilityFlags::CLIENT_PROTOCOL_41
    .union(CapabilityFlags::CLIENT_SECURE_CONNECTION)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH)
    .union(CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
    .union(CapabilityFlags::CLIENT_CONNECT_WITH_DB);

fn ssl_request() -> Vec<u8> {
    let mut payload = Vec::new();
    SslRequest::new(CLIENT | CapabilityFlags::CLIENT_SSL, 1 << 24, 45).serialize(&mut payload);
    packet(1, &payload)
}

fn handshake_response(seq: u8, user: &str, database: Option<&str>) -> Vec<u8> {
    let mut payload = Vec::new();
    HandshakeResponse::new(
        Some(vec![7u8; 20]),
        (10, 11, 0),
        Some(user.as_bytes()),
        database.map(str::as_bytes),
        Some(AuthPlugin::MysqlNativePassword),
        CLIENT,
        None,
        1 << 24,
    )
    .serialize(&mut payload);
    packet(seq, &payload)
}

/// A TLS connection after `SslRequest`.
async fn tls_to(emulator: &RunningEmulator) -> tokio_native_tls::TlsStream<TcpStream> {
    let (mut stream, _) = greeted(emulator).await;
    stream.write_all(&ssl_request()).await.unwrap();
    tls_connector(emulator.ca_pem().unwrap())
        .connect(ENDPOINT_HOST, stream)
        .await
        .unwrap()
}

/// The error code of an ERR packet at the start of `reply`, if it is one.
fn err_code(reply: &[u8]) -> Option<u16> {
    (reply.get(4) == Some(&0xFF)).then(|| u16::from_le_bytes([reply[5], reply[6]]))
}

#[tokio::test]
async fn random_bytes_are_refused_and_never_count_as_passwords() {
    let emulator = emulator().await;
    let mut rng = Rng::new(0x5EED_1001);
    let mut running = tokio::task::JoinSet::new();
    for i in 0..200 {
        // Random packets after the greeting: some as one well-framed packet, some as
        // raw bytes, some followed by a packet in sequence after the refusal (packet 3
        // after the ERR packet 2: counted as a password before).
        let body = rng.bytes(300);
        let bytes = match i % 3 {
            0 => packet(1, &body),
            1 => body,
            _ => [packet(1, &body), packet(3, b"p\0")].concat(),
        };
        let emulator_addr = emulator.local_addr();
        running.spawn(async move {
            let mut stream = TcpStream::connect(emulator_addr).await.unwrap();
            read_packet(&mut stream).await;
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
            until_closed(&mut stream, TIMEOUT + SLACK).await
        });
    }
    while let Some(done) = running.join_next().await {
        done.unwrap();
    }
    assert_eq!(emulator.plaintext_passwords_received(), 0);
    assert_eq!(emulator.login_counts().accepted, 0);
    let token = iam_user("emu_hostile_my_random").await;
    good_login(&emulator, "emu_hostile_my_random", &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_and_truncated_packets() {
    let emulator = emulator().await;

    // The largest length a packet header can give (16 MB): refused before anything is
    // allocated for it, without waiting for the payload.
    let ((reply, waited), largest) = largest_allocation_during(async {
        let (mut stream, _) = greeted(&emulator).await;
        stream
            .write_all(&[0xFF, 0xFF, 0xFF, 1, b'x'])
            .await
            .unwrap();
        until_closed(&mut stream, TIMEOUT + SLACK).await
    })
    .await;
    assert!(reply.is_empty(), "{reply:?}");
    assert!(waited < TIMEOUT, "{waited:?}");
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");

    // The same over TLS, where the handshake response goes.
    let ((reply, waited), largest) = largest_allocation_during(async {
        let mut tls = tls_to(&emulator).await;
        tls.write_all(&[0xFF, 0xFF, 0xFF, 2, b'x']).await.unwrap();
        until_closed(&mut tls, TIMEOUT + SLACK).await
    })
    .await;
    assert!(reply.is_empty(), "{reply:?}");
    assert!(waited < TIMEOUT, "{waited:?}");
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");

    // A packet cut short: closed by the timeout.
    let mut cut = handshake_response(1, "emu_hostile_my_cut", None);
    cut.truncate(cut.len() / 2);
    let since = Instant::now();
    let (mut stream, _) = greeted(&emulator).await;
    stream.write_all(&cut).await.unwrap();
    let (reply, _) = until_closed(&mut stream, TIMEOUT + SLACK).await;
    assert!(reply.is_empty());
    closed_by_the_timeout("half a handshake response", since.elapsed());

    // A packet out of sequence: closed at once.
    let (mut stream, _) = greeted(&emulator).await;
    stream
        .write_all(&handshake_response(5, "emu_hostile_my_seq", None))
        .await
        .unwrap();
    let (_, waited) = until_closed(&mut stream, TIMEOUT + SLACK).await;
    assert!(waited < TIMEOUT, "{waited:?}");
    assert!(emulator.logins().is_empty());
}

#[tokio::test]
async fn ssl_request_followed_by_garbage_is_closed() {
    let emulator = emulator().await;
    let mut rng = Rng::new(0x5EED_1002);
    for _ in 0..20 {
        let (mut stream, _) = greeted(&emulator).await;
        stream.write_all(&ssl_request()).await.unwrap();
        let garbage = rng.bytes(2000);
        let _ = stream.write_all(&garbage).await;
        let (reply, waited) = until_closed(&mut stream, TIMEOUT + SLACK).await;
        // Whatever TLS alert the emulator sends, never a MySQL packet.
        assert_eq!(err_code(&reply), None, "{reply:?}");
        assert!(waited <= TIMEOUT + SLACK);
    }
    assert!(emulator.logins().is_empty());
    let token = iam_user("emu_hostile_my_tls_garbage").await;
    good_login(&emulator, "emu_hostile_my_tls_garbage", &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn clients_that_stop_at_each_step_are_closed_after_the_timeout() {
    let emulator = emulator().await;
    let started = Instant::now();
    // Each measures from before its last step.
    let after_the_greeting = async {
        let since = Instant::now();
        let (mut stream, _) = greeted(&emulator).await;
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let before_the_tls_handshake = async {
        let (mut stream, _) = greeted(&emulator).await;
        let since = Instant::now();
        stream.write_all(&ssl_request()).await.unwrap();
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let after_the_tls_handshake = async {
        let (mut stream, _) = greeted(&emulator).await;
        stream.write_all(&ssl_request()).await.unwrap();
        let since = Instant::now();
        let mut tls = tls_connector(emulator.ca_pem().unwrap())
            .connect(ENDPOINT_HOST, stream)
            .await
            .unwrap();
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let asked_for_the_token = async {
        let mut tls = tls_to(&emulator).await;
        let since = Instant::now();
        tls.write_all(&handshake_response(2, "emu_hostile_my_idle", None))
            .await
            .unwrap();
        // AuthSwitchRequest to mysql_clear_password.
        let switch = read_packet(&mut tls).await;
        assert!(switch.starts_with(b"\xFEmysql_clear_password\0"));
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let (a, b, c, d) = tokio::join!(
        after_the_greeting,
        before_the_tls_handshake,
        after_the_tls_handshake,
        asked_for_the_token
    );
    closed_by_the_timeout("greeted, nothing sent", a);
    closed_by_the_timeout("SslRequest sent, no ClientHello", b);
    closed_by_the_timeout("TLS done, no handshake response", c);
    closed_by_the_timeout("asked for the token", d);
    assert!(started.elapsed() < TIMEOUT + SLACK);
    assert!(emulator.logins().is_empty());
}

#[tokio::test]
async fn a_flood_at_the_connection_limit_is_refused_then_logins_are_served_again() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let timeout = Duration::from_secs(3);
    let emulator = emulator_with(|b| b.max_connections(8).handshake_timeout(timeout)).await;
    let user = "emu_hostile_my_flood";
    let token = iam_user(user).await;

    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(greeted(&emulator).await.0);
    }
    // Every further connection gets MySQL's error instead of a greeting, and is closed.
    let started = Instant::now();
    for _ in 0..30 {
        let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
        let (reply, _) = until_closed(&mut stream, SLACK).await;
        assert_eq!(err_code(&reply), Some(1040), "{reply:?}");
        assert!(reply.ends_with(b"Too many connections"));
    }
    // A real client reads it as ERROR 1040.
    match good_login(&emulator, user, &token).await {
        Err(mysql_async::Error::Server(e)) => assert_eq!(e.code, 1040, "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    for mut stream in idle {
        until_closed(&mut stream, timeout + SLACK).await;
    }
    good_login(&emulator, user, &token).await.unwrap();
    let logs = capture.text();
    assert_eq!(
        logs.matches("connection limit reached").count(),
        1,
        "{logs}"
    );
}

#[tokio::test]
async fn refused_logins_leave_bounded_records_and_logs() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let emulator = emulator_with(|b| b.login_history(100)).await;
    let addr = emulator.local_addr();
    const REFUSED: usize = 2000;
    let mut running = tokio::task::JoinSet::new();
    for i in 0..REFUSED {
        // Handshake responses without TLS, with 9 KB user and database names.
        let bytes = handshake_response(1, &long_name(i), Some(&long_name(i)));
        running.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            read_packet(&mut stream).await;
            stream.write_all(&bytes).await.unwrap();
            until_closed(&mut stream, SLACK).await.0
        });
        if running.len() >= 32 {
            let reply = running.join_next().await.unwrap().unwrap();
            assert_eq!(err_code(&reply), Some(1045));
            assert!(reply.len() < 1024);
        }
    }
    while let Some(reply) = running.join_next().await {
        assert_eq!(err_code(&reply.unwrap()), Some(1045));
    }
    assert_eq!(emulator.login_counts().rejected, REFUSED as u64);
    let logins = emulator.logins();
    assert_eq!(logins.len(), 100);
    for record in &logins {
        for text in [&record.user, record.database.as_ref().unwrap()] {
            assert!(text.len() <= MAX_CLIENT_TEXT + '…'.len_utf8(), "{text}");
            assert!(text.ends_with('…'));
        }
    }
    let logs = capture.text();
    assert!(logs.len() < REFUSED * 1024, "{} bytes of logs", logs.len());
    assert!(logs.lines().all(|line| line.len() < 1024));
    assert_eq!(emulator.plaintext_passwords_received(), 0);
}

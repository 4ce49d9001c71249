//! Hostile clients against the PostgreSQL front end.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use rds_iam::emulator::{
    EmulatorConfigBuilder, Engine, LoginOutcome, MAX_CLIENT_TEXT, Rejection, RunningEmulator,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_postgres::config::SslMode;

use super::{
    Rng, SLACK, TIMEOUT, closed_by_the_timeout, largest_allocation_during, long_name,
    start_emulator, tls_connector, until_closed,
};
use crate::support::iam::{ACCESS_KEY_ID, Claim, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY};
use crate::support::logs::LogCapture;
use crate::support::postgres::{self, RoleAuth};

const ENDPOINT_PORT: u16 = 5432;

async fn emulator_with(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> RunningEmulator {
    start_emulator(
        Engine::Postgres,
        postgres::shared().addr(),
        ENDPOINT_PORT,
        configure,
    )
    .await
}

async fn emulator() -> RunningEmulator {
    emulator_with(|b| b).await
}

/// A role that logs in with a token, and that token (signed at [`t0`], the time of
/// these tests' emulators).
async fn iam_user(name: &str) -> String {
    postgres::shared()
        .create_role(name, RoleAuth::Default)
        .await;
    Claim::for_endpoint(ENDPOINT_PORT, name).token()
}

/// A role and a token signed now, for the command (which runs on the system clock).
async fn iam_user_now(name: &str) -> String {
    iam_user(name).await;
    Claim {
        at: SystemTime::now(),
        ..Claim::for_endpoint(ENDPOINT_PORT, name)
    }
    .token()
}

/// Log in through `emulator` with tokio-postgres (TLS verified) and run a query.
async fn good_login(
    emulator: &RunningEmulator,
    user: &str,
    token: &str,
) -> Result<(), tokio_postgres::Error> {
    login_through(
        emulator.local_addr(),
        emulator.ca_pem().unwrap(),
        user,
        token,
    )
    .await
}

/// Log in through the emulator at `addr` whose CA is `ca_pem`, with TLS verified for
/// the endpoint name, and run a query.
async fn login_through(
    addr: SocketAddr,
    ca_pem: &str,
    user: &str,
    token: &str,
) -> Result<(), tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(ENDPOINT_HOST)
        .hostaddr(addr.ip())
        .port(addr.port())
        .user(user)
        .password(token)
        .dbname("postgres")
        .ssl_mode(SslMode::Require)
        .connect_timeout(Duration::from_secs(2));
    let ca = native_tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    let tls = postgres_native_tls::MakeTlsConnector::new(
        native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .disable_built_in_roots(true)
            .build()
            .unwrap(),
    );
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    let one: i32 = client.query_one("SELECT 1", &[]).await?.get(0);
    assert_eq!(one, 1);
    Ok(())
}

/// The command's arguments for the shared PostgreSQL, listening on `listen`, writing
/// its CA to `ca`, plus `extra`.
fn command_args(listen: &str, ca: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let backend = postgres::shared().addr().to_string();
    let endpoint = format!("{ENDPOINT_HOST}:{ENDPOINT_PORT}");
    let ca = ca.display().to_string();
    [
        "--engine",
        "postgres",
        "--listen",
        listen,
        "--backend",
        &backend,
        "--endpoint",
        &endpoint,
        "--region",
        REGION,
        "--write-ca",
        &ca,
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

/// The command's environment: the test credentials.
const COMMAND_ENV: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID),
    ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
];

fn startup(user: &str, database: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    frontend::startup_message([("user", user), ("database", database)], &mut buf).unwrap();
    buf
}

fn ssl_request() -> BytesMut {
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    buf
}

/// A TLS connection to the emulator, after `SSLRequest`.
async fn tls_to(emulator: &RunningEmulator) -> tokio_native_tls::TlsStream<TcpStream> {
    let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
    stream.write_all(&ssl_request()).await.unwrap();
    assert_eq!(stream.read_u8().await.unwrap(), b'S');
    tls_connector(emulator.ca_pem().unwrap())
        .connect(ENDPOINT_HOST, stream)
        .await
        .unwrap()
}

/// Whether `reply` is (or starts with) an ErrorResponse with `code`.
fn is_error(reply: &[u8], code: &str) -> bool {
    reply.first() == Some(&b'E') && String::from_utf8_lossy(reply).contains(&format!("C{code}\0"))
}

#[tokio::test]
async fn random_bytes_are_refused_and_never_count_as_passwords() {
    let emulator = emulator().await;
    let mut rng = Rng::new(0x5EED_0001);
    let mut clients = Vec::new();
    for i in 0..200 {
        let mut bytes = rng.bytes(200);
        // Some start like a PasswordMessage (`p`), as one client in 200 did by chance.
        if i % 10 == 0 {
            bytes[0] = b'p';
        }
        clients.push(bytes);
    }
    // Also a startup followed by bytes that begin with `p` but are no password message.
    let mut startup_then_junk = startup("junk", "postgres").to_vec();
    startup_then_junk.extend_from_slice(b"p\x00\x00");
    clients.push(startup_then_junk);
    let mut running = tokio::task::JoinSet::new();
    for bytes in clients {
        let addr = emulator.local_addr();
        running.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            // The emulator may close before it has read everything.
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
    // The emulator still serves.
    let token = iam_user("emu_hostile_pg_random").await;
    good_login(&emulator, "emu_hostile_pg_random", &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_and_truncated_packets() {
    let emulator = emulator().await;
    let addr = emulator.local_addr();

    // A first packet claiming 1 GB: refused at once, nothing allocated for it.
    let (reply, largest) = largest_allocation_during(async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(&[0x40, 0, 0, 0, 0, 3, 0, 0])
            .await
            .unwrap();
        until_closed(&mut stream, SLACK).await.0
    })
    .await;
    assert!(is_error(&reply, "08P01"), "{reply:?}");
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");

    // Over TLS, a password message claiming 1 GB: the connection is closed, nothing
    // allocated for it.
    let (reply, largest) = largest_allocation_during(async {
        let mut tls = tls_to(&emulator).await;
        tls.write_all(&startup("emu_hostile_pg_big", "postgres"))
            .await
            .unwrap();
        tls.write_all(&[b'p', 0x40, 0, 0, 0, b'x']).await.unwrap();
        until_closed(&mut tls, SLACK).await.0
    })
    .await;
    assert_eq!(reply, [b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
    assert!(largest < 1 << 20, "largest allocation {largest} bytes");

    // A startup packet cut short, the rest never sent: closed by the timeout; with the
    // client's side closed: at once.
    let mut cut = startup("emu_hostile_pg_cut", "postgres").to_vec();
    cut.truncate(cut.len() / 2);
    let since = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&cut).await.unwrap();
    let (reply, _) = until_closed(&mut stream, TIMEOUT + SLACK).await;
    assert!(reply.is_empty());
    closed_by_the_timeout("half a startup packet", since.elapsed());
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&cut).await.unwrap();
    stream.shutdown().await.unwrap();
    let (_, waited) = until_closed(&mut stream, SLACK).await;
    assert!(waited < TIMEOUT, "{waited:?}");

    // Length fields below the minimum.
    for header in [[0u8, 0, 0, 0], [0, 0, 0, 7], [0xFF, 0xFF, 0xFF, 0xFF]] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&header).await.unwrap();
        let (reply, _) = until_closed(&mut stream, SLACK).await;
        assert!(is_error(&reply, "08P01"), "{header:?}: {reply:?}");
    }
    assert_eq!(emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn ssl_request_followed_by_garbage_is_closed() {
    let emulator = emulator().await;
    let mut rng = Rng::new(0x5EED_0002);
    for _ in 0..20 {
        let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
        let garbage = rng.bytes(2000);
        let _ = stream.write_all(&garbage).await;
        let (reply, waited) = until_closed(&mut stream, TIMEOUT + SLACK).await;
        // Whatever TLS alert the emulator sends, never a PostgreSQL message.
        assert!(
            !reply.starts_with(b"R") && !reply.starts_with(b"E"),
            "{reply:?}"
        );
        assert!(waited <= TIMEOUT + SLACK);
    }
    assert!(emulator.logins().is_empty());
    let token = iam_user("emu_hostile_pg_tls_garbage").await;
    good_login(&emulator, "emu_hostile_pg_tls_garbage", &token)
        .await
        .unwrap();
}

#[tokio::test]
async fn clients_that_stop_at_each_step_are_closed_after_the_timeout() {
    let emulator = emulator().await;
    let addr = emulator.local_addr();
    let ca = emulator.ca_pem().unwrap().to_owned();
    let started = Instant::now();
    // Each measures from before its last step.
    let nothing = async {
        let since = Instant::now();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let after_gssenc_declined = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let since = Instant::now();
        stream
            .write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30])
            .await
            .unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'N');
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let before_the_tls_handshake = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let since = Instant::now();
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let after_the_tls_handshake = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
        let since = Instant::now();
        let mut tls = tls_connector(&ca)
            .connect(ENDPOINT_HOST, stream)
            .await
            .unwrap();
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let asked_for_the_password = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
        let mut tls = tls_connector(&ca)
            .connect(ENDPOINT_HOST, stream)
            .await
            .unwrap();
        let since = Instant::now();
        tls.write_all(&startup("emu_hostile_pg_idle", "postgres"))
            .await
            .unwrap();
        let mut asked = [0u8; 9];
        tls.read_exact(&mut asked).await.unwrap();
        assert_eq!(asked, [b'R', 0, 0, 0, 8, 0, 0, 0, 3]);
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let (a, b, c, d, e) = tokio::join!(
        nothing,
        after_gssenc_declined,
        before_the_tls_handshake,
        after_the_tls_handshake,
        asked_for_the_password
    );
    closed_by_the_timeout("nothing sent", a);
    closed_by_the_timeout("GSSENCRequest declined", b);
    closed_by_the_timeout("SSLRequest answered, no ClientHello", c);
    closed_by_the_timeout("TLS done, no startup message", d);
    closed_by_the_timeout("asked for the password", e);
    assert!(started.elapsed() < TIMEOUT + SLACK);
    assert!(emulator.logins().is_empty());
}

#[tokio::test]
async fn a_flood_at_the_connection_limit_is_refused_then_logins_are_served_again() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    // A longer timeout here: the refusals below must all happen before the idle
    // clients are closed.
    let timeout = Duration::from_secs(3);
    let emulator = emulator_with(|b| b.max_connections(8).handshake_timeout(timeout)).await;
    let user = "emu_hostile_pg_flood";
    let token = iam_user(user).await;

    // Eight idle clients take every slot.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(emulator.local_addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every further connection gets PostgreSQL's error at once and is closed.
    let started = Instant::now();
    for _ in 0..30 {
        let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
        let (reply, _) = until_closed(&mut stream, SLACK).await;
        assert!(is_error(&reply, "53300"), "{reply:?}");
        assert!(String::from_utf8_lossy(&reply).contains("sorry, too many clients already"));
    }
    // A real client too: it is refused.
    assert!(good_login(&emulator, user, &token).await.is_err());
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    // The idle clients are closed by the timeout, and logins are served again.
    for mut stream in idle {
        until_closed(&mut stream, timeout + SLACK).await;
    }
    good_login(&emulator, user, &token).await.unwrap();
    assert_eq!(emulator.login_counts().accepted, 1);
    // One warning for the whole burst, and one when it is over.
    let logs = capture.text();
    assert_eq!(
        logs.matches("connection limit reached").count(),
        1,
        "{logs}"
    );
    assert_eq!(
        logs.matches("below the connection limit again").count(),
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
        // Plaintext startups with a 9 KB user or database name (a startup packet holds
        // at most 10000 bytes): refused for no TLS.
        let bytes = if i % 2 == 0 {
            startup(&long_name(i), "postgres")
        } else {
            startup("emu_hostile_pg_short", &long_name(i))
        };
        running.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(&bytes).await.unwrap();
            stream.shutdown().await.unwrap();
            until_closed(&mut stream, SLACK).await.0
        });
        if running.len() >= 32 {
            let reply = running.join_next().await.unwrap().unwrap();
            assert!(is_error(&reply, "28000"));
        }
    }
    while let Some(reply) = running.join_next().await {
        assert!(is_error(&reply.unwrap(), "28000"));
    }
    // And over TLS with a bad token: the error names the user cut short too.
    let mut tls = tls_to(&emulator).await;
    tls.write_all(&startup(&long_name(REFUSED), "postgres"))
        .await
        .unwrap();
    let mut password = BytesMut::new();
    frontend::password_message(b"not a token", &mut password).unwrap();
    tls.write_all(&password).await.unwrap();
    let (reply, _) = until_closed(&mut tls, SLACK).await;
    assert!(reply.len() < 1024, "{} bytes", reply.len());
    assert!(String::from_utf8_lossy(&reply).contains("PAM authentication failed"));

    let counts = emulator.login_counts();
    assert_eq!(counts.rejected, REFUSED as u64 + 1);
    let logins = emulator.logins();
    assert_eq!(logins.len(), 100);
    assert!(matches!(
        logins.last().unwrap().outcome,
        LoginOutcome::Rejected(Rejection::Malformed(_))
    ));
    let cut = |text: &str| {
        assert!(text.len() <= MAX_CLIENT_TEXT + '…'.len_utf8(), "{text}");
        text.ends_with('…')
    };
    let users_cut = logins.iter().filter(|r| cut(&r.user)).count();
    let databases_cut = logins
        .iter()
        .filter(|r| cut(r.database.as_deref().unwrap_or_default()))
        .count();
    assert!(
        users_cut >= 50 && databases_cut >= 49,
        "{users_cut} {databases_cut}"
    );
    let logs = capture.text();
    assert!(
        logs.len() < (REFUSED + 1) * 1024,
        "{} bytes of logs",
        logs.len()
    );
    assert!(logs.lines().all(|line| line.len() < 1024));
    assert_eq!(emulator.plaintext_passwords_received(), 0);
}

#[tokio::test]
async fn the_command_backs_off_at_the_file_descriptor_limit() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let args = command_args(
        "127.0.0.1:0",
        &ca,
        &["--max-connections", "1000", "--handshake-timeout", "3"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // 48 open files: the command's own (about a dozen) and some connections.
    let command = Command::start(&args, &COMMAND_ENV, Some(48)).await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(command.addr).await.unwrap());
    }
    // Accepting now fails (EMFILE) while connections wait in the backlog.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = command.cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = command.cpu_time() - before;
    // Backing off it uses none; spinning (before) it used from a third of a core (while
    // writing a warning per failure to a pipe) to all of it.
    assert!(used < Duration::from_millis(100), "{used:?} of CPU in 1 s");
    let stderr = command.stderr();
    assert_eq!(stderr.matches("accept failed").count(), 1, "{stderr}");
    // Once the idle connections are gone, logins are served.
    drop(idle);
    let user = "emu_hostile_pg_fd_limit";
    let token = iam_user_now(user).await;
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3) + SLACK;
    loop {
        match login_through(command.addr, &ca_pem, user, &token).await {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => panic!("no login after the flood: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    assert!(command.stderr().contains("accepting connections again"));
}

#[tokio::test]
async fn the_command_takes_secrets_from_the_environment_and_warns_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let mut vars = COMMAND_ENV.to_vec();
    vars.push((
        "RDS_IAM_EMULATOR_BACKEND_PASSWORD",
        "unused backend password",
    ));
    let args = command_args("127.0.0.1:0", &ca, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let command = Command::start(&args, &vars, None).await;
    let cmdline = command.cmdline();
    assert!(cmdline.contains("--engine postgres"), "{cmdline}");
    assert!(!cmdline.contains(SECRET_ACCESS_KEY), "{cmdline}");
    // It accepts tokens signed with the key from the environment.
    let user = "emu_hostile_pg_env";
    let token = iam_user_now(user).await;
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    login_through(command.addr, &ca_pem, user, &token)
        .await
        .unwrap();
    // Nothing on stderr by default but warnings: a good login is not one.
    let stderr = command.stderr();
    assert!(!stderr.contains("login accepted"), "{stderr}");
    assert!(!stderr.contains(SECRET_ACCESS_KEY), "{stderr}");
    drop(command);

    // Listening beyond loopback is a warning on stderr (no one connects here).
    let args = command_args("0.0.0.0:0", &ca, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let command = Command::start(&args, &COMMAND_ENV, None).await;
    let deadline = Instant::now() + SLACK;
    let mut stderr = command.stderr();
    while !stderr.contains("non-loopback") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stderr = command.stderr();
    }
    assert!(stderr.contains(" WARN "), "{stderr}");
    assert!(
        stderr.contains("the emulator listens on a non-loopback address"),
        "{stderr}"
    );
}

/// The emulator command (`examples/emulator.rs`) running in a child process.
struct Command {
    child: tokio::process::Child,
    addr: SocketAddr,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Command {
    /// Start the command with `args` and exactly the environment `vars`, through
    /// `sh -c 'ulimit -n N; exec ...'` when `max_files` is given; wait for its
    /// `listening on` line.
    async fn start(args: &[&str], vars: &[(&str, &str)], max_files: Option<u32>) -> Self {
        use std::process::Stdio;
        use tokio::io::{AsyncBufReadExt, BufReader};

        let program = crate::support::example::built("emulator");
        let mut command = match max_files {
            Some(n) => {
                let mut sh = tokio::process::Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(&program);
                sh
            }
            None => tokio::process::Command::new(&program),
        };
        command
            .args(args)
            .env_clear()
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start the emulator command");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = sink.lock().unwrap();
                // Bounded: a spinning accept loop would print millions of lines.
                if text.len() < 1 << 20 {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
            .await
            .expect("the command starts within 30 s")
            .unwrap();
        let Some(addr) = line
            .as_deref()
            .and_then(|l| l.strip_prefix("listening on "))
        else {
            let status = child.wait().await.unwrap();
            panic!(
                "the command did not start ({status}): {line:?}\n{}",
                stderr.lock().unwrap()
            );
        };
        Self {
            addr: addr.parse().unwrap(),
            child,
            stderr,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// CPU time (user + system) the process has used so far.
    fn cpu_time(&self) -> Duration {
        let pid = self.child.id().expect("the command runs");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the command name (which is in parentheses): utime is the 12th and
        // stime the 13th, in clock ticks (100 per second on Linux).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// The command line as other local users see it (`ps`).
    fn cmdline(&self) -> String {
        let pid = self.child.id().expect("the command runs");
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
            .replace('\0', " ")
    }
}

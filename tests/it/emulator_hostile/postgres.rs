//! The PostgreSQL front end's raw protocol for the hostile clients, and what only it has:
//! `GSSENCRequest`, and the emulator command (at the file-descriptor limit, its secrets).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_native_tls::TlsStream;

use super::{Malformed, Rng, SLACK, TIMEOUT, Wire, iam_user, login_through, until_closed};
use crate::support::engine::postgres_wire::{
    self, ASKED_FOR_PASSWORD, GSSENC_REQUEST, ssl_request, startup,
};
use crate::support::engine::{Db, Postgres};
use crate::support::iam::{ACCESS_KEY_ID, Claim, ENDPOINT_HOST, REGION, SECRET_ACCESS_KEY};

impl Wire for Postgres {
    const SEED: u64 = 0x5EED_0000;

    fn random_clients(rng: &mut Rng) -> Vec<Vec<u8>> {
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
        clients
    }

    fn malformed() -> Vec<Malformed> {
        let mut cut = startup("emu_hostile_cut", "postgres").to_vec();
        cut.truncate(cut.len() / 2);
        let mut big_password = startup("emu_hostile_big", "postgres").to_vec();
        big_password.extend_from_slice(&[b'p', 0x40, 0, 0, 0, b'x']);
        let protocol_violation: fn(&[u8]) -> bool = |r| postgres_wire::is_error(r, "08P01");
        let plain = |what, bytes: &[u8]| Malformed {
            what,
            over_tls: false,
            bytes: bytes.to_vec(),
            then_shutdown: false,
            reply: protocol_violation,
            by_the_timeout: false,
        };
        vec![
            plain("a first packet claiming 1 GB", &[0x40, 0, 0, 0, 0, 3, 0, 0]),
            // The password request comes first; then the connection is closed.
            Malformed {
                over_tls: true,
                reply: |r| r == ASKED_FOR_PASSWORD,
                ..plain("over TLS, a password message claiming 1 GB", &big_password)
            },
            Malformed {
                reply: <[u8]>::is_empty,
                by_the_timeout: true,
                ..plain("half a startup packet", &cut)
            },
            Malformed {
                then_shutdown: true,
                reply: |_| true,
                ..plain("half a startup packet, then the client's side closed", &cut)
            },
            // Length fields below the minimum.
            plain("a length of 0", &[0, 0, 0, 0]),
            plain("a length of 7", &[0, 0, 0, 7]),
            plain("a length of -1", &[0xFF, 0xFF, 0xFF, 0xFF]),
        ]
    }

    async fn request_tls(stream: &mut TcpStream) {
        stream.write_all(&ssl_request()).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'S');
    }

    async fn start_login(tls: &mut TlsStream<TcpStream>, user: &str) {
        tls.write_all(&startup(user, "postgres")).await.unwrap();
        let mut asked = [0u8; 9];
        tls.read_exact(&mut asked).await.unwrap();
        assert_eq!(asked, ASKED_FOR_PASSWORD);
    }

    async fn send_password(tls: &mut TlsStream<TcpStream>, password: &str) {
        let mut message = BytesMut::new();
        frontend::password_message(password.as_bytes(), &mut message).unwrap();
        tls.write_all(&message).await.unwrap();
    }

    /// A 9 KB user or database name: a startup packet holds at most 10000 bytes.
    fn long_login(i: usize) -> Vec<u8> {
        let bytes = if i.is_multiple_of(2) {
            startup(&super::long_name(i), "postgres")
        } else {
            startup("emu_hostile_short", &super::long_name(i))
        };
        bytes.to_vec()
    }

    /// One or the other, in turn (the records come in any order).
    const CUT_AT_LEAST: (usize, usize) = (50, 49);

    /// `R` (authentication) or `E` (error).
    fn is_message(reply: &[u8]) -> bool {
        reply.starts_with(b"R") || reply.starts_with(b"E")
    }

    fn is_error(reply: &[u8], code: &str) -> bool {
        postgres_wire::is_error(reply, code)
    }

    fn assert_over_the_limit(reply: &[u8]) {
        assert!(postgres_wire::is_error(reply, "53300"), "{reply:?}");
        assert!(String::from_utf8_lossy(reply).contains("sorry, too many clients already"));
    }

    /// tokio-postgres reads the error where it expects the answer to its `SSLRequest`.
    fn assert_refused_at_the_limit(error: &tokio_postgres::Error) {
        let cause = std::error::Error::source(error).map(ToString::to_string);
        assert_eq!(
            cause.as_deref(),
            Some("server does not support TLS"),
            "{error}"
        );
    }

    async fn stalls_of_its_own(addr: SocketAddr) -> Vec<(&'static str, Duration)> {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let since = Instant::now();
        stream.write_all(&GSSENC_REQUEST).await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'N');
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        vec![("GSSENCRequest declined", since.elapsed())]
    }
}

/// A role and a token signed now, for the command (which runs on the system clock).
async fn iam_user_now(name: &str) -> String {
    iam_user::<Postgres>(name).await;
    Claim {
        at: SystemTime::now(),
        ..Claim::for_endpoint(Postgres::ENDPOINT_PORT, name)
    }
    .token()
}

/// The command's arguments for the shared PostgreSQL, listening on `listen`, writing
/// its CA to `ca`, plus `extra`.
fn command_args(listen: &str, ca: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let backend = Postgres::server().addr().to_string();
    let endpoint = format!("{ENDPOINT_HOST}:{}", Postgres::ENDPOINT_PORT);
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
        match login_through::<Postgres>(command.addr, &ca_pem, user, &token).await {
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
    login_through::<Postgres>(command.addr, &ca_pem, user, &token)
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

//! Hostile clients against the emulator in front of the real throw-away PostgreSQL and
//! MariaDB: random bytes, truncated and oversized packets, TLS requested then garbage,
//! clients that stop at each step of a login, a flood at the connection limit, many
//! refused logins with long names, the file-descriptor limit, and the command's secrets.
//!
//! Timeouts are short here (about a second) so that each test takes seconds.

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "mysql")]
mod mysql;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};

/// The handshake timeout of these tests' emulators.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// How late after [`TIMEOUT`] a connection may be closed (a loaded machine).
const SLACK: Duration = Duration::from_secs(4);

/// A small deterministic generator (xorshift64*), so that a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 1 to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = 1 + self.next() as usize % max;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Read until the emulator closes the connection (or resets it); what it sent and how
/// long that took. Fails the test after `limit`.
async fn until_closed<S: AsyncRead + Unpin>(
    stream: &mut S,
    limit: Duration,
) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (received, start.elapsed()),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => panic!("still open after {limit:?}; received {received:?}"),
        }
    }
}

/// Assert that a client that stopped at `stage` was closed by the handshake timeout:
/// not before it, and not much later. `waited` counts from before the client's last
/// step, so from no later than the emulator's timer started.
fn closed_by_the_timeout(stage: &str, waited: Duration) {
    assert!(
        waited >= TIMEOUT,
        "{stage}: closed after {waited:?}, before the timeout"
    );
    assert!(
        waited <= TIMEOUT + SLACK,
        "{stage}: closed after {waited:?}"
    );
}

/// A text longer than any record or log line may hold.
fn long_name(i: usize) -> String {
    format!("{i}-{}", "n".repeat(9 * 1024))
}

/// A TLS connector that trusts the emulator's generated CA.
fn tls_connector(ca_pem: &str) -> tokio_native_tls::TlsConnector {
    let ca = native_tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    native_tls::TlsConnector::builder()
        .add_root_certificate(ca)
        .disable_built_in_roots(true)
        .build()
        .unwrap()
        .into()
}

/// The largest single allocation made on this thread (the tests run the emulator on
/// their own current-thread runtime) while `work` runs.
async fn largest_allocation_during<T>(work: impl Future<Output = T>) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = work.await;
    (out, LARGEST.with(Cell::get))
}

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting the largest allocation per thread (for
/// [`largest_allocation_during`]). A const-initialised `Cell` needs no allocation and
/// no destructor, so the allocator can use it.
struct NoteLargest;

impl NoteLargest {
    fn note(size: usize) {
        let _ = LARGEST.try_with(|l| {
            if size > l.get() {
                l.set(size);
            }
        });
    }
}

// SAFETY: every call is passed on unchanged to the system allocator.
unsafe impl GlobalAlloc for NoteLargest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size());
        // SAFETY: the caller's contract for `alloc`, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size());
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::note(new_size);
        // SAFETY: the caller's contract for `realloc`, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: NoteLargest = NoteLargest;

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

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
use std::sync::Arc;
use std::time::{Duration, Instant};

use rds_iam::clock::ManualClock;
use rds_iam::emulator::{Emulator, EmulatorConfig, EmulatorConfigBuilder, Engine, RunningEmulator};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::support::iam::{ENDPOINT_HOST, REGION, credentials, t0};

/// The handshake timeout of these tests' emulators.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// How late after [`TIMEOUT`] a connection may be closed (a loaded machine).
const SLACK: Duration = Duration::from_secs(4);

/// An emulator for `engine` in front of `backend`, emulating [`ENDPOINT_HOST`]`:port` at
/// [`t0`], with the short [`TIMEOUT`], as `configure` adjusts it.
async fn start_emulator(
    engine: Engine,
    backend: SocketAddr,
    port: u16,
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> RunningEmulator {
    let builder = EmulatorConfig::builder(engine)
        .backend(backend)
        .endpoint(ENDPOINT_HOST, port)
        .region(REGION)
        .credentials(credentials())
        .clock(Arc::new(ManualClock::new(t0())))
        .handshake_timeout(TIMEOUT);
    Emulator::start(configure(builder).build().unwrap())
        .await
        .unwrap()
}

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

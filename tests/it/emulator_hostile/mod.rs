//! Hostile clients against the emulator in front of the real throw-away PostgreSQL and
//! MariaDB: random bytes, truncated and oversized packets, TLS requested then garbage,
//! clients that stop at each step of a login, a flood at the connection limit, many
//! refused logins with long names, the file-descriptor limit, and the command's secrets.
//!
//! Each scenario once for both engines (see [`per_engine!`]), over the raw protocol each
//! engine's [`Wire`] speaks (in `postgres.rs` and `mysql.rs`, with what only one engine has).
//! Timeouts are short here (about a second) so that each test takes seconds.

#[cfg(feature = "_mysql")]
mod mysql;
#[cfg(feature = "_postgres")]
mod postgres;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rds_iam::clock::ManualClock;
use rds_iam_emulator::{
    Emulator, EmulatorConfigBuilder, LoginOutcome, MAX_CLIENT_TEXT, Rejection, RunningEmulator,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_native_tls::TlsStream;

use crate::support::engine::{Db, Login, emulator_config, per_engine, tls_connector};
use crate::support::iam::{Claim, ENDPOINT_HOST, t0};
use crate::support::logs::LogCapture;

per_engine!(
    random_bytes_are_refused_and_never_count_as_passwords,
    oversized_and_truncated_packets,
    ssl_request_followed_by_garbage_is_closed,
    clients_that_stop_at_each_step_are_closed_after_the_timeout,
    a_flood_at_the_connection_limit_is_refused_then_logins_are_served_again,
    refused_logins_leave_bounded_records_and_logs,
);

/// The handshake timeout of these tests' emulators.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// How late after [`TIMEOUT`] a connection may be closed (a loaded machine).
const SLACK: Duration = Duration::from_secs(4);

/// The raw protocol of an engine, as the hostile clients speak it.
trait Wire: Db {
    /// The seed of this engine's random cases (so that a failing case can be replayed).
    const SEED: u64;
    /// What each random client sends (after MySQL's greeting).
    fn random_clients(rng: &mut Rng) -> Vec<Vec<u8>>;
    /// Messages too large or cut short, and what the emulator does with each.
    fn malformed() -> Vec<Malformed>;
    /// Ask for TLS (PostgreSQL: and read the `S`), after [`Db::idle_client`].
    fn request_tls(stream: &mut TcpStream) -> impl Future<Output = ()>;
    /// Over TLS, start `user`'s login and read the emulator's request for the token.
    fn start_login(tls: &mut TlsStream<TcpStream>, user: &str) -> impl Future<Output = ()>;
    /// Then send `password` as the token.
    fn send_password(tls: &mut TlsStream<TcpStream>, password: &str) -> impl Future<Output = ()>;
    /// A plaintext login with a name too long for any record or log line (the `i`th).
    fn long_login(i: usize) -> Vec<u8>;
    /// Of the last 100 records (99 of [`Wire::long_login`]s, then one over TLS with a long
    /// user and no database), how many at least show the user, and the database, cut short.
    const CUT_AT_LEAST: (usize, usize);
    /// Whether `reply` starts with a message of the engine's protocol (rather than, say, a TLS
    /// alert).
    fn is_message(reply: &[u8]) -> bool;
    /// Whether `reply` starts with an error with `code` (SQLSTATE, error number).
    fn is_error(reply: &[u8], code: &str) -> bool;
    /// Assert that `reply` is what a connection over the limit gets.
    fn assert_over_the_limit(reply: &[u8]);
    /// Assert that a driver's `error` is the refusal at the connection limit.
    fn assert_refused_at_the_limit(error: &Self::Error);
    /// Clients stopping at steps of a login only this engine has: what each did, how long
    /// until it was closed (from before its last step).
    fn stalls_of_its_own(addr: SocketAddr) -> impl Future<Output = Vec<(&'static str, Duration)>>;
}

/// A malformed message and what the emulator does with it.
struct Malformed {
    what: &'static str,
    /// Sent over TLS (after the TLS request), else in plaintext (after MySQL's greeting).
    over_tls: bool,
    bytes: Vec<u8>,
    /// Then the client closes its side.
    then_shutdown: bool,
    /// Whether what the emulator sends before it closes the connection is right.
    reply: fn(&[u8]) -> bool,
    /// Closed by the handshake timeout, else at once.
    by_the_timeout: bool,
}

/// An emulator of `E` in front of its shared server, at [`t0`], with the short [`TIMEOUT`], as
/// `configure` adjusts it.
async fn emulator_with<E: Db>(
    configure: impl FnOnce(EmulatorConfigBuilder) -> EmulatorConfigBuilder,
) -> RunningEmulator {
    let clock = ManualClock::new(t0());
    let builder = emulator_config::<E>(&clock).handshake_timeout(TIMEOUT);
    Emulator::start(configure(builder).build().unwrap())
        .await
        .unwrap()
}

async fn emulator<E: Db>() -> RunningEmulator {
    emulator_with::<E>(|b| b).await
}

/// A user that logs in with a token, and that token (signed at [`t0`], the time of these
/// tests' emulators).
async fn iam_user<E: Db>(name: &str) -> String {
    E::create_user(name, Login::Trust).await;
    Claim::for_endpoint(E::ENDPOINT_PORT, name).token()
}

/// Log in through the emulator at `addr` whose CA is `ca_pem` with the driver (TLS verified
/// for the endpoint name) and check the session.
async fn login_through<E: Db>(
    addr: SocketAddr,
    ca_pem: &str,
    user: &str,
    token: &str,
) -> Result<(), E::Error> {
    let mut session = E::login(addr, ca_pem, user, token, None).await?;
    assert_eq!(E::whoami(&mut session).await.user, E::account(user));
    E::close(session).await;
    Ok(())
}

/// [`login_through`] `emulator`.
async fn good_login<E: Db>(
    emulator: &RunningEmulator,
    user: &str,
    token: &str,
) -> Result<(), E::Error> {
    let ca = emulator.ca_pem().unwrap();
    login_through::<E>(emulator.local_addr(), ca, user, token).await
}

/// The TLS handshake after [`Wire::request_tls`], checking the certificate for the endpoint
/// name.
async fn tls_handshake(stream: TcpStream, ca_pem: &str) -> TlsStream<TcpStream> {
    tokio_native_tls::TlsConnector::from(tls_connector(ca_pem))
        .connect(ENDPOINT_HOST, stream)
        .await
        .unwrap()
}

/// A TLS connection to `emulator`, after the TLS request.
async fn tls_to<E: Wire>(emulator: &RunningEmulator) -> TlsStream<TcpStream> {
    let mut stream = E::idle_client(emulator.local_addr()).await;
    E::request_tls(&mut stream).await;
    tls_handshake(stream, emulator.ca_pem().unwrap()).await
}

async fn random_bytes_are_refused_and_never_count_as_passwords<E: Wire>() {
    let emulator = emulator::<E>().await;
    let mut rng = Rng::new(E::SEED + 1);
    let mut running = tokio::task::JoinSet::new();
    for bytes in E::random_clients(&mut rng) {
        let addr = emulator.local_addr();
        running.spawn(async move {
            let mut stream = E::idle_client(addr).await;
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
    let user = "emu_hostile_random";
    let token = iam_user::<E>(user).await;
    good_login::<E>(&emulator, user, &token).await.unwrap();
}

async fn oversized_and_truncated_packets<E: Wire>() {
    let emulator = emulator::<E>().await;
    for case in E::malformed() {
        let what = case.what;
        // Nothing is allocated for a length the client claims.
        let ((reply, waited), largest) = largest_allocation_during(async {
            if case.over_tls {
                send(&mut tls_to::<E>(&emulator).await, &case).await
            } else {
                send(&mut E::idle_client(emulator.local_addr()).await, &case).await
            }
        })
        .await;
        assert!(
            largest < 1 << 20,
            "{what}: largest allocation {largest} bytes"
        );
        assert!((case.reply)(&reply), "{what}: {reply:?}");
        if case.by_the_timeout {
            closed_by_the_timeout(what, waited);
        } else {
            assert!(waited < TIMEOUT, "{what}: closed after {waited:?}");
        }
    }
    assert!(emulator.logins().is_empty());
    assert_eq!(emulator.plaintext_passwords_received(), 0);
}

/// Send `case`'s bytes; what the emulator sent back until it closed the connection, and how
/// long after the bytes went that was.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    case: &Malformed,
) -> (Vec<u8>, Duration) {
    let since = Instant::now();
    stream.write_all(&case.bytes).await.unwrap();
    if case.then_shutdown {
        stream.shutdown().await.unwrap();
    }
    let (reply, _) = until_closed(stream, TIMEOUT + SLACK).await;
    (reply, since.elapsed())
}

async fn ssl_request_followed_by_garbage_is_closed<E: Wire>() {
    let emulator = emulator::<E>().await;
    let mut rng = Rng::new(E::SEED + 2);
    for _ in 0..20 {
        let mut stream = E::idle_client(emulator.local_addr()).await;
        E::request_tls(&mut stream).await;
        let garbage = rng.bytes(2000);
        let _ = stream.write_all(&garbage).await;
        let (reply, waited) = until_closed(&mut stream, TIMEOUT + SLACK).await;
        // Whatever TLS alert the emulator sends, never a message of the engine's protocol.
        assert!(!E::is_message(&reply), "{reply:?}");
        assert!(waited <= TIMEOUT + SLACK);
    }
    assert!(emulator.logins().is_empty());
    let user = "emu_hostile_tls_garbage";
    let token = iam_user::<E>(user).await;
    good_login::<E>(&emulator, user, &token).await.unwrap();
}

async fn clients_that_stop_at_each_step_are_closed_after_the_timeout<E: Wire>() {
    let emulator = emulator::<E>().await;
    let addr = emulator.local_addr();
    let ca = emulator.ca_pem().unwrap();
    let started = Instant::now();
    // Each measures from before its last step.
    let connected = async {
        let since = Instant::now();
        let mut stream = E::idle_client(addr).await;
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let before_the_tls_handshake = async {
        let mut stream = E::idle_client(addr).await;
        let since = Instant::now();
        E::request_tls(&mut stream).await;
        until_closed(&mut stream, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let after_the_tls_handshake = async {
        let mut stream = E::idle_client(addr).await;
        E::request_tls(&mut stream).await;
        let since = Instant::now();
        let mut tls = tls_handshake(stream, ca).await;
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let asked_for_the_token = async {
        let mut tls = tls_to::<E>(&emulator).await;
        let since = Instant::now();
        E::start_login(&mut tls, "emu_hostile_idle").await;
        until_closed(&mut tls, TIMEOUT + SLACK).await;
        since.elapsed()
    };
    let (a, b, c, d, own) = tokio::join!(
        connected,
        before_the_tls_handshake,
        after_the_tls_handshake,
        asked_for_the_token,
        E::stalls_of_its_own(addr),
    );
    closed_by_the_timeout("connected (MySQL: greeted), nothing sent", a);
    closed_by_the_timeout("TLS requested, no ClientHello", b);
    closed_by_the_timeout("TLS done, no login message", c);
    closed_by_the_timeout("asked for the token", d);
    for (stage, waited) in own {
        closed_by_the_timeout(stage, waited);
    }
    assert!(started.elapsed() < TIMEOUT + SLACK);
    assert!(emulator.logins().is_empty());
}

async fn a_flood_at_the_connection_limit_is_refused_then_logins_are_served_again<E: Wire>() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    // A longer timeout here: the refusals below must all happen before the idle clients are
    // closed.
    let timeout = Duration::from_secs(3);
    let emulator = emulator_with::<E>(|b| b.max_connections(8).handshake_timeout(timeout)).await;
    let user = "emu_hostile_flood";
    let token = iam_user::<E>(user).await;

    // Eight idle clients take every slot.
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(E::idle_client(emulator.local_addr()).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Every further connection gets the engine's error at once and is closed.
    let started = Instant::now();
    for _ in 0..30 {
        let mut stream = TcpStream::connect(emulator.local_addr()).await.unwrap();
        let (reply, _) = until_closed(&mut stream, SLACK).await;
        E::assert_over_the_limit(&reply);
    }
    // A real client too.
    let err = good_login::<E>(&emulator, user, &token).await.unwrap_err();
    E::assert_refused_at_the_limit(&err);
    assert!(started.elapsed() < timeout, "{:?}", started.elapsed());
    // The idle clients are closed by the timeout, and logins are served again.
    for mut stream in idle {
        until_closed(&mut stream, timeout + SLACK).await;
    }
    good_login::<E>(&emulator, user, &token).await.unwrap();
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

async fn refused_logins_leave_bounded_records_and_logs<E: Wire>() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let emulator = emulator_with::<E>(|b| b.login_history(100)).await;
    let addr = emulator.local_addr();
    const REFUSED: usize = 2000;
    let mut running = tokio::task::JoinSet::new();
    for i in 0..REFUSED {
        // Plaintext logins with 9 KB names: refused for no TLS.
        let bytes = E::long_login(i);
        running.spawn(async move {
            let mut stream = E::idle_client(addr).await;
            stream.write_all(&bytes).await.unwrap();
            stream.shutdown().await.unwrap();
            until_closed(&mut stream, SLACK).await.0
        });
        if running.len() >= 32 {
            let reply = running.join_next().await.unwrap().unwrap();
            assert!(E::is_error(&reply, E::REFUSED), "{reply:?}");
            assert!(reply.len() < 1024, "{} bytes", reply.len());
        }
    }
    while let Some(reply) = running.join_next().await {
        assert!(E::is_error(&reply.unwrap(), E::REFUSED));
    }
    // And over TLS with a bad token: the error names the user cut short too.
    let user = long_name(REFUSED);
    let mut tls = tls_to::<E>(&emulator).await;
    E::start_login(&mut tls, &user).await;
    E::send_password(&mut tls, "not a token").await;
    let (reply, _) = until_closed(&mut tls, SLACK).await;
    assert!(reply.len() < 1024, "{} bytes", reply.len());
    let cut_short = format!("{}…", &user[..MAX_CLIENT_TEXT]);
    let refusal = E::refused_like_rds(&cut_short);
    assert!(
        String::from_utf8_lossy(&reply).contains(&refusal),
        "{reply:?}"
    );

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
    let (users, databases) = E::CUT_AT_LEAST;
    assert!(
        users_cut >= users && databases_cut >= databases,
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

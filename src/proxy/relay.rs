//! The relay of a logged-in session: bytes both ways, unchanged, until either side closes, the
//! session is idle for too long, or the proxy stops.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// Per direction: 1,000 idle sessions hold 8 MiB of buffers (a measured run with 8 KiB:
/// 67 MiB resident for 1,000 idle sessions, over the 64 MiB aimed at; with 4 KiB, see
/// benches/proxy.sh).
const BUFFER: usize = 4 * 1024;

/// How a relay ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// A side closed (or failed).
    Closed,
    /// Nothing moved either way for the idle timeout.
    Idle,
    /// The proxy was stopped.
    Stopped,
}

/// Relay `client` and `server` both ways, adding what moves to the counters.
pub(crate) async fn relay<C, S>(
    client: C,
    server: S,
    idle: Option<Duration>,
    mut stop: watch::Receiver<bool>,
    to_server: &AtomicU64,
    to_client: &AtomicU64,
) -> End
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    // Milliseconds since `start` of the last byte moved.
    let last = AtomicU64::new(0);
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let both = async {
        let up = pump(&mut client_read, &mut server_write, to_server, &last, start);
        let down = pump(&mut server_read, &mut client_write, to_client, &last, start);
        let (mut up, mut down) = (std::pin::pin!(up), std::pin::pin!(down));
        // A side that closes cleanly half-closes the other direction, which goes on until its
        // own end; a failure on either side ends both (a dead server never holds a client).
        tokio::select! {
            result = &mut up => if result.is_ok() { let _ = down.await; },
            result = &mut down => if result.is_ok() { let _ = up.await; },
        }
    };
    let idle_watch = async {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        loop {
            let since = Duration::from_millis(last.load(Ordering::Relaxed));
            let deadline = start + since + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    let stopped = async {
        while !*stop.borrow_and_update() {
            if stop.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    };
    tokio::select! {
        () = both => End::Closed,
        () = idle_watch => End::Idle,
        () = stopped => End::Stopped,
    }
}

/// Copy `from` to `to` until `from` ends (then shut `to`'s writing down) or either fails.
async fn pump<R, W>(
    from: &mut R,
    to: &mut W,
    counter: &AtomicU64,
    last: &AtomicU64,
    start: Instant,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
        counter.fetch_add(n as u64, Ordering::Relaxed);
        let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        last.store(now, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_go_both_ways_and_are_counted() {
        let (client, mut client_far) = tokio::io::duplex(64);
        let (server, mut server_far) = tokio::io::duplex(64);
        let (_stop_tx, stop) = watch::channel(false);
        let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
        let relay = relay(client, server, None, stop, &up, &down);
        let talk = async {
            client_far.write_all(b"hello").await.unwrap();
            let mut got = [0u8; 5];
            server_far.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"hello");
            server_far.write_all(b"world!").await.unwrap();
            let mut got = [0u8; 6];
            client_far.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"world!");
            drop(client_far);
            drop(server_far);
        };
        let (end, ()) = tokio::join!(relay, talk);
        assert_eq!(end, End::Closed);
        assert_eq!((up.into_inner(), down.into_inner()), (5, 6));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_session_ends_and_a_stop_ends_it_too() {
        let (client, _c) = tokio::io::duplex(64);
        let (server, _s) = tokio::io::duplex(64);
        let (_stop_tx, stop) = watch::channel(false);
        let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
        let end = relay(
            client,
            server,
            Some(Duration::from_secs(5)),
            stop,
            &up,
            &down,
        )
        .await;
        assert_eq!(end, End::Idle);

        let (client, _c) = tokio::io::duplex(64);
        let (server, _s) = tokio::io::duplex(64);
        let (stop_tx, stop) = watch::channel(false);
        let stopping = async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop_tx.send(true).unwrap();
        };
        let (end, ()) = tokio::join!(relay(client, server, None, stop, &up, &down), stopping);
        assert_eq!(end, End::Stopped);
    }
}

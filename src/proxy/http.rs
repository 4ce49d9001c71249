//! Health and metrics over HTTP: a tiny HTTP/1.1 responder (GET only, one request per
//! connection). `/startup` and `/liveness` answer 200 while the proxy runs; `/readiness` 200
//! while it accepts clients and is under its connection limit, else 503, and never dials the
//! database; `/metrics` the counters in the Prometheus text format.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::State;

/// The longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client has to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(READ_TIMEOUT, answer(stream, &state)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let (status, content_type, body) = respond(&head, state);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// The status line's code and reason, the content type and the body for a request head.
fn respond(head: &[u8], state: &State) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (parts.next(), parts.next());
    if !matches!(method, Some(b"GET" | b"HEAD")) {
        return ("405 Method Not Allowed", TEXT, "GET only\n".into());
    }
    let path = path.unwrap_or_default();
    let path = path.split(|&b| b == b'?').next().unwrap_or_default();
    match path {
        b"/startup" | b"/liveness" => ("200 OK", TEXT, "ok\n".into()),
        b"/readiness" => {
            let accepting = state.accepting.load(Ordering::Acquire);
            let open = state.counters.open.load(Ordering::Acquire);
            let full = state.max_connections.is_some_and(|max| open >= max as u64);
            match (accepting, full) {
                (true, false) => ("200 OK", TEXT, "ok\n".into()),
                (false, _) => ("503 Service Unavailable", TEXT, "stopping\n".into()),
                (true, true) => (
                    "503 Service Unavailable",
                    TEXT,
                    "the connection limit is reached\n".into(),
                ),
            }
        }
        b"/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            state.counters.snapshot(state.tokens.stats()).prometheus(),
        ),
        _ => (
            "404 Not Found",
            TEXT,
            "not found: /startup, /readiness, /liveness, /metrics\n".into(),
        ),
    }
}

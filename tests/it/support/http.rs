//! A minimal HTTP/1.1 server on loopback for tests (one request per connection,
//! `Connection: close`): stands in for the ECS container credentials endpoint and STS, well
//! behaved or not (an error status, a body that is not what was asked for, no answer at all).

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as received: the head (request line and headers) and the body.
pub struct Request {
    pub head: String,
    pub body: String,
}

/// What the server answers.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

/// Turns each request into a response, or `None` to never answer (a hanging endpoint: the
/// connection stays open, silent, until the test's runtime shuts down).
pub type Handler = Arc<dyn Fn(Request) -> Option<Response> + Send + Sync>;

/// A server on a free loopback port, stopped when dropped.
pub struct HttpServer {
    /// `http://127.0.0.1:PORT{path}`.
    pub url: String,
    task: JoinHandle<()>,
}

impl HttpServer {
    /// Listen on a free loopback port; `path` is appended to [`HttpServer::url`].
    pub async fn start(path: &str, handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let _ = serve_one(stream, handler).await;
                });
            }
        });
        Self { url, task }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(mut stream: TcpStream, handler: Handler) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let content_length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + content_length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let Some(response) = handler(Request { head, body }) else {
        return std::future::pending().await;
    };
    let reason = match response.status {
        200 => "OK",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        response.status,
        response.content_type,
        response.body.len(),
        response.body
    );
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}

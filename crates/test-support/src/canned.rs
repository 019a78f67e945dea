//! A minimal keep-alive HTTP/1.1 server with canned responses, for memory measurements.
//!
//! Why not wiremock here: every wiremock `MountedMock` keeps a clone of each request it matched
//! (`matched_requests`, for `MockGuard::received_requests`), with no way to turn it off
//! (`disable_request_recording` only covers the server-wide log). In-process, that is roughly
//! 9 KB of RSS per request, which would drown a leak check of the client. This server keeps no
//! per-request state: it answers `GET`s by exact path (query ignored) with a fixed response and
//! counts them.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// One fixed response.
#[derive(Debug, Clone)]
pub struct CannedResponse {
    head: Arc<[u8]>,
    body: Arc<[u8]>,
    delay: Option<Duration>,
}

impl CannedResponse {
    /// A response with this status, content type and body (`Content-Length` framing).
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let body: Vec<u8> = body.into();
        let head = format!(
            "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            reason(status),
            body.len()
        );
        Self { head: head.into_bytes().into(), body: body.into(), delay: None }
    }

    /// A JSON response.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::new(status, "application/json", body)
    }

    /// Waits this long before answering.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

type Routes = RwLock<HashMap<String, CannedResponse>>;

/// A keep-alive HTTP/1.1 server on `127.0.0.1:0` answering from a fixed route table.
/// Unknown paths get an empty 404. Dropping it aborts its tasks and closes its sockets.
#[derive(Debug)]
pub struct CannedHttpServer {
    address: SocketAddr,
    routes: Arc<Routes>,
    served: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    accept_task: JoinHandle<()>,
}

impl CannedHttpServer {
    /// Starts the server. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When no local port can be bound.
    pub async fn start() -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let routes = Arc::new(Routes::default());
        let served = Arc::new(AtomicUsize::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let accept_task =
            tokio::spawn(accept_loop(listener, Arc::clone(&routes), Arc::clone(&served), Arc::clone(&open)));
        Ok(Self { address, routes, served, open, accept_task })
    }

    /// Answers `GET path` (any query) with `response`, replacing an earlier route.
    pub fn route(&self, path: &str, response: CannedResponse) {
        self.routes.write().unwrap_or_else(PoisonError::into_inner).insert(path.to_owned(), response);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The listening address (for [`crate::ConnectionCountingProxy::start`]).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Requests answered so far.
    pub fn requests_served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Client connections open right now (counted down once the server has closed its socket,
    /// which it does when the client closes or on a read error).
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for CannedHttpServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Counts a connection as open while it lives.
struct OpenConnection(Arc<AtomicUsize>);

impl OpenConnection {
    fn new(open: &Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(open))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn accept_loop(
    listener: TcpListener,
    routes: Arc<Routes>,
    served: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    let counted = OpenConnection::new(&open);
                    let (routes, served) = (Arc::clone(&routes), Arc::clone(&served));
                    connections.spawn(async move {
                        // `serve` owns and closes the socket; the count drops after it.
                        serve(socket, routes, served).await;
                        drop(counted);
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve(mut socket: TcpStream, routes: Arc<Routes>, served: Arc<AtomicUsize>) {
    let _ = socket.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            if buf.len() > 64 * 1024 {
                return;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let target = head.split_whitespace().nth(1).unwrap_or("/");
        let path = target.split('?').next().unwrap_or(target);
        let content_length = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let response = routes.read().unwrap_or_else(PoisonError::into_inner).get(path).cloned();
        // Skip a request body, if any.
        let mut consumed = head_end;
        while buf.len() < head_end + content_length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        consumed += content_length;
        buf.drain(..consumed);

        let response = response.unwrap_or_else(|| CannedResponse::new(404, "text/plain", Vec::new()));
        if let Some(delay) = response.delay {
            tokio::time::sleep(delay).await;
        }
        served.fetch_add(1, Ordering::SeqCst);
        if socket.write_all(&response.head).await.is_err() || socket.write_all(&response.body).await.is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::run_exclusive;

    #[test]
    fn answers_routes_with_keep_alive() {
        run_exclusive(2, async {
            let server = CannedHttpServer::start().await.unwrap();
            server.route("/a", CannedResponse::json(200, r#"{"ok":true}"#));
            let mut socket = TcpStream::connect(server.address()).await.unwrap();
            for path in ["/a?x=1", "/missing"] {
                socket.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await.unwrap();
            }
            let mut received = Vec::new();
            let expected_len = {
                let ok = CannedResponse::json(200, r#"{"ok":true}"#);
                let missing = CannedResponse::new(404, "text/plain", Vec::new());
                ok.head.len() + ok.body.len() + missing.head.len()
            };
            while received.len() < expected_len {
                let mut buf = [0_u8; 1024];
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&received));
                received.extend_from_slice(&buf[..n]);
            }
            let text = String::from_utf8(received).unwrap();
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
            assert!(text.contains(r#"{"ok":true}HTTP/1.1 404 Not Found"#), "{text}");
            assert_eq!(server.requests_served(), 2);
            assert_eq!(server.open_connections(), 1, "kept alive");
            drop(socket);
            assert!(crate::wait_until(Duration::from_secs(5), || server.open_connections() == 0).await);
        });
    }
}

//! A connection-counting TCP proxy with fault injection.
//!
//! Put it between an HTTP client and a mock server (`base_url = proxy.uri()`): every TCP
//! connection the client opens is accepted here and forwarded to the upstream. The proxy counts
//! connections the client has open, so a test can see the client's pool from the outside: a
//! connection only stops counting once the CLIENT has closed it (its read side returns EOF or an
//! error) or the proxy itself tore it down because of an injected [`Fault`].
//!
//! When the upstream closes a connection the proxy forwards the FIN to the client and keeps
//! counting the connection until the client closes its end too, so a client that keeps a
//! half-closed socket around (a leak) stays visible.
//!
//! The proxy owns its accept task, and that task owns every per-connection task (a `JoinSet`);
//! dropping the proxy aborts the accept task, which drops the set and so aborts and closes every
//! proxied connection. Nothing outlives the proxy.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A fault applied to connections accepted after [`ConnectionCountingProxy::set_fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Forward everything.
    #[default]
    None,
    /// Forward this many bytes of the upstream's response, then reset both sides (TCP RST via
    /// `SO_LINGER = 0`). The client sees "connection reset by peer" mid-response. With 0 the
    /// reset happens as soon as the upstream starts answering.
    ResetAfterResponseBytes(usize),
    /// Forward this many bytes of the upstream's response, then close both sides gracefully
    /// (FIN). The client sees a truncated response / unexpected EOF.
    CloseAfterResponseBytes(usize),
    /// Like [`ResetAfterResponseBytes`](Self::ResetAfterResponseBytes), counting the response
    /// bytes of every connection since [`ConnectionCountingProxy::set_fault`]: the reset lands at
    /// the same point of a multi-request exchange whether or not the client reused its
    /// connection (hyper may open a second one while the first is still being handed back to
    /// its pool). Once fired, later connections are reset as soon as the upstream answers.
    ResetAfterTotalResponseBytes(usize),
    /// [`CloseAfterResponseBytes`](Self::CloseAfterResponseBytes), counted like
    /// [`ResetAfterTotalResponseBytes`](Self::ResetAfterTotalResponseBytes).
    CloseAfterTotalResponseBytes(usize),
}

#[derive(Debug, Default)]
struct Counters {
    open: AtomicUsize,
    total: AtomicUsize,
    peak: AtomicUsize,
    faults_fired: AtomicUsize,
    fault: Mutex<Fault>,
    /// Response bytes forwarded since the fault was set (for `ResetAfterTotalResponseBytes`).
    response_bytes: AtomicUsize,
}

impl Counters {
    fn fault(&self) -> Fault {
        *self.fault.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts one accepted connection as open until dropped, so an aborted connection task still
/// decrements.
struct OpenGuard(Arc<Counters>);

impl OpenGuard {
    fn new(counters: &Arc<Counters>) -> Self {
        counters.total.fetch_add(1, Ordering::SeqCst);
        let now = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
        counters.peak.fetch_max(now, Ordering::SeqCst);
        Self(Arc::clone(counters))
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A TCP proxy on `127.0.0.1:0` that forwards to one upstream and counts client connections.
#[derive(Debug)]
pub struct ConnectionCountingProxy {
    address: SocketAddr,
    upstream: SocketAddr,
    counters: Arc<Counters>,
    accept_task: JoinHandle<()>,
}

impl ConnectionCountingProxy {
    /// Starts a proxy forwarding to `upstream`. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the listening socket cannot be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        let accept_task = tokio::spawn(accept_loop(listener, upstream, Arc::clone(&counters)));
        Ok(Self { address, upstream, counters, accept_task })
    }

    /// Starts a proxy in front of a wiremock server.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn for_mock(server: &wiremock::MockServer) -> Self {
        Self::start(*server.address()).await.expect("bind the connection-counting proxy")
    }

    /// `http://127.0.0.1:PORT`, to use as a provider's `base_url`.
    pub fn uri(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The proxy's listening address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Where connections are forwarded.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Client connections open right now.
    pub fn open_connections(&self) -> usize {
        self.counters.open.load(Ordering::SeqCst)
    }

    /// Client connections accepted since start.
    pub fn total_connections(&self) -> usize {
        self.counters.total.load(Ordering::SeqCst)
    }

    /// The most client connections that were open at the same time.
    pub fn peak_connections(&self) -> usize {
        self.counters.peak.load(Ordering::SeqCst)
    }

    /// Restarts peak tracking from the number open now.
    pub fn reset_peak(&self) {
        self.counters.peak.store(self.open_connections(), Ordering::SeqCst);
    }

    /// How many connections an injected fault has torn down.
    pub fn faults_fired(&self) -> usize {
        self.counters.faults_fired.load(Ordering::SeqCst)
    }

    /// Applies `fault` to connections accepted from now on.
    pub fn set_fault(&self, fault: Fault) {
        let mut current = self.counters.fault.lock().unwrap_or_else(PoisonError::into_inner);
        self.counters.response_bytes.store(0, Ordering::SeqCst);
        *current = fault;
    }

    /// Polls until exactly `n` client connections are open; false if that did not happen within
    /// `timeout` (closing is asynchronous, so a test must wait rather than read once).
    pub async fn wait_for_open_connections(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.open_connections() == n {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for ConnectionCountingProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, counters: Arc<Counters>) {
    // Owned by this task: aborting the task drops the set, which aborts every connection task.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    let guard = OpenGuard::new(&counters);
                    let fault = counters.fault();
                    let counters = Arc::clone(&counters);
                    connections.spawn(async move {
                        proxy_connection(client, upstream, fault, &counters).await;
                        drop(guard);
                    });
                }
                // e.g. EMFILE: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Why the upstream-to-client direction stopped.
enum Downstream {
    /// The upstream closed or failed; the client has been sent a FIN.
    UpstreamDone,
    /// Writing to the client failed: it is gone.
    ClientGone,
    /// The injected fault fired and the client must be torn down.
    Fault { reset: bool },
}

async fn proxy_connection(mut client: TcpStream, upstream: SocketAddr, fault: Fault, counters: &Counters) {
    let _ = client.set_nodelay(true);
    let mut server = match TcpStream::connect(upstream).await {
        Ok(server) => server,
        Err(_) => {
            // Nothing to forward to: reset the client so it sees an error at once.
            let _ = client.set_zero_linger();
            return;
        }
    };
    let _ = server.set_nodelay(true);
    if let Some(reset) = forward(&mut client, &mut server, fault, &counters.response_bytes).await {
        counters.faults_fired.fetch_add(1, Ordering::SeqCst);
        if reset {
            let _ = client.set_zero_linger();
            let _ = server.set_zero_linger();
        }
    }
    // Both sockets are dropped (closed) here.
}

/// Forwards both directions until the client closes (or a fault fires: `Some(reset)`).
async fn forward(
    client: &mut TcpStream,
    server: &mut TcpStream,
    fault: Fault,
    proxy_response_bytes: &AtomicUsize,
) -> Option<bool> {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();

    // Client to upstream. Returns once the client has closed (EOF) or failed.
    let upstream_direction = async {
        let mut buf = vec![0_u8; 16 * 1024];
        let mut upstream_open = true;
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) if upstream_open => {
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        // Keep draining so we still notice when the client closes.
                        upstream_open = false;
                    }
                }
                Ok(_) => {}
            }
        }
    };

    // Upstream to client, counting response bytes for the fault.
    let (limit, proxy_wide) = match fault {
        Fault::None => (None, false),
        Fault::ResetAfterResponseBytes(n) => (Some((n, true)), false),
        Fault::CloseAfterResponseBytes(n) => (Some((n, false)), false),
        Fault::ResetAfterTotalResponseBytes(n) => (Some((n, true)), true),
        Fault::CloseAfterTotalResponseBytes(n) => (Some((n, false)), true),
    };
    let downstream_direction = async {
        let mut buf = vec![0_u8; 16 * 1024];
        let mut forwarded = 0_usize;
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = client_write.shutdown().await;
                    return Downstream::UpstreamDone;
                }
                Ok(n) => n,
            };
            let already = if proxy_wide { proxy_response_bytes.load(Ordering::SeqCst) } else { forwarded };
            let (chunk, fire) = match limit {
                Some((max, reset)) if already + n >= max => {
                    (&buf[..max.saturating_sub(already)], Some(reset))
                }
                _ => (&buf[..n], None),
            };
            if client_write.write_all(chunk).await.is_err() {
                return Downstream::ClientGone;
            }
            forwarded += chunk.len();
            proxy_response_bytes.fetch_add(chunk.len(), Ordering::SeqCst);
            if let Some(reset) = fire {
                let _ = client_write.flush().await;
                return Downstream::Fault { reset };
            }
        }
    };

    tokio::pin!(upstream_direction, downstream_direction);
    tokio::select! {
        () = &mut upstream_direction => None,
        outcome = &mut downstream_direction => match outcome {
            // Keep counting the connection until the client closes its end.
            Downstream::UpstreamDone => {
                upstream_direction.await;
                None
            }
            Downstream::ClientGone => None,
            Downstream::Fault { reset } => Some(reset),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::run_exclusive;

    /// A tiny upstream that answers every request line with a fixed response and keeps the
    /// connection open (keep-alive), like an HTTP server would.
    async fn echo_upstream(response: &'static [u8]) -> (SocketAddr, JoinHandle<()>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                connections.spawn(async move {
                    let mut buf = [0_u8; 1024];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 || socket.write_all(response).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (address, task)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn counts_until_the_client_closes() {
        run_exclusive(2, async {
            let (upstream, server) = echo_upstream(b"pong").await;
            let proxy = ConnectionCountingProxy::start(upstream).await.unwrap();
            let mut first = TcpStream::connect(proxy.address()).await.unwrap();
            let second = TcpStream::connect(proxy.address()).await.unwrap();
            first.write_all(b"ping").await.unwrap();
            let mut buf = [0_u8; 4];
            first.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"pong");
            assert!(proxy.wait_for_open_connections(2, SECOND).await);
            // A client that keeps its socket stays counted: this is what catches leaks.
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(proxy.open_connections(), 2);
            drop(first);
            assert!(proxy.wait_for_open_connections(1, SECOND).await);
            drop(second);
            assert!(proxy.wait_for_open_connections(0, SECOND).await);
            assert_eq!((proxy.total_connections(), proxy.peak_connections()), (2, 2));
            server.abort();
        });
    }

    #[test]
    fn upstream_close_still_waits_for_the_client() {
        run_exclusive(2, async {
            let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
            let upstream = listener.local_addr().unwrap();
            // Upstream closes every connection right away.
            let server = tokio::spawn(async move {
                loop {
                    drop(listener.accept().await.unwrap());
                }
            });
            let proxy = ConnectionCountingProxy::start(upstream).await.unwrap();
            let mut client = TcpStream::connect(proxy.address()).await.unwrap();
            let mut buf = [0_u8; 1];
            assert_eq!(client.read(&mut buf).await.unwrap(), 0, "FIN forwarded to the client");
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(proxy.open_connections(), 1, "half-closed client socket still counted");
            drop(client);
            assert!(proxy.wait_for_open_connections(0, SECOND).await);
            server.abort();
        });
    }

    #[test]
    fn reset_fault_cuts_the_response() {
        run_exclusive(2, async {
            let (upstream, server) = echo_upstream(b"0123456789").await;
            let proxy = ConnectionCountingProxy::start(upstream).await.unwrap();
            proxy.set_fault(Fault::ResetAfterResponseBytes(4));
            let mut client = TcpStream::connect(proxy.address()).await.unwrap();
            client.write_all(b"go").await.unwrap();
            let mut received = Vec::new();
            let error = loop {
                let mut buf = [0_u8; 64];
                match client.read(&mut buf).await {
                    Ok(0) => break None,
                    Ok(n) => received.extend_from_slice(&buf[..n]),
                    Err(e) => break Some(e.kind()),
                }
            };
            assert!(received.len() <= 4, "{received:?}");
            assert_eq!(error, Some(io::ErrorKind::ConnectionReset));
            assert!(proxy.wait_for_open_connections(0, SECOND).await);
            assert_eq!(proxy.faults_fired(), 1);

            proxy.set_fault(Fault::CloseAfterResponseBytes(3));
            let mut client = TcpStream::connect(proxy.address()).await.unwrap();
            client.write_all(b"go").await.unwrap();
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            assert_eq!(received, b"012");
            server.abort();
        });
    }

    #[test]
    fn dropping_the_proxy_closes_its_connections() {
        run_exclusive(2, async {
            let (upstream, server) = echo_upstream(b"pong").await;
            let proxy = ConnectionCountingProxy::start(upstream).await.unwrap();
            let address = proxy.address();
            let mut client = TcpStream::connect(address).await.unwrap();
            assert!(proxy.wait_for_open_connections(1, SECOND).await);
            drop(proxy);
            let mut buf = [0_u8; 1];
            let read = tokio::time::timeout(SECOND, client.read(&mut buf))
                .await
                .expect("proxy closed the connection");
            assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(TcpStream::connect(address).await.is_err(), "listener closed");
            server.abort();
        });
    }
}

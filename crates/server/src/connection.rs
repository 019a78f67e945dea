//! One HTTP/1.1 connection: hyper's connection driver, plus a watchdog that closes the connection
//! when its client is too slow to send a request head or keeps it idle too long, and the two
//! signals of the server's bounded drain.
//!
//! Why our own watchdog and not hyper's `header_read_timeout`: hyper (1.x) starts that timer
//! whenever the connection waits for a request head, also right after a response, so it would
//! close every idle kept-alive connection after the header timeout and leave no room for a
//! longer idle timeout. The watchdog knows three facts, kept in atomics by the connection's own
//! parts (all polled by the connection's one task, so they are never contended): requests in
//! flight (a request counts from its complete head until its response body has been handed to
//! hyper), since when none has been, and when the first byte of the next request arrived. The
//! timer is one `Sleep` per connection, reset only when it fires; nothing is allocated per
//! request.

use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

/// Counter of connections the server closed on its own, by `reason`.
const CONNECTIONS_CLOSED_TOTAL: &str = "http_connections_closed_total";

/// The timeouts of the watchdog (see `ServerConfig`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read: Duration,
    pub(crate) idle: Duration,
}

/// The server's drain, as seen by a connection: `drain` asks it to finish its request in flight
/// and close (idle connections close at once); `close` drops it where it stands.
#[derive(Clone)]
pub(crate) struct Shutdown {
    pub(crate) drain: CancellationToken,
    pub(crate) close: CancellationToken,
}

/// Serves `stream` until the client closes it, the watchdog or `shutdown.close` drops it, or a
/// drain lets it finish. Dropping the connection drops the handler in flight (a download stops
/// reading its file) and closes the socket.
pub(crate) async fn serve(
    stream: TcpStream,
    router: Router,
    http: Arc<http1::Builder>,
    limits: ConnectionLimits,
    shutdown: Shutdown,
) {
    let activity = Arc::new(Activity::new());
    let started = Arc::clone(&activity);
    let finished = Arc::clone(&activity);
    let service = router
        .map_request(move |request: Request<Incoming>| {
            started.request_started();
            request
        })
        .map_response(move |response: Response| {
            let done = ResponseDone(Arc::clone(&finished));
            response.map(|body| TrackedBody { body, _done: done })
        });
    let io = TokioIo::new(WatchedStream { stream, activity: Arc::clone(&activity) });
    let mut connection = pin!(http.serve_connection(io, TowerToHyperService::new(service)));
    let mut watchdog = pin!(tokio::time::sleep(limits.header_read));
    let mut draining = false;
    loop {
        tokio::select! {
            biased;
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "Connection ended with an error.");
                }
                return;
            }
            () = &mut watchdog => {
                let now = Instant::now();
                match activity.deadline(limits) {
                    Some(Deadline { at, .. }) if at > now => watchdog.as_mut().reset(at),
                    Some(Deadline { reason, .. }) => {
                        tracing::debug!(reason, "Closing a connection: no complete request in time.");
                        metrics::counter!(CONNECTIONS_CLOSED_TOTAL, "reason" => reason).increment(1);
                        return;
                    }
                    // A request in flight is never cut here (the request timeout bounds the
                    // handler); look again later.
                    None => watchdog.as_mut().reset(now + limits.header_read.min(limits.idle)),
                }
            }
            () = shutdown.drain.cancelled(), if !draining => {
                draining = true;
                connection.as_mut().graceful_shutdown();
            }
            () = shutdown.close.cancelled(), if draining => {
                tracing::debug!("Closing a connection still open at the drain deadline.");
                metrics::counter!(CONNECTIONS_CLOSED_TOTAL, "reason" => "drain_deadline").increment(1);
                return;
            }
        }
    }
}

/// When the watchdog closes the connection, and what to call it.
struct Deadline {
    at: Instant,
    reason: &'static str,
}

/// `head_started_ms` while no byte of a next request has arrived.
const NO_HEAD: u64 = u64::MAX;

/// What the watchdog knows about its connection. Times are milliseconds since `opened`.
struct Activity {
    opened: Instant,
    /// Requests whose head arrived and whose response body hyper has not finished with.
    in_flight: AtomicU32,
    /// Since when no request has been in flight (0: since the accept).
    waiting_since_ms: AtomicU64,
    /// When the first byte of the next request arrived on a kept-alive connection.
    head_started_ms: AtomicU64,
    /// Whether a response has been completed: the connection is kept alive, not new.
    kept_alive: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicU32::new(0),
            waiting_since_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NO_HEAD),
            kept_alive: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// A request head is complete and the service is called.
    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(NO_HEAD, Ordering::Relaxed);
    }

    /// Hyper is done with a response body (written to the end, or the connection is going).
    fn response_done(&self) {
        self.response_done_at(self.now_ms());
    }

    fn response_done_at(&self, now_ms: u64) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.waiting_since_ms.store(now_ms, Ordering::Relaxed);
            self.kept_alive.store(true, Ordering::Relaxed);
        }
    }

    /// Bytes arrived from the client: on an idle kept-alive connection, a request has begun and
    /// its head is now timed like a new connection's. Reads the clock only then.
    fn bytes_arrived(&self) {
        if self.awaits_head() {
            self.head_started_ms.store(self.now_ms(), Ordering::Relaxed);
        }
    }

    #[cfg(test)]
    fn bytes_arrived_at(&self, now_ms: u64) {
        if self.awaits_head() {
            self.head_started_ms.store(now_ms, Ordering::Relaxed);
        }
    }

    fn awaits_head(&self) -> bool {
        self.kept_alive.load(Ordering::Relaxed)
            && self.in_flight.load(Ordering::Relaxed) == 0
            && self.head_started_ms.load(Ordering::Relaxed) == NO_HEAD
    }

    /// When the connection must be closed if nothing changes: none while a request is in flight.
    fn deadline(&self, limits: ConnectionLimits) -> Option<Deadline> {
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        let at = |ms: u64, limit: Duration| self.opened + Duration::from_millis(ms) + limit;
        if !self.kept_alive.load(Ordering::Relaxed) {
            return Some(Deadline { at: at(0, limits.header_read), reason: "header_timeout" });
        }
        match self.head_started_ms.load(Ordering::Relaxed) {
            NO_HEAD => Some(Deadline {
                at: at(self.waiting_since_ms.load(Ordering::Relaxed), limits.idle),
                reason: "idle_timeout",
            }),
            started => Some(Deadline { at: at(started, limits.header_read), reason: "header_timeout" }),
        }
    }
}

/// Marks a request finished when hyper drops its response body.
struct ResponseDone(Arc<Activity>);

impl Drop for ResponseDone {
    fn drop(&mut self) {
        self.0.response_done();
    }
}

/// The router's response body, unchanged, carrying the mark that ends its request.
struct TrackedBody {
    body: Body,
    _done: ResponseDone,
}

impl hyper::body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the watchdog when bytes arrive; writes pass straight through.
struct WatchedStream {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        read
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ConnectionLimits =
        ConnectionLimits { header_read: Duration::from_secs(10), idle: Duration::from_secs(60) };

    fn secs(activity: &Activity, deadline: &Deadline) -> u64 {
        (deadline.at - activity.opened).as_secs()
    }

    #[test]
    fn a_new_connection_has_the_header_timeout_from_its_accept() {
        let activity = Activity::new();
        activity.bytes_arrived_at(3_000);
        let deadline = activity.deadline(LIMITS).unwrap();
        assert_eq!((secs(&activity, &deadline), deadline.reason), (10, "header_timeout"));
    }

    #[test]
    fn no_deadline_while_a_request_is_in_flight() {
        let activity = Activity::new();
        activity.request_started();
        assert!(activity.deadline(LIMITS).is_none());
        activity.bytes_arrived_at(100_000);
        assert!(activity.deadline(LIMITS).is_none());
    }

    #[test]
    fn a_kept_alive_connection_idles_then_times_its_next_head() {
        let activity = Activity::new();
        activity.request_started();
        activity.response_done_at(2_000);
        let idle = activity.deadline(LIMITS).unwrap();
        assert_eq!((secs(&activity, &idle), idle.reason), (62, "idle_timeout"));
        activity.bytes_arrived_at(32_000);
        let head = activity.deadline(LIMITS).unwrap();
        assert_eq!((secs(&activity, &head), head.reason), (42, "header_timeout"));
        // Later bytes of the same head do not move it.
        activity.bytes_arrived_at(37_000);
        assert_eq!(secs(&activity, &activity.deadline(LIMITS).unwrap()), 42);
        activity.request_started();
        assert!(activity.deadline(LIMITS).is_none());
        activity.response_done_at(50_000);
        assert_eq!(secs(&activity, &activity.deadline(LIMITS).unwrap()), 110);
    }
}

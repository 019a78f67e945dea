//! [`Server`]: binds the listener, accepts up to `max_connections` connections, serves each
//! under its timeouts until told to stop, and drains in-flight requests within a deadline.
//!
//! Why our own accept loop rather than `axum::serve`: axum's loop has no connection cap, no
//! header-read or idle timeout and a drain that waits for every open connection without a
//! deadline, so one client that stops reading a download, or sends half a request and goes
//! quiet, kept the process alive indefinitely after SIGTERM. Each connection runs hyper's
//! HTTP/1.1 driver directly (`connection.rs`), as axum does, with nothing added per request but
//! two counter updates.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::AppState;
use crate::connection::{self, ConnectionLimits, Shutdown};
use crate::routes::alert_stream::AlertStreams;

/// How often the metrics recorder folds recorded histogram samples into its buckets, so they do
/// not accumulate between (or without) scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Pause after an accept error that is not about one connection (typically `EMFILE`: out of
/// file descriptors), so the loop does not spin while connections close; as in axum.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(#[source] io::Error),
}

/// A bound, not yet running HTTP server.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    metrics: PrometheusHandle,
    limits: ConnectionLimits,
    max_connections: usize,
    alert_streams: Arc<AlertStreams>,
}

/// Which routes a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// The API, the web UI, the docs and the ops endpoints.
    Everything,
    /// Only `/healthz`, `/readyz` and `/metrics` (a worker instance).
    Ops,
}

/// A socket bound and listening, not yet served. `serve` binds before it opens the database, so
/// a second `serve` on a port in use fails before it registers, sweeps or claims anything.
pub struct BoundListener {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl BoundListener {
    /// Binds `addr` (port 0 picks a free port; the server built [`on`](Server::on) it tells
    /// which, see [`Server::local_addr`]).
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address is taken or not allowed.
    pub async fn bind(addr: SocketAddr) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self { listener, local_addr })
    }
}

impl Server {
    /// Binds `state.config.listen` and serves everything on it.
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address is taken or not allowed.
    pub async fn bind(state: AppState) -> Result<Self, ServerError> {
        let listener = BoundListener::bind(state.config.listen).await?;
        Ok(Self::on(listener, state, Surface::Everything))
    }

    /// A server for `surface` on a listener bound earlier.
    pub fn on(bound: BoundListener, state: AppState, surface: Surface) -> Self {
        let BoundListener { listener, local_addr } = bound;
        let metrics = state.metrics.clone();
        let limits = ConnectionLimits {
            header_read: state.config.header_read_timeout(),
            idle: state.config.idle_timeout(),
        };
        let max_connections = state.config.max_connections.max(1);
        let alert_streams = Arc::clone(&state.alert_streams);
        Self {
            listener,
            local_addr,
            router: match surface {
                Surface::Everything => crate::router(state),
                Surface::Ops => crate::ops_router(state),
            },
            metrics,
            limits,
            max_connections,
            alert_streams,
        }
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, ends the alert streams, lets
    /// in-flight requests finish (idle keep-alive connections are closed at once) for at most
    /// `drain_timeout`, closes the
    /// connections still open then (a client reading a download slowly, a request head never
    /// completed), and returns. Every connection task and the metrics upkeep task are joined
    /// before returning, so nothing this server started outlives it.
    ///
    /// # Errors
    /// None today: accept errors are logged and retried (see [`ACCEPT_ERROR_PAUSE`]); the
    /// `Result` is kept for errors a future listener may have.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()>,
        drain_timeout: Duration,
    ) -> Result<(), ServerError> {
        let Self { listener, local_addr, router, metrics, limits, max_connections, alert_streams } = self;
        let stop_upkeep = CancellationToken::new();
        let upkeep = tokio::spawn(run_upkeep(metrics, stop_upkeep.clone()));
        let http = Arc::new(http1::Builder::new());
        let slots = Arc::new(Semaphore::new(max_connections));
        let connections = TaskTracker::new();
        let signals = Shutdown { drain: CancellationToken::new(), close: CancellationToken::new() };
        let mut shutdown = pin!(shutdown);
        tracing::info!(addr = %local_addr, max_connections, "HTTP server listening.");
        loop {
            // Past the cap, the next client waits in the listen backlog until a slot frees.
            let slot = tokio::select! {
                () = &mut shutdown => break,
                slot = Arc::clone(&slots).acquire_owned() => slot,
            };
            let Ok(slot) = slot else { break };
            let stream = tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(error) if is_connection_error(&error) => continue,
                    Err(error) => {
                        tracing::error!(%error, "Cannot accept connections; retrying in a second.");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                        }
                    }
                },
            };
            // No Nagle delay: responses are written whole, and a delayed ACK would add up to 40 ms.
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "Cannot set TCP_NODELAY.");
            }
            let (router, http, signals) = (router.clone(), Arc::clone(&http), signals.clone());
            connections.spawn(async move {
                connection::serve(stream, router, http, limits, signals).await;
                drop(slot);
            });
        }
        // Clients still in the backlog are refused now rather than left waiting.
        drop(listener);
        connections.close();
        // Alert streams never finish on their own: end them now, so their connections drain
        // like any other instead of waiting for the deadline.
        alert_streams.close();
        signals.drain.cancel();
        if !connections.is_empty() {
            tracing::info!(
                open = connections.len(),
                drain_secs = drain_timeout.as_secs_f64(),
                "Draining HTTP connections."
            );
        }
        if tokio::time::timeout(drain_timeout, connections.wait()).await.is_err() {
            tracing::warn!(
                open = connections.len(),
                "Closing HTTP connections still open at the drain deadline."
            );
            signals.close.cancel();
            connections.wait().await;
        }
        stop_upkeep.cancel();
        if let Err(error) = upkeep.await {
            tracing::warn!(%error, "Metrics upkeep task failed.");
        }
        tracing::info!(addr = %local_addr, "HTTP server stopped.");
        Ok(())
    }
}

/// Accept errors about one connection (it was reset before we took it): skip it.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

async fn run_upkeep(metrics: PrometheusHandle, stop: CancellationToken) {
    let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => metrics.run_upkeep(),
        }
    }
}

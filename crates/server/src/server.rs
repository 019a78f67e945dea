//! [`Server`]: binds the listener, serves until told to stop, and drains in-flight requests.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::AppState;

/// How often the metrics recorder folds recorded histogram samples into its buckets, so they do
/// not accumulate between (or without) scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

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
}

impl Server {
    /// Binds `state.config.listen` (port 0 picks a free port; see [`Server::local_addr`]).
    ///
    /// # Errors
    /// [`ServerError::Bind`] when the address is taken or not allowed.
    pub async fn bind(state: AppState) -> Result<Self, ServerError> {
        let addr = state.config.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
        let metrics = state.metrics.clone();
        Ok(Self { listener, local_addr, router: crate::router(state), metrics })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, then stops accepting, lets in-flight requests finish
    /// (idle keep-alive connections are closed at once) and returns. The metrics upkeep task is
    /// stopped and joined before returning, so nothing this server started outlives it.
    ///
    /// Bound the drain from outside if needed (e.g. `tokio::time::timeout` around this call):
    /// a client streaming a large download keeps it going until done.
    ///
    /// # Errors
    /// [`ServerError::Serve`] if the listener fails.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let stop_upkeep = CancellationToken::new();
        let upkeep = tokio::spawn(run_upkeep(self.metrics, stop_upkeep.clone()));
        // No Nagle delay: responses are written whole, and a delayed ACK would add up to 40 ms.
        let listener = self.listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "Cannot set TCP_NODELAY.");
            }
        });
        tracing::info!(addr = %self.local_addr, "HTTP server listening.");
        let served = axum::serve(listener, self.router).with_graceful_shutdown(shutdown).await;
        stop_upkeep.cancel();
        if let Err(error) = upkeep.await {
            tracing::warn!(%error, "Metrics upkeep task failed.");
        }
        tracing::info!(addr = %self.local_addr, "HTTP server stopped.");
        served.map_err(ServerError::Serve)
    }
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

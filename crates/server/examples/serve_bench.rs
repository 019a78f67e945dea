//! Serves the real app over a temp SQLite file holding one year of AAPL daily bars (from the
//! bundled sample data), for load tests of `GET /api/symbols/{symbol}/bars` from another
//! process:
//!
//! ```sh
//! cargo run --release -p server --example serve_bench        # prints "listening on http://…"
//! wrk -t2 -c32 -d10s --latency 'http://127.0.0.1:PORT/api/symbols/AAPL/bars?from=2012-01-01&to=2012-12-31'
//! grep VmRSS /proc/PID/status
//! ```
//!
//! Stops on Ctrl-C or when its standard input closes.

use std::sync::Arc;
use std::time::Duration;

use domain::{Interval, Symbol};
use jobs::{
    DownloadTracker, DownloadTrackerConfig, ExportService, ExportsConfig, JobEngine, RetentionConfig,
};
use providers::sample::SampleProvider;
use providers::{BarsRequest, ProviderChain, Span};
use server::{AppState, Server, ServerConfig};
use storage::{DatabaseConfig, Storage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let storage = Storage::connect(&url, &DatabaseConfig::default()).await?;
    storage.migrate().await?;

    let chain = ProviderChain::new(vec![Arc::new(SampleProvider::new())]);
    let symbol = Symbol::parse("AAPL")?;
    let request =
        BarsRequest { symbol: symbol.clone(), interval: Interval::Day1, span: Span::parse_range("max")? };
    let series = chain.bars(&request).await?.value;
    storage.upsert_bars(&symbol, Interval::Day1, &series.bars, chain.preference()).await?;

    let exports = ExportService::new(
        storage.clone(),
        ExportsConfig {
            dir: dir.path().join("exports"),
            retention: RetentionConfig { keep_last: Some(5), max_age_days: None },
            ..ExportsConfig::default()
        },
    );
    let tracker = DownloadTracker::new(chain.clone(), exports.clone(), DownloadTrackerConfig::default())?;
    let engine = Arc::new(JobEngine::start(storage.clone(), vec![tracker.into_job()], Vec::new()).await?);
    let config = ServerConfig { listen: "127.0.0.1:0".parse()?, ..ServerConfig::default() };
    let state = AppState::new(storage.clone(), Arc::clone(&engine), exports, chain, config);
    let server = Server::bind(state).await?;
    println!(
        "listening on http://{} (pid {}, {} bars stored)",
        server.local_addr(),
        std::process::id(),
        series.bars.len()
    );

    server
        .run_until(
            async {
                // Reading stdin blocks; a blocking thread sees EOF when the parent closes it.
                let stdin_closed = tokio::task::spawn_blocking(|| {
                    let mut sink = Vec::new();
                    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
                });
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = stdin_closed => {}
                }
            },
            Duration::from_secs(5),
        )
        .await?;
    storage.close().await;
    Ok(())
}

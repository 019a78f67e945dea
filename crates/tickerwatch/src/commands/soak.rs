//! `tickerwatch soak`: the operator's proof that the service stays flat over many cycles.

use std::time::Duration;

use anyhow::Context;
use providers::sample::SampleProvider;

use crate::cli::SoakArgs;
use crate::client::ApiClient;
use crate::config::Config;
use crate::soak::{CycleStats, run_cycles, write_svg};
use crate::startup::Application;

/// Runs the soak and prints a table; returns false if any run failed.
///
/// # Errors
/// When the server cannot be reached or started.
pub async fn run(config: Config, args: SoakArgs) -> anyhow::Result<bool> {
    let print_row = |s: &CycleStats| {
        println!(
            "{:>6}  {:>7}  {:<11}  {:>9.0}  {:>9.1}  {:>5}  {:>10}",
            s.cycle,
            s.run_id,
            s.status,
            s.run_time.as_secs_f64() * 1000.0,
            s.rss_bytes as f64 / 1_048_576.0,
            s.open_fds,
            s.export_bytes.map(|b| b.to_string()).unwrap_or_default()
        );
    };
    println!(
        "{:>6}  {:>7}  {:<11}  {:>9}  {:>9}  {:>5}  {:>10}",
        "cycle", "run", "status", "run ms", "RSS MB", "fds", "export B"
    );
    let stats = match &args.url {
        Some(url) => {
            let client = ApiClient::new(url, args.token.clone())?;
            run_cycles(&client, args.cycles, print_row).await?
        }
        None => in_process(config, &args, print_row).await?,
    };
    write_svg(&stats, &args.svg)?;
    // Compare against cycle 20 (after warm-up) when there are enough cycles, else the first.
    let warmed_up = if stats.len() > 20 { 19 } else { 0 };
    if let (Some(first), Some(last)) = (stats.get(warmed_up), stats.last()) {
        println!(
            "RSS {:.1} MB at cycle {} -> {:.1} MB at cycle {} ({:+.2} MB); fds {} -> {}; chart: {}",
            first.rss_bytes as f64 / 1_048_576.0,
            first.cycle,
            last.rss_bytes as f64 / 1_048_576.0,
            last.cycle,
            (last.rss_bytes as f64 - first.rss_bytes as f64) / 1_048_576.0,
            first.open_fds,
            last.open_fds,
            args.svg.display()
        );
    }
    Ok(stats.iter().all(|s| s.status == "succeeded"))
}

/// Starts a server in this process on a temporary database and export directory, the offline
/// sample provider and a watchlist of the sample symbols, and soaks it.
async fn in_process(
    mut config: Config,
    args: &SoakArgs,
    on_cycle: impl FnMut(&CycleStats),
) -> anyhow::Result<Vec<CycleStats>> {
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    config.database.url = format!("sqlite://{}", dir.path().join("soak.db").display());
    config.exports.dir = dir.path().join("exports");
    config.server.listen = "127.0.0.1:0".parse()?;
    config.providers.order = vec![domain::ProviderId::Sample];
    config.jobs.download_tracker.schedule = None;
    let token = server::generate_token();
    config.server.auth.tokens = vec![server::ApiToken::new(token.clone())];
    let application = Application::build(config).await?;
    for symbol in SampleProvider::symbols() {
        application.storage().add_to_watchlist(&symbol).await?;
    }
    let base = format!("http://{}", application.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(application.run_until_stopped(async {
        let _ = stop_rx.await;
    }));
    let client = ApiClient::new(&base, Some(token))?;
    let result = run_cycles(&client, args.cycles, on_cycle).await;
    drop(client);
    let _ = stop_tx.send(());
    let stopped =
        tokio::time::timeout(Duration::from_secs(60), serving).await.context("server did not stop")?;
    stopped.context("server task failed")??;
    result
}

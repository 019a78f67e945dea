//! `tickerwatch bench cluster`: figures of a running deployment (one API instance and its
//! workers, as `bench/instances.sh` starts them), measured over HTTP as users reach it.
//!
//! 1. **Trigger latency**: `--burst` analyses of distinct symbols (`S0000`…, stored by
//!    `bench seed --url`) triggered at once; each
//!    trigger's time to its answer (202 queued, or 409/503 refused — every status is counted
//!    and printed), p50/p99/max. The runs are then left to drain.
//! 2. **Runs per second**: for `--seconds`, `--clients` loops each trigger an analysis (of
//!    symbols of their own, so none is refused as active), wait for it to finish and trigger
//!    the next; finished runs / elapsed time, with that many runs always queued or running.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::ClusterBenchArgs;
use crate::client::ApiClient;

const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the benchmark and prints its figures.
///
/// # Errors
/// When the server cannot be reached or a run does not finish in time.
pub async fn run(args: ClusterBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=args.burst).contains(&args.clients),
        "--clients must be between 1 and --burst ({}): the clients share the burst's symbols",
        args.burst
    );
    let client = Arc::new(ApiClient::new(&args.url, args.token.clone())?);

    // 1. Latency under a burst of concurrent triggers.
    let burst: Vec<_> = (0..args.burst)
        .map(|i| {
            let client = Arc::clone(&client);
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = client.post_trigger(&format!("/api/analysis/S{i:04}")).await;
                (started.elapsed(), answer)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(args.burst);
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    let mut queued = Vec::new();
    for task in burst {
        let (took, answer) = task.await.context("a trigger task failed")?;
        let (status, run_id) = answer?;
        latencies.push(took);
        *statuses.entry(status).or_default() += 1;
        if let (202, Some(id)) = (status, run_id) {
            queued.push(id);
        }
    }
    latencies.sort_unstable();
    let drain_started = Instant::now();
    for id in &queued {
        client.wait_for_run(*id, RUN_TIMEOUT).await?;
    }
    println!(
        "trigger latency, {} concurrent triggers: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; answers {statuses:?}; \
         the {} queued runs drained in {:.2} s",
        args.burst,
        millis(percentile(&latencies, 0.50)),
        millis(percentile(&latencies, 0.99)),
        millis(latencies.last().copied().unwrap_or_default()),
        queued.len(),
        drain_started.elapsed().as_secs_f64(),
    );

    // 2. Sustained runs per second: `clients` loops keep that many analyses queued or running.
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let loops: Vec<_> = (0..args.clients)
        .map(|client_index| {
            let client = Arc::clone(&client);
            // Each loop owns its symbols, so single-flight never refuses one of its triggers.
            let symbols: Vec<String> =
                (client_index..args.burst).step_by(args.clients).map(|i| format!("S{i:04}")).collect();
            tokio::spawn(async move {
                let mut finished = 0_usize;
                for symbol in symbols.iter().cycle() {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let path = format!("/api/analysis/{symbol}");
                    match client.post_trigger(&path).await? {
                        (202, Some(id)) => {
                            let run = client.wait_for_run(id, RUN_TIMEOUT).await?;
                            anyhow::ensure!(
                                run.status == "succeeded",
                                "run {id} ended {}: {:?}",
                                run.status,
                                run.error
                            );
                            finished += 1;
                        }
                        (status, _) => anyhow::bail!("trigger of {path} answered {status}"),
                    }
                }
                anyhow::Ok(finished)
            })
        })
        .collect();
    let mut finished = 0;
    for task in loops {
        finished += task.await.context("a client task failed")??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "throughput: {finished} analysis runs finished in {elapsed:.1} s = {:.1} runs/s ({} clients, each keeping one analysis queued or running)",
        finished as f64 / elapsed,
        args.clients,
    );
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

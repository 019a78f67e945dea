//! `tickerwatch jobs list|trigger|runs`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use domain::{RunOutput, RunTrigger, Symbol};
use jobs::{
    AnalysisJob, ClaimScope, DownloadTracker, EngineSettings, ExportService, Heartbeat, JobEngine, RedditScan,
};
use providers::ProviderChain;
use storage::RunRecord;

use crate::app::App;
use crate::cli::JobsCommand;
use crate::client::{ApiClient, TriggerOutcome};
use crate::config::Config;
use crate::output;
use crate::startup::registered_jobs;

/// How long an in-process or `--wait` run may take.
const WAIT_LIMIT: Duration = Duration::from_secs(3600);

/// Runs a jobs subcommand; false when a triggered run did not succeed.
///
/// # Errors
/// When the database, the server or the job fails to start.
pub async fn run(app: &App, command: JobsCommand) -> anyhow::Result<bool> {
    match command {
        JobsCommand::List => {
            let mut table = output::table(&["job", "schedule", "last run", "status", "finished"]);
            // Every job `serve` and `run_in_process` register, with its configured schedule.
            let jobs = [
                (DownloadTracker::NAME, &app.config.jobs.download_tracker.schedule),
                (RedditScan::NAME, &app.config.social.schedule),
                (AnalysisJob::NAME, &app.config.analysis.schedule),
            ];
            for (name, schedule) in jobs {
                let last = app.storage.runs(Some(name), 1).await?;
                let last = last.first();
                table.add_row(vec![
                    name.to_owned(),
                    schedule.clone().unwrap_or_else(|| "—".to_owned()),
                    last.map(|r| r.id.to_string()).unwrap_or_default(),
                    last.map(|r| r.status.to_string()).unwrap_or_default(),
                    last.and_then(|r| r.finished_at)
                        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_default(),
                ]);
            }
            println!("{table}");
            Ok(true)
        }
        JobsCommand::Runs { job, limit } => {
            let runs = app.storage.runs(job.as_deref(), limit).await?;
            let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
            let outputs = app.storage.outputs_of_runs(&ids).await?;
            print_runs(&runs, &outputs);
            Ok(true)
        }
        JobsCommand::Trigger { name, url: Some(url), token, wait } => {
            let client = ApiClient::new(&url, token)?;
            let run_id = match client.trigger(&name).await? {
                TriggerOutcome::Queued(id) => {
                    println!("Run {id} of {name} queued.");
                    id
                }
                TriggerOutcome::AlreadyActive(id) => {
                    println!("{name} already has an active run {id}.");
                    id
                }
            };
            if !wait {
                return Ok(true);
            }
            let run = client.wait_for_run(run_id, WAIT_LIMIT).await?;
            let mut table = output::table(&["symbol", "status", "bars", "provider", "error"]);
            for item in &run.items {
                table.add_row(vec![
                    item.symbol.clone(),
                    item.status.clone(),
                    item.bars.to_string(),
                    item.provider.clone().unwrap_or_default(),
                    item.error.clone().unwrap_or_default(),
                ]);
            }
            println!("{table}");
            println!(
                "Run {} {}; export {}",
                run.id,
                run.status,
                run.export_id.map(|e| e.to_string()).unwrap_or("—".into())
            );
            Ok(run.status == "succeeded")
        }
        JobsCommand::Trigger { name, url: None, .. } => trigger_in_process(app, &name).await,
    }
}

/// Runs the job in this process with its own engine and waits for it.
async fn trigger_in_process(app: &App, name: &str) -> anyhow::Result<bool> {
    let run = run_in_process(app, &app.config, name, None).await?;
    let items = app.storage.run_items(run.id).await?;
    let mut table = output::table(&["item", "status", "count", "provider", "error"]);
    for item in &items {
        table.add_row(vec![
            item.symbol.clone(),
            if item.succeeded { "succeeded".to_owned() } else { "failed".to_owned() },
            item.bars.to_string(),
            item.provider.clone().unwrap_or_default(),
            item.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
    let outputs = app.storage.run_outputs(run.id).await?;
    println!(
        "Run {} {}; outputs {}{}",
        run.id,
        run.status,
        outputs_text(outputs.iter()),
        run.error.as_deref().map(|e| format!("; {e}")).unwrap_or_default()
    );
    Ok(run.status == storage::RunStatus::Succeeded)
}

/// Starts an engine with every job built from `config` (no schedules), runs `name` once, waits
/// for it and stops the engine, whatever the outcome.
///
/// # Errors
/// When a job cannot be built, the name is unknown, or the run cannot be awaited.
pub async fn run_in_process(
    app: &App,
    config: &Config,
    name: &str,
    subject: Option<&Symbol>,
) -> anyhow::Result<RunRecord> {
    // This process owns the run while it beats; a live server's runs and exports on the same
    // database are not ours to recover.
    let heartbeat =
        Heartbeat::start(&app.storage, config.jobs.heartbeat_interval(), config.jobs.owner_stale_after())
            .await
            .context("cannot register this process in the database")?;
    let exports = ExportService::new(app.storage.clone(), config.exports.clone());
    exports.recover().await.context("cannot prepare the export directory")?;
    let chain = ProviderChain::from_config(&config.providers, None).context("cannot set up providers")?;
    let jobs = registered_jobs(&app.storage, config, &chain, &exports)?;
    // Runs only the run it queues: the queue's other runs are a server's workers' to take.
    let settings = EngineSettings {
        schedules: Vec::new(),
        scheduler: false,
        claim: ClaimScope::QueuedHere,
        ..crate::startup::engine_settings(config)
    };
    let engine = Arc::new(JobEngine::start_with(app.storage.clone(), jobs, settings).await?);
    let result = async {
        let triggered = match subject {
            Some(symbol) => engine.trigger_for(name, symbol, RunTrigger::Cli).await?,
            None => engine.trigger(name, RunTrigger::Cli).await?,
        };
        eprintln!("Run {} of {name} started.", triggered.run.id);
        engine.wait_for(triggered.run.id, WAIT_LIMIT).await
    }
    .await;
    engine.stop(config.jobs.shutdown_grace()).await;
    heartbeat.stop().await;
    result
}

/// `export 12, export 13`, or `—` for none.
fn outputs_text<'a>(outputs: impl Iterator<Item = &'a RunOutput>) -> String {
    let text: Vec<String> = outputs.map(|o| format!("{} {}", o.kind, o.id)).collect();
    if text.is_empty() { "—".to_owned() } else { text.join(", ") }
}

fn print_runs(runs: &[RunRecord], outputs: &[(i64, RunOutput)]) {
    let mut table =
        output::table(&["run", "job", "status", "trigger", "queued", "finished", "outputs", "error"]);
    for run in runs {
        table.add_row(vec![
            run.id.to_string(),
            run.job.clone(),
            run.status.to_string(),
            run.trigger.to_string(),
            run.queued_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            run.finished_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default(),
            outputs_text(outputs.iter().filter(|(id, _)| *id == run.id).map(|(_, o)| o)),
            run.error.clone().unwrap_or_default(),
        ]);
    }
    println!("{table}");
}

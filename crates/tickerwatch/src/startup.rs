//! Builds the running service from config: database, export service, job engine, provider
//! chain and HTTP server, and tears them down in order on shutdown.
//!
//! Why a struct and not a function: tests, `serve` and the in-process `soak` all need the bound
//! port before serving starts, and all need the same orderly shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use analysis::AnalysisService;
use anyhow::Context;
use jobs::{
    AnalysisJob, DownloadTracker, EngineSettings, ExportService, Heartbeat, Job, JobEngine, MonitorJob,
    RedditScan,
};
use providers::ProviderChain;
use server::{AppState, BoundListener, Server, Surface};
use social::extract::SymbolUniverse;
use storage::{Backend, Storage};
use tokio_util::sync::CancellationToken;

use crate::cli::Role;
use crate::config::Config;

/// The service, built and bound but not yet serving.
pub struct Application {
    server: Server,
    engine: Arc<JobEngine>,
    heartbeat: Heartbeat,
    storage: Storage,
    shutdown_grace: Duration,
}

impl Application {
    /// Opens the database (migrating it), registers this process and takes over the work of
    /// dead ones (runs, exports, crew runs), sweeps the export directory, starts the job engine
    /// and binds the listener.
    ///
    /// # Errors
    /// When any part cannot start; the message says which.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_as(config, Role::All).await
    }

    /// [`build`](Self::build) for one role of several instances sharing a PostgreSQL database
    /// (see [`Role`]): an API instance runs no job workers and no scheduler (it queues runs for
    /// the workers), a worker serves only the ops endpoints.
    ///
    /// # Errors
    /// As [`build`](Self::build); also a role other than `all` on SQLite.
    pub async fn build_as(config: Config, role: Role) -> anyhow::Result<Self> {
        // First: a second `serve` on a port in use must fail before it registers, sweeps or
        // starts workers that could claim the live server's queued runs.
        let listener =
            BoundListener::bind(config.server.listen).await.context("cannot start the HTTP server")?;
        let storage = Storage::connect(&config.database.url, &config.database)
            .await
            .with_context(|| format!("cannot open database {}", storage::redact_url(&config.database.url)))?;
        if role != Role::All && storage.backend() == Backend::Sqlite {
            storage.close().await;
            anyhow::bail!(
                "--role {} needs a PostgreSQL database shared by the instances; with SQLite one \
                 instance serves and runs jobs (--role all, the default)",
                role.as_str()
            );
        }
        storage.migrate().await.context("cannot migrate the database schema")?;
        // Other instances' queued runs, finished runs and alerts wake this one at once.
        storage.listen();
        // Registers this process and takes over the unfinished work of processes that died; a
        // live one's runs and exports (another `serve`, a CLI run) are left alone.
        let heartbeat =
            Heartbeat::start(&storage, config.jobs.heartbeat_interval(), config.jobs.owner_stale_after())
                .await
                .context("cannot register this process in the database")?;
        let exports = ExportService::new(storage.clone(), config.exports.clone());
        exports.recover().await.context("cannot prepare the export directory")?;
        // One chain, so one HTTP client (and pool) per vendor, shared by the job and the API.
        let chain = ProviderChain::from_config(&config.providers, None).context("cannot set up providers")?;
        // Today's stored request counts, so daily budgets spent before a restart stay spent.
        jobs::provider_usage::sync_usage_or_warn(&chain, &storage).await;
        let jobs = registered_jobs(&storage, &config, &chain, &exports)?;
        let settings = EngineSettings {
            workers: role.runs_jobs(),
            scheduler: role.runs_jobs(),
            ..engine_settings(&config)
        };
        let engine = JobEngine::start_with(storage.clone(), jobs, settings)
            .await
            .context("cannot start the job engine")?;
        let engine = Arc::new(engine);
        let state =
            AppState::new(storage.clone(), Arc::clone(&engine), exports, chain, config.server.clone())
                .with_target_policy(config.jobs.monitor.targets.clone());
        let surface = if role.serves_api() { Surface::Everything } else { Surface::Ops };
        let server = Server::on(listener, state, surface);
        Ok(Self { server, engine, heartbeat, storage, shutdown_grace: config.jobs.shutdown_grace() })
    }

    /// The address the server is bound to (port 0 in config picks a free one).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// The database handle (tests and the in-process soak seed data through it).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Serves until `shutdown` completes; then, at the same time, drains the HTTP server and
    /// stops the job engine, each within the grace period (`jobs.shutdown_grace_secs`): requests
    /// in flight may finish, connections still open at its end are closed, and a running job
    /// still running then is cancelled and marked `interrupted`. Then it joins every task and
    /// closes the database. The drain and the engine's grace run side by side, not one after the
    /// other, so one slow client cannot push the stop past the grace.
    ///
    /// # Errors
    /// When the listener fails.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self { server, engine, heartbeat, storage, shutdown_grace } = self;
        let stopping = CancellationToken::new();
        let serve = async {
            let served = server.run_until(stopping.cancelled(), shutdown_grace).await;
            // A failed server stops the engine too.
            stopping.cancel();
            served
        };
        let stop_engine = async {
            tokio::select! {
                () = shutdown => stopping.cancel(),
                () = stopping.cancelled() => {}
            }
            engine.stop(shutdown_grace).await;
        };
        let (served, ()) = tokio::join!(serve, stop_engine);
        heartbeat.stop().await;
        storage.close().await;
        served.context("HTTP server failed")
    }
}

/// Every job the service runs, built once from `config` (each holds its long-lived clients).
/// `serve` and the CLI's in-process runs register the same list.
///
/// # Errors
/// When a job's config is invalid; the message names the job.
pub fn registered_jobs(
    storage: &Storage,
    config: &Config,
    chain: &ProviderChain,
    exports: &ExportService,
) -> anyhow::Result<Vec<Arc<dyn Job>>> {
    // One notifier (one webhook client and pool) for every alert, from either job.
    let notifier = notify::Notifier::new(config.jobs.monitor.notifier_config())
        .context("cannot set up alert delivery")?;
    let notifier = Arc::new(notifier);
    let tracker = DownloadTracker::new(chain.clone(), exports.clone(), config.jobs.download_tracker.clone())
        .context("cannot set up the download-tracker job")?
        .with_notifier(Arc::clone(&notifier));
    let reddit_scan = RedditScan::new(config.social.clone(), SymbolUniverse::bundled())
        .context("cannot set up the reddit-scan job")?;
    let analysis =
        AnalysisService::new(storage.clone(), Some(Arc::new(chain.clone())), &config.analysis, None)
            .context("cannot set up the analysis crew")?;
    let analysis: Arc<dyn Job> = Arc::new(AnalysisJob::new(analysis, chain.clone()));
    let monitor: Arc<dyn Job> = Arc::new(MonitorJob::new(chain.clone(), Some(notifier)));
    Ok(vec![tracker.into_job(), reddit_scan.into_job(), analysis, monitor])
}

/// The engine's schedules and per-job concurrency from `config`.
pub fn engine_settings(config: &Config) -> EngineSettings {
    EngineSettings {
        schedules: schedules(config),
        concurrency: config.jobs.concurrency(),
        max_attempts: config.jobs.max_attempts(),
        claim_poll: config.jobs.claim_poll(),
        ..EngineSettings::default()
    }
}

/// `(job, cron expression)` of every scheduled job.
pub fn schedules(config: &Config) -> Vec<(String, String)> {
    let mut schedules = config.jobs.schedules();
    schedules.extend(config.social.schedule_entry());
    schedules.extend(config.analysis.schedule.clone().map(|s| (AnalysisJob::NAME.to_owned(), s)));
    schedules
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first polled: the
/// HTTP server polls its shutdown future in a task of its own, which may run only after the
/// first requests were served, and a SIGTERM before that would kill the process on the spot
/// instead of draining it. Call it before building the application. Needs a Tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |name: &'static str, installed: std::io::Result<tokio::signal::unix::Signal>| async move {
                match installed {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "Cannot listen for {name}.");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                () = wait("SIGINT", interrupt) => {}
                () = wait("SIGTERM", terminate) => {}
            }
        }
        #[cfg(not(unix))]
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "Cannot listen for Ctrl-C.");
            std::future::pending::<()>().await;
        }
        tracing::info!("Shutdown signal received.");
    }
}

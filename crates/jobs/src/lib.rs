//! The job engine and the jobs it runs.
//!
//! Design decisions, and why:
//! - **A small job table of our own, not apalis.** Runs live in `storage` (`job_runs`,
//!   `job_run_items`); single-flight is a partial unique index, so "at most one queued or running
//!   run per job" holds across tasks and, on PostgreSQL, across instances, and a trigger during a
//!   run is answered with the active run's id instead of piling up work. apalis would add its own
//!   schema, sqlx's `macros` feature and an API that churned up to 1.0, for retries we do not
//!   want (a failed download-tracker run is reported, and the next schedule tries again).
//! - **Bounded everything, a lane per job.** Each job has its own bounded queue and its own
//!   workers (`jobs.concurrency`, one by default), so runs of different jobs never wait for each
//!   other; the scheduler is one task; all stop on the engine's `CancellationToken` and are
//!   joined on shutdown, so no task outlives the engine. Each run executes in its own task, so a
//!   panic fails that run and not the worker (details in `engine.rs`).
//! - **Work has an owner.** Runs, exports and crew runs carry the instance id of the process
//!   that made them; [`Heartbeat`] keeps it alive, and only a dead owner's work is recovered by
//!   another process, so a CLI `jobs trigger` or a second `serve` never interrupts a live
//!   server's runs (details in `heartbeat.rs`).
//! - **The export directory has one owner**, [`ExportService`]: it names the files, keeps records
//!   and files in step (`writing` → `ready`/`failed`), cleans up after crashes at start-up and
//!   applies retention, so the disk does not fill over months (details in `exports.rs`).
//! - **Jobs hold their long-lived resources.** [`DownloadTracker`] builds its provider chain once
//!   and [`RedditScan`] its Reddit client once, so HTTP clients and pools are reused by every run
//!   instead of being rebuilt per run.
//!
//! Start-up order for a server: `Heartbeat::start` (registers, recovers dead owners' work), then
//! `ExportService::recover` (sweeps files no live record owns), then `JobEngine::start`, then
//! accept requests; on shutdown, `JobEngine::stop`/`shutdown`, then `Heartbeat::stop`, before
//! closing the database.

mod analysis_job;
mod config;
mod download_tracker;
mod engine;
mod export_store;
mod exports;
mod heartbeat;
pub mod ingest;
mod monitor_job;
pub mod provider_usage;
mod reddit_scan;
pub mod run_plan;
pub mod universe;

pub use analysis_job::{AnalysisJob, UnknownSymbol, ensure_bars};
pub use config::{
    ConfigError, DownloadTrackerConfig, ExportStoreKind, ExportsConfig, JobsConfig, MAX_JOB_CONCURRENCY,
    MonitorConfig, RetentionConfig, S3Config,
};
pub use download_tracker::{DownloadTracker, DownloadTrackerError};
pub use engine::{
    CANCEL_WAIT, ClaimScope, DEFAULT_CLAIM_POLL, EngineSettings, Job, JobContext, JobEngine, JobInfo,
    JobOutcome, MAX_QUEUED_RUNS, SQLITE_IDLE_POLL, TriggerError, Triggered,
};
pub use exports::KIND_NOTES;
pub use exports::{
    ExportContent, ExportError as ExportServiceError, ExportService, KIND_BARS, KIND_MENTIONS, KIND_SUMMARY,
};
pub use heartbeat::Heartbeat;
pub use monitor_job::{AlertMonitor, Clock, MonitorJob, MonitorPass};
pub use reddit_scan::{RedditScan, RedditScanError, SocialConfig};

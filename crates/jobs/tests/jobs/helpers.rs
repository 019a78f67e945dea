//! Shared fixtures: a migrated SQLite database with an export directory, and test jobs.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::bail;
use async_trait::async_trait;
use domain::Symbol;
use jobs::{ExportService, ExportsConfig, Job, JobContext, JobOutcome, RetentionConfig};
use sha2::{Digest, Sha256};
use storage::{DatabaseConfig, RunItem, Storage};
use tempfile::TempDir;
use tokio::sync::Notify;

/// A database and an export directory that vanish with the value.
pub(crate) struct TestEnv {
    pub(crate) storage: Storage,
    pub(crate) dir: TempDir,
}

impl TestEnv {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("tickerwatch.db").display());
        let config = DatabaseConfig { max_connections: Some(4), ..DatabaseConfig::default() };
        let storage = Storage::connect(&url, &config).await.expect("connect sqlite");
        storage.migrate().await.expect("migrate");
        Self { storage, dir }
    }

    /// Another handle on the same database file, as a second process would open it (its own
    /// instance id and pool).
    pub(crate) async fn second_process(&self) -> Storage {
        let url = format!("sqlite://{}", self.dir.path().join("tickerwatch.db").display());
        let config = DatabaseConfig { max_connections: Some(4), ..DatabaseConfig::default() };
        Storage::connect(&url, &config).await.expect("connect sqlite")
    }

    pub(crate) fn exports_dir(&self) -> PathBuf {
        self.dir.path().join("exports")
    }

    pub(crate) fn exports_config(&self) -> ExportsConfig {
        ExportsConfig {
            dir: self.exports_dir(),
            retention: RetentionConfig { keep_last: Some(50), max_age_days: Some(90) },
            ..ExportsConfig::default()
        }
    }

    pub(crate) fn export_service(&self) -> ExportService {
        ExportService::new(self.storage.clone(), self.exports_config())
    }

    pub(crate) async fn watch(&self, symbols: &[&str]) {
        for symbol in symbols {
            self.storage.add_to_watchlist(&sym(symbol)).await.expect("add to watchlist");
        }
    }

    /// Names of the files in the export directory, sorted.
    pub(crate) fn export_files(&self) -> Vec<String> {
        files_in(&self.exports_dir())
    }
}

/// The bars export among a run's outputs (a download-tracker run also writes summary, mentions
/// and notes tables).
pub(crate) async fn bars_export(storage: &Storage, run_id: i64) -> Option<i64> {
    for output in storage.run_outputs(run_id).await.expect("run outputs") {
        if output.kind == domain::OutputKind::Export
            && storage.export(output.id).await.expect("export").is_some_and(|e| e.kind == jobs::KIND_BARS)
        {
            return Some(output.id);
        }
    }
    None
}

pub(crate) fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub(crate) fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

pub(crate) fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).expect("read export file")))
}

pub(crate) const SECS_5: Duration = Duration::from_secs(5);
pub(crate) const SECS_30: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// Test jobs: real `Job` implementations with controllable behaviour.
// ---------------------------------------------------------------------------------------------

/// Returns at once, optionally recording items; counts its runs.
pub(crate) struct QuickJob {
    pub(crate) name: &'static str,
    pub(crate) items: Vec<RunItem>,
    pub(crate) runs: AtomicUsize,
}

impl QuickJob {
    pub(crate) fn new(name: &'static str) -> Arc<Self> {
        Self::with_items(name, Vec::new())
    }

    pub(crate) fn with_items(name: &'static str, items: Vec<RunItem>) -> Arc<Self> {
        Arc::new(Self { name, items, runs: AtomicUsize::new(0) })
    }

    pub(crate) fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Job for QuickJob {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        for item in &self.items {
            context.record_item(item).await?;
        }
        Ok(JobOutcome::default())
    }
}

/// Announces that it started, then holds until released (or, if `cooperative`, until its
/// cancellation token fires; otherwise it ignores the token).
pub(crate) struct HoldJob {
    pub(crate) name: &'static str,
    pub(crate) started: Notify,
    pub(crate) release: Notify,
    pub(crate) cooperative: bool,
}

impl HoldJob {
    pub(crate) fn new(name: &'static str, cooperative: bool) -> Arc<Self> {
        Arc::new(Self { name, started: Notify::new(), release: Notify::new(), cooperative })
    }
}

#[async_trait]
impl Job for HoldJob {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        // `notify_one` stores a permit, so the test sees the start even if it waits later.
        self.started.notify_one();
        if self.cooperative {
            tokio::select! {
                () = self.release.notified() => {}
                () = context.cancel.cancelled() => bail!("cancelled"),
            }
        } else {
            self.release.notified().await;
        }
        Ok(JobOutcome::default())
    }
}

/// Records the subject of every run; a run about `hold_subject` announces its start and holds
/// until released.
pub(crate) struct SubjectJob {
    pub(crate) name: &'static str,
    pub(crate) hold_subject: &'static str,
    pub(crate) seen: std::sync::Mutex<Vec<String>>,
    pub(crate) started: Notify,
    pub(crate) release: Notify,
}

impl SubjectJob {
    pub(crate) fn new(name: &'static str, hold_subject: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            hold_subject,
            seen: std::sync::Mutex::new(Vec::new()),
            started: Notify::new(),
            release: Notify::new(),
        })
    }

    pub(crate) fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl Job for SubjectJob {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let subject = context.subject.as_ref().map(ToString::to_string).unwrap_or_default();
        let hold = subject == self.hold_subject;
        self.seen.lock().unwrap().push(subject);
        if hold {
            self.started.notify_one();
            self.release.notified().await;
        }
        Ok(JobOutcome::default())
    }
}

/// Panics on its first run, succeeds afterwards.
pub(crate) struct PanicOnceJob {
    pub(crate) runs: AtomicUsize,
}

#[async_trait]
impl Job for PanicOnceJob {
    fn name(&self) -> &'static str {
        "panics"
    }

    async fn run(&self, _context: &JobContext) -> anyhow::Result<JobOutcome> {
        if self.runs.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("boom in the job");
        }
        Ok(JobOutcome::default())
    }
}

/// Fails with an error chain.
pub(crate) struct FailJob;

#[async_trait]
impl Job for FailJob {
    fn name(&self) -> &'static str {
        "fails"
    }

    async fn run(&self, _context: &JobContext) -> anyhow::Result<JobOutcome> {
        Err(anyhow::anyhow!("vendor unreachable")).map_err(|e| e.context("cannot refresh"))
    }
}

pub(crate) fn item(symbol: &str, succeeded: bool) -> RunItem {
    RunItem {
        symbol: symbol.to_owned(),
        succeeded,
        bars: u64::from(succeeded),
        provider: succeeded.then(|| "sample".to_owned()),
        error: (!succeeded).then(|| format!("{symbol} is unknown")),
    }
}

/// `n` daily bars of a steady climb from 2024-01-02, from the sample provider.
pub(crate) fn bars(n: i64) -> Vec<domain::Bar> {
    let start = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2024, 1, 2, 0, 0, 0).unwrap();
    (0..n)
        .map(|i| domain::Bar {
            ts: start + chrono::Duration::days(i),
            open: Some(100.0),
            high: Some(101.0),
            low: Some(99.0),
            close: Some(100.5 + i as f64),
            adj_close: None,
            volume: Some(1000),
            partial: false,
            provider: domain::ProviderId::Sample,
            flag: None,
        })
        .collect()
}

/// An export of AAPL's daily bars in `format`.
pub(crate) fn request(format: export::ExportFormat) -> export::ExportRequest {
    export::ExportRequest {
        symbols: vec![sym("AAPL")],
        interval: domain::Interval::Day1,
        from: None,
        to: None,
        format,
        notes: Vec::new(),
    }
}

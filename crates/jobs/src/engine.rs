//! The engine: triggers, the worker, the scheduler and shutdown.
//!
//! Shape, and why:
//! - **Single-flight lives in the database.** `trigger_for(job, subject, …)` inserts a `queued`
//!   run about `subject` (a symbol for the `analysis` job; none for whole-watchlist jobs, which
//!   is what `trigger` uses); the partial unique index refuses a second active run of the same
//!   job *and subject*, and the refusal names the active run (409 in the API). A burst of
//!   triggers therefore creates no work and no memory, while runs of one job about different
//!   subjects (analyses of AAPL and MSFT) can be queued together.
//! - **The queue is the database.** A trigger only inserts a `queued` run (on any instance, API
//!   or worker); workers *claim* queued runs (`Storage::claim_run`: `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL), so with several instances on one database every run is taken by exactly one
//!   worker, and runs queued by an instance that stops are not lost. At most
//!   [`MAX_QUEUED_RUNS`] runs of a job wait at once; a trigger beyond that is refused with
//!   [`TriggerError::QueueFull`] (503 in the API) and creates nothing.
//! - **A lane per job.** Each job has its own workers (`jobs.concurrency` per instance, one by
//!   default) claiming only its runs, so an alert check never waits behind a two-minute analysis
//!   or a Reddit scan. Idle workers sleep until a run is queued (a signal from this process, or
//!   from another instance through PostgreSQL `LISTEN/NOTIFY`; see `storage::events`) or the
//!   poll interval passes. Providers and the LLM bound their own concurrency and rate, so lanes
//!   running side by side cannot overrun a vendor.
//! - **Claims are leases.** A claimed run carries its worker's instance id; the
//!   [`Heartbeat`](crate::Heartbeat) keeps it alive. A worker that dies (kill -9) stops beating:
//!   once it is stale, any live instance queues its runs again for another worker while the job
//!   allows another attempt ([`Job::max_attempts`]) and marks them `interrupted` otherwise. A
//!   run's final status is written only by the claim's holder on the same attempt, so it is
//!   recorded exactly once even if the old worker wakes up later.
//! - **Roles.** An engine may run no workers (an API instance: it queues, others run) and no
//!   scheduler. Schedules fire once per tick across instances: each tick's run has a unique key.
//! - **The engine knows nothing of what jobs produce.** A job attaches typed references to its
//!   run as it goes ([`JobContext::attach`]: an export, a research note…), so an interrupted run
//!   still lists what it finished.
//! - **Each run in its own task.** A panicking job ends its task, not the worker; the `JoinError`
//!   becomes a `failed` run with the panic message. The task's handle aborts it on drop, so
//!   nothing a job spawned through us outlives the worker.
//! - **Shutdown is bounded.** `shutdown(grace)` refuses new triggers, stops the scheduler, lets the
//!   running jobs finish within `grace`, then cancels their tokens (jobs drop in-flight vendor
//!   requests on it), waits at most [`CANCEL_WAIT`], aborts what is left and marks those runs
//!   `interrupted`; exports they were writing end `failed`. Runs still queued stay queued for
//!   the next worker, here or on another instance. Every task is joined before `shutdown` returns;
//!   `Drop` aborts them if `shutdown` was never called, and the runs left active go to the
//!   first live process that sees this one's heartbeat go stale.
//! - **Waiting without polling.** Every finished run is announced (`Storage::run_finished`, also
//!   across instances on PostgreSQL); `wait_for` re-reads the run when something finished, and
//!   every second in case a signal was lost.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{RunOutput, RunTrigger, Symbol};
use storage::{Backend, NewRun, RunItem, RunRecord, RunRequest, RunStatus, Storage};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{Instrument, debug, error, info, warn};

/// How long a job may take to return after its token was cancelled (past the grace period)
/// before its task is aborted; shutdown takes at most the grace plus about this.
pub const CANCEL_WAIT: Duration = Duration::from_millis(500);
/// `wait_for` re-reads the run at least this often.
const WAIT_POLL: Duration = Duration::from_secs(1);
/// How often an idle worker looks for queued runs without being told (a lost notification on
/// PostgreSQL; on SQLite see [`SQLITE_IDLE_POLL`]), and retries a failed claim.
pub const DEFAULT_CLAIM_POLL: Duration = Duration::from_secs(1);
/// The least an idle worker waits between looks on SQLite. One instance serves an SQLite
/// database, and everything that queues its runs (API, scheduler, heartbeat take-over) runs in
/// that process and wakes the workers directly; the look only catches a run left queued by
/// another process (a CLI run killed before it claimed its own), so it need not wake every lane
/// every second for months.
pub const SQLITE_IDLE_POLL: Duration = Duration::from_secs(60);
/// How many runs of one job may wait for workers; a trigger beyond that is refused with
/// [`TriggerError::QueueFull`]. The queue is a table, so this bounds a backlog (a runaway
/// client queuing analyses of every listed symbol), not memory.
pub const MAX_QUEUED_RUNS: usize = 256;
/// A run's `error` text is cut to this many characters (it lists failing items).
const MAX_ERROR_CHARS: usize = 2000;

/// What a job reports when it finishes (what it produced is attached as it goes, with
/// [`JobContext::attach`]).
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    /// A short failure reason when the run as a whole failed.
    pub error: Option<String>,
    /// The run did its work but part of it failed across the board (e.g. every quote): it ends
    /// `partial` with this reason even when every item succeeded.
    pub partial: Option<String>,
}

/// What a running job can use: the store, its run id and subject, and a token cancelled on
/// shutdown.
#[derive(Clone)]
pub struct JobContext {
    pub storage: Storage,
    pub run_id: i64,
    /// What the run is about (a symbol); none for a whole-watchlist run.
    pub subject: Option<Symbol>,
    pub cancel: CancellationToken,
}

impl JobContext {
    /// Records one symbol's result; the engine derives `partial`/`failed` from these.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record_item(&self, item: &RunItem) -> Result<(), storage::StorageError> {
        self.storage.record_run_item(self.run_id, item).await
    }

    /// Lists `output` among the run's outputs. Attach each record as soon as it exists, so a
    /// run cut off later still lists it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn attach(&self, output: RunOutput) -> Result<(), storage::StorageError> {
        self.storage.attach_run_output(self.run_id, output).await
    }
}

/// A unit of background work. `run` uses `anyhow` (the binary's edge style): a job is glue over
/// library crates, and its error becomes the run's `error` text.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// The job's name in URLs and config, e.g. `download-tracker`.
    fn name(&self) -> &'static str;

    /// Runs once. Per-item failures are recorded through `context.record_item` and do not fail
    /// the run; an `Err` fails the whole run.
    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome>;

    /// How many workers may try a run whose worker died mid-run (1: none after the first; the
    /// run ends `interrupted`). Jobs whose work is safe to repeat allow more. `jobs.max_attempts`
    /// in config overrides it.
    fn max_attempts(&self) -> u32 {
        1
    }
}

/// A job as listed by the API.
#[derive(Debug, Clone)]
pub struct JobInfo {
    pub name: &'static str,
    /// How many of its runs may execute at once (its lane's workers).
    pub concurrency: usize,
    pub schedule: Option<String>,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<RunRecord>,
}

/// A trigger that was accepted.
#[derive(Debug, Clone)]
pub struct Triggered {
    pub run: RunRecord,
}

/// A trigger that was refused.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("unknown job {0:?}")]
    UnknownJob(String),
    #[error("job {job} already has an active run {}{}", active.id, for_subject(active.subject.as_ref()))]
    AlreadyActive { job: String, active: RunRecord },
    #[error("the job engine is shutting down")]
    ShuttingDown,
    /// [`MAX_QUEUED_RUNS`] runs of the job are already waiting; nothing was recorded.
    #[error("the job queue is full ({MAX_QUEUED_RUNS} queued runs); try again later", MAX_QUEUED_RUNS = MAX_QUEUED_RUNS)]
    QueueFull,
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

/// A registered job: its schedule, its lane's size and its retry policy.
struct Registered {
    job: Arc<dyn Job>,
    schedule: Option<cron::Schedule>,
    concurrency: usize,
    max_attempts: u32,
}

/// State shared by the engine handle, the workers and the scheduler.
struct Inner {
    storage: Storage,
    jobs: Vec<Registered>,
    /// Set first thing in `shutdown`: triggers are refused from then on.
    shutting_down: AtomicBool,
    /// Stops the scheduler, and the workers between runs.
    stop: CancellationToken,
    /// Parent of every run's token; cancelled only past the grace period.
    jobs_cancel: CancellationToken,
    /// The runs being executed here, for the last-resort cleanup after aborting workers.
    running: Mutex<HashMap<i64, RunRecord>>,
    /// Which queued runs this engine's workers claim.
    claim: ClaimScope,
    /// How often idle workers look for queued runs without a signal (see [`SQLITE_IDLE_POLL`]).
    idle_poll: Duration,
    /// How soon a worker tries again after a claim failed.
    claim_retry: Duration,
}

/// Registered jobs plus the tasks that run them.
pub struct JobEngine {
    inner: Arc<Inner>,
    tasks: Mutex<Tasks>,
}

/// The engine's tasks; taken by the first `stop`. Dropping them aborts them.
struct Tasks {
    workers: Option<JoinSet<()>>,
    scheduler: Option<AbortOnDropHandle<()>>,
}

/// What [`JobEngine::start_with`] takes besides the jobs.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// `(job, cron expression with seconds)`, evaluated in UTC.
    pub schedules: Vec<(String, String)>,
    /// `(job, runs at once)` per instance; jobs not listed run one at a time.
    pub concurrency: Vec<(String, usize)>,
    /// `(job, attempts)`, overriding [`Job::max_attempts`].
    pub max_attempts: Vec<(String, u32)>,
    /// Whether this engine runs workers (false on an API instance: it only queues).
    pub workers: bool,
    /// Whether this engine fires the schedules (each tick still fires once across instances).
    pub scheduler: bool,
    /// Which queued runs the workers claim.
    pub claim: ClaimScope,
    /// How often idle workers look for queued runs without a signal on PostgreSQL; on SQLite
    /// at least [`SQLITE_IDLE_POLL`]. Also how soon a failed claim is tried again.
    pub claim_poll: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            schedules: Vec::new(),
            concurrency: Vec::new(),
            max_attempts: Vec::new(),
            workers: true,
            scheduler: true,
            claim: ClaimScope::Any,
            claim_poll: DEFAULT_CLAIM_POLL,
        }
    }
}

/// Which queued runs an engine's workers take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClaimScope {
    /// Any queued run of a registered job, whoever queued it (a server or worker).
    #[default]
    Any,
    /// Only runs this process queued (the CLI's one-off run leaves the server's queue alone).
    QueuedHere,
}

impl JobEngine {
    /// Starts the engine with `schedules` and one run at a time per job; see
    /// [`start_with`](Self::start_with).
    ///
    /// # Errors
    /// As [`start_with`](Self::start_with).
    pub async fn start(
        storage: Storage,
        jobs: Vec<Arc<dyn Job>>,
        schedules: Vec<(String, String)>,
    ) -> anyhow::Result<Self> {
        Self::start_with(storage, jobs, EngineSettings { schedules, ..EngineSettings::default() }).await
    }

    /// Starts the engine: spawns each job's workers and the scheduler. Schedules are cron
    /// expressions with a seconds field (`sec min hour day-of-month month day-of-week [year]`),
    /// evaluated in UTC. Recovering runs left active by processes that died is the
    /// [`Heartbeat`](crate::Heartbeat)'s work, started before the engine.
    ///
    /// # Errors
    /// For an invalid cron expression (naming the job and the expression), a schedule or
    /// concurrency of an unregistered job, a concurrency of zero, or two jobs with one name.
    pub async fn start_with(
        storage: Storage,
        jobs: Vec<Arc<dyn Job>>,
        settings: EngineSettings,
    ) -> anyhow::Result<Self> {
        let mut names = HashSet::new();
        for job in &jobs {
            if !names.insert(job.name()) {
                bail!("two jobs are registered as {:?}", job.name());
            }
        }
        let mut registered: Vec<Registered> = jobs
            .into_iter()
            .map(|job| {
                let max_attempts = job.max_attempts().max(1);
                Registered { job, schedule: None, concurrency: 1, max_attempts }
            })
            .collect();
        for (name, expression) in settings.schedules {
            let entry = registered
                .iter_mut()
                .find(|r| r.job.name() == name)
                .ok_or_else(|| anyhow!("schedule {expression:?} names an unknown job {name:?}"))?;
            let schedule = cron::Schedule::from_str(expression.trim()).with_context(|| {
                format!(
                    "invalid cron expression {expression:?} for job {name}; expected six or seven fields \
                     with seconds first, e.g. \"0 30 22 * * Mon-Fri\""
                )
            })?;
            entry.schedule = Some(schedule);
        }
        for (name, concurrency) in settings.concurrency {
            let entry = registered
                .iter_mut()
                .find(|r| r.job.name() == name)
                .ok_or_else(|| anyhow!("jobs.concurrency names an unknown job {name:?}"))?;
            if concurrency == 0 {
                bail!("jobs.concurrency of {name} must be at least 1");
            }
            entry.concurrency = concurrency;
        }
        for (name, attempts) in settings.max_attempts {
            let entry = registered
                .iter_mut()
                .find(|r| r.job.name() == name)
                .ok_or_else(|| anyhow!("jobs.max_attempts names an unknown job {name:?}"))?;
            if attempts == 0 {
                bail!("jobs.max_attempts of {name} must be at least 1");
            }
            entry.max_attempts = attempts;
        }

        let storage_backend = storage.backend();
        let inner = Arc::new(Inner {
            storage,
            jobs: registered,
            shutting_down: AtomicBool::new(false),
            stop: CancellationToken::new(),
            jobs_cancel: CancellationToken::new(),
            running: Mutex::new(HashMap::new()),
            claim: settings.claim,
            idle_poll: match storage_backend {
                Backend::Sqlite => settings.claim_poll.max(SQLITE_IDLE_POLL),
                Backend::Postgres => settings.claim_poll,
            },
            claim_retry: settings.claim_poll,
        });
        let mut workers = JoinSet::new();
        if settings.workers {
            for (lane, registered) in inner.jobs.iter().enumerate() {
                for _ in 0..registered.concurrency {
                    workers.spawn(Arc::clone(&inner).work(lane));
                }
            }
        }
        let scheduler =
            settings.scheduler.then(|| AbortOnDropHandle::new(tokio::spawn(Arc::clone(&inner).schedule())));
        info!(
            jobs = ?inner.jobs.iter().map(|r| (r.job.name(), r.concurrency)).collect::<Vec<_>>(),
            workers = settings.workers,
            scheduler = settings.scheduler,
            owner = inner.storage.owner(),
            "Job engine started."
        );
        Ok(Self { inner, tasks: Mutex::new(Tasks { workers: Some(workers), scheduler }) })
    }

    /// Queues a run without a subject (202 in the API) unless one is active (409); the same as
    /// [`trigger_for`](Self::trigger_for) without a subject.
    ///
    /// # Errors
    /// [`TriggerError`].
    pub async fn trigger(&self, job: &str, trigger: RunTrigger) -> Result<Triggered, TriggerError> {
        self.inner.trigger(job, None, trigger).await
    }

    /// Queues a run of `job` about `subject` (e.g. a symbol) unless a run of the same job and
    /// subject is active ([`TriggerError::AlreadyActive`]). Never waits for queue space: when
    /// [`MAX_QUEUED_RUNS`] runs of the job are waiting it fails with [`TriggerError::QueueFull`].
    /// Any instance's workers may run it (see the module docs).
    ///
    /// # Errors
    /// [`TriggerError`].
    pub async fn trigger_for(
        &self,
        job: &str,
        subject: &Symbol,
        trigger: RunTrigger,
    ) -> Result<Triggered, TriggerError> {
        self.inner.trigger(job, Some(subject), trigger).await
    }

    /// Registered jobs with schedule, next and last run.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn jobs(&self) -> Result<Vec<JobInfo>, storage::StorageError> {
        let now = Utc::now();
        let mut infos = Vec::with_capacity(self.inner.jobs.len());
        for registered in &self.inner.jobs {
            let name = registered.job.name();
            infos.push(JobInfo {
                name,
                concurrency: registered.concurrency,
                schedule: registered.schedule.as_ref().map(|s| s.source().to_owned()),
                next_run: registered.schedule.as_ref().and_then(|s| s.after(&now).next()),
                last_run: self.inner.storage.runs(Some(name), 1).await?.into_iter().next(),
            });
        }
        Ok(infos)
    }

    /// True once [`stop`](Self::stop) (or [`shutdown`](Self::shutdown)) has begun: triggers are
    /// refused from then on.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// True when `name` is a registered job.
    pub fn has_job(&self, name: &str) -> bool {
        self.inner.job(name).is_some()
    }

    /// Waits until the run is finished (or `timeout` passes) and returns its latest record,
    /// which is still active if the timeout passed first.
    ///
    /// # Errors
    /// When the database fails or the run does not exist.
    pub async fn wait_for(&self, run_id: i64, timeout: Duration) -> anyhow::Result<RunRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        // Subscribed before the first read, so a finish between the read and the wait is seen.
        let mut finished = self.inner.storage.run_finished();
        loop {
            let run =
                self.inner.storage.run(run_id).await?.ok_or_else(|| anyhow!("run {run_id} not found"))?;
            let now = tokio::time::Instant::now();
            if !run.status.is_active() || now >= deadline {
                return Ok(run);
            }
            let wake = deadline.min(now + WAIT_POLL);
            // A closed channel cannot happen while `self` is borrowed; treat it like a poll tick.
            let _ = tokio::time::timeout_at(wake, finished.changed()).await;
        }
    }

    /// Stops accepting triggers, lets the running jobs finish within `grace`, else cancels them
    /// and marks them `interrupted`; then joins every task. Takes at most `grace` plus about
    /// [`CANCEL_WAIT`].
    pub async fn shutdown(self, grace: Duration) {
        self.stop(grace).await;
    }

    /// [`shutdown`](Self::shutdown) through a shared reference, for an engine held in an `Arc`
    /// by request handlers (which then get [`TriggerError::ShuttingDown`]). A second call returns
    /// at once.
    pub async fn stop(&self, grace: Duration) {
        let started = Instant::now();
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.stop.cancel();
        let (workers, scheduler) = {
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            (tasks.workers.take(), tasks.scheduler.take())
        };
        if workers.is_none() && scheduler.is_none() {
            return;
        }
        info!(grace_secs = grace.as_secs_f64(), "Job engine shutting down.");

        if let Some(mut workers) = workers
            && tokio::time::timeout(grace, join_all(&mut workers)).await.is_err()
        {
            let running = self.inner.running_runs();
            warn!(?running, "Running jobs did not finish within the grace period; cancelling them.");
            // Each worker gives its job CANCEL_WAIT to return, then aborts it and records it.
            self.inner.jobs_cancel.cancel();
            let wait = CANCEL_WAIT + Duration::from_millis(250);
            if tokio::time::timeout(wait, join_all(&mut workers)).await.is_err() {
                error!("Job workers did not stop; aborting them.");
                workers.abort_all();
                join_all(&mut workers).await;
                self.inner.interrupt_running("interrupted: the worker was aborted at shutdown").await;
            }
        }
        if let Some(mut scheduler) = scheduler {
            // The scheduler only waits on the stop token or a trigger; both end promptly now.
            if tokio::time::timeout(CANCEL_WAIT, &mut scheduler).await.is_err() {
                scheduler.abort();
                let _ = scheduler.await;
            }
        }
        info!(elapsed_ms = started.elapsed().as_millis(), "Job engine stopped.");
    }
}

impl Drop for JobEngine {
    /// Without `shutdown`: cancels everything; dropping the task set and handle aborts the workers
    /// (and with them the running jobs' tasks) and the scheduler. Runs left active are recovered
    /// once this process's heartbeat goes stale.
    fn drop(&mut self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.inner.stop.cancel();
        self.inner.jobs_cancel.cancel();
        let tasks = self.tasks.get_mut().unwrap_or_else(PoisonError::into_inner);
        if tasks.workers.is_some() || tasks.scheduler.is_some() {
            debug!("Job engine dropped without shutdown; aborting its tasks.");
        }
    }
}

impl Inner {
    fn job(&self, name: &str) -> Option<&Registered> {
        self.jobs.iter().find(|r| r.job.name() == name)
    }

    async fn trigger(
        &self,
        job: &str,
        subject: Option<&Symbol>,
        trigger: RunTrigger,
    ) -> Result<Triggered, TriggerError> {
        match self.queue(job, subject, trigger, None).await? {
            NewRun::Created(run) => Ok(Triggered { run }),
            NewRun::AlreadyActive(active) | NewRun::KeyTaken(active) => {
                Err(TriggerError::AlreadyActive { job: job.to_owned(), active })
            }
        }
    }

    /// Queues a run (see [`JobEngine::trigger_for`]); `key` makes it once-only (a cron tick).
    async fn queue(
        &self,
        job: &str,
        subject: Option<&Symbol>,
        trigger: RunTrigger,
        key: Option<&str>,
    ) -> Result<NewRun, TriggerError> {
        let Some(lane) = self.job(job) else {
            return Err(TriggerError::UnknownJob(job.to_owned()));
        };
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        // Counted before inserting: a burst may overshoot by the triggers in flight, which is
        // bounded by the API's own request limits.
        if self.storage.queued_run_count(job).await? >= MAX_QUEUED_RUNS as u64 {
            return Err(TriggerError::QueueFull);
        }
        let request = RunRequest { job, subject, trigger, max_attempts: lane.max_attempts, key };
        let queued = self.storage.queue_run(&request).await?;
        if let NewRun::Created(run) = &queued {
            info!(run_id = run.id, job, subject = subject.map(Symbol::as_str), %trigger, "Run queued.");
        }
        Ok(queued)
    }

    /// One worker of lane `lane`: claims the job's queued runs one at a time and runs them,
    /// sleeping while there are none, until stopped.
    async fn work(self: Arc<Self>, lane: usize) {
        let registered = &self.jobs[lane];
        let name = registered.job.name();
        let queued_by = match self.claim {
            ClaimScope::Any => None,
            ClaimScope::QueuedHere => Some(self.storage.owner().to_owned()),
        };
        let mut queued = self.storage.run_queued();
        loop {
            if self.stop.is_cancelled() {
                break;
            }
            // Marked seen before claiming, so a run queued during the claim wakes us again.
            queued.borrow_and_update();
            let wait = match self.storage.claim_run(name, queued_by.as_deref()).await {
                Ok(Some(run)) => {
                    self.execute(run, Arc::clone(&registered.job)).await;
                    continue;
                }
                Ok(None) => self.idle_poll,
                Err(error) => {
                    warn!(job = name, %error, "Cannot claim a queued run; trying again shortly.");
                    self.claim_retry
                }
            };
            tokio::select! {
                biased;
                () = self.stop.cancelled() => break,
                _ = queued.changed() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        debug!(job = name, "Job worker stopped.");
    }

    fn running_runs(&self) -> Vec<i64> {
        let mut running: Vec<i64> =
            self.running.lock().unwrap_or_else(PoisonError::into_inner).keys().copied().collect();
        running.sort_unstable();
        running
    }

    /// Runs one claimed run to its final status.
    async fn execute(&self, run: RunRecord, job: Arc<dyn Job>) {
        let run_id = run.id;
        let job_name = run.job.clone();
        self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(run_id, run.clone());
        info!(run_id, job = %job_name, subject = run.subject.as_ref().map(Symbol::as_str), trigger = %run.trigger, attempt = run.attempts, "Run started.");
        let started = Instant::now();

        let cancel = self.jobs_cancel.child_token();
        let context = JobContext {
            storage: self.storage.clone(),
            run_id,
            subject: run.subject.clone(),
            cancel: cancel.clone(),
        };
        // Every log line of the run (provider retries included) carries the run's id and job.
        // The span is at WARN level so that the default filter (`warn`) keeps it: a disabled
        // span adds nothing to the lines logged inside it.
        let span = tracing::warn_span!("run", run_id, job = %job_name, subject = context.subject.as_ref().map(Symbol::as_str));
        let mut task =
            AbortOnDropHandle::new(tokio::spawn(async move { job.run(&context).await }.instrument(span)));
        let joined = tokio::select! {
            biased;
            joined = &mut task => Some(joined),
            () = cancel.cancelled() => None,
        };
        let (status, error) = match joined {
            Some(Ok(Ok(outcome))) => self.judge(run_id, outcome).await,
            Some(Ok(Err(error))) => (RunStatus::Failed, Some(format!("{error:#}"))),
            Some(Err(join_error)) => (RunStatus::Failed, Some(describe_join_error(join_error))),
            None => {
                // Past the grace period: give the job a moment to notice its token (and drop its
                // vendor requests), then abort it. Whatever it finished is already attached to
                // the run; an export it was writing is failed with the run (`finish_run`).
                if tokio::time::timeout(CANCEL_WAIT, &mut task).await.is_err() {
                    warn!(run_id, job = %job_name, "The job ignored cancellation; aborting it.");
                    task.abort();
                    let _ = task.await;
                }
                let message = "interrupted: the engine shut down and the grace period ran out";
                (RunStatus::Interrupted, Some(message.to_owned()))
            }
        };
        self.finish_claimed(&run, status, error.as_deref()).await;
        self.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&run_id);
        info!(run_id, job = %job_name, %status, elapsed_ms = started.elapsed().as_millis(), "Run finished.");
    }

    /// The final status of a run whose job returned: `failed` if the job said so or every item
    /// failed, `partial` if some did, else `succeeded`.
    async fn judge(&self, run_id: i64, outcome: JobOutcome) -> (RunStatus, Option<String>) {
        let items = match self.storage.run_items(run_id).await {
            Ok(items) => items,
            Err(error) => return (RunStatus::Failed, Some(format!("cannot read the run's items: {error}"))),
        };
        let failed: Vec<&RunItem> = items.iter().filter(|i| !i.succeeded).collect();
        let items_text = || {
            let reasons: Vec<String> = failed
                .iter()
                .map(|i| format!("{}: {}", i.symbol, i.error.as_deref().unwrap_or("failed")))
                .collect();
            format!("{} of {} items failed: {}", failed.len(), items.len(), reasons.join("; "))
        };
        let (status, error) = match (outcome.error, outcome.partial) {
            (Some(error), _) if failed.is_empty() => (RunStatus::Failed, error),
            (Some(error), _) => (RunStatus::Failed, format!("{error}; {}", items_text())),
            (None, Some(reason)) if failed.is_empty() => (RunStatus::Partial, reason),
            (None, Some(reason)) if failed.len() < items.len() => {
                (RunStatus::Partial, format!("{reason}; {}", items_text()))
            }
            (None, None) if failed.is_empty() => (RunStatus::Succeeded, String::new()),
            (None, _) if failed.len() == items.len() => (RunStatus::Failed, items_text()),
            (None, _) => (RunStatus::Partial, items_text()),
        };
        let error = (!error.is_empty()).then(|| truncate(error));
        (status, error)
    }

    /// Records a claimed run's final status (announced by storage to every instance). A lost
    /// claim is logged: the run's next attempt, or its recovery, owns the outcome. A database
    /// failure is logged too: the run stays `running` until this process's heartbeat stops and
    /// another instance recovers it.
    async fn finish_claimed(&self, run: &RunRecord, status: RunStatus, error: Option<&str>) {
        let (run_id, job) = (run.id, run.job.as_str());
        match self.storage.finish_claimed_run(run, status, error).await {
            Ok(true) => {}
            Ok(false) => {
                warn!(run_id, job, %status, "Run was no longer ours when it finished; its outcome is dropped.")
            }
            Err(db_error) => {
                error!(run_id, job, %status, error = %db_error, "Cannot record a run's final status.")
            }
        }
        if status != RunStatus::Succeeded
            && let Some(error) = error
        {
            warn!(run_id, job, %status, error, "Run did not succeed.");
        }
    }

    /// Last resort after aborting the workers: the runs they were executing become
    /// `interrupted`.
    async fn interrupt_running(&self, reason: &str) {
        let running: Vec<RunRecord> =
            self.running.lock().unwrap_or_else(PoisonError::into_inner).drain().map(|(_, run)| run).collect();
        for run in running {
            self.finish_claimed(&run, RunStatus::Interrupted, Some(reason)).await;
        }
    }

    /// The scheduler: sleeps until the next fire time of any scheduled job, triggers the jobs
    /// that are due (an active run is just logged), and computes their next fire time. Missed
    /// fire times (a suspended machine) are skipped rather than replayed.
    async fn schedule(self: Arc<Self>) {
        let now = Utc::now();
        let mut next: Vec<(&'static str, &cron::Schedule, Option<DateTime<Utc>>)> = self
            .jobs
            .iter()
            .filter_map(|r| r.schedule.as_ref().map(|s| (r.job.name(), s, s.after(&now).next())))
            .collect();
        loop {
            let Some(due) = next.iter().filter_map(|(_, _, at)| *at).min() else {
                // Nothing scheduled (or no future fire times): idle until shutdown.
                return self.stop.cancelled().await;
            };
            let wait = (due - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            let now = Utc::now();
            for (name, schedule, at) in &mut next {
                if let Some(tick) = (*at).filter(|at| *at <= now) {
                    // Every instance's scheduler fires the same ticks; the key lets one run in.
                    let key = format!("schedule:{name}:{}", tick.timestamp());
                    match self.queue(name, None, RunTrigger::Schedule, Some(&key)).await {
                        Ok(NewRun::Created(run)) => {
                            debug!(run_id = run.id, job = *name, "Scheduled run queued.")
                        }
                        Ok(NewRun::KeyTaken(run)) => {
                            debug!(
                                run_id = run.id,
                                job = *name,
                                "Scheduled run already queued by another instance."
                            )
                        }
                        Ok(NewRun::AlreadyActive(active)) => {
                            info!(
                                job = *name,
                                active_run_id = active.id,
                                "Scheduled run skipped: the job is still active."
                            );
                        }
                        Err(TriggerError::ShuttingDown) => return,
                        Err(TriggerError::QueueFull) => {
                            warn!(job = *name, "Scheduled run skipped: the job queue is full.");
                        }
                        Err(error) => error!(job = *name, %error, "Scheduled trigger failed."),
                    }
                    *at = schedule.after(&now).next();
                }
            }
        }
    }
}

/// Waits for every task of `tasks` (cancel-safe: an interrupted wait loses nothing).
async fn join_all(tasks: &mut JoinSet<()>) {
    while tasks.join_next().await.is_some() {}
}

/// `" for AAPL"`, or nothing for a run without a subject.
fn for_subject(subject: Option<&Symbol>) -> String {
    subject.map(|symbol| format!(" for {symbol}")).unwrap_or_default()
}

/// The run's error text for a job task that did not return.
fn describe_join_error(error: JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a non-text panic payload".to_owned());
            format!("the job panicked: {message}")
        }
        Err(_) => "the job's task was cancelled".to_owned(),
    }
}

fn truncate(mut text: String) -> String {
    if let Some((idx, _)) = text.char_indices().nth(MAX_ERROR_CHARS) {
        text.truncate(idx);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_a_char_boundary() {
        assert_eq!(truncate("short".to_owned()), "short");
        let long = "é".repeat(MAX_ERROR_CHARS + 5);
        let cut = truncate(long);
        assert_eq!(cut.chars().count(), MAX_ERROR_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn cron_needs_seconds() {
        assert!(cron::Schedule::from_str("0 30 22 * * Mon-Fri").is_ok());
        assert!(cron::Schedule::from_str("* * * * * *").is_ok());
        assert!(cron::Schedule::from_str("not cron").is_err());
    }
}

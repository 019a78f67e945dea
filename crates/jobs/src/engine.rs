//! The engine: triggers, the worker, the scheduler and shutdown.
//!
//! Shape, and why:
//! - **Single-flight lives in the database.** `trigger_for(job, subject, …)` inserts a `queued`
//!   run about `subject` (a symbol for the `analysis` job; none for whole-watchlist jobs, which
//!   is what `trigger` uses); the partial unique index refuses a second active run of the same
//!   job *and subject*, and the refusal names the active run (409 in the API). A burst of
//!   triggers therefore creates no work and no memory, while runs of one job about different
//!   subjects (analyses of AAPL and MSFT) can be queued together.
//! - **A lane per job, each with a bounded queue.** Accepted run ids go through the job's own
//!   `tokio::sync::mpsc` channel of [`MAX_QUEUED_RUNS`] slots, served by the job's own workers
//!   (`jobs.concurrency`, one by default). An alert check therefore never waits behind a
//!   two-minute analysis or a Reddit scan, while a job still runs at most `concurrency` runs at
//!   once (and one per subject, above). A trigger never waits for a slot (`try_send`): when the
//!   job's queue is full the run it just inserted is finished as `failed` ("the job queue is
//!   full") and the trigger is refused with [`TriggerError::QueueFull`] (503 in the API).
//!   Providers and the LLM bound their own concurrency and rate, so lanes running side by side
//!   cannot overrun a vendor.
//! - **The engine knows nothing of what jobs produce.** A job attaches typed references to its
//!   run as it goes ([`JobContext::attach`]: an export, a research note…), so an interrupted run
//!   still lists what it finished.
//! - **Runs have an owner.** A run is stamped with this process's instance id; the
//!   [`Heartbeat`](crate::Heartbeat) keeps it alive, and only work of dead owners is ever
//!   recovered by another process (see `heartbeat.rs`).
//! - **Each run in its own task.** A panicking job ends its task, not the worker; the `JoinError`
//!   becomes a `failed` run with the panic message. The task's handle aborts it on drop, so
//!   nothing a job spawned through us outlives the worker.
//! - **Shutdown is bounded.** `shutdown(grace)` refuses new triggers, stops the scheduler, lets the
//!   running jobs finish within `grace`, then cancels their tokens (jobs drop in-flight vendor
//!   requests on it), waits at most [`CANCEL_WAIT`], aborts what is left and marks those runs
//!   `interrupted`; exports they were writing end `failed`. Runs still queued are marked
//!   `interrupted` too (they never started). Every task is joined before `shutdown` returns;
//!   `Drop` aborts them if `shutdown` was never called, and the runs left active go to the
//!   first live process that sees this one's heartbeat go stale.
//! - **Waiting without polling.** Every finished run is announced on a `watch` channel; `wait_for`
//!   re-reads the run when something finished (and every second, for runs finished by another
//!   instance sharing a PostgreSQL database).

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{RunOutput, RunTrigger, Symbol};
use storage::{NewRun, RunItem, RunRecord, RunStatus, Storage};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{Instrument, debug, error, info, warn};

/// How long a job may take to return after its token was cancelled (past the grace period)
/// before its task is aborted; shutdown takes at most the grace plus about this.
pub const CANCEL_WAIT: Duration = Duration::from_millis(500);
/// `wait_for` re-reads the run at least this often.
const WAIT_POLL: Duration = Duration::from_secs(1);
/// The error of a queued run that never started because the engine shut down.
const NEVER_STARTED: &str = "interrupted: the engine shut down before the run started";
/// The error of a run refused because the queue was full.
const QUEUE_FULL: &str = "the job queue is full";
/// How many runs of one job may wait for its workers; a trigger beyond that is refused with
/// [`TriggerError::QueueFull`].
pub const MAX_QUEUED_RUNS: usize = 64;
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
    /// [`MAX_QUEUED_RUNS`] runs of the job are already waiting; the refused run was recorded as
    /// `failed`.
    #[error("the job queue is full ({MAX_QUEUED_RUNS} queued runs); try again later", MAX_QUEUED_RUNS = MAX_QUEUED_RUNS)]
    QueueFull,
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
}

/// A registered job: its schedule and its lane (queue plus how many workers serve it).
struct Registered {
    job: Arc<dyn Job>,
    schedule: Option<cron::Schedule>,
    concurrency: usize,
    queue: mpsc::Sender<i64>,
    /// Shared by the lane's workers; each takes the lock only to receive one id.
    receiver: tokio::sync::Mutex<mpsc::Receiver<i64>>,
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
    /// The runs being executed, for the last-resort cleanup after aborting workers.
    running: Mutex<HashSet<i64>>,
    /// The id of the latest finished run; every finish is a change.
    finished: watch::Sender<i64>,
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
#[derive(Debug, Clone, Default)]
pub struct EngineSettings {
    /// `(job, cron expression with seconds)`, evaluated in UTC.
    pub schedules: Vec<(String, String)>,
    /// `(job, runs at once)`; jobs not listed run one at a time.
    pub concurrency: Vec<(String, usize)>,
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
                // Bounded; a full queue refuses triggers (see the module docs).
                let (queue, receiver) = mpsc::channel(MAX_QUEUED_RUNS);
                Registered {
                    job,
                    schedule: None,
                    concurrency: 1,
                    queue,
                    receiver: tokio::sync::Mutex::new(receiver),
                }
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

        let (finished, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            storage,
            jobs: registered,
            shutting_down: AtomicBool::new(false),
            stop: CancellationToken::new(),
            jobs_cancel: CancellationToken::new(),
            running: Mutex::new(HashSet::new()),
            finished,
        });
        let mut workers = JoinSet::new();
        for (lane, registered) in inner.jobs.iter().enumerate() {
            for _ in 0..registered.concurrency {
                workers.spawn(Arc::clone(&inner).work(lane));
            }
        }
        let scheduler = AbortOnDropHandle::new(tokio::spawn(Arc::clone(&inner).schedule()));
        info!(
            jobs = ?inner.jobs.iter().map(|r| (r.job.name(), r.concurrency)).collect::<Vec<_>>(),
            scheduled = inner.jobs.iter().filter(|r| r.schedule.is_some()).count(),
            owner = inner.storage.owner(),
            "Job engine started."
        );
        Ok(Self { inner, tasks: Mutex::new(Tasks { workers: Some(workers), scheduler: Some(scheduler) }) })
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
        let mut finished = self.inner.finished.subscribe();
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
        self.inner.interrupt_queued().await;
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
        let Some(lane) = self.job(job) else {
            return Err(TriggerError::UnknownJob(job.to_owned()));
        };
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(TriggerError::ShuttingDown);
        }
        let run = match self.storage.create_run_for(job, subject, trigger).await? {
            NewRun::Created(run) => run,
            NewRun::AlreadyActive(active) => {
                return Err(TriggerError::AlreadyActive { job: job.to_owned(), active });
            }
        };
        match lane.queue.try_send(run.id) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.finish(run.id, job, RunStatus::Failed, Some(QUEUE_FULL)).await;
                return Err(TriggerError::QueueFull);
            }
            // Only once shutdown closed the channel; the run then never starts.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.finish(run.id, job, RunStatus::Interrupted, Some(NEVER_STARTED)).await;
                return Err(TriggerError::ShuttingDown);
            }
        }
        info!(run_id = run.id, job, subject = subject.map(Symbol::as_str), %trigger, "Run queued.");
        Ok(Triggered { run })
    }

    /// One worker of lane `lane`: runs one of the job's runs at a time until stopped. Runs left
    /// queued are interrupted by `stop` once every worker has returned.
    async fn work(self: Arc<Self>, lane: usize) {
        let registered = &self.jobs[lane];
        loop {
            let run_id = {
                let mut receiver = tokio::select! {
                    biased;
                    () = self.stop.cancelled() => break,
                    receiver = registered.receiver.lock() => receiver,
                };
                tokio::select! {
                    biased;
                    () = self.stop.cancelled() => break,
                    received = receiver.recv() => match received {
                        Some(run_id) => run_id,
                        None => break,
                    },
                }
            };
            self.execute(run_id).await;
        }
        debug!(job = registered.job.name(), "Job worker stopped.");
    }

    /// At shutdown, after the workers: closes every lane and interrupts the runs still queued
    /// (they never started).
    async fn interrupt_queued(&self) {
        for registered in &self.jobs {
            let mut receiver = registered.receiver.lock().await;
            receiver.close();
            while let Some(run_id) = receiver.recv().await {
                self.finish(run_id, registered.job.name(), RunStatus::Interrupted, Some(NEVER_STARTED)).await;
            }
        }
    }

    fn running_runs(&self) -> Vec<i64> {
        let mut running: Vec<i64> =
            self.running.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect();
        running.sort_unstable();
        running
    }

    /// Moves a queued run to `running` and finds its job; `None` when there is nothing to run
    /// (the run was already finished here, or is no longer queued).
    async fn begin(&self, run_id: i64) -> Option<(RunRecord, Arc<dyn Job>)> {
        let run = match self.storage.run(run_id).await {
            Ok(Some(run)) => run,
            Ok(None) => {
                warn!(run_id, "A queued run vanished before it started.");
                return None;
            }
            Err(error) => {
                error!(run_id, %error, "Cannot read a queued run.");
                let message = format!("cannot start: {error}");
                self.finish(run_id, "", RunStatus::Failed, Some(&message)).await;
                return None;
            }
        };
        let Some(job) = self.job(&run.job).map(|r| Arc::clone(&r.job)) else {
            let message = format!("job {:?} is not registered in this process", run.job);
            self.finish(run_id, &run.job, RunStatus::Failed, Some(&message)).await;
            return None;
        };
        match self.storage.start_run(run_id).await {
            Ok(true) => Some((run, job)),
            Ok(false) => {
                // Interrupted (or finished) meanwhile, e.g. by another instance's start-up.
                info!(run_id, job = %run.job, "Run is no longer queued; skipping it.");
                None
            }
            Err(error) => {
                error!(run_id, job = %run.job, %error, "Cannot start a run.");
                let message = format!("cannot start: {error}");
                self.finish(run_id, &run.job, RunStatus::Failed, Some(&message)).await;
                None
            }
        }
    }

    /// Runs one queued run to its final status.
    async fn execute(&self, run_id: i64) {
        let Some((run, job)) = self.begin(run_id).await else { return };
        let job_name = run.job;
        self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(run_id);
        info!(run_id, job = %job_name, subject = run.subject.as_ref().map(Symbol::as_str), trigger = %run.trigger, "Run started.");
        let started = Instant::now();

        let cancel = self.jobs_cancel.child_token();
        let context = JobContext {
            storage: self.storage.clone(),
            run_id,
            subject: run.subject,
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
        self.finish(run_id, &job_name, status, error.as_deref()).await;
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

    /// Records a final status and announces it. A database failure is logged: the run stays
    /// active until this process's heartbeat stops and another recovers it.
    async fn finish(&self, run_id: i64, job: &str, status: RunStatus, error: Option<&str>) {
        match self.storage.finish_run(run_id, status, error).await {
            Ok(true) => {}
            Ok(false) => warn!(run_id, job, %status, "Run was no longer active when it finished."),
            Err(db_error) => {
                error!(run_id, job, %status, error = %db_error, "Cannot record a run's final status.")
            }
        }
        if status != RunStatus::Succeeded
            && let Some(error) = error
        {
            warn!(run_id, job, %status, error, "Run did not succeed.");
        }
        self.finished.send_replace(run_id);
    }

    /// Last resort after aborting the workers: the runs they were executing become
    /// `interrupted`.
    async fn interrupt_running(&self, reason: &str) {
        let running: Vec<i64> = self.running.lock().unwrap_or_else(PoisonError::into_inner).drain().collect();
        for run_id in running {
            self.finish(run_id, "", RunStatus::Interrupted, Some(reason)).await;
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
                if at.is_some_and(|at| at <= now) {
                    match self.trigger(name, None, RunTrigger::Schedule).await {
                        Ok(triggered) => {
                            debug!(run_id = triggered.run.id, job = *name, "Scheduled run queued.")
                        }
                        Err(TriggerError::AlreadyActive { active, .. }) => {
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

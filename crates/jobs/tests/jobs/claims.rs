//! Several instances on one PostgreSQL database: an API instance queues, workers claim
//! (`FOR UPDATE SKIP LOCKED`), a dead worker's run is retried or interrupted per job policy, a
//! cron tick fires once, and instances wake each other through `LISTEN/NOTIFY`. Each instance
//! is its own `Storage` (own pool, own instance id), as separate processes are. The chaos test
//! with real processes and SIGKILL is `crates/tickerwatch/tests/instances.rs`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::RunTrigger;
use jobs::{EngineSettings, Heartbeat, Job, JobContext, JobEngine, JobOutcome};
use storage::{DatabaseConfig, NewRun, RunRecord, RunRequest, RunStatus, Storage};
use test_support::postgres::PgSchema;
use test_support::wait_for;

use crate::helpers::{HoldJob, QuickJob, SECS_5, sym};

const BEAT: Duration = Duration::from_millis(200);
const STALE: Duration = Duration::from_secs(2);
/// Workers in these tests poll this rarely, so anything faster was woken by a notification.
const SLOW_POLL: Duration = Duration::from_secs(120);

async fn instance(url: &str) -> Storage {
    let config = DatabaseConfig { max_connections: Some(4), ..DatabaseConfig::default() };
    let storage = Storage::connect(url, &config).await.expect("connect postgres");
    storage.migrate().await.expect("migrate");
    storage.listen();
    storage
}

fn api_settings() -> EngineSettings {
    EngineSettings { workers: false, scheduler: false, ..EngineSettings::default() }
}

fn worker_settings() -> EngineSettings {
    EngineSettings { claim_poll: SLOW_POLL, ..EngineSettings::default() }
}

/// Sleeps a little per run and counts its runs: the work spreads over the workers.
struct CountingJob {
    runs: AtomicUsize,
}

#[async_trait]
impl Job for CountingJob {
    fn name(&self) -> &'static str {
        "quick"
    }

    async fn run(&self, _context: &JobContext) -> anyhow::Result<JobOutcome> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(JobOutcome::default())
    }
}

#[tokio::test]
async fn runs_queued_on_an_api_instance_run_once_each_on_three_workers() {
    let Some(schema) = PgSchema::create("jobs_claims").await else { return };
    let api = instance(schema.url()).await;
    let api_engine = JobEngine::start_with(
        api.clone(),
        vec![Arc::new(CountingJob { runs: AtomicUsize::new(0) })],
        api_settings(),
    )
    .await
    .unwrap();
    let mut workers = Vec::new();
    for _ in 0..3 {
        let storage = instance(schema.url()).await;
        let job = Arc::new(CountingJob { runs: AtomicUsize::new(0) });
        let engine =
            JobEngine::start_with(storage.clone(), vec![job.clone() as Arc<dyn Job>], worker_settings())
                .await
                .unwrap();
        workers.push((storage, job, engine));
    }

    let started = Instant::now();
    let mut queued = Vec::new();
    for i in 0..60 {
        queued.push(
            api_engine.trigger_for("quick", &sym(&format!("S{i}")), RunTrigger::Api).await.unwrap().run,
        );
    }
    let mut owners = HashSet::new();
    for run in &queued {
        let done = api_engine.wait_for(run.id, Duration::from_secs(30)).await.unwrap();
        assert_eq!((done.status, done.attempts), (RunStatus::Succeeded, 1), "{done:?}");
        assert_ne!(done.owner, api.owner(), "the API instance runs nothing");
        owners.insert(done.owner);
    }
    let elapsed = started.elapsed();
    // Each run ran exactly once, in all.
    let ran: usize = workers.iter().map(|(_, job, _)| job.runs.load(Ordering::SeqCst)).sum();
    assert_eq!(ran, queued.len());
    assert!(owners.len() >= 2, "the work spread over the workers: {owners:?}");
    // The workers poll every two minutes: they were woken by the API instance's NOTIFY.
    assert!(elapsed < SLOW_POLL / 4, "took {elapsed:?}");
    eprintln!("60 runs over 3 workers in {elapsed:?}; owners {}", owners.len());

    api_engine.shutdown(SECS_5).await;
    for (storage, _, engine) in workers {
        engine.shutdown(SECS_5).await;
        storage.close().await;
    }
    api.close().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_dead_workers_runs_are_retried_elsewhere_or_interrupted_per_policy() {
    let Some(schema) = PgSchema::create("jobs_retry").await else { return };
    let dying = instance(schema.url()).await;
    let dying_beat = Heartbeat::start(&dying, BEAT, STALE).await.unwrap();
    let retried_job = HoldJob::new("retried", false);
    let once_job = HoldJob::new("once", false);
    let settings = EngineSettings { max_attempts: vec![("retried".to_owned(), 2)], ..worker_settings() };
    let dying_engine =
        JobEngine::start_with(dying.clone(), vec![retried_job.clone(), once_job.clone()], settings.clone())
            .await
            .unwrap();
    let retried = dying_engine.trigger("retried", RunTrigger::Api).await.unwrap().run;
    let once = dying_engine.trigger("once", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, retried_job.started.notified()).await.expect("started");
    tokio::time::timeout(SECS_5, once_job.started.notified()).await.expect("started");
    let first_claim = dying.run(retried.id).await.unwrap().unwrap();
    assert_eq!(
        (first_claim.owner.as_str(), first_claim.attempts, first_claim.max_attempts),
        (dying.owner(), 1, 2)
    );

    // Another worker is up; then the first dies without a word (its tasks and heartbeat stop).
    let live = instance(schema.url()).await;
    let live_beat = Heartbeat::start(&live, BEAT, STALE).await.unwrap();
    let live_retried = QuickJob::new("retried");
    let live_once = QuickJob::new("once");
    let live_engine =
        JobEngine::start_with(live.clone(), vec![live_retried.clone(), live_once.clone()], settings)
            .await
            .unwrap();
    drop(dying_engine);
    drop(dying_beat);

    let done = wait_for(STALE + Duration::from_secs(10), || {
        let live = live.clone();
        async move { live.run(retried.id).await.unwrap().filter(|r| r.status == RunStatus::Succeeded) }
    })
    .await
    .expect("the retried run finished on the live worker");
    assert_eq!((done.owner.as_str(), done.attempts), (live.owner(), 2), "{done:?}");
    let interrupted = live.run(once.id).await.unwrap().unwrap();
    assert_eq!(interrupted.status, RunStatus::Interrupted, "{interrupted:?}");
    assert_eq!((live_retried.runs(), live_once.runs()), (1, 0));
    // The dead worker's claim is void: were it to come back and report, nothing changes.
    assert!(!dying.finish_claimed_run(&first_claim, RunStatus::Failed, Some("late")).await.unwrap());
    assert_eq!(live.run(retried.id).await.unwrap().unwrap().status, RunStatus::Succeeded);

    live_engine.shutdown(SECS_5).await;
    live_beat.stop().await;
    dying.close().await;
    live.close().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_cron_tick_fires_once_across_instances() {
    let Some(schema) = PgSchema::create("jobs_cron").await else { return };
    // Storage level: the second request for one tick gets the first's run, even once it ended.
    let first = instance(schema.url()).await;
    let second = instance(schema.url()).await;
    let key = "schedule:tick:1764892800";
    let request = RunRequest { key: Some(key), ..RunRequest::new("tick", None, RunTrigger::Schedule) };
    let NewRun::Created(run) = first.queue_run(&request).await.unwrap() else { panic!("created") };
    assert!(first.finish_run(run.id, RunStatus::Succeeded, None).await.unwrap());
    match second.queue_run(&request).await.unwrap() {
        NewRun::KeyTaken(taken) => assert_eq!(taken.id, run.id),
        other => panic!("expected KeyTaken, got {other:?}"),
    }

    // Engine level: two schedulers firing every second create at most one run per tick.
    let every_second = vec![("ticker".to_owned(), "* * * * * *".to_owned())];
    let jobs_of = |job: &Arc<QuickJob>| vec![job.clone() as Arc<dyn Job>];
    let (a_job, b_job) = (QuickJob::new("ticker"), QuickJob::new("ticker"));
    let settings = EngineSettings { schedules: every_second, ..worker_settings() };
    let started = Instant::now();
    let a = JobEngine::start_with(first.clone(), jobs_of(&a_job), settings.clone()).await.unwrap();
    let b = JobEngine::start_with(second.clone(), jobs_of(&b_job), settings).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    a.shutdown(SECS_5).await;
    b.shutdown(SECS_5).await;
    let elapsed_ticks = started.elapsed().as_secs() + 1;
    let runs: Vec<RunRecord> = first.runs(Some("ticker"), 100).await.unwrap();
    assert!(runs.len() >= 2, "the schedule fired: {runs:?}");
    assert!(runs.len() as u64 <= elapsed_ticks, "{} runs in {elapsed_ticks} ticks", runs.len());
    let queued_seconds: HashSet<i64> = runs.iter().map(|r| r.queued_at.timestamp()).collect();
    assert_eq!(queued_seconds.len(), runs.len(), "one run per tick: {runs:?}");
    assert_eq!(a_job.runs() + b_job.runs(), runs.iter().filter(|r| r.status == RunStatus::Succeeded).count());

    first.close().await;
    second.close().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn a_finish_on_one_instance_wakes_readers_on_another() {
    let Some(schema) = PgSchema::create("jobs_notify").await else { return };
    let writer = instance(schema.url()).await;
    let reader = instance(schema.url()).await;
    let mut finished = reader.run_finished();
    let mut queued = reader.run_queued();
    finished.borrow_and_update();
    queued.borrow_and_update();
    // The listener needs a moment to subscribe; keep queueing until the reader hears one.
    let attempt = AtomicUsize::new(0);
    let heard = wait_for(SECS_5, || {
        let writer = writer.clone();
        let mut queued = queued.clone();
        let job = format!("notify-{}", attempt.fetch_add(1, Ordering::SeqCst));
        async move {
            writer.queue_run(&RunRequest::new(&job, None, RunTrigger::Api)).await.unwrap();
            tokio::time::timeout(Duration::from_millis(200), queued.changed()).await.ok().map(drop)
        }
    })
    .await;
    assert!(heard.is_some(), "the reader heard a run queued by the writer");
    let NewRun::Created(run) =
        writer.queue_run(&RunRequest::new("finisher", None, RunTrigger::Api)).await.unwrap()
    else {
        panic!("created")
    };
    assert!(writer.start_run(run.id).await.unwrap());
    assert!(writer.finish_run(run.id, RunStatus::Succeeded, None).await.unwrap());
    tokio::time::timeout(SECS_5, async {
        while *finished.borrow_and_update() != run.id {
            finished.changed().await.unwrap();
        }
    })
    .await
    .expect("the reader heard the finish");
    writer.close().await;
    reader.close().await;
    schema.drop_schema().await;
}

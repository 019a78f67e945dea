//! The engine with small test jobs: single-flight, statuses, panics, schedules, shutdown.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use jobs::{CANCEL_WAIT, EngineSettings, Heartbeat, Job, JobEngine, MAX_QUEUED_RUNS, TriggerError};
use storage::{NewRun, RunRequest, RunStatus};
use test_support::{alive_tasks, wait_for, wait_for_tasks_at_most, wait_until};

use domain::RunTrigger;

use crate::helpers::{FailJob, HoldJob, PanicOnceJob, QuickJob, SECS_5, SubjectJob, TestEnv, item, sym};

async fn start(env: &TestEnv, jobs: Vec<Arc<dyn Job>>) -> JobEngine {
    JobEngine::start(env.storage.clone(), jobs, Vec::new()).await.expect("start engine")
}

#[tokio::test]
async fn trigger_queues_a_run_that_succeeds() {
    let env = TestEnv::new().await;
    let job = QuickJob::new("quick");
    let engine = start(&env, vec![job.clone()]).await;
    assert!(engine.has_job("quick"));
    assert!(!engine.has_job("nope"));

    let triggered = engine.trigger("quick", RunTrigger::Api).await.expect("trigger");
    assert_eq!(triggered.run.status, RunStatus::Queued);
    assert_eq!((triggered.run.job.as_str(), triggered.run.trigger), ("quick", RunTrigger::Api));
    let run = engine.wait_for(triggered.run.id, SECS_5).await.unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(run.started_at.is_some() && run.finished_at.is_some());
    assert_eq!(run.error, None);
    assert_eq!(job.runs(), 1);

    let listed = engine.jobs().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "quick");
    assert_eq!((listed[0].schedule.clone(), listed[0].next_run), (None, None));
    assert_eq!(listed[0].last_run.as_ref().map(|r| r.id), Some(run.id));
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn unknown_job_is_refused() {
    let env = TestEnv::new().await;
    let engine = start(&env, vec![QuickJob::new("quick")]).await;
    let err = engine.trigger("nope", RunTrigger::Api).await.unwrap_err();
    assert!(matches!(&err, TriggerError::UnknownJob(name) if name == "nope"), "{err}");
    assert!(env.storage.runs(None, 10).await.unwrap().is_empty(), "nothing was queued");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn second_trigger_while_running_names_the_active_run() {
    let env = TestEnv::new().await;
    let job = HoldJob::new("hold", false);
    let engine = start(&env, vec![job.clone()]).await;

    let first = engine.trigger("hold", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("job started");
    for _ in 0..3 {
        match engine.trigger("hold", RunTrigger::Api).await {
            Err(TriggerError::AlreadyActive { job, active }) => {
                assert_eq!(job, "hold");
                assert_eq!(active.id, first.id);
                assert_eq!(active.status, RunStatus::Running);
            }
            other => panic!("expected AlreadyActive, got {other:?}"),
        }
    }
    // Still running: waiting times out with the active record.
    let running = engine.wait_for(first.id, Duration::from_millis(50)).await.unwrap();
    assert_eq!(running.status, RunStatus::Running);

    job.release.notify_one();
    assert_eq!(engine.wait_for(first.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    // Free again.
    let second = engine.trigger("hold", RunTrigger::Api).await.unwrap().run;
    assert!(second.id > first.id);
    job.release.notify_one();
    assert_eq!(engine.wait_for(second.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    assert_eq!(
        env.storage.runs(Some("hold"), 10).await.unwrap().len(),
        2,
        "refused triggers created no runs"
    );
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn wait_for_an_unknown_run_is_an_error() {
    let env = TestEnv::new().await;
    let engine = start(&env, vec![QuickJob::new("quick")]).await;
    let err = engine.wait_for(4242, SECS_5).await.unwrap_err();
    assert!(err.to_string().contains("4242"), "{err}");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_panicking_job_fails_its_run_and_the_engine_keeps_working() {
    let env = TestEnv::new().await;
    let panics = Arc::new(PanicOnceJob { runs: AtomicUsize::new(0) });
    let quick = QuickJob::new("quick");
    let engine = start(&env, vec![panics, quick.clone()]).await;

    let run = engine.trigger("panics", RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_5).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("panicked") && error.contains("boom in the job"), "{error}");

    let other = engine.trigger("quick", RunTrigger::Api).await.unwrap().run;
    assert_eq!(engine.wait_for(other.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    let again = engine.trigger("panics", RunTrigger::Api).await.unwrap().run;
    assert_eq!(engine.wait_for(again.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn statuses_follow_the_job_and_its_items() {
    let env = TestEnv::new().await;
    let partial = QuickJob::with_items("partial", vec![item("AAPL", true), item("NVDA", false)]);
    let all_failed = QuickJob::with_items("all-failed", vec![item("NVDA", false), item("ZZZZ", false)]);
    let engine = start(&env, vec![partial, all_failed, Arc::new(FailJob)]).await;

    let run = engine.trigger("partial", RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_5).await.unwrap();
    assert_eq!(run.status, RunStatus::Partial);
    assert_eq!(run.error.as_deref(), Some("1 of 2 items failed: NVDA: NVDA is unknown"));

    let run = engine.trigger("all-failed", RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_5).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("2 of 2 items failed") && error.contains("ZZZZ is unknown"), "{error}");

    let run = engine.trigger("fails", RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_5).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("cannot refresh: vendor unreachable"), "the whole error chain");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn bad_schedules_are_refused_at_start() {
    let env = TestEnv::new().await;
    let jobs = || -> Vec<Arc<dyn Job>> { vec![QuickJob::new("quick")] };

    let err = JobEngine::start(env.storage.clone(), jobs(), vec![("quick".into(), "every day".into())])
        .await
        .err()
        .expect("invalid cron");
    let message = format!("{err:#}");
    assert!(message.contains("quick") && message.contains("every day"), "{message}");

    let err = JobEngine::start(env.storage.clone(), jobs(), vec![("nope".into(), "* * * * * *".into())])
        .await
        .err()
        .expect("unknown job");
    assert!(format!("{err:#}").contains("nope"), "{err:#}");

    let err = JobEngine::start(
        env.storage.clone(),
        vec![QuickJob::new("quick"), QuickJob::new("quick")],
        Vec::new(),
    )
    .await
    .err()
    .expect("duplicate job");
    assert!(format!("{err:#}").contains("quick"), "{err:#}");
}

#[tokio::test]
async fn a_cron_schedule_fires() {
    let env = TestEnv::new().await;
    let job = QuickJob::new("tick");
    let engine =
        JobEngine::start(env.storage.clone(), vec![job.clone()], vec![("tick".into(), "* * * * * *".into())])
            .await
            .expect("start engine");

    let info = engine.jobs().await.unwrap().remove(0);
    assert_eq!(info.schedule.as_deref(), Some("* * * * * *"));
    let next = info.next_run.expect("next fire time");
    assert!(
        next > chrono::Utc::now() - chrono::Duration::seconds(1)
            && next <= chrono::Utc::now() + chrono::Duration::seconds(2)
    );

    let run = wait_for(Duration::from_secs(3), || async {
        let runs = env.storage.runs(Some("tick"), 10).await.unwrap();
        runs.into_iter().find(|r| r.status == RunStatus::Succeeded)
    })
    .await
    .expect("the schedule did not fire within 3 s");
    assert_eq!(run.trigger, RunTrigger::Schedule);
    assert!(job.runs() >= 1);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn shutdown_lets_a_running_job_finish_within_the_grace_period() {
    let env = TestEnv::new().await;
    let job = HoldJob::new("hold", false);
    let engine = start(&env, vec![job.clone()]).await;
    let run = engine.trigger("hold", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("job started");

    // Shared, so the job can be released once the shutdown has begun, inside the grace period.
    let engine = Arc::new(engine);
    let stopping = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.stop(SECS_5).await })
    };
    assert!(wait_until(SECS_5, || engine.is_shutting_down()).await, "the shutdown began");
    assert_eq!(env.storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Running);
    job.release.notify_one();
    stopping.await.unwrap();
    assert_eq!(env.storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Succeeded);
}

#[tokio::test]
async fn shutdown_past_the_grace_period_interrupts_and_joins_every_task() {
    let env = TestEnv::new().await;
    let baseline = alive_tasks();
    let stubborn = HoldJob::new("stubborn", false);
    let waiting = QuickJob::new("waiting");
    let engine = start(&env, vec![stubborn.clone(), waiting.clone()]).await;

    let run = engine.trigger("stubborn", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, stubborn.started.notified()).await.expect("job started");
    // Queued in the stubborn job's lane behind the running one; it never starts.
    let queued = engine.trigger_for("stubborn", &sym("LATER"), RunTrigger::Api).await.unwrap().run;
    assert!(alive_tasks() > baseline);

    let started = Instant::now();
    let grace = Duration::from_millis(200);
    engine.shutdown(grace).await;
    let took = started.elapsed();
    // Grace + the engine's short wait for a job that ignores its token, then an abort.
    assert!(took < grace + CANCEL_WAIT + Duration::from_millis(700), "shutdown took {took:?}");

    let run = env.storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted, "{run:?}");
    assert!(run.error.is_some_and(|e| e.contains("grace period")));
    // The run that never started stays queued for the next worker (here, or on another instance).
    let queued = env.storage.run(queued.id).await.unwrap().unwrap();
    assert_eq!((queued.status, queued.attempts), (RunStatus::Queued, 0), "{queued:?}");
    assert_eq!(waiting.runs(), 0);
    assert!(wait_for_tasks_at_most(baseline, SECS_5).await <= baseline, "every engine task is gone");
    // The next engine runs it.
    let next = start(&env, vec![QuickJob::new("stubborn")]).await;
    let done = next.wait_for(queued.id, SECS_5).await.unwrap();
    assert_eq!((done.status, done.attempts), (RunStatus::Succeeded, 1), "{done:?}");
    next.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_cooperative_job_is_interrupted_without_an_abort() {
    let env = TestEnv::new().await;
    let baseline = alive_tasks();
    let job = HoldJob::new("polite", true);
    let engine = start(&env, vec![job.clone()]).await;
    let run = engine.trigger("polite", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("job started");

    let started = Instant::now();
    engine.shutdown(Duration::from_millis(100)).await;
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(env.storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Interrupted);
    assert!(wait_for_tasks_at_most(baseline, SECS_5).await <= baseline);
}

#[tokio::test]
async fn triggers_during_shutdown_are_refused() {
    let env = TestEnv::new().await;
    let job = HoldJob::new("hold", false);
    // As the server holds it: shared, stopped through `stop(&self)`.
    let engine = Arc::new(start(&env, vec![job.clone(), QuickJob::new("quick")]).await);
    let run = engine.trigger("hold", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("job started");

    let stopping = {
        let engine = Arc::clone(&engine);
        tokio::spawn(async move { engine.stop(SECS_5).await })
    };
    assert!(wait_until(SECS_5, || engine.is_shutting_down()).await, "the shutdown began");
    let err = engine.trigger("quick", RunTrigger::Api).await.unwrap_err();
    assert!(matches!(err, TriggerError::ShuttingDown), "{err}");
    assert!(matches!(engine.trigger("nope", RunTrigger::Api).await, Err(TriggerError::UnknownJob(_))));
    job.release.notify_one();
    stopping.await.unwrap();
    assert_eq!(env.storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Succeeded);
    assert_eq!(env.storage.runs(Some("quick"), 10).await.unwrap().len(), 0);
    // Stopping again is a no-op.
    engine.stop(SECS_5).await;
}

#[tokio::test]
async fn dropping_the_engine_aborts_its_tasks() {
    let env = TestEnv::new().await;
    let baseline = alive_tasks();
    let job = HoldJob::new("hold", false);
    let engine =
        JobEngine::start(env.storage.clone(), vec![job.clone()], vec![("hold".into(), "0 0 0 1 1 *".into())])
            .await
            .unwrap();
    let run = engine.trigger("hold", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("job started");
    drop(engine);
    assert!(
        wait_for_tasks_at_most(baseline, SECS_5).await <= baseline,
        "worker, scheduler and job task aborted"
    );
    // Left active; this process never beat a heartbeat, so the next process to start on the
    // database takes its run over.
    assert_eq!(env.storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Running);
    let next = env.second_process().await;
    let heartbeat = Heartbeat::start(&next, Duration::from_secs(1), Duration::from_secs(30)).await.unwrap();
    let run = env.storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    assert!(run.error.as_deref().is_some_and(|e| e.contains("process that owned it stopped")), "{run:?}");
    heartbeat.stop().await;
}

#[tokio::test]
async fn runs_about_different_subjects_queue_together() {
    let env = TestEnv::new().await;
    let job = SubjectJob::new("analysis", "AAPL");
    let engine = start(&env, vec![job.clone()]).await;

    let aapl = engine.trigger_for("analysis", &sym("AAPL"), RunTrigger::Api).await.unwrap().run;
    assert_eq!((aapl.subject.clone(), aapl.status), (Some(sym("AAPL")), RunStatus::Queued));
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("AAPL started");
    // While AAPL runs: MSFT and the subject-less run queue, AAPL and MSFT again are refused.
    let msft = engine.trigger_for("analysis", &sym("MSFT"), RunTrigger::Api).await.unwrap().run;
    let whole = engine.trigger("analysis", RunTrigger::Schedule).await.unwrap().run;
    assert_eq!((msft.subject.clone(), whole.subject.clone()), (Some(sym("MSFT")), None));
    for (subject, active_id, status) in
        [("AAPL", aapl.id, RunStatus::Running), ("MSFT", msft.id, RunStatus::Queued)]
    {
        match engine.trigger_for("analysis", &sym(subject), RunTrigger::Api).await {
            Err(error @ TriggerError::AlreadyActive { .. }) => {
                let message = error.to_string();
                assert!(message.contains(&format!("run {active_id} for {subject}")), "{message}");
                let TriggerError::AlreadyActive { job, active } = error else { unreachable!() };
                assert_eq!((job.as_str(), active.id, active.status), ("analysis", active_id, status));
                assert_eq!(active.subject, Some(sym(subject)));
            }
            other => panic!("expected AlreadyActive for {subject}, got {other:?}"),
        }
    }
    let err = engine.trigger("analysis", RunTrigger::Api).await.unwrap_err();
    assert!(!err.to_string().contains(" for "), "no subject, none named: {err}");

    job.release.notify_one();
    for run in [&aapl, &msft, &whole] {
        let done = engine.wait_for(run.id, SECS_5).await.unwrap();
        assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
        assert_eq!(done.subject, run.subject);
    }
    assert_eq!(job.seen(), ["AAPL", "MSFT", ""], "the subject reaches the job, in queue order");
    assert_eq!(env.storage.runs(Some("analysis"), 10).await.unwrap().len(), 3, "refusals created no runs");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_full_queue_refuses_triggers_without_waiting() {
    let env = TestEnv::new().await;
    let job = SubjectJob::new("analysis", "HOLD");
    let engine = start(&env, vec![job.clone()]).await;
    engine.trigger_for("analysis", &sym("HOLD"), RunTrigger::Api).await.unwrap();
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("the worker is busy");

    let mut queued = Vec::new();
    for i in 0..MAX_QUEUED_RUNS {
        queued
            .push(engine.trigger_for("analysis", &sym(&format!("S{i}")), RunTrigger::Api).await.unwrap().run);
    }
    let started = Instant::now();
    let err =
        tokio::time::timeout(SECS_5, engine.trigger_for("analysis", &sym("ONE-TOO-MANY"), RunTrigger::Api))
            .await
            .expect("a full queue does not block the trigger")
            .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, TriggerError::QueueFull), "{err}");
    assert!(err.to_string().contains("queue is full"), "{err}");
    // Nothing was recorded for the refused trigger.
    let newest = env.storage.runs(Some("analysis"), 1).await.unwrap().remove(0);
    assert_eq!(newest.id, queued.last().unwrap().id);
    // The refused subject is free again, and the queue drains normally.
    job.release.notify_one();
    for run in &queued {
        assert_eq!(engine.wait_for(run.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    }
    let again = engine.trigger_for("analysis", &sym("ONE-TOO-MANY"), RunTrigger::Api).await.unwrap().run;
    assert_eq!(engine.wait_for(again.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    assert_eq!(job.seen().len(), MAX_QUEUED_RUNS + 2);
    engine.shutdown(SECS_5).await;
}

/// On SQLite the workers are woken by this process's own signals, not by a poll every
/// `claim_poll`: a run another process left queued waits for the next signal (or the
/// once-a-minute look), while any run queued here wakes every lane, which then takes it.
#[tokio::test]
async fn on_sqlite_idle_workers_wait_for_a_signal_instead_of_polling() {
    let env = TestEnv::new().await;
    let (leftover_job, nudge_job) = (QuickJob::new("leftover"), QuickJob::new("nudge"));
    let settings = EngineSettings { claim_poll: Duration::from_millis(50), ..EngineSettings::default() };
    let jobs: Vec<Arc<dyn Job>> = vec![leftover_job.clone(), nudge_job.clone()];
    let engine = JobEngine::start_with(env.storage.clone(), jobs, settings).await.unwrap();
    // Let the workers make their first look and go idle.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let other = env.second_process().await;
    let request = RunRequest::new("leftover", None, RunTrigger::Api);
    let NewRun::Created(left) = other.queue_run(&request).await.unwrap() else { panic!("created") };
    // Twenty claim polls of 50 ms: a polling worker would have run it by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(other.run(left.id).await.unwrap().unwrap().status, RunStatus::Queued);
    assert_eq!(leftover_job.runs(), 0);

    // A run queued here (another job's) wakes every lane: the leftover is taken too.
    let nudge = engine.trigger("nudge", RunTrigger::Api).await.expect("trigger").run.id;
    for id in [nudge, left.id] {
        assert_eq!(engine.wait_for(id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    }
    assert_eq!((leftover_job.runs(), nudge_job.runs()), (1, 1));
    other.close().await;
    engine.shutdown(SECS_5).await;
}

//! Lanes: runs of different jobs never wait for each other; `concurrency` lets runs of one job
//! overlap; a job cut off past the grace period leaves consistent records.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::{OutputKind, RunOutput, RunTrigger};
use jobs::{CANCEL_WAIT, EngineSettings, ExportService, Job, JobContext, JobEngine, JobOutcome};
use storage::{ExportStatus, RunStatus};
use tokio::sync::Notify;

use crate::helpers::{HoldJob, QuickJob, SECS_5, SubjectJob, TestEnv, sym};

#[tokio::test]
async fn a_run_of_another_job_does_not_wait_behind_a_long_one() {
    let env = TestEnv::new().await;
    let analysis = HoldJob::new("slow-analysis", false);
    let alert = QuickJob::new("alert-check");
    let engine = JobEngine::start(env.storage.clone(), vec![analysis.clone(), alert.clone()], Vec::new())
        .await
        .unwrap();
    let long = engine.trigger("slow-analysis", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, analysis.started.notified()).await.expect("the long run started");

    let quick = engine.trigger("alert-check", RunTrigger::Schedule).await.unwrap().run;
    let done = engine.wait_for(quick.id, SECS_5).await.unwrap();
    assert_eq!(done.status, RunStatus::Succeeded, "{done:?}");
    assert_eq!(env.storage.run(long.id).await.unwrap().unwrap().status, RunStatus::Running);

    analysis.release.notify_one();
    assert_eq!(engine.wait_for(long.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn concurrency_lets_runs_of_one_job_overlap() {
    let env = TestEnv::new().await;
    let job = SubjectJob::new("analysis", "HOLD");
    let settings = EngineSettings { concurrency: vec![("analysis".into(), 2)], ..EngineSettings::default() };
    let engine = JobEngine::start_with(env.storage.clone(), vec![job.clone()], settings).await.unwrap();
    assert_eq!(engine.jobs().await.unwrap()[0].concurrency, 2);
    let held = engine.trigger_for("analysis", &sym("HOLD"), RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("HOLD started");
    // The second worker takes MSFT while HOLD runs (with one worker it would wait; see
    // engine.rs `runs_about_different_subjects_queue_together`).
    let msft = engine.trigger_for("analysis", &sym("MSFT"), RunTrigger::Api).await.unwrap().run;
    assert_eq!(engine.wait_for(msft.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    assert_eq!(env.storage.run(held.id).await.unwrap().unwrap().status, RunStatus::Running);
    job.release.notify_one();
    assert_eq!(engine.wait_for(held.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn bad_concurrency_settings_are_refused_at_start() {
    let env = TestEnv::new().await;
    for (concurrency, expected) in [(("nope", 1), "unknown job"), (("quick", 0), "at least 1")] {
        let settings = EngineSettings {
            concurrency: vec![(concurrency.0.into(), concurrency.1)],
            ..EngineSettings::default()
        };
        let jobs: Vec<Arc<dyn Job>> = vec![QuickJob::new("quick")];
        let err = JobEngine::start_with(env.storage.clone(), jobs, settings).await.err().expect("refused");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

/// Writes an export for its run, then — `finish_on_cancel` — finishes it when cancelled, or
/// holds the export open and ignores the token.
struct ExportingJob {
    exports: ExportService,
    finish_on_cancel: bool,
    started: Notify,
}

#[async_trait]
impl Job for ExportingJob {
    fn name(&self) -> &'static str {
        "exporting"
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let storage = &context.storage;
        if self.finish_on_cancel {
            self.started.notify_one();
            context.cancel.cancelled().await;
            // Finishes its work within the engine's short wait after the token.
            self.exports.create_summary(&[], Some(context.run_id)).await?;
            return Ok(JobOutcome::default());
        }
        let record = storage.create_export("csv", "bars", "export-held.csv", Some(context.run_id)).await?;
        context.attach(RunOutput::new(OutputKind::ResearchNote, record.id + 1000)).await?;
        self.started.notify_one();
        std::future::pending::<()>().await;
        unreachable!()
    }
}

#[tokio::test]
async fn a_run_cut_off_while_exporting_fails_its_export_and_keeps_its_outputs() {
    let env = TestEnv::new().await;
    let job = Arc::new(ExportingJob {
        exports: env.export_service(),
        finish_on_cancel: false,
        started: Notify::new(),
    });
    let engine = JobEngine::start(env.storage.clone(), vec![job.clone()], Vec::new()).await.unwrap();
    let run = engine.trigger("exporting", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("started");
    let started = Instant::now();
    engine.shutdown(Duration::from_millis(100)).await;
    assert!(started.elapsed() < Duration::from_millis(100) + CANCEL_WAIT + Duration::from_millis(700));

    let run = env.storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let export = env.storage.exports(10).await.unwrap().remove(0);
    assert_eq!((export.status, export.run_id), (ExportStatus::Failed, Some(run.id)), "{export:?}");
    let outputs = env.storage.run_outputs(run.id).await.unwrap();
    assert_eq!(
        outputs,
        vec![RunOutput::new(OutputKind::ResearchNote, export.id + 1000)],
        "attached before the cut"
    );
}

#[tokio::test]
async fn an_export_finished_after_the_cancel_is_listed_by_its_interrupted_run() {
    let env = TestEnv::new().await;
    let job = Arc::new(ExportingJob {
        exports: env.export_service(),
        finish_on_cancel: true,
        started: Notify::new(),
    });
    let engine = JobEngine::start(env.storage.clone(), vec![job.clone()], Vec::new()).await.unwrap();
    let run = engine.trigger("exporting", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("started");
    engine.shutdown(Duration::from_millis(50)).await;

    let run = env.storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted);
    let export = env.storage.exports(10).await.unwrap().remove(0);
    assert_eq!((export.status, export.run_id), (ExportStatus::Ready, Some(run.id)));
    // Consistent: the ready export is among the interrupted run's outputs, and its file exists.
    assert_eq!(
        env.storage.run_outputs(run.id).await.unwrap(),
        vec![RunOutput::new(OutputKind::Export, export.id)]
    );
    assert!(env.export_files().contains(&export.file_name));
}

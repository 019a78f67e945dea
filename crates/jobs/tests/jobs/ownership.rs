//! Several processes on one database: each leaves the live ones' runs and exports alone and
//! takes over only the work of processes that died. SQLite (two handles on one file, as a
//! `serve` and a CLI `jobs trigger` are) and PostgreSQL (two engines, as two instances are).

use std::time::Duration;

use domain::RunTrigger;
use jobs::{ExportService, Heartbeat, JobEngine, TriggerError};
use storage::{DatabaseConfig, ExportStatus, NewRun, RunStatus, Storage};
use test_support::postgres::PgSchema;
use test_support::wait_for;

use crate::helpers::{HoldJob, QuickJob, SECS_5, TestEnv};

const BEAT: Duration = Duration::from_millis(100);
const STALE: Duration = Duration::from_secs(2);

#[tokio::test]
async fn a_second_process_leaves_the_live_servers_runs_and_exports_alone() {
    let env = TestEnv::new().await;
    // The live server: heartbeat, engine with a run in progress, an export being written.
    let server_beat = Heartbeat::start(&env.storage, BEAT, STALE).await.unwrap();
    let job = HoldJob::new("download-tracker", false);
    let engine = JobEngine::start(env.storage.clone(), vec![job.clone()], Vec::new()).await.unwrap();
    let live = engine.trigger("download-tracker", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, job.started.notified()).await.expect("the live run started");
    let writing = env.storage.create_export("xlsx", "bars", "export-live.xlsx", Some(live.id)).await.unwrap();
    std::fs::create_dir_all(env.exports_dir()).unwrap();
    std::fs::write(env.exports_dir().join("export-live.xlsx"), b"being renamed into place").unwrap();
    // Work of a process that crashed before owners existed.
    let ghost = env.second_process().await;
    let NewRun::Created(orphan) = ghost.create_run("reddit-scan", RunTrigger::Schedule).await.unwrap() else {
        panic!("created")
    };
    ghost.close().await;

    // `tickerwatch jobs trigger` (or a second `serve`) starts on the same database file.
    let cli = env.second_process().await;
    let cli_beat = Heartbeat::start(&cli, BEAT, STALE).await.unwrap();
    ExportService::new(cli.clone(), env.exports_config()).recover().await.unwrap();
    let cli_engine = JobEngine::start(cli.clone(), vec![HoldJob::new("download-tracker", true)], Vec::new())
        .await
        .unwrap();
    // Single-flight still holds across processes: the refusal names the live run.
    match cli_engine.trigger("download-tracker", RunTrigger::Cli).await {
        Err(TriggerError::AlreadyActive { active, .. }) => assert_eq!(active.id, live.id),
        other => panic!("expected AlreadyActive, got {other:?}"),
    }
    cli_engine.shutdown(SECS_5).await;
    cli_beat.stop().await;

    let live_now = env.storage.run(live.id).await.unwrap().unwrap();
    assert_eq!(live_now.status, RunStatus::Running, "{live_now:?}");
    assert_eq!(live_now.owner, env.storage.owner());
    let export = env.storage.export(writing.id).await.unwrap().unwrap();
    assert_eq!(export.status, ExportStatus::Writing, "{export:?}");
    assert!(env.export_files().contains(&"export-live.xlsx".to_owned()), "the live export's file is kept");
    // A run the dead process queued but never started waits for any worker.
    let orphan = env.storage.run(orphan.id).await.unwrap().unwrap();
    assert_eq!(orphan.status, RunStatus::Queued, "a queued run outlives whoever queued it");

    // The live run goes on and finishes normally.
    env.storage.complete_export(writing.id, 1, 1, "00").await.unwrap();
    job.release.notify_one();
    assert_eq!(engine.wait_for(live.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    engine.shutdown(SECS_5).await;
    server_beat.stop().await;
}

async fn connect(url: &str) -> Storage {
    let config = DatabaseConfig { max_connections: Some(4), ..DatabaseConfig::default() };
    let storage = Storage::connect(url, &config).await.expect("connect postgres");
    storage.migrate().await.expect("migrate");
    storage
}

#[tokio::test]
async fn two_engines_on_one_postgres_database_share_work_and_outlive_each_other() {
    let Some(schema) = PgSchema::create("jobs_owners").await else { return };
    let first = connect(schema.url()).await;
    let second = connect(schema.url()).await;

    let first_beat = Heartbeat::start(&first, BEAT, STALE).await.unwrap();
    let held = HoldJob::new("analysis", false);
    let first_engine = JobEngine::start(first.clone(), vec![held.clone()], Vec::new()).await.unwrap();
    let running = first_engine.trigger("analysis", RunTrigger::Api).await.unwrap().run;
    tokio::time::timeout(SECS_5, held.started.notified()).await.expect("started on the first instance");

    // The second instance starts: the first one's run is left alone, single-flight holds across
    // instances, and the second runs other work itself.
    let second_beat = Heartbeat::start(&second, BEAT, STALE).await.unwrap();
    let quick = QuickJob::new("alert-check");
    let second_engine =
        JobEngine::start(second.clone(), vec![HoldJob::new("analysis", true), quick.clone()], Vec::new())
            .await
            .unwrap();
    match second_engine.trigger("analysis", RunTrigger::Api).await {
        Err(TriggerError::AlreadyActive { active, .. }) => assert_eq!(active.id, running.id),
        other => panic!("expected AlreadyActive, got {other:?}"),
    }
    let alert = second_engine.trigger("alert-check", RunTrigger::Schedule).await.unwrap().run;
    assert_eq!(second_engine.wait_for(alert.id, SECS_5).await.unwrap().status, RunStatus::Succeeded);
    let seen = second.run(running.id).await.unwrap().unwrap();
    assert_eq!((seen.status, seen.owner.as_str()), (RunStatus::Running, first.owner()));
    // Heartbeats keep it alive well past the stale limit.
    tokio::time::sleep(STALE + Duration::from_secs(1)).await;
    assert_eq!(second.run(running.id).await.unwrap().unwrap().status, RunStatus::Running);

    // The first instance dies (no orderly stop): its heartbeat stops with it, and the second
    // takes its run over within the stale limit plus a beat.
    drop(first_engine);
    drop(first_beat);
    let taken = wait_for(STALE + Duration::from_secs(3), || {
        let second = second.clone();
        async move { second.run(running.id).await.unwrap().filter(|r| r.status == RunStatus::Interrupted) }
    })
    .await
    .expect("the dead instance's run was taken over");
    assert!(taken.error.is_some_and(|e| e.contains("process that owned it stopped")));
    // And the job is free again, on the live instance.
    let again = second_engine.trigger("analysis", RunTrigger::Api).await.unwrap().run;
    assert_eq!(again.owner, second.owner());

    second_engine.shutdown(Duration::from_millis(100)).await;
    second_beat.stop().await;
    first.close().await;
    second.close().await;
    schema.drop_schema().await;
}

#[tokio::test]
async fn an_orderly_stop_hands_leftovers_over_at_once() {
    let env = TestEnv::new().await;
    let beat = Heartbeat::start(&env.storage, BEAT, Duration::from_secs(3600)).await.unwrap();
    let NewRun::Created(left) = env.storage.create_run("download-tracker", RunTrigger::Api).await.unwrap()
    else {
        panic!("created")
    };
    assert!(env.storage.start_run(left.id).await.unwrap(), "claimed here");
    beat.stop().await;
    // Long stale limit: only the stop mark makes the owner dead.
    let next = env.second_process().await;
    let next_beat = Heartbeat::start(&next, BEAT, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(next.run(left.id).await.unwrap().unwrap().status, RunStatus::Interrupted);
    next_beat.stop().await;
}

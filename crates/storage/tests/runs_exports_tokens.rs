//! Job runs, export records and API tokens, against SQLite always and PostgreSQL when
//! `TEST_DATABASE_URL` is set, e.g.
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p storage --test runs_exports_tokens`.
//!
//! The harness (`tests/common`) is shared with `tests/storage.rs`.

use domain::{OutputKind, RunOutput, RunTrigger};
use std::collections::HashSet;

use chrono::{Duration, Utc};
use storage::{
    CrewRunStatus, ExportStatus, NewCrewRun, NewRun, Recovered, RunItem, RunRecord, RunRequest, RunStatus,
    Storage,
};

#[macro_use]
mod common;

use common::config;

backend_tests!(
    check_run_lifecycle,
    check_single_flight_per_job,
    check_concurrent_triggers_create_one_run,
    check_run_items_are_replaced_and_sorted,
    check_runs_listing,
    check_run_outputs,
    check_export_lifecycle,
    check_export_file_names_are_unique,
    check_expired_exports,
    check_tokens,
);

url_backend_tests!(check_recovery_takes_only_dead_owners_work, check_stale_heartbeats_make_an_owner_dead);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

async fn created(storage: &Storage, job: &str, trigger: RunTrigger) -> RunRecord {
    match storage.create_run(job, trigger).await.expect("create run") {
        NewRun::Created(run) => run,
        NewRun::AlreadyActive(active) | NewRun::KeyTaken(active) => {
            panic!("expected a new run, {job} has active run {}", active.id)
        }
    }
}

fn item(symbol: &str, succeeded: bool, bars: u64) -> RunItem {
    RunItem {
        symbol: symbol.to_owned(),
        succeeded,
        bars,
        provider: succeeded.then(|| "sample".to_owned()),
        error: (!succeeded).then(|| format!("{symbol}: not found")),
    }
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

async fn check_run_lifecycle(storage: Storage) {
    let before = Utc::now() - Duration::seconds(1);
    let run = created(&storage, "download-tracker", RunTrigger::Api).await;
    assert_eq!(run.job, "download-tracker");
    assert_eq!(run.status, RunStatus::Queued);
    assert_eq!(run.trigger, RunTrigger::Api);
    assert!(run.queued_at >= before && run.queued_at <= Utc::now());
    assert_eq!((run.started_at, run.finished_at, run.error.clone()), (None, None, None));
    assert_eq!(run.owner, storage.owner());
    assert!(run.heartbeat_at.is_some());
    assert_eq!(storage.run(run.id).await.unwrap(), Some(run.clone()));
    assert_eq!(storage.active_run("download-tracker").await.unwrap(), Some(run.clone()));

    assert!(storage.start_run(run.id).await.unwrap());
    assert!(!storage.start_run(run.id).await.unwrap(), "a running run cannot start again");
    let running = storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(running.status, RunStatus::Running);
    assert!(running.started_at.is_some());
    assert_eq!(storage.active_run("download-tracker").await.unwrap().map(|r| r.id), Some(run.id));

    assert!(storage.finish_run(run.id, RunStatus::Partial, Some("1 of 2 symbols failed")).await.unwrap());
    let finished = storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(finished.status, RunStatus::Partial);
    assert_eq!(finished.error.as_deref(), Some("1 of 2 symbols failed"));
    assert!(finished.finished_at.is_some_and(|f| Some(f) >= finished.started_at));
    assert_eq!(storage.active_run("download-tracker").await.unwrap(), None);

    // A finished run stays finished.
    assert!(!storage.finish_run(run.id, RunStatus::Failed, None).await.unwrap());
    assert!(!storage.start_run(run.id).await.unwrap());
    assert_eq!(storage.run(run.id).await.unwrap().unwrap().status, RunStatus::Partial);

    assert_eq!(storage.run(run.id + 1000).await.unwrap(), None);
    for status in RunStatus::ALL {
        assert_eq!(status.as_str().parse::<RunStatus>(), Ok(status));
        assert_eq!(status.is_active(), matches!(status, RunStatus::Queued | RunStatus::Running));
    }
    assert!("done".parse::<RunStatus>().is_err());
}

async fn check_single_flight_per_job(storage: Storage) {
    let first = created(&storage, "download-tracker", RunTrigger::Api).await;
    // Queued counts as active …
    match storage.create_run("download-tracker", RunTrigger::Schedule).await.unwrap() {
        NewRun::AlreadyActive(active) => assert_eq!(active, first),
        other => panic!("second active run {other:?}"),
    }
    // … and so does running.
    assert!(storage.start_run(first.id).await.unwrap());
    match storage.create_run("download-tracker", RunTrigger::Api).await.unwrap() {
        NewRun::AlreadyActive(active) => {
            assert_eq!(active.id, first.id);
            assert_eq!(active.status, RunStatus::Running);
        }
        other => panic!("second active run {other:?}"),
    }
    // Another job is independent.
    let other = created(&storage, "reddit-scan", RunTrigger::Api).await;
    assert_ne!(other.id, first.id);

    // Once finished, the job can run again.
    assert!(storage.finish_run(first.id, RunStatus::Succeeded, None).await.unwrap());
    let second = created(&storage, "download-tracker", RunTrigger::Api).await;
    assert!(second.id > first.id);
}

async fn check_concurrent_triggers_create_one_run(storage: Storage) {
    let attempts = (0..8).map(|_| {
        let storage = storage.clone();
        async move { storage.create_run("download-tracker", RunTrigger::Api).await.expect("create run") }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let created: Vec<_> =
        outcomes.iter().filter_map(|o| if let NewRun::Created(r) = o { Some(r) } else { None }).collect();
    assert_eq!(created.len(), 1, "{outcomes:?}");
    let ids: HashSet<i64> = outcomes
        .iter()
        .map(|o| match o {
            NewRun::Created(r) | NewRun::AlreadyActive(r) | NewRun::KeyTaken(r) => r.id,
        })
        .collect();
    assert_eq!(ids, HashSet::from([created[0].id]), "every refusal names the one active run");
}

async fn check_run_items_are_replaced_and_sorted(storage: Storage) {
    let run = created(&storage, "download-tracker", RunTrigger::Api).await;
    let other = created(&storage, "reddit-scan", RunTrigger::Api).await;
    storage.record_run_item(run.id, &item("MSFT", true, 250)).await.unwrap();
    storage.record_run_item(run.id, &item("AAPL", false, 0)).await.unwrap();
    storage.record_run_item(other.id, &item("AAPL", true, 1)).await.unwrap();
    assert_eq!(
        storage.run_items(run.id).await.unwrap(),
        vec![item("AAPL", false, 0), item("MSFT", true, 250)]
    );

    // Recording a symbol again replaces its item.
    storage.record_run_item(run.id, &item("AAPL", true, 12)).await.unwrap();
    assert_eq!(
        storage.run_items(run.id).await.unwrap(),
        vec![item("AAPL", true, 12), item("MSFT", true, 250)]
    );
    assert_eq!(storage.run_items(other.id).await.unwrap(), vec![item("AAPL", true, 1)]);
    assert_eq!(storage.run_items(other.id + 1000).await.unwrap(), Vec::new());

    // Huge counts saturate instead of failing.
    storage.record_run_item(run.id, &item("IBM", true, u64::MAX)).await.unwrap();
    let ibm = storage.run_items(run.id).await.unwrap().into_iter().find(|i| i.symbol == "IBM").unwrap();
    assert_eq!(ibm.bars, i64::MAX as u64);
}

async fn check_runs_listing(storage: Storage) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        let run = created(&storage, "download-tracker", RunTrigger::Schedule).await;
        storage.finish_run(run.id, RunStatus::Succeeded, None).await.unwrap();
        ids.push(run.id);
        let other = created(&storage, "reddit-scan", RunTrigger::Api).await;
        storage.finish_run(other.id, RunStatus::Failed, Some("boom")).await.unwrap();
    }
    let all = storage.runs(None, 100).await.unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "latest first");

    let tracker: Vec<i64> =
        storage.runs(Some("download-tracker"), 100).await.unwrap().iter().map(|r| r.id).collect();
    ids.reverse();
    assert_eq!(tracker, ids);
    assert_eq!(storage.runs(Some("download-tracker"), 2).await.unwrap().len(), 2);
    assert_eq!(storage.runs(None, 1).await.unwrap()[0].job, "reddit-scan");
    assert!(storage.runs(Some("nope"), 10).await.unwrap().is_empty());
    assert!(storage.runs(None, 0).await.unwrap().is_empty());
    // A caller's huge limit saturates.
    assert_eq!(storage.runs(None, u64::MAX).await.unwrap().len(), 6);
}

async fn check_run_outputs(storage: Storage) {
    let run = created(&storage, "download-tracker", RunTrigger::Api).await;
    let other = created(&storage, "reddit-scan", RunTrigger::Api).await;
    let note = RunOutput::new(OutputKind::ResearchNote, 9);
    storage.attach_run_output(run.id, note).await.unwrap();
    storage.attach_run_output(run.id, note).await.unwrap();
    storage.attach_run_output(other.id, RunOutput::new(OutputKind::SocialScan, 3)).await.unwrap();

    // A ready export is listed among its run's outputs with no call of the job's.
    let export = storage.create_export("csv", "bars", "export-o.csv", Some(run.id)).await.unwrap();
    assert_eq!(storage.run_outputs(run.id).await.unwrap(), vec![note], "not before it is ready");
    storage.complete_export(export.id, 1, 1, "00").await.unwrap();
    let mut outputs = storage.run_outputs(run.id).await.unwrap();
    outputs.sort();
    assert_eq!(outputs, vec![RunOutput::new(OutputKind::Export, export.id), note]);
    assert_eq!(
        storage.outputs_of_runs(&[other.id]).await.unwrap(),
        vec![(other.id, RunOutput::new(OutputKind::SocialScan, 3))]
    );
    assert_eq!(storage.outputs_of_runs(&[run.id, other.id]).await.unwrap().len(), 3);
    assert!(storage.outputs_of_runs(&[]).await.unwrap().is_empty());

    // A run that ends while an export of its is being written fails that export.
    let cut_off = storage.create_export("xlsx", "bars", "export-cut.xlsx", Some(other.id)).await.unwrap();
    let unrelated = storage.create_export("csv", "bars", "export-other.csv", None).await.unwrap();
    assert!(storage.finish_run(other.id, RunStatus::Interrupted, Some("grace ran out")).await.unwrap());
    let cut_off = storage.export(cut_off.id).await.unwrap().unwrap();
    assert_eq!(cut_off.status, ExportStatus::Failed);
    assert_eq!(cut_off.error.as_deref(), Some("the run ended before the export was finished"));
    assert_eq!(storage.export(unrelated.id).await.unwrap().unwrap().status, ExportStatus::Writing);
    assert!(storage.attach_run_output(run.id + 1000, note).await.is_err(), "no such run");
}

fn crew(subject: &str) -> NewCrewRun {
    NewCrewRun {
        job_run_id: None,
        crew: "research".to_owned(),
        subject: subject.to_owned(),
        model: "heuristic".to_owned(),
    }
}

/// Unfinished work of one process: a queued run, a running run of a job allowing one attempt
/// and one allowing two, a `writing` export and a running crew run.
struct Work {
    queued: i64,
    running: i64,
    retried: i64,
    export: i64,
    crew_run: i64,
}

async fn unfinished_work(storage: &Storage, tag: &str) -> Work {
    let queued = created(storage, &format!("{tag}-a"), RunTrigger::Api).await;
    let running = created(storage, &format!("{tag}-b"), RunTrigger::Api).await;
    assert!(storage.start_run(running.id).await.unwrap());
    let job = format!("{tag}-c");
    let request = RunRequest { max_attempts: 2, ..RunRequest::new(&job, None, RunTrigger::Api) };
    let NewRun::Created(retried) = storage.queue_run(&request).await.unwrap() else { panic!("created") };
    assert!(storage.start_run(retried.id).await.unwrap());
    let export =
        storage.create_export("xlsx", "bars", &format!("{tag}.xlsx"), Some(running.id)).await.unwrap();
    let crew_run = storage.begin_crew_run(&crew("AAPL")).await.unwrap();
    Work { queued: queued.id, running: running.id, retried: retried.id, export: export.id, crew_run }
}

/// Asserts whether `work` is untouched (`alive`) or was taken over with `reason`.
async fn assert_work(storage: &Storage, work: &Work, alive: bool, reason: &str) {
    // A queued run waits for any worker, whoever queued it.
    let queued = storage.run(work.queued).await.unwrap().unwrap();
    assert_eq!(queued.status, RunStatus::Queued, "{queued:?}");
    let running = storage.run(work.running).await.unwrap().unwrap();
    let retried = storage.run(work.retried).await.unwrap().unwrap();
    if alive {
        for run in [&running, &retried] {
            assert_eq!(run.status, RunStatus::Running, "run was touched: {run:?}");
        }
    } else {
        assert_eq!((running.status, running.error.as_deref()), (RunStatus::Interrupted, Some(reason)));
        // Attempts left: back in the queue for another worker, saying why.
        assert_eq!((retried.status, retried.owner.as_str(), retried.attempts), (RunStatus::Queued, "", 1));
        assert_eq!(
            retried.error.as_deref(),
            Some(format!("queued again after attempt 1: {reason}").as_str())
        );
    }
    let export = storage.export(work.export).await.unwrap().unwrap();
    assert_eq!(export.status, if alive { ExportStatus::Writing } else { ExportStatus::Failed }, "{export:?}");
    let crew_run = storage.crew_run(work.crew_run).await.unwrap().unwrap();
    assert_eq!(crew_run.status, if alive { CrewRunStatus::Running } else { CrewRunStatus::Cancelled });
}

const STALE: std::time::Duration = std::time::Duration::from_secs(30);

/// Two processes on one database: each recovers only the work of owners that are not alive.
async fn check_recovery_takes_only_dead_owners_work(server: Storage, url: String) {
    server.register_instance().await.unwrap();
    let cli = Storage::connect(&url, &common::config()).await.unwrap();
    assert_ne!(cli.owner(), server.owner());
    cli.register_instance().await.unwrap();
    let server_work = unfinished_work(&server, "server").await;
    let cli_work = unfinished_work(&cli, "cli").await;
    // Work of a process that never registered (or of a version before owners) is dead.
    let ghost = Storage::connect(&url, &common::config()).await.unwrap();
    let ghost_work = unfinished_work(&ghost, "ghost").await;

    // The CLI starting up takes the ghost's work and leaves the live server's alone.
    let recovered = cli.recover_dead_owners(STALE, "owner gone").await.unwrap();
    assert_eq!(recovered, Recovered { runs: 1, requeued: 1, exports: 1, crew_runs: 1 });
    assert_work(&server, &server_work, true, "").await;
    assert_work(&server, &cli_work, true, "").await;
    assert_work(&server, &ghost_work, false, "owner gone").await;
    assert!(cli.recover_dead_owners(STALE, "again").await.unwrap().is_empty());

    // The CLI stops in order: its leftovers are the server's to take at its next beat.
    assert!(cli.beat().await.unwrap());
    cli.stop_instance().await.unwrap();
    let recovered = server.recover_dead_owners(STALE, "owner stopped").await.unwrap();
    assert_eq!(recovered, Recovered { runs: 1, requeued: 1, exports: 1, crew_runs: 1 });
    assert_work(&server, &cli_work, false, "owner stopped").await;
    assert_work(&server, &server_work, true, "").await;
    // The stopped instance is forgotten; a process still alive notices and registers again.
    let instances: Vec<String> = server.instances().await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(instances, vec![server.owner().to_owned()]);
    assert!(!cli.beat().await.unwrap());
    cli.register_instance().await.unwrap();
    assert!(cli.beat().await.unwrap());
    cli.close().await;
    ghost.close().await;
}

/// An owner whose heartbeat is older than the stale limit is dead; beating keeps it alive.
async fn check_stale_heartbeats_make_an_owner_dead(server: Storage, url: String) {
    server.register_instance().await.unwrap();
    let other = Storage::connect(&url, &common::config()).await.unwrap();
    other.register_instance().await.unwrap();
    let work = unfinished_work(&other, "other").await;
    let registered = other.instances().await.unwrap().into_iter().find(|i| i.id == other.owner()).unwrap();
    // Heartbeats are stored in whole seconds: wait (polling) until one is two seconds old.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Utc::now().timestamp() < registered.heartbeat_at.timestamp() + 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(server.recover_dead_owners(STALE, "stale").await.unwrap().is_empty(), "30 s is not stale yet");
    let stale_after = std::time::Duration::from_secs(1);
    // A beat just now keeps it alive …
    assert!(other.beat().await.unwrap());
    assert!(server.recover_dead_owners(stale_after, "stale").await.unwrap().is_empty());
    assert_work(&server, &work, true, "").await;
    let beaten = server.run(work.running).await.unwrap().unwrap().heartbeat_at.unwrap();
    assert!(
        beaten.timestamp() >= registered.heartbeat_at.timestamp() + 2,
        "runs carry the owner's heartbeat"
    );
    // … and without one for longer than the limit, the owner is dead.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while Utc::now().timestamp() < beaten.timestamp() + 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    server.beat().await.unwrap();
    let recovered = server.recover_dead_owners(stale_after, "stale").await.unwrap();
    assert_eq!(recovered, Recovered { runs: 1, requeued: 1, exports: 1, crew_runs: 1 });
    assert_work(&server, &work, false, "stale").await;
    other.close().await;
}

// ---------------------------------------------------------------------------------------------
// Exports
// ---------------------------------------------------------------------------------------------

async fn check_export_lifecycle(storage: Storage) {
    let run = created(&storage, "download-tracker", RunTrigger::Api).await;
    let export = storage.create_export("csv", "bars", "export-1-abc.csv", Some(run.id)).await.unwrap();
    assert_eq!(export.status, ExportStatus::Writing);
    assert_eq!((export.format.as_str(), export.kind.as_str()), ("csv", "bars"));
    assert_eq!(export.file_name, "export-1-abc.csv");
    assert_eq!(export.run_id, Some(run.id));
    assert_eq!(
        (export.rows, export.bytes, export.sha256.clone(), export.error.clone()),
        (None, None, None, None)
    );
    assert_eq!(storage.export(export.id).await.unwrap(), Some(export.clone()));

    storage.complete_export(export.id, 1234, 56_789, "ab".repeat(32).as_str()).await.unwrap();
    let ready = storage.export(export.id).await.unwrap().unwrap();
    assert_eq!(ready.status, ExportStatus::Ready);
    assert_eq!((ready.rows, ready.bytes), (Some(1234), Some(56_789)));
    assert_eq!(ready.sha256, Some("ab".repeat(32)));

    let failed = storage.create_export("parquet", "bars", "export-2-def.parquet", None).await.unwrap();
    storage.fail_export(failed.id, "disk full").await.unwrap();
    let failed = storage.export(failed.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ExportStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("disk full"));
    assert_eq!(failed.run_id, None);

    let listed: Vec<i64> = storage.exports(10).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(listed, vec![failed.id, export.id], "latest first");
    assert_eq!(storage.exports(1).await.unwrap().len(), 1);

    assert_eq!(storage.delete_export(export.id).await.unwrap(), Some(ready));
    assert_eq!(storage.delete_export(export.id).await.unwrap(), None);
    assert_eq!(storage.export(export.id).await.unwrap(), None);
    assert_eq!(storage.exports(10).await.unwrap().len(), 1);

    for status in [ExportStatus::Writing, ExportStatus::Ready, ExportStatus::Failed] {
        assert_eq!(status.as_str().parse::<ExportStatus>(), Ok(status));
    }
}

async fn check_export_file_names_are_unique(storage: Storage) {
    storage.create_export("csv", "bars", "same.csv", None).await.unwrap();
    let err = storage.create_export("csv", "summary", "same.csv", None).await.unwrap_err();
    assert!(matches!(err, storage::StorageError::Query(_)), "{err}");
    assert_eq!(storage.exports(10).await.unwrap().len(), 1);
}

async fn check_expired_exports(storage: Storage) {
    let mut ids = Vec::new();
    for n in 0..5 {
        let export = storage.create_export("csv", "bars", &format!("e{n}.csv"), None).await.unwrap();
        if n == 1 {
            storage.fail_export(export.id, "boom").await.unwrap();
        } else {
            storage.complete_export(export.id, 1, 1, "00").await.unwrap();
        }
        ids.push(export.id);
    }
    let writing = storage.create_export("csv", "bars", "writing.csv", None).await.unwrap();

    let expired_ids = |exports: Vec<storage::ExportRecord>| exports.iter().map(|e| e.id).collect::<Vec<_>>();
    // Keep the newest 2 finished (writing ones neither count nor expire); failed ones count.
    assert_eq!(
        expired_ids(storage.expired_exports(Some(2), None).await.unwrap()),
        vec![ids[2], ids[1], ids[0]]
    );
    assert_eq!(expired_ids(storage.expired_exports(Some(10), None).await.unwrap()), Vec::<i64>::new());
    assert_eq!(expired_ids(storage.expired_exports(Some(0), None).await.unwrap()).len(), 5);
    assert_eq!(expired_ids(storage.expired_exports(None, None).await.unwrap()), Vec::<i64>::new());
    // By age: all were created just now.
    let past = Utc::now() - Duration::days(1);
    let future = Utc::now() + Duration::hours(1);
    assert!(storage.expired_exports(None, Some(past)).await.unwrap().is_empty());
    let by_age = expired_ids(storage.expired_exports(None, Some(future)).await.unwrap());
    assert_eq!(by_age.len(), 5);
    assert!(!by_age.contains(&writing.id));
    // Both limits: either one expires an export.
    assert_eq!(expired_ids(storage.expired_exports(Some(4), Some(past)).await.unwrap()), vec![ids[0]]);
    assert_eq!(expired_ids(storage.expired_exports(Some(4), Some(future)).await.unwrap()).len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

async fn check_tokens(storage: Storage) {
    let hash_a = "a".repeat(64);
    let hash_b = "b".repeat(64);
    let ci = storage.create_token("ci", &hash_a).await.unwrap();
    assert_eq!(ci.name, "ci");
    assert_eq!(ci.revoked_at, None);
    let ops = storage.create_token("ops", &hash_b).await.unwrap();
    assert!(ops.id > ci.id);

    // Names and hashes are unique.
    assert!(storage.create_token("ci", &"c".repeat(64)).await.is_err());
    assert!(storage.create_token("other", &hash_a).await.is_err());

    assert_eq!(storage.token_by_hash(&hash_a).await.unwrap(), Some(ci.clone()));
    assert_eq!(storage.token_by_hash(&"f".repeat(64)).await.unwrap(), None);

    assert!(storage.revoke_token("ci").await.unwrap());
    assert!(!storage.revoke_token("ci").await.unwrap(), "already revoked");
    assert!(!storage.revoke_token("nobody").await.unwrap());
    let revoked = storage.token_by_hash(&hash_a).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some_and(|r| r >= ci.created_at));

    let names: Vec<_> =
        storage.tokens().await.unwrap().into_iter().map(|t| (t.name, t.revoked_at.is_some())).collect();
    assert_eq!(names, vec![("ci".to_owned(), true), ("ops".to_owned(), false)]);
}

/// SQLite reuses the highest rowid after a delete unless the table is AUTOINCREMENT; a stale
/// export id must never name a newer file.
#[tokio::test]
async fn export_ids_are_never_reused_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ids.db").display());
    let storage = Storage::connect(&url, &config()).await.unwrap();
    storage.migrate().await.unwrap();
    let first = storage.create_export("csv", "bars", "a.csv", None).await.unwrap();
    storage.delete_export(first.id).await.unwrap().unwrap();
    let second = storage.create_export("csv", "bars", "b.csv", None).await.unwrap();
    assert!(second.id > first.id, "id {} was reused", second.id);
}

/// The `LISTEN` connection's error path: when the server kills it (a restart, a proxy's idle
/// reaper, an administrator), the listener listens again on a new connection, never holds more
/// than one however often that happens, and lets it go when its storage closes.
#[tokio::test]
async fn the_listener_outlives_killed_connections_and_closes_with_its_storage() {
    use sqlx::Connection as _;
    let Some(schema) = test_support::postgres::PgSchema::create("listen").await else { return };
    let admin_url = test_support::postgres_url().unwrap();
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    // Our sessions, told apart from other tests' by their application name.
    let application = format!("tw_listen_{}", std::process::id());
    let storage = Storage::connect(&format!("{}&application_name={application}", schema.url()), &config())
        .await
        .unwrap();
    storage.migrate().await.unwrap();
    storage.listen();
    let mut finished = storage.run_finished();

    let wait = std::time::Duration::from_secs(10);
    let mut killed = Vec::new();
    for round in 1..=20_i64 {
        // A notification sent by another session arrives (sent again until it does: the
        // listener may be between connections).
        let heard = test_support::wait_for(wait, || {
            let mut finished = finished.clone();
            let admin_url = admin_url.clone();
            async move {
                let mut sender = sqlx::PgConnection::connect(&admin_url).await.unwrap();
                sqlx::query("SELECT pg_notify('tickerwatch', $1)")
                    .bind(format!("finished {round}"))
                    .execute(&mut sender)
                    .await
                    .unwrap();
                sender.close().await.ok();
                tokio::time::timeout(std::time::Duration::from_millis(200), async {
                    while *finished.borrow_and_update() != round {
                        finished.changed().await.unwrap();
                    }
                })
                .await
                .ok()
            }
        })
        .await;
        assert!(heard.is_some(), "round {round}: the listener heard nothing after {} kills", killed.len());
        finished.borrow_and_update();

        let now = sessions(&mut admin, &application).await;
        let listening: Vec<i32> =
            now.iter().filter(|(_, query)| query.starts_with("LISTEN")).map(|(pid, _)| *pid).collect();
        assert_eq!(listening.len(), 1, "round {round}: one listening session: {now:?}");
        assert!(!killed.contains(&listening[0]), "round {round}: a killed session listens? {now:?}");
        assert!(now.len() <= 4, "round {round}: within the pool's 4 connections: {now:?}");
        let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(listening[0])
            .fetch_one(&mut admin)
            .await
            .unwrap();
        assert!(terminated, "round {round}");
        killed.push(listening[0]);
    }

    storage.close().await;
    let left = test_support::wait_for(wait, || {
        let admin_url = admin_url.clone();
        let application = application.clone();
        async move {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                    .bind(application)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            admin.close().await.ok();
            (count == 0).then_some(())
        }
    })
    .await;
    assert!(left.is_some(), "sessions left after close: {:?}", sessions(&mut admin, &application).await);
    admin.close().await.ok();
    schema.drop_schema().await;
}

/// `(pid, last query)` of the sessions named `application`.
async fn sessions(admin: &mut sqlx::PgConnection, application: &str) -> Vec<(i32, String)> {
    sqlx::query_as("SELECT pid, query FROM pg_stat_activity WHERE application_name = $1")
        .bind(application)
        .fetch_all(admin)
        .await
        .unwrap()
}

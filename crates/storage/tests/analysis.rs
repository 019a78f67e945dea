//! Run subjects, crew runs, research notes and agent memory (migration 0004), against SQLite
//! always and PostgreSQL when `TEST_DATABASE_URL` is set, e.g.
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p storage --test analysis`.

use std::borrow::Cow;
use std::time::Duration;

use chrono::Utc;
use domain::{Rating, ResearchNote, RunTrigger, Symbol};
use serde_json::json;
use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use storage::{
    Backend, CrewRunFinish, CrewRunStatus, NewCrewRun, NewRun, RunRecord, RunStatus, Storage, StorageError,
};

#[macro_use]
mod common;

backend_tests!(
    check_runs_have_subjects,
    check_note_round_trip,
    check_notes_newest_first,
    check_latest_note_per_symbol,
    check_confidence_is_validated,
    check_note_retention,
    check_crew_run_lifecycle,
    check_crew_run_retention_keeps_notes,
    check_memory_entry_cap,
    check_memory_byte_cap,
    check_memory_ttl,
);

unmigrated_backend_tests!(check_migration_0004_on_a_0003_database);

const HOUR: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn sym(symbol: &str) -> Symbol {
    Symbol::parse(symbol).unwrap()
}

fn note(symbol: &str, rating: Rating, confidence: f64) -> ResearchNote {
    let mut key_figures = serde_json::Map::new();
    key_figures.insert("pe".to_owned(), json!(28.5));
    key_figures.insert("revenue_growth".to_owned(), json!({"yoy": 0.08, "source": "sample"}));
    key_figures.insert("missing".to_owned(), serde_json::Value::Null);
    ResearchNote {
        crew_run_id: None,
        symbol: sym(symbol),
        rating,
        confidence,
        horizon: "6-12 months".to_owned(),
        thesis: format!("{symbol} compounds earnings; ünïcödé survives"),
        risks: vec!["valuation".to_owned(), "regulation \"quoted\"".to_owned()],
        key_figures,
        sources: vec!["sample:bars".to_owned(), "https://example.com/10-k".to_owned()],
        markdown: format!("# {symbol}\n\n**Hold** — it's fine.\n"),
        model: "llama3.1:8b".to_owned(),
        crew: "research".to_owned(),
    }
}

async fn created_run(storage: &Storage, job: &str, subject: &str) -> RunRecord {
    match storage.create_run_for(job, Some(&sym(subject)), RunTrigger::Api).await.expect("create run") {
        NewRun::Created(run) => run,
        other => panic!("expected a new run, got {other:?}"),
    }
}

fn crew(job_run_id: Option<i64>, subject: &str) -> NewCrewRun {
    NewCrewRun {
        job_run_id,
        crew: "research".to_owned(),
        subject: subject.to_owned(),
        model: "llama3.1:8b".to_owned(),
    }
}

fn finish(status: CrewRunStatus, trace: &str) -> CrewRunFinish {
    CrewRunFinish {
        status,
        llm_calls: 7,
        tool_calls: 12,
        prompt_tokens: 9_000,
        completion_tokens: 1_234,
        error: (status != CrewRunStatus::Completed).then(|| "budget of 7 LLM calls reached".to_owned()),
        trace: trace.to_owned(),
    }
}

async fn recalled(storage: &Storage, scope: &str) -> Vec<String> {
    storage.recall(scope, 100).await.unwrap().into_iter().map(|m| m.content).collect()
}

// ---------------------------------------------------------------------------------------------
// Run subjects
// ---------------------------------------------------------------------------------------------

async fn check_runs_have_subjects(storage: Storage) {
    let aapl = created_run(&storage, "analysis", "AAPL").await;
    assert_eq!((aapl.job.as_str(), aapl.subject.clone()), ("analysis", Some(sym("AAPL"))));
    let msft = created_run(&storage, "analysis", "MSFT").await;
    // The same subject twice is refused and names the active run.
    match storage.create_run_for("analysis", Some(&sym("AAPL")), RunTrigger::Schedule).await.unwrap() {
        NewRun::AlreadyActive(active) => {
            assert_eq!((active.id, active.subject), (aapl.id, Some(sym("AAPL"))))
        }
        other => panic!("expected AlreadyActive, got {other:?}"),
    }
    // No subject is a subject of its own; `create_run` has none.
    let whole = match storage.create_run("analysis", RunTrigger::Api).await.unwrap() {
        NewRun::Created(run) => run,
        other => panic!("expected a new run, got {other:?}"),
    };
    assert_eq!(whole.subject, None);
    assert_eq!(storage.active_run("analysis").await.unwrap().map(|r| r.id), Some(whole.id));
    assert_eq!(
        storage.active_run_for("analysis", Some(&sym("MSFT"))).await.unwrap().map(|r| r.id),
        Some(msft.id)
    );
    assert_eq!(storage.active_run_for("analysis", Some(&sym("NVDA"))).await.unwrap(), None);
    let active: Vec<i64> = storage.active_runs("analysis").await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(active, vec![aapl.id, msft.id, whole.id]);

    // Once finished, the subject is free again; the record keeps its subject.
    assert!(storage.finish_run(aapl.id, RunStatus::Succeeded, None).await.unwrap());
    let again = created_run(&storage, "analysis", "AAPL").await;
    assert!(again.id > aapl.id);
    assert_eq!(storage.run(aapl.id).await.unwrap().unwrap().subject, Some(sym("AAPL")));
    let listed: Vec<Option<Symbol>> =
        storage.runs(Some("analysis"), 10).await.unwrap().into_iter().map(|r| r.subject).collect();
    assert_eq!(listed, [Some(sym("AAPL")), None, Some(sym("MSFT")), Some(sym("AAPL"))]);
}

// ---------------------------------------------------------------------------------------------
// Research notes
// ---------------------------------------------------------------------------------------------

async fn check_note_round_trip(storage: Storage) {
    let before = Utc::now() - chrono::Duration::seconds(1);
    let crew_run_id = storage.begin_crew_run(&crew(None, "AAPL")).await.unwrap();
    let mut new = note("AAPL", Rating::Buy, 0.72);
    new.crew_run_id = Some(crew_run_id);
    let inserted = storage.insert_research_note(&new).await.unwrap();
    let id = inserted.id;

    let notes = storage.research_notes(Some(&sym("AAPL")), 10).await.unwrap();
    assert_eq!(notes.len(), 1);
    let stored = &notes[0];
    assert_eq!(stored.id, id);
    assert_eq!(&inserted, stored, "insert returns the note as stored");
    assert_eq!(stored.crew_run_id, Some(crew_run_id));
    assert_eq!(stored.symbol, new.symbol);
    assert_eq!(stored.rating, Rating::Buy);
    assert!((stored.confidence - 0.72).abs() < f64::EPSILON);
    assert_eq!(
        (&stored.horizon, &stored.thesis, &stored.markdown),
        (&new.horizon, &new.thesis, &new.markdown)
    );
    assert_eq!(stored.risks, new.risks);
    assert_eq!(stored.key_figures, new.key_figures);
    assert_eq!(stored.sources, new.sources);
    assert_eq!((stored.model.as_str(), stored.crew.as_str()), ("llama3.1:8b", "research"));
    assert!(stored.created_at >= before && stored.created_at <= Utc::now());

    // Empty collections round-trip too, and the record serializes for the API.
    let mut bare = note("MSFT", Rating::Sell, 0.0);
    bare.risks.clear();
    bare.sources.clear();
    bare.key_figures.clear();
    storage.insert_research_note(&bare).await.unwrap();
    let stored = storage.research_notes(Some(&sym("MSFT")), 1).await.unwrap().remove(0);
    assert!(stored.risks.is_empty() && stored.sources.is_empty() && stored.key_figures.is_empty());
    let value = serde_json::to_value(&stored).unwrap();
    assert_eq!(value["rating"], "sell");
    assert_eq!(value["symbol"], "MSFT");
    assert_eq!(value["key_figures"], json!({}));
}

async fn check_notes_newest_first(storage: Storage) {
    let mut ids = Vec::new();
    for (symbol, rating) in [("AAPL", Rating::Hold), ("MSFT", Rating::Buy), ("AAPL", Rating::Sell)] {
        ids.push(storage.insert_research_note(&note(symbol, rating, 0.5)).await.unwrap().id);
    }
    let all: Vec<i64> = storage.research_notes(None, 10).await.unwrap().iter().map(|n| n.id).collect();
    assert_eq!(all, vec![ids[2], ids[1], ids[0]]);
    let aapl = storage.research_notes(Some(&sym("AAPL")), 10).await.unwrap();
    assert_eq!(aapl.iter().map(|n| n.id).collect::<Vec<_>>(), vec![ids[2], ids[0]]);
    assert_eq!(aapl[0].rating, Rating::Sell);
    assert_eq!(storage.research_notes(None, 1).await.unwrap().len(), 1);
    assert!(storage.research_notes(Some(&sym("NVDA")), 10).await.unwrap().is_empty());
}

async fn check_latest_note_per_symbol(storage: Storage) {
    assert!(storage.latest_research_notes(&[]).await.unwrap().is_empty());
    storage.insert_research_note(&note("AAPL", Rating::Hold, 0.4)).await.unwrap();
    let msft = storage.insert_research_note(&note("MSFT", Rating::Buy, 0.6)).await.unwrap().id;
    let aapl = storage.insert_research_note(&note("AAPL", Rating::Buy, 0.9)).await.unwrap().id;
    storage.insert_research_note(&note("TSLA", Rating::Sell, 0.3)).await.unwrap();

    let wanted: Vec<Symbol> = ["MSFT", "NVDA", "AAPL", "MSFT"].map(sym).to_vec();
    let latest = storage.latest_research_notes(&wanted).await.unwrap();
    let got: Vec<(&str, i64)> = latest.iter().map(|n| (n.symbol.as_str(), n.id)).collect();
    assert_eq!(got, vec![("MSFT", msft), ("AAPL", aapl)], "input order, each symbol once, no TSLA");
    assert_eq!(latest[1].rating, Rating::Buy);

    // More symbols than one statement binds.
    let many: Vec<Symbol> = (0..1200).map(|i| sym(&format!("SYM{i}"))).chain([sym("AAPL")]).collect();
    let latest = storage.latest_research_notes(&many).await.unwrap();
    assert_eq!(latest.iter().map(|n| n.id).collect::<Vec<_>>(), vec![aapl]);
}

async fn check_confidence_is_validated(storage: Storage) {
    for bad in [1.000_001, -0.1, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let err = storage.insert_research_note(&note("AAPL", Rating::Hold, bad)).await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StorageError::Invalid { .. }), "{message}");
        assert!(message.contains("confidence") && message.contains("between 0 and 1"), "{message}");
    }
    assert!(storage.research_notes(None, 10).await.unwrap().is_empty(), "nothing was stored");
    for good in [0.0, 1.0] {
        storage.insert_research_note(&note("AAPL", Rating::Hold, good)).await.unwrap();
    }
    // A crew run that does not exist is refused by the database.
    let mut orphan = note("AAPL", Rating::Hold, 0.5);
    orphan.crew_run_id = Some(4242);
    let err = storage.insert_research_note(&orphan).await.unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err}");
}

async fn check_note_retention(storage: Storage) {
    storage.insert_research_note(&note("AAPL", Rating::Hold, 0.5)).await.unwrap();
    storage.insert_research_note(&note("MSFT", Rating::Hold, 0.5)).await.unwrap();
    let past = Utc::now() - chrono::Duration::minutes(1);
    assert_eq!(storage.delete_research_notes_before(past).await.unwrap(), 0);
    assert_eq!(storage.research_notes(None, 10).await.unwrap().len(), 2);
    let future = Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(storage.delete_research_notes_before(future).await.unwrap(), 2);
    assert!(storage.research_notes(None, 10).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Crew runs
// ---------------------------------------------------------------------------------------------

async fn check_crew_run_lifecycle(storage: Storage) {
    let before = Utc::now() - chrono::Duration::seconds(1);
    let job_run = created_run(&storage, "analysis", "AAPL").await;
    let id = storage.begin_crew_run(&crew(Some(job_run.id), "AAPL")).await.unwrap();
    let running = storage.crew_run(id).await.unwrap().expect("stored");
    assert_eq!(running.id, id);
    assert_eq!(running.job_run_id, Some(job_run.id));
    assert_eq!((running.crew.as_str(), running.subject.as_str()), ("research", "AAPL"));
    assert_eq!(running.model, "llama3.1:8b");
    assert_eq!(running.status, CrewRunStatus::Running);
    assert!(running.started_at >= before && running.started_at <= Utc::now());
    assert_eq!((running.finished_at, running.error.clone()), (None, None));
    assert_eq!(
        (running.llm_calls, running.tool_calls, running.prompt_tokens, running.completion_tokens),
        (0, 0, 0, 0)
    );
    assert_eq!(running.trace, "[]");

    // Refused before writing: a "finished" status of running, or a trace that is no JSON array.
    let err = storage.finish_crew_run(id, &finish(CrewRunStatus::Running, "[]")).await.unwrap_err();
    assert!(matches!(err, StorageError::Invalid { .. }), "{err}");
    let err = storage.finish_crew_run(id, &finish(CrewRunStatus::Failed, "{\"a\":1}")).await.unwrap_err();
    assert!(err.to_string().contains("JSON array"), "{err}");
    assert_eq!(storage.crew_run(id).await.unwrap().unwrap().status, CrewRunStatus::Running);

    let trace = r#"[{"step":1,"kind":"llm","tokens":120},{"step":2,"kind":"tool","name":"bars"}]"#;
    assert!(storage.finish_crew_run(id, &finish(CrewRunStatus::LimitReached, trace)).await.unwrap());
    let done = storage.crew_run(id).await.unwrap().unwrap();
    assert_eq!(done.status, CrewRunStatus::LimitReached);
    assert!(done.finished_at.is_some_and(|at| at >= done.started_at));
    assert_eq!(
        (done.llm_calls, done.tool_calls, done.prompt_tokens, done.completion_tokens),
        (7, 12, 9_000, 1_234)
    );
    assert_eq!(done.error.as_deref(), Some("budget of 7 LLM calls reached"));
    assert_eq!(done.trace, trace);
    assert_eq!(serde_json::to_value(&done).unwrap()["status"], "limit_reached");
    // Finishing twice changes nothing.
    assert!(!storage.finish_crew_run(id, &finish(CrewRunStatus::Completed, "[]")).await.unwrap());
    assert!(!storage.finish_crew_run(4242, &finish(CrewRunStatus::Completed, "[]")).await.unwrap());
    assert_eq!(storage.crew_run(id).await.unwrap().unwrap().status, CrewRunStatus::LimitReached);
    assert_eq!(storage.crew_run(4242).await.unwrap(), None);

    // Listing: newest first, per subject.
    let msft = storage.begin_crew_run(&crew(None, "MSFT")).await.unwrap();
    let aapl2 = storage.begin_crew_run(&crew(None, "AAPL")).await.unwrap();
    let ids = |runs: Vec<storage::CrewRunRecord>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(storage.crew_runs(None, 10).await.unwrap()), vec![aapl2, msft, id]);
    assert_eq!(ids(storage.crew_runs(Some("AAPL"), 10).await.unwrap()), vec![aapl2, id]);
    assert_eq!(ids(storage.crew_runs(None, 1).await.unwrap()), vec![aapl2]);

    // Recovery never takes this process's own running crews (see runs_exports_tokens.rs for
    // another process's).
    assert_eq!(storage.recover_dead_owners(std::time::Duration::ZERO, "gone").await.unwrap().crew_runs, 0);
    assert_eq!(storage.crew_run(msft).await.unwrap().unwrap().status, CrewRunStatus::Running);

    // A job run that does not exist is refused by the database.
    let err = storage.begin_crew_run(&crew(Some(4242), "AAPL")).await.unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err}");
}

async fn check_crew_run_retention_keeps_notes(storage: Storage) {
    let finished = storage.begin_crew_run(&crew(None, "AAPL")).await.unwrap();
    storage.finish_crew_run(finished, &finish(CrewRunStatus::Completed, "[]")).await.unwrap();
    let running = storage.begin_crew_run(&crew(None, "MSFT")).await.unwrap();
    let mut new = note("AAPL", Rating::Buy, 0.8);
    new.crew_run_id = Some(finished);
    let note_id = storage.insert_research_note(&new).await.unwrap().id;

    let future = Utc::now() + chrono::Duration::minutes(1);
    assert_eq!(storage.delete_crew_runs_before(future).await.unwrap(), 1, "running crews are kept");
    assert_eq!(storage.crew_run(finished).await.unwrap(), None);
    assert!(storage.crew_run(running).await.unwrap().is_some());
    let kept = storage.research_notes(Some(&sym("AAPL")), 10).await.unwrap();
    assert_eq!((kept[0].id, kept[0].crew_run_id), (note_id, None), "the note outlives its crew run");
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

async fn check_memory_entry_cap(storage: Storage) {
    for i in 1..=5 {
        storage.remember("research:AAPL", &format!("fact {i}"), HOUR, 3, 10_000).await.unwrap();
    }
    storage.remember("research:MSFT", "other scope", HOUR, 3, 10_000).await.unwrap();
    assert_eq!(recalled(&storage, "research:AAPL").await, ["fact 5", "fact 4", "fact 3"]);
    assert_eq!(recalled(&storage, "research:MSFT").await, ["other scope"], "caps are per scope");

    let records = storage.recall("research:AAPL", 2).await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records[0].id > records[1].id);
    assert!(records[0].expires_at > records[0].created_at);

    // A lower cap on the next write trims the scope down to it.
    storage.remember("research:AAPL", "fact 6", HOUR, 1, 10_000).await.unwrap();
    assert_eq!(recalled(&storage, "research:AAPL").await, ["fact 6"]);
    let err = storage.remember("research:AAPL", "x", HOUR, 0, 10_000).await.unwrap_err();
    assert!(matches!(err, StorageError::Invalid { .. }), "{err}");
}

async fn check_memory_byte_cap(storage: Storage) {
    // Ten bytes each; 25 bytes hold the newest two.
    for c in ['a', 'b', 'c', 'd'] {
        storage.remember("s", &c.to_string().repeat(10), HOUR, 100, 25).await.unwrap();
    }
    assert_eq!(recalled(&storage, "s").await, ["d".repeat(10), "c".repeat(10)]);
    // Bytes, not characters: "é" is two bytes, so 12 of them (24 bytes) leave no room for more.
    storage.remember("s", &"é".repeat(12), HOUR, 100, 25).await.unwrap();
    assert_eq!(recalled(&storage, "s").await, ["é".repeat(12)]);
    // An exact fit keeps everything.
    storage.remember("t", "12345", HOUR, 100, 10).await.unwrap();
    storage.remember("t", "67890", HOUR, 100, 10).await.unwrap();
    assert_eq!(recalled(&storage, "t").await, ["67890", "12345"]);

    let err = storage.remember("s", &"x".repeat(26), HOUR, 100, 25).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StorageError::Invalid { .. }) && message.contains("26 bytes"), "{message}");
    assert_eq!(recalled(&storage, "s").await, ["é".repeat(12)], "nothing changed");
}

async fn check_memory_ttl(storage: Storage) {
    storage.remember("s", "gone at once", Duration::ZERO, 10, 1000).await.unwrap();
    assert!(recalled(&storage, "s").await.is_empty(), "an expired entry is never recalled");
    assert_eq!(storage.forget_expired().await.unwrap(), 1);
    assert_eq!(storage.forget_expired().await.unwrap(), 0);

    storage.remember("s", "expired", Duration::ZERO, 10, 1000).await.unwrap();
    storage.remember("s", "kept", HOUR, 10, 1000).await.unwrap();
    storage.remember("other", "kept too", Duration::from_millis(1500), 10, 1000).await.unwrap();
    assert_eq!(recalled(&storage, "s").await, ["kept"]);
    assert_eq!(storage.forget_expired().await.unwrap(), 0, "the writes already purged the expired entry");
    assert_eq!(recalled(&storage, "other").await, ["kept too"]);
}

// ---------------------------------------------------------------------------------------------
// Migration
// ---------------------------------------------------------------------------------------------

macro_rules! first_three {
    ($dir:literal) => {
        [
            (1, "initial", include_str!(concat!("../migrations/", $dir, "/0001_initial.sql"))),
            (
                2,
                "jobs exports tokens",
                include_str!(concat!("../migrations/", $dir, "/0002_jobs_exports_tokens.sql")),
            ),
            (3, "social", include_str!(concat!("../migrations/", $dir, "/0003_social.sql"))),
        ]
    };
}

/// A database as released with migration 0003 (same versions, descriptions and checksums),
/// holding an active run, is brought to 0004 by `Storage::migrate`.
async fn check_migration_0004_on_a_0003_database(storage: Storage, url: String) {
    let files = match storage.backend() {
        Backend::Sqlite => first_three!("sqlite"),
        Backend::Postgres => first_three!("postgres"),
    };
    let migrator = Migrator::with_migrations(
        files
            .into_iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    SqlStr::from_static(sql),
                    false,
                )
            })
            .collect(),
    );
    const INSERT: &str = "INSERT INTO job_runs (job, status, trigger, queued_at) VALUES ('download-tracker', 'running', 'api', 1700000000)";
    match storage.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            sqlx::query(INSERT).execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            sqlx::query(INSERT).execute(&pool).await.unwrap();
            pool.close().await;
        }
    }

    storage.migrate().await.expect("0004 applies on a 0003 database");
    storage.migrate().await.expect("and is idempotent");
    let old = storage.active_run("download-tracker").await.unwrap().expect("the old run is still active");
    assert_eq!((old.subject.clone(), old.status), (None, RunStatus::Running));
    match storage.create_run("download-tracker", RunTrigger::Api).await.unwrap() {
        NewRun::AlreadyActive(active) => assert_eq!(active.id, old.id, "single-flight still holds"),
        other => panic!("expected AlreadyActive, got {other:?}"),
    }
    assert_eq!(created_run(&storage, "download-tracker", "AAPL").await.subject, Some(sym("AAPL")));
    let crew_run = storage.begin_crew_run(&crew(Some(old.id), "AAPL")).await.unwrap();
    let mut new = note("AAPL", Rating::Hold, 0.5);
    new.crew_run_id = Some(crew_run);
    storage.insert_research_note(&new).await.unwrap();
    storage.remember("s", "works", HOUR, 10, 100).await.unwrap();
    assert_eq!(recalled(&storage, "s").await, ["works"]);
}

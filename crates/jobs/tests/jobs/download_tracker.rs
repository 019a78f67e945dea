//! The download-tracker job through the engine, with the offline sample provider and a
//! wiremock Yahoo.

use std::sync::Arc;

use domain::{Interval, ProviderId, RunTrigger};
use export::ExportFormat;
use jobs::{
    DownloadTracker, DownloadTrackerConfig, ExportService, ExportsConfig, JobEngine, RetentionConfig,
};
use providers::{ProviderChain, ProvidersConfig, VendorConfig};
use storage::{ExportStatus, ProviderRequests, RunRecord, RunStatus};
use test_support::{yahoo_chart_json, yahoo_chart_path};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{SECS_5, SECS_30, TestEnv, bars_export, files_in, sha256_hex, sym};

fn tracker_config(format: ExportFormat) -> DownloadTrackerConfig {
    DownloadTrackerConfig { export_format: format, concurrency: 2, ..DownloadTrackerConfig::default() }
}

fn sample_chain() -> ProviderChain {
    ProviderChain::from_config(&ProvidersConfig::default(), None).expect("sample chain")
}

/// A Yahoo-only chain against `server`: no client-side rate limit, fast retries.
fn yahoo_chain(server: &MockServer) -> ProviderChain {
    let mut yahoo = VendorConfig::yahoo();
    yahoo.base_url = server.uri();
    yahoo.max_retries = 1;
    yahoo.backoff_base_ms = 1;
    yahoo.backoff_max_ms = 5;
    yahoo.rate_limits = Vec::new();
    yahoo.timeout_secs = 5.0;
    let config = ProvidersConfig { order: vec![ProviderId::Yahoo], yahoo, ..ProvidersConfig::default() };
    ProviderChain::from_config(&config, None).expect("yahoo chain")
}

async fn engine_with(
    env: &TestEnv,
    chain: ProviderChain,
    exports: ExportService,
    config: DownloadTrackerConfig,
) -> JobEngine {
    let tracker = DownloadTracker::new(chain, exports, config).expect("valid config");
    JobEngine::start(env.storage.clone(), vec![tracker.into_job()], Vec::new()).await.expect("start engine")
}

async fn run_once(engine: &JobEngine) -> RunRecord {
    let triggered = engine.trigger(DownloadTracker::NAME, RunTrigger::Api).await.expect("trigger");
    assert_eq!(triggered.run.status, RunStatus::Queued);
    let run = engine.wait_for(triggered.run.id, SECS_30).await.expect("wait");
    assert!(!run.status.is_active(), "run did not finish: {run:?}");
    run
}

#[tokio::test]
async fn a_run_refreshes_every_symbol_and_writes_a_verifiable_export() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    let exports = env.export_service();
    let engine = engine_with(&env, sample_chain(), exports.clone(), tracker_config(ExportFormat::Csv)).await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.error, None);
    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!(items.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>(), ["AAPL", "MSFT"]);
    for item in &items {
        assert!(item.succeeded && item.bars > 200, "{item:?}");
        assert_eq!(item.provider.as_deref(), Some("sample"));
        assert_eq!(item.error, None);
    }
    assert!(env.storage.latest_quote(&sym("AAPL")).await.unwrap().is_some(), "quote stored");

    // The export: ready, on disk, with the recorded checksum and size.
    let export_id = bars_export(&env.storage, run.id).await.expect("export id");
    let (record, path) = exports.ready_file(export_id).await.unwrap();
    assert_eq!((record.format.as_str(), record.kind.as_str(), record.run_id), ("csv", "bars", Some(run.id)));
    assert_eq!(Some(sha256_hex(&path)), record.sha256);
    assert_eq!(Some(std::fs::metadata(&path).unwrap().len()), record.bytes);
    let stored: u64 = items.iter().map(|i| i.bars).sum();
    assert_eq!(record.rows, Some(stored), "a year of bars of each symbol, the whole first fetch");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() as u64 > stored, "header plus rows");

    // The summary export of the same run.
    let all = env.storage.exports(10).await.unwrap();
    let summary = all.iter().find(|e| e.kind == "summary").expect("summary export");
    assert_eq!((summary.status, summary.run_id, summary.rows), (ExportStatus::Ready, Some(run.id), Some(2)));
    assert_eq!(files_in(&env.exports_dir()).len(), 2);

    // The second run fetches only from the newest stored bar on.
    let second = run_once(&engine).await;
    assert_eq!(second.status, RunStatus::Succeeded);
    for item in env.storage.run_items(second.id).await.unwrap() {
        assert_eq!(item.bars, 1, "only the last bar is fetched again: {item:?}");
    }
    assert_eq!(env.storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap(), items[0].bars);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn an_unknown_symbol_makes_the_run_partial() {
    let env = TestEnv::new().await;
    // Several symbols in flight at once: also the regression test for a stall where a write
    // awaited outside the `buffer_unordered` stream waited on another symbol's suspended
    // SQLite transaction until the 30 s busy timeout.
    env.watch(&["AAPL", "MSFT", "IBM", "GOOG", "NVDA"]).await;
    let config = DownloadTrackerConfig { concurrency: 4, ..tracker_config(ExportFormat::Csv) };
    let engine = engine_with(&env, sample_chain(), env.export_service(), config).await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    assert!(run.error.as_deref().is_some_and(|e| e.contains("NVDA")), "{run:?}");
    let items = env.storage.run_items(run.id).await.unwrap();
    let nvda = items.iter().find(|i| i.symbol == "NVDA").unwrap();
    assert!(!nvda.succeeded);
    assert_eq!(nvda.bars, 0);
    assert!(nvda.error.as_deref().is_some_and(|e| e.contains("NVDA") && e.contains("sample")), "{nvda:?}");
    assert_eq!(items.iter().filter(|i| i.succeeded).count(), 4);
    assert!(bars_export(&env.storage, run.id).await.is_some(), "the symbols that worked are exported");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn every_provider_failing_fails_the_run_and_keeps_stored_data() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    // Data from an earlier run, which the failing run must leave alone.
    let seed =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Csv)).await;
    assert_eq!(run_once(&seed).await.status, RunStatus::Succeeded);
    seed.shutdown(SECS_5).await;
    let before = env.storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap();
    let exports_before = env.storage.exports(100).await.unwrap().len();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .mount(&server)
        .await;
    let engine =
        engine_with(&env, yahoo_chain(&server), env.export_service(), tracker_config(ExportFormat::Csv))
            .await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(
        error.contains("2 of 2 items failed") && error.contains("AAPL") && error.contains("MSFT"),
        "{error}"
    );
    assert!(error.contains("500"), "the vendor's answer is in the reason: {error}");
    assert_eq!(bars_export(&env.storage, run.id).await, None);
    assert_eq!(
        env.storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap(),
        before,
        "stored data intact"
    );
    assert_eq!(env.storage.exports(100).await.unwrap().len(), exports_before, "no export of a failed run");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_yahoo_run_stores_bars_and_quotes() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let server = MockServer::start().await;
    let start_ts = chrono::Utc::now().timestamp() - 30 * 86_400;
    Mock::given(method("GET"))
        .and(path(yahoo_chart_path("AAPL")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(yahoo_chart_json("AAPL", 20, start_ts), "application/json"),
        )
        .mount(&server)
        .await;
    let engine =
        engine_with(&env, yahoo_chain(&server), env.export_service(), tracker_config(ExportFormat::Parquet))
            .await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!((items[0].bars, items[0].provider.as_deref()), (20, Some("yahoo")));
    assert_eq!(
        env.storage.latest_quote(&sym("AAPL")).await.unwrap().map(|q| q.provider),
        Some(ProviderId::Yahoo)
    );
    let export = env.storage.export(bars_export(&env.storage, run.id).await.unwrap()).await.unwrap().unwrap();
    assert_eq!((export.format.as_str(), export.rows), ("parquet", Some(20)));
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_run_whose_every_quote_failed_is_partial_with_the_reasons() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    let server = MockServer::start().await;
    // Quotes are the chart with `range=1d`; Yahoo refuses them with 500s. Bars come through.
    Mock::given(method("GET"))
        .and(wiremock::matchers::query_param("range", "1d"))
        .respond_with(ResponseTemplate::new(500).set_body_string("quote service down"))
        .mount(&server)
        .await;
    let start_ts = chrono::Utc::now().timestamp() - 30 * 86_400;
    for symbol in ["AAPL", "MSFT"] {
        Mock::given(method("GET"))
            .and(path(yahoo_chart_path(symbol)))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(yahoo_chart_json(symbol, 20, start_ts), "application/json"),
            )
            .mount(&server)
            .await;
    }
    let engine =
        engine_with(&env, yahoo_chain(&server), env.export_service(), tracker_config(ExportFormat::Csv))
            .await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(error.starts_with("every quote failed"), "{error}");
    assert!(error.contains("AAPL: quote:") && error.contains("MSFT: quote:"), "{error}");
    // The bars and the export are there all the same.
    assert!(bars_export(&env.storage, run.id).await.is_some());
    let items = env.storage.run_items(run.id).await.unwrap();
    assert!(items.iter().all(|item| item.succeeded && item.bars == 20), "{items:?}");
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn an_unwritable_export_directory_fails_the_run_clearly() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let file = env.dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let exports = ExportService::new(
        env.storage.clone(),
        ExportsConfig { dir: file.join("exports"), ..ExportsConfig::default() },
    );
    let engine = engine_with(&env, sample_chain(), exports, tracker_config(ExportFormat::Csv)).await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let error = run.error.unwrap_or_default();
    assert!(error.contains("export failed") && error.contains("plain-file/exports"), "{error}");
    // The refresh itself worked and is kept.
    assert!(env.storage.run_items(run.id).await.unwrap()[0].succeeded);
    assert!(env.storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap() > 0);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn an_empty_watchlist_succeeds_with_an_empty_export() {
    let env = TestEnv::new().await;
    let engine =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Ndjson)).await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(env.storage.run_items(run.id).await.unwrap().is_empty());
    let export =
        env.storage.export(bars_export(&env.storage, run.id).await.expect("export")).await.unwrap().unwrap();
    assert_eq!((export.status, export.rows), (ExportStatus::Ready, Some(0)));
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn retention_after_each_run_keeps_the_last_n() {
    let env = TestEnv::new().await;
    env.watch(&["IBM"]).await;
    let config = ExportsConfig {
        dir: env.exports_dir(),
        retention: RetentionConfig { keep_last: Some(2), max_age_days: Some(30) },
        ..ExportsConfig::default()
    };
    let exports = ExportService::new(env.storage.clone(), config);
    let engine = engine_with(&env, sample_chain(), exports.clone(), tracker_config(ExportFormat::Csv)).await;

    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(run_once(&engine).await);
    }
    let last = runs.last().unwrap();
    // Three runs wrote six exports (bars + summary each); `keep_last` counts runs, so the two
    // newest runs' four files remain, each run whole.
    let left = env.storage.exports(100).await.unwrap();
    assert_eq!(left.len(), 4, "{left:?}");
    let kept_runs: std::collections::BTreeSet<Option<i64>> = left.iter().map(|e| e.run_id).collect();
    assert_eq!(kept_runs, [Some(runs[1].id), Some(runs[2].id)].into_iter().collect());
    let last_export = bars_export(&env.storage, last.id).await;
    assert!(left.iter().any(|e| Some(e.id) == last_export));
    let mut names: Vec<String> = left.iter().map(|e| e.file_name.clone()).collect();
    names.sort();
    assert_eq!(files_in(&env.exports_dir()), names);
    assert!(exports.ready_file(bars_export(&env.storage, last.id).await.unwrap()).await.is_ok());
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn bad_settings_are_refused_when_building_the_job() {
    let env = TestEnv::new().await;
    let config =
        DownloadTrackerConfig { initial_range: "forever".to_owned(), ..DownloadTrackerConfig::default() };
    let err = DownloadTracker::new(sample_chain(), env.export_service(), config).err().expect("bad range");
    assert!(err.to_string().contains("jobs.download_tracker.initial_range"), "{err}");
    let config = DownloadTrackerConfig { concurrency: 0, ..DownloadTrackerConfig::default() };
    assert!(DownloadTracker::new(sample_chain(), env.export_service(), config).is_err());
    // What the engine takes.
    let job =
        DownloadTracker::new(sample_chain(), env.export_service(), DownloadTrackerConfig::default()).unwrap();
    let job: Arc<dyn jobs::Job> = job.into_job();
    assert_eq!(job.name(), "download-tracker");
}

#[tokio::test]
async fn mentions_of_watched_symbols_are_exported_as_a_table() {
    use jobs::{RedditScan, SocialConfig};
    use social::extract::SymbolUniverse;
    use social::{SampleSource, SocialSource};

    let env = TestEnv::new().await;
    // Social data first: the offline sample mentions AAPL and MSFT among others.
    let scan = RedditScan::with_source(
        SocialSource::Sample(SampleSource::at(chrono::Utc::now())),
        SocialConfig::default(),
        SymbolUniverse::bundled(),
    );
    let scanner = JobEngine::start(env.storage.clone(), vec![scan.into_job()], Vec::new()).await.unwrap();
    let scanned = scanner.trigger(RedditScan::NAME, RunTrigger::Api).await.unwrap();
    scanner.wait_for(scanned.run.id, SECS_30).await.unwrap();
    scanner.shutdown(std::time::Duration::from_secs(5)).await;

    env.watch(&["AAPL", "MSFT"]).await;
    let engine =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Csv)).await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let exports = env.storage.exports(10).await.unwrap();
    let mentions = exports.iter().find(|e| e.kind == jobs::KIND_MENTIONS).expect("a mentions export");
    assert_eq!(mentions.run_id, Some(run.id));
    let text = std::fs::read_to_string(env.exports_dir().join(&mentions.file_name)).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("symbol,created_at,subreddit,author,kind,sentiment,source,post_id"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len() as u64, mentions.rows.unwrap());
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.starts_with("AAPL,") || r.starts_with("MSFT,")), "{rows:?}");
    engine.shutdown(std::time::Duration::from_secs(5)).await;
}

fn research_note(symbol: &str, thesis: &str) -> domain::ResearchNote {
    domain::ResearchNote {
        crew_run_id: None,
        symbol: sym(symbol),
        rating: domain::Rating::Buy,
        confidence: 0.8,
        horizon: "6-12 months".to_owned(),
        thesis: thesis.to_owned(),
        risks: vec!["Regulation".to_owned(), "Supply chain".to_owned()],
        key_figures: Default::default(),
        sources: vec!["stored bars".to_owned()],
        markdown: format!("# {symbol}\n\n{thesis}"),
        model: "test-model".to_owned(),
        crew: "research".to_owned(),
    }
}

#[tokio::test]
async fn latest_research_notes_go_into_a_notes_table_and_the_html_report() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    env.storage.insert_research_note(&research_note("AAPL", "An older thesis.")).await.unwrap();
    let thesis = "Services growth & buybacks <keep> margins, for now.";
    env.storage.insert_research_note(&research_note("AAPL", thesis)).await.unwrap();
    env.storage.insert_research_note(&research_note("TSLA", "Not watched, not exported.")).await.unwrap();
    let engine =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Html)).await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.error, None);

    let exports = env.storage.exports(10).await.unwrap();
    let notes = exports.iter().find(|e| e.kind == jobs::KIND_NOTES).expect("a notes export");
    assert_eq!((notes.status, notes.run_id, notes.rows), (ExportStatus::Ready, Some(run.id), Some(1)));
    assert_eq!(notes.format, "csv");
    assert!(
        notes.file_name.starts_with("notes-") && notes.file_name.ends_with(".csv"),
        "{}",
        notes.file_name
    );
    let path = env.exports_dir().join(&notes.file_name);
    assert_eq!(Some(sha256_hex(&path)), notes.sha256);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "symbol,created_at,rating,confidence,horizon,thesis,risks,key_figures,sources,model,crew,crew_run_id"
        )
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "the latest note of each watched symbol: {rows:?}");
    assert!(rows[0].starts_with("AAPL,") && rows[0].contains(",buy,0.8,"), "{}", rows[0]);
    assert!(rows[0].contains(&format!("\"{thesis}\"")), "quoted for its comma: {}", rows[0]);
    assert!(rows[0].contains("Regulation | Supply chain"));

    // The html report of the same run shows the note, escaped.
    let (report, report_path) = env
        .export_service()
        .ready_file(bars_export(&env.storage, run.id).await.expect("export"))
        .await
        .unwrap();
    assert_eq!((report.kind.as_str(), report.format.as_str()), ("bars", "html"));
    let html = std::fs::read_to_string(report_path).unwrap();
    assert!(html.contains(">Research notes</h2>"));
    assert!(html.contains("Services growth &amp; buybacks &lt;keep&gt; margins, for now."));
    assert!(html.contains("<span class=\"rating rating-buy\">Buy</span>"));
    assert!(!html.contains("An older thesis.") && !html.contains("Not watched"));
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn without_research_notes_no_notes_table_is_written() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let engine =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Csv)).await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let exports = env.storage.exports(10).await.unwrap();
    assert!(exports.iter().all(|e| e.kind != jobs::KIND_NOTES), "{exports:?}");
    engine.shutdown(SECS_5).await;
}

/// A provider's retry, deep inside a run, logs which run it belongs to: the engine runs each job
/// in a span with `run_id` and `job`, and the ingest and the chain add the symbol and provider.
///
/// The capture is this test binary's global subscriber (installed once): a thread-local one
/// loses spans to the callsite-interest cache while other tests log in parallel. The symbol is
/// unique to this test, so its lines are told apart from the others'.
#[tokio::test]
async fn retry_log_lines_name_their_run_symbol_and_provider() {
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LINES: std::sync::OnceLock<Lines> = std::sync::OnceLock::new();
    let lines = LINES.get_or_init(|| {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        lines
    });

    let env = TestEnv::new().await;
    env.watch(&["ZZLOG"]).await;
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let engine =
        engine_with(&env, yahoo_chain(&server), env.export_service(), tracker_config(ExportFormat::Csv))
            .await;
    let run = run_once(&engine).await;
    engine.shutdown(SECS_5).await;

    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let retry = text
        .lines()
        .find(|line| line.contains("Retrying request.") && line.contains("ZZLOG"))
        .unwrap_or_else(|| panic!("no retry line for ZZLOG in:\n{text}"));
    for needle in [
        format!("run_id={}", run.id),
        "job=download-tracker".to_owned(),
        "symbol=ZZLOG".to_owned(),
        "provider=yahoo".to_owned(),
    ] {
        assert!(retry.contains(&needle), "{needle} missing from {retry}");
    }
}

#[tokio::test]
async fn cancelling_a_run_drops_its_in_flight_vendor_requests_at_once() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(yahoo_chart_json("AAPL", 5, 1_704_205_800))
                .set_delay(std::time::Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let engine =
        engine_with(&env, yahoo_chain(&server), env.export_service(), tracker_config(ExportFormat::Csv))
            .await;
    let run = engine.trigger(DownloadTracker::NAME, RunTrigger::Api).await.unwrap().run;
    let asked = test_support::wait_for(SECS_5, || async {
        (!server.received_requests().await.unwrap_or_default().is_empty()).then_some(())
    })
    .await;
    assert!(asked.is_some(), "the run is waiting on the vendor");

    let grace = std::time::Duration::from_millis(100);
    let started = std::time::Instant::now();
    engine.shutdown(grace).await;
    // The job returned on its token instead of holding the requests until the engine aborts it
    // (which happens only after a further `CANCEL_WAIT`).
    let took = started.elapsed();
    assert!(took < grace + jobs::CANCEL_WAIT, "shutdown took {took:?}");
    let run = env.storage.run(run.id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Interrupted, "{run:?}");
    assert_eq!(bars_export(&env.storage, run.id).await, None);
    assert!(env.storage.exports(10).await.unwrap().is_empty(), "no export was started");
}

const AV_KEY: &str = "AVkey_s3cr3t_42";

/// Bars and quotes only (news and profiles off): two requests a symbol.
fn bars_and_quotes() -> DownloadTrackerConfig {
    DownloadTrackerConfig { news_days: 0, profile_max_age_days: 0, ..tracker_config(ExportFormat::Csv) }
}

/// An Alpha Vantage-only chain against `server`: its free daily budget of 25, no per-second or
/// per-minute limit (no test sleeps).
fn alpha_vantage_chain(server: &MockServer) -> ProviderChain {
    let mut alpha_vantage = VendorConfig::alpha_vantage();
    alpha_vantage.base_url = server.uri();
    alpha_vantage.api_key = Some(providers::ApiKey::new(AV_KEY));
    alpha_vantage.rate_limits = Vec::new();
    alpha_vantage.max_retries = 0;
    alpha_vantage.timeout_secs = 5.0;
    assert_eq!(alpha_vantage.daily_budget, Some(25), "the free tier's default");
    let config = ProvidersConfig {
        order: vec![ProviderId::AlphaVantage],
        alpha_vantage,
        ..ProvidersConfig::default()
    };
    ProviderChain::from_config(&config, None).expect("alpha vantage chain")
}

async fn mount_alpha_vantage(server: &MockServer) {
    let data = |name: &str| {
        let file = format!("{}/../providers/tests/data/alpha_vantage/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
    };
    for (function, file) in
        [("TIME_SERIES_DAILY", "time_series_daily.json"), ("GLOBAL_QUOTE", "global_quote.json")]
    {
        Mock::given(query_param("function", function))
            .respond_with(ResponseTemplate::new(200).set_body_raw(data(file), "application/json"))
            .mount(server)
            .await;
    }
}

/// Alpha Vantage alone, 19 of its 25 daily requests already spent (stored by an earlier
/// process), news and profiles off: the plan gives it the 3 symbols its 6 requests cover (bars
/// and quote each), says up
/// front that the other 2 are deferred and names them in the run's result; they are no failed
/// items. The count is stored, so a new chain (a restart) knows the day is spent and sends nothing.
#[tokio::test]
async fn download_tracker_plans_within_the_daily_budget_and_defers_the_rest() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "IBM", "MSFT", "NVDA", "TSLA"]).await;
    let today = chrono::Utc::now().date_naive();
    let spent = ProviderRequests { provider: ProviderId::AlphaVantage, day: today, requests: 19 };
    env.storage.add_provider_requests(&[spent]).await.unwrap();
    let server = MockServer::start().await;
    mount_alpha_vantage(&server).await;

    let engine =
        engine_with(&env, alpha_vantage_chain(&server), env.export_service(), bars_and_quotes()).await;
    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    let error = run.error.clone().unwrap_or_default();
    assert!(error.contains("cannot be refreshed in one run"), "{error}");
    assert!(error.contains("for 2 of 5 symbols, deferred to a later run (NVDA, TSLA)"), "{error}");
    assert!(!error.contains(AV_KEY), "{error}");
    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!(items.iter().map(|i| i.symbol.as_str()).collect::<Vec<_>>(), ["AAPL", "IBM", "MSFT"]);
    assert!(items.iter().all(|i| i.succeeded && i.provider.as_deref() == Some("alpha_vantage")), "{items:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 6);
    let stored = env.storage.provider_requests(today).await.unwrap();
    assert_eq!(stored, [ProviderRequests { requests: 25, ..spent }], "the run's requests are stored");
    engine.shutdown(SECS_5).await;

    // A restart: new clients learn today's count from storage and plan nothing for Alpha Vantage.
    let engine =
        engine_with(&env, alpha_vantage_chain(&server), env.export_service(), bars_and_quotes()).await;
    let run = run_once(&engine).await;
    assert!(run.error.as_deref().is_some_and(|e| e.contains("for 5 of 5 symbols")), "{run:?}");
    assert!(env.storage.run_items(run.id).await.unwrap().is_empty(), "deferred symbols are not failures");
    assert_eq!(server.received_requests().await.unwrap().len(), 6, "no request past the daily budget");
}

/// Yahoo for bars and quotes, then Polygon (news and profiles), both against `server`.
fn yahoo_and_polygon_chain(server: &MockServer) -> ProviderChain {
    let mut polygon = VendorConfig::polygon();
    polygon.base_url = server.uri();
    polygon.api_key = Some(providers::ApiKey::new("pg_test_key_0123456789"));
    polygon.max_retries = 1;
    polygon.backoff_base_ms = 1;
    polygon.backoff_max_ms = 5;
    polygon.max_retry_wait_secs = 0.5;
    polygon.rate_limits = Vec::new();
    polygon.timeout_secs = 5.0;
    let mut config = ProvidersConfig {
        order: vec![ProviderId::Yahoo, ProviderId::Polygon],
        polygon,
        ..ProvidersConfig::default()
    };
    config.yahoo.base_url = server.uri();
    config.yahoo.max_retries = 1;
    config.yahoo.backoff_base_ms = 1;
    config.yahoo.backoff_max_ms = 5;
    config.yahoo.rate_limits = Vec::new();
    config.yahoo.timeout_secs = 5.0;
    ProviderChain::from_config(&config, None).expect("yahoo and polygon chain")
}

async fn mount_yahoo_chart(server: &MockServer, symbol: &str) {
    let start_ts = chrono::Utc::now().timestamp() - 30 * 86_400;
    Mock::given(method("GET"))
        .and(path(yahoo_chart_path(symbol)))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(yahoo_chart_json(symbol, 20, start_ts), "application/json"),
        )
        .mount(server)
        .await;
}

/// A Polygon news page (written by us in the shape of Polygon's documentation example) with one
/// article published an hour ago.
fn polygon_news_page(symbol: &str) -> String {
    let published = (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        r#"{{"results":[{{"id":"x1","publisher":{{"name":"Investing.com"}},"title":"{symbol} <beats> estimates","published_utc":"{published}","article_url":"https://news.example/{symbol}/1","tickers":["{symbol}"],"description":"d","insights":[{{"ticker":"{symbol}","sentiment":"positive","sentiment_reasoning":"r"}}]}}],"status":"OK","request_id":"r1","count":1}}"#
    )
}

#[tokio::test]
async fn a_sample_run_stores_news_and_profiles_of_watched_symbols() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL", "MSFT"]).await;
    let engine =
        engine_with(&env, sample_chain(), env.export_service(), tracker_config(ExportFormat::Html)).await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    for symbol in ["AAPL", "MSFT"] {
        let news = env.storage.news(&sym(symbol), 20).await.unwrap();
        assert!(!news.is_empty(), "{symbol}: the sample's last week of news");
        assert!(
            news.iter().all(|n| n.provider == ProviderId::Sample && n.headline.starts_with("Sample news: "))
        );
        let profile = env.storage.profile(&sym(symbol)).await.unwrap().expect("profile stored");
        assert_eq!(profile.provider, Some(ProviderId::Sample));
    }
    let stored = env.storage.news(&sym("AAPL"), 20).await.unwrap().len();

    // Again: the same articles are not stored twice.
    let second = run_once(&engine).await;
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    assert_eq!(env.storage.news(&sym("AAPL"), 20).await.unwrap().len(), stored);

    // The HTML report shows them.
    let export_id = bars_export(&env.storage, second.id).await.expect("export id");
    let (_, path) = env.export_service().ready_file(export_id).await.unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert!(
        html.contains("<strong>Apple Inc.</strong>") && html.contains("Latest headlines"),
        "profile and news"
    );
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn a_vendor_run_stores_news_and_a_profile_and_asks_for_a_fresh_profile_only_once() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let server = MockServer::start().await;
    mount_yahoo_chart(&server, "AAPL").await;
    Mock::given(method("GET"))
        .and(path("/v2/reference/news"))
        .and(wiremock::matchers::query_param("ticker", "AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(polygon_news_page("AAPL"), "application/json"))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"results":{"ticker":"AAPL","name":"Apple Inc.","locale":"us","primary_exchange":"XNAS","currency_name":"usd","market_cap":2771126040150,"sic_description":"ELECTRONIC COMPUTERS"},"status":"OK","request_id":"r2"}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let engine = engine_with(
        &env,
        yahoo_and_polygon_chain(&server),
        env.export_service(),
        tracker_config(ExportFormat::Csv),
    )
    .await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!((items[0].provider.as_deref(), items[0].error.as_deref()), (Some("yahoo"), None), "{items:?}");
    let news = env.storage.news(&sym("AAPL"), 10).await.unwrap();
    assert_eq!(news.len(), 1, "{news:?}");
    assert_eq!((news[0].provider, news[0].sentiment), (ProviderId::Polygon, Some(1.0)));
    assert_eq!(news[0].headline, "AAPL <beats> estimates");
    let profile = env.storage.profile(&sym("AAPL")).await.unwrap().expect("profile");
    assert_eq!((profile.name.as_deref(), profile.provider), (Some("Apple Inc."), Some(ProviderId::Polygon)));

    // The second run asks for news again but not for the profile, stored moments ago.
    let second = run_once(&engine).await;
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    assert_eq!(env.storage.news(&sym("AAPL"), 10).await.unwrap().len(), 1);
    engine.shutdown(SECS_5).await;
    server.verify().await;
}

#[tokio::test]
async fn a_news_or_profile_failure_is_noted_but_never_fails_the_refresh() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let server = MockServer::start().await;
    mount_yahoo_chart(&server, "AAPL").await;
    Mock::given(method("GET"))
        .and(path("/v2/reference/news"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{not json", "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers/AAPL"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(
            r#"{"status":"ERROR","request_id":"r","error":"You've exceeded the maximum requests per minute"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let engine = engine_with(
        &env,
        yahoo_and_polygon_chain(&server),
        env.export_service(),
        tracker_config(ExportFormat::Csv),
    )
    .await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(bars_export(&env.storage, run.id).await.is_some(), "the export is written");
    let items = env.storage.run_items(run.id).await.unwrap();
    assert!(items[0].succeeded && items[0].bars == 20, "{items:?}");
    let error = items[0].error.clone().unwrap_or_default();
    assert!(error.contains("news:") && error.contains("invalid JSON"), "{error}");
    assert!(error.contains("profile:") && error.contains("rate limited"), "{error}");
    assert!(!error.contains("pg_test_key_0123456789"), "{error}");
    assert!(env.storage.news(&sym("AAPL"), 10).await.unwrap().is_empty());
    assert_eq!(env.storage.profile(&sym("AAPL")).await.unwrap(), None);
    engine.shutdown(SECS_5).await;
}

#[tokio::test]
async fn news_and_profiles_can_be_turned_off() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    let config =
        DownloadTrackerConfig { news_days: 0, profile_max_age_days: 0, ..tracker_config(ExportFormat::Csv) };
    let engine = engine_with(&env, sample_chain(), env.export_service(), config).await;

    let run = run_once(&engine).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert!(env.storage.news(&sym("AAPL"), 10).await.unwrap().is_empty());
    assert_eq!(env.storage.profile(&sym("AAPL")).await.unwrap(), None);
    let config = DownloadTrackerConfig { news_days: 366, ..DownloadTrackerConfig::default() };
    let err =
        DownloadTracker::new(sample_chain(), env.export_service(), config).err().expect("too many days");
    assert!(err.to_string().contains("jobs.download_tracker.news_days"), "{err}");
    engine.shutdown(SECS_5).await;
}

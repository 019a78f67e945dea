//! The equity-research crew on the offline model, end to end: real SQLite, bars from the
//! bundled sample provider, the real tools, the stored note and trace.

use agents::{NoObserver, Process};
use analysis::{AnalysisConfig, AnalysisError, AnalysisService, EQUITY_RESEARCH, OFFLINE};
use domain::{Interval, Rating, Symbol};
use serde_json::json;
use storage::CrewRunStatus;
use tokio_util::sync::CancellationToken;

mod common;

use common::{Env, env, request};

fn service(env: &Env, config: &AnalysisConfig) -> AnalysisService {
    env.service(config)
}

#[tokio::test]
async fn the_offline_crew_writes_a_note_from_real_indicators() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let service = service(&env, &AnalysisConfig::default());
    assert_eq!(service.model_label(), OFFLINE);

    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    let note = &analysis.note;
    assert_eq!(note.symbol, "AAPL");
    assert_eq!((note.model.as_str(), note.crew.as_str()), (OFFLINE, EQUITY_RESEARCH));
    assert!((0.0..=1.0).contains(&note.confidence));

    // The figures are the indicators of the stored bars, as the API computes them.
    let bars = env
        .storage
        .bars(&storage::BarQuery::new(Symbol::parse("AAPL").unwrap(), Interval::Day1))
        .await
        .unwrap();
    let snapshot = domain::indicators::latest(&bars);
    let rsi = note.key_figures["rsi14"].as_f64().unwrap();
    assert!((rsi - snapshot.rsi14.unwrap()).abs() < 1e-3, "{rsi} vs {:?}", snapshot.rsi14);
    let close = note.key_figures["last_close"].as_f64().unwrap();
    assert!((close - snapshot.last_close.unwrap()).abs() < 1e-3);
    assert!(note.sources.iter().any(|s| s.starts_with("get_indicators (sample")), "{:?}", note.sources);
    assert!(note.markdown.starts_with("# AAPL: "), "{}", note.markdown);
    assert!(note.markdown.contains("### technical analysis (Technical Analyst)"));
    assert!(note.thesis.contains("50-day average"), "{}", note.thesis);

    // The run and its trace are stored.
    let run = env.storage.crew_run(analysis.crew_run_id).await.unwrap().unwrap();
    assert_eq!(run.status, CrewRunStatus::Completed);
    assert_eq!(note.crew_run_id, Some(run.id));
    assert_eq!(run.llm_calls, 7, "three agents call tools then answer; the writer answers once");
    assert_eq!(run.tool_calls, 6);
    let trace: serde_json::Value = serde_json::from_str(&run.trace).unwrap();
    let steps = trace.as_array().unwrap();
    assert_eq!(steps.iter().filter(|s| s["step"] == "task_finished").count(), 4);
    assert!(steps.iter().filter(|s| s["step"] == "tool_call").all(|s| s["ok"] == true), "{steps:?}");

    // Deterministic: a second run says the same.
    let again = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!((again.note.rating, again.note.confidence), (note.rating, note.confidence));
    assert_eq!(again.note.thesis, note.thesis);
    assert_eq!(env.storage.research_notes(Some(&Symbol::parse("AAPL").unwrap()), 10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_symbol_without_data_gets_a_cautious_note_not_a_crash() {
    let env = env().await;
    let service = service(&env, &AnalysisConfig::default());
    let analysis = service.analyze(&request("ZZZZ"), &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!(analysis.note.rating, Rating::Hold);
    assert!(analysis.note.confidence <= 0.5);
    assert!(analysis.note.risks.iter().any(|r| r.contains("Thin data")), "{:?}", analysis.note.risks);
    let run = env.storage.crew_run(analysis.crew_run_id).await.unwrap().unwrap();
    let trace: serde_json::Value = serde_json::from_str(&run.trace).unwrap();
    let failed_tools = trace.as_array().unwrap().iter().filter(|s| s["ok"] == false).count();
    assert!(failed_tools >= 1, "tool errors went back to the model as results");
}

#[tokio::test]
async fn crews_defined_in_config_run_without_code_hierarchical_included() {
    let env = env().await;
    env.store_year_of_bars("MSFT").await;
    let crew: agents::Crew = serde_json::from_value(json!({
        "name": "quick-take",
        "process": {"kind": "hierarchical", "manager": {"role": "Desk Head", "goal": "Deliver a quick take"}},
        "agents": [
            {"role": "Chartist", "goal": "Read the chart of {symbol}", "tools": ["get_indicators"]},
            {"role": "Crowd Watcher", "goal": "Read Reddit on {symbol}", "tools": ["get_mentions"]}
        ],
        "tasks": [
            {"name": "chart", "description": "Symbol: {symbol}. Read the chart.", "expected_output": "figures",
             "agent": "Chartist"},
            {"name": "note", "description": "Symbol: {symbol}. Write the note.", "expected_output": "JSON",
             "agent": "Chartist", "output_schema": analysis::note_schema()}
        ],
        "limits": {"deadline": 30}
    }))
    .unwrap();
    assert!(matches!(crew.process, Process::Hierarchical { .. }));
    let config = AnalysisConfig { crews: vec![crew], ..AnalysisConfig::default() };
    let service = service(&env, &config);
    let mut req = request("MSFT");
    req.crew = Some("quick-take".into());
    let analysis = service.analyze(&req, &NoObserver, CancellationToken::new()).await.unwrap();
    assert_eq!(analysis.note.crew, "quick-take");
    assert!(analysis.note.key_figures.contains_key("rsi14"), "{:?}", analysis.note.key_figures);
    let delegations = analysis
        .outcome
        .trace
        .steps()
        .iter()
        .filter(|s| matches!(s, agents::TraceStep::Delegation { .. }))
        .count();
    assert_eq!(delegations, 2, "the manager delegated each task");
}

#[tokio::test]
async fn bad_crew_config_and_unknown_crews_are_clear_errors() {
    let env = env().await;
    let crew: agents::Crew = serde_json::from_value(json!({
        "name": "broken",
        "agents": [{"role": "A", "goal": "g", "tools": ["get_horoscope"]}],
        "tasks": [{"name": "t", "description": "d", "expected_output": "e", "agent": "A"}]
    }))
    .unwrap();
    let config = AnalysisConfig { crews: vec![crew], ..AnalysisConfig::default() };
    let error = AnalysisService::new(env.storage.clone(), None, &config, None).unwrap_err().to_string();
    assert!(error.contains("unknown tool \"get_horoscope\""), "{error}");

    let config = AnalysisConfig { crew: "nope".into(), ..AnalysisConfig::default() };
    let error = AnalysisService::new(env.storage.clone(), None, &config, None).unwrap_err().to_string();
    assert!(error.contains("unknown crew \"nope\""), "{error}");

    let service = service(&env, &AnalysisConfig::default());
    let mut req = request("AAPL");
    req.crew = Some("missing".into());
    let error = service.analyze(&req, &NoObserver, CancellationToken::new()).await.unwrap_err();
    assert!(matches!(error, AnalysisError::UnknownCrew { .. }), "{error}");
}

#[tokio::test]
async fn a_cancelled_run_stores_its_trace_and_no_note() {
    let env = env().await;
    let service = service(&env, &AnalysisConfig::default());
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = service.analyze(&request("AAPL"), &NoObserver, cancel).await.unwrap_err();
    let AnalysisError::Run { crew_run_id, status, .. } = error else { panic!("{error}") };
    assert_eq!(status, "cancelled");
    let run = env.storage.crew_run(crew_run_id).await.unwrap().unwrap();
    assert_eq!(run.status, CrewRunStatus::Cancelled);
    assert!(run.finished_at.is_some());
    assert!(env.storage.research_notes(Some(&Symbol::parse("AAPL").unwrap()), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn long_term_memory_is_used_only_when_enabled_and_stays_capped() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    let mut crew = analysis::equity_research();
    crew.memory.long_term = true;
    let mut config = AnalysisConfig { crews: vec![crew], ..AnalysisConfig::default() };
    config.long_term_memory.enabled = true;
    config.long_term_memory.max_entries = 2;
    let service = service(&env, &config);
    for _ in 0..4 {
        service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
    }
    let kept = env.storage.recall("equity-research:AAPL", 10).await.unwrap();
    assert_eq!(kept.len(), 2, "capped at two entries per scope");
}

#[tokio::test]
async fn the_note_mentions_stored_news() {
    let env = env().await;
    env.store_year_of_bars("AAPL").await;
    // What the download-tracker stores from the sample provider.
    let aapl = Symbol::parse("AAPL").unwrap();
    let now = chrono::Utc::now();
    let news = providers::MarketData::news(
        &providers::sample::SampleProvider::new(),
        &aapl,
        now - chrono::Duration::days(7),
        now,
    )
    .await
    .unwrap();
    assert_eq!(env.storage.save_news(&news).await.unwrap(), 3);
    let service = service(&env, &AnalysisConfig::default());

    let analysis = service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();

    let note = &analysis.note;
    assert_eq!(note.key_figures["news_count"], json!(3));
    assert!(
        note.thesis.contains(
            "3 recent news items (latest: \"Sample news: Apple shares drift lower into the weekend\")"
        ),
        "{}",
        note.thesis
    );
    assert!(note.thesis.contains("vendor sentiment"), "{}", note.thesis);
}

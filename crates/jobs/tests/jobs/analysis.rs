//! The `analysis` job on the offline model and the `sample` provider: a symbol no provider knows
//! gets no crew run and no note (issue 10: it used to get a "HOLD 30 %" note).

use std::sync::Arc;

use analysis::{AnalysisConfig, AnalysisService};
use jobs::{AnalysisJob, JobEngine, ensure_bars};
use providers::ProviderChain;
use providers::sample::SampleProvider;
use storage::RunStatus;

use domain::RunTrigger;

use crate::helpers::{SECS_30, TestEnv, sym};

fn chain() -> ProviderChain {
    ProviderChain::new(vec![Arc::new(SampleProvider::new())])
}

async fn engine(env: &TestEnv) -> JobEngine {
    let service = AnalysisService::new(env.storage.clone(), None, &AnalysisConfig::default(), None).unwrap();
    let job = Arc::new(AnalysisJob::new(service, chain()));
    JobEngine::start(env.storage.clone(), vec![job], Vec::new()).await.expect("start engine")
}

#[tokio::test]
async fn ensure_bars_tells_an_unknown_symbol_from_a_known_one() {
    let env = TestEnv::new().await;
    assert_eq!(ensure_bars(&chain(), &env.storage, &sym("IBM")).await.unwrap(), None, "fetched");
    assert!(env.storage.last_bar_ts(&sym("IBM"), domain::Interval::Day1).await.unwrap().is_some());
    assert_eq!(ensure_bars(&chain(), &env.storage, &sym("IBM")).await.unwrap(), None, "stored");
    let unknown = ensure_bars(&chain(), &env.storage, &sym("ZZZZ")).await.unwrap_err();
    let message = unknown.to_string();
    assert!(
        message.starts_with("unknown symbol ZZZZ: no bars are stored and no provider knows"),
        "{message}"
    );
    assert!(message.contains("sample"), "each provider's reason: {message}");
}

#[tokio::test]
async fn an_unknown_symbol_gets_no_crew_run_and_no_note() {
    let env = TestEnv::new().await;
    let engine = engine(&env).await;
    let run = engine.trigger_for(AnalysisJob::NAME, &sym("ZZZZ"), RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_30).await.unwrap();
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!(items.len(), 1);
    assert!(!items[0].succeeded);
    assert!(items[0].error.as_deref().is_some_and(|e| e.contains("unknown symbol ZZZZ")), "{items:?}");
    assert!(env.storage.research_notes(Some(&sym("ZZZZ")), 10).await.unwrap().is_empty(), "no note");
    assert!(env.storage.crew_runs(Some("ZZZZ"), 10).await.unwrap().is_empty(), "no crew run");
    engine.shutdown(SECS_30).await;
}

#[tokio::test]
async fn a_watchlist_run_analyses_the_known_symbols_and_skips_the_unknown() {
    let env = TestEnv::new().await;
    env.watch(&["IBM", "ZZZZ"]).await;
    let engine = engine(&env).await;
    let run = engine.trigger(AnalysisJob::NAME, RunTrigger::Api).await.unwrap().run;
    let run = engine.wait_for(run.id, SECS_30).await.unwrap();
    assert_eq!(run.status, RunStatus::Partial, "{run:?}");
    assert_eq!(env.storage.research_notes(Some(&sym("IBM")), 10).await.unwrap().len(), 1);
    assert!(env.storage.research_notes(Some(&sym("ZZZZ")), 10).await.unwrap().is_empty());
    engine.shutdown(SECS_30).await;
}

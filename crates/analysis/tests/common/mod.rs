//! Shared set-up: a SQLite database in a temp dir with a year of sample bars.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use analysis::{AnalysisConfig, AnalysisService, AnalyzeRequest};
use domain::{Interval, Symbol};
use llm::{LlmConfig, LlmProvider, OpenAiClient};
use providers::{BarsRequest, ProviderChain, ProvidersConfig, Span};
use storage::{DatabaseConfig, Storage};

pub struct Env {
    _dir: tempfile::TempDir,
    pub storage: Storage,
    pub chain: Arc<ProviderChain>,
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("analysis.db").display());
    let storage = Storage::connect(&url, &DatabaseConfig::default()).await.unwrap();
    storage.migrate().await.unwrap();
    let chain = Arc::new(ProviderChain::from_config(&ProvidersConfig::default(), None).unwrap());
    Env { _dir: dir, storage, chain }
}

impl Env {
    pub async fn store_year_of_bars(&self, symbol: &str) {
        let request = BarsRequest {
            symbol: Symbol::parse(symbol).unwrap(),
            interval: Interval::Day1,
            span: Span::Last { days: 365 },
        };
        let served = self.chain.bars(&request).await.unwrap();
        self.storage
            .upsert_bars(&request.symbol, Interval::Day1, &served.value.bars, self.chain.preference())
            .await
            .unwrap();
    }

    /// The service with the configured model (offline by default).
    pub fn service(&self, config: &AnalysisConfig) -> AnalysisService {
        AnalysisService::new(self.storage.clone(), Some(self.chain.clone()), config, None).unwrap()
    }

    /// The service with the real OpenAI-compatible client pointed at `base_url`.
    pub fn service_at(&self, base_url: &str, tune: impl FnOnce(&mut LlmConfig)) -> AnalysisService {
        let mut llm = openai_config(base_url);
        tune(&mut llm);
        let model = Arc::new(OpenAiClient::new(&llm).unwrap());
        AnalysisService::with_model(
            self.storage.clone(),
            Some(self.chain.clone()),
            &AnalysisConfig::default(),
            model,
        )
        .unwrap()
    }
}

/// Fast retries so tests of 429s and 5xx take milliseconds.
pub fn openai_config(base_url: &str) -> LlmConfig {
    LlmConfig {
        provider: LlmProvider::Openai,
        base_url: base_url.to_owned(),
        api_key: Some(llm::ApiKey::new("sk-test-0123456789abcdef")),
        backoff_base_ms: 5,
        backoff_max_ms: 20,
        timeout_secs: 5,
        ..LlmConfig::default()
    }
}

pub fn request(symbol: &str) -> AnalyzeRequest {
    AnalyzeRequest { symbol: Symbol::parse(symbol).unwrap(), crew: None, job_run_id: None, stream: false }
}

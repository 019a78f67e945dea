//! Resource lifecycle of every HTTP adapter, from one table: the cases of
//! `test_support::lifecycle` (connections close on drop after success, 5xx, timeout, malformed
//! bodies and resets; idle expiry; a bounded pool; no fd, task or memory leak over a thousand
//! clients) run once for each adapter below. A row says how to build the adapter's client
//! against the proxy's URL and how one call for a target goes; all three sit on `outbound`, so a
//! failure here names the adapter whose mapping broke, or `outbound` when all three fail.

use std::time::Duration;

use domain::{Interval, Symbol};
use llm::{ApiKey, ChatModel, ChatRequest, LlmConfig, LlmError, LlmProvider, Message, OpenAiClient};
use providers::yahoo::YahooProvider;
use providers::{BarsRequest, MarketData, ProviderError, Span, VendorConfig};
use social::reddit::{Listing, RedditClient, RedditConfig, RedditError, ScanStatus};
use test_support::lifecycle::{Adapter, CallFuture, Outcome, Settings};
use test_support::{
    CannedResponse, chat_completion_json, lifecycle_cases, reddit_listing_json, yahoo_chart_json,
};

/// 2024-01-02, a trading day; the canned bars start here.
const START_TS: i64 = 1_704_205_800;

/// Yahoo's chart endpoint through `YahooProvider` (and so the providers' `HttpClient`).
struct Yahoo;

impl Adapter for Yahoo {
    type Client = YahooProvider;

    fn path(&self, target: &str) -> String {
        format!("/v8/finance/chart/{target}")
    }

    fn ok(&self, target: &str, items: usize) -> CannedResponse {
        CannedResponse::json(200, yahoo_chart_json(target, items, START_TS))
    }

    fn build(&self, base_url: &str, settings: &Settings) -> YahooProvider {
        let mut config = VendorConfig::yahoo();
        config.base_url = base_url.to_owned();
        config.rate_limits.clear();
        config.max_retries = settings.max_retries;
        config.backoff_base_ms = 1;
        config.backoff_max_ms = 5;
        config.max_retry_wait_secs = 0.1;
        config.connect_timeout_secs = 2.0;
        config.timeout_secs = settings.timeout.as_secs_f64();
        config.pool_idle_timeout_secs = settings.pool_idle_timeout.as_secs_f64();
        config.max_connections = settings.max_connections;
        YahooProvider::new(&config).expect("valid Yahoo config")
    }

    fn call<'a>(&'a self, client: &'a YahooProvider, target: &'a str) -> CallFuture<'a> {
        Box::pin(async move {
            let request = BarsRequest {
                symbol: Symbol::parse(target).expect("valid symbol"),
                interval: Interval::Day1,
                // From before the canned bars to today: one request, no follow-up for later splits.
                span: Span::Since(chrono::NaiveDate::from_ymd_opt(2023, 12, 1).expect("date")),
            };
            match client.bars(&request).await {
                Ok(series) => Outcome::Ok { items: series.bars.len() },
                Err(error @ ProviderError::Upstream { status, .. }) => {
                    Outcome::Upstream { status, retryable: error.is_retryable() }
                }
                Err(ProviderError::Timeout { .. }) => Outcome::Timeout,
                Err(ProviderError::Malformed { .. }) => Outcome::Malformed,
                Err(other) => Outcome::Other(format!("{other:?}")),
            }
        })
    }
}

/// A subreddit's `new` listing through `RedditClient` (public JSON, one page).
struct Reddit;

impl Adapter for Reddit {
    type Client = RedditClient;

    fn path(&self, target: &str) -> String {
        format!("/r/{target}/new.json")
    }

    fn ok(&self, target: &str, items: usize) -> CannedResponse {
        CannedResponse::json(200, reddit_listing_json(target, items))
    }

    fn build(&self, base_url: &str, settings: &Settings) -> RedditClient {
        let mut config = RedditConfig::new("linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)");
        config.base_url = base_url.to_owned();
        config.queries_per_minute = Some(100_000);
        config.max_retries = settings.max_retries;
        config.backoff_base_ms = 1;
        config.backoff_max_ms = 5;
        config.connect_timeout_secs = 2.0;
        config.timeout_secs = settings.timeout.as_secs_f64();
        config.pool_idle_timeout_secs = settings.pool_idle_timeout.as_secs_f64();
        config.max_idle_connections = settings.max_connections;
        RedditClient::new(&config).expect("valid Reddit config")
    }

    fn call<'a>(&'a self, client: &'a RedditClient, target: &'a str) -> CallFuture<'a> {
        Box::pin(async move {
            let report = client.scan(target, Listing::New, 1_000).await;
            match report.status {
                ScanStatus::Complete => Outcome::Ok { items: report.posts.len() },
                ScanStatus::Blocked { .. } => Outcome::Blocked,
                ScanStatus::Failed { error: error @ RedditError::Upstream { status, .. } } => {
                    Outcome::Upstream { status, retryable: error.is_retryable() }
                }
                ScanStatus::Failed { error: RedditError::Timeout { .. } } => Outcome::Timeout,
                ScanStatus::Failed { error: RedditError::Malformed { .. } } => Outcome::Malformed,
                ScanStatus::Failed { error } => Outcome::Other(format!("{error:?}")),
            }
        })
    }
}

/// An OpenAI-compatible chat completion through `OpenAiClient`. Its one endpoint serves every
/// target, so the cases route each call's answer just before it.
struct OpenAi;

impl Adapter for OpenAi {
    type Client = OpenAiClient;

    fn path(&self, _target: &str) -> String {
        "/v1/chat/completions".to_owned()
    }

    fn ok(&self, _target: &str, items: usize) -> CannedResponse {
        CannedResponse::json(200, chat_completion_json(items))
    }

    fn build(&self, base_url: &str, settings: &Settings) -> OpenAiClient {
        let config = LlmConfig {
            provider: LlmProvider::Openai,
            base_url: format!("{base_url}/v1"),
            model: "mock".to_owned(),
            api_key: Some(ApiKey::new("sk-lifecycle-test")),
            timeout_secs: self.effective_timeout(settings.timeout).as_secs(),
            connect_timeout_secs: 2,
            max_retries: settings.max_retries,
            backoff_base_ms: 1,
            backoff_max_ms: 5,
            max_concurrent_requests: settings.max_connections,
            pool_idle_timeout_secs: settings.pool_idle_timeout.as_secs_f64(),
            ..LlmConfig::default()
        };
        OpenAiClient::new(&config).expect("valid LLM config")
    }

    fn call<'a>(&'a self, client: &'a OpenAiClient, _target: &'a str) -> CallFuture<'a> {
        Box::pin(async move {
            let request =
                ChatRequest { messages: vec![Message::user("Price of NVDA?")], ..ChatRequest::default() };
            match client.chat(&request).await {
                Ok(answer) => {
                    Outcome::Ok { items: answer.content.unwrap_or_default().split_whitespace().count() }
                }
                Err(error @ LlmError::Server { status, .. }) => {
                    Outcome::Upstream { status: Some(status), retryable: error.is_retryable() }
                }
                Err(error @ LlmError::Connection { .. }) => {
                    Outcome::Upstream { status: None, retryable: error.is_retryable() }
                }
                Err(LlmError::Timeout { .. }) => Outcome::Timeout,
                Err(LlmError::Malformed { .. }) => Outcome::Malformed,
                Err(other) => Outcome::Other(format!("{other:?}")),
            }
        })
    }

    /// `timeout_secs` is whole seconds.
    fn effective_timeout(&self, wanted: Duration) -> Duration {
        Duration::from_secs(wanted.as_secs_f64().ceil().max(1.0) as u64)
    }
}

lifecycle_cases! {
    yahoo => Yahoo,
    reddit => Reddit,
    openai => OpenAi,
}

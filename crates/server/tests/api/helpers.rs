//! The app under test (router, storage, job engine, exports on a temp dir) and request helpers.

use std::sync::Arc;
use std::time::Duration;

use analysis::{AnalysisConfig, AnalysisService};
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use domain::{
    Bar, Interval, Mention, MentionKind, PostSource, ProviderId, ScanStatus, SocialPost, SocialScan, Symbol,
};
use jobs::{
    AnalysisJob, DownloadTracker, DownloadTrackerConfig, EngineSettings, ExportService, ExportsConfig, Job,
    JobContext, JobEngine, JobOutcome, RetentionConfig,
};
use providers::ProviderChain;
use providers::sample::SampleProvider;
use serde_json::Value;
use server::{ApiToken, AppState, ServerConfig};
use storage::{DatabaseConfig, Storage};
use tempfile::TempDir;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// A token from config, accepted without a database lookup.
pub(crate) const CONFIG_TOKEN: &str = "tw_config_token_for_tests_0123456789";
/// Body limit in the tests: small, so "oversized" is cheap to send.
pub(crate) const BODY_LIMIT: usize = 1024;

/// A job that runs until the test opens its gate, so "a trigger while active" is deterministic.
pub(crate) struct GateJob {
    pub(crate) gate: Arc<Semaphore>,
}

#[async_trait]
impl Job for GateJob {
    fn name(&self) -> &'static str {
        "gate"
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        tokio::select! {
            permit = self.gate.acquire() => drop(permit?),
            () = context.cancel.cancelled() => anyhow::bail!("cancelled"),
        }
        Ok(JobOutcome::default())
    }
}

pub(crate) struct TestApp {
    pub(crate) state: AppState,
    pub(crate) storage: Storage,
    pub(crate) gate: Arc<Semaphore>,
    /// A token stored (hashed) in the database, as `tickerwatch token create` makes them.
    pub(crate) token: String,
    /// The database's URL, for a second `Storage` on it (another process, as it were).
    pub(crate) db_url: String,
    /// The jobs the app's engine knows, for [`start_workers`](Self::start_workers).
    jobs: Vec<Arc<dyn Job>>,
    _dir: TempDir,
}

/// Exports in the test's temp dir, kept forever.
fn default_exports(dir: &std::path::Path) -> ExportsConfig {
    ExportsConfig {
        dir: dir.join("exports"),
        retention: RetentionConfig { keep_last: None, max_age_days: None },
        ..ExportsConfig::default()
    }
}

impl TestApp {
    pub(crate) async fn new() -> Self {
        Self::with_config(ServerConfig::default()).await
    }

    pub(crate) async fn with_config(config: ServerConfig) -> Self {
        Self::with_exports(config, default_exports).await
    }

    /// The app as an API instance: its engine queues runs but runs none, so they stay queued
    /// until the test calls [`start_workers`](Self::start_workers).
    pub(crate) async fn queue_only() -> Self {
        let settings = EngineSettings { workers: false, scheduler: false, ..EngineSettings::default() };
        Self::build(ServerConfig::default(), None, default_exports, settings).await
    }

    /// A worker engine on the app's storage, with the app's jobs, as a worker instance would
    /// start; dropping it stops its workers.
    pub(crate) async fn start_workers(&self) -> JobEngine {
        let settings = EngineSettings { scheduler: false, ..EngineSettings::default() };
        JobEngine::start_with(self.storage.clone(), self.jobs.clone(), settings).await.unwrap()
    }

    /// [`with_config`](Self::with_config) on the database at `url` (a PostgreSQL schema shared
    /// with other instances) instead of a fresh SQLite file; it listens for other instances.
    pub(crate) async fn with_config_on(config: ServerConfig, url: Option<&str>) -> Self {
        Self::with_database_and_exports(config, url, default_exports).await
    }

    /// The app with the export settings `exports` makes from the test's temp dir (e.g. an S3
    /// bucket instead of a directory).
    pub(crate) async fn with_exports(
        config: ServerConfig,
        exports: impl FnOnce(&std::path::Path) -> ExportsConfig,
    ) -> Self {
        Self::with_database_and_exports(config, None, exports).await
    }

    async fn with_database_and_exports(
        config: ServerConfig,
        url: Option<&str>,
        exports: impl FnOnce(&std::path::Path) -> ExportsConfig,
    ) -> Self {
        Self::build(config, url, exports, EngineSettings::default()).await
    }

    async fn build(
        mut config: ServerConfig,
        url: Option<&str>,
        exports: impl FnOnce(&std::path::Path) -> ExportsConfig,
        settings: EngineSettings,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url =
            url.map_or_else(|| format!("sqlite://{}", dir.path().join("test.db").display()), str::to_owned);
        let storage = Storage::connect(&url, &DatabaseConfig::default()).await.unwrap();
        storage.migrate().await.unwrap();
        storage.listen();
        let exports = ExportService::new(storage.clone(), exports(dir.path()));
        exports.recover().await.unwrap();
        let chain = ProviderChain::new(vec![Arc::new(SampleProvider::new())]);
        let tracker =
            DownloadTracker::new(chain.clone(), exports.clone(), DownloadTrackerConfig::default()).unwrap();
        let gate = Arc::new(Semaphore::new(0));
        let jobs: Vec<Arc<dyn Job>> = vec![
            tracker.into_job(),
            Arc::new(GateJob { gate: Arc::clone(&gate) }),
            Arc::new(AnalysisJob::new(
                AnalysisService::new(storage.clone(), None, &AnalysisConfig::default(), None).unwrap(),
                chain.clone(),
            )),
        ];
        let engine = JobEngine::start_with(storage.clone(), jobs.clone(), settings).await.unwrap();

        let token = server::generate_token();
        storage.create_token("tests", &server::hash_token(&token)).await.unwrap();
        config.auth.tokens.push(ApiToken::new(CONFIG_TOKEN));
        config.request_body_limit_bytes = BODY_LIMIT;
        let state = AppState::new(storage.clone(), Arc::new(engine), exports, chain, config);
        Self { state, storage, gate, token, db_url: url, jobs, _dir: dir }
    }

    pub(crate) fn router(&self) -> Router {
        server::router(self.state.clone())
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Response {
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        // An event stream never ends: its body is dropped unread (which closes the stream), so a
        // test can check its status and headers like any other response's.
        if headers.get(header::CONTENT_TYPE).is_some_and(|value| value == "text/event-stream") {
            return Response { status, headers, body: Vec::new() };
        }
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        Response { status, headers, body }
    }

    pub(crate) async fn get(&self, uri: &str) -> Response {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// A request with the stored token and, if given, a JSON body.
    pub(crate) async fn authed(&self, method: Method, uri: &str, body: Option<Value>) -> Response {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let body = match body {
            Some(value) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// Polls a run until it is no longer queued or running.
    pub(crate) async fn wait_for_run(&self, run_id: i64) -> Value {
        let finished = test_support::wait_for(Duration::from_secs(60), || async {
            let run = self.get(&format!("/api/jobs/runs/{run_id}")).await.ok();
            let status = run["status"].as_str().unwrap();
            (status != "queued" && status != "running").then_some(run)
        })
        .await;
        finished.unwrap_or_else(|| panic!("run {run_id} still active after 60 s"))
    }

    pub(crate) async fn store_bars(&self, symbol: &str, bars: &[Bar]) {
        let symbol = Symbol::parse(symbol).unwrap();
        let preference = domain::reconcile::ProviderPreference::default();
        self.storage.upsert_bars(&symbol, Interval::Day1, bars, &preference).await.unwrap();
    }
}

pub(crate) struct Response {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a 2xx and returns the JSON body.
    pub(crate) fn ok(&self) -> Value {
        assert!(self.status.is_success(), "{}: {}", self.status, String::from_utf8_lossy(&self.body));
        self.json()
    }

    /// Asserts an error in our format with this status and code; returns the body.
    pub(crate) fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("application/json"), "content type {content_type:?}");
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        body
    }
}

pub(crate) fn day(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

pub(crate) fn bar(ts: chrono::DateTime<Utc>, close: Option<f64>) -> Bar {
    Bar {
        ts,
        open: close.map(|c| c - 1.0),
        high: close.map(|c| c + 2.0),
        low: close.map(|c| c - 2.0),
        close,
        adj_close: None,
        volume: Some(1000),
        provider: ProviderId::Sample,
        partial: false,
        flag: None,
    }
}

/// A post by `author` in r/stocks at `created_at`, mentioning each of `symbols` (kind `cashtag`).
pub(crate) fn post_with_mentions(
    id: &str,
    author: &str,
    created_at: chrono::DateTime<Utc>,
    sentiment: f64,
    symbols: &[&str],
) -> (SocialPost, Vec<Mention>) {
    let post = SocialPost {
        source: PostSource::Reddit,
        post_id: id.to_owned(),
        subreddit: "stocks".to_owned(),
        author: author.to_owned(),
        created_at,
        title: format!("post {id}"),
        permalink: None,
        sentiment,
    };
    let mentions = symbols
        .iter()
        .map(|symbol| Mention {
            source: PostSource::Reddit,
            post_id: id.to_owned(),
            symbol: Symbol::parse(symbol).unwrap(),
            kind: MentionKind::Cashtag,
            author: author.to_owned(),
            subreddit: "stocks".to_owned(),
            created_at,
            sentiment,
        })
        .collect();
    (post, mentions)
}

impl TestApp {
    /// Stores posts `(id, author, minutes ago, sentiment, symbols)` relative to now.
    pub(crate) async fn store_mentions(&self, posts: &[(&str, &str, i64, f64, &[&str])]) {
        let now = Utc::now();
        let mut all_posts = Vec::new();
        let mut all_mentions = Vec::new();
        for &(id, author, minutes_ago, sentiment, symbols) in posts {
            let created_at = now - chrono::TimeDelta::minutes(minutes_ago);
            let (post, mentions) = post_with_mentions(id, author, created_at, sentiment, symbols);
            all_posts.push(post);
            all_mentions.extend(mentions);
        }
        self.storage.save_social_posts(&all_posts, &all_mentions).await.unwrap();
    }

    pub(crate) async fn record_scan(&self, status: ScanStatus, posts_read: u64, error: Option<&str>) {
        let now = Utc::now();
        self.storage
            .record_social_scan(&SocialScan {
                started_at: now - chrono::TimeDelta::minutes(1),
                finished_at: now,
                source: PostSource::Reddit,
                subreddits: vec!["stocks".to_owned(), "wallstreetbets".to_owned()],
                posts_read,
                mentions_found: 0,
                status,
                error: error.map(str::to_owned),
            })
            .await
            .unwrap();
    }
}

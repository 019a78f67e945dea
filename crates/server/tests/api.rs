//! API tests: the real router over a real SQLite file, the real job engine running the real
//! download-tracker over the offline `sample` provider, and the real export service on a temp
//! dir. Most tests drive the router with `oneshot`; one serves it over TCP on port 0.

use std::sync::Arc;
use std::time::{Duration, Instant};

use analysis::{AnalysisConfig, AnalysisService};
use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{TimeZone, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use jobs::{
    AnalysisJob, DownloadTracker, DownloadTrackerConfig, ExportService, ExportsConfig, Job, JobContext,
    JobEngine, JobOutcome, RetentionConfig,
};
use providers::ProviderChain;
use providers::sample::SampleProvider;
use serde_json::{Value, json};
use server::{ApiToken, AppState, ServerConfig};
use sha2::{Digest, Sha256};
use storage::{DatabaseConfig, MentionRecord, NewSocialScan, SocialPost, SocialScanStatus, Storage};
use tempfile::TempDir;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// A token from config, accepted without a database lookup.
const CONFIG_TOKEN: &str = "tw_config_token_for_tests_0123456789";
/// Body limit in the tests: small, so "oversized" is cheap to send.
const BODY_LIMIT: usize = 1024;

/// A job that runs until the test opens its gate, so "a trigger while active" is deterministic.
struct GateJob {
    gate: Arc<Semaphore>,
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

struct TestApp {
    state: AppState,
    storage: Storage,
    gate: Arc<Semaphore>,
    /// A token stored (hashed) in the database, as `tickerwatch token create` makes them.
    token: String,
    _dir: TempDir,
}

impl TestApp {
    async fn new() -> Self {
        Self::with_config(ServerConfig::default()).await
    }

    async fn with_config(mut config: ServerConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let storage = Storage::connect(&url, &DatabaseConfig::default()).await.unwrap();
        storage.migrate().await.unwrap();
        let exports = ExportService::new(
            storage.clone(),
            ExportsConfig {
                dir: dir.path().join("exports"),
                retention: RetentionConfig { keep_last: None, max_age_days: None },
            },
        );
        exports.recover().await.unwrap();
        let chain = ProviderChain::new(vec![Arc::new(SampleProvider::new())]);
        let tracker =
            DownloadTracker::new(chain.clone(), exports.clone(), DownloadTrackerConfig::default()).unwrap();
        let gate = Arc::new(Semaphore::new(0));
        let engine = JobEngine::start(
            storage.clone(),
            vec![
                tracker.into_job(),
                Arc::new(GateJob { gate: Arc::clone(&gate) }),
                Arc::new(AnalysisJob::new(
                    AnalysisService::new(storage.clone(), None, &AnalysisConfig::default(), None).unwrap(),
                    chain.clone(),
                )),
            ],
            Vec::new(),
        )
        .await
        .unwrap();

        let token = server::generate_token();
        storage.create_token("tests", &server::hash_token(&token)).await.unwrap();
        config.auth.tokens.push(ApiToken::new(CONFIG_TOKEN));
        config.request_body_limit_bytes = BODY_LIMIT;
        let state = AppState::new(storage.clone(), Arc::new(engine), exports, chain, config);
        Self { state, storage, gate, token, _dir: dir }
    }

    fn router(&self) -> Router {
        server::router(self.state.clone())
    }

    async fn send(&self, request: Request<Body>) -> Response {
        let response = self.router().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        Response { status, headers, body }
    }

    async fn get(&self, uri: &str) -> Response {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    /// A request with the stored token and, if given, a JSON body.
    async fn authed(&self, method: Method, uri: &str, body: Option<Value>) -> Response {
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
    async fn wait_for_run(&self, run_id: i64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let run = self.get(&format!("/api/jobs/runs/{run_id}")).await.ok();
            let status = run["status"].as_str().unwrap().to_owned();
            if status != "queued" && status != "running" {
                return run;
            }
            assert!(Instant::now() < deadline, "run {run_id} still {status} after 60 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn store_bars(&self, symbol: &str, bars: &[Bar]) {
        let symbol = Symbol::parse(symbol).unwrap();
        let preference = domain::reconcile::ProviderPreference::default();
        self.storage.upsert_bars(&symbol, Interval::Day1, bars, &preference).await.unwrap();
    }
}

struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Response {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a 2xx and returns the JSON body.
    fn ok(&self) -> Value {
        assert!(self.status.is_success(), "{}: {}", self.status, String::from_utf8_lossy(&self.body));
        self.json()
    }

    /// Asserts an error in our format with this status and code; returns the body.
    fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        let content_type = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("application/json"), "content type {content_type:?}");
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        body
    }
}

fn day(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn bar(ts: chrono::DateTime<Utc>, close: Option<f64>) -> Bar {
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

// ---------------------------------------------------------------- ops, spec, docs

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await.ok()["status"], "ok");
    assert_eq!(app.get("/readyz").await.ok()["status"], "ready");
    app.storage.close().await;
    app.get("/readyz").await.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    // Metrics still scrape, without the job figures the database would give.
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&metrics.body).contains("process_open_fds"));
}

#[tokio::test]
async fn metrics_expose_the_documented_series() {
    let app = TestApp::new().await;
    app.get("/api/symbols/AAPL/bars").await.ok();
    app.get("/api/symbols/AAPL/quote").await.ok();
    app.authed(Method::POST, "/api/jobs/gate/trigger", None).await.ok();
    let response = app.get("/metrics").await;
    assert_eq!(response.status, StatusCode::OK);
    let text = String::from_utf8(response.body).unwrap();
    for name in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "job_runs_total",
        "job_run_duration_seconds_sum",
        "provider_chain_requests_total",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    // Labelled by the route template, never the raw path.
    assert!(text.contains("route=\"/api/symbols/{symbol}/bars\""), "{text}");
    assert!(!text.contains("/api/symbols/AAPL/bars"), "{text}");
    assert!(
        text.contains("job_runs_total{job=\"gate\",status=\"queued\"} 1")
            || text.contains("job_runs_total{job=\"gate\",status=\"running\"} 1"),
        "{text}"
    );
    app.gate.add_permits(1);
}

#[tokio::test]
async fn openapi_spec_is_generated_and_lists_every_endpoint() {
    let app = TestApp::new().await;
    let spec = app.get("/api/openapi.json").await.ok();
    assert!(spec["openapi"].as_str().unwrap().starts_with('3'), "{}", spec["openapi"]);
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/watchlist", "get"),
        ("/api/watchlist", "post"),
        ("/api/watchlist/{symbol}", "delete"),
        ("/api/symbols/{symbol}/bars", "get"),
        ("/api/symbols/{symbol}/quote", "get"),
        ("/api/symbols/{symbol}/indicators", "get"),
        ("/api/jobs", "get"),
        ("/api/jobs/{name}/trigger", "post"),
        ("/api/jobs/runs", "get"),
        ("/api/jobs/runs/{id}", "get"),
        ("/api/exports", "get"),
        ("/api/exports/{id}", "get"),
        ("/api/exports/{id}", "delete"),
        ("/api/exports/{id}/download", "get"),
        ("/api/social/mentions", "get"),
        ("/api/social/trending", "get"),
        ("/api/social/symbols/{symbol}/buckets", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the spec"
        );
    }
    // Operation ids are unique (client generators depend on it).
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let n_operations = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n_operations, "duplicate operationId in {ids:?}");
    assert_eq!(n_operations, 24);
    // Mutating operations declare the bearer scheme.
    assert!(paths["/api/jobs/{name}/trigger"]["post"]["security"].is_array());
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    assert!(spec["components"]["schemas"]["ErrorResponse"].is_object());
}

#[tokio::test]
async fn docs_ui_is_served_offline() {
    let app = TestApp::new().await;
    let response = app.get("/api/docs/").await;
    assert_eq!(response.status, StatusCode::OK);
    let content_type = response.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = String::from_utf8_lossy(&response.body);
    assert!(html.contains("swagger"), "{html}");
    // The UI's assets come from the binary, not a CDN.
    assert!(!html.contains("https://"), "{html}");
    assert_eq!(app.get("/api/docs/swagger-ui.css").await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_format() {
    let app = TestApp::new().await;
    app.get("/api/nope").await.error(StatusCode::NOT_FOUND, "not_found");
    let response = app.authed(Method::PUT, "/api/watchlist", None).await;
    response.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(response.headers.contains_key(header::ALLOW));
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn mutations_need_a_valid_token() {
    let app = TestApp::new().await;
    let post = |auth: Option<String>| {
        let mut request = Request::post("/api/jobs/gate/trigger");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        request.body(Body::empty()).unwrap()
    };
    let response = app.send(post(None)).await;
    response.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(response.headers[header::WWW_AUTHENTICATE], "Bearer");
    app.send(post(Some("Bearer tw_not_a_real_token".into())))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.send(post(Some(format!("Basic {}", app.token))))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.send(post(Some(format!("Bearer {CONFIG_TOKEN}")))).await.ok();
    // Reads are open by default.
    app.get("/api/watchlist").await.ok();
    app.gate.add_permits(1);
}

#[tokio::test]
async fn revoked_tokens_are_forbidden() {
    let app = TestApp::new().await;
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "AAPL"}))).await.ok();
    assert!(app.storage.revoke_token("tests").await.unwrap());
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "MSFT"})))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.authed(Method::DELETE, "/api/watchlist/AAPL", None).await.error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn protect_reads_closes_get_requests() {
    let mut config = ServerConfig::default();
    config.auth.protect_reads = true;
    let app = TestApp::with_config(config).await;
    app.get("/api/watchlist").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.authed(Method::GET, "/api/watchlist", None).await.ok();
    // Probes and docs stay open.
    app.get("/healthz").await.ok();
    app.get("/api/openapi.json").await.ok();
}

// ---------------------------------------------------------------- watchlist

#[tokio::test]
async fn watchlist_crud() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/watchlist").await.ok(), json!([]));

    let response = app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "msft"}))).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.json(), json!({"symbol": "MSFT", "added": true}));
    let again = app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "MSFT"}))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["added"], false);
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "AAPL"}))).await.ok();

    let list = app.get("/api/watchlist").await.ok();
    let symbols: Vec<&str> = list.as_array().unwrap().iter().map(|e| e["symbol"].as_str().unwrap()).collect();
    assert_eq!(symbols, ["AAPL", "MSFT"]);
    assert!(list[0]["added_at"].as_str().unwrap().contains('T'));

    let deleted = app.authed(Method::DELETE, "/api/watchlist/msft", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.authed(Method::DELETE, "/api/watchlist/MSFT", None).await.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/watchlist").await.ok().as_array().unwrap().len(), 1);

    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "A;DROP"})))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

// ---------------------------------------------------------------- bad bodies

#[tokio::test]
async fn malformed_json_is_422_in_our_format() {
    let app = TestApp::new().await;
    let send = |body: &'static str, content_type: Option<&'static str>| {
        let mut request =
            Request::post("/api/watchlist").header(header::AUTHORIZATION, format!("Bearer {}", app.token));
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        app.send(request.body(Body::from(body)).unwrap())
    };
    send("{\"symbol\": ", Some("application/json"))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json");
    send("{\"ticker\": \"AAPL\"}", Some("application/json"))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json");
    send("[1, 2]", Some("application/json")).await.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json");
    send("{\"symbol\": \"AAPL\"}", None)
        .await
        .error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
}

#[tokio::test]
async fn oversized_bodies_are_413_in_our_format() {
    let app = TestApp::new().await;
    let big = format!("{{\"symbol\": \"{}\"}}", "A".repeat(BODY_LIMIT * 2));
    let request = |with_length: bool| {
        let mut request = Request::post("/api/watchlist")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
            .header(header::CONTENT_TYPE, "application/json");
        if with_length {
            request = request.header(header::CONTENT_LENGTH, big.len());
        }
        request.body(Body::from(big.clone())).unwrap()
    };
    // Refused from the Content-Length header before the handler runs…
    let body = app.send(request(true)).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("1024"), "{body}");
    // …and while reading a body sent without one.
    app.send(request(false)).await.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

// ---------------------------------------------------------------- symbols

#[tokio::test]
async fn bars_are_served_from_storage_with_exact_values() {
    let app = TestApp::new().await;
    let mut bars = vec![
        bar(day(2024, 1, 2), Some(100.5)),
        bar(day(2024, 1, 3), None),
        bar(day(2024, 1, 4), Some(102.25)),
    ];
    bars[0].flag = Some("jump".to_owned());
    app.store_bars("AAPL", &bars).await;

    let body = app.get("/api/symbols/aapl/bars?from=2024-01-01&to=2024-12-31&interval=1d").await.ok();
    assert_eq!(body["symbol"], "AAPL");
    assert_eq!(body["interval"], "1d");
    assert_eq!(body["count"], 3);
    assert_eq!(body["truncated"], false);
    assert_eq!(
        body["bars"][0],
        json!({"date": "2024-01-02", "open": 99.5, "high": 102.5, "low": 98.5, "close": 100.5,
               "adj_close": null, "volume": 1000, "provider": "sample", "partial": false, "flag": "jump"})
    );
    // Missing values are null, never 0.
    assert_eq!(body["bars"][1]["close"], Value::Null);
    assert_eq!(body["bars"][1]["open"], Value::Null);
    assert_eq!(body["bars"][2]["close"], 102.25);

    // `to` is inclusive, `from` too.
    let one = app.get("/api/symbols/AAPL/bars?from=2024-01-03&to=2024-01-03").await.ok();
    assert_eq!(one["count"], 1);
    assert_eq!(one["bars"][0]["date"], "2024-01-03", "a trading day has a date");
    assert!(one["bars"][0].get("ts").is_none());
    // Truncation is said, not silent.
    let first = app.get("/api/symbols/AAPL/bars?limit=2").await.ok();
    assert_eq!((first["count"].as_u64(), first["truncated"].as_bool()), (Some(2), Some(true)));
    // An unknown (valid) symbol has no bars.
    assert_eq!(app.get("/api/symbols/ZZZZ/bars").await.ok()["bars"], json!([]));
}

#[tokio::test]
async fn bars_keep_their_exact_json_and_the_uncached_route_sees_new_bars_at_once() {
    let app = TestApp::with_config(ServerConfig { bars_cache_ttl_ms: 0, ..ServerConfig::default() }).await;
    let aapl = Symbol::parse("AAPL").unwrap();
    let preference = domain::reconcile::ProviderPreference::default();
    // Five-minute bars of the New York session of 2 January 2024 (14:30Z is 9:30 there).
    let open = Utc.with_ymd_and_hms(2024, 1, 2, 14, 30, 0).unwrap();
    let mut intraday: Vec<Bar> =
        (0..3).map(|i| bar(open + chrono::Duration::minutes(5 * i), Some(100.5 + i as f64))).collect();
    intraday[1].flag = Some("jump".to_owned());
    intraday[1].volume = None;
    intraday[2].partial = true;
    app.storage.upsert_bars(&aapl, Interval::Min5, &intraday, &preference).await.unwrap();

    let five = "/api/symbols/AAPL/bars?interval=5m&from=2024-01-02&to=2024-01-02";
    // Byte for byte: field order, `ts` (not `date`) for intraday bars, nulls, integers.
    assert_eq!(
        String::from_utf8(app.get(five).await.body).unwrap(),
        r#"{"symbol":"AAPL","interval":"5m","bars":[{"ts":"2024-01-02T14:30:00Z","open":99.5,"high":102.5,"low":98.5,"close":100.5,"adj_close":null,"volume":1000,"provider":"sample","partial":false,"flag":null},{"ts":"2024-01-02T14:35:00Z","open":100.5,"high":103.5,"low":99.5,"close":101.5,"adj_close":null,"volume":null,"provider":"sample","partial":false,"flag":"jump"},{"ts":"2024-01-02T14:40:00Z","open":101.5,"high":104.5,"low":100.5,"close":102.5,"adj_close":null,"volume":1000,"provider":"sample","partial":true,"flag":null}],"count":3,"truncated":false}"#
    );
    let limited = app.get(&format!("{five}&limit=2")).await.ok();
    assert_eq!((limited["count"].as_u64(), limited["truncated"].as_bool()), (Some(2), Some(true)));
    // The day before and after in New York hold none of them.
    let other_day = app.get("/api/symbols/AAPL/bars?interval=5m&from=2024-01-03&to=2024-01-05").await.ok();
    assert_eq!(other_day["count"], 0);

    app.store_bars("AAPL", &[bar(day(2024, 1, 2), Some(100.0))]).await;
    let daily = "/api/symbols/AAPL/bars?from=2024-01-01&to=2024-01-31";
    assert_eq!(
        String::from_utf8(app.get(daily).await.body).unwrap(),
        r#"{"symbol":"AAPL","interval":"1d","bars":[{"date":"2024-01-02","open":99.0,"high":102.0,"low":98.0,"close":100.0,"adj_close":null,"volume":1000,"provider":"sample","partial":false,"flag":null}],"count":1,"truncated":false}"#
    );
    // No cache: a bar stored now is served by the very next request.
    app.store_bars("AAPL", &[bar(day(2024, 1, 3), Some(101.0))]).await;
    assert_eq!(app.get(daily).await.ok()["count"], 2);

    // The read pool is visible in the metrics.
    let metrics = String::from_utf8(app.get("/metrics").await.body).unwrap();
    assert!(metrics.contains("sqlite_read_connections_max 4"), "{metrics}");
    assert!(metrics.contains("sqlite_read_connections_open "), "{metrics}");
}

#[tokio::test]
async fn disagreements_between_providers_are_listed() {
    let app = TestApp::new().await;
    let sample: Vec<Bar> = (2..5).map(|d| bar(day(2024, 1, d), Some(100.0))).collect();
    app.store_bars("AAPL", &sample).await;
    // Yahoo is preferred over the sample: its days replace the sample's, and where they differ
    // beyond the tolerance the difference is listed.
    let mut yahoo = sample.clone();
    for bar in &mut yahoo {
        bar.provider = ProviderId::Yahoo;
    }
    yahoo[1].close = Some(103.0);
    app.store_bars("AAPL", &yahoo).await;

    let body = app.get("/api/symbols/AAPL/disagreements?from=2024-01-01&to=2024-01-31").await.ok();
    assert_eq!(
        (body["symbol"].as_str(), body["interval"].as_str(), body["count"].as_u64()),
        (Some("AAPL"), Some("1d"), Some(1))
    );
    assert_eq!(
        body["disagreements"][0],
        json!({"date": "2024-01-03", "field": "close", "kept_provider": "yahoo", "kept_value": 103.0,
               "other_provider": "sample", "other_value": 100.0, "relative_difference": (100.0 - 103.0) / 103.0})
    );
    let bars = app.get("/api/symbols/AAPL/bars").await.ok();
    assert_eq!(bars["count"], 3, "one bar per day");
    assert!(bars["bars"].as_array().unwrap().iter().all(|b| b["provider"] == "yahoo"));
    let none = app.get("/api/symbols/AAPL/disagreements?from=2024-01-04&to=2024-01-31").await.ok();
    assert_eq!(none["count"], 0);
    app.get("/api/symbols/AAPL/disagreements?from=2024-02-01&to=2024-01-01")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_range");
}

#[tokio::test]
async fn from_after_to_is_invalid_range() {
    let app = TestApp::new().await;
    let body = app
        .get("/api/symbols/AAPL/bars?from=2024-03-01&to=2024-01-01")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_range");
    assert!(body["error"]["message"].as_str().unwrap().contains("2024-03-01"), "{body}");
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let app = TestApp::new().await;
    app.get("/api/symbols/AAPL/bars?from=yesterday").await.error(StatusCode::BAD_REQUEST, "bad_request");
    let body =
        app.get("/api/symbols/AAPL/bars?interval=2d").await.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("2d"), "{body}");
    app.get("/api/symbols/AAPL/bars?frm=2024-01-01").await.error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/jobs/runs/abc").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn bad_symbols_in_paths_are_400_naming_the_symbol() {
    let app = TestApp::new().await;
    for (path, named) in [
        ("/api/symbols/A;DROP/bars", "A;DROP"),
        ("/api/symbols/..%2Fetc/quote", "../etc"),
        ("/api/symbols/WAYTOOLONGSYMBOLNAME/indicators", "WAYTOOLONGSYMBOLNAME"),
    ] {
        let body = app.get(path).await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
        assert!(body["error"]["message"].as_str().unwrap().contains(named), "{path}: {body}");
    }
    app.authed(Method::DELETE, "/api/watchlist/A$B", None)
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

#[tokio::test]
async fn quote_falls_back_to_the_chain_and_is_stored() {
    let app = TestApp::new().await;
    let symbol = Symbol::parse("AAPL").unwrap();
    assert!(app.storage.latest_quote(&symbol).await.unwrap().is_none());
    let quote = app.get("/api/symbols/AAPL/quote").await.ok();
    assert_eq!(quote["symbol"], "AAPL");
    assert_eq!(quote["provider"], "sample");
    assert_eq!(quote["source"], "last_bar_close");
    assert!(quote["price"].as_f64().unwrap() > 0.0);
    let stored = app.storage.latest_quote(&symbol).await.unwrap().expect("the fetched quote was stored");
    assert_eq!(Some(stored.price), quote["price"].as_f64());
    // Served from storage the second time, same values.
    assert_eq!(app.get("/api/symbols/AAPL/quote").await.ok(), quote);
    // A symbol no provider knows.
    app.get("/api/symbols/NOPE/quote").await.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn indicators_are_computed_over_stored_daily_bars() {
    let app = TestApp::new().await;
    // 60 days of closes 1, 2, …, 60.
    let bars: Vec<Bar> =
        (0..60).map(|i| bar(day(2024, 1, 1) + chrono::Days::new(i), Some((i + 1) as f64))).collect();
    app.store_bars("IBM", &bars).await;
    let body = app.get("/api/symbols/IBM/indicators").await.ok();
    assert_eq!(body["symbol"], "IBM");
    assert_eq!(body["bars_used"], 60);
    assert_eq!(body["last_close"], 60.0);
    assert_eq!(body["as_of"], "2024-02-29T00:00:00Z");
    // SMA 20 of 41..=60 is 50.5; SMA 50 of 11..=60 is 35.5.
    assert_eq!(body["sma20"], 50.5);
    assert_eq!(body["sma50"], 35.5);
    assert_eq!(body["rsi14"], 100.0);
    app.get("/api/symbols/MSFT/indicators").await.error(StatusCode::NOT_FOUND, "not_found");
}

// ---------------------------------------------------------------- jobs

#[tokio::test]
async fn unknown_job_is_404() {
    let app = TestApp::new().await;
    app.authed(Method::POST, "/api/jobs/no-such-job/trigger", None)
        .await
        .error(StatusCode::NOT_FOUND, "unknown_job");
}

#[tokio::test]
async fn trigger_is_single_flight() {
    let app = TestApp::new().await;
    let accepted = app.authed(Method::POST, "/api/jobs/gate/trigger", None).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
    let accepted = accepted.json();
    assert_eq!(accepted["job"], "gate");
    assert_eq!(accepted["status"], "queued");
    let run_id = accepted["run_id"].as_i64().unwrap();

    let refused = app
        .authed(Method::POST, "/api/jobs/gate/trigger", None)
        .await
        .error(StatusCode::CONFLICT, "conflict");
    assert_eq!(refused["run_id"], run_id);

    let jobs = app.get("/api/jobs").await.ok();
    let names: Vec<&str> = jobs.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"gate") && names.contains(&"download-tracker"), "{jobs}");

    app.gate.add_permits(1);
    let run = app.wait_for_run(run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["id"], run_id);
    assert_eq!(run["job"], "gate");
    for key in ["queued_at", "started_at", "finished_at"] {
        assert!(run[key].is_string(), "{key}: {run}");
    }
    assert_eq!(run["items"], json!([]));
    // Free again.
    let again = app.authed(Method::POST, "/api/jobs/gate/trigger", None).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    let again_id = again.json()["run_id"].as_i64().unwrap();
    app.wait_for_run(again_id).await;

    let runs = app.get("/api/jobs/runs?job=gate&limit=1").await.ok();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["id"], again_id);
    assert_eq!(app.get("/api/jobs/runs?job=download-tracker").await.ok(), json!([]));
    app.get("/api/jobs/runs/999999").await.error(StatusCode::NOT_FOUND, "not_found");
}

// ---------------------------------------------------------------- exports

#[tokio::test]
async fn download_tracker_run_writes_a_downloadable_export() {
    let app = TestApp::new().await;
    for symbol in ["AAPL", "MSFT", "NOPE"] {
        app.authed(Method::POST, "/api/watchlist", Some(json!({ "symbol": symbol }))).await.ok();
    }
    let run_id = app.authed(Method::POST, "/api/jobs/download-tracker/trigger", None).await.ok()["run_id"]
        .as_i64()
        .unwrap();
    let run = app.wait_for_run(run_id).await;
    // NOPE is not in the sample data: it fails alone.
    assert_eq!(run["status"], "partial", "{run}");
    let items = run["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{run}");
    let item = |symbol: &str| items.iter().find(|i| i["symbol"] == symbol).unwrap().clone();
    assert_eq!(item("AAPL")["status"], "succeeded");
    assert!(item("AAPL")["bars"].as_u64().unwrap() > 200, "{run}");
    assert_eq!(item("AAPL")["provider"], "sample");
    assert_eq!(item("NOPE")["status"], "failed");
    assert!(item("NOPE")["error"].is_string());
    let export_id = run["export_id"].as_i64().expect("the run wrote an export");

    let exports = app.get("/api/exports").await.ok();
    let listed = exports.as_array().unwrap().iter().find(|e| e["id"] == export_id).unwrap().clone();
    assert_eq!(listed["status"], "ready");
    assert_eq!(listed["format"], "csv");
    assert_eq!(listed["run_id"], run_id);
    assert!(listed["rows"].as_u64().unwrap() > 0);
    assert_eq!(app.get(&format!("/api/exports/{export_id}")).await.ok(), listed);

    let download = app.get(&format!("/api/exports/{export_id}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        download.headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"tickerwatch-{export_id}.csv\"").as_str()
    );
    assert_eq!(listed["bytes"].as_u64(), Some(download.body.len() as u64));
    assert_eq!(listed["sha256"].as_str(), Some(hex::encode(Sha256::digest(&download.body)).as_str()));
    assert!(String::from_utf8_lossy(&download.body).contains("AAPL"));

    let deleted = app.authed(Method::DELETE, &format!("/api/exports/{export_id}"), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.get(&format!("/api/exports/{export_id}/download"))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_export");
}

#[tokio::test]
async fn unknown_export_is_404() {
    let app = TestApp::new().await;
    app.get("/api/exports/4242/download").await.error(StatusCode::NOT_FOUND, "unknown_export");
    app.get("/api/exports/4242").await.error(StatusCode::NOT_FOUND, "unknown_export");
    app.authed(Method::DELETE, "/api/exports/4242", None)
        .await
        .error(StatusCode::NOT_FOUND, "unknown_export");
    app.get("/api/exports/abc/download").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn export_still_being_written_is_409() {
    let app = TestApp::new().await;
    let record = app.storage.create_export("csv", "bars", "in-progress.csv", None).await.unwrap();
    let body = app
        .get(&format!("/api/exports/{}/download", record.id))
        .await
        .error(StatusCode::CONFLICT, "export_not_ready");
    assert!(body["error"]["message"].as_str().unwrap().contains("being written"), "{body}");
    let listed = app.get("/api/exports").await.ok();
    assert_eq!(listed[0]["status"], "writing");
}

// ---------------------------------------------------------------- social

/// A post by `author` in r/stocks at `created_at`, mentioning each of `symbols` (kind `cashtag`).
fn post_with_mentions(
    id: &str,
    author: &str,
    created_at: chrono::DateTime<Utc>,
    sentiment: f64,
    symbols: &[&str],
) -> (SocialPost, Vec<MentionRecord>) {
    let post = SocialPost {
        source: "reddit".to_owned(),
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
        .map(|symbol| MentionRecord {
            source: "reddit".to_owned(),
            post_id: id.to_owned(),
            symbol: (*symbol).to_owned(),
            kind: "cashtag".to_owned(),
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
    async fn store_mentions(&self, posts: &[(&str, &str, i64, f64, &[&str])]) {
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

    async fn record_scan(&self, status: SocialScanStatus, posts_read: u64, error: Option<&str>) {
        let now = Utc::now();
        self.storage
            .record_social_scan(&NewSocialScan {
                started_at: now - chrono::TimeDelta::minutes(1),
                finished_at: now,
                source: "reddit".to_owned(),
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

#[tokio::test]
async fn mentions_are_listed_newest_first_with_values() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("p1", "alice", 30, 0.5, &["AAPL", "BRK-B"]),
        ("p2", "bob", 10, -0.25, &["AAPL"]),
        // Older than the default 24 hours.
        ("p3", "carol", 3 * 24 * 60, 0.0, &["AAPL"]),
    ])
    .await;

    let body = app.get("/api/social/mentions").await.ok();
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{body}");
    let first = &listed[0];
    assert_eq!(first["post_id"], "p2");
    assert_eq!(first["symbol"], "AAPL");
    assert_eq!(first["source"], "reddit");
    assert_eq!(first["kind"], "cashtag");
    assert_eq!(first["author"], "bob");
    assert_eq!(first["subreddit"], "stocks");
    assert_eq!(first["sentiment"], -0.25);
    assert!(first["created_at"].as_str().unwrap().contains('T'), "{first}");
    // p1's two mentions follow, ties ordered by symbol.
    assert_eq!((listed[1]["post_id"].as_str(), listed[1]["symbol"].as_str()), (Some("p1"), Some("AAPL")));
    assert_eq!((listed[2]["post_id"].as_str(), listed[2]["symbol"].as_str()), (Some("p1"), Some("BRK-B")));
    assert_eq!(listed[2]["sentiment"], 0.5);

    // `since` as a date or a time reaches further back.
    let week_ago = (Utc::now() - chrono::TimeDelta::days(7)).format("%Y-%m-%d").to_string();
    assert_eq!(
        app.get(&format!("/api/social/mentions?since={week_ago}")).await.ok().as_array().unwrap().len(),
        4
    );
    let since = (Utc::now() - chrono::TimeDelta::minutes(20)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let recent = app.get(&format!("/api/social/mentions?since={since}")).await.ok();
    assert_eq!(recent.as_array().unwrap().len(), 1, "{recent}");
    assert_eq!(recent[0]["post_id"], "p2");
    // `limit` keeps the newest.
    let limited = app.get("/api/social/mentions?limit=1").await.ok();
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["post_id"], "p2");
}

#[tokio::test]
async fn mentions_filter_by_symbol() {
    let app = TestApp::new().await;
    app.store_mentions(&[("p1", "alice", 30, 0.5, &["AAPL", "BRK-B"]), ("p2", "bob", 10, -0.25, &["AAPL"])])
        .await;
    let aapl = app.get("/api/social/mentions?symbol=aapl").await.ok();
    let posts: Vec<&str> = aapl.as_array().unwrap().iter().map(|m| m["post_id"].as_str().unwrap()).collect();
    assert_eq!(posts, ["p2", "p1"]);
    assert!(aapl.as_array().unwrap().iter().all(|m| m["symbol"] == "AAPL"), "{aapl}");
    // The universe spelling with a dash.
    let brk = app.get("/api/social/mentions?symbol=BRK-B").await.ok();
    assert_eq!(brk.as_array().unwrap().len(), 1, "{brk}");
    assert_eq!(brk[0]["symbol"], "BRK-B");
    assert_eq!(brk[0]["author"], "alice");
    assert_eq!(app.get("/api/social/mentions?symbol=MSFT").await.ok(), json!([]));
}

#[tokio::test]
async fn bad_social_queries_are_400() {
    let app = TestApp::new().await;
    let body =
        app.get("/api/social/mentions?symbol=A;DROP").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
    assert!(body["error"]["message"].as_str().unwrap().contains("A;DROP"), "{body}");
    app.get("/api/social/mentions?symbol=").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
    for since in ["yesterday", "2024-13-01", "2024-01-02T03:04:05"] {
        let body = app
            .get(&format!("/api/social/mentions?since={since}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(body["error"]["message"].as_str().unwrap().contains(since), "{body}");
    }
    app.get("/api/social/mentions?limit=-1").await.error(StatusCode::BAD_REQUEST, "bad_request");
    for window in ["0h", "31d", "721h", "1w", "abc", "h"] {
        let body = app
            .get(&format!("/api/social/trending?window={window}"))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_window");
        assert!(body["error"]["message"].as_str().unwrap().contains(window), "{body}");
    }
    app.get("/api/social/trending?windw=24h").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn trending_ranks_symbols_with_values_and_coverage() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("p1", "alice", 30, 0.5, &["AAPL", "TSLA"]),
        ("p2", "bob", 20, -0.5, &["AAPL"]),
        ("p3", "alice", 10, 0.0, &["AAPL"]),
        // Outside 24h, inside 7d.
        ("p4", "dave", 3 * 24 * 60, 0.8, &["TSLA", "GME"]),
    ])
    .await;
    app.record_scan(SocialScanStatus::Complete, 42, None).await;

    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["window"], "24h");
    let since = chrono::DateTime::parse_from_rfc3339(body["since"].as_str().unwrap()).unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(body["until"].as_str().unwrap()).unwrap();
    assert_eq!(until - since, chrono::TimeDelta::hours(24));
    let symbols = body["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 2, "{body}");
    let aapl = &symbols[0];
    assert_eq!(aapl["symbol"], "AAPL");
    assert_eq!(aapl["mentions"], 3);
    assert_eq!(aapl["unique_authors"], 2);
    assert!((aapl["mean_sentiment"].as_f64().unwrap()).abs() < 1e-9, "{aapl}");
    assert_eq!(aapl["bullish"], 1);
    assert_eq!(aapl["bearish"], 1);
    // Three mentions in the last hour against an empty baseline.
    assert_eq!(aapl["spike_score"], 3.0);
    assert_eq!(symbols[1]["symbol"], "TSLA");
    assert_eq!(symbols[1]["mentions"], 1);
    assert_eq!(symbols[1]["mean_sentiment"], 0.5);

    let coverage = &body["coverage"];
    assert_eq!(coverage["status"], "complete");
    assert_eq!(coverage["source"], "reddit");
    assert_eq!(coverage["posts_read"], 42);
    assert_eq!(coverage["subreddits"], json!(["stocks", "wallstreetbets"]));
    assert_eq!(coverage["error"], Value::Null);
    assert!(
        coverage["id"].is_i64() && coverage["started_at"].is_string() && coverage["finished_at"].is_string()
    );

    // A wider window sees the older post; `limit` cuts the list.
    let week = app.get("/api/social/trending?window=7d").await.ok();
    assert_eq!(week["window"], "7d");
    let names: Vec<&str> =
        week["symbols"].as_array().unwrap().iter().map(|s| s["symbol"].as_str().unwrap()).collect();
    assert_eq!(names, ["AAPL", "TSLA", "GME"]);
    assert_eq!(week["symbols"][1]["mentions"], 2);
    let top = app.get("/api/social/trending?window=7d&limit=1").await.ok();
    assert_eq!(top["symbols"].as_array().unwrap().len(), 1);
    // A short window.
    assert_eq!(app.get("/api/social/trending?window=1h").await.ok()["symbols"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn trending_without_a_scan_has_null_coverage() {
    let app = TestApp::new().await;
    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["symbols"], json!([]));
    assert_eq!(body["coverage"], Value::Null);
}

#[tokio::test]
async fn a_blocked_scan_is_visible_in_trending() {
    let app = TestApp::new().await;
    app.record_scan(SocialScanStatus::Complete, 10, None).await;
    app.record_scan(SocialScanStatus::Blocked, 0, Some("reddit answered 403 (block page)")).await;
    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["symbols"], json!([]));
    // Not "0 mentions": the latest scan says it was blocked, and why.
    assert_eq!(body["coverage"]["status"], "blocked", "{body}");
    assert_eq!(body["coverage"]["posts_read"], 0);
    assert!(body["coverage"]["error"].as_str().unwrap().contains("403"), "{body}");
}

// ---------------------------------------------------------------- CORS

#[tokio::test]
async fn cors_is_closed_unless_origins_are_listed() {
    let with_origin = |origin: &str| {
        Request::get("/api/watchlist").header(header::ORIGIN, origin).body(Body::empty()).unwrap()
    };
    let closed = TestApp::new().await;
    let response = closed.send(with_origin("https://evil.example")).await;
    assert!(!response.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));

    let config = ServerConfig {
        cors_allowed_origins: vec!["https://dash.example".to_owned()],
        ..ServerConfig::default()
    };
    let open = TestApp::with_config(config).await;
    let allowed = open.send(with_origin("https://dash.example")).await;
    assert_eq!(allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://dash.example");
    let other = open.send(with_origin("https://evil.example")).await;
    assert!(!other.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

// ---------------------------------------------------------------- real TCP

#[tokio::test]
async fn serves_over_tcp_and_shuts_down_gracefully() {
    let config = ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..ServerConfig::default() };
    let app = TestApp::with_config(config).await;
    app.store_bars("AAPL", &[bar(day(2024, 5, 1), Some(170.0))]).await;
    let server = server::Server::bind(app.state.clone()).await.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let bars: Value =
        client.get(format!("{base}/api/symbols/AAPL/bars")).send().await.unwrap().json().await.unwrap();
    assert_eq!(bars["bars"][0]["close"], 170.0);
    let refused =
        client.post(format!("{base}/api/watchlist")).json(&json!({"symbol": "AAPL"})).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let added = client
        .post(format!("{base}/api/watchlist"))
        .bearer_auth(&app.token)
        .json(&json!({"symbol": "AAPL"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), serving).await.expect("server stopped").unwrap().unwrap();
    assert!(client.get(format!("{base}/healthz")).send().await.is_err(), "still accepting after shutdown");
}

#[tokio::test]
async fn mention_buckets_aggregate_per_day_and_validate_input() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("b1", "alice", 5, 0.5, &["AAPL"]),
        ("b2", "bob", 6, -0.5, &["AAPL"]),
        ("b3", "carol", 2 * 24 * 60, 0.8, &["AAPL"]),
    ])
    .await;
    let body = app.get("/api/social/symbols/aapl/buckets?bucket=day").await.ok();
    let buckets = body.as_array().unwrap();
    let total: u64 = buckets.iter().map(|b| b["mentions"].as_u64().unwrap()).sum();
    assert_eq!(total, 3, "{body}");
    assert!(buckets.len() >= 2, "two different days: {body}");
    let authors: u64 = buckets.iter().map(|b| b["unique_authors"].as_u64().unwrap()).sum();
    assert_eq!(authors, 3, "{body}");
    let hourly = app.get("/api/social/symbols/AAPL/buckets").await.ok();
    assert!(hourly.as_array().unwrap().len() >= 2, "{hourly}");

    assert_eq!(app.get("/api/social/symbols/AAPL/buckets?bucket=week").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/social/symbols/A;DROP/buckets").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn analysis_runs_as_a_job_per_symbol_and_its_notes_and_trace_can_be_read() {
    let app = TestApp::new().await;
    app.send(Request::post("/api/analysis/AAPL").body(Body::empty()).unwrap())
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.authed(Method::POST, "/api/analysis/NOT$VALID", None)
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");

    // Hold the worker so the analyses stay queued: one per symbol, not two of one.
    app.authed(Method::POST, "/api/jobs/gate/trigger", None).await.ok();
    let queued = app.authed(Method::POST, "/api/analysis/aapl", None).await;
    assert_eq!(queued.status, StatusCode::ACCEPTED);
    let queued = queued.json();
    assert_eq!((queued["job"].as_str(), queued["symbol"].as_str()), (Some("analysis"), Some("AAPL")));
    let again =
        app.authed(Method::POST, "/api/analysis/AAPL", None).await.error(StatusCode::CONFLICT, "conflict");
    assert_eq!(again["run_id"], queued["run_id"], "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("for AAPL"), "{again}");
    let other = app.authed(Method::POST, "/api/analysis/MSFT", None).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "another symbol queues beside it");
    app.gate.add_permits(1);

    let run = app.wait_for_run(queued["run_id"].as_i64().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(app.wait_for_run(other.json()["run_id"].as_i64().unwrap()).await["status"], "succeeded");

    let notes = app.get("/api/analysis/AAPL").await.ok();
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 1);
    let note = &notes[0];
    assert_eq!((note["symbol"].as_str(), note["model"].as_str()), (Some("AAPL"), Some("offline")));
    assert!(["buy", "hold", "sell"].contains(&note["rating"].as_str().unwrap()), "{note}");
    assert!(note["markdown"].as_str().unwrap().starts_with("# AAPL: "));
    assert!(note["key_figures"]["rsi14"].is_number(), "the job fetched bars first: {note}");

    let crew_run = app.get(&format!("/api/analysis/runs/{}", note["crew_run_id"])).await.ok();
    assert_eq!(crew_run["status"], "completed");
    assert_eq!(crew_run["job_run_id"], queued["run_id"]);
    let steps = crew_run["trace"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step"] == "tool_call" && s["tool"] == "get_indicators"), "{crew_run}");

    assert!(app.get("/api/analysis/TSLA").await.ok().as_array().unwrap().is_empty());
    app.get("/api/analysis/runs/999999").await.error(StatusCode::NOT_FOUND, "not_found");
    app.get("/api/analysis/AAPL?limit=lots").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

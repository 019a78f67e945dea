//! `GET /api/providers`: every provider's health from the clients the API and the jobs share,
//! today's counts synced with storage, no key in the answer.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use domain::{ProviderId, Symbol};
use providers::{ApiKey, ProviderChain, ProvidersConfig};
use server::{AppState, ServerConfig};
use storage::ProviderRequests;
use tower::ServiceExt;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::TestApp;

const POLYGON_KEY: &str = "PGkey_s3cr3t_0123456789abcdef";

fn polygon_body(name: &str) -> String {
    let file = format!("{}/../providers/tests/data/polygon/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Polygon (with a key) against `server`, then the sample; Alpha Vantage and Finnhub without keys.
fn chain(server: &MockServer) -> ProviderChain {
    let mut config =
        ProvidersConfig { order: vec![ProviderId::Polygon, ProviderId::Sample], ..Default::default() };
    config.polygon.base_url = server.uri();
    config.polygon.api_key = Some(ApiKey::new(POLYGON_KEY));
    config.polygon.max_retries = 0;
    config.polygon.max_retry_wait_secs = 1.0;
    ProviderChain::from_config(&config, None).unwrap()
}

#[tokio::test]
async fn providers_report_health_budgets_and_back_off_without_keys() {
    let app = TestApp::new().await;
    let server = MockServer::start().await;
    Mock::given(path("/v2/aggs/ticker/AAPL/prev"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(polygon_body("prev_aapl.json"), "application/json"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/AAPL/prev"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(polygon_body("error_429.json"), "application/json")
                .insert_header("retry-after", "90"),
        )
        .mount(&server)
        .await;
    let chain = chain(&server);
    let aapl = Symbol::parse("AAPL").unwrap();
    assert_eq!(chain.quote(&aapl).await.unwrap().provider, ProviderId::Polygon);
    // The 429 sends the chain on to the sample; Polygon backs off for the 90 s it asked for.
    assert_eq!(chain.quote(&aapl).await.unwrap().provider, ProviderId::Sample);
    // Another process spent 7 of Alpha Vantage's 25 requests today.
    let today = Utc::now().date_naive();
    let spent = ProviderRequests { provider: ProviderId::AlphaVantage, day: today, requests: 7 };
    app.storage.add_provider_requests(&[spent]).await.unwrap();

    let state = AppState::new(
        app.storage.clone(),
        Arc::clone(&app.state.jobs),
        app.state.exports.clone(),
        chain,
        ServerConfig::default(),
    );
    let response = server::router(state)
        .oneshot(Request::get("/api/providers").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(!text.contains(POLYGON_KEY), "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> =
        report.as_array().unwrap().iter().map(|p| p["provider"].as_str().unwrap()).collect();
    assert_eq!(names, ["polygon", "sample", "yahoo", "alpha_vantage", "finnhub"]);

    let polygon = &report[0];
    assert_eq!(polygon["status"], "backing off");
    assert_eq!((polygon["configured"].as_bool(), polygon["in_chain"].as_bool()), (Some(true), Some(true)));
    assert_eq!(polygon["requests_today"], 2);
    assert_eq!(polygon["budget"]["per_minute"], 5);
    assert_eq!(polygon["budget"]["minute_left"], 3);
    assert!(polygon["budget"]["per_day"].is_null());
    assert!(polygon["last_success"].is_string());
    let message = polygon["last_error"]["message"].as_str().unwrap();
    assert!(message.contains("maximum requests per minute"), "{message}");
    assert_eq!(polygon["backing_off"], true);
    let until: DateTime<Utc> = polygon["backing_off_until"].as_str().unwrap().parse().unwrap();
    let wait = until - Utc::now();
    assert!(wait > chrono::Duration::seconds(60) && wait <= chrono::Duration::seconds(90), "{wait}");
    assert_eq!(polygon["day"], today.to_string());

    assert_eq!(report[1]["status"], "offline");
    assert_eq!(report[2]["status"], "unused");
    let alpha_vantage = &report[3];
    assert_eq!(alpha_vantage["status"], "not configured");
    assert_eq!(alpha_vantage["configured"], false);
    assert_eq!(alpha_vantage["requests_today"], 7, "today's stored count");
    assert_eq!(alpha_vantage["budget"]["per_day"], 25);
    assert_eq!(alpha_vantage["budget"]["day_left"], 18);
    assert_eq!(report[4]["status"], "not configured");

    // The report stored Polygon's requests: a restart starts from them.
    let stored = app.storage.provider_requests(today).await.unwrap();
    assert!(
        stored.contains(&ProviderRequests { provider: ProviderId::Polygon, day: today, requests: 2 }),
        "{stored:?}"
    );
}

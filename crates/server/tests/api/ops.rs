//! Operations and the protocol edges: health, metrics, the OpenAPI spec and docs UI, unknown
//! routes, malformed and oversized bodies, CORS, and serving over TCP with a graceful shutdown.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};
use server::ServerConfig;

use crate::helpers::{BODY_LIMIT, TestApp, bar, day};

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
        ("/api/symbols/{symbol}/news", "get"),
        ("/api/symbols/{symbol}/profile", "get"),
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
        ("/api/alerts/rules", "get"),
        ("/api/alerts/rules", "post"),
        ("/api/alerts/rules/{id}", "get"),
        ("/api/alerts/rules/{id}", "patch"),
        ("/api/alerts/rules/{id}", "delete"),
        ("/api/alerts", "get"),
        ("/api/alerts/{id}/ack", "post"),
        ("/api/providers", "get"),
        ("/api/alerts/{id}/deliveries", "get"),
        ("/api/alerts/stream", "get"),
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
    assert_eq!(n_operations, 37);
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

#[tokio::test]
async fn serves_over_tcp_and_shuts_down_gracefully() {
    let config = ServerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..ServerConfig::default() };
    let app = TestApp::with_config(config).await;
    app.store_bars("AAPL", &[bar(day(2024, 5, 1), Some(170.0))]).await;
    let server = server::Server::bind(app.state.clone()).await.unwrap();
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run_until(
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));

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

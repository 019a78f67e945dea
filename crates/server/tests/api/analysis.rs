//! `/api/analysis`: queueing the research crew per symbol, notes and crew-run traces.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn analysis_runs_as_a_job_per_symbol_and_its_notes_and_trace_can_be_read() {
    // An API instance: the analyses stay queued until a worker starts, so a second trigger for
    // the same symbol is refused while the first is still waiting: one per symbol, not two of one.
    let app = TestApp::queue_only().await;
    app.send(Request::post("/api/analysis/AAPL").body(Body::empty()).unwrap())
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.authed(Method::POST, "/api/analysis/NOT$VALID", None)
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");

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
    let waiting = app.get(&format!("/api/jobs/runs/{}", queued["run_id"])).await.ok();
    assert_eq!(waiting["status"], "queued", "no worker yet: {waiting}");
    let _workers = app.start_workers().await;

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

/// Issue 10: a symbol that does not exist is refused at once, with no run and no note (it used
/// to get a "HOLD 30 %" note), and the spec says so.
#[tokio::test]
async fn an_unknown_symbol_is_404_and_queues_nothing() {
    let app = TestApp::new().await;
    let refused =
        app.authed(Method::POST, "/api/analysis/ZZZZ", None).await.error(StatusCode::NOT_FOUND, "not_found");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("unknown symbol ZZZZ: no bars are stored and no provider knows"),
        "{message}"
    );
    assert_eq!(app.get("/api/jobs/runs?job=analysis").await.ok(), json!([]), "no run was queued");
    assert_eq!(app.get("/api/analysis/ZZZZ").await.ok(), json!([]));

    let spec = app.get("/api/openapi.json").await.ok();
    let responses = &spec["paths"]["/api/analysis/{symbol}"]["post"]["responses"];
    assert!(responses["404"]["description"].as_str().unwrap().contains("Unknown symbol"), "{responses}");
}

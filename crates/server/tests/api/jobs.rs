//! `/api/jobs`: unknown jobs, single-flight triggers and run records.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

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
    // One worker took it once; the test job keeps the default policy of one attempt.
    assert_eq!((run["attempts"].as_u64(), run["max_attempts"].as_u64()), (Some(1), Some(1)), "{run}");
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

/// `limit` is declared 1..=1000: values past it are refused, naming `limit` and its range, where
/// they used to be accepted (and clamped) as long as they fitted a `u64`.
#[tokio::test]
async fn limits_outside_their_declared_range_are_400() {
    let app = TestApp::new().await;
    for limit in ["9223372036854775808", "1001", "0", "18446744073709551616", "-1", "lots"] {
        let body = app
            .get(&format!("/api/jobs/runs?limit={limit}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(body["error"]["message"].as_str().unwrap().contains("limit"), "{body}");
    }
    let body = app.get("/api/jobs/runs?limit=1001").await.json();
    assert!(body["error"]["message"].as_str().unwrap().contains("from 1 to 1000"), "{body}");
    app.get("/api/jobs/runs?limit=1000").await.ok();
    app.get("/api/jobs/runs/9223372036854775808").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

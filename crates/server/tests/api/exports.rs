//! `/api/exports`: the download-tracker's export, downloads with checksums, 404 and 409.

use axum::http::{Method, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::TestApp;

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
    // Every file the run wrote (bars, summary, mentions) is a typed output; `export_id` is the
    // first, the bars export.
    let outputs = run["outputs"].as_array().unwrap();
    assert!(outputs.len() >= 2 && outputs.iter().all(|o| o["kind"] == "export"), "{run}");
    assert_eq!(outputs[0]["id"], export_id);
    assert!(run["owner"].as_str().is_some_and(|o| o.len() == 16), "{run}");
    let listed_runs = app.get("/api/jobs/runs?limit=5").await.ok();
    assert_eq!(listed_runs[0]["outputs"], run["outputs"], "{listed_runs}");

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

/// Ids are declared int64 from 1: one above `i64::MAX` (or 0) is the documented 400 naming the
/// id, on every export route, not a parse error of the extractor.
#[tokio::test]
async fn export_ids_outside_int64_are_a_documented_400() {
    let app = TestApp::new().await;
    for id in ["9223372036854775808", "0", "-1", "+1"] {
        for response in [
            app.get(&format!("/api/exports/{id}")).await,
            app.get(&format!("/api/exports/{id}/download")).await,
            app.authed(Method::DELETE, &format!("/api/exports/{id}"), None).await,
        ] {
            let body = response.error(StatusCode::BAD_REQUEST, "bad_request");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("export id") && message.contains(id), "{message}");
        }
    }
    let spec = app.get("/api/openapi.json").await.ok();
    let id = &spec["paths"]["/api/exports/{id}"]["get"]["parameters"][0]["schema"];
    assert_eq!((id["minimum"].as_i64(), id["maximum"].as_i64()), (Some(1), Some(i64::MAX)), "{id}");
    assert!(spec["paths"]["/api/exports/{id}"]["get"]["responses"]["400"].is_object());
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

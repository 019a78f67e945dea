//! `/api/exports` with `exports.store = "s3"`: a large export (several multipart parts) written by
//! one instance downloads byte-identical, with the same headers as a local file, from another
//! instance on the same database and bucket (which holds nothing about it but the record), and
//! a delete through either removes the object. Against `scripts/s3-server.sh`'s moto; skipped
//! locally without `TEST_S3_ENDPOINT`, required in CI (see `test_support::s3`).

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use chrono::{TimeZone, Utc};
use domain::{Interval, Symbol};
use export::{ExportFormat, ExportRequest};
use jobs::{ExportService, ExportStoreKind, ExportsConfig, JobEngine, RetentionConfig, S3Config};
use outbound::Secret;
use providers::ProviderChain;
use providers::sample::SampleProvider;
use server::{AppState, ServerConfig};
use sha2::{Digest, Sha256};
use storage::{DatabaseConfig, Storage};
use test_support::s3::{S3Bucket, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use tower::ServiceExt;

use crate::helpers::{TestApp, bar};

const PART_MIB: u64 = 5;
const N_SYMBOLS: usize = 24;
const N_DAYS: i64 = 8_000;

fn exports_config(dir: &std::path::Path, bucket: &S3Bucket) -> ExportsConfig {
    ExportsConfig {
        dir: dir.join("scratch"),
        store: ExportStoreKind::S3,
        s3: Some(S3Config {
            prefix: "tw/exports".to_owned(),
            endpoint: Some(bucket.endpoint().to_owned()),
            access_key_id: Some(Secret::new(TEST_ACCESS_KEY_ID)),
            secret_access_key: Some(Secret::new(TEST_SECRET_ACCESS_KEY)),
            part_size_mib: PART_MIB,
            ..S3Config::new(bucket.name())
        }),
        retention: RetentionConfig { keep_last: None, max_age_days: None },
    }
}

/// Another instance: its own pool on the same database file, its own (empty) scratch dir, the
/// same bucket, no jobs.
async fn second_instance(app: &TestApp, bucket: &S3Bucket, dir: &std::path::Path) -> AppState {
    let storage = Storage::connect(&app.db_url, &DatabaseConfig::default()).await.unwrap();
    let exports = ExportService::new(storage.clone(), exports_config(dir, bucket));
    exports.recover().await.unwrap();
    let engine = JobEngine::start(storage.clone(), Vec::new(), Vec::new()).await.unwrap();
    let chain = ProviderChain::new(vec![Arc::new(SampleProvider::new())]);
    AppState::new(storage, Arc::new(engine), exports, chain, ServerConfig::default())
}

async fn download(state: &AppState, id: i64) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = axum::http::Request::get(format!("/api/exports/{id}/download"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = server::router(state.clone()).oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn a_large_s3_export_downloads_byte_identical_from_another_instance() {
    let Some(bucket) = S3Bucket::create("api").await else { return };
    let other_dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_exports(ServerConfig::default(), |dir| exports_config(dir, &bucket)).await;
    let start = Utc.with_ymd_and_hms(1990, 1, 2, 0, 0, 0).unwrap();
    let mut symbols = Vec::new();
    for n in 0..N_SYMBOLS {
        let symbol = format!("T{n:03}");
        let bars: Vec<_> = (0..N_DAYS)
            .map(|i| bar(start + chrono::Duration::days(i), Some(100.0 + i as f64 * 0.37)))
            .collect();
        app.store_bars(&symbol, &bars).await;
        symbols.push(Symbol::parse(&symbol).unwrap());
    }
    let request = ExportRequest {
        symbols,
        interval: Interval::Day1,
        from: None,
        to: None,
        format: ExportFormat::Csv,
        notes: Vec::new(),
    };
    let record = app.state.exports.create(&request, None).await.unwrap();
    let size = record.bytes.unwrap();
    let part = PART_MIB * 1024 * 1024;
    assert!(size > 2 * part, "{size} bytes is fewer than 3 parts of {part}");
    assert_eq!(bucket.keys().await, vec![format!("tw/exports/{}", record.file_name)]);

    let other = second_instance(&app, &bucket, other_dir.path()).await;
    let (status, headers, body) = download(&other, record.id).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body[..body.len().min(500)]));
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(headers[header::CONTENT_LENGTH], size.to_string().as_str());
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"tickerwatch-{}.csv\"", record.id).as_str()
    );
    let sha256 = record.sha256.clone().unwrap();
    assert_eq!(headers[header::ETAG], format!("\"{sha256}\"").as_str());
    assert_eq!(body.len() as u64, size);
    assert_eq!(hex::encode(Sha256::digest(&body)), sha256);
    // The writer's instance serves the very same bytes.
    let (status, _, own) = download(&app.state, record.id).await;
    assert_eq!(status, StatusCode::OK);
    assert!(own == body, "the two instances served different bytes");
    // Nothing about the export is local to either instance.
    assert!(std::fs::read_dir(other_dir.path().join("scratch")).map_or(true, |mut d| d.next().is_none()));

    // Deleted through the other instance: record and object gone for both.
    let request = axum::http::Request::builder()
        .method(Method::DELETE)
        .uri(format!("/api/exports/{}", record.id))
        .header(header::AUTHORIZATION, format!("Bearer {}", app.token))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = server::router(other.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(bucket.keys().await.is_empty());
    app.get(&format!("/api/exports/{}/download", record.id))
        .await
        .error(StatusCode::NOT_FOUND, "unknown_export");
    bucket.remove().await;
}

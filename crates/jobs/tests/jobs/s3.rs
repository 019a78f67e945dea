//! `ExportService` on an S3-compatible bucket (`exports.store = "s3"`), against the real server
//! of `scripts/s3-server.sh` (moto on loopback; see `test_support::s3`): uploads, reads, the
//! failure path, deletion, retention, the start-up sweep and secrets that never show.
//! Each test has a bucket of its own. The large multipart export and the memory bound are in
//! `tests/s3_memory.rs` (a process of its own) and the API download from a second instance in
//! the server's API tests.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use domain::{Bar, Interval};
use export::{ExportFormat, ExportRequest};
use futures::TryStreamExt;
use jobs::{ExportService, ExportServiceError, ExportStoreKind, ExportsConfig, RetentionConfig, S3Config};
use outbound::Secret;
use sha2::{Digest, Sha256};
use storage::ExportStatus;
use test_support::s3::{S3Bucket, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use test_support::{ConnectionCountingProxy, Fault};

use crate::helpers::{TestEnv, bars, request, sym};

const PREFIX: &str = "exports";

/// The S3 settings of the tests: path-style on the test server, 5 MiB parts.
pub(crate) fn s3_config(bucket: &S3Bucket) -> S3Config {
    S3Config {
        prefix: format!("/{PREFIX}/"),
        endpoint: Some(bucket.endpoint().to_owned()),
        access_key_id: Some(Secret::new(TEST_ACCESS_KEY_ID)),
        secret_access_key: Some(Secret::new(TEST_SECRET_ACCESS_KEY)),
        part_size_mib: 5,
        ..S3Config::new(bucket.name())
    }
}

fn exports_config(env: &TestEnv, bucket: &S3Bucket, retention: RetentionConfig) -> ExportsConfig {
    ExportsConfig {
        dir: env.exports_dir(),
        store: ExportStoreKind::S3,
        s3: Some(s3_config(bucket)),
        retention,
    }
}

/// A database with 10 bars of AAPL and a bucket of the test's own; `None` skips the test.
async fn setup(name: &str) -> Option<(TestEnv, S3Bucket, ExportService)> {
    let bucket = S3Bucket::create(name).await?;
    let env = TestEnv::new().await;
    env.storage.upsert_bars(&sym("AAPL"), Interval::Day1, &bars(10), &Default::default()).await.unwrap();
    let config = exports_config(&env, &bucket, RetentionConfig { keep_last: None, max_age_days: None });
    config.validate().unwrap();
    let service = ExportService::new(env.storage.clone(), config);
    Some((env, bucket, service))
}

fn key(file_name: &str) -> String {
    format!("{PREFIX}/{file_name}")
}

async fn read_all(service: &ExportService, id: i64) -> (u64, Vec<u8>) {
    let (_, content) = service.open(id).await.unwrap();
    let chunks: Vec<bytes::Bytes> = content.body.try_collect().await.unwrap();
    (content.length, chunks.concat())
}

#[tokio::test]
async fn every_kind_of_export_is_uploaded_and_reads_back_with_its_checksum() {
    let Some((env, bucket, service)) = setup("kinds").await else { return };
    let mut expected = Vec::new();
    for format in [ExportFormat::Csv, ExportFormat::Ndjson, ExportFormat::Parquet, ExportFormat::Xlsx] {
        let (record, summaries) = service.create_with_summaries(&request(format), None).await.unwrap();
        assert_eq!(record.status, ExportStatus::Ready, "{format}");
        let (length, body) = read_all(&service, record.id).await;
        assert_eq!(Some(length), record.bytes, "{format}");
        assert_eq!(Some(hex::encode(Sha256::digest(&body))), record.sha256, "{format}");
        expected.push(key(&record.file_name));
        if format == ExportFormat::Csv {
            assert!(String::from_utf8_lossy(&body).lines().count() == 11, "header + 10 rows");
            let summary = service.create_summary(&summaries, None).await.unwrap();
            let (_, body) = read_all(&service, summary.id).await;
            assert!(String::from_utf8_lossy(&body).starts_with("symbol,"));
            expected.push(key(&summary.file_name));
        }
    }
    expected.sort();
    assert_eq!(bucket.keys().await, expected);
    // Nothing local: no instance holds state about an export (xlsx's scratch files are gone).
    assert!(env.export_files().is_empty(), "{:?}", env.export_files());
    // A local path is refused clearly rather than pointing at nothing.
    let err = service.ready_file(env.storage.exports(1).await.unwrap()[0].id).await.unwrap_err();
    assert!(matches!(err, ExportServiceError::Store(_)), "{err}");
    bucket.remove().await;
}

/// Captures the log lines written while it is the thread's default subscriber.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_missing_bucket_fails_the_export_clearly_without_an_object_or_a_secret() {
    let Some(missing) = S3Bucket::unique("missing") else { return };
    let env = TestEnv::new().await;
    env.storage.upsert_bars(&sym("AAPL"), Interval::Day1, &bars(10), &Default::default()).await.unwrap();
    let config = exports_config(&env, &missing, RetentionConfig::default());
    let service = ExportService::new(env.storage.clone(), config.clone());

    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let err = {
        let _guard = tracing::subscriber::set_default(subscriber);
        service.create(&request(ExportFormat::Csv), None).await.unwrap_err()
    };
    let message = err.to_string();
    println!("missing bucket: {message}");
    assert!(matches!(err, ExportServiceError::Store(_)), "{message}");
    assert!(message.contains(missing.name()), "names the bucket: {message}");
    assert!(message.contains("NoSuchBucket") || message.contains("404"), "says why: {message}");

    let record = env.storage.exports(10).await.unwrap().remove(0);
    assert_eq!(record.status, ExportStatus::Failed);
    assert_eq!(record.error.as_deref(), Some(message.as_str()));
    let err = service.open(record.id).await.err().unwrap();
    assert!(matches!(err, ExportServiceError::Failed { .. }), "{err}");
    assert!(env.export_files().is_empty(), "{:?}", env.export_files());

    // The secret never shows: not in the error, the record, the logs or the config's Debug.
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("Export failed"), "{logs}");
    for shown in [message, record.error.unwrap(), logs, format!("{config:?}"), format!("{:?}", config.s3)] {
        assert!(!shown.contains(TEST_SECRET_ACCESS_KEY), "secret shown in: {shown}");
    }
    let shown = format!("{:?}", config.s3.as_ref().unwrap().secret_access_key);
    assert!(shown.contains("***"), "{shown}");
    std::io::stderr().flush().ok();
}

#[tokio::test]
async fn a_server_that_drops_connections_fails_the_export_clearly_and_leaves_no_object() {
    let Some((env, bucket, _)) = setup("dropping").await else { return };
    let upstream = bucket.endpoint().trim_start_matches("http://").parse().unwrap();
    let proxy = ConnectionCountingProxy::start(upstream).await.unwrap();
    let mut config = exports_config(&env, &bucket, RetentionConfig::default());
    config.s3.as_mut().unwrap().endpoint = Some(proxy.uri());
    let service = ExportService::new(env.storage.clone(), config);
    // Every answer of the server is cut off (after retries, the client gives up).
    proxy.set_fault(Fault::CloseAfterTotalResponseBytes(1));

    let err = service.create(&request(ExportFormat::Csv), None).await.unwrap_err();
    let message = err.to_string();
    println!("dropped connections: {message}");
    assert!(matches!(err, ExportServiceError::Store(_)), "{message}");
    assert!(message.contains(bucket.name()) && message.contains("cannot"), "{message}");
    assert!(!message.contains(TEST_SECRET_ACCESS_KEY), "{message}");
    assert!(proxy.faults_fired() > 0);
    let record = env.storage.exports(10).await.unwrap().remove(0);
    assert_eq!(record.status, ExportStatus::Failed);
    assert!(bucket.keys().await.is_empty(), "{:?}", bucket.keys().await);
    bucket.remove().await;
}

#[tokio::test]
async fn delete_and_retention_remove_the_objects() {
    let Some((env, bucket, _)) = setup("retention").await else { return };
    let config = exports_config(&env, &bucket, RetentionConfig { keep_last: Some(1), max_age_days: None });
    let service = ExportService::new(env.storage.clone(), config);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(service.create(&request(ExportFormat::Csv), None).await.unwrap());
    }
    assert_eq!(bucket.keys().await.len(), 3);

    assert_eq!(service.apply_retention().await.unwrap(), 2);
    let newest = ids.last().unwrap();
    assert_eq!(bucket.keys().await, vec![key(&newest.file_name)], "no orphan after retention");

    service.delete(newest.id).await.unwrap();
    assert!(bucket.keys().await.is_empty());
    assert!(matches!(service.open(newest.id).await, Err(ExportServiceError::NotFound(_))));
    bucket.remove().await;
}

#[tokio::test]
async fn recover_removes_orphaned_objects_only() {
    let Some((env, bucket, service)) = setup("recover").await else { return };
    let ready = service.create(&request(ExportFormat::Csv), None).await.unwrap();
    // A finished upload whose record never became ready (a crash in between), a failed
    // export's object, a live writer's object, and objects that are not ours.
    let writing =
        env.storage.create_export("csv", "bars", "export-20240101T000000Z-live.csv", None).await.unwrap();
    let failed =
        env.storage.create_export("csv", "bars", "export-20240101T000000Z-failed.csv", None).await.unwrap();
    env.storage.fail_export(failed.id, "boom").await.unwrap();
    let orphans =
        ["export-20240101T000000Z-orphan.csv", "summary-20240101T000000Z-orphan.csv", &failed.file_name];
    for name in orphans {
        bucket.put(&key(name), b"orphan").await;
    }
    let kept = [
        key(&writing.file_name),
        key("README.txt"),
        key("sub/export-nested.csv"),
        "export-outside.csv".to_owned(),
    ];
    for name in &kept {
        bucket.put(name, b"not an orphan").await;
    }

    service.recover().await.unwrap();
    let mut expected: Vec<String> = kept.to_vec();
    expected.push(key(&ready.file_name));
    expected.sort();
    assert_eq!(bucket.keys().await, expected);
    let (_, body) = read_all(&service, ready.id).await;
    assert_eq!(Some(hex::encode(Sha256::digest(&body))), ready.sha256);
    bucket.remove().await;
}

#[tokio::test]
async fn a_cancelled_export_aborts_its_multipart_upload() {
    let Some((env, bucket, service)) = setup("cancel").await else { return };
    // Enough bars that the export takes seconds (about 80 MB of ndjson).
    let symbols: Vec<_> = (0..40).map(|n| sym(&format!("C{n:03}"))).collect();
    let start = chrono::TimeZone::with_ymd_and_hms(&Utc, 1980, 1, 2, 0, 0, 0).unwrap();
    for symbol in &symbols {
        let bars: Vec<Bar> = bars(10_000)
            .into_iter()
            .enumerate()
            .map(|(i, bar)| Bar { ts: start + chrono::Duration::days(i as i64), ..bar })
            .collect();
        env.storage.upsert_bars(symbol, Interval::Day1, &bars, &Default::default()).await.unwrap();
    }
    let request = ExportRequest { symbols, format: ExportFormat::Ndjson, ..request(ExportFormat::Ndjson) };

    let export = service.create(&request, None);
    let cut = tokio::time::timeout(std::time::Duration::from_millis(1500), export).await;
    assert!(cut.is_err(), "the export finished before it could be cancelled");
    let cleared = test_support::wait_for(std::time::Duration::from_secs(10), || async {
        bucket.pending_uploads().await.is_empty().then_some(())
    })
    .await;
    assert!(cleared.is_some(), "uploads left: {:?}", bucket.pending_uploads().await);
    assert!(bucket.keys().await.is_empty(), "{:?}", bucket.keys().await);
    // The record stays `writing` until its owner's heartbeat goes stale (the engine's job).
    assert_eq!(env.storage.exports(1).await.unwrap()[0].status, ExportStatus::Writing);
    bucket.remove().await;
}

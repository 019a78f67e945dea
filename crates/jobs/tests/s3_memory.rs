//! A large export into an S3-compatible bucket (`exports.store = "s3"`): it spans several
//! multipart parts, reads back with the recorded SHA-256, and the memory it holds stays far below
//! its size. Its own test binary (its own process), so the allocation counters and the RSS see
//! this export alone; the server is `scripts/s3-server.sh`'s moto (see `test_support::s3`).
//!
//! Prints the figures: export size, parts, wall time and MB/s of the S3 export and of the same
//! export to a local file, peak growth of live heap bytes and of RSS during the upload.

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use export::{ExportFormat, ExportRequest};
use futures::StreamExt;
use jobs::{ExportService, ExportStoreKind, ExportsConfig, RetentionConfig, S3Config};
use outbound::Secret;
use sha2::{Digest, Sha256};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use storage::{DatabaseConfig, Storage};
use test_support::s3::{S3Bucket, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY};
use test_support::{rss_bytes, run_exclusive};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Symbols × daily bars: about 70 MB of ndjson.
const N_SYMBOLS: usize = 40;
const N_DAYS: i64 = 10_000;
const PART_MIB: u64 = 5;

/// Bytes allocated and not yet freed, process-wide (`stats_alloc` counts a growing or
/// shrinking `realloc` in these two totals already).
fn live_heap() -> i64 {
    let stats = GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

/// Samples live heap bytes and RSS every millisecond on its own thread until stopped; returns
/// the peaks.
struct PeakSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(i64, u64)>,
}

impl PeakSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut heap, mut rss) = (live_heap(), rss_bytes());
            while !flag.load(Ordering::Relaxed) {
                heap = heap.max(live_heap());
                rss = rss.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(1));
            }
            (heap, rss)
        });
        Self { stop, thread }
    }

    fn finish(self) -> (i64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler thread")
    }
}

fn symbols() -> Vec<Symbol> {
    (0..N_SYMBOLS).map(|i| Symbol::parse(&format!("S{i:03}")).unwrap()).collect()
}

async fn seed(storage: &Storage) {
    let start = Utc.with_ymd_and_hms(1980, 1, 2, 0, 0, 0).unwrap();
    for (n, symbol) in symbols().iter().enumerate() {
        let bars: Vec<Bar> = (0..N_DAYS)
            .map(|i| Bar {
                ts: start + chrono::Duration::days(i),
                open: Some(100.0 + n as f64 + i as f64 * 0.01),
                high: Some(101.25 + i as f64 * 0.01),
                low: Some(98.75 + i as f64 * 0.01),
                close: Some(100.5 + i as f64 * 0.013),
                adj_close: Some(100.25 + i as f64 * 0.013),
                volume: Some(1_000_000 + i),
                partial: false,
                provider: ProviderId::Sample,
                flag: None,
            })
            .collect();
        storage.upsert_bars(symbol, Interval::Day1, &bars, &Default::default()).await.unwrap();
    }
}

fn mb(bytes: f64) -> f64 {
    bytes / 1_000_000.0
}

#[test]
fn a_large_export_uploads_in_parts_with_memory_far_below_its_size() {
    run_exclusive(2, async {
        let Some(bucket) = S3Bucket::create("memory").await else { return };
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tickerwatch.db").display());
        let storage = Storage::connect(&url, &DatabaseConfig::default()).await.unwrap();
        storage.migrate().await.unwrap();
        let seeding = Instant::now();
        seed(&storage).await;
        println!("seeded {} bars in {:.1} s", N_SYMBOLS as i64 * N_DAYS, seeding.elapsed().as_secs_f64());

        let request = ExportRequest {
            symbols: symbols(),
            interval: Interval::Day1,
            from: None,
            to: None,
            format: ExportFormat::Ndjson,
            notes: Vec::new(),
        };
        let s3 = S3Config {
            prefix: "big".to_owned(),
            endpoint: Some(bucket.endpoint().to_owned()),
            access_key_id: Some(Secret::new(TEST_ACCESS_KEY_ID)),
            secret_access_key: Some(Secret::new(TEST_SECRET_ACCESS_KEY)),
            part_size_mib: PART_MIB,
            upload_concurrency: 2,
            ..S3Config::new(bucket.name())
        };
        let retention = RetentionConfig { keep_last: None, max_age_days: None };
        let config = ExportsConfig {
            dir: dir.path().join("exports"),
            store: ExportStoreKind::S3,
            s3: Some(s3),
            retention: retention.clone(),
        };
        config.validate().unwrap();
        let service = ExportService::new(storage.clone(), config);

        // The same export to a local file first: the baseline for the throughput.
        let local = ExportService::new(
            storage.clone(),
            ExportsConfig { dir: dir.path().join("local"), retention, ..ExportsConfig::default() },
        );
        let started = Instant::now();
        let local_record = local.create(&request, None).await.unwrap();
        let local_secs = started.elapsed().as_secs_f64();

        let (heap_before, rss_before) = (live_heap(), rss_bytes());
        let sampler = PeakSampler::start();
        let started = Instant::now();
        let record = service.create(&request, None).await.unwrap();
        let secs = started.elapsed().as_secs_f64();
        let (heap_peak, rss_peak) = sampler.finish();

        let size = record.bytes.unwrap();
        let part = PART_MIB * 1024 * 1024;
        let parts = size.div_ceil(part);
        assert_eq!(record.sha256, local_record.sha256, "the same bytes as the local export");
        assert!(parts >= 3, "{size} bytes is {parts} parts of {part}");
        let heap_growth = heap_peak - heap_before;
        let rss_growth = rss_peak.saturating_sub(rss_before);
        println!(
            "s3 export: {:.1} MB in {parts} parts of {PART_MIB} MiB, {secs:.2} s = {:.1} MB/s (local file: \
             {local_secs:.2} s = {:.1} MB/s); peak live heap +{:.1} MB, peak RSS {:.1} MB (+{:.1} MB) \
             [{} build]",
            mb(size as f64),
            mb(size as f64) / secs,
            mb(size as f64) / local_secs,
            mb(heap_growth as f64),
            mb(rss_peak as f64),
            mb(rss_growth as f64),
            if cfg!(debug_assertions) { "debug" } else { "release" },
        );
        // Parts in flight (2), the part being filled, the channel and the encoder's buffers:
        // about 25 MB whatever the export's size.
        assert!(
            heap_growth < (size / 3) as i64,
            "live heap grew by {heap_growth} bytes for a {size}-byte export"
        );
        assert!(rss_growth < size / 2, "RSS grew by {rss_growth} bytes for a {size}-byte export");

        // Read back as a stream, hashing on the way: the object is the recorded bytes.
        let (_, content) = service.open(record.id).await.unwrap();
        assert_eq!(Some(content.length), record.bytes);
        let mut hasher = Sha256::new();
        let mut body = content.body;
        let mut read = 0_u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.unwrap();
            read += chunk.len() as u64;
            hasher.update(&chunk);
        }
        assert_eq!(read, size);
        assert_eq!(Some(hex::encode(hasher.finalize())), record.sha256);
        assert_eq!(bucket.keys().await, vec![format!("big/{}", record.file_name)]);
        bucket.remove().await;
    });
}

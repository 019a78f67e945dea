//! The founding promise, for exports: many exports, finished, failed or cancelled, leave no file
//! descriptor, task, temporary file or memory behind. One test in its own binary, so no other
//! test's descriptors or allocations blur the counts.

use std::fs;
use std::path::Path;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use export::{ExportFormat, ExportRequest, TEMP_PREFIX, export_to_file};
use storage::{DatabaseConfig, Storage};
use test_support::probes::{
    ResourceBaseline, alive_tasks, new_fds_since, open_fd_targets, run_exclusive, wait_for_steady_fds,
    wait_for_tasks_at_most,
};
use test_support::wait_until;

/// How long cancelled writers and closing connections may take to be gone.
const SETTLE: Duration = Duration::from_secs(5);

/// Temporary export files in `dir`: writers still running (or debris).
fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(TEMP_PREFIX))
        .collect()
}

#[test]
fn repeated_exports_leak_nothing() {
    run_exclusive(2, async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        // A short idle timeout: pooled connections (each holding the db and -wal files) close when
        // idle, so fd counts compare like with like instead of depending on the pool's size.
        let config =
            DatabaseConfig { max_connections: Some(2), idle_timeout_secs: 0.2, ..DatabaseConfig::default() };
        let storage = Storage::connect(&url, &config).await.unwrap();
        storage.migrate().await.unwrap();
        let start = Utc.with_ymd_and_hms(2010, 1, 1, 0, 0, 0).unwrap();
        let mut symbols = Vec::new();
        for s in 0..4 {
            let symbol = Symbol::parse(&format!("S{s}")).unwrap();
            let bars: Vec<Bar> = (0..1_500)
                .map(|d| Bar {
                    ts: start + chrono::Duration::days(d),
                    open: Some(1.0),
                    high: Some(2.0),
                    low: Some(0.5),
                    close: Some(1.0 + (d % 13) as f64),
                    adj_close: None,
                    volume: Some(100),
                    provider: ProviderId::Yahoo,
                    partial: false,
                    flag: None,
                })
                .collect();
            storage.upsert_bars(&symbol, Interval::Day1, &bars, &Default::default()).await.unwrap();
            symbols.push(symbol);
        }
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        let round = |n: usize| {
            let (storage, symbols, out) = (&storage, &symbols, &out);
            async move {
                for format in ExportFormat::ALL {
                    let request = ExportRequest {
                        symbols: symbols.clone(),
                        interval: Interval::Day1,
                        from: None,
                        to: None,
                        format,
                        notes: Vec::new(),
                    };
                    let dest = out.join(format!("x{n}.{format}"));
                    export_to_file(storage, &request, &dest, None).await.unwrap();
                    // And one cancelled part-way.
                    let cancelled = out.join(format!("c{n}.{format}"));
                    let _ = tokio::time::timeout(
                        Duration::from_millis(3),
                        export_to_file(storage, &request, &cancelled, None),
                    )
                    .await;
                }
            }
        };
        // Warm up: the pool's connections, the runtime's blocking threads, allocator arenas. The
        // baseline is taken once the writers of cancelled exports (on their own threads; each
        // removes its temp file last) are gone and the idle pool connections have closed.
        round(0).await;
        round(1).await;
        let settled =
            wait_until(SETTLE, || temp_files(&out).is_empty() && storage.open_connections() == 0).await;
        assert!(settled, "temp files {:?}, {} connections", temp_files(&out), storage.open_connections());
        wait_for_steady_fds(Duration::from_millis(50), SETTLE).await;
        let tasks = alive_tasks();
        let fds = open_fd_targets();
        let baseline = ResourceBaseline::capture();
        for n in 2..6 {
            round(n).await;
        }
        // Writer threads of cancelled exports finish on their own shortly after; none leaves debris.
        let debris_gone = wait_until(SETTLE, || temp_files(&out).is_empty()).await;
        assert!(debris_gone, "{:?}", temp_files(&out));
        let delta = baseline.settle(0, SETTLE).await;
        assert!(delta.fd_growth() <= 0, "{delta}; new: {:?}", new_fds_since(&fds));
        assert!(wait_for_tasks_at_most(tasks, Duration::from_secs(5)).await <= tasks);
        assert!(delta.rss_growth() < 8 * 1024 * 1024, "{delta}");
        storage.close().await;
    });
}

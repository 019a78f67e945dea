//! The founding promise, for exports: many exports, finished, failed or cancelled, leave no file
//! descriptor, task, temporary file or memory behind. One test in its own binary, so no other
//! test's descriptors or allocations blur the counts.

use std::fs;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use export::{ExportFormat, ExportRequest, TEMP_PREFIX, export_to_file};
use storage::{DatabaseConfig, Storage};
use test_support::probes::{
    ResourceBaseline, alive_tasks, new_fds_since, open_fd_targets, run_exclusive, wait_for_tasks_at_most,
};

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
        // Warm up: the pool's connections, the runtime's blocking threads, allocator arenas.
        round(0).await;
        round(1).await;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        let tasks = alive_tasks();
        let fds = open_fd_targets();
        let baseline = ResourceBaseline::capture();
        for n in 2..6 {
            round(n).await;
        }
        // Writer threads of cancelled exports finish on their own shortly after.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let delta = baseline.settle(0, Duration::from_secs(5)).await;
        assert!(delta.fd_growth() <= 0, "{delta}; new: {:?}", new_fds_since(&fds));
        assert!(wait_for_tasks_at_most(tasks, Duration::from_secs(5)).await <= tasks);
        assert!(delta.rss_growth() < 8 * 1024 * 1024, "{delta}");
        let debris: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(TEMP_PREFIX))
            .collect();
        assert!(debris.is_empty(), "{debris:?}");
        storage.close().await;
    });
}

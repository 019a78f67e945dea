//! The SQLite file's read pool (the API's `visit_bars` path): bounded however many reads come at
//! once, connections closed when idle and with the store, never left open by a panic. Open
//! connections are counted two ways: the pool's own gauge and the process's file descriptors on
//! the database file (each SQLite connection holds exactly one).

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use domain::reconcile::ProviderPreference;
use domain::{Bar, Interval, ProviderId, Symbol};
use storage::{BarQuery, DatabaseConfig, Storage, StorageError};
use tempfile::TempDir;

fn aapl() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

fn query() -> BarQuery {
    BarQuery::new(aapl(), Interval::Day1)
}

/// A migrated SQLite file holding 100 daily bars of AAPL, with a read pool of `read_connections`.
async fn store(
    read_connections: u32,
    tweak: impl FnOnce(&mut DatabaseConfig),
) -> (Storage, PathBuf, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pool.db");
    let mut config = DatabaseConfig {
        url: format!("sqlite://{}", file.display()),
        max_connections: Some(2),
        read_connections,
        ..DatabaseConfig::default()
    };
    tweak(&mut config);
    let storage = Storage::from_config(&config).await.unwrap();
    storage.migrate().await.unwrap();
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    let bars: Vec<Bar> = (0..100)
        .map(|day| Bar {
            ts: start + chrono::Duration::days(day),
            open: Some(10.0),
            high: Some(11.0),
            low: Some(9.0),
            close: Some(10.5),
            adj_close: None,
            volume: Some(1_000),
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        })
        .collect();
    storage.upsert_bars(&aapl(), Interval::Day1, &bars, &ProviderPreference::default()).await.unwrap();
    (storage, file, dir)
}

/// File descriptors of this process open on `file` itself (not its `-wal` or `-shm`).
fn fds_on(file: &Path) -> usize {
    let file = file.canonicalize().unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| *target == file)
        .count()
}

/// File descriptors of this process open on `file`, its `-wal` or its `-shm`.
fn fds_on_database(file: &Path) -> usize {
    let file = file.canonicalize().unwrap();
    let names: Vec<PathBuf> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| PathBuf::from(format!("{}{suffix}", file.display())))
        .collect();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|target| names.contains(target))
        .count()
}

/// Counts the rows of `query`, holding the connection for `hold` on the first row.
async fn slow_count(storage: &Storage, hold: Duration) -> Result<usize, StorageError> {
    storage
        .visit_bars(&query(), 0_usize, move |count, _bar| {
            if *count == 0 {
                std::thread::sleep(hold);
            }
            *count += 1;
            ControlFlow::Continue(())
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_never_open_more_connections_than_the_bound() {
    const BOUND: u32 = 3;
    let (storage, file, _dir) = store(BOUND, |_| {}).await;
    assert_eq!(storage.read_pool_stats().unwrap().open, 0, "opened lazily");
    let sqlx_fds = fds_on(&file);
    // Each visitor counts, on its first row, the descriptors on the database file: its own
    // connection is open then, and so are those of the reads running beside it.
    let most_fds = Arc::new(AtomicUsize::new(0));
    let reads: Vec<_> = (0..48)
        .map(|_| {
            let storage = storage.clone();
            let (file, most_fds) = (file.clone(), Arc::clone(&most_fds));
            tokio::spawn(async move {
                storage
                    .visit_bars(&query(), 0_usize, move |count, _bar| {
                        if *count == 0 {
                            most_fds.fetch_max(fds_on(&file), Ordering::Relaxed);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        *count += 1;
                        ControlFlow::Continue(())
                    })
                    .await
            })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap().unwrap(), 100);
    }
    let stats = storage.read_pool_stats().unwrap();
    assert_eq!(stats.max, BOUND as usize);
    assert_eq!(stats.peak, BOUND as usize, "48 concurrent reads use the whole bound, and no more: {stats:?}");
    assert!(stats.open <= BOUND as usize && stats.open == stats.idle, "{stats:?}");
    let reader_fds = most_fds.load(Ordering::Relaxed) - sqlx_fds;
    assert!((1..=BOUND as usize).contains(&reader_fds), "{reader_fds} read connections on the file at once");
    storage.close().await;
}

#[tokio::test]
async fn closing_the_store_closes_the_read_connections() {
    let (storage, file, _dir) = store(4, |_| {}).await;
    let (a, b, c) = tokio::join!(
        slow_count(&storage, Duration::from_millis(50)),
        slow_count(&storage, Duration::from_millis(50)),
        slow_count(&storage, Duration::from_millis(50)),
    );
    assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (100, 100, 100));
    let open = storage.read_pool_stats().unwrap().open;
    assert!(open >= 2, "{open} read connections after three concurrent reads");
    assert!(fds_on(&file) >= open);

    storage.close().await;
    assert_eq!(storage.read_pool_stats().unwrap().open, 0);
    assert_eq!(fds_on_database(&file), 0, "no descriptor left on the database, its WAL or its shm");
    let error = slow_count(&storage, Duration::ZERO).await.unwrap_err();
    assert!(matches!(error, StorageError::Query(sqlx::Error::PoolClosed)), "{error}");
    storage.close().await; // idempotent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_waits_for_the_read_in_flight() {
    let (storage, file, _dir) = store(2, |_| {}).await;
    let reader = storage.clone();
    let read = tokio::spawn(async move { slow_count(&reader, Duration::from_millis(300)).await });
    while storage.read_pool_stats().unwrap().open == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    storage.close().await;
    assert!(started.elapsed() >= Duration::from_millis(150), "close returned while a read was running");
    assert_eq!(read.await.unwrap().unwrap(), 100, "the read in flight finished");
    assert_eq!(storage.read_pool_stats().unwrap().open, 0);
    assert_eq!(fds_on_database(&file), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (storage, file, _dir) = store(3, |config| config.idle_timeout_secs = 0.1).await;
    let burst = || async {
        let (a, b, c) = tokio::join!(
            slow_count(&storage, Duration::from_millis(50)),
            slow_count(&storage, Duration::from_millis(50)),
            slow_count(&storage, Duration::from_millis(50)),
        );
        assert_eq!((a.unwrap(), b.unwrap(), c.unwrap()), (100, 100, 100));
        assert!(storage.read_pool_stats().unwrap().open >= 2);
        // With nothing to read, every reader closes its connection and stops by itself.
        let deadline = Instant::now() + Duration::from_secs(5);
        while storage.read_pool_stats().unwrap().open > 0 {
            assert!(Instant::now() < deadline, "{:?}", storage.read_pool_stats());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // SQLite keeps a closed connection's descriptor while other connections of the
        // process lock the file (closing it would drop their POSIX locks), and reuses it for
        // the next connection: bursts of readers coming and going must not add descriptors.
        fds_on(&file)
    };
    let after_first = burst().await;
    assert!(after_first <= 2 + 3, "{after_first} descriptors: more than the sqlx pool's 2 and the 3 readers");
    for _ in 0..3 {
        let now = burst().await;
        assert!(now <= after_first, "descriptors grew as readers came and went: {now} > {after_first}");
    }
    storage.close().await;
    assert_eq!(fds_on_database(&file), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_waits_at_most_the_acquire_timeout() {
    // One reader; two reads may be queued or running, the third waits for a permit.
    let (storage, _file, _dir) = store(1, |config| config.acquire_timeout_secs = 1).await;
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let reader = storage.clone();
            tokio::spawn(async move { slow_count(&reader, Duration::from_millis(1_500)).await })
        })
        .collect();
    while storage.read_pool_stats().unwrap().open == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let error = slow_count(&storage, Duration::ZERO).await.unwrap_err();
    assert!(matches!(error, StorageError::Query(sqlx::Error::PoolTimedOut)), "{error}");
    for read in busy {
        assert_eq!(read.await.unwrap().unwrap(), 100);
    }
    assert_eq!(slow_count(&storage, Duration::ZERO).await.unwrap(), 100, "free again");
    assert_eq!(storage.read_pool_stats().unwrap().peak, 1);
    storage.close().await;
}

#[tokio::test]
async fn a_panicking_visitor_closes_its_connection_and_the_pool_goes_on() {
    let (storage, file, _dir) = store(2, |_| {}).await;
    slow_count(&storage, Duration::ZERO).await.unwrap();
    assert_eq!(storage.read_pool_stats().unwrap().open, 1);
    let reader = storage.clone();
    let panicked = tokio::spawn(async move {
        reader.visit_bars(&query(), (), |_, _bar| -> ControlFlow<()> { panic!("visitor failed") }).await
    })
    .await
    .unwrap_err();
    assert!(panicked.is_panic(), "the panic reaches the caller");
    assert_eq!(storage.read_pool_stats().unwrap().open, 0, "its connection was closed, not reused");
    assert_eq!(slow_count(&storage, Duration::ZERO).await.unwrap(), 100);
    storage.close().await;
    assert_eq!(fds_on_database(&file), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_store_without_closing_it_stops_the_readers() {
    let (storage, file, _dir) = store(3, |_| {}).await;
    let (a, b) = tokio::join!(
        slow_count(&storage, Duration::from_millis(30)),
        slow_count(&storage, Duration::from_millis(30)),
    );
    assert_eq!((a.unwrap(), b.unwrap()), (100, 100));
    assert!(fds_on_database(&file) > 0);
    drop(storage);
    let deadline = Instant::now() + Duration::from_secs(5);
    while fds_on_database(&file) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} descriptors still open on the database",
            fds_on_database(&file)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn zero_read_connections_is_refused() {
    let config = DatabaseConfig {
        url: "sqlite::memory:".to_owned(),
        read_connections: 0,
        ..DatabaseConfig::default()
    };
    let error = Storage::from_config(&config).await.unwrap_err();
    assert!(error.to_string().contains("read_connections"), "{error}");
}

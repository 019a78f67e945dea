//! Issue 11: `tickerwatch serve` seen from outside, as the real binary. SIGTERM stops it within
//! the grace period plus a second even while a client reads a download slowly and another has
//! sent half a request; silent connections are closed by the header-read timeout and give their
//! file descriptors back.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use storage::{DatabaseConfig, Storage};
use test_support::{wait_for, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Size of the export downloaded slowly: far more than the socket buffers hold, so the server is
/// still writing it when SIGTERM comes.
const BIG: u64 = 64 * 1024 * 1024;
const HALF_A_REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n";

/// A running `tickerwatch serve`; killed on drop if a test fails before stopping it.
struct Served {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Served {
    /// Starts `serve` on a free port over the database and export directory in `dir`.
    fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
        command
            .arg("serve")
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env("TICKERWATCH_DATABASE__URL", db_url(dir))
            .env("TICKERWATCH_EXPORTS__DIR", dir.join("exports"))
            .env("TICKERWATCH_SERVER__LISTEN", "127.0.0.1:0")
            .env("TICKERWATCH_LOG__FILTER", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        // Read stderr to its end on a thread (a full pipe would block the server's logging), and
        // pick the bound address out of the start-up line.
        let stderr = Arc::new(Mutex::new(String::new()));
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let reader = BufReader::new(child.stderr.take().unwrap());
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let _ = addr_tx.send(rest.split_whitespace().next().unwrap_or_default().to_owned());
                }
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut served = Self { child, addr: ([127, 0, 0, 1], 0).into(), stderr };
        match addr_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => served.addr = addr.parse().unwrap(),
            Err(_) => panic!("serve did not start:\n{}", served.log()),
        }
        served
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends SIGTERM and waits up to `within` for the exit; returns the time it took and whether
    /// it exited successfully, or `None` if it was still running (it is then killed).
    async fn terminate(&mut self, within: Duration) -> Option<(Duration, bool)> {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status().unwrap();
        assert!(status.success());
        let sent = Instant::now();
        let child = &mut self.child;
        let exited = wait_for(within, || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await;
        exited.map(|status| (sent.elapsed(), status.success()))
    }

    /// The server process's open descriptors other than the database's: the heartbeat and the
    /// job workers use the database, so the (bounded) SQLite pool may open another connection at
    /// any time, a few files each; what the HTTP side holds must come back to its baseline
    /// regardless.
    fn open_fds(&self) -> usize {
        self.fd_targets().iter().filter(|target| !target.contains(DB_FILE)).count()
    }

    /// What each open descriptor points at (files, sockets), sorted: says what a leak is.
    fn fd_targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| std::fs::read_link(entry.path()).ok())
                    .map(|target| target.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        targets.sort();
        targets
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The database file of a test's `serve` (with its `-wal` and `-shm` files beside it).
const DB_FILE: &str = "tw.db";

fn db_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join(DB_FILE).display())
}

/// Stores a ready export of `bytes` bytes (a sparse file: instant to create) and returns its id.
async fn seed_big_export(dir: &Path, bytes: u64) -> i64 {
    let storage = Storage::connect(&db_url(dir), &DatabaseConfig::default()).await.unwrap();
    storage.migrate().await.unwrap();
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let name = "export-20240101T000000Z-0000000000000000.csv";
    std::fs::File::create(exports.join(name)).unwrap().set_len(bytes).unwrap();
    let record = storage.create_export("csv", "bars", name, None).await.unwrap();
    storage.complete_export(record.id, 1, bytes, "00").await.unwrap();
    storage.close().await;
    record.id
}

/// Waits up to `within` for the server to close `stream` (EOF or reset).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let drain = async {
        let mut buf = [0_u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(within, drain).await.is_ok()
}

async fn healthz(addr: SocketAddr) -> String {
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    client.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Issue 11: with a client reading a download slowly and one that sent half a request, SIGTERM
/// used to leave `serve` running for good (the drain waited for both, before the job engine's
/// grace even started). Now it exits within the grace plus a second, also with a job running
/// (an analysis waiting on a model server that never answers): the drain and the job's grace
/// run side by side.
#[tokio::test]
async fn sigterm_with_a_stalled_download_a_half_sent_request_and_a_running_job_exits_within_the_grace() {
    const GRACE_SECS: u64 = 3;
    const TOKEN: &str = "tw_serve_test_token_0123456789";
    let dir = tempfile::tempdir().unwrap();
    let id = seed_big_export(dir.path(), BIG).await;
    // A model server that takes the request and never answers.
    let model = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let model_url = format!("http://{}/v1", model.local_addr().unwrap());
    let grace = GRACE_SECS.to_string();
    let tokens = format!("[\"{TOKEN}\"]");
    let mut served = Served::start(
        dir.path(),
        &[
            ("TICKERWATCH_JOBS__SHUTDOWN_GRACE_SECS", &grace),
            ("TICKERWATCH_SERVER__AUTH__TOKENS", &tokens),
            ("TICKERWATCH_ANALYSIS__LLM__PROVIDER", "openai"),
            ("TICKERWATCH_ANALYSIS__LLM__BASE_URL", &model_url),
            ("TICKERWATCH_ANALYSIS__LLM__MAX_RETRIES", "0"),
        ],
    );

    let mut trigger = TcpStream::connect(served.addr).await.unwrap();
    let request = format!(
        "POST /api/analysis/AAPL HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    trigger.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    trigger.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}\n{}", served.log());
    let (_model_call, _) = tokio::time::timeout(Duration::from_secs(30), model.accept())
        .await
        .unwrap_or_else(|_| panic!("the analysis job never called the model:\n{}", served.log()))
        .unwrap();

    // A download whose client reads the status line and then nothing more.
    let mut download = TcpStream::connect(served.addr).await.unwrap();
    let request = format!("GET /api/exports/{id}/download HTTP/1.1\r\nHost: x\r\n\r\n");
    download.write_all(request.as_bytes()).await.unwrap();
    let mut status_line = [0_u8; 12];
    download.read_exact(&mut status_line).await.unwrap();
    assert_eq!(&status_line, b"HTTP/1.1 200", "{}", served.log());
    // A client that sent half a request head and went quiet.
    let mut half = TcpStream::connect(served.addr).await.unwrap();
    half.write_all(HALF_A_REQUEST).await.unwrap();
    // Both are being served before the signal.
    assert!(healthz(served.addr).await.starts_with("HTTP/1.1 200"));

    let limit = Duration::from_secs(GRACE_SECS + 1);
    let Some((took, success)) = served.terminate(Duration::from_secs(20)).await else {
        panic!("serve still running 20 s after SIGTERM (grace {GRACE_SECS} s):\n{}", served.log());
    };
    println!("serve exited {took:?} after SIGTERM (grace {GRACE_SECS} s)");
    assert!(
        took < limit,
        "serve took {took:?} to exit after SIGTERM, more than {limit:?}:\n{}",
        served.log()
    );
    assert!(success, "serve failed:\n{}", served.log());
    assert!(closed_within(&mut half, Duration::from_secs(1)).await);
    assert!(closed_within(&mut download, Duration::from_secs(5)).await);
    let log = served.log();
    assert!(log.contains("drain deadline"), "{log}");
    assert!(log.contains("did not finish within the grace period"), "the job was not running: {log}");
}

/// Issue 11: silent connections were never closed (0 of 30 after 125 s), each holding a file
/// descriptor until `/healthz` stopped answering at the limit. Now 200 of them are closed by the
/// header-read timeout and the server's descriptors return to their baseline.
#[tokio::test]
async fn two_hundred_silent_connections_are_closed_and_their_descriptors_released() {
    const CONNECTIONS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut served = Served::start(dir.path(), &[("TICKERWATCH_SERVER__HEADER_READ_TIMEOUT_SECS", "0.5")]);
    assert!(healthz(served.addr).await.starts_with("HTTP/1.1 200"));
    let baseline = steady_fds(&served).await;
    let baseline_targets = served.fd_targets();

    let opened = Instant::now();
    let mut silent = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        silent.push(TcpStream::connect(served.addr).await.unwrap());
    }
    let peak = served.open_fds();
    for (idx, stream) in silent.iter_mut().enumerate() {
        assert!(closed_within(stream, Duration::from_secs(10)).await, "connection {idx} still open");
    }
    let closed_after = opened.elapsed();
    drop(silent);
    let back = wait_until(Duration::from_secs(10), || served.open_fds() <= baseline).await;
    println!(
        "fds: baseline {baseline}, {peak} with {CONNECTIONS} silent connections, {} after they were closed (all within {closed_after:?})",
        served.open_fds()
    );
    assert!(
        back,
        "fds {} after closing, baseline {baseline}: {:?} then {:?}",
        served.open_fds(),
        baseline_targets,
        served.fd_targets()
    );
    assert!(closed_after >= Duration::from_millis(450), "closed after {closed_after:?}, before the timeout");
    assert!(healthz(served.addr).await.starts_with("HTTP/1.1 200"));
    let (_, success) = served.terminate(Duration::from_secs(20)).await.expect("serve exits on SIGTERM");
    assert!(success, "{}", served.log());
}

/// The server's fd count once it has not changed for 200 ms (start-up work settled).
async fn steady_fds(served: &Served) -> usize {
    let mut last = served.open_fds();
    let mut since = Instant::now();
    let settled = wait_until(Duration::from_secs(10), || {
        let now = served.open_fds();
        if now != last {
            (last, since) = (now, Instant::now());
        }
        since.elapsed() >= Duration::from_millis(200)
    })
    .await;
    assert!(settled, "the server's fd count does not settle");
    last
}

/// Issue 12: an alert stream never ends on its own. At SIGTERM the server ends it as its drain
/// starts, so `serve` exits at once instead of holding the connection to the drain deadline.
#[tokio::test]
async fn sigterm_with_an_open_alert_stream_exits_at_once_and_ends_the_stream() {
    const GRACE_SECS: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let grace = GRACE_SECS.to_string();
    let mut served = Served::start(dir.path(), &[("TICKERWATCH_JOBS__SHUTDOWN_GRACE_SECS", &grace)]);
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream.write_all(b"GET /api/alerts/stream?since_id=0 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut status_line = [0_u8; 12];
    stream.read_exact(&mut status_line).await.unwrap();
    assert_eq!(&status_line, b"HTTP/1.1 200", "{}", served.log());

    let Some((took, success)) = served.terminate(Duration::from_secs(20)).await else {
        panic!("serve still running 20 s after SIGTERM:\n{}", served.log());
    };
    println!("serve exited {took:?} after SIGTERM with an alert stream open (grace {GRACE_SECS} s)");
    assert!(took < Duration::from_secs(2), "serve took {took:?} to exit:\n{}", served.log());
    assert!(success, "serve failed:\n{}", served.log());
    assert!(closed_within(&mut stream, Duration::from_secs(1)).await, "the stream is still open");
    assert!(!served.log().contains("drain deadline"), "{}", served.log());
}

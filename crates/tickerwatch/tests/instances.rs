//! Several instances on one PostgreSQL database, as real processes: one `serve --role api` and
//! three `serve --role worker`, while a worker is killed (SIGKILL) and restarted every
//! [`KILL_EVERY`]. Hundreds of mixed runs (download-tracker, monitor, analyses of many symbols)
//! are triggered over HTTP; every run must end exactly once: none lost, none left active, none
//! finished twice, attempts within each job's policy, the vendor asked no more often than the
//! runs' attempts allow, and every `ready` export downloads with its stored SHA-256 from the API
//! instance and from a second one started afterwards. Exports go to an S3-compatible bucket (the
//! moto server CI starts; locally without `TEST_S3_ENDPOINT`, a shared directory) with
//! retention keeping the last 5 runs' exports: afterwards the bucket holds exactly the `ready`
//! exports' objects, no orphan.
//!
//! Run alone with `cargo test -p tickerwatch --test instances -- --nocapture` to see the figures.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use storage::{DatabaseConfig, ExportStatus, RunRecord, RunStatus, Storage};
use test_support::postgres::PgSchema;
use test_support::s3::S3Bucket;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "instances-test-token-0123456789";
/// Runs to trigger (accepted triggers; refusals for an active run are retried).
const RUNS: usize = 300;
const KILL_EVERY: Duration = Duration::from_millis(1_500);
const WATCHLIST: [&str; 2] = ["AAPL", "MSFT"];
/// `exports.retention.keep_last`: retention runs (and deletes objects) during the chaos.
const KEEP_LAST_RUNS: u32 = 5;
/// Analysis subjects: not on the watchlist, so the watchlist's vendor requests are the tracker's
/// and the monitor's only.
const SUBJECTS: [&str; 12] =
    ["NVDA", "AMZN", "GOOG", "META", "TSLA", "AMD", "INTC", "ORCL", "IBM", "CSCO", "QCOM", "TXN"];

struct Cluster {
    schema_url: String,
    exports: tempfile::TempDir,
    bucket: Option<S3Bucket>,
    yahoo: MockServer,
    api_port: u16,
}

impl Cluster {
    fn command(&self, args: &[&str], port: u16) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env("TICKERWATCH_DATABASE__URL", &self.schema_url)
            .env("TICKERWATCH_DATABASE__MAX_CONNECTIONS", "6")
            .env("TICKERWATCH_EXPORTS__DIR", self.exports.path())
            .env("TICKERWATCH_SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("TICKERWATCH_SERVER__AUTH__TOKENS", format!("[\"{TOKEN}\"]"))
            .env("TICKERWATCH_PROVIDERS__ORDER", "[\"yahoo\"]")
            .env("TICKERWATCH_PROVIDERS__YAHOO__BASE_URL", self.yahoo.uri())
            .env("TICKERWATCH_PROVIDERS__YAHOO__MAX_RETRIES", "0")
            .env("TICKERWATCH_JOBS__HEARTBEAT_INTERVAL_MS", "250")
            .env("TICKERWATCH_JOBS__OWNER_STALE_AFTER_SECS", "2")
            .env("TICKERWATCH_JOBS__SHUTDOWN_GRACE_SECS", "2")
            .env("TICKERWATCH_JOBS__CLAIM_POLL_MS", "1000")
            .env("TICKERWATCH_EXPORTS__RETENTION__KEEP_LAST", KEEP_LAST_RUNS.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if let Some(bucket) = &self.bucket {
            command
                .env("TICKERWATCH_EXPORTS__STORE", "s3")
                .env("TICKERWATCH_EXPORTS__S3__BUCKET", bucket.name())
                .env("TICKERWATCH_EXPORTS__S3__ENDPOINT", bucket.endpoint())
                .env("TICKERWATCH_EXPORTS__S3__REGION", "us-east-1")
                .env("TICKERWATCH_EXPORTS__S3__ACCESS_KEY_ID", "chaos-test")
                .env("TICKERWATCH_EXPORTS__S3__SECRET_ACCESS_KEY", "chaos-test-secret");
        }
        command
    }

    fn spawn(&self, role: &str, port: u16) -> Child {
        self.command(&["serve", "--role", role], port).spawn().expect("spawn tickerwatch")
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }

    fn url_on(port: u16, path: &str) -> String {
        format!("http://127.0.0.1:{port}{path}")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_healthy(port: u16) {
    let url = format!("http://127.0.0.1:{port}/readyz");
    let ready = test_support::wait_for(Duration::from_secs(60), || {
        let url = url.clone();
        async move { reqwest::get(url).await.ok().filter(|r| r.status().is_success()) }
    })
    .await;
    assert!(ready.is_some(), "instance on port {port} did not become ready");
}

/// Triggers `path` until it is accepted (202); returns the run id, or none once `stop` is set.
async fn trigger_until_accepted(client: &reqwest::Client, cluster: &Cluster, path: &str) -> Option<i64> {
    loop {
        let response = client.post(cluster.url(path)).bearer_auth(TOKEN).send().await.ok()?;
        match response.status().as_u16() {
            202 => {
                let body: serde_json::Value = response.json().await.ok()?;
                return body["run_id"].as_i64();
            }
            // The job (or this subject) has an active run, or its queue is full: later.
            409 | 503 => tokio::time::sleep(Duration::from_millis(25)).await,
            other => panic!("trigger {path} answered {other}: {}", response.text().await.unwrap_or_default()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_end_exactly_once_while_workers_are_killed() {
    let Some(schema) = PgSchema::create("instances").await else { return };
    let yahoo = MockServer::start().await;
    for symbol in WATCHLIST.iter().chain(SUBJECTS.iter()) {
        Mock::given(method("GET"))
            .and(path_regex(format!("^/v8/finance/chart/{symbol}$")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_string(test_support::yahoo_chart_json(symbol, 60, 1_704_205_800))
                    // Slow enough that kills land mid-run.
                    .set_delay(Duration::from_millis(150)),
            )
            .mount(&yahoo)
            .await;
    }
    let cluster = Arc::new(Cluster {
        schema_url: schema.url().to_owned(),
        exports: tempfile::tempdir().unwrap(),
        bucket: S3Bucket::create("instances").await,
        yahoo,
        api_port: free_port(),
    });
    let mut added = cluster.command(&["watchlist", "add", WATCHLIST[0], WATCHLIST[1]], 0);
    let added = added.stderr(Stdio::piped()).output().await.unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let mut api = cluster.spawn("api", cluster.api_port);
    let workers: Arc<Mutex<Vec<(Child, u16)>>> = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..3 {
        let port = free_port();
        workers.lock().await.push((cluster.spawn("worker", port), port));
    }
    wait_healthy(cluster.api_port).await;
    for (_, port) in workers.lock().await.iter() {
        wait_healthy(*port).await;
    }
    // A worker serves the ops endpoints only; the API instance serves the API.
    let worker_port = workers.lock().await[0].1;
    let on_worker = reqwest::get(format!("http://127.0.0.1:{worker_port}/api/jobs")).await.unwrap();
    assert_eq!(on_worker.status(), 404);
    assert!(reqwest::get(cluster.url("/api/jobs")).await.unwrap().status().is_success());

    // Chaos: SIGKILL one worker (round robin) and start a new one in its place.
    let stop_chaos = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicUsize::new(0));
    let chaos = {
        let (cluster, workers, stop, kills) =
            (Arc::clone(&cluster), Arc::clone(&workers), Arc::clone(&stop_chaos), Arc::clone(&kills));
        tokio::spawn(async move {
            let mut next = 0;
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(KILL_EVERY).await;
                let mut workers = workers.lock().await;
                let (child, _) = &mut workers[next % 3];
                child.start_kill().expect("SIGKILL");
                let _ = child.wait().await;
                kills.fetch_add(1, Ordering::SeqCst);
                let port = free_port();
                workers[next % 3] = (cluster.spawn("worker", port), port);
                next += 1;
            }
        })
    };

    // Mixed triggers from three concurrent clients until RUNS were accepted.
    let started = Instant::now();
    let accepted = Arc::new(Mutex::new(Vec::<i64>::new()));
    let mut triggers = Vec::new();
    for lane in 0..3 {
        let (cluster, accepted) = (Arc::clone(&cluster), Arc::clone(&accepted));
        triggers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut i = 0_usize;
            loop {
                if accepted.lock().await.len() >= RUNS {
                    return;
                }
                let path = match lane {
                    0 => "/api/jobs/download-tracker/trigger".to_owned(),
                    1 if i.is_multiple_of(2) => "/api/jobs/monitor/trigger".to_owned(),
                    _ => format!("/api/analysis/{}", SUBJECTS[i % SUBJECTS.len()]),
                };
                i += 1;
                if let Some(id) = trigger_until_accepted(&client, &cluster, &path).await {
                    let mut accepted = accepted.lock().await;
                    if accepted.len() < RUNS {
                        accepted.push(id);
                    }
                }
            }
        }));
    }
    for trigger in triggers {
        trigger.await.unwrap();
    }
    let accepted = accepted.lock().await.clone();
    let triggered_in = started.elapsed();

    // Every run reaches a final status.
    let storage = Storage::connect(&cluster.schema_url, &DatabaseConfig::default()).await.unwrap();
    let finished = test_support::wait_for(Duration::from_secs(180), || {
        let storage = storage.clone();
        async move {
            let runs = storage.runs(None, 10_000).await.unwrap();
            runs.iter().all(|r| !r.status.is_active()).then_some(runs)
        }
    })
    .await;
    let elapsed = started.elapsed();
    stop_chaos.store(true, Ordering::SeqCst);
    chaos.await.unwrap();
    let runs = finished.unwrap_or_else(|| panic!("runs still active after 180 s"));

    // Exactly once: the accepted runs are all there, each final once, within its attempts.
    let by_id: HashMap<i64, &RunRecord> = runs.iter().map(|r| (r.id, r)).collect();
    assert_eq!(accepted.len(), RUNS);
    for id in &accepted {
        let run = by_id.get(id).unwrap_or_else(|| panic!("run {id} was lost"));
        assert!(run.attempts >= 1 && run.attempts <= run.max_attempts, "{run:?}");
        match run.status {
            RunStatus::Succeeded | RunStatus::Partial => {}
            RunStatus::Interrupted => {
                assert_eq!(run.attempts, run.max_attempts, "interrupted with attempts left: {run:?}");
                assert!(run.error.as_deref().is_some_and(|e| e.contains("stopped")), "{run:?}");
            }
            other => panic!("run {id} ended {other}: {run:?}"),
        }
    }
    let count = |job: &str, pick: &dyn Fn(&RunRecord) -> bool| {
        runs.iter().filter(|r| r.job == job && pick(r)).count()
    };
    let attempts_of =
        |job: &str| runs.iter().filter(|r| r.job == job).map(|r| r.attempts as usize).sum::<usize>();
    let done = |r: &RunRecord| matches!(r.status, RunStatus::Succeeded | RunStatus::Partial);
    let tracker_done = count("download-tracker", &done);
    let (tracker_attempts, monitor_attempts) = (attempts_of("download-tracker"), attempts_of("monitor"));
    let retried = runs.iter().filter(|r| r.attempts > 1).count();
    let interrupted = runs.iter().filter(|r| r.status == RunStatus::Interrupted).count();

    // The vendor: each tracker attempt asks once per watchlist symbol, a monitor attempt at most
    // once; a run that ended once was not executed twice.
    let requests = cluster.yahoo.received_requests().await.unwrap_or_default();
    for symbol in WATCHLIST {
        let asked = requests.iter().filter(|r| r.url.path().ends_with(&format!("/{symbol}"))).count();
        assert!(asked >= tracker_done, "{symbol}: {asked} requests for {tracker_done} finished tracker runs");
        assert!(
            asked <= tracker_attempts + monitor_attempts,
            "{symbol}: {asked} requests but only {tracker_attempts} tracker and {monitor_attempts} monitor attempts"
        );
    }

    // The API shows each run's attempts (a retried run says so).
    if let Some(retried_run) = runs.iter().find(|r| r.attempts > 1) {
        let view: serde_json::Value =
            reqwest::get(cluster.url(&format!("/api/jobs/runs/{}", retried_run.id)))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(view["attempts"].as_u64(), Some(u64::from(retried_run.attempts)), "{view}");
        assert_eq!(view["max_attempts"].as_u64(), Some(u64::from(retried_run.max_attempts)), "{view}");
    }

    // A second API instance, started now (its start-up also removes objects a killed worker
    // uploaded but never recorded as ready).
    let second_port = free_port();
    let mut second_api = cluster.spawn("api", second_port);
    wait_healthy(second_port).await;

    // Every ready export downloads with its stored SHA-256 from both API instances.
    let client = reqwest::Client::new();
    let exports = storage.exports(10_000).await.unwrap();
    let ready: Vec<_> = exports.iter().filter(|e| e.status == ExportStatus::Ready).collect();
    assert!(!ready.is_empty(), "the tracker runs wrote exports");
    for export in &ready {
        for port in [cluster.api_port, second_port] {
            let url = Cluster::url_on(port, &format!("/api/exports/{}/download", export.id));
            let response = client.get(url).bearer_auth(TOKEN).send().await.unwrap();
            assert!(response.status().is_success(), "export {} on {port}: {}", export.id, response.status());
            let body = response.bytes().await.unwrap();
            assert_eq!(
                Some(hex::encode(Sha256::digest(&body))),
                export.sha256,
                "export {} on {port}",
                export.id
            );
        }
    }
    assert!(exports.iter().all(|e| e.status != ExportStatus::Writing), "no export left half-written");
    // Retention kept the last runs' exports, and the bucket holds exactly theirs.
    let kept_runs: std::collections::HashSet<Option<i64>> = ready.iter().map(|e| e.run_id).collect();
    assert!(kept_runs.len() <= KEEP_LAST_RUNS as usize + 1, "retention kept {} runs", kept_runs.len());
    let mut pending_uploads = 0;
    if let Some(bucket) = &cluster.bucket {
        let mut objects: Vec<String> = bucket
            .keys()
            .await
            .into_iter()
            .map(|key| key.rsplit('/').next().unwrap_or_default().to_owned())
            .collect();
        let mut expected: Vec<String> = ready.iter().map(|e| e.file_name.clone()).collect();
        objects.sort();
        expected.sort();
        assert_eq!(objects, expected, "the bucket holds exactly the ready exports");
        // Uploads cut off by SIGKILL stay pending (invisible) until the bucket's lifecycle rule
        // aborts them; object_store cannot list them (see README).
        pending_uploads = bucket.pending_uploads().await.len();
    }

    eprintln!(
        "instances: {RUNS} runs (tracker {}, monitor {}, analysis {}) with 1 API + 3 workers in {:.1} s \
         (triggers accepted in {:.1} s), {} workers killed, {retried} runs retried, {interrupted} interrupted, \
         {} ready exports downloaded and verified from 2 API instances ({}), {pending_uploads} multipart uploads \
         left pending by killed workers",
        count("download-tracker", &|_| true),
        count("monitor", &|_| true),
        count("analysis", &|_| true),
        elapsed.as_secs_f64(),
        triggered_in.as_secs_f64(),
        kills.load(Ordering::SeqCst),
        ready.len(),
        if cluster.bucket.is_some() { "S3" } else { "local directory" },
    );

    let _ = api.start_kill();
    let _ = second_api.start_kill();
    for (child, _) in workers.lock().await.iter_mut() {
        let _ = child.start_kill();
    }
    storage.close().await;
    schema.drop_schema().await;
    if let Some(bucket) = Arc::into_inner(cluster).and_then(|cluster| cluster.bucket) {
        bucket.remove().await;
    }
}

//! Several `tickerwatch` processes on one database, as a user runs them: a live `serve` with a
//! download-tracker run waiting on a slow vendor, then `tickerwatch jobs trigger` and a second
//! `serve` on the same port. Neither may interrupt the live run (they used to: both ran crash
//! recovery over every active run at start-up).

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "processes-test-token-0123456789";

struct Setup {
    dir: tempfile::TempDir,
    yahoo: MockServer,
    port: u16,
}

impl Setup {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env("TICKERWATCH_DATABASE__URL", self.database_url())
            .env("TICKERWATCH_EXPORTS__DIR", self.dir.path().join("exports"))
            .env("TICKERWATCH_SERVER__LISTEN", format!("127.0.0.1:{}", self.port))
            .env("TICKERWATCH_SERVER__AUTH__TOKENS", format!("[\"{TOKEN}\"]"))
            .env("TICKERWATCH_PROVIDERS__ORDER", "[\"yahoo\"]")
            .env("TICKERWATCH_PROVIDERS__YAHOO__BASE_URL", self.yahoo.uri())
            .env("TICKERWATCH_PROVIDERS__YAHOO__MAX_RETRIES", "0")
            .env("TICKERWATCH_PROVIDERS__YAHOO__TIMEOUT_SECS", "20")
            .env("TICKERWATCH_JOBS__HEARTBEAT_INTERVAL_MS", "200")
            .env("TICKERWATCH_JOBS__OWNER_STALE_AFTER_SECS", "5")
            .env("TICKERWATCH_JOBS__SHUTDOWN_GRACE_SECS", "1")
            .stdin(Stdio::null())
            // A failing assertion must not leave a `serve` running (it would hold the port and
            // the pipes of whoever ran the tests).
            .kill_on_drop(true);
        command
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("tw.db").display())
    }

    /// The database the processes share, opened as they open it.
    async fn database(&self) -> storage::Storage {
        storage::Storage::connect(&self.database_url(), &storage::DatabaseConfig::default()).await.unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn run(&self, run_id: i64) -> Value {
        reqwest::get(self.url(&format!("/api/jobs/runs/{run_id}"))).await.unwrap().json().await.unwrap()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until_serving(setup: &Setup, server: &mut Child) {
    let ready = test_support::wait_for(Duration::from_secs(30), || {
        let exited = server.try_wait().unwrap();
        async move {
            assert!(exited.is_none(), "serve exited early: {exited:?}");
            reqwest::get(setup.url("/healthz")).await.ok().filter(|r| r.status().is_success())
        }
    })
    .await;
    assert!(ready.is_some(), "serve did not start");
}

async fn stop(server: &mut Child) {
    let pid = server.id().unwrap().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait()).await.unwrap().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test]
async fn a_cli_trigger_and_a_second_serve_leave_the_live_servers_run_alone() {
    let yahoo = MockServer::start().await;
    // A slow vendor: the live run stays `running` while the other processes start.
    Mock::given(method("GET"))
        .and(path_regex("^/v8/finance/chart/AAPL$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(test_support::yahoo_chart_json("AAPL", 30, 1_704_205_800))
                .set_delay(Duration::from_secs(4)),
        )
        .mount(&yahoo)
        .await;
    let setup = Setup { dir: tempfile::tempdir().unwrap(), yahoo, port: free_port() };
    let added = setup.command(&["watchlist", "add", "AAPL"]).output().await.unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let mut server = setup.command(&["serve"]).stderr(Stdio::null()).spawn().unwrap();
    wait_until_serving(&setup, &mut server).await;
    let client = reqwest::Client::new();
    let triggered: Value = client
        .post(setup.url("/api/jobs/download-tracker/trigger"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = triggered["run_id"].as_i64().expect("a run id");
    let asked = test_support::wait_for(Duration::from_secs(10), || async {
        (!setup.yahoo.received_requests().await.unwrap_or_default().is_empty()).then_some(())
    })
    .await;
    assert!(asked.is_some(), "the live run asked the vendor");

    // `tickerwatch jobs trigger` in its own process: refused (single-flight), nothing touched.
    let cli = setup.command(&["jobs", "trigger", "download-tracker"]).output().await.unwrap();
    let cli_err = String::from_utf8_lossy(&cli.stderr);
    assert!(!cli.status.success() && cli_err.contains(&format!("active run {run_id}")), "{cli_err}");
    assert_eq!(setup.run(run_id).await["status"], "running");

    // A second `serve` on the same port fails to bind, and touches nothing either: it binds
    // before it opens the database, so it never registers (nor sweeps, nor starts workers that
    // could claim the live server's queued runs).
    let second = setup.command(&["serve"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let second_pid = second.id().expect("the second serve's pid");
    let second = second.wait_with_output().await.unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("cannot start the HTTP server"));
    let database = setup.database().await;
    let instances = database.instances().await.unwrap();
    assert!(instances.iter().any(|instance| instance.pid == server.id().unwrap()), "{instances:?}");
    assert!(
        instances.iter().all(|instance| instance.pid != second_pid),
        "the failed serve registered: {instances:?}"
    );
    database.close().await;
    let run = setup.run(run_id).await;
    assert_eq!(run["status"], "running", "{run}");

    // The live run finishes normally, with its export.
    let finished = test_support::wait_for(Duration::from_secs(20), || async {
        let run = setup.run(run_id).await;
        (run["status"] != "running" && run["status"] != "queued").then_some(run)
    })
    .await
    .expect("the run finished");
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let export_id = finished["export_id"].as_i64().expect("an export");
    let export: Value =
        reqwest::get(setup.url(&format!("/api/exports/{export_id}"))).await.unwrap().json().await.unwrap();
    assert_eq!(export["status"], "ready", "{export}");
    stop(&mut server).await;
}

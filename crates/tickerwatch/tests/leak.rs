//! The founding promise, measured: the real server, started in this process against mock vendor
//! servers, runs the download-tracker job 200 times over HTTP (waiting for each run), and its
//! memory stays flat, its open file descriptors return to the baseline after every run, no run is
//! lost or stuck, and every export downloads with the listed checksum.

use std::time::Duration;

use domain::{ProviderId, Symbol};
use test_support::{
    CannedHttpServer, CannedResponse, wait_for_fds_at_most, wait_for_steady_fds, wait_until,
    yahoo_chart_json, yahoo_chart_path,
};
use tickerwatch::client::ApiClient;
use tickerwatch::config::Config;
use tickerwatch::soak::run_cycles;
use tickerwatch::startup::Application;

const CYCLES: usize = 200;
const WARM_UP: usize = 20;
const MAX_RSS_GROWTH: u64 = 5 * 1024 * 1024;
const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "IBM"];

#[test]
fn two_hundred_download_tracker_runs_leak_nothing() {
    if std::env::var_os("TEST_LOG").is_some() {
        tickerwatch::telemetry::init(&tickerwatch::config::LogConfig {
            filter: "info,sqlx=debug".to_owned(),
            format: tickerwatch::config::LogFormat::Text,
        });
    }
    test_support::run_exclusive(2, async {
        let vendor = CannedHttpServer::start().await.unwrap();
        for (i, symbol) in SYMBOLS.iter().enumerate() {
            let body = yahoo_chart_json(symbol, 260, 1_704_205_800 + i as i64);
            vendor.route(&yahoo_chart_path(symbol), CannedResponse::json(200, body));
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.database.url = format!("sqlite://{}", dir.path().join("leak.db").display());
        config.database.idle_timeout_secs = 0.2;
        config.exports.dir = dir.path().join("exports");
        config.exports.retention.keep_last = Some(10);
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        let token = server::generate_token();
        config.server.auth.tokens = vec![server::ApiToken::new(token.clone())];
        config.providers.order = vec![ProviderId::Yahoo];
        config.providers.yahoo.base_url = vendor.uri();
        config.providers.yahoo.rate_limits = Vec::new();
        config.providers.yahoo.pool_idle_timeout_secs = 0.05;

        let application = Application::build(config).await.unwrap();
        for symbol in SYMBOLS {
            application.storage().add_to_watchlist(&Symbol::parse(symbol).unwrap()).await.unwrap();
        }
        let base = format!("http://{}", application.local_addr());
        let storage = application.storage().clone();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(application.run_until_stopped(async {
            let _ = stop_rx.await;
        }));
        let client = ApiClient::new(&base, Some(token)).unwrap();

        // Baseline: after one run, with the vendor pool drained by its idle timeout.
        let first = run_cycles(&client, 1, |_| {}).await.unwrap();
        assert_eq!(first[0].status, "succeeded", "{first:?}");
        // Idle database connections close after 0.2 s, vendor connections after 50 ms: the
        // baseline is taken once both pools are empty.
        let drained = wait_until(Duration::from_secs(10), || {
            storage.open_connections() == 0 && vendor.open_connections() == 0
        })
        .await;
        assert!(
            drained,
            "{} database and {} vendor connections still open",
            storage.open_connections(),
            vendor.open_connections()
        );
        let baseline_fds = wait_for_steady_fds(Duration::from_millis(50), Duration::from_secs(5)).await;

        let mut fds_after = Vec::with_capacity(CYCLES);
        let mut rss_after = Vec::with_capacity(CYCLES);
        let mut statuses = Vec::with_capacity(CYCLES);
        for _ in 0..CYCLES {
            let cycle = run_cycles(&client, 1, |_| {}).await.unwrap().remove(0);
            if cycle.status != "succeeded" {
                panic!("run failed: {cycle:?}: {:?}", client.run(cycle.run_id).await.unwrap());
            }
            statuses.push(cycle.status.clone());
            assert!(cycle.export_bytes.is_some_and(|b| b > 0), "run has no downloadable export: {cycle:?}");
            // Idle pooled connections close after their idle timeouts; wait for that, not forever.
            fds_after.push(wait_for_fds_at_most(baseline_fds, Duration::from_secs(3)).await);
            rss_after.push(cycle.rss_bytes);
        }
        // Vendor calls are visible to operators.
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        assert!(metrics.contains("provider_requests_total{provider=\"yahoo\",outcome=\"ok\"}"), "{metrics}");
        let _ = stop_tx.send(());
        drop(client);
        serving.await.unwrap().unwrap();

        assert!(statuses.iter().all(|s| s == "succeeded"), "statuses: {statuses:?}");
        let over: Vec<(usize, usize)> =
            fds_after.iter().copied().enumerate().filter(|(_, fds)| *fds > baseline_fds).collect();
        assert!(over.is_empty(), "fds above the baseline {baseline_fds} after runs: {over:?}");
        let (at_warm_up, at_end) = (rss_after[WARM_UP - 1], rss_after[CYCLES - 1]);
        let growth = at_end.saturating_sub(at_warm_up);
        println!(
            "leak test: {CYCLES} runs, fds baseline {baseline_fds}, max after a run {}, RSS {:.1} MB at run {WARM_UP} -> {:.1} MB at run {CYCLES} (+{:.2} MB)",
            fds_after.iter().max().unwrap(),
            at_warm_up as f64 / 1_048_576.0,
            at_end as f64 / 1_048_576.0,
            growth as f64 / 1_048_576.0
        );
        assert!(growth < MAX_RSS_GROWTH, "RSS grew by {growth} bytes from run {WARM_UP} to run {CYCLES}");
    });
}

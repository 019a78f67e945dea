//! The founding promise for the analyst half: the crew runs 500 times in one process against a
//! mock OpenAI-compatible server (tool calls included) with flat memory and no leaked socket or
//! file. Figures are printed; run with `--nocapture` to see them.

mod common;

use std::time::{Duration, Instant};

use agents::NoObserver;
use common::{env, request};
use test_support::llm::MockChatServer;
use test_support::{
    new_fds_since, open_fd_targets, open_fds, rss_bytes, run_exclusive, wait_for_fds_at_most,
};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 500;
const MEASURE_FROM: usize = 50;
/// Growth allowed from run 50 to run 500 (the bound).
const MAX_RSS_GROWTH: u64 = 5 * 1024 * 1024;

#[test]
fn five_hundred_crew_runs_keep_memory_flat_and_release_every_descriptor() {
    run_exclusive(2, async {
        let server = MockChatServer::start().await.unwrap();
        // Before the database too: its pool opens connections as runs need them and closes
        // them when the store closes.
        let fds_before = open_fds();
        let targets_before = open_fd_targets();
        let env = env().await;
        env.store_year_of_bars("AAPL").await;
        let service = env.service_at(&server.uri(), |_| {});

        let started = Instant::now();
        let mut rss_at_measure_start = 0;
        for run in 1..=RUNS {
            let analysis =
                service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap();
            assert_eq!(analysis.outcome.tool_calls, 6);
            drop(analysis);
            if run == MEASURE_FROM {
                rss_at_measure_start = rss_bytes();
            }
        }
        let elapsed = started.elapsed();
        let rss_at_end = rss_bytes();
        let fds_with_client = open_fds();
        assert_eq!(
            env.storage
                .research_notes(Some(&domain::Symbol::parse("AAPL").unwrap()), 1000)
                .await
                .unwrap()
                .len(),
            RUNS
        );
        drop(service);
        env.storage.close().await;
        drop(env);
        let fds_after = wait_for_fds_at_most(fds_before, Duration::from_secs(5)).await;

        let growth = rss_at_end.saturating_sub(rss_at_measure_start);
        println!(
            "{RUNS} crew runs ({} model requests) in {:.1} s ({:.1} ms/run, debug build); RSS at run {MEASURE_FROM}: \
             {:.1} MB, at run {RUNS}: {:.1} MB, growth {:.2} MB; fds {fds_before} before, {fds_with_client} with \
             the client and the database, {fds_after} after closing both",
            server.requests_served(),
            elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e3 / RUNS as f64,
            rss_at_measure_start as f64 / 1e6,
            rss_at_end as f64 / 1e6,
            growth as f64 / 1e6,
        );
        assert_eq!(server.requests_served(), 10 * RUNS as u64);
        assert!(growth < MAX_RSS_GROWTH, "RSS grew {growth} bytes from run {MEASURE_FROM} to run {RUNS}");
        assert!(
            fds_after <= fds_before,
            "descriptors leaked: {fds_before} before, {fds_after} after: {:?}",
            new_fds_since(&targets_before)
        );
    });
}

#[test]
fn failing_runs_leave_nothing_behind_either() {
    const FAILING_RUNS: usize = 200;
    run_exclusive(2, async {
        let body =
            test_support::llm::openai_error_body("The server had an error", "server_error", "server_error");
        let server = MockChatServer::start_failing_first(u64::MAX, 500, body).await.unwrap();
        let fds_before = open_fds();
        let env = env().await;
        let service = env.service_at(&server.uri(), |config| config.max_retries = 1);
        let mut rss_at_measure_start = 0;
        for run in 1..=FAILING_RUNS {
            let error =
                service.analyze(&request("AAPL"), &NoObserver, CancellationToken::new()).await.unwrap_err();
            assert!(error.to_string().contains("500"), "{error}");
            if run == MEASURE_FROM {
                rss_at_measure_start = rss_bytes();
            }
        }
        let growth = rss_bytes().saturating_sub(rss_at_measure_start);
        let failed = env.storage.crew_runs(Some("AAPL"), 1000).await.unwrap();
        assert_eq!(failed.len(), FAILING_RUNS, "every failed run is recorded");
        drop(service);
        env.storage.close().await;
        drop(env);
        let fds_after = wait_for_fds_at_most(fds_before, Duration::from_secs(5)).await;
        println!(
            "{FAILING_RUNS} failing crew runs ({} requests): RSS growth from run {MEASURE_FROM}: {:.2} MB; fds \
             {fds_before} before, {fds_after} after",
            server.requests_served(),
            growth as f64 / 1e6
        );
        assert_eq!(server.requests_served(), 2 * FAILING_RUNS as u64, "one retry per run");
        assert!(growth < MAX_RSS_GROWTH, "RSS grew {growth} bytes");
        assert!(fds_after <= fds_before, "descriptors leaked: {fds_before} before, {fds_after} after");
    });
}

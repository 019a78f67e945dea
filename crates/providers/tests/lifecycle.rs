//! Resource lifecycle of networked providers: sockets, file descriptors, memory and tasks.
//!
//! The founding promise is that the service runs for months with flat memory and no leaked
//! socket, file or task. These tests drive the real `YahooProvider` (and so the shared
//! `HttpClient`) against a local HTTP server, watching the client's connections from the outside
//! through a `ConnectionCountingProxy`, and the process through `/proc/self/fd`, the tokio
//! runtime's alive-task count and RSS.
//!
//! Every test runs through `run_exclusive`: tests run as threads of one process, so another
//! test's sockets and runtime would otherwise show up in this one's fd count.
//!
//! The upstream is `test_support::CannedHttpServer` rather than wiremock: wiremock's first server
//! builds its own runtime on a background thread shortly *after* `MockServer::start` returns
//! (two epoll fds, an eventfd and a socket appear up to ~0.5 s later), and every mounted mock
//! keeps a clone of each matched request (about 9 KB of RSS per request here). Both would show
//! up as "leaks" of the client under test. The canned server runs on the test's own runtime, so
//! its connection tasks count as tasks too: they end only when the client closes its socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use domain::{Interval, ProviderId, Symbol};
use providers::yahoo::YahooProvider;
use providers::{BarsRequest, MarketData, ProviderError, Span, VendorConfig};
use test_support::{
    CannedHttpServer, CannedResponse, ConnectionCountingProxy, Fault, ResourceBaseline, ResourceWatch,
    alive_tasks, new_fds_since, open_fd_targets, open_fds, rss_bytes, run_exclusive, wait_for_fds_at_most,
    wait_for_tasks_at_most, yahoo_chart_json, yahoo_chart_not_found_json,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// How long a closed connection may take to be noticed (closing is asynchronous).
const CLOSE_WITHIN: Duration = Duration::from_secs(2);
/// 2024-01-02, a trading day; the payload's bars start here.
const START_TS: i64 = 1_704_205_800;

/// Yahoo settings for tests: no client-side rate limit, no retries, tiny backoffs, and a long
/// idle timeout so that a connection closing after `drop` is the drop's doing, not the pool's
/// idle timer.
fn config(base_url: &str) -> VendorConfig {
    let mut config = VendorConfig::yahoo();
    config.base_url = base_url.to_owned();
    config.rate_limits.clear();
    config.max_retries = 0;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    config.max_retry_wait_secs = 0.1;
    config.connect_timeout_secs = 2.0;
    config.timeout_secs = 5.0;
    config.pool_idle_timeout_secs = 60.0;
    config
}

fn yahoo(config: &VendorConfig) -> YahooProvider {
    YahooProvider::new(config).expect("valid Yahoo config")
}

fn daily(symbol: &str) -> BarsRequest {
    BarsRequest {
        symbol: Symbol::parse(symbol).expect("valid symbol"),
        interval: Interval::Day1,
        // From before the canned bars (2024) to today: one request, no follow-up for later splits.
        span: Span::Since(chrono::NaiveDate::from_ymd_opt(2023, 12, 1).expect("date")),
    }
}

fn chart_ok(symbol: &str, bars: usize) -> CannedResponse {
    CannedResponse::json(200, yahoo_chart_json(symbol, bars, START_TS))
}

/// A canned HTTP server and the counting proxy in front of it; providers use `proxy.uri()`.
struct Upstream {
    server: CannedHttpServer,
    proxy: ConnectionCountingProxy,
}

impl Upstream {
    async fn start() -> Self {
        let server = CannedHttpServer::start().await.expect("start the canned server");
        let proxy = ConnectionCountingProxy::start(server.address()).await.expect("start the proxy");
        Self { server, proxy }
    }

    fn chart(&self, symbol: &str, response: CannedResponse) {
        self.server.route(&format!("/v8/finance/chart/{symbol}"), response);
    }

    fn config(&self) -> VendorConfig {
        config(&self.proxy.uri())
    }
}

type Watch = ResourceWatch;

/// Drops `provider` and asserts that the proxy sees every client connection closed.
async fn assert_closed_after_drop(provider: YahooProvider, proxy: &ConnectionCountingProxy) {
    let started = Instant::now();
    drop(provider);
    let closed = proxy.wait_for_open_connections(0, CLOSE_WITHIN).await;
    println!(
        "after drop: open={} total={} peak={} (drop and close took {:?})",
        proxy.open_connections(),
        proxy.total_connections(),
        proxy.peak_connections(),
        started.elapsed()
    );
    assert!(
        closed,
        "dropping the provider left {} connection(s) open after {CLOSE_WITHIN:?} (total {})",
        proxy.open_connections(),
        proxy.total_connections()
    );
}

/// The provider's connections are still open a little later: they really sit in the pool, so
/// the later drop is what closes them. Usually there is exactly one: hyper hands a connection
/// back to the pool from a spawned task, so a request sent right after another can now and then
/// race it and open a second one, which then idles in the pool too. `opened_before` is the
/// proxy's total before this provider was built.
async fn assert_held_in_pool(proxy: &ConnectionCountingProxy, opened_before: usize) {
    // Models time, not synchronisation: nothing may close while a while passes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let open = proxy.open_connections();
    assert!(open >= 1, "a pooled keep-alive connection while the provider lives (open {open})");
    assert_eq!(
        open,
        proxy.total_connections() - opened_before,
        "no connection closed while the provider lives"
    );
}

#[test]
fn connections_close_on_drop_after_success() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        up.chart("AAPL", chart_ok("AAPL", 30));
        let watch = Watch::start();

        let provider = yahoo(&up.config());
        let series = provider.bars(&daily("AAPL")).await.expect("bars");
        assert_eq!(series.bars.len(), 30);
        assert_eq!(series.provider, ProviderId::Yahoo);
        assert_eq!(up.proxy.total_connections(), 1);
        assert_held_in_pool(&up.proxy, 0).await;
        // Reuse: a later request goes over the pooled connection.
        provider.bars(&daily("AAPL")).await.expect("bars again");
        assert_eq!(up.proxy.total_connections(), 1, "keep-alive connection reused");
        assert_held_in_pool(&up.proxy, 0).await;
        // The probes see a live provider (so the checks after the drop can fail): its pooled
        // socket, the proxy's two and the server's one are open, and hyper's connection task
        // plus the proxy's and server's connection tasks are alive.
        let (fds_alive, tasks_alive) = (open_fds(), alive_tasks());
        println!(
            "while the provider lives: fds {} -> {fds_alive}, tasks {} -> {tasks_alive}",
            watch.fds, watch.tasks
        );
        assert!(fds_alive >= watch.fds + 4, "fds {} -> {fds_alive}", watch.fds);
        assert!(tasks_alive >= watch.tasks + 3, "tasks {} -> {tasks_alive}", watch.tasks);

        assert_closed_after_drop(provider, &up.proxy).await;
        watch.assert_back("dropping the provider", CLOSE_WITHIN).await;
    });
}

#[test]
fn connections_close_on_drop_after_server_errors() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        up.chart("AAPL", CannedResponse::new(500, "text/plain", "internal error"));
        let watch = Watch::start();

        // No retries: one 500.
        let provider = yahoo(&up.config());
        let err = provider.bars(&daily("AAPL")).await.expect_err("500 must fail");
        assert!(matches!(err, ProviderError::Upstream { status: Some(500), .. }), "{err:?}");
        assert_eq!(up.server.requests_served(), 1);
        assert_held_in_pool(&up.proxy, 0).await;
        assert_closed_after_drop(provider, &up.proxy).await;

        // Two retries with tiny backoff: three 500s; connections stay pooled until the drop.
        let opened_before = up.proxy.total_connections();
        let mut retrying = up.config();
        retrying.max_retries = 2;
        let provider = yahoo(&retrying);
        let err = provider.bars(&daily("AAPL")).await.expect_err("500 must fail after retries");
        assert!(matches!(err, ProviderError::Upstream { status: Some(500), .. }), "{err:?}");
        assert_eq!(up.server.requests_served(), 1 + 3);
        assert_held_in_pool(&up.proxy, opened_before).await;
        assert_closed_after_drop(provider, &up.proxy).await;
        watch.assert_back("dropping both providers", CLOSE_WITHIN).await;
    });
}

#[test]
fn connections_close_on_drop_after_a_timeout() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        // The server answers after 1.5 s; the client gives up after 0.3 s.
        up.chart("SLOW", chart_ok("SLOW", 5).with_delay(Duration::from_millis(1_500)));
        let watch = Watch::start();

        let mut config = up.config();
        config.timeout_secs = 0.3;
        let provider = yahoo(&config);
        let started = Instant::now();
        let err = provider.bars(&daily("SLOW")).await.expect_err("must time out");
        assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(1), "timed out after {:?}", started.elapsed());
        assert_eq!(up.proxy.total_connections(), 1);
        // A timed-out request's connection cannot be reused; it must not linger while the
        // provider lives.
        assert!(
            up.proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
            "timed-out connection still open while the provider lives"
        );

        assert_closed_after_drop(provider, &up.proxy).await;
        // Includes the server's side: its connection task ends once its late answer hits the
        // closed socket.
        watch.assert_back("dropping the provider", CLOSE_WITHIN).await;
    });
}

#[test]
fn connections_close_on_drop_after_malformed_bodies() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        up.chart("BAD", CannedResponse::json(200, r#"{"chart":{"result":[{"timestamp":[1,"#));
        up.chart("HTML", CannedResponse::new(200, "text/html", "<html><title>Oops</title></html>"));
        let watch = Watch::start();

        let provider = yahoo(&up.config());
        let err = provider.bars(&daily("BAD")).await.expect_err("truncated JSON must fail");
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
        assert_held_in_pool(&up.proxy, 0).await;
        let err = provider.bars(&daily("HTML")).await.expect_err("HTML must fail");
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
        assert_eq!(
            up.proxy.total_connections(),
            1,
            "malformed bodies were read to the end; connection reused"
        );
        assert_held_in_pool(&up.proxy, 0).await;
        assert_closed_after_drop(provider, &up.proxy).await;
        watch.assert_back("dropping the provider", CLOSE_WITHIN).await;
    });
}

#[test]
fn idle_connections_expire_while_the_provider_lives() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        up.chart("AAPL", chart_ok("AAPL", 3));
        let watch = Watch::start();

        let mut config = up.config();
        config.pool_idle_timeout_secs = 0.3;
        let provider = yahoo(&config);
        provider.bars(&daily("AAPL")).await.expect("bars");
        assert_eq!(up.proxy.total_connections(), 1);
        let started = Instant::now();
        assert!(
            up.proxy.wait_for_open_connections(0, Duration::from_secs(3)).await,
            "idle connection not closed after pool_idle_timeout_secs = 0.3"
        );
        println!("idle connection closed {:?} after the request", started.elapsed());
        // The provider still works after its pool emptied.
        provider.bars(&daily("AAPL")).await.expect("bars after idle expiry");
        assert_eq!(up.proxy.total_connections(), 2);
        assert_closed_after_drop(provider, &up.proxy).await;
        watch.assert_back("dropping the provider", CLOSE_WITHIN).await;
    });
}

/// One create-use-drop cycle. Cycles rotate through success and two ways of failing, so half
/// of them take an error path.
async fn cycle(base_url: &str, i: usize) {
    let provider = yahoo(&config(base_url));
    let symbol = match i % 4 {
        0 | 2 => "AAPL",
        1 => "FAIL",
        _ => "BAD",
    };
    match (symbol, provider.bars(&daily(symbol)).await) {
        ("AAPL", Ok(series)) if series.bars.len() == 250 => {}
        ("FAIL", Err(ProviderError::Upstream { status: Some(500), .. })) => {}
        ("BAD", Err(ProviderError::Malformed { .. })) => {}
        (symbol, other) => panic!("cycle {i} ({symbol}): unexpected {other:?}"),
    }
    drop(provider);
}

/// Measured against `CannedHttpServer`, not wiremock: wiremock keeps a clone of every matched
/// request in the mounted mock (no opt-out), which alone grows RSS by about 9 KB per request
/// in this process and would hide, or fake, a client leak.
#[test]
fn a_thousand_provider_lifecycles_leak_no_fd_no_task_and_no_memory() {
    const WARM_UP: usize = 100;
    const CYCLES: usize = 1_000;
    const RSS_BUDGET: i64 = 2 * 1024 * 1024;
    run_exclusive(2, async {
        let up = Upstream::start().await;
        let (server, proxy) = (&up.server, &up.proxy);
        server.route(
            "/v8/finance/chart/AAPL",
            CannedResponse::json(200, yahoo_chart_json("AAPL", 250, START_TS)),
        );
        server.route("/v8/finance/chart/FAIL", CannedResponse::new(500, "text/plain", "internal error"));
        server.route("/v8/finance/chart/BAD", CannedResponse::json(200, r#"{"chart":{"result":[{"timest"#));
        let base_url = proxy.uri();

        let initial = ResourceBaseline::capture();
        let initial_tasks = alive_tasks();
        let initial_targets = open_fd_targets();
        let started = Instant::now();
        for i in 0..WARM_UP {
            cycle(&base_url, i).await;
        }
        assert!(
            proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
            "open after warm-up: {}",
            proxy.open_connections()
        );
        wait_for_fds_at_most(initial.fds, CLOSE_WITHIN).await;
        wait_for_tasks_at_most(initial_tasks, CLOSE_WITHIN).await;
        let warm = ResourceBaseline::capture();
        println!(
            "initial: {} fds, {} KiB RSS, {initial_tasks} tokio tasks",
            initial.fds,
            initial.rss_bytes / 1024
        );
        println!(
            "after {WARM_UP} warm-up cycles ({:?}): {} fds, {} KiB RSS",
            started.elapsed(),
            warm.fds,
            warm.rss_bytes / 1024
        );

        let mut max_fds = 0;
        for i in WARM_UP..CYCLES {
            cycle(&base_url, i).await;
            if i % 50 == 0 {
                max_fds = max_fds.max(open_fds());
            }
        }
        assert!(
            proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
            "{} connection(s) still open after {CYCLES} dropped providers",
            proxy.open_connections()
        );
        let tasks = wait_for_tasks_at_most(initial_tasks, CLOSE_WITHIN).await;
        let after_warm = warm.settle(0, CLOSE_WITHIN).await;
        let overall = initial.settle(0, CLOSE_WITHIN).await;
        println!("after {CYCLES} cycles ({:?}): {after_warm} (since warm-up)", started.elapsed());
        println!(
            "overall, since before the first provider: {overall}; tokio tasks {initial_tasks} -> {tasks}"
        );
        println!(
            "connections: total={} peak={} open={}; requests served={}; highest fd count sampled mid-run: {max_fds}",
            proxy.total_connections(),
            proxy.peak_connections(),
            proxy.open_connections(),
            server.requests_served()
        );

        assert_eq!(server.requests_served(), CYCLES, "one request per cycle, no retries");
        assert_eq!(proxy.total_connections(), CYCLES, "each provider opened exactly one connection");
        assert!(
            overall.fd_growth() <= 0,
            "fds not back at baseline: {overall}; new: {:?}",
            new_fds_since(&initial_targets)
        );
        assert!(
            tasks <= initial_tasks,
            "tokio tasks {initial_tasks} -> {tasks}: a provider left a task behind"
        );
        assert!(
            after_warm.rss_growth() < RSS_BUDGET,
            "RSS grew {} KiB over {} cycles after warm-up",
            after_warm.rss_growth() / 1024,
            CYCLES - WARM_UP
        );
        assert!(rss_bytes() > 0);
    });
}

/// Fetches `symbols` through `provider` with at most `concurrency` callers at once (the
/// equivalent of `stream::iter(symbols).buffer_unordered(concurrency)`); returns the most
/// callers that were in flight together.
async fn fetch_all(provider: &Arc<YahooProvider>, symbols: &[String], concurrency: usize) -> usize {
    let gate = Arc::new(Semaphore::new(concurrency));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for symbol in symbols {
        let (provider, gate, symbol) = (Arc::clone(provider), Arc::clone(&gate), symbol.clone());
        let (in_flight, max_in_flight) = (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
        tasks.spawn(async move {
            let _slot = gate.acquire_owned().await.expect("gate open");
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now, Ordering::SeqCst);
            let result = provider.bars(&daily(&symbol)).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            (symbol, result)
        });
    }
    let mut served = 0;
    while let Some(joined) = tasks.join_next().await {
        let (symbol, result) = joined.expect("task finished");
        let series = result.unwrap_or_else(|e| panic!("{symbol}: {e}"));
        assert_eq!(series.symbol.as_str(), symbol);
        assert_eq!(series.bars.len(), 20);
        served += 1;
    }
    assert_eq!(served, symbols.len());
    max_in_flight.load(Ordering::SeqCst)
}

/// `max_connections` is documented as the upper bound on simultaneous connections to a vendor.
/// 100 symbols, 16 callers, a provider with `max_connections = 4`, 25 ms per answer so requests
/// overlap; five rounds over the same provider (a cold pool, then warm ones): the excess
/// connection comes from a scheduling race, so one round alone catches it only about half the time.
#[test]
fn bounded_pool_for_a_hundred_symbols() {
    const SYMBOLS: usize = 100;
    const ROUNDS: usize = 5;
    const CONCURRENCY: usize = 16;
    const MAX_CONNECTIONS: usize = 4;
    run_exclusive(4, async {
        let up = Upstream::start().await;
        let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("S{i:03}")).collect();
        for symbol in &symbols {
            up.chart(symbol, chart_ok(symbol, 20).with_delay(Duration::from_millis(25)));
        }
        let proxy = &up.proxy;
        let watch = Watch::start();

        let mut config = up.config();
        config.max_connections = MAX_CONNECTIONS;
        let provider = Arc::new(yahoo(&config));
        let mut peaks = Vec::new();
        for round in 1..=ROUNDS {
            proxy.reset_peak();
            let started = Instant::now();
            let max_in_flight = fetch_all(&provider, &symbols, CONCURRENCY).await;
            peaks.push(proxy.peak_connections());
            println!(
                "round {round}: {SYMBOLS} symbols in {:?}; callers in flight at most {max_in_flight}; \
                 connections: peak={} total={} open={}",
                started.elapsed(),
                proxy.peak_connections(),
                proxy.total_connections(),
                proxy.open_connections()
            );
            assert!(
                max_in_flight > MAX_CONNECTIONS,
                "callers must contend for the pool for this test to mean anything"
            );
        }
        assert_eq!(up.server.requests_served(), SYMBOLS * ROUNDS, "no retries, no duplicate requests");
        // 100 requests × 25 ms over 4 connections ≈ 625 ms a round: they did overlap.
        assert!(proxy.total_connections() >= 2, "requests overlapped on several connections");

        let provider = Arc::into_inner(provider).expect("all tasks done");
        assert_closed_after_drop(provider, proxy).await;
        watch.assert_back("dropping the provider", CLOSE_WITHIN).await;

        assert!(
            peaks.iter().all(|peak| *peak <= MAX_CONNECTIONS),
            "max_connections = {MAX_CONNECTIONS}, but the provider held {peaks:?} connections at once \
             in rounds 1..={ROUNDS} ({} opened in all). The per-request semaphore in HttpClient::execute \
             is released as soon as the body is read, while hyper hands the connection back to its pool \
             from a spawned task a moment later; a request admitted in that window finds the pool empty \
             and opens another connection.",
            proxy.total_connections()
        );
    });
}

#[test]
fn reset_connection_mid_response_is_a_typed_error_and_leaks_nothing() {
    run_exclusive(2, async {
        let up = Upstream::start().await;
        // ~60 KB body: a cut after 2 KB is mid-body, after the headers.
        up.chart("AAPL", chart_ok("AAPL", 1_000));
        up.chart("GONE", CannedResponse::json(404, yahoo_chart_not_found_json()));
        let proxy = &up.proxy;
        let watch = Watch::start();

        let provider = yahoo(&up.config());
        let cases = [
            ("reset mid-body", Fault::ResetAfterResponseBytes(2_048)),
            ("reset before the status line", Fault::ResetAfterResponseBytes(0)),
            ("closed mid-body", Fault::CloseAfterResponseBytes(2_048)),
            ("closed inside the headers", Fault::CloseAfterResponseBytes(20)),
        ];
        for (name, fault) in cases {
            proxy.set_fault(fault);
            let fired = proxy.faults_fired();
            let err = provider.bars(&daily("AAPL")).await.expect_err(name);
            println!("{name}: {err}");
            assert_eq!(proxy.faults_fired(), fired + 1, "{name}: the fault fired");
            assert!(
                matches!(err, ProviderError::Upstream { status: None, .. } | ProviderError::Malformed { .. }),
                "{name}: expected a transport Upstream or Malformed error, got {err:?}"
            );
            assert!(err.is_retryable() || matches!(err, ProviderError::Malformed { .. }), "{name}: {err:?}");
            assert!(
                proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
                "{name}: broken connection kept open"
            );
        }

        // The same provider recovers once the network does, on a fresh connection.
        proxy.set_fault(Fault::None);
        let total = proxy.total_connections();
        assert_eq!(provider.bars(&daily("AAPL")).await.expect("bars after the resets").bars.len(), 1_000);
        assert!(matches!(provider.bars(&daily("GONE")).await, Err(ProviderError::NotFound { .. })));
        assert_eq!(proxy.total_connections(), total + 1);

        assert_closed_after_drop(provider, proxy).await;
        watch.assert_back("the resets and dropping the provider", CLOSE_WITHIN).await;
    });
}

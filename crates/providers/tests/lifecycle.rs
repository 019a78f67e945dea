//! Resource lifecycle of networked providers: sockets, file descriptors, memory and tasks.
//!
//! The founding promise is that the service runs for months with flat memory and no leaked
//! socket, file or task. These tests drive the real `YahooProvider` (and so the shared
//! `HttpClient`) against wiremock servers, watching the client's connections from the outside
//! through a `ConnectionCountingProxy` and the process through `/proc/self/fd` and RSS.
//!
//! Every test holds `lock_process()`: tests run as threads of one process, so another test's
//! sockets would otherwise show up in this one's fd count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{Interval, ProviderId, Symbol};
use providers::yahoo::YahooProvider;
use providers::{BarsRequest, MarketData, ProviderError, Span, VendorConfig};
use test_support::{
    ConnectionCountingProxy, Fault, ResourceBaseline, lock_process, open_fds, rss_bytes, wait_for_fds_at_most,
    yahoo_chart_json, yahoo_chart_not_found_json,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

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
        span: Span::parse_range("1y").expect("valid range"),
    }
}

fn chart_ok(symbol: &str, bars: usize) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(yahoo_chart_json(symbol, bars, START_TS), "application/json")
}

async fn mount(server: &MockServer, symbol: &str, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{symbol}")))
        .respond_with(response)
        .mount(server)
        .await;
}

/// Drops `provider` and asserts that the proxy sees every client connection closed.
async fn assert_closed_after_drop(provider: YahooProvider, proxy: &ConnectionCountingProxy) {
    drop(provider);
    let started = Instant::now();
    let closed = proxy.wait_for_open_connections(0, CLOSE_WITHIN).await;
    println!(
        "after drop: open={} total={} peak={} (waited {:?})",
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

/// The connection is still counted a little later: it really sits in the pool, so the later
/// drop is what closes it.
async fn assert_held_in_pool(proxy: &ConnectionCountingProxy) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(proxy.open_connections(), 1, "one pooled keep-alive connection while the provider lives");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_close_on_drop_after_success() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    mount(&server, "AAPL", chart_ok("AAPL", 30)).await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;
    let fds_before = open_fds();

    let provider = yahoo(&config(&proxy.uri()));
    let series = provider.bars(&daily("AAPL")).await.expect("bars");
    assert_eq!(series.bars.len(), 30);
    assert_eq!(series.provider, ProviderId::Yahoo);
    // Reuse: a second request goes over the pooled connection.
    provider.bars(&daily("AAPL")).await.expect("bars again");
    assert_eq!(proxy.total_connections(), 1, "keep-alive connection reused");
    assert_held_in_pool(&proxy).await;

    assert_closed_after_drop(provider, &proxy).await;
    let fds_after = wait_for_fds_at_most(fds_before, CLOSE_WITHIN).await;
    println!("fds: {fds_before} before the provider, {fds_after} after dropping it");
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_close_on_drop_after_server_errors() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
        .expect(3)
        .mount(&server)
        .await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;

    // No retries: one 500.
    let provider = yahoo(&config(&proxy.uri()));
    let err = provider.bars(&daily("AAPL")).await.expect_err("500 must fail");
    assert!(matches!(err, ProviderError::Upstream { status: Some(500), .. }), "{err:?}");
    assert_held_in_pool(&proxy).await;
    assert_closed_after_drop(provider, &proxy).await;

    // Two retries with tiny backoff: three 500s, still one pooled connection afterwards.
    let mut retrying = config(&proxy.uri());
    retrying.max_retries = 2;
    let provider = yahoo(&retrying);
    let err = provider.bars(&daily("AAPL")).await.expect_err("500 must fail after retries");
    assert!(matches!(err, ProviderError::Upstream { status: Some(500), .. }), "{err:?}");
    assert_held_in_pool(&proxy).await;
    assert_closed_after_drop(provider, &proxy).await;
    assert_eq!(proxy.total_connections(), 2, "one connection per provider, reused across retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_close_on_drop_after_a_timeout() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    mount(&server, "SLOW", chart_ok("SLOW", 5).set_delay(Duration::from_secs(3))).await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;
    let fds_before = open_fds();

    let mut config = config(&proxy.uri());
    config.timeout_secs = 0.3;
    let provider = yahoo(&config);
    let started = Instant::now();
    let err = provider.bars(&daily("SLOW")).await.expect_err("must time out");
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "timed out after {:?}", started.elapsed());
    assert_eq!(proxy.total_connections(), 1);
    // A timed-out request's connection cannot be reused; it must not linger while the provider lives.
    assert!(
        proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
        "timed-out connection still open while the provider lives"
    );

    assert_closed_after_drop(provider, &proxy).await;
    let fds_after = wait_for_fds_at_most(fds_before, CLOSE_WITHIN).await;
    println!("fds: {fds_before} before the provider, {fds_after} after dropping it");
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_close_on_drop_after_malformed_bodies() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    mount(&server, "BAD", ResponseTemplate::new(200).set_body_raw(r#"{"chart":{"result":[{"timestamp":[1,"#, "application/json"))
        .await;
    mount(&server, "HTML", ResponseTemplate::new(200).set_body_raw("<html><title>Oops</title></html>", "text/html")).await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;

    let provider = yahoo(&config(&proxy.uri()));
    let err = provider.bars(&daily("BAD")).await.expect_err("truncated JSON must fail");
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    let err = provider.bars(&daily("HTML")).await.expect_err("HTML must fail");
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert_eq!(proxy.total_connections(), 1, "malformed bodies were read to the end; connection reused");
    assert_held_in_pool(&proxy).await;
    assert_closed_after_drop(provider, &proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_expire_while_the_provider_lives() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    mount(&server, "AAPL", chart_ok("AAPL", 3)).await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;

    let mut config = config(&proxy.uri());
    config.pool_idle_timeout_secs = 0.3;
    let provider = yahoo(&config);
    provider.bars(&daily("AAPL")).await.expect("bars");
    assert_eq!(proxy.total_connections(), 1);
    let started = Instant::now();
    assert!(
        proxy.wait_for_open_connections(0, Duration::from_secs(3)).await,
        "idle connection not closed after pool_idle_timeout_secs = 0.3"
    );
    println!("idle connection closed {:?} after the request", started.elapsed());
    // The provider still works after its pool emptied.
    provider.bars(&daily("AAPL")).await.expect("bars after idle expiry");
    assert_eq!(proxy.total_connections(), 2);
    assert_closed_after_drop(provider, &proxy).await;
}

/// One create-use-drop cycle. Cycles rotate through success and three ways of failing.
async fn cycle(base_url: &str, i: usize) {
    let provider = yahoo(&config(base_url));
    let result = match i % 4 {
        0 | 2 => provider.bars(&daily("AAPL")).await.map(|s| s.bars.len()),
        1 => provider.bars(&daily("FAIL")).await.map(|s| s.bars.len()),
        _ => provider.bars(&daily("BAD")).await.map(|s| s.bars.len()),
    };
    match (i % 4, result) {
        (0 | 2, Ok(250)) | (1, Err(ProviderError::Upstream { status: Some(500), .. })) => {}
        (3, Err(ProviderError::Malformed { .. })) => {}
        (kind, other) => panic!("cycle {i} (kind {kind}): unexpected {other:?}"),
    }
    drop(provider);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_provider_lifecycles_leak_no_fd_and_no_memory() {
    const WARM_UP: usize = 100;
    const CYCLES: usize = 1_000;
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    mount(&server, "AAPL", chart_ok("AAPL", 250)).await;
    mount(&server, "FAIL", ResponseTemplate::new(500).set_body_string("internal error")).await;
    mount(&server, "BAD", ResponseTemplate::new(200).set_body_raw(r#"{"chart":{"result":[{"timest"#, "application/json"))
        .await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;
    let base_url = proxy.uri();

    let initial = ResourceBaseline::capture();
    let started = Instant::now();
    for i in 0..WARM_UP {
        cycle(&base_url, i).await;
    }
    assert!(proxy.wait_for_open_connections(0, CLOSE_WITHIN).await, "open after warm-up: {}", proxy.open_connections());
    let warm_fds = wait_for_fds_at_most(initial.fds, CLOSE_WITHIN).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let warm = ResourceBaseline::capture();
    println!("initial: {} fds, {} KiB RSS", initial.fds, initial.rss_bytes / 1024);
    println!(
        "after {WARM_UP} warm-up cycles ({:?}): {warm_fds} fds, {} KiB RSS",
        started.elapsed(),
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
    let after_warm = warm.settle(0, CLOSE_WITHIN).await;
    let overall = initial.settle(0, CLOSE_WITHIN).await;
    println!("after {CYCLES} cycles ({:?}): {after_warm} (since warm-up)", started.elapsed());
    println!("overall since before the first provider: {overall}");
    println!(
        "connections: total={} peak={} open={}; highest fd count sampled mid-run: {max_fds}",
        proxy.total_connections(),
        proxy.peak_connections(),
        proxy.open_connections()
    );

    assert_eq!(proxy.total_connections(), CYCLES, "each provider opened exactly one connection");
    assert!(overall.fd_growth() <= 0, "fds not back at baseline: {overall}");
    assert!(
        after_warm.rss_growth() < 2 * 1024 * 1024,
        "RSS grew {} KiB over {} cycles after warm-up",
        after_warm.rss_growth() / 1024,
        CYCLES - WARM_UP
    );
    // The figure is meaningful only if the probe works at all.
    assert!(rss_bytes() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bounded_pool_for_a_hundred_symbols() {
    const SYMBOLS: usize = 100;
    const CONCURRENCY: usize = 16;
    const MAX_CONNECTIONS: usize = 4;
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v8/finance/chart/[A-Z0-9]+$"))
        .respond_with(|request: &Request| {
            let symbol = request.url.path().rsplit('/').next().unwrap_or_default().to_owned();
            chart_ok(&symbol, 20).set_delay(Duration::from_millis(25))
        })
        .expect(SYMBOLS as u64)
        .mount(&server)
        .await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;
    let fds_before = open_fds();

    let mut config = config(&proxy.uri());
    config.max_connections = MAX_CONNECTIONS;
    let provider = Arc::new(yahoo(&config));
    // Equivalent of `stream::iter(symbols).buffer_unordered(16)`: at most 16 requests in flight.
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let max_in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..SYMBOLS {
        let (provider, gate) = (Arc::clone(&provider), Arc::clone(&gate));
        let (in_flight, max_in_flight) = (Arc::clone(&in_flight), Arc::clone(&max_in_flight));
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("gate open");
            let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            max_in_flight.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
            let symbol = format!("S{i:03}");
            let result = provider.bars(&daily(&symbol)).await;
            in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
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
    let elapsed = started.elapsed();
    println!(
        "{served} symbols in {elapsed:?}; callers in flight at most {}; connections: peak={} total={} open={}",
        max_in_flight.load(std::sync::atomic::Ordering::SeqCst),
        proxy.peak_connections(),
        proxy.total_connections(),
        proxy.open_connections()
    );
    assert_eq!(served, SYMBOLS);
    assert!(
        max_in_flight.load(std::sync::atomic::Ordering::SeqCst) > MAX_CONNECTIONS,
        "callers must contend for the pool for this test to mean anything"
    );
    assert!(
        proxy.peak_connections() <= MAX_CONNECTIONS,
        "peak {} connections to one host with max_connections = {MAX_CONNECTIONS} (total opened {})",
        proxy.peak_connections(),
        proxy.total_connections()
    );
    // 100 requests × 25 ms over 4 connections ≈ 625 ms; a bound of 4 does not serialize them.
    assert!(proxy.total_connections() >= 2, "requests overlapped on several connections");

    let provider = Arc::into_inner(provider).expect("all tasks done");
    assert_closed_after_drop(provider, &proxy).await;
    let fds_after = wait_for_fds_at_most(fds_before, CLOSE_WITHIN).await;
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_connection_mid_response_is_a_typed_error_and_leaks_nothing() {
    let _serial = lock_process().await;
    let server = MockServer::start().await;
    // ~60 KB body: a reset after 2 KB is mid-body, after the headers.
    mount(&server, "AAPL", chart_ok("AAPL", 1_000)).await;
    mount(&server, "GONE", ResponseTemplate::new(404).set_body_raw(yahoo_chart_not_found_json(), "application/json"))
        .await;
    let proxy = ConnectionCountingProxy::for_mock(&server).await;
    let fds_before = open_fds();

    let provider = yahoo(&config(&proxy.uri()));
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
        assert!(proxy.wait_for_open_connections(0, CLOSE_WITHIN).await, "{name}: broken connection kept open");
    }

    // The same provider recovers once the network does, on a fresh connection.
    proxy.set_fault(Fault::None);
    let total = proxy.total_connections();
    assert_eq!(provider.bars(&daily("AAPL")).await.expect("bars after the resets").bars.len(), 1_000);
    assert!(matches!(provider.bars(&daily("GONE")).await, Err(ProviderError::NotFound { .. })));
    assert_eq!(proxy.total_connections(), total + 1);

    assert_closed_after_drop(provider, &proxy).await;
    let fds_after = wait_for_fds_at_most(fds_before, CLOSE_WITHIN).await;
    println!("fds: {fds_before} before the provider, {fds_after} after the resets and the drop");
    assert!(fds_after <= fds_before, "fds {fds_before} -> {fds_after}");
}

//! What a failing *scan* does to `RedditClient`'s connections, beyond what every adapter is
//! checked for (`crates/test-support/tests/lifecycle.rs` runs the shared cases — close on drop
//! after success, 5xx, timeout, malformed bodies and resets, idle expiry, a bounded pool, a
//! thousand clients without a leak — for Reddit as for the other adapters). Here a scan fails
//! mid-way, a timeout or a connection reset on page 2, and: the pages read before are kept, only
//! the broken connection is closed while the client lives, the same client recovers, and once it
//! is dropped nothing of it is left (connections, fds, tasks).
//!
//! Measuring tests run through `test_support::run_exclusive` (one at a time, each on its own
//! runtime), so other tests' sockets do not show up in the counts. The memory loop uses
//! `CannedHttpServer` because wiremock keeps a copy of every matched request. Wiremock (used
//! where pages must be routed by `after`) starts a background runtime shortly after
//! `MockServer::start` returns, so those tests wait until it serves (`mock_server_ready`) before
//! taking the fd baseline.

use std::time::{Duration, Instant};

use social::reddit::{Listing, RedditClient, RedditConfig, RedditError};
use test_support::lifecycle::{CLOSE_WITHIN, assert_closed_after_drop};
use test_support::{
    CannedHttpServer, CannedResponse, ConnectionCountingProxy, Fault, ResourceWatch, mock_server_ready,
    run_exclusive,
};
use wiremock::matchers::{method, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const UA: &str = "linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)";

fn data(name: &str) -> String {
    let file = format!("{}/tests/data/reddit/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// No client-side budget to speak of, no retries, and a long idle timeout so that a connection
/// closing is the failure's or the drop's doing, not the idle timer's.
fn config(base_url: &str) -> RedditConfig {
    let mut config = RedditConfig::new(UA);
    config.base_url = base_url.to_owned();
    config.queries_per_minute = Some(100_000);
    config.max_retries = 0;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    config.connect_timeout_secs = 2.0;
    config.timeout_secs = 5.0;
    config.pool_idle_timeout_secs = 60.0;
    config
}

fn client(config: &RedditConfig) -> RedditClient {
    RedditClient::new(config).expect("valid config")
}

type Watch = ResourceWatch;

/// A wiremock Reddit whose `stocks/new` pages are routed by `after`: page 1 and 2 succeed,
/// page 3 (`after=t3_1c9x005`) answers `page3`.
async fn paged_mock(page2: ResponseTemplate, page3: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    let page = |name: &str| ResponseTemplate::new(200).set_body_raw(data(name), "application/json");
    Mock::given(method("GET"))
        .and(query_param_is_missing("after"))
        .respond_with(page("listing_new_page1.json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x002"))
        .respond_with(page2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(query_param("after", "t3_1c9x005"))
        .respond_with(page3)
        .mount(&server)
        .await;
    // wiremock's background runtime opens its descriptors a little after `start` returns.
    mock_server_ready(&server).await;
    server
}

fn page2_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(data("listing_new_page2.json"), "application/json")
}

#[test]
fn a_timeout_on_page_two_closes_that_connection_at_once() {
    run_exclusive(2, async {
        let slow = page2_ok().set_delay(Duration::from_millis(1_000));
        let server = paged_mock(slow, page2_ok()).await;
        let proxy = ConnectionCountingProxy::for_mock(&server).await;
        let watch = Watch::start();

        let mut config = config(&proxy.uri());
        config.timeout_secs = 0.25;
        let reddit = client(&config);
        let started = Instant::now();
        let report = reddit.scan("stocks", Listing::New, 1_000).await;
        let took = started.elapsed();
        println!(
            "scan: {} after {} pages in {took:?}: {:?}",
            report.status_label(),
            report.pages,
            report.error()
        );
        let error = report.error().expect("page 2 times out");
        assert!(matches!(error, RedditError::Timeout { .. }) && error.is_retryable(), "{error:?}");
        assert_eq!((report.pages, report.posts.len()), (1, 3), "page 1 kept");
        assert!(took < Duration::from_millis(900), "gave up after the timeout, not the answer: {took:?}");
        assert!(
            proxy.wait_for_open_connections(0, CLOSE_WITHIN).await,
            "the timed-out connection is still open while the client lives"
        );
        assert_eq!(proxy.total_connections(), 1);

        // The same client recovers on a fresh connection once the upstream is fast again.
        server.reset().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(data("listing_new_page3.json"), "application/json"),
            )
            .mount(&server)
            .await;
        assert!(reddit.scan("stocks", Listing::New, 10).await.is_complete());
        assert_eq!(proxy.total_connections(), 2);
        assert_closed_after_drop(reddit, &proxy).await;
        watch.assert_back("a timed-out scan and dropping the client", CLOSE_WITHIN).await;
    });
}

/// The bytes the canned server sends for one response (head and body).
fn response_len(body: &str) -> usize {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len())
        .len()
        + body.len()
}

#[test]
fn a_connection_reset_inside_page_two_is_a_typed_error_and_is_closed() {
    run_exclusive(2, async {
        let server = CannedHttpServer::start().await.expect("canned server");
        let proxy = ConnectionCountingProxy::start(server.address()).await.expect("proxy");
        // The canned server ignores the query: every page is page 1, whose `after` differs from
        // the first request's (none), so the scan asks for a second page. The faults count bytes
        // across connections: page 2 may or may not reuse page 1's connection.
        let page = data("listing_new_page1.json");
        server.route("/r/stocks/new.json", CannedResponse::json(200, page.clone()));
        let page_len = response_len(&page);
        let watch = Watch::start();

        let reddit = client(&config(&proxy.uri()));
        let cases = [
            ("reset mid-body of page 2", Fault::ResetAfterTotalResponseBytes(page_len + 1_024)),
            ("reset inside page 2's head", Fault::ResetAfterTotalResponseBytes(page_len + 10)),
            ("closed mid-body of page 2", Fault::CloseAfterTotalResponseBytes(page_len + 1_024)),
        ];
        for (name, fault) in cases {
            proxy.set_fault(fault);
            let fired = proxy.faults_fired();
            let (open_before, total_before) = (proxy.open_connections(), proxy.total_connections());
            let report = reddit.scan("stocks", Listing::New, 1_000).await;
            // Page 2 reuses page 1's connection, or (when the pool has not got it back yet) opens
            // another; either way only the broken one must close, a healthy one may stay pooled.
            let still_open = open_before + (proxy.total_connections() - total_before) - 1;
            println!("{name}: {} after {} pages: {:?}", report.status_label(), report.pages, report.error());
            assert_eq!(proxy.faults_fired(), fired + 1, "{name}: the fault fired");
            let error = report.error().unwrap_or_else(|| panic!("{name}: {:?}", report.status));
            assert!(matches!(error, RedditError::Upstream { status: None, .. }), "{name}: {error:?}");
            assert!(error.is_retryable(), "{name}");
            assert_eq!((report.pages, report.posts.len()), (1, 3), "{name}: page 1 kept");
            assert!(
                proxy.wait_for_open_connections(still_open, CLOSE_WITHIN).await,
                "{name}: the broken connection is still open while the client lives"
            );
        }
        proxy.set_fault(Fault::None);
        assert_closed_after_drop(reddit, &proxy).await;
        watch.assert_back("three broken scans and dropping the client", CLOSE_WITHIN).await;
    });
}

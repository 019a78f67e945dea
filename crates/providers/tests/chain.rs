//! The fallback chain with real providers against wiremock servers, plus the offline sample.
//!
//! Retryable (429, 5xx, transport), entitlement, format and not-found failures move on to the
//! next provider; when every provider fails the error lists each one, and when they all say the
//! symbol is unknown it is "not found". Configs use no client-side rate limits and millisecond backoffs, so no test sleeps
//! through a real-time wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{DateRange, Interval, ProviderId, QuoteSource, Symbol};
use providers::polygon::PolygonProvider;
use providers::sample::SampleProvider;
use providers::yahoo::YahooProvider;
use providers::{
    ApiKey, BarsRequest, Capability, ChainError, MarketData, ProviderChain, ProviderError, Span, VendorConfig,
};
use test_support::{
    polygon_aggs_json, polygon_not_authorized_json, yahoo_chart_json, yahoo_chart_not_found_json,
};
use wiremock::matchers::{header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const POLYGON_KEY: &str = "pk_test_0123456789";
/// 2024-01-02, a trading day.
const START_TS: i64 = 1_704_205_800;
/// No test may come near a real backoff or vendor-requested wait.
const QUICK: Duration = Duration::from_secs(3);

fn fast(mut config: VendorConfig, base_url: &str) -> VendorConfig {
    config.base_url = base_url.to_owned();
    config.rate_limits.clear();
    config.max_retries = 1;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    config.max_retry_wait_secs = 0.5;
    config.connect_timeout_secs = 2.0;
    config.timeout_secs = 5.0;
    config
}

fn yahoo(server: &MockServer) -> Arc<dyn MarketData> {
    Arc::new(YahooProvider::new(&fast(VendorConfig::yahoo(), &server.uri())).expect("Yahoo config"))
}

fn polygon(server: &MockServer) -> Arc<dyn MarketData> {
    let mut config = fast(VendorConfig::polygon(), &server.uri());
    config.api_key = Some(ApiKey::new(POLYGON_KEY));
    Arc::new(PolygonProvider::new(&config).expect("Polygon config"))
}

fn sample() -> Arc<dyn MarketData> {
    Arc::new(SampleProvider::new())
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).expect("valid symbol")
}

/// The year 2024, where the mock vendors' bars are.
fn daily(text: &str) -> BarsRequest {
    daily_in(text, 2024)
}

/// The daily bars of one calendar year.
fn daily_in(text: &str, year: i32) -> BarsRequest {
    let day = |m, d| chrono::NaiveDate::from_ymd_opt(year, m, d).expect("date");
    BarsRequest {
        symbol: symbol(text),
        interval: Interval::Day1,
        span: Span::Between(DateRange::new(day(1, 1), day(12, 31)).expect("range")),
    }
}

/// Mounts a Yahoo chart response for `sym`, expected exactly `times` times.
async fn yahoo_chart(server: &MockServer, sym: &str, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{sym}")))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

/// Mounts a Polygon daily-aggregates response for `sym` (key in the header), expected `times` times.
async fn polygon_aggs(server: &MockServer, sym: &str, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path_regex(format!(
            r"^/v2/aggs/ticker/{sym}/range/1/day/\d{{4}}-\d{{2}}-\d{{2}}/\d{{4}}-\d{{2}}-\d{{2}}$"
        )))
        .and(header("authorization", format!("Bearer {POLYGON_KEY}").as_str()))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

fn json(status: u16, body: String) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json")
}

fn providers_of(attempts: &[providers::Attempt]) -> Vec<ProviderId> {
    attempts.iter().map(|a| a.provider).collect()
}

#[tokio::test]
async fn retryable_failure_falls_through_to_the_next_provider() {
    let cases = [
        (
            "HTTP 503",
            ResponseTemplate::new(503).set_body_string("<html><title>503 Service Unavailable</title></html>"),
        ),
        ("HTTP 500", ResponseTemplate::new(500).set_body_string("internal error")),
        ("HTTP 429", ResponseTemplate::new(429).set_body_raw("Edge: Too Many Requests", "text/plain")),
    ];
    for (name, failure) in cases {
        let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
        // max_retries = 1: the failure is retried once (tiny backoff), then the chain moves on.
        yahoo_chart(&yahoo_server, "AAPL", failure, 2).await;
        polygon_aggs(&polygon_server, "AAPL", json(200, polygon_aggs_json("AAPL", 5, 1_704_153_600_000)), 1)
            .await;
        let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), sample()]);

        let started = Instant::now();
        let served = chain.bars(&daily("AAPL")).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(started.elapsed() < QUICK, "{name}: took {:?}", started.elapsed());
        assert_eq!(served.provider, ProviderId::Polygon, "{name}");
        assert_eq!(served.value.provider, ProviderId::Polygon, "{name}");
        assert_eq!(served.value.bars.len(), 5, "{name}");
        assert_eq!(providers_of(&served.failed_attempts), [ProviderId::Yahoo], "{name}");
        let error = &served.failed_attempts[0].error;
        assert!(error.is_retryable(), "{name}: {error:?}");
        match name {
            "HTTP 429" => assert!(matches!(error, ProviderError::RateLimited { .. }), "{name}: {error:?}"),
            "HTTP 500" => {
                assert!(matches!(error, ProviderError::Upstream { status: Some(500), .. }), "{error:?}")
            }
            _ => assert!(matches!(error, ProviderError::Upstream { status: Some(503), .. }), "{error:?}"),
        }
        // Mock expectations (2 Yahoo calls, 1 Polygon call) are verified when the servers drop.
    }
}

#[tokio::test]
async fn unreachable_or_garbled_vendor_falls_through() {
    // Nothing listens on this port once the listener is dropped: connection refused.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let mut unreachable = fast(VendorConfig::yahoo(), &format!("http://127.0.0.1:{closed_port}"));
    unreachable.max_retries = 0;
    let garbled_server = MockServer::start().await;
    yahoo_chart(&garbled_server, "IBM", json(200, r#"{"chart":{"result":[{"timestamp":[1,"#.to_owned()), 1)
        .await;
    let chain = ProviderChain::new(vec![
        Arc::new(YahooProvider::new(&unreachable).expect("config")),
        yahoo(&garbled_server),
        sample(),
    ]);

    let served = chain.bars(&daily("IBM")).await.expect("sample serves");
    assert_eq!(served.provider, ProviderId::Sample);
    assert_eq!(providers_of(&served.failed_attempts), [ProviderId::Yahoo, ProviderId::Yahoo]);
    assert!(
        matches!(served.failed_attempts[0].error, ProviderError::Upstream { status: None, .. }),
        "{:?}",
        served.failed_attempts[0].error
    );
    assert!(
        matches!(served.failed_attempts[1].error, ProviderError::Malformed { .. }),
        "{:?}",
        served.failed_attempts[1].error
    );
}

#[tokio::test]
async fn entitlement_falls_through_without_retrying() {
    let (polygon_server, yahoo_server) = (MockServer::start().await, MockServer::start().await);
    // Not retryable: exactly one request although max_retries = 1.
    polygon_aggs(&polygon_server, "MSFT", json(403, polygon_not_authorized_json()), 1).await;
    // The bars, then the splits since the (past) window.
    yahoo_chart(&yahoo_server, "MSFT", json(200, yahoo_chart_json("MSFT", 7, START_TS)), 2).await;
    let chain = ProviderChain::new(vec![polygon(&polygon_server), yahoo(&yahoo_server)]);

    let served = chain.bars(&daily("MSFT")).await.expect("Yahoo serves");
    assert_eq!(served.provider, ProviderId::Yahoo);
    assert_eq!(served.value.bars.len(), 7);
    assert_eq!(providers_of(&served.failed_attempts), [ProviderId::Polygon]);
    let error = &served.failed_attempts[0].error;
    assert!(matches!(error, ProviderError::Entitlement { provider: ProviderId::Polygon, .. }), "{error:?}");
    assert!(!error.is_retryable() && error.should_fall_back());
    assert!(error.to_string().contains("not entitled"), "{error}");
    assert!(!error.to_string().contains(POLYGON_KEY), "key leaked into {error}");
}

#[tokio::test]
async fn not_found_falls_back_since_coverage_differs() {
    let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
    yahoo_chart(&yahoo_server, "AAPL", json(404, yahoo_chart_not_found_json()), 1).await;
    polygon_aggs(&polygon_server, "AAPL", json(200, polygon_aggs_json("AAPL", 5, 1_704_153_600_000)), 1)
        .await;
    let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), sample()]);

    let served = chain.bars(&daily("AAPL")).await.expect("Polygon knows the symbol");
    assert_eq!(served.provider, ProviderId::Polygon);
    let error = &served.failed_attempts[0].error;
    assert!(matches!(error, ProviderError::NotFound { provider: ProviderId::Yahoo, .. }), "{error:?}");
}

#[tokio::test]
async fn unknown_everywhere_is_not_found_listing_every_provider() {
    let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
    yahoo_chart(&yahoo_server, "ZZZZ", json(404, yahoo_chart_not_found_json()), 1).await;
    // Polygon answers an unknown ticker with an empty window; its ticker reference says 404.
    polygon_aggs(&polygon_server, "ZZZZ", json(200, r#"{"ticker":"ZZZZ","queryCount":0,"resultsCount":0,"adjusted":false,"status":"OK","request_id":"x"}"#.to_owned()), 1).await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers/ZZZZ"))
        .respond_with(json(
            404,
            r#"{"status":"NOT_FOUND","request_id":"y","message":"Ticker not found."}"#.to_owned(),
        ))
        .expect(1)
        .mount(&polygon_server)
        .await;
    let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), sample()]);

    let err = chain.bars(&daily("ZZZZ")).await.expect_err("nobody knows ZZZZ");
    assert!(err.is_not_found(), "{err:?}");
    let ChainError::Exhausted { attempts, .. } = &err else { panic!("expected Exhausted, got {err:?}") };
    assert_eq!(providers_of(attempts), [ProviderId::Yahoo, ProviderId::Polygon, ProviderId::Sample]);
    assert!(attempts.iter().all(|a| matches!(a.error, ProviderError::NotFound { .. })), "{attempts:?}");
    let text = err.to_string();
    for needle in ["no provider knows ZZZZ", "No data found", "Ticker not found", "offline sample"] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
}

#[tokio::test]
async fn an_endpoint_404_is_an_upstream_error_not_an_unknown_symbol() {
    let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
    // A wrong base URL: 404 with an HTML page, no vendor error body.
    for server in [&yahoo_server, &polygon_server] {
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(404)
                    .set_body_raw("<html><title>404 Not Found</title></html>", "text/html"),
            )
            .mount(server)
            .await;
    }
    let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), sample()]);
    let served = chain.bars(&daily("IBM")).await.expect("the sample serves");
    assert_eq!(served.provider, ProviderId::Sample);
    for attempt in &served.failed_attempts {
        assert!(
            matches!(attempt.error, ProviderError::Upstream { status: Some(404), .. }),
            "{:?}",
            attempt.error
        );
        assert!(attempt.error.to_string().contains("base_url"), "{}", attempt.error);
    }
    let only_vendors = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server)]);
    let err = only_vendors.bars(&daily("IBM")).await.expect_err("both fail");
    assert!(!err.is_not_found(), "a broken endpoint does not make the symbol unknown: {err}");
}

#[tokio::test]
async fn all_failing_is_exhausted_listing_every_provider() {
    let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
    yahoo_chart(&yahoo_server, "AAPL", ResponseTemplate::new(502).set_body_string("bad gateway"), 2).await;
    // Polygon asks for an hour: longer than max_retry_wait, so no retry and no sleep.
    polygon_aggs(
        &polygon_server,
        "AAPL",
        json(429, r#"{"status":"ERROR","request_id":"x","error":"You've exceeded the maximum requests per minute"}"#.to_owned())
            .insert_header("retry-after", "3600"),
        1,
    )
    .await;
    let unconfigured = Arc::new(
        PolygonProvider::new(&fast(VendorConfig::polygon(), &polygon_server.uri()))
            .expect("builds without a key"),
    );
    let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), unconfigured]);

    let started = Instant::now();
    let err = chain.bars(&daily("AAPL")).await.expect_err("every provider fails");
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    let ChainError::Exhausted { what, attempts } = &err else { panic!("expected Exhausted, got {err:?}") };
    assert_eq!(what, "AAPL 1d bars");
    assert_eq!(providers_of(attempts), [ProviderId::Yahoo, ProviderId::Polygon, ProviderId::Polygon]);
    assert!(
        matches!(attempts[0].error, ProviderError::Upstream { status: Some(502), .. }),
        "{:?}",
        attempts[0].error
    );
    assert!(
        matches!(attempts[1].error, ProviderError::RateLimited { retry_after: Some(wait), .. } if wait == Duration::from_secs(3600)),
        "{:?}",
        attempts[1].error
    );
    assert!(matches!(attempts[2].error, ProviderError::NotConfigured { .. }), "{:?}", attempts[2].error);
    let text = err.to_string();
    for needle in ["yahoo", "polygon", "HTTP 502", "maximum requests per minute", "no API key"] {
        assert!(text.contains(needle), "{needle:?} missing from {text}");
    }
    assert_eq!(err.errors().len(), 3);
}

#[tokio::test]
async fn no_provider_with_the_capability() {
    let server = MockServer::start().await;
    // No request may reach any vendor.
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let chain = ProviderChain::new(vec![yahoo(&server), yahoo(&server)]);

    let err = chain.profile(&symbol("AAPL")).await.expect_err("nobody serves profiles");
    let ChainError::NoProvider { capability, providers } = &err else {
        panic!("expected NoProvider, got {err:?}")
    };
    assert_eq!(*capability, Capability::Profile);
    assert_eq!(providers, &[ProviderId::Yahoo, ProviderId::Yahoo]);
    assert!(err.to_string().contains("yahoo, yahoo"), "{err}");
    assert!(err.errors().is_empty());
    let (from, to) = (chrono::DateTime::<chrono::Utc>::MIN_UTC, chrono::Utc::now());
    let err = chain.news(&symbol("AAPL"), from, to).await.expect_err("nobody serves news");
    assert!(matches!(err, ChainError::NoProvider { capability: Capability::News, .. }), "{err:?}");

    let offline = ProviderChain::new(vec![sample()]);
    let mut intraday = daily("AAPL");
    intraday.interval = Interval::Min5;
    let err = offline.bars(&intraday).await.expect_err("the sample has no intraday bars");
    assert!(
        matches!(&err, ChainError::NoProvider { capability: Capability::IntradayBars, providers } if providers == &[ProviderId::Sample]),
        "{err:?}"
    );
}

#[tokio::test]
async fn sample_serves_when_every_networked_vendor_fails() {
    let (yahoo_server, polygon_server) = (MockServer::start().await, MockServer::start().await);
    // Two attempts (one retry) for the bars, two more for the quote, which uses the chart too.
    yahoo_chart(&yahoo_server, "GOOG", ResponseTemplate::new(503), 2 + 2).await;
    polygon_aggs(&polygon_server, "GOOG", json(403, polygon_not_authorized_json()), 1).await;
    // Quotes: Yahoo's chart (range=1d) and Polygon's /prev fail too.
    Mock::given(method("GET"))
        .and(path("/v2/aggs/ticker/GOOG/prev"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("<html><title>504 Gateway Time-out</title></html>"),
        )
        .expect(2)
        .mount(&polygon_server)
        .await;
    let chain = ProviderChain::new(vec![yahoo(&yahoo_server), polygon(&polygon_server), sample()]);

    let served = chain.bars(&daily_in("GOOG", 2012)).await.expect("the sample serves bars");
    assert_eq!(served.provider, ProviderId::Sample);
    assert_eq!(providers_of(&served.failed_attempts), [ProviderId::Yahoo, ProviderId::Polygon]);
    assert!(!served.value.bars.is_empty());
    assert!(served.value.bars.iter().all(|bar| bar.provider == ProviderId::Sample));

    let quote = chain.quote(&symbol("GOOG")).await.expect("the sample serves a quote");
    assert_eq!(quote.provider, ProviderId::Sample);
    assert_eq!(quote.value.source, QuoteSource::LastBarClose);
    assert_eq!(providers_of(&quote.failed_attempts), [ProviderId::Yahoo, ProviderId::Polygon]);
    assert!(quote.failed_attempts.iter().all(|a| a.error.should_fall_back()), "{:?}", quote.failed_attempts);
}

#[tokio::test]
async fn news_falls_back_past_a_failing_vendor_and_says_who_served() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/reference/news"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(
            r#"{"status":"ERROR","request_id":"x","error":"You've exceeded the maximum requests per minute"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    // Yahoo declares no news and is skipped without a request.
    let chain = ProviderChain::new(vec![yahoo(&server), polygon(&server), sample()]);
    let now = chrono::Utc::now();

    let served = chain.news(&symbol("AAPL"), now - chrono::TimeDelta::days(7), now).await.unwrap();

    assert_eq!(served.provider, ProviderId::Sample);
    assert_eq!(served.failed_attempts.len(), 1);
    assert_eq!(served.failed_attempts[0].provider, ProviderId::Polygon);
    assert!(matches!(served.failed_attempts[0].error, ProviderError::RateLimited { .. }));
    assert!(!served.value.is_empty());
    assert!(served.value.windows(2).all(|w| w[0].published_at <= w[1].published_at));
    let mut urls: Vec<_> = served.value.iter().map(|item| item.url.clone()).collect();
    urls.dedup();
    assert_eq!(urls.len(), served.value.len());
    assert!(server.received_requests().await.unwrap().iter().all(|r| r.url.path() == "/v2/reference/news"));

    let profile = chain.profile(&symbol("AAPL")).await;
    // Polygon's ticker details are not mocked (a bare 404: the endpoint's fault); the sample serves.
    assert_eq!(profile.unwrap().provider, ProviderId::Sample);
}

#[tokio::test]
async fn news_of_a_symbol_nobody_knows_is_not_found() {
    let chain = ProviderChain::new(vec![sample()]);
    let now = chrono::Utc::now();
    let err = chain.news(&symbol("NVDA"), now - chrono::TimeDelta::days(7), now).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

//! Polygon provider against a local mock of the aggregates API, with payloads shaped like
//! Polygon's (fractional volume, `DELAYED` status, `next_url` paging, its JSON and nginx errors).
//! Every error is also checked for the API key, which must never appear in it.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use domain::{DateRange, Interval, ProviderId, QuoteSource, Symbol};
use providers::polygon::PolygonProvider;
use providers::{ApiKey, BarsRequest, Capability, MarketData, ProviderError, Span, VendorConfig};
use wiremock::matchers::{any, bearer_token, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "PGkey_s3cr3t_0123456789abcdef";
const MAX_RETRIES: u32 = 2;
const AGGS_AAPL_DAY: &str = "/v2/aggs/ticker/AAPL/range/1/day/2024-04-29/2024-05-03";

fn payload(name: &str) -> String {
    let file = format!("{}/tests/data/polygon/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(payload(name), "application/json")
}

/// A page whose `next_url` points back at the mock server.
fn page(server: &MockServer, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(payload(name).replace("{{BASE}}", &server.uri()), "application/json")
}

/// Fast retries and no client-side rate limit, so failure paths take milliseconds.
fn config(server: &MockServer) -> VendorConfig {
    let mut config = VendorConfig::polygon();
    config.base_url = server.uri();
    config.api_key = Some(ApiKey::new(KEY));
    config.max_retries = MAX_RETRIES;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 10;
    config.rate_limits = Vec::new();
    config.timeout_secs = 5.0;
    config
}

fn provider(server: &MockServer) -> PolygonProvider {
    PolygonProvider::new(&config(server)).unwrap()
}

fn request(symbol: &str, interval: Interval, from: (i32, u32, u32), to: (i32, u32, u32)) -> BarsRequest {
    BarsRequest {
        symbol: Symbol::parse(symbol).unwrap(),
        interval,
        span: Span::Between(
            DateRange::new(
                chrono::NaiveDate::from_ymd_opt(from.0, from.1, from.2).unwrap(),
                chrono::NaiveDate::from_ymd_opt(to.0, to.1, to.2).unwrap(),
            )
            .unwrap(),
        ),
    }
}

/// Polygon's ticker reference knows `symbol` (the body is trimmed to what is read: the status).
async fn ticker_exists(server: &MockServer, symbol: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/v3/reference/tickers/{symbol}")))
        .and(bearer_token(KEY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"request_id":"31d59dda-80e5-4721-8496-d0d32a654afe","results":{{"ticker":"{symbol}","name":"Apple Inc.","market":"stocks","active":true}},"status":"OK"}}"#),
            "application/json",
        ))
        .mount(server)
        .await;
}

fn aapl_daily() -> BarsRequest {
    request("AAPL", Interval::Day1, (2024, 4, 29), (2024, 5, 3))
}

/// The key must not leak through `Display` or `Debug`.
#[track_caller]
fn assert_no_key(err: &ProviderError) {
    assert!(!format!("{err}").contains(KEY), "key in error text: {err}");
    assert!(!format!("{err:?}").contains(KEY), "key in error debug: {err:?}");
}

async fn bars_error(server: &MockServer) -> ProviderError {
    let err = provider(server).bars(&aapl_daily()).await.unwrap_err();
    assert_no_key(&err);
    err
}

/// Every request carried the key in the header and none in the URL.
async fn assert_key_only_in_header(server: &MockServer) {
    for request in server.received_requests().await.unwrap() {
        assert!(!request.url.as_str().contains(KEY), "key in URL {}", request.url);
        assert!(request.url.query_pairs().all(|(k, _)| !k.eq_ignore_ascii_case("apikey")), "{}", request.url);
        let auth = request.headers.get("authorization").and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {KEY}").as_str()));
    }
}

#[tokio::test]
async fn daily_bars_are_parsed_and_stamped() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(AGGS_AAPL_DAY))
        .respond_with(json(200, "aggs_aapl_1d.json"))
        .mount(&server)
        .await;
    let polygon = provider(&server);
    assert!(polygon.capabilities().supports(Capability::DailyBars));
    assert!(polygon.capabilities().supports(Capability::IntradayBars));

    let series = polygon.bars(&aapl_daily()).await.unwrap();

    assert_eq!(series.provider, ProviderId::Polygon);
    assert_eq!(series.interval, Interval::Day1);
    assert_eq!(series.bars.len(), 5, "status DELAYED is still data");
    assert!(series.bars.windows(2).all(|w| w[0].ts < w[1].ts));
    assert!(series.bars.iter().all(|b| b.provider == ProviderId::Polygon && b.adj_close.is_none()));
    let first = &series.bars[0];
    assert_eq!(
        first.ts,
        Utc.with_ymd_and_hms(2024, 4, 29, 0, 0, 0).unwrap(),
        "daily bars are keyed by their session date"
    );
    assert_eq!(first.open, Some(173.37));
    assert_eq!(first.high, Some(176.03));
    assert_eq!(first.low, Some(173.1));
    assert_eq!(first.close, Some(173.5));
    assert_eq!(first.volume, Some(68_169_419));
    assert_eq!(series.bars[2].volume, Some(50_383_148), "fractional volumes round to whole shares");
    let dates: Vec<NaiveDate> = series.bars.iter().map(|b| b.ts.date_naive()).collect();
    assert_eq!(dates.last(), NaiveDate::from_ymd_opt(2024, 5, 3).as_ref());
}

#[tokio::test]
async fn request_has_the_documented_shape_and_key_only_in_the_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(AGGS_AAPL_DAY))
        .and(query_param("adjusted", "false"))
        .and(query_param("sort", "asc"))
        .and(query_param("limit", "50000"))
        .and(query_param_is_missing("apiKey"))
        .and(bearer_token(KEY))
        .respond_with(json(200, "aggs_aapl_1d.json"))
        .expect(1)
        .mount(&server)
        .await;

    provider(&server).bars(&aapl_daily()).await.unwrap();

    assert_key_only_in_header(&server).await;
}

#[tokio::test]
async fn intraday_bars_keep_their_exact_start() {
    let server = MockServer::start().await;
    // Intraday windows are the exchange-local day in milliseconds, the end exclusive:
    // 2024-05-03 04:00Z (midnight New York) to one millisecond before the next midnight.
    Mock::given(path("/v2/aggs/ticker/AAPL/range/5/minute/1714708800000/1714795199999"))
        .respond_with(json(200, "aggs_aapl_5m.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series =
        provider(&server).bars(&request("AAPL", Interval::Min5, (2024, 5, 3), (2024, 5, 3))).await.unwrap();

    assert_eq!(series.bars.len(), 3);
    assert_eq!(series.bars[0].ts, Utc.with_ymd_and_hms(2024, 5, 3, 13, 30, 0).unwrap());
    assert_eq!(series.bars[1].volume, Some(4_201_377));
}

#[tokio::test]
async fn every_interval_maps_to_a_polygon_range() {
    let server = MockServer::start().await;
    ticker_exists(&server, "AAPL").await;
    for (interval, range) in [
        (Interval::Min1, "1/minute"),
        (Interval::Min5, "5/minute"),
        (Interval::Min15, "15/minute"),
        (Interval::Min30, "30/minute"),
        (Interval::Hour1, "1/hour"),
        (Interval::Day1, "1/day"),
        (Interval::Week1, "1/week"),
        (Interval::Month1, "1/month"),
    ] {
        let window =
            if interval.is_intraday() { "1714363200000/1714795199999" } else { "2024-04-29/2024-05-03" };
        Mock::given(path(format!("/v2/aggs/ticker/AAPL/range/{range}/{window}")))
            .respond_with(json(200, "aggs_empty.json"))
            .expect(1)
            .mount(&server)
            .await;
        let series = provider(&server)
            .bars(&request("AAPL", interval, (2024, 4, 29), (2024, 5, 3)))
            .await
            .unwrap_or_else(|e| panic!("{interval}: {e}"));
        assert!(series.bars.is_empty());
    }
}

#[tokio::test]
async fn next_url_is_followed_across_three_pages_with_the_key_in_the_header() {
    let server = MockServer::start().await;
    let first = "/v2/aggs/ticker/AAPL/range/1/day/2020-01-02/2020-01-10";
    Mock::given(path(first))
        .and(query_param_is_missing("cursor"))
        .and(bearer_token(KEY))
        .respond_with(page(&server, "aggs_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10"))
        .and(query_param("cursor", "bGltaXQ9MiZzb3J0PWFzYw"))
        .and(bearer_token(KEY))
        .respond_with(page(&server, "aggs_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/aggs/ticker/AAPL/range/1/day/1578459600000/2020-01-10"))
        .and(query_param("cursor", "bGltaXQ9MiZzb3J0PWFzYyZwYWdlPTM"))
        .and(bearer_token(KEY))
        .respond_with(page(&server, "aggs_page3.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series =
        provider(&server).bars(&request("AAPL", Interval::Day1, (2020, 1, 2), (2020, 1, 10))).await.unwrap();

    let dates: Vec<String> = series.bars.iter().map(|b| b.ts.date_naive().to_string()).collect();
    assert_eq!(dates, ["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07", "2020-01-08"]);
    assert_eq!(series.bars[4].close, Some(75.7975));
    assert_key_only_in_header(&server).await;
}

#[tokio::test]
async fn next_url_on_another_host_is_not_followed() {
    let server = MockServer::start().await;
    let body = payload("aggs_page1.json").replace("{{BASE}}", "https://collector.example.invalid");
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("collector.example.invalid"), "{err}");
}

#[tokio::test]
async fn next_url_pointing_back_at_itself_stops() {
    let server = MockServer::start().await;
    let body = payload("aggs_page1.json").replace(
        "{{BASE}}/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10?cursor=bGltaXQ9MiZzb3J0PWFzYw",
        &format!("{}/v2/aggs/ticker/AAPL/range/1/day/2020-01-02/2020-01-10?cursor=again", server.uri()),
    );
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(2)
        .mount(&server)
        .await;

    let err = provider(&server)
        .bars(&request("AAPL", Interval::Day1, (2020, 1, 2), (2020, 1, 10)))
        .await
        .unwrap_err();

    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("repeats"), "{err}");
}

#[tokio::test]
async fn no_results_with_count_zero_is_an_empty_series() {
    for name in ["aggs_empty.json", "aggs_null_results.json"] {
        let server = MockServer::start().await;
        Mock::given(path(AGGS_AAPL_DAY)).respond_with(json(200, name)).expect(1).mount(&server).await;
        // An empty window and an unknown ticker look alike; the ticker reference tells.
        ticker_exists(&server, "AAPL").await;

        let series = provider(&server).bars(&aapl_daily()).await.unwrap();

        assert!(series.bars.is_empty(), "{name}");
        assert_eq!(series.provider, ProviderId::Polygon);
    }
}

#[tokio::test]
async fn error_body_with_200_is_not_mistaken_for_no_data() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(json(200, "aggs_error_on_200.json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("Internal error, please try again"), "{err}");
}

#[tokio::test]
async fn quote_is_the_previous_close_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/aggs/ticker/AAPL/prev"))
        .and(query_param("adjusted", "false"))
        .and(bearer_token(KEY))
        .respond_with(json(200, "prev_aapl.json"))
        .expect(1)
        .mount(&server)
        .await;

    let quote = provider(&server).quote(&Symbol::parse("AAPL").unwrap()).await.unwrap();

    assert_eq!(quote.source, QuoteSource::LastBarClose);
    assert_eq!(quote.provider, ProviderId::Polygon);
    assert_eq!(quote.price, 183.38);
    assert_eq!(quote.open, Some(186.65));
    assert_eq!(quote.high, Some(187.0));
    assert_eq!(quote.low, Some(182.66));
    assert_eq!(quote.volume, Some(163_224_109));
    assert_eq!(quote.ts, Utc.with_ymd_and_hms(2024, 5, 3, 20, 0, 0).unwrap());
    assert_eq!((quote.previous_close, quote.change, quote.change_percent), (None, None, None));
    assert_key_only_in_header(&server).await;
}

#[tokio::test]
async fn quote_of_an_unknown_ticker_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/aggs/ticker/ZZZZQ/prev"))
        .respond_with(json(200, "aggs_empty.json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = provider(&server).quote(&Symbol::parse("ZZZZQ").unwrap()).await.unwrap_err();

    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("ZZZZQ") && err.to_string().contains("polygon"), "{err}");
}

#[tokio::test]
async fn unknown_key_is_auth_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY)).respond_with(json(401, "error_401.json")).expect(1).mount(&server).await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Auth { provider: ProviderId::Polygon, .. }), "{err:?}");
    assert!(err.to_string().contains("Unknown API Key"), "{err}");
    assert!(err.should_fall_back());
}

#[tokio::test]
async fn a_key_echoed_by_the_vendor_is_redacted() {
    let server = MockServer::start().await;
    let body = format!(r#"{{"status":"ERROR","request_id":"x","error":"Unknown API Key {KEY}"}}"#);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(err.to_string().contains("Unknown API Key ***"), "{err}");
}

#[tokio::test]
async fn plan_without_the_data_is_entitlement() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY)).respond_with(json(403, "error_403.json")).expect(1).mount(&server).await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Entitlement { .. }), "{err:?}");
    assert!(err.to_string().contains("You are not entitled to this data"), "{err}");
    assert!(!err.is_retryable());
    assert!(err.should_fall_back());
}

#[tokio::test]
async fn rate_limit_is_retried_then_reported() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(json(429, "error_429.json"))
        .expect(u64::from(MAX_RETRIES) + 1)
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("maximum requests per minute"), "{err}");
}

#[tokio::test]
async fn a_429_then_200_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(json(429, "error_429.json"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(json(200, "aggs_aapl_1d.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series = provider(&server).bars(&aapl_daily()).await.unwrap();

    assert_eq!(series.bars.len(), 5);
}

#[tokio::test]
async fn nginx_gateway_timeout_is_retried_then_upstream() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(ResponseTemplate::new(504).set_body_raw(payload("error_504.html"), "text/html"))
        .expect(u64::from(MAX_RETRIES) + 1)
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Upstream { status: Some(504), .. }), "{err:?}");
    assert!(err.to_string().contains("504 Gateway Time-out"), "{err}");
}

#[tokio::test]
async fn bad_bodies_are_malformed() {
    for (name, expected) in [("invalid_json.json", "invalid JSON"), ("truncated.json", "truncated JSON")] {
        let server = MockServer::start().await;
        Mock::given(path(AGGS_AAPL_DAY)).respond_with(json(200, name)).expect(1).mount(&server).await;

        let err = bars_error(&server).await;

        assert!(matches!(err, ProviderError::Malformed { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
}

#[tokio::test]
async fn html_with_200_is_malformed() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(ResponseTemplate::new(200).set_body_raw(payload("error_504.html"), "text/html"))
        .expect(1)
        .mount(&server)
        .await;

    let err = bars_error(&server).await;

    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("HTML"), "{err}");
}

#[tokio::test]
async fn slow_responses_time_out() {
    let server = MockServer::start().await;
    Mock::given(path(AGGS_AAPL_DAY))
        .respond_with(json(200, "aggs_aapl_1d.json").set_delay(Duration::from_secs(5)))
        .expect(2)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.timeout_secs = 0.2;
    config.max_retries = 1;

    let err = PolygonProvider::new(&config).unwrap().bars(&aapl_daily()).await.unwrap_err();

    assert!(matches!(err, ProviderError::Timeout { provider: ProviderId::Polygon, .. }), "{err:?}");
    assert_no_key(&err);
}

#[tokio::test]
async fn missing_key_builds_but_every_request_is_not_configured() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(json(200, "aggs_aapl_1d.json")).expect(0).mount(&server).await;
    for api_key in [None, Some(ApiKey::new("")), Some(ApiKey::new("  "))] {
        let mut config = config(&server);
        config.api_key = api_key;
        let polygon = PolygonProvider::new(&config).expect("construction works without a key");

        let err = polygon.bars(&aapl_daily()).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotConfigured { .. }), "{err:?}");
        assert!(err.to_string().contains("api_key"), "{err}");
        assert!(err.should_fall_back());
        let err = polygon.quote(&Symbol::parse("AAPL").unwrap()).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotConfigured { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn provider_debug_does_not_show_the_key() {
    let server = MockServer::start().await;
    let text = format!("{:?}", provider(&server));
    assert!(!text.contains(KEY), "{text}");
}

#[tokio::test]
async fn unsafe_symbols_never_reach_the_network() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(json(200, "aggs_aapl_1d.json")).expect(0).mount(&server).await;
    let polygon = provider(&server);

    for input in ["../etc", "A;DROP", "AAPL/../../x", "A B", "A?apiKey=1", "A#b", ""] {
        match Symbol::parse(input) {
            Ok(symbol) => {
                let request = BarsRequest { symbol, ..aapl_daily() };
                panic!("{input:?} was accepted; provider answered {:?}", polygon.bars(&request).await);
            }
            Err(err) => assert!(!err.to_string().is_empty()),
        }
    }
}

/// Polygon's splits and dividends references, on its own recorded responses
/// (`tests/data/recorded/polygon/v3_reference_*.json`, from polygon-io/client-python).
#[test]
fn recorded_splits_and_dividends_become_corporate_actions() {
    use domain::CorporateActionKind;
    let recorded = |name: &str| {
        std::fs::read(format!("{}/tests/data/recorded/polygon/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let splits = recorded("v3_reference_splits.json");
    let goog = providers::polygon::parse_reference_body(&Symbol::parse("GOOG").unwrap(), &splits).unwrap();
    assert_eq!(goog.len(), 1, "rows of other tickers are left out: {goog:?}");
    assert_eq!(goog[0].date, NaiveDate::from_ymd_opt(2022, 7, 18).unwrap());
    assert_eq!(goog[0].kind, CorporateActionKind::Split { numerator: 20.0, denominator: 1.0 });
    let shop = providers::polygon::parse_reference_body(&Symbol::parse("SHOP").unwrap(), &splits).unwrap();
    assert_eq!(shop.len(), 2);
    // `split_from` 2, `split_to` 1 is a 1:2 reverse split.
    let brw = providers::polygon::parse_reference_body(&Symbol::parse("BRW").unwrap(), &splits).unwrap();
    assert_eq!(brw[0].kind.split_ratio(), Some(0.5));
    let dividends = recorded("v3_reference_dividends.json");
    let cssen =
        providers::polygon::parse_reference_body(&Symbol::parse("CSSEN").unwrap(), &dividends).unwrap();
    assert!(!cssen.is_empty());
    assert!(cssen.iter().all(|a| a.kind == CorporateActionKind::Dividend { amount: 0.59375 }), "{cssen:?}");
    assert!(cssen.iter().any(|a| a.date == NaiveDate::from_ymd_opt(2025, 6, 12).unwrap()));
}

// ---------------------------------------------------------------------------------------------
// Company profiles (`/v3/reference/tickers/{ticker}`) and news (`/v2/reference/news`). The
// payloads are written by us in the shapes of Polygon's documentation examples; the recorded
// ones are replayed in `recorded.rs`.

fn aapl() -> Symbol {
    Symbol::parse("AAPL").unwrap()
}

fn utc(text: &str) -> chrono::DateTime<Utc> {
    text.parse().unwrap()
}

/// The window the news tests ask for: 2024-04-29 to 2024-05-03 14:00, inclusive.
fn news_window() -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    (utc("2024-04-29T00:00:00Z"), utc("2024-05-03T14:00:00Z"))
}

async fn news_error(server: &MockServer) -> ProviderError {
    let (from, to) = news_window();
    let err = provider(server).news(&aapl(), from, to).await.unwrap_err();
    assert_no_key(&err);
    err
}

async fn profile_error(server: &MockServer) -> ProviderError {
    let err = provider(server).profile(&aapl()).await.unwrap_err();
    assert_no_key(&err);
    err
}

#[tokio::test]
async fn profile_comes_from_ticker_details() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers/AAPL"))
        .and(bearer_token(KEY))
        .respond_with(json(200, "ticker_details_aapl.json"))
        .expect(1)
        .mount(&server)
        .await;
    let polygon = provider(&server);
    assert!(polygon.capabilities().supports(Capability::Profile));

    let profile = polygon.profile(&aapl()).await.unwrap();

    assert_eq!(profile.name.as_deref(), Some("Apple Inc."));
    assert_eq!(profile.exchange.as_deref(), Some("XNAS"));
    assert_eq!((profile.currency.as_deref(), profile.country.as_deref()), (Some("USD"), Some("US")));
    assert_eq!(profile.industry.as_deref(), Some("ELECTRONIC COMPUTERS"));
    assert_eq!(profile.market_cap, Some(2_771_126_040_150.0));
    assert_eq!(profile.provider, Some(ProviderId::Polygon));
    assert_key_only_in_header(&server).await;
}

#[tokio::test]
async fn profile_of_an_unknown_ticker_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(404, "ticker_not_found.json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = profile_error(&server).await;

    assert!(matches!(err, ProviderError::NotFound { provider: ProviderId::Polygon, .. }), "{err:?}");
    assert!(err.to_string().contains("Ticker not found"), "{err}");
}

#[tokio::test]
async fn profile_failures_are_classified_like_the_other_calls() {
    // A bare 404 (a wrong base_url) is the endpoint's fault, not the symbol's.
    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(ResponseTemplate::new(404).set_body_raw("404 page not found", "text/plain"))
        .mount(&server)
        .await;
    let err = profile_error(&server).await;
    assert!(matches!(err, ProviderError::Upstream { status: Some(404), .. }), "{err:?}");

    let server = MockServer::start().await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(429, "error_429.json"))
        .expect(u64::from(MAX_RETRIES) + 1)
        .mount(&server)
        .await;
    let err = profile_error(&server).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");

    let details = payload("ticker_details_aapl.json");
    for (body, expected) in [
        (payload("invalid_json.json"), "invalid JSON"),
        (details[..details.len() / 2].to_owned(), "truncated JSON"),
        (payload("aggs_error_on_200.json"), "no results in ticker details"),
        (details.replace(r#""ticker":"AAPL""#, r#""ticker":"MSFT""#), "about \"MSFT\", not AAPL"),
        (r#"{"results":{"name":42}}"#.to_owned(), "invalid JSON"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v3/reference/tickers/AAPL"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(body.clone(), "application/json"))
            .mount(&server)
            .await;
        let err = profile_error(&server).await;
        assert!(matches!(err, ProviderError::Malformed { .. }), "{body}: {err:?}");
        assert!(err.to_string().contains(expected), "{body}: {err}");
    }

    let server = MockServer::start().await;
    let body = format!(r#"{{"status":"ERROR","request_id":"x","error":"Unknown API Key {KEY}"}}"#);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let err = profile_error(&server).await;
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("Unknown API Key ***"), "{err}");
}

#[tokio::test]
async fn news_follows_next_url_maps_insights_and_keeps_the_window() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/reference/news"))
        .and(query_param("ticker", "AAPL"))
        .and(query_param("published_utc.gte", "2024-04-29T00:00:00Z"))
        .and(query_param("published_utc.lte", "2024-05-03T14:00:00Z"))
        .and(query_param("order", "desc"))
        .and(query_param("sort", "published_utc"))
        .and(query_param("limit", "1000"))
        .and(query_param_is_missing("cursor"))
        .respond_with(page(&server, "news_page1.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/reference/news"))
        .and(query_param("cursor", "cGFnZTI"))
        .respond_with(json(200, "news_page2.json"))
        .expect(1)
        .mount(&server)
        .await;
    let polygon = provider(&server);
    assert!(polygon.capabilities().supports(Capability::News));
    let (from, to) = news_window();

    let news = polygon.news(&aapl(), from, to).await.unwrap();

    let urls: Vec<_> = news.iter().map(|item| item.url.as_str()).collect();
    assert_eq!(
        urls,
        ["https://news.example/ahead", "https://news.example/two-stocks", "https://news.example/acme-beats"],
        "oldest first, the repeated article once, the one without a time left out"
    );
    let sentiments: Vec<_> = news.iter().map(|item| item.sentiment).collect();
    assert_eq!(
        sentiments,
        [None, Some(0.0), Some(1.0)],
        "mixed is no label of ours; AAPL's insight, not ACME's"
    );
    assert_eq!(news[1].headline, "Two stocks to watch");
    assert_eq!(news[2].source.as_deref(), Some("Benzinga"));
    assert_eq!(news[2].summary.as_deref(), Some("Quarterly results above consensus."));
    assert!(news.iter().all(|item| item.provider == ProviderId::Polygon && item.symbol == aapl()));
    assert_key_only_in_header(&server).await;
}

#[tokio::test]
async fn news_paging_is_bounded() {
    let server = MockServer::start().await;
    // Every page points at a next one with a new cursor.
    for page_no in 0..10 {
        let next = format!("{}/v2/reference/news?cursor=c{}", server.uri(), page_no + 1);
        let body = format!(
            r#"{{"results":[{{"title":"t{page_no}","article_url":"https://news.example/{page_no}","published_utc":"2024-05-01T12:00:0{}Z"}}],"status":"OK","next_url":"{next}"}}"#,
            page_no % 10
        );
        let mock = Mock::given(path("/v2/reference/news"));
        let mock = if page_no == 0 {
            mock.and(query_param_is_missing("cursor"))
        } else {
            mock.and(query_param("cursor", format!("c{page_no}")))
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .mount(&server)
            .await;
    }
    let (from, to) = news_window();

    let news = provider(&server).news(&aapl(), from, to).await.unwrap();

    assert_eq!(news.len(), providers::polygon::MAX_NEWS_PAGES);
    assert_eq!(server.received_requests().await.unwrap().len(), providers::polygon::MAX_NEWS_PAGES);
}

#[tokio::test]
async fn news_next_url_on_another_host_is_not_followed() {
    let server = MockServer::start().await;
    let body = payload("news_page1.json").replace("{{BASE}}", "https://evil.example");
    Mock::given(path("/v2/reference/news"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = news_error(&server).await;

    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("not following it with the key"), "{err}");
}

#[tokio::test]
async fn no_news_for_a_known_ticker_is_empty_and_for_an_unknown_one_not_found() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/reference/news"))
        .respond_with(json(200, "news_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    ticker_exists(&server, "AAPL").await;
    let (from, to) = news_window();
    assert!(provider(&server).news(&aapl(), from, to).await.unwrap().is_empty());

    let server = MockServer::start().await;
    Mock::given(path("/v2/reference/news"))
        .respond_with(json(200, "news_empty.json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v3/reference/tickers/AAPL"))
        .respond_with(json(404, "ticker_not_found.json"))
        .expect(1)
        .mount(&server)
        .await;
    let err = news_error(&server).await;
    assert!(matches!(err, ProviderError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("AAPL"), "{err}");
}

#[tokio::test]
async fn news_failures_are_classified_like_the_other_calls() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/reference/news"))
        .respond_with(json(429, "error_429.json"))
        .expect(u64::from(MAX_RETRIES) + 1)
        .mount(&server)
        .await;
    let err = news_error(&server).await;
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(err.to_string().contains("maximum requests per minute"), "{err}");

    let server = MockServer::start().await;
    Mock::given(path("/v2/reference/news"))
        .respond_with(json(403, "error_403.json"))
        .expect(1)
        .mount(&server)
        .await;
    let err = news_error(&server).await;
    assert!(matches!(err, ProviderError::Entitlement { .. }), "{err:?}");

    for (name, expected) in [
        ("invalid_json.json", "invalid JSON"),
        ("truncated.json", "truncated JSON"),
        ("aggs_error_on_200.json", "no results in news"),
    ] {
        let server = MockServer::start().await;
        Mock::given(path("/v2/reference/news")).respond_with(json(200, name)).expect(1).mount(&server).await;
        let err = news_error(&server).await;
        assert!(matches!(err, ProviderError::Malformed { .. }), "{name}: {err:?}");
        assert!(err.to_string().contains(expected), "{name}: {err}");
    }
    // A body of the wrong shape (results not a list) is malformed, not a panic.
    let server = MockServer::start().await;
    Mock::given(path("/v2/reference/news"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"{"results":{"title":1}}"#, "application/json"),
        )
        .mount(&server)
        .await;
    assert!(matches!(news_error(&server).await, ProviderError::Malformed { .. }));
}

#[tokio::test]
async fn profile_and_news_without_a_key_are_not_configured() {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(json(200, "news_empty.json")).expect(0).mount(&server).await;
    let mut config = config(&server);
    config.api_key = None;
    let polygon = PolygonProvider::new(&config).unwrap();
    let (from, to) = news_window();
    assert!(matches!(polygon.news(&aapl(), from, to).await, Err(ProviderError::NotConfigured { .. })));
    assert!(matches!(polygon.profile(&aapl()).await, Err(ProviderError::NotConfigured { .. })));
}

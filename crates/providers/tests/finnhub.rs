//! Finnhub against a mock server: every endpoint's happy path, the in-band "not found" answers
//! (all-zero quote, empty profile), premium candles (403), rate limits (429) and broken bodies.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use domain::{DateRange, Interval, ProviderId, QuoteSource, Symbol};
use providers::finnhub::FinnhubProvider;
use providers::{ApiKey, BarsRequest, Capability, MarketData, ProviderError, Span, VendorConfig};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "fh_test_key_9Z";

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/finnhub/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(data(name), "application/json")
}

fn config(server: &MockServer) -> VendorConfig {
    let mut config = VendorConfig::finnhub();
    config.base_url = server.uri();
    config.api_key = Some(ApiKey::new(KEY));
    config.max_retries = 2;
    config.backoff_base_ms = 10;
    config.backoff_max_ms = 50;
    config.max_retry_wait_secs = 5.0;
    config.timeout_secs = 5.0;
    config.rate_limits = Vec::new();
    config
}

fn provider(server: &MockServer) -> FinnhubProvider {
    FinnhubProvider::new(&config(server)).unwrap()
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// A GET of `endpoint` that authenticates by header and keeps the token out of the URL.
fn get(endpoint: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path(endpoint))
        .and(header("X-Finnhub-Token", KEY))
        .and(query_param_is_missing("token"))
}

fn daily_request(sym: &str) -> BarsRequest {
    BarsRequest {
        symbol: symbol(sym),
        interval: Interval::Day1,
        span: Span::Between(
            DateRange::new(utc(2024, 4, 29, 0, 0).date_naive(), utc(2024, 5, 3, 0, 0).date_naive()).unwrap(),
        ),
    }
}

#[tokio::test]
async fn declares_every_capability() {
    let server = MockServer::start().await;
    let provider = provider(&server);
    assert_eq!(provider.id(), ProviderId::Finnhub);
    for capability in [
        Capability::DailyBars,
        Capability::IntradayBars,
        Capability::Quote,
        Capability::Profile,
        Capability::News,
    ] {
        assert!(provider.capabilities().supports(capability), "{capability}");
    }
}

#[tokio::test]
async fn quote_is_parsed_and_live() {
    let server = MockServer::start().await;
    get("/quote")
        .and(query_param("symbol", "AAPL"))
        .respond_with(json(200, "quote.json"))
        .expect(1)
        .mount(&server)
        .await;

    let quote = provider(&server).quote(&symbol("AAPL")).await.unwrap();

    assert_eq!(quote.symbol, symbol("AAPL"));
    assert_eq!(quote.price, 183.38);
    assert_eq!(quote.change, Some(10.35));
    assert_eq!(quote.change_percent, Some(5.9818));
    assert_eq!(quote.previous_close, Some(173.03));
    assert_eq!(quote.open, Some(186.65));
    assert_eq!(quote.high, Some(187.0));
    assert_eq!(quote.low, Some(182.66));
    assert_eq!(quote.volume, None, "Finnhub quotes carry no volume");
    assert_eq!(quote.ts, utc(2024, 5, 3, 20, 0));
    assert_eq!(quote.provider, ProviderId::Finnhub);
    assert_eq!(quote.source, QuoteSource::Live);
}

#[tokio::test]
async fn all_zero_quote_is_not_found() {
    let server = MockServer::start().await;
    get("/quote")
        .and(query_param("symbol", "XYZQ"))
        .respond_with(json(200, "quote_unknown.json"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { provider: ProviderId::Finnhub, .. }), "{error}");
    assert!(error.to_string().contains("XYZQ"), "{error}");
}

#[tokio::test]
async fn daily_candles_are_parsed_sorted_and_filtered() {
    let server = MockServer::start().await;
    // Daily candles carry a date-like stamp (midnight UTC or midnight New York): the window runs
    // from the earlier of the two midnights of the first day to the later one after the last,
    // inclusive, and the candles are trimmed to the dates asked for.
    let from = utc(2024, 4, 29, 0, 0);
    let to = utc(2024, 5, 4, 4, 0) - chrono::Duration::seconds(1);
    get("/stock/candle")
        .and(query_param("symbol", "AAPL"))
        .and(query_param("resolution", "D"))
        .and(query_param("from", from.timestamp().to_string()))
        .and(query_param("to", to.timestamp().to_string()))
        .respond_with(json(200, "candles_daily.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series = provider(&server).bars(&daily_request("AAPL")).await.unwrap();

    assert_eq!(series.provider, ProviderId::Finnhub);
    assert_eq!(series.interval, Interval::Day1);
    // The fixture's first candle (2024-04-26) is before the window.
    assert_eq!(series.bars.len(), 5);
    assert!(series.bars.windows(2).all(|w| w[0].ts < w[1].ts));
    assert!(series.bars.iter().all(|b| b.provider == ProviderId::Finnhub));
    let last = series.bars.last().unwrap();
    assert_eq!(last.ts, utc(2024, 5, 3, 0, 0));
    assert_eq!(last.open, Some(186.65));
    assert_eq!(last.high, Some(187.0));
    assert_eq!(last.low, Some(182.66));
    assert_eq!(last.close, Some(183.38));
    assert_eq!(last.volume, Some(163_224_109));
}

#[tokio::test]
async fn intraday_resolution_is_minutes() {
    let server = MockServer::start().await;
    get("/stock/candle")
        .and(query_param("resolution", "15"))
        .respond_with(json(200, "candles_no_data.json"))
        .expect(1)
        .mount(&server)
        .await;
    get("/quote").respond_with(json(200, "quote.json")).expect(1).mount(&server).await;
    let request = BarsRequest {
        symbol: symbol("AAPL"),
        interval: Interval::Min15,
        span: Span::parse_range("5d").unwrap(),
    };

    let series = provider(&server).bars(&request).await.unwrap();

    assert!(series.bars.is_empty(), "no_data is an empty series");
    assert_eq!(series.interval, Interval::Min15);
}

#[tokio::test]
async fn no_data_for_a_known_symbol_is_an_empty_series() {
    let server = MockServer::start().await;
    get("/stock/candle").respond_with(json(200, "candles_no_data.json")).expect(1).mount(&server).await;
    // `no_data` is also the answer for an unknown symbol: the quote tells them apart.
    get("/quote")
        .and(query_param("symbol", "AAPL"))
        .respond_with(json(200, "quote.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series = provider(&server).bars(&daily_request("AAPL")).await.unwrap();

    assert!(series.bars.is_empty());
    assert_eq!(series.provider, ProviderId::Finnhub);
}

#[tokio::test]
async fn no_data_for_an_unknown_symbol_is_not_found() {
    let server = MockServer::start().await;
    get("/stock/candle").respond_with(json(200, "candles_no_data.json")).expect(1).mount(&server).await;
    get("/quote")
        .and(query_param("symbol", "XYZQ"))
        .respond_with(json(200, "quote_unknown.json"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).bars(&daily_request("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { provider: ProviderId::Finnhub, .. }), "{error}");
    assert!(error.to_string().contains("XYZQ"), "{error}");
    assert!(error.should_fall_back(), "another vendor may know it");
}

#[tokio::test]
async fn candles_on_a_free_key_are_entitlement() {
    let server = MockServer::start().await;
    get("/stock/candle").respond_with(json(403, "candles_forbidden.json")).expect(1).mount(&server).await;

    let error = provider(&server).bars(&daily_request("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Entitlement { .. }), "{error}");
    assert!(error.to_string().contains("You don't have access to this resource."), "{error}");
    assert!(error.should_fall_back());
}

#[tokio::test]
async fn ragged_candle_arrays_are_malformed() {
    let server = MockServer::start().await;
    get("/stock/candle")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"c":[1.0,2.0],"h":[1.0],"l":[1.0,2.0],"o":[1.0,2.0],"s":"ok","t":[1714348800,1714435200],"v":[1,2]}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).bars(&daily_request("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
}

#[tokio::test]
async fn rate_limit_is_retried_then_reported() {
    let server = MockServer::start().await;
    get("/quote").respond_with(json(429, "api_limit.json")).expect(3).mount(&server).await;

    let error = provider(&server).quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::RateLimited { .. }), "{error}");
    assert!(error.to_string().contains("API limit reached"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "one try and two retries");
}

#[tokio::test]
async fn rate_limit_then_success() {
    let server = MockServer::start().await;
    get("/quote")
        .respond_with(json(429, "api_limit.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    get("/quote").respond_with(json(200, "quote.json")).with_priority(2).expect(1).mount(&server).await;

    let quote = provider(&server).quote(&symbol("AAPL")).await.unwrap();

    assert_eq!(quote.price, 183.38);
}

#[tokio::test]
async fn bad_token_is_auth() {
    let server = MockServer::start().await;
    get("/quote").respond_with(json(401, "invalid_token.json")).expect(1).mount(&server).await;

    let error = provider(&server).quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Auth { .. }), "{error}");
    assert!(error.to_string().contains("Invalid API key"), "{error}");
}

#[tokio::test]
async fn company_news_is_filtered_sorted_and_cleaned() {
    let server = MockServer::start().await;
    get("/company-news")
        .and(query_param("symbol", "AAPL"))
        .and(query_param("from", "2024-05-01"))
        .and(query_param("to", "2024-05-03"))
        .respond_with(json(200, "company_news.json"))
        .expect(1)
        .mount(&server)
        .await;

    let news = provider(&server)
        .news(&symbol("AAPL"), utc(2024, 5, 1, 0, 0), utc(2024, 5, 3, 23, 59))
        .await
        .unwrap();

    // One story is listed twice, and one item has no headline (and is before the window anyway).
    assert_eq!(news.len(), 3);
    assert!(news.windows(2).all(|w| w[0].published_at <= w[1].published_at));
    assert!(news.iter().all(|n| n.provider == ProviderId::Finnhub && n.sentiment.is_none()));
    assert_eq!(news[0].headline, "What to expect from Apple's quarterly report");
    assert_eq!(news[0].published_at, utc(2024, 5, 1, 12, 0));
    assert_eq!(news[1].source.as_deref(), Some("Yahoo"));
    assert_eq!(news[1].summary, None, "empty summary is missing");
    assert_eq!(news[2].url, "https://www.cnbc.com/2024/05/02/apple-aapl-earnings-report-q2-2024.html");
    assert_eq!(
        news[2].published_at,
        DateTime::from_timestamp(1_714_731_200, 0).unwrap(),
        "the earlier listing of a repeated story is kept"
    );
}

#[tokio::test]
async fn profile_is_parsed_with_market_cap_in_dollars() {
    let server = MockServer::start().await;
    get("/stock/profile2")
        .and(query_param("symbol", "AAPL"))
        .respond_with(json(200, "profile2.json"))
        .expect(1)
        .mount(&server)
        .await;

    let profile = provider(&server).profile(&symbol("AAPL")).await.unwrap();

    assert_eq!(profile.symbol, Some(symbol("AAPL")));
    assert_eq!(profile.name.as_deref(), Some("Apple Inc"));
    assert_eq!(profile.exchange.as_deref(), Some("NASDAQ NMS - GLOBAL MARKET"));
    assert_eq!(profile.currency.as_deref(), Some("USD"));
    assert_eq!(profile.country.as_deref(), Some("US"));
    assert_eq!(profile.industry.as_deref(), Some("Technology"));
    assert_eq!(profile.market_cap, Some(2_831_495.5e6));
    assert_eq!(profile.website.as_deref(), Some("https://www.apple.com/"));
    assert_eq!(profile.provider, Some(ProviderId::Finnhub));
}

#[tokio::test]
async fn empty_profile_is_not_found() {
    let server = MockServer::start().await;
    get("/stock/profile2").respond_with(json(200, "profile2_unknown.json")).expect(1).mount(&server).await;

    let error = provider(&server).profile(&symbol("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("XYZQ"), "{error}");
}

#[tokio::test]
async fn missing_key_is_not_configured_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let mut config = config(&server);
    config.api_key = None;

    let provider = FinnhubProvider::new(&config).expect("construction succeeds without a key");
    let error = provider.quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotConfigured { .. }), "{error}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let server = MockServer::start().await;
    get("/quote")
        .respond_with(ResponseTemplate::new(200).set_body_raw(r#"{"c":183.38,"d":}"#, "application/json"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
}

#[tokio::test]
async fn truncated_body_is_malformed() {
    let server = MockServer::start().await;
    let full = data("candles_daily.json");
    get("/stock/candle")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(full[..full.len() / 2].to_owned(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).bars(&daily_request("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[tokio::test]
async fn html_error_page_is_retried_then_upstream() {
    let server = MockServer::start().await;
    get("/quote")
        .respond_with(ResponseTemplate::new(502).set_body_raw(
            "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>",
            "text/html",
        ))
        .expect(3)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Upstream { status: Some(502), .. }), "{error}");
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
}

#[tokio::test]
async fn plain_text_error_is_used_as_is() {
    let server = MockServer::start().await;
    get("/quote")
        .respond_with(ResponseTemplate::new(401).set_body_string("Unauthorized"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Auth { .. }), "{error}");
    assert!(error.to_string().contains("Unauthorized"), "{error}");
}

#[tokio::test]
async fn slow_response_times_out() {
    let server = MockServer::start().await;
    get("/quote")
        .respond_with(json(200, "quote.json").set_delay(Duration::from_secs(3)))
        .expect(2)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.timeout_secs = 0.2;
    config.max_retries = 1;

    let error = FinnhubProvider::new(&config).unwrap().quote(&symbol("AAPL")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Timeout { .. }), "{error}");
}

#[tokio::test]
async fn the_token_never_appears_in_the_url() {
    let server = MockServer::start().await;
    get("/quote").respond_with(json(200, "quote.json")).expect(1).mount(&server).await;

    provider(&server).quote(&symbol("AAPL")).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].url.as_str().contains(KEY), "{}", requests[0].url);
    assert_eq!(requests[0].headers.get("x-finnhub-token").unwrap(), KEY);
}

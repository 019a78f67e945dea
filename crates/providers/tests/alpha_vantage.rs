//! Alpha Vantage against a mock server: every endpoint's happy path and the HTTP-200 error
//! bodies that make this vendor tricky (quota messages quoting the key, burst throttling,
//! `Invalid API call` for unknown symbols), plus broken bodies and timeouts.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::{DateRange, Interval, ProviderId, QuoteSource, Symbol};
use providers::alpha_vantage::AlphaVantageProvider;
use providers::{ApiKey, BarsRequest, Capability, MarketData, ProviderError, Span, VendorConfig};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "ABCD1234";

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/alpha_vantage/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(data(name), "application/json")
}

fn config(server: &MockServer) -> VendorConfig {
    let mut config = VendorConfig::alpha_vantage();
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

fn provider(server: &MockServer) -> AlphaVantageProvider {
    AlphaVantageProvider::new(&config(server)).unwrap()
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).unwrap()
}

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

/// The trading days of two instants' UTC dates, both included.
fn between(from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
    Span::Between(DateRange::new(from.date_naive(), to.date_naive()).unwrap())
}

fn daily_request(sym: &str) -> BarsRequest {
    BarsRequest {
        symbol: symbol(sym),
        interval: Interval::Day1,
        span: between(utc(2024, 4, 29, 0, 0), utc(2024, 5, 3, 23, 59)),
    }
}

/// A mock for one `function` that must be called with the symbol and the configured key.
fn query(function: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", function))
        .and(query_param("apikey", KEY))
}

/// The key must not appear in anything a user or a log could see.
fn assert_no_key(error: &ProviderError) {
    let shown = format!("{error}");
    let debugged = format!("{error:?}");
    assert!(!shown.contains(KEY), "key leaked in Display: {shown}");
    assert!(!debugged.contains(KEY), "key leaked in Debug: {debugged}");
}

#[tokio::test]
async fn declares_every_capability() {
    let server = MockServer::start().await;
    let provider = provider(&server);
    assert_eq!(provider.id(), ProviderId::AlphaVantage);
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
async fn daily_bars_are_parsed_sorted_and_filtered_to_the_window() {
    let server = MockServer::start().await;
    query("TIME_SERIES_DAILY")
        .and(query_param("symbol", "IBM"))
        .and(query_param("outputsize", "full"))
        .respond_with(json("time_series_daily.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series = provider(&server).bars(&daily_request("IBM")).await.unwrap();

    assert_eq!(series.provider, ProviderId::AlphaVantage);
    assert_eq!(series.interval, Interval::Day1);
    assert_eq!(series.symbol, symbol("IBM"));
    // 2024-04-26 is in the body but before the window.
    assert_eq!(series.bars.len(), 5);
    assert!(series.bars.windows(2).all(|w| w[0].ts < w[1].ts), "not ascending");
    assert!(series.bars.iter().all(|b| b.provider == ProviderId::AlphaVantage));
    let first = &series.bars[0];
    assert_eq!(first.ts, utc(2024, 4, 29, 0, 0), "daily bars are stamped at midnight UTC");
    assert_eq!(first.open, Some(167.40));
    assert_eq!(first.high, Some(168.22));
    assert_eq!(first.low, Some(166.23));
    assert_eq!(first.close, Some(167.43));
    assert_eq!(first.volume, Some(5_005_149));
    assert_eq!(first.adj_close, None);
    let last = series.bars.last().unwrap();
    assert_eq!(last.ts, utc(2024, 5, 3, 0, 0));
    assert_eq!(last.close, Some(165.71));
}

#[tokio::test]
async fn recent_daily_windows_ask_for_the_compact_output() {
    let server = MockServer::start().await;
    query("TIME_SERIES_DAILY")
        .and(query_param("outputsize", "compact"))
        .respond_with(json("time_series_daily.json"))
        .expect(1)
        .mount(&server)
        .await;
    let request = BarsRequest {
        symbol: symbol("IBM"),
        interval: Interval::Day1,
        span: Span::parse_range("1mo").unwrap(),
    };

    let series = provider(&server).bars(&request).await.unwrap();

    // The fixture is from 2024, long before the last month.
    assert!(series.bars.is_empty());
}

#[tokio::test]
async fn intraday_times_are_converted_from_us_eastern_across_the_dst_change() {
    let server = MockServer::start().await;
    query("TIME_SERIES_INTRADAY")
        .and(query_param("symbol", "IBM"))
        .and(query_param("interval", "5min"))
        .and(query_param("outputsize", "full"))
        .respond_with(json("time_series_intraday_5min.json"))
        .expect(1)
        .mount(&server)
        .await;
    let request = BarsRequest {
        symbol: symbol("IBM"),
        interval: Interval::Min5,
        span: between(utc(2024, 3, 8, 0, 0), utc(2024, 3, 12, 0, 0)),
    };

    let series = provider(&server).bars(&request).await.unwrap();

    let stamps: Vec<_> = series.bars.iter().map(|b| b.ts).collect();
    assert_eq!(
        stamps,
        vec![
            // Friday before the change: EST, UTC-5.
            utc(2024, 3, 8, 20, 50),
            utc(2024, 3, 8, 20, 55),
            // Monday after: EDT, UTC-4.
            utc(2024, 3, 11, 13, 30),
            utc(2024, 3, 11, 13, 35),
            utc(2024, 3, 11, 13, 40),
        ]
    );
    assert_eq!(series.bars[2].open, Some(195.09));
    assert_eq!(series.bars[2].volume, Some(152_786));
    assert_eq!(series.interval, Interval::Min5);
}

#[tokio::test]
async fn hourly_bars_use_the_60min_interval() {
    let server = MockServer::start().await;
    query("TIME_SERIES_INTRADAY")
        .and(query_param("interval", "60min"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"Meta Data":{"4. Interval":"60min","6. Time Zone":"US/Eastern"},"Time Series (60min)":{}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let request = BarsRequest {
        symbol: symbol("IBM"),
        interval: Interval::Hour1,
        span: Span::parse_range("5d").unwrap(),
    };

    // An empty object under the series key is "no data" for this symbol.
    let error = provider(&server).bars(&request).await.unwrap_err();
    assert!(matches!(error, ProviderError::NotFound { .. }), "{error}");
}

#[tokio::test]
async fn weekly_bars_are_refused_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let request = BarsRequest {
        symbol: symbol("IBM"),
        interval: Interval::Week1,
        span: Span::parse_range("1y").unwrap(),
    };

    let error = provider(&server).bars(&request).await.unwrap_err();
    assert!(matches!(error, ProviderError::InvalidRequest { .. }), "{error}");
}

#[tokio::test]
async fn global_quote_becomes_a_live_quote() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .and(query_param("symbol", "IBM"))
        .respond_with(json("global_quote.json"))
        .expect(1)
        .mount(&server)
        .await;

    let quote = provider(&server).quote(&symbol("IBM")).await.unwrap();

    assert_eq!(quote.symbol, symbol("IBM"));
    assert_eq!(quote.price, 165.71);
    assert_eq!(quote.previous_close, Some(164.69));
    assert_eq!(quote.change, Some(1.02));
    assert_eq!(quote.change_percent, Some(0.6193));
    assert_eq!(quote.open, Some(165.0));
    assert_eq!(quote.high, Some(166.61));
    assert_eq!(quote.low, Some(164.92));
    assert_eq!(quote.volume, Some(3_400_000));
    assert_eq!(quote.ts, utc(2024, 5, 3, 0, 0));
    assert_eq!(quote.provider, ProviderId::AlphaVantage);
    assert_eq!(quote.source, QuoteSource::Live);
}

#[tokio::test]
async fn empty_global_quote_is_not_found() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE").respond_with(json("global_quote_unknown.json")).expect(1).mount(&server).await;

    let error = provider(&server).quote(&symbol("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { provider: ProviderId::AlphaVantage, .. }), "{error}");
    assert!(error.to_string().contains("XYZQ"), "{error}");
}

#[tokio::test]
async fn overview_becomes_a_profile() {
    let server = MockServer::start().await;
    query("OVERVIEW")
        .and(query_param("symbol", "IBM"))
        .respond_with(json("overview.json"))
        .expect(1)
        .mount(&server)
        .await;

    let profile = provider(&server).profile(&symbol("IBM")).await.unwrap();

    assert_eq!(profile.symbol, Some(symbol("IBM")));
    assert_eq!(profile.name.as_deref(), Some("International Business Machines"));
    assert_eq!(profile.exchange.as_deref(), Some("NYSE"));
    assert_eq!(profile.currency.as_deref(), Some("USD"));
    assert_eq!(profile.country.as_deref(), Some("USA"));
    assert_eq!(profile.sector.as_deref(), Some("TECHNOLOGY"));
    assert_eq!(profile.industry.as_deref(), Some("COMPUTER & OFFICE EQUIPMENT"));
    assert_eq!(profile.market_cap, Some(152_115_495_000.0));
    assert_eq!(profile.website.as_deref(), Some("https://www.ibm.com"));
    assert!(
        profile.description.as_deref().unwrap().starts_with("International Business Machines Corporation")
    );
    assert_eq!(profile.provider, Some(ProviderId::AlphaVantage));
}

#[tokio::test]
async fn overview_none_and_dash_become_missing() {
    let server = MockServer::start().await;
    query("OVERVIEW").respond_with(json("overview_sparse.json")).expect(1).mount(&server).await;

    let profile = provider(&server).profile(&symbol("XYZQ")).await.unwrap();

    assert_eq!(profile.name.as_deref(), Some("Xyzq Holdings"));
    assert_eq!(profile.description, None);
    assert_eq!(profile.country, None);
    assert_eq!(profile.sector, None);
    assert_eq!(profile.industry, None);
    assert_eq!(profile.market_cap, None);
    assert_eq!(profile.website, None);
}

#[tokio::test]
async fn empty_overview_is_not_found() {
    let server = MockServer::start().await;
    query("OVERVIEW").respond_with(json("overview_unknown.json")).expect(1).mount(&server).await;

    let error = provider(&server).profile(&symbol("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { .. }), "{error}");
    assert!(error.to_string().contains("XYZQ"), "{error}");
}

#[tokio::test]
async fn news_uses_ticker_sentiment_and_falls_back_to_overall() {
    let server = MockServer::start().await;
    query("NEWS_SENTIMENT")
        .and(query_param("tickers", "IBM"))
        .and(query_param("time_from", "20240424T0000"))
        .and(query_param("time_to", "20240426T0000"))
        .and(query_param("sort", "LATEST"))
        .and(query_param("limit", "1000"))
        .respond_with(json("news_sentiment.json"))
        .expect(1)
        .mount(&server)
        .await;

    let news =
        provider(&server).news(&symbol("IBM"), utc(2024, 4, 24, 0, 0), utc(2024, 4, 26, 0, 0)).await.unwrap();

    assert_eq!(news.len(), 3);
    assert!(news.windows(2).all(|w| w[0].published_at <= w[1].published_at), "not oldest first");
    assert!(news.iter().all(|n| n.provider == ProviderId::AlphaVantage && n.symbol == symbol("IBM")));
    let earnings = &news[0];
    assert_eq!(earnings.headline, "IBM first-quarter revenue misses estimates");
    assert_eq!(earnings.published_at, utc(2024, 4, 24, 20, 30));
    assert_eq!(earnings.sentiment, Some(-0.412), "the IBM-specific score, not the overall one");
    assert_eq!(earnings.source.as_deref(), Some("Motley Fool"));
    let market = &news[1];
    assert_eq!(market.published_at, utc(2024, 4, 25, 16, 0));
    assert_eq!(market.sentiment, Some(-0.187), "no IBM entry: the overall score");
    assert_eq!(market.summary, None);
    let deal = &news[2];
    assert_eq!(deal.sentiment, Some(0.327));
    assert_eq!(deal.url, "https://www.benzinga.com/news/24/04/38412345/ibm-to-acquire-hashicorp");
    assert_eq!(deal.summary.as_deref(), Some("IBM agreed to buy HashiCorp in an all-cash deal."));
}

#[tokio::test]
async fn news_invalid_inputs_is_an_invalid_request() {
    let server = MockServer::start().await;
    query("NEWS_SENTIMENT").respond_with(json("news_invalid_inputs.json")).expect(1).mount(&server).await;

    let error = provider(&server)
        .news(&symbol("XYZQ"), utc(2024, 4, 24, 0, 0), utc(2024, 4, 26, 0, 0))
        .await
        .unwrap_err();

    assert!(matches!(error, ProviderError::InvalidRequest { .. }), "{error}");
}

#[tokio::test]
async fn daily_quota_is_rate_limited_at_once_and_never_shows_the_key() {
    let server = MockServer::start().await;
    query("TIME_SERIES_DAILY").respond_with(json("daily_quota.json")).expect(1).mount(&server).await;
    let started = Instant::now();

    let error = provider(&server).bars(&daily_request("IBM")).await.unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "slept through a daily quota: {:?}",
        started.elapsed()
    );
    let ProviderError::RateLimited { retry_after, ref message, .. } = error else { panic!("{error}") };
    assert!(retry_after.unwrap() >= Duration::from_secs(3600), "{retry_after:?}");
    assert!(message.contains("25 requests per day"), "{message}");
    assert!(message.contains("API key as *** and"), "the quoted key is masked: {message}");
    assert_no_key(&error);
}

#[tokio::test]
async fn burst_throttling_is_retried_until_data_arrives() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(json("burst.json"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    query("GLOBAL_QUOTE")
        .respond_with(json("global_quote.json"))
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;

    let quote = provider(&server).quote(&symbol("IBM")).await.unwrap();

    assert_eq!(quote.price, 165.71);
}

#[tokio::test]
async fn burst_throttling_asks_for_about_a_second() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE").respond_with(json("burst.json")).expect(1).mount(&server).await;
    let mut config = config(&server);
    config.max_retries = 0;

    let error = AlphaVantageProvider::new(&config).unwrap().quote(&symbol("IBM")).await.unwrap_err();

    assert!(
        matches!(error, ProviderError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(1)),
        "{error:?}"
    );
}

#[tokio::test]
async fn old_note_is_rate_limited() {
    let server = MockServer::start().await;
    query("TIME_SERIES_DAILY").respond_with(json("note_call_frequency.json")).expect(1).mount(&server).await;

    // The per-minute wait is longer than `max_retry_wait_secs`, so it is not slept through.
    let error = provider(&server).bars(&daily_request("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::RateLimited { .. }), "{error}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn invalid_api_call_is_not_found_naming_symbol_and_provider() {
    let server = MockServer::start().await;
    query("TIME_SERIES_DAILY")
        .and(query_param("symbol", "XYZQ"))
        .respond_with(json("invalid_call.json"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).bars(&daily_request("XYZQ")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotFound { provider: ProviderId::AlphaVantage, .. }), "{error}");
    let shown = error.to_string();
    assert!(shown.contains("XYZQ") && shown.contains("alpha_vantage"), "{shown}");
    assert!(error.should_fall_back(), "another vendor may know the symbol");
}

#[tokio::test]
async fn invalid_apikey_is_auth() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE").respond_with(json("invalid_apikey.json")).expect(1).mount(&server).await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Auth { .. }), "{error}");
}

#[tokio::test]
async fn demo_key_is_auth() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE").respond_with(json("demo_key.json")).expect(1).mount(&server).await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Auth { .. }), "{error}");
}

#[tokio::test]
async fn premium_endpoint_is_entitlement() {
    let server = MockServer::start().await;
    query("TIME_SERIES_INTRADAY").respond_with(json("premium.json")).expect(1).mount(&server).await;
    let request = BarsRequest {
        symbol: symbol("IBM"),
        interval: Interval::Min1,
        span: Span::parse_range("5d").unwrap(),
    };

    let error = provider(&server).bars(&request).await.unwrap_err();

    assert!(matches!(error, ProviderError::Entitlement { .. }), "{error}");
    assert!(error.should_fall_back());
}

#[tokio::test]
async fn missing_key_is_not_configured_without_a_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let mut config = config(&server);
    config.api_key = None;

    let provider = AlphaVantageProvider::new(&config).expect("construction succeeds without a key");
    let error = provider.quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::NotConfigured { .. }), "{error}");
    assert!(error.to_string().contains("api_key"), "{error}");
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"Global Quote": {"05. price": "165.71",, }}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("invalid JSON"), "{error}");
}

#[tokio::test]
async fn truncated_body_is_malformed() {
    let server = MockServer::start().await;
    let full = data("time_series_daily.json");
    query("TIME_SERIES_DAILY")
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(full[..full.len() / 2].to_owned(), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).bars(&daily_request("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("truncated"), "{error}");
}

#[tokio::test]
async fn unexpected_value_is_malformed() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"Global Quote":{"05. price":"n/a","07. latest trading day":"2024-05-03"}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("price"), "{error}");
}

#[tokio::test]
async fn html_page_with_status_200_is_malformed() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(ResponseTemplate::new(200).set_body_raw(data("gateway_error.html"), "text/html"))
        .expect(1)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("502 Bad Gateway"), "{error}");
}

#[tokio::test]
async fn html_gateway_error_is_retried_then_upstream() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(ResponseTemplate::new(502).set_body_raw(data("gateway_error.html"), "text/html"))
        .expect(3)
        .mount(&server)
        .await;

    let error = provider(&server).quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Upstream { status: Some(502), .. }), "{error}");
    assert!(error.to_string().contains("HTML error page"), "{error}");
}

#[tokio::test]
async fn slow_response_times_out() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE")
        .respond_with(json("global_quote.json").set_delay(Duration::from_secs(3)))
        .expect(2)
        .mount(&server)
        .await;
    let mut config = config(&server);
    config.timeout_secs = 0.2;
    config.max_retries = 1;

    let error = AlphaVantageProvider::new(&config).unwrap().quote(&symbol("IBM")).await.unwrap_err();

    assert!(matches!(error, ProviderError::Timeout { .. }), "{error}");
    assert_no_key(&error);
}

#[tokio::test]
async fn requests_carry_the_key_only_where_alpha_vantage_wants_it() {
    let server = MockServer::start().await;
    query("GLOBAL_QUOTE").respond_with(json("global_quote.json")).expect(1).mount(&server).await;

    provider(&server).quote(&symbol("IBM")).await.unwrap();

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let pairs: Vec<(String, String)> =
        requests[0].url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert!(pairs.contains(&("apikey".to_owned(), KEY.to_owned())));
    assert!(pairs.contains(&("symbol".to_owned(), "IBM".to_owned())));
    assert!(requests[0].headers.values().all(|v| !v.to_str().unwrap_or_default().contains(KEY)));
}

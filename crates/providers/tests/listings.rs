//! Symbol listings for `tickerwatch universe update`, against local mocks of the three vendors:
//! Polygon's recorded two-page ticker list (polygon-io/client-python's fixtures), Finnhub's
//! recorded `/stock/symbol` answer of 2020 (no `type` field), Alpha Vantage's documented
//! `LISTING_STATUS` CSV and its JSON rate-limit answer; the key never appears in an error.

use domain::ProviderId;
use providers::alpha_vantage::AlphaVantageProvider;
use providers::finnhub::FinnhubProvider;
use providers::polygon::PolygonProvider;
use providers::{ApiKey, Capability, ListingKind, MarketData, ProviderError, VendorConfig};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "listing_key_s3cr3t_0123456789";

fn recorded(name: &str) -> String {
    let file = format!("{}/tests/data/recorded/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))
}

fn config(mut config: VendorConfig, server: &MockServer) -> VendorConfig {
    config.base_url = server.uri();
    config.api_key = Some(ApiKey::new(KEY));
    config.max_retries = 1;
    config.backoff_base_ms = 1;
    config.backoff_max_ms = 5;
    config.max_retry_wait_secs = 1.0;
    config.rate_limits = Vec::new();
    config
}

#[tokio::test]
async fn polygon_lists_every_page_of_stocks_and_etfs() {
    let server = MockServer::start().await;
    // The recorded first page points `next_url` at the vendor's host; served here from the mock.
    let first =
        recorded("polygon/v3_reference_tickers_page1.json").replace("https://api.massive.com", &server.uri());
    let cursor = "YWN0aXZlPXRydWUmZGF0ZT0yMDIyLTA0LTI3JmxpbWl0PTImb3JkZXI9YXNjJnBhZ2VfbWFya2VyPUFBJTdDZjEyMmJjYmY4YWQwNzRmZmJlMTZmNjkxOWQ0ZDc3NjZlMzA3MWNmNmU1Nzg3OGE0OGU1NjQ1YzQyM2U3NzJhOSZzb3J0PXRpY2tlcg";
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers"))
        .and(query_param("cursor", cursor))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(recorded("polygon/v3_reference_tickers_page2.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers"))
        .and(query_param("market", "stocks"))
        .and(query_param("active", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(first, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = PolygonProvider::new(&config(VendorConfig::polygon(), &server)).unwrap();
    assert!(provider.capabilities().supports(Capability::Listings));
    let listings = provider.listings().await.unwrap();
    let summary: Vec<(&str, ListingKind, &str)> =
        listings.iter().map(|l| (l.symbol.as_str(), l.kind, l.exchange.as_str())).collect();
    assert_eq!(
        summary,
        [
            ("A", ListingKind::Stock, "XNYS"),
            ("AA", ListingKind::Stock, "XNYS"),
            ("AAA", ListingKind::Etf, "ARCX"),
            ("AAAU", ListingKind::Etf, "BATS"),
        ]
    );
    assert_eq!(listings[0].name, "Agilent Technologies Inc.");
}

#[tokio::test]
async fn polygon_does_not_follow_a_next_url_to_another_host() {
    let server = MockServer::start().await;
    // The recording as it is: its next_url is on the vendor's host, not the configured one.
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(recorded("polygon/v3_reference_tickers_page1.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let provider = PolygonProvider::new(&config(VendorConfig::polygon(), &server)).unwrap();
    let error = provider.listings().await.unwrap_err();
    assert!(matches!(error, ProviderError::Malformed { .. }), "{error}");
    assert!(error.to_string().contains("not following it with the key") && !error.to_string().contains(KEY));
}

#[tokio::test]
async fn finnhub_lists_us_symbols_even_without_the_type_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stock/symbol"))
        .and(query_param("exchange", "US"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(recorded("finnhub/stock_symbol_US_2020_no_type.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let provider = FinnhubProvider::new(&config(VendorConfig::finnhub(), &server)).unwrap();
    let listings = provider.listings().await.unwrap();
    let summary: Vec<(&str, ListingKind)> = listings.iter().map(|l| (l.symbol.as_str(), l.kind)).collect();
    assert_eq!(summary, [("A", ListingKind::Stock), ("AA", ListingKind::Stock), ("AAAU", ListingKind::Etf)]);

    // Today's answers carry `type`: warrants and the like are left out, BRK.B is spelled BRK-B.
    let server = MockServer::start().await;
    let body = r#"[
        {"currency":"USD","description":"APPLE INC","displaySymbol":"AAPL","figi":"BBG000B9XRY4","mic":"XNAS","symbol":"AAPL","type":"Common Stock"},
        {"currency":"USD","description":"BERKSHIRE HATHAWAY INC-CL B","displaySymbol":"BRK.B","figi":"BBG000DWG505","mic":"XNYS","symbol":"BRK.B","type":"Common Stock"},
        {"currency":"USD","description":"SPDR S&P 500 ETF TRUST","displaySymbol":"SPY","figi":"BBG000BDTBL9","mic":"ARCX","symbol":"SPY","type":"ETP"},
        {"currency":"USD","description":"SOME ACQUISITION CORP-WTS","displaySymbol":"SACQW","figi":"","mic":"XNAS","symbol":"SACQW","type":"Equity WRT"}
    ]"#;
    Mock::given(method("GET"))
        .and(path("/stock/symbol"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let provider = FinnhubProvider::new(&config(VendorConfig::finnhub(), &server)).unwrap();
    let symbols: Vec<String> = provider.listings().await.unwrap().into_iter().map(|l| l.symbol).collect();
    assert_eq!(symbols, ["AAPL", "BRK-B", "SPY"]);
}

#[tokio::test]
async fn alpha_vantage_lists_from_its_csv_and_reports_its_rate_limit() {
    let server = MockServer::start().await;
    let csv = "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n\
               A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n\
               AAA,Alternative Access First Priority CLO Bond ETF,NYSE ARCA,ETF,2020-09-09,null,Active\r\n";
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", "LISTING_STATUS"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(csv, "application/x-download"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Information": "We have detected your API key as listing_key_s3cr3t_0123456789 and our standard API rate limit is 25 requests per day."
        })))
        .mount(&server)
        .await;
    let provider = AlphaVantageProvider::new(&config(VendorConfig::alpha_vantage(), &server)).unwrap();
    let listings = provider.listings().await.unwrap();
    assert_eq!(listings.iter().map(|l| l.symbol.as_str()).collect::<Vec<_>>(), ["A", "AAA"]);
    let error = provider.listings().await.unwrap_err();
    assert!(matches!(error, ProviderError::RateLimited { .. }), "{error}");
    assert_eq!(error.provider(), ProviderId::AlphaVantage);
    assert!(!error.to_string().contains(KEY), "the key is redacted: {error}");
}

#[tokio::test]
async fn the_sample_provider_cannot_list_symbols() {
    let sample = providers::sample::SampleProvider::new();
    let error = sample.listings().await.unwrap_err();
    assert!(matches!(error, ProviderError::Unsupported { capability: Capability::Listings, .. }), "{error}");
}

//! Provider health against mock vendors answering with the vendors' real bodies
//! (`tests/data/*`): requests today, budgets left, last success and error (redacted), and the
//! back-off after a 429 with `Retry-After`; every vendor listed, configured or not.

use std::time::{Duration, SystemTime};

use domain::{ProviderId, Symbol};
use providers::alpha_vantage::AlphaVantageProvider;
use providers::finnhub::FinnhubProvider;
use providers::polygon::PolygonProvider;
use providers::{ApiKey, MarketData, ProviderChain, ProviderError, ProvidersConfig, VendorConfig};
use wiremock::matchers::{path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AV_KEY: &str = "ABCD1234";
const POLYGON_KEY: &str = "PGkey_s3cr3t_0123456789abcdef";
const FINNHUB_KEY: &str = "fh_s3cr3t_token_42";

fn body(vendor: &str, name: &str) -> String {
    let file = format!("{}/tests/data/{vendor}/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn json(status: u16, vendor: &str, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body(vendor, name), "application/json")
}

/// No retries and no client-side waits, so each call is one request and no test sleeps.
fn quick(mut config: VendorConfig, server: &MockServer, key: &str) -> VendorConfig {
    config.base_url = server.uri();
    config.api_key = Some(ApiKey::new(key));
    config.max_retries = 0;
    config.max_retry_wait_secs = 1.0;
    config.timeout_secs = 5.0;
    config
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).unwrap()
}

fn assert_no_key(text: &str) {
    for key in [AV_KEY, POLYGON_KEY, FINNHUB_KEY] {
        assert!(!text.contains(key), "a key leaked: {text}");
    }
}

#[tokio::test]
async fn alpha_vantage_counts_against_its_daily_budget_and_its_quota_message_stays_redacted() {
    let server = MockServer::start().await;
    Mock::given(query_param("function", "GLOBAL_QUOTE"))
        .respond_with(json(200, "alpha_vantage", "global_quote.json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    // The daily quota is an HTTP-200 `Information` body quoting the key.
    Mock::given(query_param("function", "GLOBAL_QUOTE"))
        .respond_with(json(200, "alpha_vantage", "daily_quota.json"))
        .mount(&server)
        .await;
    let provider = AlphaVantageProvider::new(&quick(VendorConfig::alpha_vantage(), &server, AV_KEY)).unwrap();
    let usage = provider.usage().expect("a networked provider counts");
    let fresh = usage.snapshot();
    assert_eq!((fresh.daily_budget, fresh.daily_left, fresh.per_minute), (Some(25), Some(25), Some(5)));

    provider.quote(&symbol("IBM")).await.expect("a quote");
    let ok = usage.snapshot();
    assert_eq!((ok.requests_today, ok.daily_left, ok.minute_left), (1, Some(24), Some(4)));
    assert!(ok.last_success.is_some() && ok.last_error.is_none());

    let error = provider.quote(&symbol("IBM")).await.expect_err("quota");
    assert!(matches!(error, ProviderError::RateLimited { .. }), "{error:?}");
    let spent = usage.snapshot();
    assert_eq!(spent.requests_today, 2);
    let last_error = spent.last_error.clone().expect("the quota is the last error");
    assert!(last_error.message.contains("25 requests per day"), "{}", last_error.message);
    assert_no_key(&last_error.message);
    assert_no_key(&format!("{spent:?}"));
    // Alpha Vantage's day rolls over at an unknown hour: the provider waits at least an hour.
    assert!(spent.is_backing_off(SystemTime::now() + Duration::from_secs(3000)), "{spent:?}");
}

#[tokio::test]
async fn a_polygon_429_with_retry_after_backs_off_until_the_wait_is_over() {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/v2/aggs/ticker/AAPL/prev$"))
        .respond_with(json(429, "polygon", "error_429.json").insert_header("retry-after", "90"))
        .expect(1)
        .mount(&server)
        .await;
    let provider = PolygonProvider::new(&quick(VendorConfig::polygon(), &server, POLYGON_KEY)).unwrap();
    let before = SystemTime::now();
    let error = provider.quote(&symbol("AAPL")).await.expect_err("429");
    assert!(matches!(error, ProviderError::RateLimited { retry_after: Some(_), .. }), "{error:?}");
    let snapshot = provider.usage().unwrap().snapshot();
    assert_eq!(snapshot.requests_today, 1);
    assert_eq!((snapshot.per_minute, snapshot.minute_left, snapshot.daily_budget), (Some(5), Some(4), None));
    let until = snapshot.backing_off_until.expect("backing off after Retry-After");
    assert!(
        until >= before + Duration::from_secs(89) && until <= SystemTime::now() + Duration::from_secs(91)
    );
    let message = snapshot.last_error.expect("the 429 is on record").message;
    assert!(message.contains("maximum requests per minute"), "{message}");
    assert_no_key(&message);
}

#[tokio::test]
async fn a_finnhub_429_is_the_last_error_and_a_success_ends_the_back_off() {
    let server = MockServer::start().await;
    Mock::given(path("/quote"))
        .respond_with(json(429, "finnhub", "api_limit.json").insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/quote")).respond_with(json(200, "finnhub", "quote.json")).mount(&server).await;
    let provider = FinnhubProvider::new(&quick(VendorConfig::finnhub(), &server, FINNHUB_KEY)).unwrap();
    provider.quote(&symbol("AAPL")).await.expect_err("429");
    let limited = provider.usage().unwrap().snapshot();
    assert!(limited.is_backing_off(SystemTime::now()));
    assert!(limited.last_error.as_ref().unwrap().message.contains("API limit reached"));
    provider.quote(&symbol("AAPL")).await.expect("200");
    let recovered = provider.usage().unwrap().snapshot();
    assert_eq!(recovered.requests_today, 2);
    assert_eq!(recovered.backing_off_until, None);
    assert!(recovered.last_success.is_some());
    assert_no_key(&format!("{recovered:?}"));
}

#[test]
fn every_vendor_is_listed_and_one_without_a_key_says_not_configured() {
    let mut config =
        ProvidersConfig { order: vec![ProviderId::AlphaVantage, ProviderId::Sample], ..Default::default() };
    config.polygon.api_key = Some(ApiKey::new(POLYGON_KEY));
    let chain = ProviderChain::from_config(&config, None).unwrap();
    let status = chain.status();
    let listed: Vec<(ProviderId, bool, bool)> =
        status.iter().map(|s| (s.provider, s.in_chain, s.configured)).collect();
    assert_eq!(
        listed,
        [
            (ProviderId::AlphaVantage, true, false),
            (ProviderId::Sample, true, true),
            (ProviderId::Yahoo, false, true),
            (ProviderId::Polygon, false, true),
            (ProviderId::Finnhub, false, false),
        ]
    );
    assert!(status[1].usage.is_none(), "the sample sends no request");
    assert_eq!(status[0].usage.as_ref().unwrap().daily_left, Some(25));
    assert_no_key(&format!("{status:?}"));
    // The idle vendors and the chain's clients can all be seeded from storage.
    assert_eq!(chain.usages().len(), 4);
}

//! `fetch_and_store` across a split: split-adjusted vendors are stored as traded, the split is
//! kept as a corporate action, explains the step in the closes, and lets a vendor that sends no
//! split events (Finnhub's daily candles) be compared with the others instead of spliced.

use domain::{CorporateActionKind, DateRange, Interval, ProviderId};
use jobs::ingest::fetch_and_store;
use providers::{BarsRequest, ProviderChain, ProvidersConfig, Span, VendorConfig};
use storage::{BarQuery, DisagreementQuery, QualityAction};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestEnv, sym};

/// 27 August to 2 September 2020 (five sessions), AAPL split 4:1 on 31 August. Prices as a
/// split-adjusting vendor sends them after the split: every day near 125.
const SESSIONS: [i64; 5] = [1_598_535_000, 1_598_621_400, 1_598_880_600, 1_598_967_000, 1_599_053_400];
const ADJUSTED_CLOSES: [f64; 5] = [125.01, 124.81, 129.04, 134.18, 131.40];
const ADJUSTED_VOLUMES: [i64; 5] = [155_552_400, 187_630_000, 225_702_700, 151_948_100, 200_119_000];

fn fast(mut config: VendorConfig, server: &MockServer) -> VendorConfig {
    config.base_url = server.uri();
    config.rate_limits.clear();
    config.max_retries = 0;
    config.api_key = Some(providers::ApiKey::new("test-key"));
    config
}

fn request() -> BarsRequest {
    let day = |d| chrono::NaiveDate::from_ymd_opt(2020, if d > 26 { 8 } else { 9 }, d).unwrap();
    BarsRequest {
        symbol: sym("AAPL"),
        interval: Interval::Day1,
        span: Span::Between(DateRange::new(day(27), day(2)).unwrap()),
    }
}

/// Alpha Vantage serving AAPL's week across the 2020 split as traded (no split events).
async fn mount_traded_series(alpha_vantage: &MockServer) {
    let traded = [
        ("2020-08-27", "500.04"),
        ("2020-08-28", "499.24"),
        ("2020-08-31", "129.04"),
        ("2020-09-01", "134.18"),
        ("2020-09-02", "131.40"),
    ];
    let series: serde_json::Map<String, serde_json::Value> = traded
        .iter()
        .map(|(date, c)| {
            let bar = serde_json::json!({"1. open": c, "2. high": c, "3. low": c, "4. close": c, "5. volume": "1000"});
            ((*date).to_owned(), bar)
        })
        .collect();
    let body =
        serde_json::json!({"Meta Data": {"5. Time Zone": "US/Eastern"}, "Time Series (Daily)": series});
    Mock::given(path("/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(alpha_vantage)
        .await;
}

#[tokio::test]
async fn a_split_adjusted_series_is_stored_as_traded_and_compared_not_spliced() {
    let env = TestEnv::new().await;
    let yahoo = MockServer::start().await;
    let chart = serde_json::json!({"chart": {"result": [{
        "meta": {"symbol": "AAPL", "exchangeTimezoneName": "America/New_York"},
        "timestamp": SESSIONS,
        "events": {"splits": {"1598880600": {"date": 1_598_880_600, "numerator": 4.0, "denominator": 1.0, "splitRatio": "4:1"}}},
        "indicators": {"quote": [{"open": ADJUSTED_CLOSES, "high": ADJUSTED_CLOSES, "low": ADJUSTED_CLOSES,
                                   "close": ADJUSTED_CLOSES, "volume": ADJUSTED_VOLUMES}],
                       "adjclose": [{"adjclose": ADJUSTED_CLOSES}]}}], "error": null}});
    Mock::given(method("GET"))
        .and(query_param("interval", "1d"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart))
        .mount(&yahoo)
        .await;
    // No split since the window (the follow-up monthly chart).
    Mock::given(method("GET"))
        .and(query_param("interval", "1mo"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"chart": {"result": [{"meta": {}}], "error": null}})),
        )
        .expect(1)
        .mount(&yahoo)
        .await;
    let finnhub = MockServer::start().await;
    Mock::given(path("/stock/candle"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "s": "ok", "t": SESSIONS.map(|s| s - 9 * 3600 - 1800), // midnight New York
            "o": ADJUSTED_CLOSES, "h": ADJUSTED_CLOSES, "l": ADJUSTED_CLOSES, "c": ADJUSTED_CLOSES, "v": ADJUSTED_VOLUMES})))
        .expect(1)
        .mount(&finnhub)
        .await;
    let config = ProvidersConfig {
        order: vec![ProviderId::Yahoo, ProviderId::Finnhub],
        yahoo: fast(VendorConfig::yahoo(), &yahoo),
        finnhub: fast(VendorConfig::finnhub(), &finnhub),
        ..ProvidersConfig::default()
    };

    // Yahoo first: its events carry the split.
    let yahoo_chain = ProviderChain::from_config(&config, Some(ProviderId::Yahoo)).unwrap();
    let fetched = fetch_and_store(&yahoo_chain, &env.storage, &request()).await.unwrap();
    assert_eq!((fetched.provider, fetched.n_bars, fetched.inserted), (ProviderId::Yahoo, 5, 5));
    let stored = env.storage.bars(&BarQuery::new(sym("AAPL"), Interval::Day1)).await.unwrap();
    let closes: Vec<f64> = stored.iter().filter_map(|b| b.close).collect();
    // As traded: before the split four times the adjusted price.
    assert_eq!(closes, [500.04, 499.24, 129.04, 134.18, 131.40]);
    assert_eq!(stored[0].volume, Some(155_552_400 / 4));
    assert_eq!(stored[0].adj_close, Some(125.01), "the vendor's adjusted close stays adjusted");
    let actions = env.storage.corporate_actions(&sym("AAPL"), None).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].date.to_string(), "2020-08-31");
    assert_eq!(actions[0].kind, CorporateActionKind::Split { numerator: 4.0, denominator: 1.0 });
    // The 4:1 step on 31 August is explained by the split, not flagged.
    assert_eq!(fetched.quality.explained.len(), 1);
    assert!(fetched.quality.flagged.is_empty(), "{:?}", fetched.quality.flagged);
    assert!(stored.iter().all(|b| b.flag.is_none()));
    let events = env.storage.quality_events(&sym("AAPL"), 10).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.action == QualityAction::Explained).count(), 1);

    // Finnhub's daily candles are split-adjusted too but carry no events: the split on record
    // turns them into as-traded prices, so they agree with Yahoo's rows (no disagreement) rather
    // than differing 4x on every pre-split day.
    let finnhub_chain = ProviderChain::from_config(&config, Some(ProviderId::Finnhub)).unwrap();
    let fetched = fetch_and_store(&finnhub_chain, &env.storage, &request()).await.unwrap();
    assert_eq!((fetched.provider, fetched.kept, fetched.disagreements), (ProviderId::Finnhub, 5, 0));
    assert!(env.storage.disagreements(&DisagreementQuery::new(sym("AAPL"))).await.unwrap().is_empty());
    assert_eq!(env.storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap(), 5);
}

#[tokio::test]
async fn without_the_split_on_record_the_step_is_flagged() {
    let env = TestEnv::new().await;
    let alpha_vantage = MockServer::start().await;
    // As traded (Alpha Vantage's `TIME_SERIES_DAILY`) and no split known: the 4:1 step of
    // 31 August looks like bad data or a missing split, so it is flagged and says why.
    mount_traded_series(&alpha_vantage).await;
    let config = ProvidersConfig {
        order: vec![ProviderId::AlphaVantage],
        alpha_vantage: fast(VendorConfig::alpha_vantage(), &alpha_vantage),
        ..ProvidersConfig::default()
    };
    let chain = ProviderChain::from_config(&config, None).unwrap();

    let fetched = fetch_and_store(&chain, &env.storage, &request()).await.unwrap();

    assert_eq!(fetched.n_bars, 5);
    assert_eq!(fetched.quality.flagged.len(), 1, "{:?}", fetched.quality);
    let stored = env.storage.bars(&BarQuery::new(sym("AAPL"), Interval::Day1)).await.unwrap();
    let flag = stored[2].flag.as_deref().unwrap_or_default();
    assert!(flag.contains("4:1") && flag.contains("no split on record"), "{flag}");
    assert_eq!(stored[2].date().to_string(), "2020-08-31");
}

/// The same as-traded series, with Polygon in the chain: the step makes the ingest ask for the
/// symbol's splits (Polygon's `/v3/reference/splits`, in the shape of its recorded responses),
/// and the recorded split explains the step instead of a flag.
#[tokio::test]
async fn a_split_sized_step_asks_the_vendors_for_splits_before_flagging() {
    let env = TestEnv::new().await;
    let alpha_vantage = MockServer::start().await;
    mount_traded_series(&alpha_vantage).await;
    let polygon = MockServer::start().await;
    Mock::given(path("/v3/reference/splits"))
        .and(query_param("ticker", "AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [{"execution_date": "2020-08-31", "split_from": 1, "split_to": 4, "ticker": "AAPL"}],
            "status": "OK", "request_id": "x"})))
        .expect(1)
        .mount(&polygon)
        .await;
    Mock::given(path("/v3/reference/dividends"))
        .and(query_param("ticker", "AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [{"cash_amount": 0.205, "ex_dividend_date": "2020-08-07", "ticker": "AAPL"}],
            "status": "OK", "request_id": "y"})))
        .expect(1)
        .mount(&polygon)
        .await;
    let config = ProvidersConfig {
        order: vec![ProviderId::AlphaVantage, ProviderId::Polygon],
        alpha_vantage: fast(VendorConfig::alpha_vantage(), &alpha_vantage),
        polygon: fast(VendorConfig::polygon(), &polygon),
        ..ProvidersConfig::default()
    };
    let chain = ProviderChain::from_config(&config, None).unwrap();

    let fetched = fetch_and_store(&chain, &env.storage, &request()).await.unwrap();

    assert_eq!(fetched.provider, ProviderId::AlphaVantage);
    assert!(fetched.quality.flagged.is_empty(), "{:?}", fetched.quality.flagged);
    assert_eq!(fetched.quality.explained.len(), 1);
    let stored = env.storage.bars(&BarQuery::new(sym("AAPL"), Interval::Day1)).await.unwrap();
    assert!(stored.iter().all(|b| b.flag.is_none()));
    let actions = env.storage.corporate_actions(&sym("AAPL"), None).await.unwrap();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|a| a.provider == ProviderId::Polygon));
}

/// Two vendors nobody here wrote, for the same days: Polygon's recorded aggregates of AAPL for
/// 1 and 4 April 2005 (`providers/tests/data/recorded/polygon/`, from polygon-io/client-python;
/// recorded with `adjusted=true`, so divided by the 7:1 split of 2014-06-09 and the 4:1 split of
/// 2020-08-31, Apple's published splits) and the bundled sample (Quandl WIKI prices, as traded).
/// Undone with those splits, Polygon's bars agree with the sample's within the tolerances: the
/// store keeps one bar per day and finds no disagreement. The figures are printed for the notes.
#[tokio::test]
async fn recorded_polygon_and_the_sample_agree_once_the_splits_are_undone() {
    let env = TestEnv::new().await;
    let aapl = sym("AAPL");
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../providers/tests/data/recorded/polygon/aggs_AAPL_1day_2005-04-01_2005-04-04_us_dst_start.json"
    ))
    .unwrap();
    let bars = providers::polygon::parse_aggs_body(&aapl, Interval::Day1, &body, chrono::Utc::now()).unwrap();
    let splits = [("2014-06-09", 7.0), ("2020-08-31", 4.0)].map(|(date, ratio)| domain::CorporateAction {
        date: date.parse().unwrap(),
        kind: CorporateActionKind::Split { numerator: ratio, denominator: 1.0 },
        provider: ProviderId::Polygon,
    });
    let mut series = domain::BarSeries {
        symbol: aapl.clone(),
        interval: Interval::Day1,
        provider: ProviderId::Polygon,
        bars,
        basis: domain::PriceBasis::SplitAdjusted,
        actions: splits.to_vec(),
    };
    series.undo_split_adjustment(&splits);

    let sample_chain = ProviderChain::from_config(&ProvidersConfig::default(), None).unwrap();
    let day = |d| chrono::NaiveDate::from_ymd_opt(2005, 4, d).unwrap();
    let request = BarsRequest {
        symbol: aapl.clone(),
        interval: Interval::Day1,
        span: Span::Between(DateRange::new(day(1), day(4)).unwrap()),
    };
    let sample = fetch_and_store(&sample_chain, &env.storage, &request).await.unwrap();
    assert_eq!(sample.n_bars, 2, "1 and 4 April 2005 (a weekend between)");
    let preference = domain::reconcile::ProviderPreference::new([ProviderId::Sample, ProviderId::Polygon]);
    let stats = env.storage.upsert_bars(&aapl, Interval::Day1, &series.bars, &preference).await.unwrap();

    let stored = env.storage.bars(&BarQuery::new(aapl.clone(), Interval::Day1)).await.unwrap();
    let disagreements = env.storage.disagreements(&DisagreementQuery::new(aapl)).await.unwrap();
    eprintln!(
        "recorded Polygon vs sample, AAPL 2005-04-01/04: {} rows for {} days, {} kept, {} disagreement(s); closes {:?} vs {:?}",
        stored.len(),
        2,
        stats.kept,
        disagreements.len(),
        series.bars.iter().map(|b| b.close).collect::<Vec<_>>(),
        stored.iter().map(|b| b.close).collect::<Vec<_>>()
    );
    assert_eq!(stored.len(), 2, "one row per trading day");
    assert_eq!(stats.kept, 2);
    assert!(disagreements.is_empty(), "{disagreements:?}");
    // The as-traded values really are close, not merely within tolerance by accident.
    for (polygon, kept) in series.bars.iter().zip(&stored) {
        let (a, b) = (polygon.close.unwrap(), kept.close.unwrap());
        assert!((a - b).abs() / b < 0.001, "{a} vs {b}");
    }
}

//! Replays REAL vendor responses through the providers: bodies recorded by other projects (public
//! test fixtures, vendor documentation examples, bodies pasted in issue threads), collected with
//! their sources in `tests/data/recorded/` (see its README.md). HTTP providers are pointed at a
//! local wiremock server serving those bodies; the time-dependent Yahoo cases go through the pure
//! `yahoo::parse_chart` with a chosen `now`.
//!
//! Every expected count, date and value is taken from `tests/data/recorded/facts.json`, computed
//! from the files independently of this code. Each test first checks that the literals it
//! asserts are the tokens facts.json gives for its file (`assert_facts`), so a literal here cannot
//! drift from the recording. Figures not in facts.json (a count of rows in a sub-range) say in a
//! comment how they were read off the file.
//!
//! A few bodies are written by us and are never recordings; each says so where it is defined
//! (Yahoo's answer to the follow-up request for later splits, Polygon's ticker-reference answers,
//! the `next_url` host rewritten to the mock server).
//!
//! `cargo test -p providers --test recorded -- --nocapture` prints one line per recorded file:
//! bars, first and last date (or time, for intraday bars).

use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    Bar, BarSeries, CorporateAction, CorporateActionKind, DateRange, Exchange, Interval, PriceBasis,
    ProviderId, QuoteSource, Symbol,
};
use providers::alpha_vantage::AlphaVantageProvider;
use providers::finnhub::FinnhubProvider;
use providers::polygon::PolygonProvider;
use providers::yahoo::{self, YahooProvider};
use providers::{ApiKey, BarsRequest, MarketData, ProviderError, Span, VendorConfig};
use serde_json::Value;
use wiremock::matchers::{
    bearer_token, header, method, path, path_regex, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const KEY: &str = "recorded_replay_key_0123456789";

// ---------------------------------------------------------------------------------------------
// Recorded files and their facts

fn recorded(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/recorded/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// A recorded body, served as the vendor served it.
fn reply(status: u16, file: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(recorded(file), "application/json")
}

/// The facts.json entry of one recorded file.
fn facts(file: &str) -> &'static Value {
    static FACTS: OnceLock<Value> = OnceLock::new();
    let all = FACTS.get_or_init(|| {
        serde_json::from_slice(&recorded("facts.json")).unwrap_or_else(|e| panic!("facts.json: {e}"))
    });
    all["files"]
        .as_array()
        .and_then(|files| files.iter().find(|entry| entry["file"] == file))
        .unwrap_or_else(|| panic!("facts.json has no entry for {file}"))
}

/// Checks that facts.json states exactly these tokens (JSON pointer → text) for `file`: the
/// literals a test asserts are the recording's, not figures read off the code under test.
#[track_caller]
fn assert_facts(file: &str, expected: &[(&str, &str)]) {
    let entry = facts(file);
    for (pointer, token) in expected {
        let value = entry.pointer(pointer).unwrap_or_else(|| panic!("facts.json {file}: no {pointer}"));
        let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        assert_eq!(text, *token, "facts.json {file} {pointer}");
    }
}

/// One line per file for a human reading `--nocapture` output.
fn print_summary(file: &str, interval: Interval, bars: &[Bar]) {
    let show = |bar: &Bar| if interval.is_intraday() { bar.ts.to_rfc3339() } else { bar.date().to_string() };
    match (bars.first(), bars.last()) {
        (Some(first), Some(last)) => {
            eprintln!("recorded {file}: {} bars, {} .. {}", bars.len(), show(first), show(last));
        }
        _ => eprintln!("recorded {file}: 0 bars"),
    }
}

// ---------------------------------------------------------------------------------------------
// Requests, providers and assertions

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn unix(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap()
}

fn symbol(text: &str) -> Symbol {
    Symbol::parse(text).unwrap()
}

fn between(sym: &str, interval: Interval, from: &str, to: &str) -> BarsRequest {
    BarsRequest {
        symbol: symbol(sym),
        interval,
        span: Span::Between(DateRange::new(date(from), date(to)).unwrap()),
    }
}

/// Mock server, key set, no client-side rate limit, millisecond backoffs.
fn config(defaults: VendorConfig, server: &MockServer) -> VendorConfig {
    VendorConfig {
        base_url: server.uri(),
        api_key: Some(ApiKey::new(KEY)),
        max_retries: 1,
        backoff_base_ms: 1,
        backoff_max_ms: 10,
        max_retry_wait_secs: 1.0,
        timeout_secs: 5.0,
        rate_limits: Vec::new(),
        ..defaults
    }
}

fn yahoo_provider(server: &MockServer) -> YahooProvider {
    YahooProvider::new(&config(VendorConfig::yahoo(), server)).unwrap()
}

fn polygon_provider(server: &MockServer) -> PolygonProvider {
    PolygonProvider::new(&config(VendorConfig::polygon(), server)).unwrap()
}

fn finnhub_provider(server: &MockServer) -> FinnhubProvider {
    FinnhubProvider::new(&config(VendorConfig::finnhub(), server)).unwrap()
}

fn alpha_vantage_provider(server: &MockServer) -> AlphaVantageProvider {
    AlphaVantageProvider::new(&config(VendorConfig::alpha_vantage(), server)).unwrap()
}

/// serde_json may parse a long float32-noise literal one ULP away from Rust's literal.
#[track_caller]
fn assert_close(actual: Option<f64>, expected: f64) {
    let actual = actual.unwrap_or_else(|| panic!("expected {expected}, got None"));
    assert!((actual - expected).abs() <= 1e-9 * expected.abs().max(1.0), "expected {expected}, got {actual}");
}

fn dates(bars: &[Bar]) -> Vec<NaiveDate> {
    bars.iter().map(Bar::date).collect()
}

#[track_caller]
fn bar_on<'a>(bars: &'a [Bar], day: &str) -> &'a Bar {
    bars.iter().find(|bar| bar.date() == date(day)).unwrap_or_else(|| panic!("no bar dated {day}"))
}

/// The series contract: ascending, one row per key, stamped with the provider; daily bars at
/// midnight UTC of their session date.
#[track_caller]
fn assert_series_shape(bars: &[Bar], interval: Interval, provider: ProviderId) {
    assert!(bars.windows(2).all(|w| w[0].ts < w[1].ts), "bars not strictly ascending");
    assert!(bars.iter().all(|bar| bar.provider == provider && bar.flag.is_none()));
    if !interval.is_intraday() {
        assert!(
            bars.iter().all(|bar| bar.ts == bar.date().and_hms_opt(0, 0, 0).unwrap().and_utc()),
            "daily bars must be keyed at midnight UTC of the session date"
        );
    }
}

fn split(day: &str, numerator: f64, denominator: f64) -> CorporateAction {
    CorporateAction {
        date: date(day),
        kind: CorporateActionKind::Split { numerator, denominator },
        provider: ProviderId::Yahoo,
    }
}

fn dividend(day: &str, amount: f64) -> CorporateAction {
    CorporateAction {
        date: date(day),
        kind: CorporateActionKind::Dividend { amount },
        provider: ProviderId::Yahoo,
    }
}

fn sorted_actions(series: &BarSeries) -> Vec<CorporateAction> {
    let mut actions = series.actions.clone();
    actions.sort_by_key(|action| action.date);
    actions
}

// ---------------------------------------------------------------------------------------------
// Yahoo

/// The bars request for `symbol`: Yahoo's chart endpoint with the given interval, regular hours.
fn yahoo_chart(sym: &str, interval: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{sym}")))
        .and(query_param("interval", interval))
        .and(query_param("includePrePost", "false"))
}

/// The provider's follow-up request for the splits after a past window (a monthly chart).
fn yahoo_splits_follow_up(sym: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(format!("/v8/finance/chart/{sym}")))
        .and(query_param("interval", "1mo"))
        .and(query_param("events", "splits"))
}

/// WRITTEN BY US, not a recording: Yahoo's answer to the follow-up request for splits after the
/// window when there were none (a result with `meta` and no `events`). True for every symbol it
/// is used with here: AAPL had no split between 2020-11 and the 2025 recording, MSFT none since
/// 2003, crypto and FX pairs do not split.
fn yahoo_no_later_splits(zone: &str) -> ResponseTemplate {
    let body =
        format!(r#"{{"chart":{{"result":[{{"meta":{{"exchangeTimezoneName":"{zone}"}}}}],"error":null}}}}"#);
    ResponseTemplate::new(200).set_body_raw(body, "application/json")
}

/// WRITTEN BY US, not a recording: Yahoo's answer (raw `events.splits` shape) to the follow-up
/// request for NVDA's splits after a 2021 window. It holds the documented fact of NVDA's
/// 10-for-1 split, first trading split-adjusted on 2024-06-10 (09:30 New York = 1718026200).
/// The recorded NVDA prices (fetched 2024-09-16) are already divided by it.
const NVDA_SPLIT_2024: &str = r#"{"chart":{"result":[{"meta":{"exchangeTimezoneName":"America/New_York"},"events":{"splits":{"1718026200":{"date":1718026200,"numerator":10.0,"denominator":1.0,"splitRatio":"10:1"}}}}],"error":null}}"#;

#[tokio::test]
async fn yahoo_aapl_2020_split_and_dividend_daily() {
    const FILE: &str = "yahoo/chart_AAPL_1d_2020-08-31_2020-11-06_split_dividend.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "49"),
            ("/summary/first_date", "2020-08-31"),
            ("/summary/last_date", "2020-11-06"),
            ("/samples/first_bar/open", "127.58000183105469"),
            ("/samples/first_bar/close", "129.0399932861328"),
            ("/samples/first_bar/adjclose", "125.82673645019531"),
            ("/samples/first_bar/volume", "225702700"),
            ("/samples/last_bar/close", "118.69000244140625"),
            ("/samples/last_bar/volume", "114457900"),
            ("/samples_by_local_date/2020-10-30/t/utc", "2020-10-30T13:30:00+00:00"),
            ("/samples_by_local_date/2020-10-30/close", "108.86000061035156"),
            ("/samples_by_local_date/2020-11-02/t/utc", "2020-11-02T14:30:00+00:00"),
            ("/samples_by_local_date/2020-11-02/close", "108.7699966430664"),
            ("/events/splits/0/date/local_date", "2020-08-31"),
            ("/events/splits/0/numerator", "4"),
            ("/events/splits/0/denominator", "1"),
            ("/events/dividends/0/date/local_date", "2020-11-06"),
            ("/events/dividends/0/amount", "0.205"),
        ],
    );
    let server = MockServer::start().await;
    // The window ends at midnight New York after 2020-11-06 (EST): 2020-11-07T05:00Z.
    yahoo_splits_follow_up("AAPL")
        .and(query_param("period1", "1604725200"))
        .respond_with(yahoo_no_later_splits("America/New_York"))
        .expect(1)
        .mount(&server)
        .await;
    // period1 is midnight New York (EDT) of 2020-08-31.
    yahoo_chart("AAPL", "1d")
        .and(query_param("period1", "1598846400"))
        .and(query_param("events", "div,splits"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = yahoo_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2020-08-31", "2020-11-06"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);

    assert_eq!(series.bars.len(), 49);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Yahoo);
    assert_eq!(series.basis, PriceBasis::SplitAdjusted);
    assert!(series.bars.iter().all(|bar| !bar.partial));
    let first = &series.bars[0];
    assert_eq!(first.date(), date("2020-08-31"));
    assert_close(first.open, 127.58000183105469);
    assert_close(first.close, 129.0399932861328);
    assert_close(first.adj_close, 125.82673645019531);
    assert_eq!(first.volume, Some(225_702_700));
    let last = series.bars.last().unwrap();
    assert_eq!(last.date(), date("2020-11-06"));
    assert_close(last.close, 118.69000244140625);
    assert_eq!(last.volume, Some(114_457_900));
    // Across the US DST end (2020-11-01) the raw stamps move from 13:30Z to 14:30Z; both are
    // 09:30 New York and keyed by their session date.
    assert_eq!(bar_on(&series.bars, "2020-10-30").ts, utc("2020-10-30T00:00:00Z"));
    assert_close(bar_on(&series.bars, "2020-10-30").close, 108.86000061035156);
    assert_eq!(bar_on(&series.bars, "2020-11-02").ts, utc("2020-11-02T00:00:00Z"));
    assert_close(bar_on(&series.bars, "2020-11-02").close, 108.7699966430664);
    // The 4:1 split (JavaScript-reserialised as `"numerator": 4`) and the dividend, by ex-date.
    assert_eq!(sorted_actions(&series), vec![split("2020-08-31", 4.0, 1.0), dividend("2020-11-06", 0.205)]);

    // No bar precedes the split, so undoing the adjustment changes nothing: 129.04 is AAPL's
    // as-traded close of the split day.
    let mut as_traded = series.clone();
    as_traded.undo_split_adjustment(&series.actions);
    assert_eq!(as_traded.basis, PriceBasis::AsTraded);
    assert_eq!(as_traded.bars, series.bars);
}

#[tokio::test]
async fn yahoo_nvda_split_adjusted_prices_become_as_traded() {
    const FILE: &str = "yahoo/chart_NVDA_1d_2021-02-01_2022-01-28_split.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "252"),
            ("/summary/first_date", "2021-02-01"),
            ("/summary/last_date", "2022-01-28"),
            ("/samples/first_bar/close", "13.237000465393066"),
            ("/samples/last_bar/close", "22.84000015258789"),
            ("/samples/last_bar/volume", "543774000"),
            ("/samples_by_local_date/2021-07-19/close", "18.77975082397461"),
            ("/samples_by_local_date/2021-07-19/open", "17.915250778198242"),
            ("/samples_by_local_date/2021-07-19/volume", "749060000"),
            ("/samples_by_local_date/2021-07-19/adjclose", "18.7442569732666"),
            ("/samples_by_local_date/2021-07-20/close", "18.61199951171875"),
            ("/samples_by_local_date/2021-07-20/volume", "434687000"),
            ("/events/splits/0/date/local_date", "2021-07-20"),
            ("/events/splits/0/numerator", "4.0"),
            ("/events/splits/0/denominator", "1.0"),
        ],
    );
    let server = MockServer::start().await;
    // Since the end of the window: midnight New York after 2022-01-31 (EST) = 2022-02-01T05:00Z.
    yahoo_splits_follow_up("NVDA")
        .and(query_param("period1", "1643691600"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(NVDA_SPLIT_2024, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    yahoo_chart("NVDA", "1d").respond_with(reply(200, FILE)).expect(1).mount(&server).await;

    let mut series = yahoo_provider(&server)
        .bars(&between("NVDA", Interval::Day1, "2021-02-01", "2022-01-31"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);

    assert_eq!(series.bars.len(), 252);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Yahoo);
    assert_eq!(dates(&series.bars).first(), Some(&date("2021-02-01")));
    assert_eq!(dates(&series.bars).last(), Some(&date("2022-01-28")));
    assert_eq!(series.basis, PriceBasis::SplitAdjusted);
    // The window's own 4:1 split plus the later 10:1 from the follow-up request.
    assert_eq!(sorted_actions(&series), vec![split("2021-07-20", 4.0, 1.0), split("2024-06-10", 10.0, 1.0)]);
    assert_close(bar_on(&series.bars, "2021-07-19").close, 18.77975082397461);

    let actions = series.actions.clone();
    series.undo_split_adjustment(&actions);
    assert_eq!(series.basis, PriceBasis::AsTraded);
    // Before both splits: ×40. 18.77975082397461 × 40 = 751.19, NVDA's real close of 2021-07-19.
    let jul_19 = bar_on(&series.bars, "2021-07-19");
    assert_close(jul_19.close, 18.77975082397461 * 40.0);
    assert!((jul_19.close.unwrap() - 751.19).abs() < 0.005, "{:?}", jul_19.close);
    assert_close(jul_19.open, 17.915250778198242 * 40.0);
    assert_eq!(jul_19.volume, Some(749_060_000 / 40));
    assert_close(jul_19.adj_close, 18.7442569732666); // the vendor's adjusted close stays
    // The split day itself trades after the 4:1 but before the 10:1: ×10 = 186.12.
    let jul_20 = bar_on(&series.bars, "2021-07-20");
    assert_close(jul_20.close, 18.61199951171875 * 10.0);
    assert!((jul_20.close.unwrap() - 186.12).abs() < 0.005, "{:?}", jul_20.close);
    assert_eq!(jul_20.volume, Some(434_687_000 / 10));
    let last = series.bars.last().unwrap();
    assert_close(last.close, 22.84000015258789 * 10.0);
    assert_eq!(last.volume, Some(543_774_000 / 10));
}

#[tokio::test]
async fn yahoo_msft_daily_with_four_dividends() {
    const FILE: &str = "yahoo/chart_MSFT_1d_2021-02-01_2022-01-28_dividends.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "252"),
            ("/summary/first_date", "2021-02-01"),
            ("/summary/last_date", "2022-01-28"),
            ("/samples/first_bar/close", "239.64999389648438"),
            ("/samples/first_bar/adjclose", "232.11370849609375"),
            ("/samples/first_bar/volume", "33314200"),
            ("/samples/last_bar/close", "308.260009765625"),
            ("/samples_by_local_date/2021-11-17/close", "339.1199951171875"),
            ("/samples_by_local_date/2021-11-17/adjclose", "331.2088623046875"),
            ("/events/dividends/0/date/local_date", "2021-02-17"),
            ("/events/dividends/0/amount", "0.56"),
            ("/events/dividends/1/date/local_date", "2021-05-19"),
            ("/events/dividends/1/amount", "0.56"),
            ("/events/dividends/2/date/local_date", "2021-08-18"),
            ("/events/dividends/2/amount", "0.56"),
            ("/events/dividends/3/date/local_date", "2021-11-17"),
            ("/events/dividends/3/amount", "0.62"),
        ],
    );
    let server = MockServer::start().await;
    yahoo_splits_follow_up("MSFT")
        .respond_with(yahoo_no_later_splits("America/New_York"))
        .expect(1)
        .mount(&server)
        .await;
    yahoo_chart("MSFT", "1d").respond_with(reply(200, FILE)).expect(1).mount(&server).await;

    let series = yahoo_provider(&server)
        .bars(&between("MSFT", Interval::Day1, "2021-02-01", "2022-01-31"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);

    assert_eq!(series.bars.len(), 252);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Yahoo);
    let first = &series.bars[0];
    assert_eq!(first.date(), date("2021-02-01"));
    assert_close(first.close, 239.64999389648438);
    assert_close(first.adj_close, 232.11370849609375);
    assert_eq!(first.volume, Some(33_314_200));
    let last = series.bars.last().unwrap();
    assert_eq!(last.date(), date("2022-01-28"));
    assert_close(last.close, 308.260009765625);
    let nov_17 = bar_on(&series.bars, "2021-11-17");
    assert_close(nov_17.close, 339.1199951171875);
    assert_close(nov_17.adj_close, 331.2088623046875);
    assert_eq!(
        sorted_actions(&series),
        vec![
            dividend("2021-02-17", 0.56),
            dividend("2021-05-19", 0.56),
            dividend("2021-08-18", 0.56),
            dividend("2021-11-17", 0.62),
        ]
    );
}

#[tokio::test]
async fn yahoo_wskt_jakarta_bar_is_its_local_session_date() {
    const FILE: &str = "yahoo/chart_WSKT.JK_1d_2020-01-02_jakarta.json";
    assert_facts(
        FILE,
        &[
            ("/tz", "Asia/Jakarta"),
            ("/summary/n_bars", "1"),
            ("/first/utc", "2020-01-02T02:00:00+00:00"),
            ("/first/local", "2020-01-02T09:00:00+07:00"),
            ("/samples/first_bar/open", "1485.0"),
            ("/samples/first_bar/close", "1505.0"),
            ("/samples/first_bar/adjclose", "1497.776611328125"),
            ("/samples/first_bar/volume", "23547100"),
        ],
    );
    let server = MockServer::start().await;
    yahoo_splits_follow_up("WSKT.JK")
        .respond_with(yahoo_no_later_splits("Asia/Jakarta"))
        .mount(&server)
        .await;
    // The window is Jakarta's days: from 2020-01-01 00:00 WIB (2019-12-31T17:00Z) to the last
    // second before 2020-01-04 00:00 WIB.
    yahoo_chart("WSKT.JK", "1d")
        .and(query_param("period1", "1577811600"))
        .and(query_param("period2", "1578070799"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = yahoo_provider(&server)
        .bars(&between("WSKT.JK", Interval::Day1, "2020-01-01", "2020-01-03"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);

    // Stamped 2020-01-02T02:00Z = 09:00 Jakarta: one bar, keyed 2020-01-02.
    assert_eq!(series.bars.len(), 1);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Yahoo);
    let bar = &series.bars[0];
    assert_eq!(bar.ts, utc("2020-01-02T00:00:00Z"));
    assert_close(bar.open, 1485.0);
    assert_close(bar.close, 1505.0);
    assert_close(bar.adj_close, 1497.776611328125);
    assert_eq!(bar.volume, Some(23_547_100));
    assert!(!bar.partial);
}

#[tokio::test]
async fn yahoo_aps_ax_empty_window_is_ok_and_empty() {
    const FILE: &str = "yahoo/chart_APS.AX_1d_empty_window_sydney.json";
    assert_facts(
        FILE,
        &[("/tz", "Australia/Sydney"), ("/summary/n_bars", "0"), ("/has_timestamp_key", "false")],
    );
    let server = MockServer::start().await;
    // No bars: no follow-up request for splits.
    yahoo_splits_follow_up("APS.AX")
        .respond_with(yahoo_no_later_splits("Australia/Sydney"))
        .expect(0)
        .mount(&server)
        .await;
    // 2020-01-01 00:00 in Sydney (AEDT, +11) is 2019-12-31T13:00Z.
    yahoo_chart("APS.AX", "1d")
        .and(query_param("period1", "1577797200"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = yahoo_provider(&server)
        .bars(&between("APS.AX", Interval::Day1, "2020-01-01", "2020-01-03"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert!(series.bars.is_empty(), "{:?}", series.bars);
    assert!(series.actions.is_empty());
}

#[tokio::test]
async fn yahoo_aapl_1m_weekend_is_ok_and_empty() {
    const FILE: &str = "yahoo/chart_AAPL_1m_2025-02-01_weekend_empty.json";
    assert_facts(FILE, &[("/summary/n_bars", "0"), ("/has_timestamp_key", "false")]);
    let server = MockServer::start().await;
    yahoo_splits_follow_up("AAPL")
        .respond_with(yahoo_no_later_splits("America/New_York"))
        .expect(0)
        .mount(&server)
        .await;
    yahoo_chart("AAPL", "1m").respond_with(reply(200, FILE)).expect(1).mount(&server).await;

    let series = yahoo_provider(&server)
        .bars(&between("AAPL", Interval::Min1, "2025-02-01", "2025-02-02"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Min1, &series.bars);
    assert!(series.bars.is_empty(), "{:?}", series.bars);
}

/// Replays a 24-hour-market daily file (bars at 00:00 UTC) for `from..=to`, checking `period2`.
async fn yahoo_24h_daily(file: &str, sym: &str, zone: &str, to: &str, period2: &str) -> BarSeries {
    let server = MockServer::start().await;
    yahoo_splits_follow_up(sym).respond_with(yahoo_no_later_splits(zone)).expect(1).mount(&server).await;
    yahoo_chart(sym, "1d")
        .and(query_param("period1", "1577836800"))
        .and(query_param("period2", period2))
        .respond_with(reply(200, file))
        .expect(1)
        .mount(&server)
        .await;
    let series = yahoo_provider(&server).bars(&between(sym, Interval::Day1, "2020-01-01", to)).await.unwrap();
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Yahoo);
    series
}

const BTC_FILE: &str = "yahoo/chart_BTC-USD_1d_2020-01-01_2020-01-03.json";
const BTC_FACTS: &[(&str, &str)] = &[
    ("/tz", "UTC"),
    ("/summary/n_bars", "3"),
    ("/first/utc", "2020-01-01T00:00:00+00:00"),
    ("/last/utc", "2020-01-03T00:00:00+00:00"),
    ("/samples/first_bar/close", "7200.17431640625"),
    ("/samples/first_bar/volume", "18565664997"),
    ("/samples/last_bar/close", "7344.88427734375"),
    ("/samples/last_bar/volume", "28111481032"),
];

#[tokio::test]
async fn yahoo_btc_usd_three_utc_days() {
    assert_facts(BTC_FILE, BTC_FACTS);
    // 2020-01-04 00:00 UTC minus one second.
    let series = yahoo_24h_daily(BTC_FILE, "BTC-USD", "UTC", "2020-01-03", "1578095999").await;
    print_summary(BTC_FILE, Interval::Day1, &series.bars);
    assert_eq!(dates(&series.bars), vec![date("2020-01-01"), date("2020-01-02"), date("2020-01-03")]);
    assert_close(series.bars[0].close, 7200.17431640625);
    assert_eq!(series.bars[0].volume, Some(18_565_664_997));
    assert_close(series.bars[2].close, 7344.88427734375);
    assert_eq!(series.bars[2].volume, Some(28_111_481_032));
    assert!(series.bars.iter().all(|bar| !bar.partial));
}

#[tokio::test]
async fn yahoo_btc_usd_window_to_jan_2_drops_the_bar_stamped_at_period2() {
    assert_facts(BTC_FILE, BTC_FACTS);
    // The recording was asked with period2 = 2020-01-03T00:00Z and holds the bar stamped then;
    // asked for 01..02, the provider must drop it.
    let series = yahoo_24h_daily(BTC_FILE, "BTC-USD", "UTC", "2020-01-02", "1578009599").await;
    assert_eq!(dates(&series.bars), vec![date("2020-01-01"), date("2020-01-02")]);
    assert_close(series.bars[0].close, 7200.17431640625);
}

const EURUSD_FILE: &str = "yahoo/chart_EURUSD_X_1d_2020-01-01_2020-01-03.json";
const EURUSD_FACTS: &[(&str, &str)] = &[
    ("/tz", "Europe/London"),
    ("/summary/n_bars", "3"),
    ("/first/utc", "2020-01-01T00:00:00+00:00"),
    ("/last/utc", "2020-01-03T00:00:00+00:00"),
    ("/samples/first_bar/close", "1.1220825910568237"),
    ("/samples/first_bar/volume", "0"),
    ("/samples/last_bar/close", "1.1171437501907349"),
];

#[tokio::test]
async fn yahoo_eurusd_three_london_days() {
    assert_facts(EURUSD_FILE, EURUSD_FACTS);
    // London midnight in January is 00:00 UTC.
    let series = yahoo_24h_daily(EURUSD_FILE, "EURUSD=X", "Europe/London", "2020-01-03", "1578095999").await;
    print_summary(EURUSD_FILE, Interval::Day1, &series.bars);
    assert_eq!(dates(&series.bars), vec![date("2020-01-01"), date("2020-01-02"), date("2020-01-03")]);
    assert_close(series.bars[0].close, 1.1220825910568237);
    assert_eq!(series.bars[0].volume, Some(0), "FX volume is a recorded 0, not missing");
    assert_close(series.bars[2].close, 1.1171437501907349);
}

#[tokio::test]
async fn yahoo_eurusd_window_to_jan_2_drops_the_bar_stamped_at_period2() {
    assert_facts(EURUSD_FILE, EURUSD_FACTS);
    let series = yahoo_24h_daily(EURUSD_FILE, "EURUSD=X", "Europe/London", "2020-01-02", "1578009599").await;
    assert_eq!(dates(&series.bars), vec![date("2020-01-01"), date("2020-01-02")]);
}

#[tokio::test]
async fn yahoo_404_is_not_found_naming_the_symbol() {
    const FILE: &str = "yahoo/error_404_not_found_SI.json";
    assert_facts(FILE, &[("/http_status", "404"), ("/error/code", "Not Found")]);
    let server = MockServer::start().await;
    yahoo_chart("SI", "1d").respond_with(reply(404, FILE)).expect(1).mount(&server).await;

    let err = yahoo_provider(&server)
        .bars(&between("SI", Interval::Day1, "2020-01-01", "2020-01-03"))
        .await
        .unwrap_err();
    eprintln!("recorded {FILE}: {err}");
    match &err {
        ProviderError::NotFound { provider, what, message } => {
            assert_eq!(*provider, ProviderId::Yahoo);
            assert_eq!(what.split_whitespace().next(), Some("SI"), "{err}");
            assert!(message.contains("No data found, symbol may be delisted"), "{err}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn yahoo_400_is_an_invalid_request() {
    const FILE: &str = "yahoo/error_400_bad_request_BEKE.json";
    assert_facts(FILE, &[("/http_status", "400"), ("/error/code", "Bad Request")]);
    let server = MockServer::start().await;
    yahoo_chart("BEKE", "1d").respond_with(reply(400, FILE)).expect(1).mount(&server).await;

    let err = yahoo_provider(&server)
        .bars(&between("BEKE", Interval::Day1, "2020-01-01", "2020-01-03"))
        .await
        .unwrap_err();
    eprintln!("recorded {FILE}: {err}");
    assert!(matches!(&err, ProviderError::InvalidRequest { provider: ProviderId::Yahoo, .. }), "{err:?}");
    assert!(err.to_string().contains("Data doesn't exist for startDate"), "{err}");
}

#[tokio::test]
async fn yahoo_aapl_1m_regular_hours_drops_the_null_row_and_the_next_day_bar() {
    const FILE: &str = "yahoo/chart_AAPL_1m_2024-10-02_regular_hours.json";
    assert_facts(
        FILE,
        &[
            ("/n_timestamps", "391"),
            ("/summary/n_bars", "390"),
            ("/null_rows/0/utc", "2024-10-02T15:15:00+00:00"),
            ("/first/utc", "2024-10-02T13:30:00+00:00"),
            ("/last/utc", "2024-10-03T20:00:00+00:00"),
            ("/samples/first_bar/open", "225.88999938964844"),
            ("/samples/first_bar/close", "225.6999969482422"),
            ("/samples/first_bar/volume", "1205461"),
            ("/samples/last_bar/close", "225.6699981689453"),
            ("/samples/last_bar/volume", "0"),
            ("/regularMarketTime/raw", "1727985601"),
        ],
    );
    // Pure parse: every non-null row, the trailing 2024-10-03 16:00 bar included.
    let chart =
        yahoo::parse_chart(&symbol("AAPL"), Interval::Min1, &recorded(FILE), unix(1727985601)).unwrap();
    assert_eq!(chart.bars.len(), 390);
    assert_series_shape(&chart.bars, Interval::Min1, ProviderId::Yahoo);
    assert!(
        chart.bars.iter().all(|bar| bar.ts != utc("2024-10-02T15:15:00Z")),
        "the all-null row is dropped"
    );
    assert_eq!(chart.bars[0].ts, utc("2024-10-02T13:30:00Z"));
    assert_eq!(chart.bars.last().unwrap().ts, utc("2024-10-03T20:00:00Z"));
    assert!(chart.bars.iter().all(|bar| bar.adj_close.is_none()));

    // Through the provider, asked for 2024-10-02 only: the out-of-window bar is trimmed, 389 remain.
    let server = MockServer::start().await;
    yahoo_splits_follow_up("AAPL")
        .respond_with(yahoo_no_later_splits("America/New_York"))
        .expect(1)
        .mount(&server)
        .await;
    yahoo_chart("AAPL", "1m")
        .and(query_param("period1", "1727841600"))
        .and(query_param("period2", "1727927999"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;
    let series = yahoo_provider(&server)
        .bars(&between("AAPL", Interval::Min1, "2024-10-02", "2024-10-02"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Min1, &series.bars);
    assert_eq!(series.bars.len(), 389);
    assert_series_shape(&series.bars, Interval::Min1, ProviderId::Yahoo);
    let first = &series.bars[0];
    assert_eq!(first.ts, utc("2024-10-02T13:30:00Z"));
    assert_close(first.open, 225.88999938964844);
    assert_close(first.close, 225.6999969482422);
    assert_eq!(first.volume, Some(1_205_461));
    // 15:59 New York is the last regular-session minute of the day.
    assert_eq!(series.bars.last().unwrap().ts, utc("2024-10-02T19:59:00Z"));
    assert!(series.bars.iter().all(|bar| Exchange::US.in_regular_session(bar.ts) && !bar.partial));
}

/// `includePrePost=true` recording: the provider itself asks Yahoo for `includePrePost=false`,
/// so this body is not an answer to its request; the pure parser keeps every row as sent and
/// this checks the intraday keys (UTC start) and the extended-hours rows' values.
#[test]
fn yahoo_tsla_30m_pre_and_post_market_rows_parse() {
    const FILE: &str = "yahoo/chart_TSLA_30m_2021-11-22_prepost.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "30"),
            ("/first/utc", "2021-11-22T09:00:00+00:00"),
            ("/last/utc", "2021-11-22T23:30:00+00:00"),
            ("/samples/first_bar/open", "1148.51"),
            ("/samples/first_bar/close", "1168.7"),
            ("/samples/first_bar/volume", "0"),
            ("/samples/last_bar/close", "1156.49"),
        ],
    );
    // Fetched 2021-11-23T13:34:42Z: every bar had ended.
    let chart =
        yahoo::parse_chart(&symbol("TSLA"), Interval::Min30, &recorded(FILE), utc("2021-11-23T13:34:42Z"))
            .unwrap();
    print_summary(FILE, Interval::Min30, &chart.bars);
    assert_eq!(chart.bars.len(), 30);
    assert_series_shape(&chart.bars, Interval::Min30, ProviderId::Yahoo);
    assert_eq!(chart.bars[0].ts, utc("2021-11-22T09:00:00Z")); // 04:00 New York
    assert_eq!(chart.bars.last().unwrap().ts, utc("2021-11-22T23:30:00Z")); // 18:30 New York
    assert_close(chart.bars[0].open, 1148.51);
    assert_close(chart.bars[0].close, 1168.7);
    assert_eq!(chart.bars[0].volume, Some(0));
    assert_close(chart.bars.last().unwrap().close, 1156.49);
    // 04:00..18:30 every 30 minutes (30 rows, none null in facts.json): 09:30..15:30 are the 13
    // regular-session starts, the other 17 are pre- and post-market.
    let regular = chart.bars.iter().filter(|bar| Exchange::US.in_regular_session(bar.ts)).count();
    assert_eq!((regular, chart.bars.len() - regular), (13, 17));
    assert!(chart.bars.iter().all(|bar| !bar.partial && bar.adj_close.is_none()));
}

#[test]
fn yahoo_aapl_during_session_last_bar_is_partial_and_keyed_by_its_date() {
    const FILE: &str = "yahoo/chart_AAPL_1d_6mo_during_session_2025-10-28.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "128"),
            ("/summary/first_date", "2025-04-28"),
            ("/summary/last_date", "2025-10-28"),
            ("/regularMarketTime/raw", "1761670102"),
            ("/last/local", "2025-10-28T12:48:22-04:00"),
            ("/samples/first_bar/close", "210.13999938964844"),
            ("/samples_by_local_date/2025-10-27/close", "268.80999755859375"),
            ("/samples_by_local_date/2025-10-28/close", "269.2200012207031"),
            ("/samples_by_local_date/2025-10-28/volume", "19096436"),
            ("/events/dividends/0/date/local_date", "2025-05-12"),
            ("/events/dividends/0/amount", "0.26"),
            ("/events/dividends/1/date/local_date", "2025-08-11"),
            ("/events/dividends/1/amount", "0.26"),
        ],
    );
    // Parsed at the moment it was fetched: 12:48:22 New York, mid-session.
    let chart =
        yahoo::parse_chart(&symbol("AAPL"), Interval::Day1, &recorded(FILE), unix(1761670102)).unwrap();
    print_summary(FILE, Interval::Day1, &chart.bars);
    assert_eq!(chart.bars.len(), 128);
    assert_series_shape(&chart.bars, Interval::Day1, ProviderId::Yahoo);
    assert_eq!(chart.bars[0].date(), date("2025-04-28"));
    assert_close(chart.bars[0].close, 210.13999938964844);
    // The live bar, stamped 12:48:22, is 2025-10-28's one row, and the only partial one.
    let last = chart.bars.last().unwrap();
    assert_eq!(last.ts, utc("2025-10-28T00:00:00Z"));
    assert!(last.partial);
    assert_close(last.close, 269.2200012207031);
    assert_eq!(last.volume, Some(19_096_436));
    assert_eq!(chart.bars.iter().filter(|bar| bar.partial).count(), 1);
    let oct_27 = bar_on(&chart.bars, "2025-10-27");
    assert!(!oct_27.partial);
    assert_close(oct_27.close, 268.80999755859375);
    let mut actions = chart.actions.clone();
    actions.sort_by_key(|action| action.date);
    assert_eq!(actions, vec![dividend("2025-05-12", 0.26), dividend("2025-08-11", 0.26)]);
}

#[test]
fn yahoo_aapl_after_close_last_bar_is_final() {
    const FILE: &str = "yahoo/chart_AAPL_1d_6mo_after_close_2025-10-29.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "127"),
            ("/summary/first_date", "2025-04-30"),
            ("/summary/last_date", "2025-10-29"),
            ("/regularMarketTime/raw", "1761768001"),
            ("/last/local", "2025-10-29T16:00:01-04:00"),
            ("/samples/first_bar/close", "212.5"),
            ("/samples_by_local_date/2025-10-28/close", "269.0"),
            ("/samples_by_local_date/2025-10-28/volume", "41534800"),
            ("/samples_by_local_date/2025-10-29/close", "269.70001220703125"),
            ("/samples_by_local_date/2025-10-29/volume", "43332154"),
        ],
    );
    // 21:00Z = 17:00 New York, after the close and its settling minutes.
    let chart =
        yahoo::parse_chart(&symbol("AAPL"), Interval::Day1, &recorded(FILE), utc("2025-10-29T21:00:00Z"))
            .unwrap();
    print_summary(FILE, Interval::Day1, &chart.bars);
    assert_eq!(chart.bars.len(), 127);
    assert_series_shape(&chart.bars, Interval::Day1, ProviderId::Yahoo);
    assert_eq!(chart.bars[0].date(), date("2025-04-30"));
    assert_close(chart.bars[0].close, 212.5);
    let last = chart.bars.last().unwrap();
    assert_eq!(last.ts, utc("2025-10-29T00:00:00Z"));
    assert!(!last.partial);
    assert_close(last.close, 269.70001220703125);
    assert_eq!(last.volume, Some(43_332_154));
    assert!(chart.bars.iter().all(|bar| !bar.partial));
    // The full 2025-10-28 (vs 19 096 436 shares in the mid-session recording).
    let oct_28 = bar_on(&chart.bars, "2025-10-28");
    assert_close(oct_28.close, 269.0);
    assert_eq!(oct_28.volume, Some(41_534_800));

    // At the recording moment itself (16:00:01, inside the settling window after the close) the
    // same bar is still partial.
    let at_fetch =
        yahoo::parse_chart(&symbol("AAPL"), Interval::Day1, &recorded(FILE), unix(1761768001)).unwrap();
    assert!(at_fetch.bars.last().unwrap().partial);
}

#[test]
fn yahoo_gs2c_berlin_dates_across_the_eu_dst_end() {
    const FILE: &str = "yahoo/chart_GS2C.DE_1d_eu_dst_2025-10-29.json";
    assert_facts(
        FILE,
        &[
            ("/tz", "Europe/Berlin"),
            ("/summary/n_bars", "5"),
            ("/first/utc", "2025-10-23T07:00:00+00:00"),
            ("/samples_by_local_date/2025-10-24/t/utc", "2025-10-24T07:00:00+00:00"),
            ("/samples_by_local_date/2025-10-24/close", "20.170000076293945"),
            ("/samples_by_local_date/2025-10-27/t/utc", "2025-10-27T08:00:00+00:00"),
            ("/samples_by_local_date/2025-10-27/close", "20.399999618530273"),
            ("/samples_by_local_date/2025-10-27/volume", "32659"),
            ("/last/local", "2025-10-29T17:35:44+01:00"),
            ("/samples/first_bar/close", "19.738000869750977"),
            ("/samples/last_bar/close", "19.947999954223633"),
            ("/samples/last_bar/volume", "9179"),
        ],
    );
    let chart =
        yahoo::parse_chart(&symbol("GS2C.DE"), Interval::Day1, &recorded(FILE), unix(1761755744)).unwrap();
    print_summary(FILE, Interval::Day1, &chart.bars);
    assert_eq!(Some(chart.exchange.zone), domain::calendar::parse_zone("Europe/Berlin"));
    assert_series_shape(&chart.bars, Interval::Day1, ProviderId::Yahoo);
    // 09:00 Berlin is 07:00Z before 2025-10-26 and 08:00Z after; dates stay the trading days
    // (Thu, Fri, Mon, Tue, Wed).
    assert_eq!(
        dates(&chart.bars),
        ["2025-10-23", "2025-10-24", "2025-10-27", "2025-10-28", "2025-10-29"].map(date).to_vec()
    );
    assert_close(chart.bars[0].close, 19.738000869750977);
    assert_close(bar_on(&chart.bars, "2025-10-24").close, 20.170000076293945);
    assert_close(bar_on(&chart.bars, "2025-10-27").close, 20.399999618530273);
    assert_eq!(bar_on(&chart.bars, "2025-10-27").volume, Some(32_659));
    let last = chart.bars.last().unwrap();
    assert_close(last.close, 19.947999954223633);
    assert_eq!(last.volume, Some(9_179));
    // Fetched at 17:35:44 CET, inside the settling window after Xetra's 17:30 close: still
    // partial then, final the next morning.
    assert!(last.partial);
    assert_eq!(chart.bars.iter().filter(|bar| bar.partial).count(), 1);
    let next_morning =
        yahoo::parse_chart(&symbol("GS2C.DE"), Interval::Day1, &recorded(FILE), utc("2025-10-30T07:00:00Z"))
            .unwrap();
    assert!(next_morning.bars.iter().all(|bar| !bar.partial));
}

#[tokio::test]
async fn yahoo_since_window_reaching_today_needs_no_splits_request() {
    const FILE: &str = "yahoo/chart_AAPL_1d_6mo_during_session_2025-10-28.json";
    assert_facts(FILE, &[("/summary/n_bars", "128"), ("/summary/first_date", "2025-04-28")]);
    let server = MockServer::start().await;
    // A window ending today already carries every split up to now in its own events.
    yahoo_splits_follow_up("AAPL")
        .respond_with(yahoo_no_later_splits("America/New_York"))
        .expect(0)
        .mount(&server)
        .await;
    yahoo_chart("AAPL", "1d")
        .and(query_param("period1", "1745812800")) // 2025-04-28 00:00 New York (EDT)
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;
    let request = BarsRequest {
        symbol: symbol("AAPL"),
        interval: Interval::Day1,
        span: Span::Since(date("2025-04-28")),
    };
    let series = yahoo_provider(&server).bars(&request).await.unwrap();
    assert_eq!(series.bars.len(), 128);
    assert_eq!(dates(&series.bars).first(), Some(&date("2025-04-28")));
    assert_eq!(dates(&series.bars).last(), Some(&date("2025-10-28")));
    // Replayed long after that session: nothing is partial any more.
    assert!(series.bars.iter().all(|bar| !bar.partial));
}

// ---------------------------------------------------------------------------------------------
// Polygon

/// A Polygon GET with the key in the header and never in the URL.
fn polygon_get(path_matcher: impl wiremock::Match + 'static) -> MockBuilder {
    Mock::given(method("GET")).and(path_matcher).and(bearer_token(KEY)).and(query_param_is_missing("apiKey"))
}

/// A daily aggregates request as the provider sends it: dates in the path, `adjusted=false`.
fn polygon_daily(ticker: &str, from: &str, to: &str) -> MockBuilder {
    polygon_get(path(format!("/v2/aggs/ticker/{ticker}/range/1/day/{from}/{to}")))
        .and(query_param("adjusted", "false"))
        .and(query_param("sort", "asc"))
}

#[tokio::test]
async fn polygon_aapl_2005_daily_across_the_us_dst_start() {
    const FILE: &str = "polygon/aggs_AAPL_1day_2005-04-01_2005-04-04_us_dst_start.json";
    assert_facts(
        FILE,
        &[
            ("/n_bars", "2"),
            ("/first_utc", "2005-04-01T05:00:00+00:00"),
            ("/last_utc", "2005-04-04T04:00:00+00:00"),
            ("/bar_dates_new_york/0", "2005-04-01"),
            ("/bar_dates_new_york/1", "2005-04-04"),
            ("/samples/first/o", "1.5032"),
            ("/samples/first/c", "1.4604"),
            ("/samples/first/v", "642646396.0"),
            ("/samples/last/c", "1.4675"),
            ("/samples/last/v", "578172308.0"),
            ("/adjusted", "true"),
        ],
    );
    let server = MockServer::start().await;
    // Recorded with adjusted=true (split-adjusted prices, ~1/28 of 2005's traded price); the
    // provider asks adjusted=false, so only parsing and dates are checked with these values.
    polygon_daily("AAPL", "2005-04-01", "2005-04-04")
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = polygon_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2005-04-01", "2005-04-04"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Polygon);
    assert_eq!(series.basis, PriceBasis::AsTraded);
    // 05:00Z (EST) and 04:00Z (EDT) are both midnight New York.
    assert_eq!(dates(&series.bars), vec![date("2005-04-01"), date("2005-04-04")]);
    assert_close(series.bars[0].open, 1.5032);
    assert_close(series.bars[0].close, 1.4604);
    assert_eq!(series.bars[0].volume, Some(642_646_396));
    assert_close(series.bars[1].close, 1.4675);
    assert_eq!(series.bars[1].volume, Some(578_172_308));
    assert!(series.bars.iter().all(|bar| !bar.partial && bar.adj_close.is_none()));
}

#[tokio::test]
async fn polygon_aapl_2023_daily_with_exponent_volumes() {
    const FILE: &str = "polygon/aggs_AAPL_1day_2023-01-01_2023-01-10_openbb.json";
    assert_facts(
        FILE,
        &[
            ("/n_bars", "6"),
            ("/bar_dates_new_york/0", "2023-01-03"),
            ("/bar_dates_new_york/1", "2023-01-04"),
            ("/bar_dates_new_york/2", "2023-01-05"),
            ("/bar_dates_new_york/3", "2023-01-06"),
            ("/bar_dates_new_york/4", "2023-01-09"),
            ("/bar_dates_new_york/5", "2023-01-10"),
            ("/samples/first/c", "125.07"),
            ("/samples/first/v", "1.12117471e+08"),
            ("/samples/last/c", "130.73"),
            ("/samples/last/v", "6.3896155e+07"),
        ],
    );
    let server = MockServer::start().await;
    polygon_daily("AAPL", "2023-01-01", "2023-01-10")
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = polygon_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2023-01-01", "2023-01-10"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Polygon);
    assert_eq!(
        dates(&series.bars),
        ["2023-01-03", "2023-01-04", "2023-01-05", "2023-01-06", "2023-01-09", "2023-01-10"]
            .map(date)
            .to_vec()
    );
    assert_close(series.bars[0].close, 125.07);
    assert_eq!(series.bars[0].volume, Some(112_117_471));
    assert_close(series.bars[5].close, 130.73);
    assert_eq!(series.bars[5].volume, Some(63_896_155));
}

#[tokio::test]
async fn polygon_doc_example_next_url_is_followed_to_the_second_page() {
    const FILE: &str = "polygon/doc_example_aggs_AAPL_1day_next_url.json";
    const LAST_PAGE: &str = "polygon/aggs_AAMC_1minute_2022-02_empty_no_results.json";
    assert_facts(
        FILE,
        &[
            ("/n_bars", "2"),
            (
                "/next_url",
                "https://api.polygon.io/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10?cursor=bGltaXQ9MiZzb3J0PWFzYw",
            ),
            ("/bar_dates_new_york/0", "2020-01-02"),
            ("/bar_dates_new_york/1", "2020-01-03"),
            ("/samples/first/c", "75.0875"),
            ("/samples/first/v", "135647456"),
            ("/samples/last/c", "74.3575"),
            ("/samples/last/v", "146535512"),
        ],
    );
    assert_facts(LAST_PAGE, &[("/n_bars", "0"), ("/has_results_key", "false")]);
    let server = MockServer::start().await;
    // REWRITTEN BY US: the documented next_url names api.polygon.io; the provider follows only
    // its configured origin, so the host is pointed at the mock server. Nothing else changes.
    let page_1 = String::from_utf8(recorded(FILE)).unwrap().replace("https://api.polygon.io", &server.uri());
    polygon_daily("AAPL", "2020-01-02", "2020-01-10")
        .respond_with(ResponseTemplate::new(200).set_body_raw(page_1, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    // The second page answers the cursor with a recorded "no results" body (Polygon's shape for
    // an empty page: resultsCount 0, no `results`; its `ticker` field is not read).
    polygon_get(path("/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10"))
        .and(query_param("cursor", "bGltaXQ9MiZzb3J0PWFzYw"))
        .respond_with(reply(200, LAST_PAGE))
        .expect(1)
        .mount(&server)
        .await;
    // Bars came back: no ticker-reference request.
    polygon_get(path_regex("^/v3/reference/tickers/"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;

    let series = polygon_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2020-01-02", "2020-01-10"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Polygon);
    assert_eq!(dates(&series.bars), vec![date("2020-01-02"), date("2020-01-03")]);
    assert_close(series.bars[0].close, 75.0875);
    assert_eq!(series.bars[0].volume, Some(135_647_456));
    assert_close(series.bars[1].close, 74.3575);
    assert_eq!(series.bars[1].volume, Some(146_535_512));
}

/// Any ticker in the path: these files test how 24-hour markets' stamps become dates; which
/// ticker the provider sends is checked by `polygon_requests_crypto_and_fx_under_polygon_tickers`.
fn polygon_daily_any_ticker(from: &str, to: &str) -> MockBuilder {
    polygon_get(path_regex(format!("^/v2/aggs/ticker/[^/]+/range/1/day/{from}/{to}$")))
        .and(query_param("adjusted", "false"))
}

const BTCUSD_AGGS: &str = "polygon/aggs_X_BTCUSD_1day_2023-01-01_2023-01-10_openbb.json";
const EURUSD_AGGS: &str = "polygon/aggs_C_EURUSD_1day_2023-01-01_2023-01-10_openbb.json";

fn ten_days_of_january_2023() -> Vec<NaiveDate> {
    (1..=10).map(|day| NaiveDate::from_ymd_opt(2023, 1, day).unwrap()).collect()
}

#[tokio::test]
async fn polygon_crypto_daily_bars_are_dated_by_their_utc_day() {
    assert_facts(
        BTCUSD_AGGS,
        &[
            ("/n_bars", "10"),
            ("/first_utc", "2023-01-01T00:00:00+00:00"),
            ("/last_utc", "2023-01-10T00:00:00+00:00"),
            ("/summary/first_date_utc", "2023-01-01"),
            ("/summary/last_date_utc", "2023-01-10"),
            ("/samples/first/c", "16611.58"),
            ("/samples/first/v", "12300.315533316923"),
            ("/samples/last/c", "17443.46"),
            ("/samples/last/v", "28242.029977765436"),
        ],
    );
    let server = MockServer::start().await;
    polygon_daily_any_ticker("2023-01-01", "2023-01-10")
        .respond_with(reply(200, BTCUSD_AGGS))
        .expect(1)
        .mount(&server)
        .await;

    let series = polygon_provider(&server)
        .bars(&between("BTC-USD", Interval::Day1, "2023-01-01", "2023-01-10"))
        .await
        .unwrap();
    print_summary(BTCUSD_AGGS, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Polygon);
    // Stamped 00:00 UTC: the UTC day, not New York's previous evening (2022-12-31..2023-01-09).
    assert_eq!(dates(&series.bars), ten_days_of_january_2023());
    assert_close(series.bars[0].close, 16611.58);
    assert_eq!(series.bars[0].volume, Some(12_300)); // fractional coins, rounded
    assert_close(series.bars[9].close, 17443.46);
    assert_eq!(series.bars[9].volume, Some(28_242));
}

#[tokio::test]
async fn polygon_fx_daily_bars_are_dated_by_their_utc_day() {
    assert_facts(
        EURUSD_AGGS,
        &[
            ("/n_bars", "10"),
            ("/summary/first_date_utc", "2023-01-01"),
            ("/summary/last_date_utc", "2023-01-10"),
            ("/samples/first/c", "1.0793"),
            ("/samples/first/v", "12"),
            ("/samples/last/c", "1.07383"),
            ("/samples/last/v", "202545"),
        ],
    );
    let server = MockServer::start().await;
    polygon_daily_any_ticker("2023-01-01", "2023-01-10")
        .respond_with(reply(200, EURUSD_AGGS))
        .expect(1)
        .mount(&server)
        .await;

    let series = polygon_provider(&server)
        .bars(&between("EURUSD=X", Interval::Day1, "2023-01-01", "2023-01-10"))
        .await
        .unwrap();
    print_summary(EURUSD_AGGS, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Polygon);
    assert_eq!(dates(&series.bars), ten_days_of_january_2023());
    assert_close(series.bars[0].close, 1.0793);
    assert_eq!(series.bars[0].volume, Some(12));
    assert_close(series.bars[9].close, 1.07383);
    assert_eq!(series.bars[9].volume, Some(202_545));
}

/// The recordings were requested as `/v2/aggs/ticker/X:BTCUSD/…` and `/v2/aggs/ticker/C:EURUSD/…`
/// (facts.json `source.request_url`): Polygon names crypto and FX pairs with an `X:` / `C:`
/// prefix and no separator. Asked for our `BTC-USD` and `EURUSD=X`, the provider must send those.
#[tokio::test]
async fn polygon_requests_crypto_and_fx_under_polygon_tickers() {
    let mut failures = Vec::new();
    for (file, ours, theirs) in [(BTCUSD_AGGS, "BTC-USD", "X:BTCUSD"), (EURUSD_AGGS, "EURUSD=X", "C:EURUSD")]
    {
        let recorded_url =
            format!("https://api.polygon.io/v2/aggs/ticker/{theirs}/range/1/day/2023-01-01/2023-01-10");
        let url = facts(file).pointer("/source/request_url").and_then(Value::as_str).unwrap_or_default();
        assert!(url.starts_with(&recorded_url), "facts.json {file}: {url}");

        let server = MockServer::start().await;
        let (prefix, pair) = theirs.split_once(':').unwrap();
        polygon_get(path_regex(format!(
            "^/v2/aggs/ticker/{prefix}(:|%3A){pair}/range/1/day/2023-01-01/2023-01-10$"
        )))
        .respond_with(reply(200, file))
        .mount(&server)
        .await;
        let result =
            polygon_provider(&server).bars(&between(ours, Interval::Day1, "2023-01-01", "2023-01-10")).await;
        let sent: Vec<String> = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        match result {
            Ok(series) if series.bars.len() == 10 => {}
            Ok(series) => failures.push(format!("{ours}: {} bars instead of 10", series.bars.len())),
            Err(e) => failures.push(format!(
                "{ours}: Polygon knows this pair as {theirs}; the provider sent {sent:?} and got: {e}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const AAMC_EMPTY: &str = "polygon/aggs_AAMC_1minute_2022-02_empty_no_results.json";

/// The minute request for February 2022 in New York, in the unix milliseconds Polygon takes:
/// 2022-02-01 00:00 EST to the last millisecond before 2022-03-01 00:00 EST.
fn polygon_feb_2022_minutes(ticker: &str) -> MockBuilder {
    polygon_get(path(format!("/v2/aggs/ticker/{ticker}/range/1/minute/1643691600000/1646110799999")))
        .and(query_param("adjusted", "false"))
}

fn feb_2022_minutes(sym: &str) -> BarsRequest {
    between(sym, Interval::Min1, "2022-02-01", "2022-02-28")
}

#[tokio::test]
async fn polygon_empty_aggregates_of_a_known_ticker_are_ok_and_empty() {
    assert_facts(AAMC_EMPTY, &[("/n_bars", "0"), ("/has_results_key", "false"), ("/resultsCount", "0")]);
    let server = MockServer::start().await;
    polygon_feb_2022_minutes("AAMC").respond_with(reply(200, AAMC_EMPTY)).expect(1).mount(&server).await;
    // WRITTEN BY US, not a recording: the ticker reference knowing the ticker (only the status
    // decides).
    polygon_get(path("/v3/reference/tickers/AAMC"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"status":"OK","request_id":"written-by-us","results":{"ticker":"AAMC","market":"stocks","active":true}}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let series = polygon_provider(&server).bars(&feb_2022_minutes("AAMC")).await.unwrap();
    print_summary(AAMC_EMPTY, Interval::Min1, &series.bars);
    assert!(series.bars.is_empty(), "{:?}", series.bars);
}

#[tokio::test]
async fn polygon_empty_aggregates_of_an_unknown_ticker_are_not_found() {
    assert_facts(AAMC_EMPTY, &[("/n_bars", "0"), ("/has_results_key", "false")]);
    let server = MockServer::start().await;
    // The recorded empty page, served for a ticker the reference does not know (the body's own
    // `ticker` field is not read).
    polygon_feb_2022_minutes("ZZZNOTASYMBOL")
        .respond_with(reply(200, AAMC_EMPTY))
        .expect(1)
        .mount(&server)
        .await;
    // WRITTEN BY US, not a recording: Polygon's 404 for an unknown ticker.
    polygon_get(path("/v3/reference/tickers/ZZZNOTASYMBOL"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"status":"NOT_FOUND","request_id":"written-by-us","message":"Ticker not found."}"#,
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;

    let err = polygon_provider(&server).bars(&feb_2022_minutes("ZZZNOTASYMBOL")).await.unwrap_err();
    assert!(matches!(&err, ProviderError::NotFound { provider: ProviderId::Polygon, .. }), "{err:?}");
    assert!(err.to_string().contains("ZZZNOTASYMBOL"), "{err}");
}

#[tokio::test]
async fn polygon_prev_close_quote() {
    const FILE: &str = "polygon/prev_AAPL_2022-04-26.json";
    assert_facts(
        FILE,
        &[
            ("/first_utc", "2022-04-26T20:00:00+00:00"),
            ("/samples/first/o", "162.25"),
            ("/samples/first/h", "162.34"),
            ("/samples/first/l", "156.72"),
            ("/samples/first/c", "156.8"),
            ("/samples/first/v", "95595226.0"),
        ],
    );
    let server = MockServer::start().await;
    polygon_get(path("/v2/aggs/ticker/AAPL/prev"))
        .and(query_param("adjusted", "false"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let quote = polygon_provider(&server).quote(&symbol("AAPL")).await.unwrap();
    eprintln!("recorded {FILE}: quote {} at {}", quote.price, quote.ts);
    assert_close(Some(quote.price), 156.8);
    assert_close(quote.open, 162.25);
    assert_close(quote.high, 162.34);
    assert_close(quote.low, 156.72);
    assert_eq!(quote.volume, Some(95_595_226));
    assert_eq!(quote.ts, utc("2022-04-26T20:00:00Z"));
    assert_eq!((quote.provider, quote.source), (ProviderId::Polygon, QuoteSource::LastBarClose));
}

#[tokio::test]
async fn polygon_ticker_details_become_a_profile() {
    const FILE: &str = "polygon/v3_reference_tickers_AAPL.json";
    assert_facts(
        FILE,
        &[
            ("/name", "Apple Inc."),
            ("/primary_exchange", "XNAS"),
            ("/currency_name", "usd"),
            ("/locale", "us"),
            ("/market_cap", "2488795282370"),
            ("/sic_description", "ELECTRONIC COMPUTERS"),
            ("/homepage_url", "https://www.apple.com"),
            ("/description_prefix", "Apple designs a wide variety of consumer"),
        ],
    );
    let server = MockServer::start().await;
    polygon_get(path("/v3/reference/tickers/AAPL"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let profile = polygon_provider(&server).profile(&symbol("AAPL")).await.unwrap();
    eprintln!("recorded {FILE}: {:?} {:?}", profile.name, profile.market_cap);
    assert_eq!(profile.symbol, Some(symbol("AAPL")));
    assert_eq!(profile.name.as_deref(), Some("Apple Inc."));
    assert_eq!(profile.exchange.as_deref(), Some("XNAS"));
    assert_eq!(profile.currency.as_deref(), Some("USD"));
    assert_eq!(profile.country.as_deref(), Some("US"));
    assert_eq!(profile.industry.as_deref(), Some("ELECTRONIC COMPUTERS"));
    assert_eq!(profile.sector, None, "Polygon has no sector");
    assert_close(profile.market_cap, 2_488_795_282_370.0);
    assert_eq!(profile.website.as_deref(), Some("https://www.apple.com"));
    assert!(profile.description.unwrap().starts_with("Apple designs a wide variety of consumer"));
    assert_eq!(profile.provider, Some(ProviderId::Polygon));
}

#[tokio::test]
async fn polygon_news_page_becomes_news_items() {
    const FILE: &str = "polygon/v2_reference_news_NFLX.json";
    assert_facts(
        FILE,
        &[
            ("/n_results", "1"),
            ("/results/0/published_utc", "2022-04-28T17:08:00Z"),
            ("/results/0/publisher_name", "MarketWatch"),
            (
                "/results/0/article_url",
                "https://www.marketwatch.com/story/theres-a-big-hole-in-the-feds-theory-of-inflationincomes-are-falling-at-a-record-10-9-rate-11651165705",
            ),
        ],
    );
    let server = MockServer::start().await;
    polygon_get(path("/v2/reference/news"))
        .and(query_param("ticker", "NFLX"))
        .and(query_param("published_utc.gte", "2022-04-28T00:00:00Z"))
        .and(query_param("published_utc.lte", "2022-04-29T00:00:00Z"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let news = polygon_provider(&server)
        .news(&symbol("NFLX"), utc("2022-04-28T00:00:00Z"), utc("2022-04-29T00:00:00Z"))
        .await
        .unwrap();
    eprintln!("recorded {FILE}: {} items", news.len());
    assert_eq!(news.len(), 1);
    let item = &news[0];
    assert!(
        item.headline.starts_with("Theres a big hole in the Feds theory of inflation"),
        "{}",
        item.headline
    );
    assert!(item.url.ends_with("-11651165705"), "{}", item.url);
    assert_eq!(item.published_at, utc("2022-04-28T17:08:00Z"));
    assert_eq!(item.source.as_deref(), Some("MarketWatch"));
    assert!(item.summary.as_deref().unwrap().starts_with("If inflation is all due to"));
    assert_eq!(item.sentiment, None, "no insights in this recording");
    assert_eq!(item.provider, ProviderId::Polygon);
}

#[test]
fn polygon_news_insight_becomes_the_sentiment() {
    const FILE: &str = "polygon/doc_example_v2_reference_news_UBS_insights.json";
    assert_facts(
        FILE,
        &[
            ("/results/0/published_utc", "2024-06-24T18:33:53Z"),
            ("/results/0/insights/0/ticker", "UBS"),
            ("/results/0/insights/0/sentiment", "positive"),
            ("/results/0/publisher_name", "Investing.com"),
        ],
    );
    let day = (utc("2024-06-24T00:00:00Z"), utc("2024-06-25T00:00:00Z"));
    let news = providers::polygon::parse_news_body(&symbol("UBS"), &recorded(FILE), day.0, day.1).unwrap();
    assert_eq!(news.len(), 1);
    assert_eq!(news[0].sentiment, Some(1.0), "positive");
    assert_eq!(news[0].source.as_deref(), Some("Investing.com"));
    assert_eq!(news[0].published_at, utc("2024-06-24T18:33:53Z"));
    // The insight is about UBS: another ticker gets no sentiment from it, and outside the window
    // the article is left out.
    let other = providers::polygon::parse_news_body(&symbol("AAPL"), &recorded(FILE), day.0, day.1).unwrap();
    assert_eq!(other[0].sentiment, None);
    let before = providers::polygon::parse_news_body(
        &symbol("UBS"),
        &recorded(FILE),
        day.0,
        utc("2024-06-24T18:00:00Z"),
    )
    .unwrap();
    assert!(before.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Finnhub

/// A Finnhub GET with the key in `X-Finnhub-Token` and never in the URL.
fn finnhub_get(endpoint: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path(endpoint))
        .and(header("X-Finnhub-Token", KEY))
        .and(query_param_is_missing("token"))
}

#[tokio::test]
async fn finnhub_quote_with_time() {
    const FILE: &str = "finnhub/quote_AAPL_2026-05-22.json";
    assert_facts(
        FILE,
        &[
            ("/values/c", "308.82"),
            ("/values/d", "3.83"),
            ("/values/dp", "1.2558"),
            ("/values/h", "311.4"),
            ("/values/l", "305.84"),
            ("/values/o", "306.12"),
            ("/values/pc", "304.99"),
            ("/t/utc", "2026-05-22T20:00:00+00:00"),
        ],
    );
    let server = MockServer::start().await;
    finnhub_get("/quote")
        .and(query_param("symbol", "AAPL"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let quote = finnhub_provider(&server).quote(&symbol("AAPL")).await.unwrap();
    eprintln!("recorded {FILE}: quote {} at {}", quote.price, quote.ts);
    assert_close(Some(quote.price), 308.82);
    assert_close(quote.change, 3.83);
    assert_close(quote.change_percent, 1.2558);
    assert_close(quote.high, 311.4);
    assert_close(quote.low, 305.84);
    assert_close(quote.open, 306.12);
    assert_close(quote.previous_close, 304.99);
    assert_eq!(quote.volume, None);
    assert_eq!(quote.ts, utc("2026-05-22T20:00:00Z")); // 16:00 New York, the close
    assert_eq!((quote.provider, quote.source), (ProviderId::Finnhub, QuoteSource::Live));
}

#[tokio::test]
async fn finnhub_old_quote_without_time_is_as_of_now() {
    const FILE: &str = "finnhub/quote_AAPL_2020_docs_no_t.json";
    assert_facts(
        FILE,
        &[
            ("/has_t", "false"),
            ("/values/c", "261.74"),
            ("/values/h", "263.31"),
            ("/values/l", "260.68"),
            ("/values/o", "261.07"),
            ("/values/pc", "259.45"),
        ],
    );
    let server = MockServer::start().await;
    finnhub_get("/quote")
        .and(query_param("symbol", "AAPL"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let before = Utc::now();
    let quote = finnhub_provider(&server).quote(&symbol("AAPL")).await.unwrap();
    let after = Utc::now();
    eprintln!("recorded {FILE}: quote {} at {}", quote.price, quote.ts);
    assert_close(Some(quote.price), 261.74);
    assert_close(quote.high, 263.31);
    assert_close(quote.low, 260.68);
    assert_close(quote.open, 261.07);
    assert_close(quote.previous_close, 259.45);
    assert_eq!((quote.change, quote.change_percent), (None, None));
    assert!(before <= quote.ts && quote.ts <= after, "{} not in {before}..{after}", quote.ts);
}

#[tokio::test]
async fn finnhub_all_zero_quote_is_not_found() {
    const FILE: &str = "finnhub/quote_unknown_symbol_ZZZNOTASYMBOL.json";
    assert_facts(FILE, &[("/values/c", "0"), ("/values/t", "0"), ("/values/d", "null")]);
    let server = MockServer::start().await;
    finnhub_get("/quote").respond_with(reply(200, FILE)).expect(1).mount(&server).await;

    let err = finnhub_provider(&server).quote(&symbol("ZZZNOTASYMBOL")).await.unwrap_err();
    eprintln!("recorded {FILE}: {err}");
    assert!(matches!(&err, ProviderError::NotFound { provider: ProviderId::Finnhub, .. }), "{err:?}");
    assert!(err.to_string().contains("ZZZNOTASYMBOL"), "{err}");
}

#[tokio::test]
async fn finnhub_daily_candles_are_new_york_dates() {
    const FILE: &str = "finnhub/candle_AAPL_D_ok_2019-09-24_docs.json";
    assert_facts(
        FILE,
        &[
            ("/n_bars", "3"),
            ("/bars/0/utc", "2019-09-24T04:00:00+00:00"),
            ("/bars/0/o", "221.03"),
            ("/bars/0/c", "217.68"),
            ("/bars/0/v", "33463820"),
            ("/bars/1/new_york", "2019-09-25T00:00:00-04:00"),
            ("/bars/1/c", "221.03"),
            ("/bars/1/l", "217.1402"),
            ("/bars/2/new_york", "2019-09-26T00:00:00-04:00"),
            ("/bars/2/c", "219.89"),
            ("/bars/2/v", "20730608"),
        ],
    );
    let server = MockServer::start().await;
    // The window covers both readings of a date-like stamp: from 2019-09-24 00:00 UTC to the
    // last second before 2019-09-27 00:00 New York (04:00Z).
    finnhub_get("/stock/candle")
        .and(query_param("symbol", "AAPL"))
        .and(query_param("resolution", "D"))
        .and(query_param("from", "1569283200"))
        .and(query_param("to", "1569556799"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = finnhub_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2019-09-24", "2019-09-26"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::Finnhub);
    assert_eq!(series.basis, PriceBasis::SplitAdjusted);
    // Stamped 04:00 UTC = midnight New York: the New York dates.
    assert_eq!(dates(&series.bars), vec![date("2019-09-24"), date("2019-09-25"), date("2019-09-26")]);
    assert_close(series.bars[0].open, 221.03);
    assert_close(series.bars[0].close, 217.68);
    assert_eq!(series.bars[0].volume, Some(33_463_820));
    assert_close(series.bars[1].close, 221.03);
    assert_close(series.bars[1].low, 217.1402);
    assert_close(series.bars[2].close, 219.89);
    assert_eq!(series.bars[2].volume, Some(20_730_608));
}

#[tokio::test]
async fn finnhub_60_minute_candles_keep_their_utc_start() {
    const FILE: &str = "finnhub/candle_AAPL_60_ok_2020-07-02.json";
    assert_facts(
        FILE,
        &[
            ("/n_bars", "2"),
            ("/bars/0/utc", "2020-07-02T18:30:00+00:00"),
            ("/bars/0/c", "366.5698"),
            ("/bars/0/v", "2113793"),
            ("/bars/1/utc", "2020-07-02T19:30:00+00:00"),
            ("/bars/1/c", "366.19"),
            ("/bars/1/v", "656192"),
        ],
    );
    let server = MockServer::start().await;
    // New York's 2020-07-02 (EDT): 04:00Z to the last second before 2020-07-03T04:00Z.
    finnhub_get("/stock/candle")
        .and(query_param("resolution", "60"))
        .and(query_param("from", "1593662400"))
        .and(query_param("to", "1593748799"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = finnhub_provider(&server)
        .bars(&between("AAPL", Interval::Hour1, "2020-07-02", "2020-07-02"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Hour1, &series.bars);
    assert_series_shape(&series.bars, Interval::Hour1, ProviderId::Finnhub);
    assert_eq!(series.basis, PriceBasis::AsTraded);
    // As sent, at :30 (Finnhub's 60-minute alignment of that time).
    assert_eq!(
        series.bars.iter().map(|bar| bar.ts).collect::<Vec<_>>(),
        vec![utc("2020-07-02T18:30:00Z"), utc("2020-07-02T19:30:00Z")]
    );
    assert_close(series.bars[0].close, 366.5698);
    assert_eq!(series.bars[0].volume, Some(2_113_793));
    assert_close(series.bars[1].close, 366.19);
    assert_eq!(series.bars[1].volume, Some(656_192));
}

#[tokio::test]
async fn finnhub_premium_candles_are_an_entitlement_error() {
    const FILE: &str = "finnhub/candle_AAPL_D_403_premium.json";
    assert_facts(FILE, &[("/http_status", "403"), ("/error", "You don't have access to this resource.")]);
    let server = MockServer::start().await;
    finnhub_get("/stock/candle").respond_with(reply(403, FILE)).expect(1).mount(&server).await;

    let err = finnhub_provider(&server)
        .bars(&between("AAPL", Interval::Day1, "2024-04-29", "2024-05-03"))
        .await
        .unwrap_err();
    eprintln!("recorded {FILE}: {err}");
    assert!(matches!(&err, ProviderError::Entitlement { provider: ProviderId::Finnhub, .. }), "{err:?}");
    assert!(err.to_string().contains("You don't have access to this resource."), "{err}");
}

const NO_DATA: &str = "finnhub/candle_SPY_1_no_data.json";

#[tokio::test]
async fn finnhub_no_data_for_a_known_symbol_is_ok_and_empty() {
    assert_facts(NO_DATA, &[("/s", "no_data")]);
    let server = MockServer::start().await;
    // The recorded `{"s":"no_data"}` (asked for SPY in the issue; the body names no symbol) and
    // the recorded live AAPL quote, which says the symbol exists.
    finnhub_get("/stock/candle")
        .and(query_param("symbol", "AAPL"))
        .and(query_param("resolution", "1"))
        .respond_with(reply(200, NO_DATA))
        .expect(1)
        .mount(&server)
        .await;
    finnhub_get("/quote")
        .and(query_param("symbol", "AAPL"))
        .respond_with(reply(200, "finnhub/quote_AAPL_2026-05-22.json"))
        .expect(1)
        .mount(&server)
        .await;

    let series = finnhub_provider(&server)
        .bars(&between("AAPL", Interval::Min1, "2021-03-09", "2021-03-09"))
        .await
        .unwrap();
    print_summary(NO_DATA, Interval::Min1, &series.bars);
    assert!(series.bars.is_empty(), "{:?}", series.bars);
}

#[tokio::test]
async fn finnhub_no_data_for_an_unknown_symbol_is_not_found() {
    assert_facts(NO_DATA, &[("/s", "no_data")]);
    let server = MockServer::start().await;
    finnhub_get("/stock/candle").respond_with(reply(200, NO_DATA)).expect(1).mount(&server).await;
    finnhub_get("/quote")
        .and(query_param("symbol", "ZZZNOTASYMBOL"))
        .respond_with(reply(200, "finnhub/quote_unknown_symbol_ZZZNOTASYMBOL.json"))
        .expect(1)
        .mount(&server)
        .await;

    let err = finnhub_provider(&server)
        .bars(&between("ZZZNOTASYMBOL", Interval::Min1, "2021-03-09", "2021-03-09"))
        .await
        .unwrap_err();
    assert!(matches!(&err, ProviderError::NotFound { provider: ProviderId::Finnhub, .. }), "{err:?}");
    assert!(err.to_string().contains("ZZZNOTASYMBOL"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Alpha Vantage

/// One `/query` call for `function` and `symbol` with the configured key.
fn alpha_vantage_query(function: &str, sym: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/query"))
        .and(query_param("function", function))
        .and(query_param("symbol", sym))
        .and(query_param("apikey", KEY))
}

#[tokio::test]
async fn alpha_vantage_msft_daily_count_values_and_trimming() {
    const FILE: &str = "alpha_vantage/time_series_daily_MSFT_compact_2018-06-08.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "100"),
            ("/summary/first_date", "2018-01-17"),
            ("/summary/last_date", "2018-06-08"),
            ("/samples/first/2018-01-17/1. open", "89.0800"),
            ("/samples/first/2018-01-17/4. close", "90.1400"),
            ("/samples/first/2018-01-17/5. volume", "24659472"),
            ("/samples/last/2018-06-08/1. open", "101.0924"),
            ("/samples/last/2018-06-08/4. close", "101.6300"),
            ("/samples/last/2018-06-08/5. volume", "22165128"),
        ],
    );
    let server = MockServer::start().await;
    // 2018 is far more than 100 sessions back: `full` (the recording is `compact`, whose 100
    // sessions hold every date asked for here).
    alpha_vantage_query("TIME_SERIES_DAILY", "MSFT")
        .and(query_param("outputsize", "full"))
        .respond_with(reply(200, FILE))
        .expect(3)
        .mount(&server)
        .await;
    let provider = alpha_vantage_provider(&server);

    let series = provider.bars(&between("MSFT", Interval::Day1, "2018-01-17", "2018-06-08")).await.unwrap();
    print_summary(FILE, Interval::Day1, &series.bars);
    assert_eq!(series.bars.len(), 100);
    assert_series_shape(&series.bars, Interval::Day1, ProviderId::AlphaVantage);
    assert_eq!(series.basis, PriceBasis::AsTraded);
    let first = &series.bars[0];
    assert_eq!(first.date(), date("2018-01-17"));
    assert_close(first.open, 89.08);
    assert_close(first.close, 90.14);
    assert_eq!(first.volume, Some(24_659_472));
    let last = series.bars.last().unwrap();
    assert_eq!(last.date(), date("2018-06-08"));
    assert_close(last.open, 101.0924);
    assert_close(last.close, 101.63);
    assert_eq!(last.volume, Some(22_165_128));
    assert!(series.bars.iter().all(|bar| !bar.partial));

    // Dates outside the request are dropped. The file's keys from 2018-06-01 on are 06-01 and
    // 06-04..06-08 (06-02/03 is a weekend).
    let week = provider.bars(&between("MSFT", Interval::Day1, "2018-06-01", "2018-06-08")).await.unwrap();
    assert_eq!(
        dates(&week.bars),
        ["2018-06-01", "2018-06-04", "2018-06-05", "2018-06-06", "2018-06-07", "2018-06-08"]
            .map(date)
            .to_vec()
    );
    let since = BarsRequest {
        symbol: symbol("MSFT"),
        interval: Interval::Day1,
        span: Span::Since(date("2018-06-04")),
    };
    let since = provider.bars(&since).await.unwrap();
    assert_eq!(
        dates(&since.bars),
        ["2018-06-04", "2018-06-05", "2018-06-06", "2018-06-07", "2018-06-08"].map(date).to_vec()
    );
}

/// Recorded with Alpha Vantage's default `extended_hours=true` (keys up to 20:00:00). The
/// provider asks for `extended_hours=false` and also keeps only regular-session bars itself (as
/// every provider does for intraday bars), so the 45 rows from 16:00 to 20:00 are dropped and
/// the 55 of 11:25–15:55 remain.
///
/// Key labelling: the provider reads every key as the START of its bar (converted from US/Eastern
/// to UTC). In this 2021 recording a `20:00:00` key exists although the extended session ends at
/// 20:00, and the `16:00:00` key carries TSLA's closing price (729.40) with the closing-auction
/// volume (1 214 305); both suggest keys then labelled the END of the interval. If so, these
/// `ts` values are one interval (5 min) late for this recording. Not asserted either way here.
#[tokio::test]
async fn alpha_vantage_tsla_5min_times_are_converted_from_new_york() {
    const FILE: &str = "alpha_vantage/time_series_intraday_5min_TSLA_2021-04-23_extended_hours.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "100"),
            ("/meta/6. Time Zone", "US/Eastern"),
            ("/first_key", "2021-04-23 11:25:00"),
            ("/first_utc", "2021-04-23T15:25:00+00:00"),
            ("/last_key", "2021-04-23 20:00:00"),
            ("/last_utc", "2021-04-24T00:00:00+00:00"),
            ("/samples/first/2021-04-23 11:25:00/4. close", "734.7600"),
            ("/samples/first/2021-04-23 11:25:00/5. volume", "377744"),
            ("/samples/last/2021-04-23 20:00:00/4. close", "730.1000"),
            ("/samples/last/2021-04-23 20:00:00/5. volume", "5637"),
        ],
    );
    let server = MockServer::start().await;
    alpha_vantage_query("TIME_SERIES_INTRADAY", "TSLA")
        .and(query_param("interval", "5min"))
        .and(query_param("extended_hours", "false"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = alpha_vantage_provider(&server)
        .bars(&between("TSLA", Interval::Min5, "2021-04-23", "2021-04-23"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Min5, &series.bars);
    assert_eq!(series.bars.len(), 55, "11:25..15:55 of 100 recorded rows");
    assert_series_shape(&series.bars, Interval::Min5, ProviderId::AlphaVantage);
    let first = &series.bars[0];
    assert_eq!(first.ts, utc("2021-04-23T15:25:00Z")); // 11:25 EDT
    assert_close(first.close, 734.76);
    assert_eq!(first.volume, Some(377_744));
    let last = series.bars.last().unwrap();
    assert_eq!(last.ts, utc("2021-04-23T19:55:00Z")); // 15:55 EDT, the last regular-session start
    assert!(series.bars.iter().all(|bar| Exchange::US.in_regular_session(bar.ts)));
    assert!(series.bars.iter().all(|bar| !bar.partial));
}

#[tokio::test]
async fn alpha_vantage_msft_1min_times_are_converted_from_new_york() {
    const FILE: &str = "alpha_vantage/time_series_intraday_1min_MSFT_2017-12-18_during_session.json";
    assert_facts(
        FILE,
        &[
            ("/summary/n_bars", "100"),
            ("/first_utc", "2017-12-18T18:17:00+00:00"),
            ("/last_utc", "2017-12-18T19:56:00+00:00"),
            ("/samples/first/2017-12-18 13:17:00/1. open", "86.8101"),
            ("/samples/first/2017-12-18 13:17:00/4. close", "86.8000"),
            ("/samples/first/2017-12-18 13:17:00/5. volume", "31172"),
            ("/samples/last/2017-12-18 14:56:00/4. close", "86.5000"),
            ("/samples/last/2017-12-18 14:56:00/5. volume", "10494"),
        ],
    );
    let server = MockServer::start().await;
    alpha_vantage_query("TIME_SERIES_INTRADAY", "MSFT")
        .and(query_param("interval", "1min"))
        .respond_with(reply(200, FILE))
        .expect(1)
        .mount(&server)
        .await;

    let series = alpha_vantage_provider(&server)
        .bars(&between("MSFT", Interval::Min1, "2017-12-18", "2017-12-18"))
        .await
        .unwrap();
    print_summary(FILE, Interval::Min1, &series.bars);
    assert_eq!(series.bars.len(), 100);
    assert_series_shape(&series.bars, Interval::Min1, ProviderId::AlphaVantage);
    // December: EST, UTC-5.
    assert_eq!(series.bars[0].ts, utc("2017-12-18T18:17:00Z"));
    assert_close(series.bars[0].open, 86.8101);
    assert_close(series.bars[0].close, 86.8);
    assert_eq!(series.bars[0].volume, Some(31_172));
    let last = series.bars.last().unwrap();
    assert_eq!(last.ts, utc("2017-12-18T19:56:00Z"));
    assert_close(last.close, 86.5);
    assert_eq!(last.volume, Some(10_494));
    assert!(series.bars.iter().all(|bar| Exchange::US.in_regular_session(bar.ts) && !bar.partial));
}

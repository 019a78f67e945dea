//! Fuzzing every vendor parser with proptest: arbitrary bytes, real recorded responses with
//! random damage (flipped, inserted and deleted bytes, truncation), and well-formed JSON in each
//! vendor's shape with hostile values (huge, negative and fractional times, NaN-like strings,
//! columns of the wrong length, every JSON type where a number belongs). The property: a parser
//! returns `Ok` or `Err`, never panics, and what it returns is sane (bars sorted, one per key,
//! finite prices).
//!
//! `cargo fuzz` would need a nightly toolchain, which CI does not have; proptest runs on stable
//! within the normal test run. The number of cases per test is `PROPTEST_CASES` (default 256 here,
//! a few seconds in a debug build); raise it for a longer local run, e.g.
//! `PROPTEST_CASES=20000 cargo test -p providers --test parsers_fuzz --release`.

use std::path::Path;

use chrono::{DateTime, Utc};
use domain::{Bar, DateRange, Interval, Symbol};
use proptest::prelude::*;
use providers::{alpha_vantage, finnhub, polygon, yahoo};

fn symbols() -> impl Strategy<Value = Symbol> {
    prop_oneof![
        Just("AAPL"),
        Just("BHP.AX"),
        Just("BTC-USD"),
        Just("EURUSD=X"),
        Just("7203.T"),
        Just("^GSPC"),
        Just("GS2C.DE")
    ]
    .prop_map(|s| Symbol::parse(s).expect("valid symbol"))
}

fn intervals() -> impl Strategy<Value = Interval> {
    proptest::sample::select(Interval::ALL.to_vec())
}

/// Any instant from about 1700 to 2200 (and so every daylight-saving regime of the tz database).
fn instants() -> impl Strategy<Value = DateTime<Utc>> {
    (-8_000_000_000_i64..8_000_000_000).prop_map(|s| DateTime::from_timestamp(s, 0).expect("in range"))
}

fn date_ranges() -> impl Strategy<Value = Option<DateRange>> {
    proptest::option::of((instants(), 0_u32..4000).prop_map(|(from, days)| {
        let from = from.date_naive();
        let to = from.checked_add_days(chrono::Days::new(u64::from(days))).unwrap_or(from);
        DateRange::new(from, to).expect("ordered")
    }))
}

/// The recorded responses of one vendor, as bytes.
fn corpus(vendor: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/recorded").join(vendor);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files.iter().map(|path| std::fs::read(path).expect("read corpus file")).collect()
}

/// One random edit of a byte string.
#[derive(Debug, Clone)]
enum Edit {
    Flip {
        at: f64,
        mask: u8,
    },
    Insert {
        at: f64,
        byte: u8,
    },
    Delete {
        at: f64,
        len: usize,
    },
    Truncate {
        at: f64,
    },
    /// Replaces a digit run's neighbourhood with a value that stresses number parsing.
    Splice {
        at: f64,
        text: &'static str,
    },
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let at = 0.0_f64..1.0;
    let edit = prop_oneof![
        (at.clone(), 1_u8..=255).prop_map(|(at, mask)| Edit::Flip { at, mask }),
        (at.clone(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert { at, byte }),
        (at.clone(), 1_usize..64).prop_map(|(at, len)| Edit::Delete { at, len }),
        at.clone().prop_map(|at| Edit::Truncate { at }),
        (
            at,
            proptest::sample::select(vec![
                "1e308",
                "-1e308",
                "1e999",
                "-0",
                "null",
                "\"NaN\"",
                "9223372036854775808",
                "-9223372036854775809",
                "[]",
                "{}",
                "\"\"",
                "true",
                "0.0000000000000000000001",
                "18446744073709551616",
            ])
        )
            .prop_map(|(at, text)| Edit::Splice { at, text }),
    ];
    proptest::collection::vec(edit, 1..8)
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    let position = |at: f64, len: usize| ((at * len as f64) as usize).min(len);
    for edit in edits {
        let len = bytes.len();
        match *edit {
            Edit::Flip { at, mask } if len > 0 => {
                let i = position(at, len - 1);
                bytes[i] ^= mask;
            }
            Edit::Flip { .. } => {}
            Edit::Insert { at, byte } => bytes.insert(position(at, len), byte),
            Edit::Delete { at, len: n } => {
                let start = position(at, len);
                bytes.drain(start..(start + n).min(len));
            }
            Edit::Truncate { at } => bytes.truncate(position(at, len)),
            Edit::Splice { at, text } => {
                let start = position(at, len);
                let end = (start + text.len()).min(len);
                bytes.splice(start..end, text.bytes());
            }
        }
    }
    bytes
}

/// What every parser's bars must satisfy when it returns them.
fn check_bars(bars: &[Bar]) -> Result<(), TestCaseError> {
    prop_assert!(bars.windows(2).all(|w| w[0].ts < w[1].ts), "bars not sorted and unique");
    for bar in bars {
        for price in [bar.open, bar.high, bar.low, bar.close, bar.adj_close].into_iter().flatten() {
            prop_assert!(price.is_finite(), "non-finite price in {bar:?}");
        }
    }
    Ok(())
}

/// Every parser on one body. Each may fail; none may panic or return insane bars.
fn parse_all(
    symbol: &Symbol,
    interval: Interval,
    body: &[u8],
    now: DateTime<Utc>,
    dates: Option<DateRange>,
) -> Result<(), TestCaseError> {
    if let Ok(chart) = yahoo::parse_chart(symbol, interval, body, now) {
        check_bars(&chart.bars)?;
    }
    if let Ok(bars) = polygon::parse_aggs_body(symbol, interval, body, now) {
        check_bars(&bars)?;
    }
    if let Ok(bars) = finnhub::parse_candles_body(symbol, interval, body, now) {
        check_bars(&bars)?;
    }
    if let Ok(Some(quote)) = finnhub::parse_quote_body(symbol, body, now) {
        prop_assert!(quote.price.is_finite() && quote.price != 0.0);
    }
    if let Ok(bars) = alpha_vantage::parse_series_body(symbol, interval, body, dates, now) {
        check_bars(&bars)?;
    }
    if let Ok(actions) = polygon::parse_reference_body(symbol, body) {
        let sane = |a: &domain::CorporateAction| match a.kind {
            domain::CorporateActionKind::Split { .. } => a.kind.split_ratio().is_some(),
            domain::CorporateActionKind::Dividend { amount } => amount.is_finite() && amount >= 0.0,
        };
        prop_assert!(actions.iter().all(sane), "insane corporate action in {:?}", actions);
    }
    if let Ok(profile) = polygon::parse_ticker_details_body(symbol, body) {
        prop_assert!(profile.market_cap.is_none_or(|m| m.is_finite() && m > 0.0), "{:?}", profile);
    }
    if let Ok(news) = polygon::parse_news_body(symbol, body, DateTime::<Utc>::MIN_UTC, now) {
        prop_assert!(news.iter().all(|n| n.published_at <= now && !n.url.is_empty()), "{:?}", news);
        prop_assert!(news.iter().all(|n| n.sentiment.is_none_or(|s| (-1.0..=1.0).contains(&s))));
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// Any JSON value, nested a little: what a vendor could put where a number belongs.
fn json_values() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("JSON has no NaN", |f| f.is_finite()).prop_map(|f| json!(f)),
        "[0-9a-zA-Z.: -]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A column: mostly numbers, sometimes anything.
fn columns(len: usize) -> impl Strategy<Value = Vec<serde_json::Value>> {
    proptest::collection::vec(
        prop_oneof![
            8 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f)),
            2 => Just(serde_json::Value::Null),
            1 => json_values(),
        ],
        len..=len + 1,
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
        dates in date_ranges(),
    ) {
        parse_all(&symbol, interval, &body, now, dates)?;
    }

    #[test]
    fn damaged_yahoo_recordings_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
    ) {
        let files = corpus("yahoo");
        let body = apply(pick.get(&files).clone(), &edits);
        if let Ok(chart) = yahoo::parse_chart(&symbol, interval, &body, now) {
            check_bars(&chart.bars)?;
        }
    }

    #[test]
    fn damaged_polygon_finnhub_and_alpha_vantage_recordings_never_panic(
        vendor in proptest::sample::select(vec!["polygon", "finnhub", "alpha_vantage"]),
        pick in any::<prop::sample::Index>(),
        edits in edits(),
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
        dates in date_ranges(),
    ) {
        let files = corpus(vendor);
        let body = apply(pick.get(&files).clone(), &edits);
        parse_all(&symbol, interval, &body, now, dates)?;
    }

    #[test]
    fn yahoo_shaped_charts_with_hostile_values_never_panic(
        n in 0_usize..12,
        timestamps in proptest::collection::vec(prop_oneof![any::<i64>(), -10_000_000_000_i64..10_000_000_000], 0..14),
        open in columns(6), close in columns(6), volume in columns(6), adjclose in columns(6),
        zone in prop_oneof![Just("America/New_York"), Just("Australia/Sydney"), Just("UTC"), Just("Mars/Base"), Just("")],
        split in json_values(),
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
    ) {
        let _ = n;
        let body = serde_json::json!({"chart": {"result": [{
            "meta": {"exchangeTimezoneName": zone, "regularMarketPrice": 1.0},
            "timestamp": timestamps,
            "events": {"splits": {"1": {"date": timestamps.first().copied().unwrap_or(0), "numerator": split, "denominator": 1}}},
            "indicators": {"quote": [{"open": open, "high": close.clone(), "low": open.clone(), "close": close, "volume": volume}],
                           "adjclose": [{"adjclose": adjclose}]}
        }], "error": null}});
        let body = serde_json::to_vec(&body).expect("serialise");
        if let Ok(chart) = yahoo::parse_chart(&symbol, interval, &body, now) {
            check_bars(&chart.bars)?;
        }
    }

    #[test]
    fn polygon_and_finnhub_shaped_bodies_with_hostile_values_never_panic(
        times in proptest::collection::vec(prop_oneof![any::<i64>(), -10_000_000_000_000_i64..10_000_000_000_000], 0..10),
        prices in columns(5),
        count in json_values(),
        status in prop_oneof![Just("ok"), Just("no_data"), Just("OK"), Just("weird")],
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
    ) {
        let results: Vec<serde_json::Value> = times
            .iter()
            .zip(prices.iter().cycle())
            .map(|(t, p)| serde_json::json!({"t": t, "o": p, "h": p, "l": p, "c": p, "v": p}))
            .collect();
        let aggs = serde_json::json!({"resultsCount": count, "results": results, "status": status});
        let aggs = serde_json::to_vec(&aggs).expect("serialise");
        if let Ok(bars) = polygon::parse_aggs_body(&symbol, interval, &aggs, now) {
            check_bars(&bars)?;
        }
        let seconds: Vec<i64> = times.iter().map(|t| t / 1000).collect();
        let candles = serde_json::json!({"s": status, "t": seconds, "o": prices, "h": prices, "l": prices, "c": prices, "v": prices});
        let candles = serde_json::to_vec(&candles).expect("serialise");
        if let Ok(bars) = finnhub::parse_candles_body(&symbol, interval, &candles, now) {
            check_bars(&bars)?;
        }
        let quote = serde_json::json!({"c": prices.first(), "t": times.first(), "pc": count, "d": null});
        let _ = finnhub::parse_quote_body(&symbol, &serde_json::to_vec(&quote).expect("serialise"), now);
    }

    #[test]
    fn alpha_vantage_shaped_series_with_hostile_values_never_panic(
        stamps in proptest::collection::vec("[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?", 0..8),
        values in proptest::collection::vec("[0-9eE.+-]{0,10}|None|-", 5),
        zone in prop_oneof![Just("US/Eastern"), Just("Asia/Tokyo"), Just("Nowhere/City")],
        symbol in symbols(),
        interval in intervals(),
        now in instants(),
        dates in date_ranges(),
    ) {
        let bar = serde_json::json!({"1. open": values[0], "2. high": values[1], "3. low": values[2], "4. close": values[3], "5. volume": values[4]});
        let series: serde_json::Map<String, serde_json::Value> = stamps.iter().map(|s| (s.clone(), bar.clone())).collect();
        for key in ["Time Series (Daily)", "Time Series (5min)", "Time Series (60min)"] {
            let body = serde_json::json!({"Meta Data": {"6. Time Zone": zone}, key: series});
            let body = serde_json::to_vec(&body).expect("serialise");
            if let Ok(bars) = alpha_vantage::parse_series_body(&symbol, interval, &body, dates, now) {
                check_bars(&bars)?;
            }
        }
    }
}

/// The undamaged corpus parses (as far as each file is the parser's kind): the fuzz tests start
/// from real, working inputs.
#[test]
fn the_corpus_itself_parses() {
    let now = Utc::now();
    let aapl = Symbol::parse("AAPL").expect("symbol");
    let parsed_charts = corpus("yahoo")
        .iter()
        .filter(|body| yahoo::parse_chart(&aapl, Interval::Day1, body, now).is_ok())
        .count();
    assert!(parsed_charts >= 10, "{parsed_charts} Yahoo charts parsed");
    let parsed_series = corpus("alpha_vantage")
        .iter()
        .filter(|body| {
            alpha_vantage::parse_series_body(&aapl, Interval::Day1, body, None, now)
                .is_ok_and(|b| !b.is_empty())
                || alpha_vantage::parse_series_body(&aapl, Interval::Min5, body, None, now)
                    .is_ok_and(|b| !b.is_empty())
                || alpha_vantage::parse_series_body(&aapl, Interval::Min1, body, None, now)
                    .is_ok_and(|b| !b.is_empty())
        })
        .count();
    assert!(parsed_series >= 3, "{parsed_series} Alpha Vantage series parsed");
}

//! The binary against a mock Yahoo server: the chain's fallback and "bad input loses nothing".

use std::process::Output;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn chart(n_bars: usize) -> String {
    test_support::yahoo_chart_json("AAPL", n_bars, 1_704_205_800)
}

async fn run(db_url: &str, yahoo: &str, order: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env("TICKERWATCH_DATABASE__URL", db_url)
        .env("TICKERWATCH_PROVIDERS__ORDER", order)
        .env("TICKERWATCH_PROVIDERS__YAHOO__BASE_URL", yahoo)
        .env("TICKERWATCH_PROVIDERS__YAHOO__MAX_RETRIES", "1")
        .env("TICKERWATCH_PROVIDERS__YAHOO__BACKOFF_BASE_MS", "1")
        .env("TICKERWATCH_PROVIDERS__YAHOO__TIMEOUT_SECS", "2");
    command.output().await.unwrap()
}

fn bar_lines(output: &Output) -> usize {
    String::from_utf8_lossy(&output.stdout).lines().count().saturating_sub(1)
}

#[tokio::test]
async fn yahoo_fetch_then_bad_bodies_leave_stored_bars_intact() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_string(chart(20)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let ok = run(&db, &server.uri(), "[\"yahoo\"]", &["fetch", "AAPL", "--from", "2024-01-01"]).await;
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("yahoo"));
    let stored = run(&db, &server.uri(), "[\"yahoo\"]", &["bars", "AAPL", "--format", "csv"]).await;
    assert_eq!(bar_lines(&stored), 20);

    let bad_bodies = [
        ResponseTemplate::new(200).set_body_string("{\"chart\":{\"result\":[{\"meta\":{"),
        ResponseTemplate::new(200).set_body_string("not json at all"),
        ResponseTemplate::new(502).set_body_string("<html><title>502 Bad Gateway</title></html>"),
        ResponseTemplate::new(404).set_body_string(
            r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
        ),
    ];
    for body in bad_bodies {
        server.reset().await;
        Mock::given(method("GET")).respond_with(body).mount(&server).await;
        let failed = run(&db, &server.uri(), "[\"yahoo\"]", &["fetch", "AAPL", "--from", "2024-01-01"]).await;
        assert_eq!(failed.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(stderr.contains("AAPL") && stderr.contains("yahoo"), "{stderr}");
        let stored = run(&db, &server.uri(), "[\"yahoo\"]", &["bars", "AAPL", "--format", "csv"]).await;
        assert_eq!(bar_lines(&stored), 20, "stored bars changed after: {stderr}");
    }
}

#[tokio::test]
async fn failing_vendor_falls_back_to_sample_and_rows_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).set_body_string("Edge: Too Many Requests"))
        .expect(2) // one try and one retry
        .mount(&server)
        .await;
    let out = run(&db, &server.uri(), "[\"yahoo\",\"sample\"]", &["fetch", "MSFT", "--range", "5d"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("sample"));
    let csv = run(&db, &server.uri(), "[\"sample\"]", &["bars", "MSFT", "--format", "csv"]).await;
    let text = String::from_utf8_lossy(&csv.stdout);
    assert!(text.lines().skip(1).all(|l| l.ends_with(",sample,false,")), "{text}");
}

/// Mock vendors serving AAPL for the trading week of 6–10 May 2024, each in its own format and
/// with its own way of stamping a day: Yahoo at the session open (13:30Z), Polygon and Finnhub at
/// midnight New York (04:00Z in May), Alpha Vantage by bare date. Polygon's close of 8 May is
/// 1 % off, Alpha Vantage's volume of 7 May 10 % off, Finnhub agrees everywhere.
struct FourVendors {
    yahoo: MockServer,
    polygon: MockServer,
    alpha_vantage: MockServer,
    finnhub: MockServer,
}

const WEEK: [&str; 5] = ["2024-05-06", "2024-05-07", "2024-05-08", "2024-05-09", "2024-05-10"];
const CLOSES: [f64; 5] = [181.71, 182.40, 182.74, 184.57, 183.05];
const VOLUMES: [i64; 5] = [78_569_700, 77_305_800, 45_057_100, 48_983_000, 50_759_500];

fn midnight_new_york(day: usize) -> i64 {
    // 2024-05-06T04:00:00Z, then one day apart (no DST change that week).
    1_714_968_000 + day as i64 * 86_400
}

impl FourVendors {
    async fn start() -> Self {
        let vendors = Self {
            yahoo: MockServer::start().await,
            polygon: MockServer::start().await,
            alpha_vantage: MockServer::start().await,
            finnhub: MockServer::start().await,
        };
        let open = |c: f64| c - 1.0;
        let (high, low) = (|c: f64| c + 2.0, |c: f64| c - 3.0);

        let yahoo = serde_json::json!({"chart": {"result": [{
            "meta": {"symbol": "AAPL", "exchangeTimezoneName": "America/New_York", "regularMarketPrice": 183.05},
            "timestamp": (0..5).map(|d| midnight_new_york(d) + 9 * 3600 + 1800).collect::<Vec<_>>(),
            "indicators": {"quote": [{
                "open": CLOSES.map(open), "high": CLOSES.map(high), "low": CLOSES.map(low),
                "close": CLOSES, "volume": VOLUMES}],
                "adjclose": [{"adjclose": CLOSES}]}}], "error": null}});
        Mock::given(path("/v8/finance/chart/AAPL"))
            .respond_with(ResponseTemplate::new(200).set_body_json(yahoo))
            .mount(&vendors.yahoo)
            .await;

        let polygon_results: Vec<_> = (0..5)
            .map(|d| {
                let close = if d == 2 { CLOSES[d] * 1.01 } else { CLOSES[d] };
                serde_json::json!({"t": midnight_new_york(d) * 1000, "o": open(CLOSES[d]), "h": high(close), "l": low(CLOSES[d]), "c": close, "v": VOLUMES[d] as f64 + 0.4, "n": 1})
            })
            .collect();
        Mock::given(path("/v2/aggs/ticker/AAPL/range/1/day/2024-05-06/2024-05-10"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "ticker": "AAPL", "queryCount": 5, "resultsCount": 5, "adjusted": false,
                "results": polygon_results, "status": "OK", "request_id": "x"})))
            .expect(1)
            .mount(&vendors.polygon)
            .await;

        let series: serde_json::Map<String, serde_json::Value> = (0..5)
            .map(|d| {
                let volume = if d == 1 { (VOLUMES[d] as f64 * 1.1).round() as i64 } else { VOLUMES[d] };
                (
                    WEEK[d].to_owned(),
                    serde_json::json!({"1. open": format!("{:.4}", open(CLOSES[d])), "2. high": format!("{:.4}", high(CLOSES[d])),
                        "3. low": format!("{:.4}", low(CLOSES[d])), "4. close": format!("{:.4}", CLOSES[d]), "5. volume": volume.to_string()}),
                )
            })
            .collect();
        Mock::given(path("/query"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "Meta Data": {"1. Information": "Daily Prices (open, high, low, close) and Volumes", "2. Symbol": "AAPL",
                              "3. Last Refreshed": "2024-05-10", "4. Output Size": "Full size", "5. Time Zone": "US/Eastern"},
                "Time Series (Daily)": series})))
            .expect(1)
            .mount(&vendors.alpha_vantage)
            .await;

        Mock::given(path("/stock/candle"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "s": "ok", "t": (0..5).map(midnight_new_york).collect::<Vec<_>>(),
                "o": CLOSES.map(open), "h": CLOSES.map(high), "l": CLOSES.map(low), "c": CLOSES, "v": VOLUMES})))
            .expect(1)
            .mount(&vendors.finnhub)
            .await;
        vendors
    }

    async fn run(&self, db_url: &str, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
        command
            .args(args)
            .env_remove("RUST_LOG")
            .env("TICKERWATCH_DATABASE__URL", db_url)
            .env("TICKERWATCH_PROVIDERS__ORDER", "[\"yahoo\",\"polygon\",\"alpha_vantage\",\"finnhub\"]")
            .env("TICKERWATCH_PROVIDERS__YAHOO__BASE_URL", self.yahoo.uri())
            .env("TICKERWATCH_PROVIDERS__POLYGON__BASE_URL", self.polygon.uri())
            .env("TICKERWATCH_PROVIDERS__POLYGON__API_KEY", "pk_test")
            .env("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__BASE_URL", self.alpha_vantage.uri())
            .env("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__API_KEY", "av_test")
            .env("TICKERWATCH_PROVIDERS__FINNHUB__BASE_URL", self.finnhub.uri())
            .env("TICKERWATCH_PROVIDERS__FINNHUB__API_KEY", "fh_test");
        command.output().await.unwrap()
    }
}

/// The issue's repro: `fetch AAPL` through yahoo, then polygon, then alpha_vantage (and
/// finnhub) used to store one row per provider and date. Now each trading day has one row (the
/// preferred provider's, Yahoo's) and the differences are listed as disagreements.
#[tokio::test]
async fn four_providers_in_turn_leave_one_row_per_trading_day_and_the_disagreements() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let vendors = FourVendors::start().await;
    for provider in ["yahoo", "polygon", "alpha_vantage", "finnhub"] {
        let out = vendors
            .run(
                &db,
                &["fetch", "AAPL", "--provider", provider, "--from", "2024-05-06", "--to", "2024-05-10"],
            )
            .await;
        assert!(out.status.success(), "{provider}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(provider), "{provider}");
    }

    let csv = vendors.run(&db, &["bars", "AAPL", "--format", "csv", "--show-disagreements"]).await;
    assert!(csv.status.success(), "{}", String::from_utf8_lossy(&csv.stderr));
    let text = String::from_utf8_lossy(&csv.stdout);
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|line| line.split(',').collect()).collect();
    let dates: Vec<&str> = rows.iter().map(|row| row[2]).collect();
    assert_eq!(dates, WEEK, "one row per trading day:\n{text}");
    assert!(rows.iter().all(|row| row[9] == "yahoo"), "the preferred provider's rows:\n{text}");
    let closes: Vec<f64> = rows.iter().map(|row| row[6].parse().unwrap()).collect();
    assert_eq!(closes, CLOSES);
    let volumes: Vec<i64> = rows.iter().map(|row| row[8].parse().unwrap()).collect();
    assert_eq!(volumes, VOLUMES);

    // The disagreements go to stderr after csv: Polygon's close (and high, built on it) of
    // 8 May, Alpha Vantage's volume of 7 May. Finnhub agreed, and Polygon's fractional volumes
    // rounded to Yahoo's.
    let listed = String::from_utf8_lossy(&csv.stderr);
    eprintln!("four providers in turn: {} rows for {} trading days\n{listed}", rows.len(), WEEK.len());
    assert!(listed.contains("3 disagreement(s)"), "{listed}");
    let lines: Vec<&str> = listed.lines().filter(|l| l.contains("2024-05-0")).collect();
    assert_eq!(lines.len(), 3, "{listed}");
    assert!(
        lines.iter().any(|l| l.contains("2024-05-08")
            && l.contains("close")
            && l.contains("polygon")
            && l.contains("+1.00%")),
        "{listed}"
    );
    assert!(
        lines.iter().any(|l| l.contains("2024-05-08") && l.contains("high") && l.contains("polygon")),
        "{listed}"
    );
    assert!(
        lines.iter().any(|l| l.contains("2024-05-07")
            && l.contains("volume")
            && l.contains("alpha_vantage")
            && l.contains("+10.00%")),
        "{listed}"
    );
    assert!(!listed.contains("finnhub"), "{listed}");
}

/// `--to D` is the last trading day fetched: Alpha Vantage returns its whole series, and only
/// 7 May 2020 is stored for `--from 2020-05-07 --to 2020-05-07` (the old code stored 8 May too).
#[tokio::test]
async fn to_is_the_last_day_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;
    let bar = |c: &str| serde_json::json!({"1. open": c, "2. high": c, "3. low": c, "4. close": c, "5. volume": "100"});
    Mock::given(path("/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "Meta Data": {"2. Symbol": "IBM", "5. Time Zone": "US/Eastern"},
            "Time Series (Daily)": {"2020-05-08": bar("122.9900"), "2020-05-07": bar("121.2300"), "2020-05-06": bar("123.1700")}})))
        .expect(1)
        .mount(&server)
        .await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
    command
        .args(["fetch", "IBM", "--provider", "alpha_vantage", "--from", "2020-05-07", "--to", "2020-05-07"])
        .env_remove("RUST_LOG")
        .env("TICKERWATCH_DATABASE__URL", &db)
        .env("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__BASE_URL", server.uri())
        .env("TICKERWATCH_PROVIDERS__ALPHA_VANTAGE__API_KEY", "demo_key_for_tests");
    let out = command.output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = run(&db, &server.uri(), "[\"sample\"]", &["bars", "IBM", "--format", "csv"]).await;
    let text = String::from_utf8_lossy(&stored.stdout);
    assert_eq!(bar_lines(&stored), 1, "{text}");
    assert!(text.contains("IBM,1d,2020-05-07,121.23,"), "{text}");
}

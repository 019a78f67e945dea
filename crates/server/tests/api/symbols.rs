//! `/api/symbols`: bars, disagreements, quotes and indicators, and their bad inputs.

use axum::http::{Method, StatusCode};
use chrono::{TimeZone, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use serde_json::{Value, json};
use server::ServerConfig;

use crate::helpers::{TestApp, bar, day};

#[tokio::test]
async fn bars_are_served_from_storage_with_exact_values() {
    let app = TestApp::new().await;
    let mut bars = vec![
        bar(day(2024, 1, 2), Some(100.5)),
        bar(day(2024, 1, 3), None),
        bar(day(2024, 1, 4), Some(102.25)),
    ];
    bars[0].flag = Some("jump".to_owned());
    app.store_bars("AAPL", &bars).await;

    let body = app.get("/api/symbols/aapl/bars?from=2024-01-01&to=2024-12-31&interval=1d").await.ok();
    assert_eq!(body["symbol"], "AAPL");
    assert_eq!(body["interval"], "1d");
    assert_eq!(body["count"], 3);
    assert_eq!(body["truncated"], false);
    assert_eq!(
        body["bars"][0],
        json!({"date": "2024-01-02", "open": 99.5, "high": 102.5, "low": 98.5, "close": 100.5,
               "adj_close": null, "volume": 1000, "provider": "sample", "partial": false, "flag": "jump"})
    );
    // Missing values are null, never 0.
    assert_eq!(body["bars"][1]["close"], Value::Null);
    assert_eq!(body["bars"][1]["open"], Value::Null);
    assert_eq!(body["bars"][2]["close"], 102.25);

    // `to` is inclusive, `from` too.
    let one = app.get("/api/symbols/AAPL/bars?from=2024-01-03&to=2024-01-03").await.ok();
    assert_eq!(one["count"], 1);
    assert_eq!(one["bars"][0]["date"], "2024-01-03", "a trading day has a date");
    assert!(one["bars"][0].get("ts").is_none());
    // Truncation is said, not silent.
    let first = app.get("/api/symbols/AAPL/bars?limit=2").await.ok();
    assert_eq!((first["count"].as_u64(), first["truncated"].as_bool()), (Some(2), Some(true)));
    // An unknown (valid) symbol has no bars.
    assert_eq!(app.get("/api/symbols/ZZZZ/bars").await.ok()["bars"], json!([]));
}

#[tokio::test]
async fn bars_keep_their_exact_json_and_the_uncached_route_sees_new_bars_at_once() {
    let app = TestApp::with_config(ServerConfig { bars_cache_ttl_ms: 0, ..ServerConfig::default() }).await;
    let aapl = Symbol::parse("AAPL").unwrap();
    let preference = domain::reconcile::ProviderPreference::default();
    // Five-minute bars of the New York session of 2 January 2024 (14:30Z is 9:30 there).
    let open = Utc.with_ymd_and_hms(2024, 1, 2, 14, 30, 0).unwrap();
    let mut intraday: Vec<Bar> =
        (0..3).map(|i| bar(open + chrono::Duration::minutes(5 * i), Some(100.5 + i as f64))).collect();
    intraday[1].flag = Some("jump".to_owned());
    intraday[1].volume = None;
    intraday[2].partial = true;
    app.storage.upsert_bars(&aapl, Interval::Min5, &intraday, &preference).await.unwrap();

    let five = "/api/symbols/AAPL/bars?interval=5m&from=2024-01-02&to=2024-01-02";
    // Byte for byte: field order, `ts` (not `date`) for intraday bars, nulls, integers.
    assert_eq!(
        String::from_utf8(app.get(five).await.body).unwrap(),
        r#"{"symbol":"AAPL","interval":"5m","bars":[{"ts":"2024-01-02T14:30:00Z","open":99.5,"high":102.5,"low":98.5,"close":100.5,"adj_close":null,"volume":1000,"provider":"sample","partial":false,"flag":null},{"ts":"2024-01-02T14:35:00Z","open":100.5,"high":103.5,"low":99.5,"close":101.5,"adj_close":null,"volume":null,"provider":"sample","partial":false,"flag":"jump"},{"ts":"2024-01-02T14:40:00Z","open":101.5,"high":104.5,"low":100.5,"close":102.5,"adj_close":null,"volume":1000,"provider":"sample","partial":true,"flag":null}],"count":3,"truncated":false}"#
    );
    let limited = app.get(&format!("{five}&limit=2")).await.ok();
    assert_eq!((limited["count"].as_u64(), limited["truncated"].as_bool()), (Some(2), Some(true)));
    // The day before and after in New York hold none of them.
    let other_day = app.get("/api/symbols/AAPL/bars?interval=5m&from=2024-01-03&to=2024-01-05").await.ok();
    assert_eq!(other_day["count"], 0);

    app.store_bars("AAPL", &[bar(day(2024, 1, 2), Some(100.0))]).await;
    let daily = "/api/symbols/AAPL/bars?from=2024-01-01&to=2024-01-31";
    assert_eq!(
        String::from_utf8(app.get(daily).await.body).unwrap(),
        r#"{"symbol":"AAPL","interval":"1d","bars":[{"date":"2024-01-02","open":99.0,"high":102.0,"low":98.0,"close":100.0,"adj_close":null,"volume":1000,"provider":"sample","partial":false,"flag":null}],"count":1,"truncated":false}"#
    );
    // No cache: a bar stored now is served by the very next request.
    app.store_bars("AAPL", &[bar(day(2024, 1, 3), Some(101.0))]).await;
    assert_eq!(app.get(daily).await.ok()["count"], 2);

    // The read pool is visible in the metrics.
    let metrics = String::from_utf8(app.get("/metrics").await.body).unwrap();
    assert!(metrics.contains("sqlite_read_connections_max 4"), "{metrics}");
    assert!(metrics.contains("sqlite_read_connections_open "), "{metrics}");
}

#[tokio::test]
async fn disagreements_between_providers_are_listed() {
    let app = TestApp::new().await;
    let sample: Vec<Bar> = (2..5).map(|d| bar(day(2024, 1, d), Some(100.0))).collect();
    app.store_bars("AAPL", &sample).await;
    // Yahoo is preferred over the sample: its days replace the sample's, and where they differ
    // beyond the tolerance the difference is listed.
    let mut yahoo = sample.clone();
    for bar in &mut yahoo {
        bar.provider = ProviderId::Yahoo;
    }
    yahoo[1].close = Some(103.0);
    app.store_bars("AAPL", &yahoo).await;

    let body = app.get("/api/symbols/AAPL/disagreements?from=2024-01-01&to=2024-01-31").await.ok();
    assert_eq!(
        (body["symbol"].as_str(), body["interval"].as_str(), body["count"].as_u64()),
        (Some("AAPL"), Some("1d"), Some(1))
    );
    assert_eq!(
        body["disagreements"][0],
        json!({"date": "2024-01-03", "field": "close", "kept_provider": "yahoo", "kept_value": 103.0,
               "other_provider": "sample", "other_value": 100.0, "relative_difference": (100.0 - 103.0) / 103.0})
    );
    let bars = app.get("/api/symbols/AAPL/bars").await.ok();
    assert_eq!(bars["count"], 3, "one bar per day");
    assert!(bars["bars"].as_array().unwrap().iter().all(|b| b["provider"] == "yahoo"));
    let none = app.get("/api/symbols/AAPL/disagreements?from=2024-01-04&to=2024-01-31").await.ok();
    assert_eq!(none["count"], 0);
    app.get("/api/symbols/AAPL/disagreements?from=2024-02-01&to=2024-01-01")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_range");
}

#[tokio::test]
async fn from_after_to_is_invalid_range() {
    let app = TestApp::new().await;
    let body = app
        .get("/api/symbols/AAPL/bars?from=2024-03-01&to=2024-01-01")
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_range");
    assert!(body["error"]["message"].as_str().unwrap().contains("2024-03-01"), "{body}");
}

#[tokio::test]
async fn bad_query_values_are_400() {
    let app = TestApp::new().await;
    app.get("/api/symbols/AAPL/bars?from=yesterday").await.error(StatusCode::BAD_REQUEST, "bad_request");
    let body =
        app.get("/api/symbols/AAPL/bars?interval=2d").await.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(body["error"]["message"].as_str().unwrap().contains("2d"), "{body}");
    app.get("/api/symbols/AAPL/bars?frm=2024-01-01").await.error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/jobs/runs/abc").await.error(StatusCode::BAD_REQUEST, "bad_request");
    // Dates are the `date` format exactly, intervals spelled exactly, as the spec declares them
    // (chrono's parser would take the first two, `Interval::from_str` trims the third).
    for query in ["from=2024-1-02", "to=%2B2024-01-02", "interval=%201d", "limit=10001", "limit=0"] {
        let name = query.split('=').next().unwrap();
        let body = app
            .get(&format!("/api/symbols/AAPL/bars?{query}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(body["error"]["message"].as_str().unwrap().contains(name), "{body}");
    }
}

/// The spec's symbol pattern allows no surrounding whitespace, so the server, which used to trim
/// it, refuses it; what the pattern allows (either case, `^ = . -`) is accepted.
#[tokio::test]
async fn symbols_outside_the_declared_pattern_are_400() {
    let app = TestApp::new().await;
    for symbol in ["%20AAPL", "AAPL%20", "%09AAPL", "A%2FB", "%3D%5E%3D", "ABCDEFGHIJKLMNOP"] {
        app.get(&format!("/api/symbols/{symbol}/bars"))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_symbol");
    }
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": " AAPL"})))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");
    for symbol in ["aapl", "%5EGSPC", "EURUSD=X", "BRK.B", "-A"] {
        app.get(&format!("/api/symbols/{symbol}/bars")).await.ok();
    }
}

#[tokio::test]
async fn bad_symbols_in_paths_are_400_naming_the_symbol() {
    let app = TestApp::new().await;
    for (path, named) in [
        ("/api/symbols/A;DROP/bars", "A;DROP"),
        ("/api/symbols/..%2Fetc/quote", "../etc"),
        ("/api/symbols/WAYTOOLONGSYMBOLNAME/indicators", "WAYTOOLONGSYMBOLNAME"),
    ] {
        let body = app.get(path).await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
        assert!(body["error"]["message"].as_str().unwrap().contains(named), "{path}: {body}");
    }
    app.authed(Method::DELETE, "/api/watchlist/A$B", None)
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

#[tokio::test]
async fn quote_falls_back_to_the_chain_and_is_stored() {
    let app = TestApp::new().await;
    let symbol = Symbol::parse("AAPL").unwrap();
    assert!(app.storage.latest_quote(&symbol).await.unwrap().is_none());
    let quote = app.get("/api/symbols/AAPL/quote").await.ok();
    assert_eq!(quote["symbol"], "AAPL");
    assert_eq!(quote["provider"], "sample");
    assert_eq!(quote["source"], "last_bar_close");
    assert!(quote["price"].as_f64().unwrap() > 0.0);
    let stored = app.storage.latest_quote(&symbol).await.unwrap().expect("the fetched quote was stored");
    assert_eq!(Some(stored.price), quote["price"].as_f64());
    // Served from storage the second time, same values.
    assert_eq!(app.get("/api/symbols/AAPL/quote").await.ok(), quote);
    // A symbol no provider knows.
    app.get("/api/symbols/NOPE/quote").await.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn indicators_are_computed_over_stored_daily_bars() {
    let app = TestApp::new().await;
    // 60 days of closes 1, 2, …, 60.
    let bars: Vec<Bar> =
        (0..60).map(|i| bar(day(2024, 1, 1) + chrono::Days::new(i), Some((i + 1) as f64))).collect();
    app.store_bars("IBM", &bars).await;
    let body = app.get("/api/symbols/IBM/indicators").await.ok();
    assert_eq!(body["symbol"], "IBM");
    assert_eq!(body["bars_used"], 60);
    assert_eq!(body["last_close"], 60.0);
    assert_eq!(body["as_of"], "2024-02-29T00:00:00Z");
    // SMA 20 of 41..=60 is 50.5; SMA 50 of 11..=60 is 35.5.
    assert_eq!(body["sma20"], 50.5);
    assert_eq!(body["sma50"], 35.5);
    assert_eq!(body["rsi14"], 100.0);
    app.get("/api/symbols/MSFT/indicators").await.error(StatusCode::NOT_FOUND, "not_found");
}

fn news_item(n: u32, provider: ProviderId) -> domain::NewsItem {
    domain::NewsItem {
        symbol: Symbol::parse("AAPL").unwrap(),
        headline: format!("Headline {n} <b>"),
        url: format!("https://news.example/{n}"),
        source: Some("Wire".to_owned()),
        summary: n.is_multiple_of(2).then(|| format!("Summary {n}")),
        published_at: Utc.with_ymd_and_hms(2024, 5, n, 12, 0, 0).unwrap(),
        sentiment: (n == 3).then_some(-1.0),
        provider,
    }
}

#[tokio::test]
async fn news_is_served_from_storage_newest_first() {
    let app = TestApp::new().await;
    let empty = app.get("/api/symbols/AAPL/news").await.ok();
    assert_eq!(empty, json!({"symbol": "AAPL", "news": [], "count": 0}), "nothing stored, no vendor call");
    let items: Vec<_> = (1..=4).map(|n| news_item(n, ProviderId::Polygon)).collect();
    app.storage.save_news(&items).await.unwrap();

    let body = app.get("/api/symbols/aapl/news?limit=3").await.ok();

    assert_eq!((body["symbol"].as_str(), body["count"].as_u64()), (Some("AAPL"), Some(3)));
    let news = body["news"].as_array().unwrap();
    assert_eq!(news[0]["headline"], "Headline 4 <b>", "JSON carries the vendor text as is");
    assert_eq!(news[0]["published_at"], "2024-05-04T12:00:00Z");
    assert_eq!(news[0]["summary"], "Summary 4");
    assert_eq!(news[1]["summary"], Value::Null);
    assert_eq!(news[1]["sentiment"], -1.0);
    assert_eq!(news[2]["provider"], "polygon");
    assert_eq!(news[2]["url"], "https://news.example/2");
    assert_eq!(app.get("/api/symbols/AAPL/news").await.ok()["count"], 4, "default limit");

    for bad in ["limit=0", "limit=201", "limit=x", "since=1"] {
        app.get(&format!("/api/symbols/AAPL/news?{bad}")).await.error(StatusCode::BAD_REQUEST, "bad_request");
    }
    app.get("/api/symbols/A;B/news").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

#[tokio::test]
async fn profile_falls_back_to_the_chain_is_stored_and_404_when_nobody_has_one() {
    let app = TestApp::new().await;
    let symbol = Symbol::parse("MSFT").unwrap();
    assert_eq!(app.storage.profile(&symbol).await.unwrap(), None);

    let profile = app.get("/api/symbols/MSFT/profile").await.ok();

    assert_eq!(profile["symbol"], "MSFT");
    assert_eq!(profile["name"], "Microsoft Corporation");
    assert_eq!(profile["provider"], "sample");
    assert_eq!(profile["market_cap"], Value::Null);
    assert!(app.storage.profile(&symbol).await.unwrap().is_some(), "stored");
    assert_eq!(app.get("/api/symbols/MSFT/profile").await.ok(), profile, "served from storage");

    // A stored profile is served as stored.
    let stored = domain::CompanyProfile {
        symbol: Some(Symbol::parse("NVDA").unwrap()),
        name: Some("NVIDIA Corporation".to_owned()),
        market_cap: Some(3.2e12),
        provider: Some(ProviderId::Polygon),
        ..domain::CompanyProfile::default()
    };
    app.storage.save_profile(&stored).await.unwrap();
    let nvda = app.get("/api/symbols/nvda/profile").await.ok();
    assert_eq!(
        (nvda["name"].as_str(), nvda["market_cap"].as_f64()),
        (Some("NVIDIA Corporation"), Some(3.2e12))
    );
    assert_eq!(nvda["provider"], "polygon");

    let body = app.get("/api/symbols/NOPE/profile").await.error(StatusCode::NOT_FOUND, "not_found");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("no profile of NOPE"), "{message}");
    app.get("/api/symbols/A;B/profile").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

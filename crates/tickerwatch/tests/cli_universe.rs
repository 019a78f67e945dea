//! `tickerwatch universe update|show` and `tickerwatch sentiment` through the binary, against a
//! mock Polygon serving a listing of made-up tickers in pages: stored whole, used for scoring,
//! and kept when a later answer is too short to be a US listing.

use std::process::Output;

use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "pg_universe_key_0123456789";

async fn run(db_url: &str, polygon: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickerwatch"));
    command
        .args(args)
        .env_remove("RUST_LOG")
        .env("TICKERWATCH_DATABASE__URL", db_url)
        .env("TICKERWATCH_PROVIDERS__POLYGON__BASE_URL", polygon)
        .env("TICKERWATCH_PROVIDERS__POLYGON__API_KEY", KEY)
        .env("TICKERWATCH_PROVIDERS__POLYGON__MAX_RETRIES", "0");
    command.output().await.unwrap()
}

/// `n` made-up four-letter tickers starting with Z (ZAAA, ZAAB, …), common stock.
fn tickers(n: usize) -> Vec<serde_json::Value> {
    (0..n)
        .map(|i| {
            let letters: String = [i / 676, (i / 26) % 26, i % 26].iter().map(|&k| char::from(b'A' + k as u8)).collect();
            json!({"ticker": format!("Z{letters}"), "name": format!("Zed {letters} Holdings Inc."),
                   "market": "stocks", "locale": "us", "primary_exchange": "XNAS", "type": "CS", "active": true})
        })
        .collect()
}

async fn serve_listing(server: &MockServer, rows: Vec<serde_json::Value>) {
    server.reset().await;
    let (first, second) = rows.split_at(rows.len().min(1000));
    let next = (!second.is_empty()).then(|| format!("{}/v3/reference/tickers?cursor=page2", server.uri()));
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers"))
        .and(query_param("cursor", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "OK", "results": second})))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/reference/tickers"))
        .and(query_param("market", "stocks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "OK", "results": first, "next_url": next})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_vendor_listing_becomes_the_universe_and_a_short_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());
    let server = MockServer::start().await;

    let before = run(&db, &server.uri(), &["sentiment", "$ZBAC calls printing", "--format", "json"]).await;
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
    let scored: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    assert!(scored["mentions"].as_array().unwrap().is_empty(), "not in the bundled universe: {scored}");
    let bundled = run(&db, &server.uri(), &["universe", "show"]).await;
    assert!(
        String::from_utf8_lossy(&bundled.stdout).contains("bundled"),
        "{}",
        String::from_utf8_lossy(&bundled.stdout)
    );

    serve_listing(&server, tickers(1_500)).await;
    let updated = run(&db, &server.uri(), &["universe", "update", "--provider", "polygon"]).await;
    let stdout = String::from_utf8_lossy(&updated.stdout);
    assert!(updated.status.success(), "{stdout}{}", String::from_utf8_lossy(&updated.stderr));
    assert!(stdout.contains("Stored 1500 symbols from polygon"), "{stdout}");

    let shown = run(&db, &server.uri(), &["universe", "show", "ZBAC"]).await;
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("1500 symbols stored from polygon") && shown.contains("Zed BAC Holdings Inc."),
        "{shown}"
    );
    let after = run(&db, &server.uri(), &["sentiment", "$ZBAC calls printing", "--format", "json"]).await;
    let scored: serde_json::Value = serde_json::from_slice(&after.stdout).unwrap();
    assert_eq!(scored["mentions"][0]["symbol"], "ZBAC", "{scored}");

    // A truncated answer (5 tickers) is refused and the stored universe kept.
    serve_listing(&server, tickers(5)).await;
    let short = run(&db, &server.uri(), &["universe", "update", "--provider", "polygon"]).await;
    assert_eq!(short.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("listed only 5 symbols") && stderr.contains("kept"), "{stderr}");
    assert!(!stderr.contains(KEY));
    let shown = run(&db, &server.uri(), &["universe", "show"]).await;
    assert!(String::from_utf8_lossy(&shown.stdout).contains("1500 symbols stored"));

    // A vendor error is reported, the key never shown, nothing changed.
    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"status": "ERROR", "error": "Unknown API Key"})),
        )
        .mount(&server)
        .await;
    let refused = run(&db, &server.uri(), &["universe", "update", "--provider", "polygon"]).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no provider could list symbols") && !stderr.contains(KEY), "{stderr}");
    // Without a provider that lists symbols (the offline sample only), the error says what to do.
    let offline = run(&db, &server.uri(), &["universe", "update"]).await;
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("--provider"),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
}

//! `/api/social`: mentions, trending with scan coverage, per-day buckets.

use axum::http::StatusCode;
use chrono::Utc;
use domain::ScanStatus;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[tokio::test]
async fn mentions_are_listed_newest_first_with_values() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("p1", "alice", 30, 0.5, &["AAPL", "BRK-B"]),
        ("p2", "bob", 10, -0.25, &["AAPL"]),
        // Older than the default 24 hours.
        ("p3", "carol", 3 * 24 * 60, 0.0, &["AAPL"]),
    ])
    .await;

    let body = app.get("/api/social/mentions").await.ok();
    let listed = body.as_array().unwrap();
    assert_eq!(listed.len(), 3, "{body}");
    let first = &listed[0];
    assert_eq!(first["post_id"], "p2");
    assert_eq!(first["symbol"], "AAPL");
    assert_eq!(first["source"], "reddit");
    assert_eq!(first["kind"], "cashtag");
    assert_eq!(first["author"], "bob");
    assert_eq!(first["subreddit"], "stocks");
    assert_eq!(first["sentiment"], -0.25);
    assert!(first["created_at"].as_str().unwrap().contains('T'), "{first}");
    // p1's two mentions follow, ties ordered by symbol.
    assert_eq!((listed[1]["post_id"].as_str(), listed[1]["symbol"].as_str()), (Some("p1"), Some("AAPL")));
    assert_eq!((listed[2]["post_id"].as_str(), listed[2]["symbol"].as_str()), (Some("p1"), Some("BRK-B")));
    assert_eq!(listed[2]["sentiment"], 0.5);

    // `since` as a date or a time reaches further back.
    let week_ago = (Utc::now() - chrono::TimeDelta::days(7)).format("%Y-%m-%d").to_string();
    assert_eq!(
        app.get(&format!("/api/social/mentions?since={week_ago}")).await.ok().as_array().unwrap().len(),
        4
    );
    let since = (Utc::now() - chrono::TimeDelta::minutes(20)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let recent = app.get(&format!("/api/social/mentions?since={since}")).await.ok();
    assert_eq!(recent.as_array().unwrap().len(), 1, "{recent}");
    assert_eq!(recent[0]["post_id"], "p2");
    // `limit` keeps the newest.
    let limited = app.get("/api/social/mentions?limit=1").await.ok();
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["post_id"], "p2");
}

#[tokio::test]
async fn mentions_filter_by_symbol() {
    let app = TestApp::new().await;
    app.store_mentions(&[("p1", "alice", 30, 0.5, &["AAPL", "BRK-B"]), ("p2", "bob", 10, -0.25, &["AAPL"])])
        .await;
    let aapl = app.get("/api/social/mentions?symbol=aapl").await.ok();
    let posts: Vec<&str> = aapl.as_array().unwrap().iter().map(|m| m["post_id"].as_str().unwrap()).collect();
    assert_eq!(posts, ["p2", "p1"]);
    assert!(aapl.as_array().unwrap().iter().all(|m| m["symbol"] == "AAPL"), "{aapl}");
    // The universe spelling with a dash.
    let brk = app.get("/api/social/mentions?symbol=BRK-B").await.ok();
    assert_eq!(brk.as_array().unwrap().len(), 1, "{brk}");
    assert_eq!(brk[0]["symbol"], "BRK-B");
    assert_eq!(brk[0]["author"], "alice");
    assert_eq!(app.get("/api/social/mentions?symbol=MSFT").await.ok(), json!([]));
}

#[tokio::test]
async fn bad_social_queries_are_400() {
    let app = TestApp::new().await;
    let body =
        app.get("/api/social/mentions?symbol=A;DROP").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
    assert!(body["error"]["message"].as_str().unwrap().contains("A;DROP"), "{body}");
    app.get("/api/social/mentions?symbol=").await.error(StatusCode::BAD_REQUEST, "invalid_symbol");
    for since in ["yesterday", "2024-13-01", "2024-01-02T03:04:05"] {
        let body = app
            .get(&format!("/api/social/mentions?since={since}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(body["error"]["message"].as_str().unwrap().contains(since), "{body}");
    }
    app.get("/api/social/mentions?limit=-1").await.error(StatusCode::BAD_REQUEST, "bad_request");
    for window in ["0h", "31d", "721h", "1w", "abc", "h"] {
        let body = app
            .get(&format!("/api/social/trending?window={window}"))
            .await
            .error(StatusCode::BAD_REQUEST, "invalid_window");
        assert!(body["error"]["message"].as_str().unwrap().contains(window), "{body}");
    }
    app.get("/api/social/trending?windw=24h").await.error(StatusCode::BAD_REQUEST, "bad_request");
    // Leading zeros are outside the declared pattern; a space, a lower-case `t` and a loose date
    // are outside the `date-time` and `date` formats (chrono would take them).
    app.get("/api/social/trending?window=024h").await.error(StatusCode::BAD_REQUEST, "invalid_window");
    for since in ["2024-01-02%2003:04:05Z", "2024-01-02t03:04:05Z", "2024-1-02", "%202024-01-02"] {
        app.get(&format!("/api/social/mentions?since={since}"))
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
    }
    for query in ["limit=1001", "limit=0"] {
        app.get(&format!("/api/social/mentions?{query}")).await.error(StatusCode::BAD_REQUEST, "bad_request");
    }
    app.get("/api/social/trending?limit=101").await.error(StatusCode::BAD_REQUEST, "bad_request");
    app.get("/api/social/symbols/AAPL/buckets?bucket=%20day")
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn trending_ranks_symbols_with_values_and_coverage() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("p1", "alice", 30, 0.5, &["AAPL", "TSLA"]),
        ("p2", "bob", 20, -0.5, &["AAPL"]),
        ("p3", "alice", 10, 0.0, &["AAPL"]),
        // Outside 24h, inside 7d.
        ("p4", "dave", 3 * 24 * 60, 0.8, &["TSLA", "GME"]),
    ])
    .await;
    app.record_scan(ScanStatus::Complete, 42, None).await;

    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["window"], "24h");
    let since = chrono::DateTime::parse_from_rfc3339(body["since"].as_str().unwrap()).unwrap();
    let until = chrono::DateTime::parse_from_rfc3339(body["until"].as_str().unwrap()).unwrap();
    assert_eq!(until - since, chrono::TimeDelta::hours(24));
    let symbols = body["symbols"].as_array().unwrap();
    assert_eq!(symbols.len(), 2, "{body}");
    let aapl = &symbols[0];
    assert_eq!(aapl["symbol"], "AAPL");
    assert_eq!(aapl["mentions"], 3);
    assert_eq!(aapl["unique_authors"], 2);
    assert!((aapl["mean_sentiment"].as_f64().unwrap()).abs() < 1e-9, "{aapl}");
    assert_eq!(aapl["bullish"], 1);
    assert_eq!(aapl["bearish"], 1);
    // Three mentions in the last hour against an empty baseline.
    assert_eq!(aapl["spike_score"], 3.0);
    assert_eq!(symbols[1]["symbol"], "TSLA");
    assert_eq!(symbols[1]["mentions"], 1);
    assert_eq!(symbols[1]["mean_sentiment"], 0.5);

    let coverage = &body["coverage"];
    assert_eq!(coverage["status"], "complete");
    assert_eq!(coverage["source"], "reddit");
    assert_eq!(coverage["posts_read"], 42);
    assert_eq!(coverage["subreddits"], json!(["stocks", "wallstreetbets"]));
    assert_eq!(coverage["error"], Value::Null);
    assert!(
        coverage["id"].is_i64() && coverage["started_at"].is_string() && coverage["finished_at"].is_string()
    );

    // A wider window sees the older post; `limit` cuts the list.
    let week = app.get("/api/social/trending?window=7d").await.ok();
    assert_eq!(week["window"], "7d");
    let names: Vec<&str> =
        week["symbols"].as_array().unwrap().iter().map(|s| s["symbol"].as_str().unwrap()).collect();
    assert_eq!(names, ["AAPL", "TSLA", "GME"]);
    assert_eq!(week["symbols"][1]["mentions"], 2);
    let top = app.get("/api/social/trending?window=7d&limit=1").await.ok();
    assert_eq!(top["symbols"].as_array().unwrap().len(), 1);
    // A short window.
    assert_eq!(app.get("/api/social/trending?window=1h").await.ok()["symbols"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn trending_without_a_scan_has_null_coverage() {
    let app = TestApp::new().await;
    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["symbols"], json!([]));
    assert_eq!(body["coverage"], Value::Null);
}

#[tokio::test]
async fn a_blocked_scan_is_visible_in_trending() {
    let app = TestApp::new().await;
    app.record_scan(ScanStatus::Complete, 10, None).await;
    app.record_scan(ScanStatus::Blocked, 0, Some("reddit answered 403 (block page)")).await;
    let body = app.get("/api/social/trending").await.ok();
    assert_eq!(body["symbols"], json!([]));
    // Not "0 mentions": the latest scan says it was blocked, and why.
    assert_eq!(body["coverage"]["status"], "blocked", "{body}");
    assert_eq!(body["coverage"]["posts_read"], 0);
    assert!(body["coverage"]["error"].as_str().unwrap().contains("403"), "{body}");
}

#[tokio::test]
async fn mention_buckets_aggregate_per_day_and_validate_input() {
    let app = TestApp::new().await;
    app.store_mentions(&[
        ("b1", "alice", 5, 0.5, &["AAPL"]),
        ("b2", "bob", 6, -0.5, &["AAPL"]),
        ("b3", "carol", 2 * 24 * 60, 0.8, &["AAPL"]),
    ])
    .await;
    let body = app.get("/api/social/symbols/aapl/buckets?bucket=day").await.ok();
    let buckets = body.as_array().unwrap();
    let total: u64 = buckets.iter().map(|b| b["mentions"].as_u64().unwrap()).sum();
    assert_eq!(total, 3, "{body}");
    assert!(buckets.len() >= 2, "two different days: {body}");
    let authors: u64 = buckets.iter().map(|b| b["unique_authors"].as_u64().unwrap()).sum();
    assert_eq!(authors, 3, "{body}");
    let hourly = app.get("/api/social/symbols/AAPL/buckets").await.ok();
    assert!(hourly.as_array().unwrap().len() >= 2, "{hourly}");

    assert_eq!(app.get("/api/social/symbols/AAPL/buckets?bucket=week").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/social/symbols/A;DROP/buckets").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn texts_are_scored_as_the_scanner_scores_posts() {
    let app = TestApp::new().await;
    let body = app
        .authed(
            axum::http::Method::POST,
            "/api/social/analyze",
            Some(json!({"texts": [
                "Loading up on $NVDA calls, Nvidia to the moon 🚀",
                "bought spy puts, this market is going to crash",
                "What a nice day for a walk"
            ]})),
        )
        .await
        .ok();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "one result per text, in order");
    assert_eq!(results[0]["mentions"][0]["symbol"], "NVDA");
    assert_eq!(results[0]["mentions"][0]["kind"], "cashtag");
    assert_eq!(results[0]["sentiment"], "bullish");
    assert_eq!(results[1]["mentions"][0]["symbol"], "SPY", "{body}");
    assert_eq!(results[1]["sentiment"], "bearish", "{body}");
    assert!(results[2]["mentions"].as_array().unwrap().is_empty());
    for result in results {
        let p = &result["probabilities"];
        let sum =
            p["bullish"].as_f64().unwrap() + p["bearish"].as_f64().unwrap() + p["neutral"].as_f64().unwrap();
        assert!((sum - 1.0).abs() < 1e-6, "{result}");
        assert!(result["score"].as_f64().unwrap().abs() <= 1.0);
    }
    // The symbols stored by `universe update` are the ones used: a made-up listing's symbol is
    // unknown before it is stored and found after.
    let before = app
        .authed(axum::http::Method::POST, "/api/social/analyze", Some(json!({"texts": ["$ZZZQ calls"]})))
        .await
        .ok();
    assert!(before["results"][0]["mentions"].as_array().unwrap().is_empty(), "{before}");
    app.storage
        .replace_universe(
            "polygon",
            &[storage::UniverseRow {
                symbol: "ZZZQ".to_owned(),
                name: "Zeta Quux Holdings Inc".to_owned(),
                exchange: "XNAS".to_owned(),
                security_type: "stock".to_owned(),
            }],
        )
        .await
        .unwrap();
    let body = app
        .authed(axum::http::Method::POST, "/api/social/analyze", Some(json!({"texts": ["$ZZZQ calls"]})))
        .await
        .ok();
    assert_eq!(body["results"][0]["mentions"][0]["symbol"], "ZZZQ", "{body}");
    assert_eq!(body["results"][0]["mentions"][0]["name"], "Zeta Quux Holdings Inc");
}

#[tokio::test]
async fn bad_analyze_requests_get_clear_errors() {
    let app = TestApp::new().await;
    let post = |body: Value| app.authed(axum::http::Method::POST, "/api/social/analyze", Some(body));
    post(json!({"texts": []})).await.error(StatusCode::BAD_REQUEST, "bad_request");
    let many: Vec<String> = (0..101).map(|i| i.to_string()).collect();
    post(json!({"texts": many})).await.error(StatusCode::BAD_REQUEST, "bad_request");
    // Over the body limit (1 KB in these tests) before any text is read; the 40,000-character
    // bound per text is checked in the route's unit tests.
    post(json!({"texts": ["a".repeat(2_000)]}))
        .await
        .error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    post(json!({"text": "one"})).await.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json");
    post(json!({"texts": "one"})).await.error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_json");
    let anonymous = app
        .send(
            axum::http::Request::post("/api/social/analyze")
                .header(axum::http::header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(r#"{"texts":["x"]}"#))
                .unwrap(),
        )
        .await;
    anonymous.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

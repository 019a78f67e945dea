//! `scan_and_extract` over the bundled sample source (offline) and a wiremock Reddit, and the
//! properties the demo relies on in `data/sample-posts.jsonl`.

use domain::{PostSource, ScanStatus};
use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, TimeZone, Utc};
use social::extract::SymbolUniverse;
use social::reddit::{RedditClient, RedditConfig};
use social::{CoverageStatus, SampleSource, SocialSource, scan_and_extract};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn subs() -> Vec<String> {
    ["wallstreetbets", "stocks", "investing"].map(str::to_owned).to_vec()
}

#[test]
fn sample_set_is_large_varied_and_spans_a_week() {
    assert!(SampleSource::len() >= 150, "{} posts", SampleSource::len());
    let now = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    let source = SampleSource::at(now);
    let mut authors = BTreeSet::new();
    let mut total = 0;
    for sub in subs() {
        let posts = source.posts(&sub, usize::MAX);
        assert!(posts.len() >= 30, "r/{sub}: {}", posts.len());
        for post in &posts {
            assert!(post.created_utc <= now && post.created_utc > now - Duration::days(7), "{post:?}");
            authors.insert(post.author.clone());
        }
        total += posts.len();
    }
    assert_eq!(total, SampleSource::len(), "every sample post is in one of the three subreddits");
    assert!(authors.len() >= 15, "{} authors", authors.len());
    // Newest first, limit respected.
    let two = source.posts("wallstreetbets", 2);
    assert_eq!(two.len(), 2);
    assert!(two[0].created_utc >= two[1].created_utc);
}

#[test]
fn sample_posts_mention_exactly_their_known_symbols() {
    let universe = SymbolUniverse::bundled();
    let source = SampleSource::at(SampleSource::anchor());
    let known: HashMap<String, Vec<String>> = SampleSource::known_symbols().into_iter().collect();
    for sub in subs() {
        for post in source.posts(&sub, usize::MAX) {
            let text = format!("{}\n{}", post.title, post.selftext);
            let mut found: Vec<String> =
                universe.extract_mentions(&text).iter().map(|m| m.symbol.to_owned()).collect();
            found.sort();
            assert_eq!(&found, &known[&post.id], "{}: {text}", post.id);
        }
    }
}

#[tokio::test]
async fn sample_scan_shows_a_pltr_spike_in_the_last_hour() {
    let now = Utc.with_ymd_and_hms(2027, 3, 4, 5, 6, 7).unwrap();
    let source = SocialSource::Sample(SampleSource::at(now));
    let universe = SymbolUniverse::bundled();
    let outcome = scan_and_extract(&source, &subs(), 1000, &universe).await;

    assert_eq!(outcome.source, PostSource::Sample);
    assert_eq!(outcome.status(), ScanStatus::Complete);
    assert_eq!(outcome.error_summary(), None);
    assert_eq!(outcome.coverage.len(), 3);
    assert!(outcome.coverage.iter().all(|c| c.status == CoverageStatus::Complete && c.posts_read > 0));
    assert_eq!(outcome.posts.len(), SampleSource::len());
    assert_eq!(outcome.posts.iter().map(|p| p.post.created_utc).max(), Some(now));

    let last_hour = now - Duration::hours(1);
    let recent = |symbol: &str| {
        outcome.mentions.iter().filter(|m| m.symbol == symbol && m.created_at > last_hour).count()
    };
    let before = |symbol: &str| {
        outcome.mentions.iter().filter(|m| m.symbol == symbol && m.created_at <= last_hour).count()
    };
    assert!(recent("PLTR") >= 10, "PLTR in the last hour: {}", recent("PLTR"));
    assert!(before("PLTR") <= 10, "PLTR baseline: {}", before("PLTR"));
    for other in ["NVDA", "TSLA", "AAPL", "AMD"] {
        assert!(recent(other) < recent("PLTR"), "{other}");
        assert!(before(other) > 0, "{other} has a baseline");
    }
    let pltr: Vec<f64> = outcome
        .mentions
        .iter()
        .filter(|m| m.symbol == "PLTR" && m.created_at > last_hour)
        .map(|m| m.sentiment)
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let mean = pltr.iter().sum::<f64>() / pltr.len() as f64;
    assert!(mean > 0.2, "the PLTR spike is bullish: {mean}");

    // Every mention carries its post's author, subreddit, time and sentiment, once per symbol.
    let mut keys = BTreeSet::new();
    for mention in &outcome.mentions {
        assert!(keys.insert((mention.post_id.clone(), mention.symbol.clone())), "{mention:?}");
        let post = outcome.posts.iter().find(|p| p.post.id == mention.post_id).unwrap();
        assert_eq!(mention.author, post.post.author);
        assert_eq!(mention.subreddit, post.post.subreddit);
        assert_eq!(mention.created_at, post.post.created_utc);
        assert!((mention.sentiment - post.sentiment).abs() < f64::EPSILON);
    }
    let bullish = outcome.posts.iter().filter(|p| p.sentiment >= 0.05).count();
    let bearish = outcome.posts.iter().filter(|p| p.sentiment <= -0.05).count();
    assert!(bullish > 20 && bearish > 20, "bullish {bullish}, bearish {bearish}");

    let limited = scan_and_extract(&source, &subs(), 5, &universe).await;
    assert!(limited.coverage.iter().all(|c| c.posts_read == 5));
}

#[tokio::test]
async fn a_blocked_subreddit_reports_blocked_not_zero_mentions() {
    let server = MockServer::start().await;
    let data = |name: &str| {
        std::fs::read_to_string(format!("{}/tests/data/reddit/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    Mock::given(method("GET"))
        .and(path("/r/wallstreetbets/new.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(data("block_page.html"), "text/html; charset=utf-8"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/stocks/new.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(data("listing_new_page3.json"), "application/json"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/r/investing/new.json"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream connect error"))
        .mount(&server)
        .await;

    let mut config = RedditConfig::new("linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)");
    config.base_url = server.uri();
    config.queries_per_minute = Some(10_000);
    config.max_retries = 0;
    let source = SocialSource::Reddit(RedditClient::new(&config).unwrap());
    let outcome = scan_and_extract(&source, &subs(), 25, &SymbolUniverse::bundled()).await;

    assert_eq!(outcome.source, PostSource::Reddit);
    assert_eq!(outcome.status(), ScanStatus::Blocked);
    assert!(outcome.is_blocked());
    let wsb = &outcome.coverage[0];
    assert_eq!((wsb.subreddit.as_str(), wsb.posts_read), ("wallstreetbets", 0));
    assert!(matches!(wsb.status, CoverageStatus::Blocked { .. }), "{:?}", wsb.status);
    let stocks = &outcome.coverage[1];
    assert_eq!((stocks.posts_read, &stocks.status), (2, &CoverageStatus::Complete));
    assert_eq!(outcome.coverage[2].status.as_str(), "failed");
    assert_eq!(outcome.posts.len(), 2);
    assert!(outcome.mentions.iter().any(|m| m.symbol == "MSFT"), "{:?}", outcome.mentions);
    let summary = outcome.error_summary().unwrap();
    assert!(summary.contains("r/wallstreetbets: blocked"), "{summary}");
    assert!(summary.contains("r/investing: failed"), "{summary}");
}

#[test]
fn the_scan_future_is_send() {
    // The job engine runs scans on spawned tasks of a multi-threaded runtime.
    fn assert_send<T: Send>(_: &T) {}
    let source = SocialSource::Sample(SampleSource::new());
    let universe = SymbolUniverse::empty();
    let subreddits = subs();
    let future = scan_and_extract(&source, &subreddits, 1, &universe);
    assert_send(&future);
}

#[tokio::test]
async fn comments_of_the_most_commented_threads_are_scanned_too() {
    let server = MockServer::start().await;
    let data = |name: &str| {
        std::fs::read_to_string(format!("{}/tests/data/reddit/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let listing = data("listing_new_page3.json");
    Mock::given(method("GET"))
        .and(path("/r/stocks/new.json"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(listing.clone(), "application/json"))
        .mount(&server)
        .await;
    let listing_json: serde_json::Value = serde_json::from_str(&listing).unwrap();
    let most_commented = listing_json["data"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|c| c["data"]["num_comments"].as_u64().unwrap_or(0))
        .map(|c| c["data"]["id"].as_str().unwrap().to_owned())
        .unwrap();
    Mock::given(method("GET"))
        .and(path(format!("/r/stocks/comments/{most_commented}.json")))
        .respond_with(ResponseTemplate::new(200).set_body_raw(data("comments.json"), "application/json"))
        .expect(1)
        .mount(&server)
        .await;

    let mut config = RedditConfig::new("linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)");
    config.base_url = server.uri();
    config.queries_per_minute = Some(10_000);
    config.max_retries = 0;
    let source = SocialSource::Reddit(RedditClient::new(&config).unwrap());
    let subreddits = vec!["stocks".to_owned()];
    let outcome =
        social::scan_and_extract_with_comments(&source, &subreddits, 25, 1, &SymbolUniverse::bundled()).await;

    assert_eq!(outcome.status(), ScanStatus::Complete);
    let coverage = &outcome.coverage[0];
    assert!(coverage.comments_read >= 3, "{coverage:?}");
    // "Beat and raise, NVDA to the moon" is a comment, keyed by the comment's own id.
    let from_comments: Vec<_> = outcome.mentions.iter().filter(|m| m.post_id.starts_with("t1_")).collect();
    assert!(from_comments.iter().any(|m| m.symbol == "NVDA" && m.sentiment > 0.0), "{from_comments:?}");
}

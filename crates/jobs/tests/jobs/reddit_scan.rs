//! The reddit-scan job over the offline sample source and a wiremock Reddit that blocks us.

use chrono::{Duration, Utc};
use domain::{PostSource, RunTrigger, ScanStatus};
use jobs::{JobEngine, RedditScan, SocialConfig};
use social::extract::SymbolUniverse;
use social::reddit::{RedditClient, RedditConfig};
use social::{SampleSource, SocialSource};
use storage::{RunRecord, RunStatus};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{SECS_30, TestEnv};

const UA: &str = "linux:tickerwatch-test:0.1.0 (by /u/tickerwatch_bot)";
const BLOCK_PAGE: &str = "<!DOCTYPE html><html><head><title>Blocked</title></head><body>\
    <h1>whoa there, pardner!</h1><p>Your request has been blocked due to a network policy.</p>\
    </body></html>";

async fn run_once(env: &TestEnv, job: RedditScan) -> RunRecord {
    let engine =
        JobEngine::start(env.storage.clone(), vec![job.into_job()], Vec::new()).await.expect("start");
    let triggered = engine.trigger(RedditScan::NAME, RunTrigger::Api).await.expect("trigger");
    let run = engine.wait_for(triggered.run.id, SECS_30).await.expect("wait");
    assert!(!run.status.is_active(), "run did not finish: {run:?}");
    engine.shutdown(std::time::Duration::from_secs(5)).await;
    run
}

#[tokio::test]
async fn a_sample_scan_stores_mentions_coverage_and_a_pltr_spike() {
    let env = TestEnv::new().await;
    let now = Utc::now();
    let sample = || SocialSource::Sample(SampleSource::at(now));
    let job = RedditScan::with_source(sample(), SocialConfig::default(), SymbolUniverse::bundled());
    let run = run_once(&env, job).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");

    let items = env.storage.run_items(run.id).await.unwrap();
    let mut names: Vec<&str> = items.iter().map(|i| i.symbol.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["r/investing", "r/stocks", "r/wallstreetbets"]);
    assert!(items.iter().all(|i| i.succeeded && i.bars > 0 && i.provider.as_deref() == Some("sample")));
    let posts_read: u64 = items.iter().map(|i| i.bars).sum();
    assert_eq!(posts_read, SampleSource::len() as u64);

    let scan = env.storage.latest_social_scan().await.unwrap().expect("scan recorded");
    assert_eq!(scan.status, ScanStatus::Complete);
    assert_eq!(scan.source, PostSource::Sample);
    assert_eq!(scan.posts_read, posts_read);
    assert!(scan.mentions_found >= posts_read / 2, "{scan:?}");
    assert_eq!(scan.subreddits, vec!["wallstreetbets", "stocks", "investing"]);
    assert_eq!(scan.error, None);

    let until = now + Duration::seconds(1);
    let trending = env.storage.trending(until - Duration::hours(24), until, Some(10)).await.unwrap();
    assert!(!trending.is_empty());
    let top_spike = trending.iter().max_by(|a, b| a.spike_score.total_cmp(&b.spike_score)).unwrap();
    assert_eq!(top_spike.symbol, "PLTR", "{trending:?}");
    assert!(top_spike.spike_score > 3.0, "{top_spike:?}");
    assert!(top_spike.mean_sentiment > 0.0 && top_spike.bullish > top_spike.bearish, "{top_spike:?}");
    let stored = env.storage.mentions(None, now - Duration::days(8), None).await.unwrap();
    assert_eq!(stored.len() as u64, scan.mentions_found);

    // A second scan (same posts) stores nothing new.
    let job = RedditScan::with_source(sample(), SocialConfig::default(), SymbolUniverse::bundled());
    let run = run_once(&env, job).await;
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(env.storage.mentions(None, now - Duration::days(8), None).await.unwrap().len(), stored.len());
}

#[tokio::test]
async fn the_default_config_builds_an_offline_job() {
    let env = TestEnv::new().await;
    let job = RedditScan::new(SocialConfig::default(), SymbolUniverse::bundled()).expect("sample job");
    let run = run_once(&env, job).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(env.storage.latest_social_scan().await.unwrap().unwrap().status, ScanStatus::Complete);
}

async fn blocking_reddit(ok: &[&str]) -> MockServer {
    let server = MockServer::start().await;
    for sub in ["wallstreetbets", "stocks", "investing"] {
        let response = if ok.contains(&sub) {
            ResponseTemplate::new(200).set_body_raw(
                r#"{"kind":"Listing","data":{"after":null,"children":[{"kind":"t3","data":{"id":"abc123","subreddit":"stocks","title":"Loaded up on $NVDA and Microsoft today","selftext":"","author":"someone","created_utc":1795188600.0,"score":5,"num_comments":1,"permalink":"/r/stocks/comments/abc123/x/","url":"https://www.reddit.com/r/stocks/comments/abc123/x/"}}]}}"#,
                "application/json",
            )
        } else {
            ResponseTemplate::new(200).set_body_raw(BLOCK_PAGE, "text/html; charset=utf-8")
        };
        Mock::given(method("GET"))
            .and(path(format!("/r/{sub}/new.json")))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    server
}

fn reddit_config(server: &MockServer) -> SocialConfig {
    let mut reddit = RedditConfig::new(UA);
    reddit.base_url = server.uri();
    reddit.queries_per_minute = Some(10_000);
    reddit.max_retries = 0;
    SocialConfig { source: PostSource::Reddit, reddit: Some(reddit), ..SocialConfig::default() }
}

#[tokio::test]
async fn a_blocked_reddit_fails_the_run_and_records_a_blocked_scan() {
    let env = TestEnv::new().await;
    let server = blocking_reddit(&[]).await;
    let job = RedditScan::new(reddit_config(&server), SymbolUniverse::bundled()).expect("reddit job");
    let run = run_once(&env, job).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert!(run.error.as_deref().unwrap_or_default().contains("blocked"), "{run:?}");

    let items = env.storage.run_items(run.id).await.unwrap();
    assert_eq!(items.len(), 3);
    for item in &items {
        assert!(!item.succeeded);
        assert_eq!(item.bars, 0);
        let error = item.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("blocked:"), "{item:?}");
    }
    let scan = env.storage.latest_social_scan().await.unwrap().expect("scan recorded");
    assert_eq!(scan.status, ScanStatus::Blocked, "a blocked scan is blocked, never 0 mentions");
    assert_eq!((scan.source.as_str(), scan.posts_read, scan.mentions_found), ("reddit", 0, 0));
    assert!(scan.error.as_deref().unwrap_or_default().contains("r/wallstreetbets: blocked"), "{scan:?}");
}

#[tokio::test]
async fn one_blocked_subreddit_makes_the_run_partial() {
    let env = TestEnv::new().await;
    let server = blocking_reddit(&["stocks"]).await;
    let client = RedditClient::new(reddit_config(&server).reddit.as_ref().unwrap()).unwrap();
    let job = RedditScan::with_source(
        SocialSource::Reddit(client),
        SocialConfig::default(),
        SymbolUniverse::bundled(),
    );
    let run = run_once(&env, job).await;
    assert_eq!(run.status, RunStatus::Partial, "{run:?}");

    let items = env.storage.run_items(run.id).await.unwrap();
    let stocks = items.iter().find(|i| i.symbol == "r/stocks").unwrap();
    assert!(stocks.succeeded && stocks.bars == 1 && stocks.error.is_none(), "{stocks:?}");
    let wsb = items.iter().find(|i| i.symbol == "r/wallstreetbets").unwrap();
    assert!(wsb.error.as_deref().unwrap_or_default().contains("blocked"), "{wsb:?}");

    let scan = env.storage.latest_social_scan().await.unwrap().unwrap();
    assert_eq!((scan.status, scan.posts_read, scan.mentions_found), (ScanStatus::Blocked, 1, 2));
    let mut symbols: Vec<domain::Symbol> = env
        .storage
        .mentions(None, Utc::now() - Duration::days(3650), None)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.symbol)
        .collect();
    symbols.sort();
    assert_eq!(symbols, vec!["MSFT", "NVDA"]);
}

#[test]
fn the_config_section_parses_with_defaults_and_refuses_typos() {
    let config: SocialConfig = toml::from_str(
        r#"
        schedule = "0 */30 * * * *"
        source = "reddit"
        subreddits = ["wallstreetbets", "pennystocks"]
        limit_per_subreddit = 250
        extra_symbols = ["ZZZZ"]
        [reddit]
        user_agent = "linux:tickerwatch:0.1.0 (by /u/someone)"
        "#,
    )
    .unwrap();
    assert_eq!(config.source, PostSource::Reddit);
    assert_eq!(config.limit_per_subreddit, 250);
    assert_eq!(config.schedule_entry(), Some(("reddit-scan".to_owned(), "0 */30 * * * *".to_owned())));
    config.validate().unwrap();

    let empty: SocialConfig = toml::from_str("").unwrap();
    assert_eq!(empty.source, PostSource::Sample);
    assert_eq!(empty.subreddits, vec!["wallstreetbets", "stocks", "investing"]);
    assert_eq!(empty.schedule_entry(), None);
    empty.validate().unwrap();
    let text = toml::to_string(&SocialConfig::default()).unwrap();
    assert_eq!(toml::from_str::<SocialConfig>(&text).unwrap().subreddits, empty.subreddits);

    let err = toml::from_str::<SocialConfig>("subredits = [\"stocks\"]\n").unwrap_err();
    assert!(err.to_string().contains("subredits"), "{err}");
    assert!(toml::from_str::<SocialConfig>("source = \"twitter\"\n").is_err());
}

#[test]
fn bad_settings_are_refused_when_building_the_job() {
    let bad = |config: SocialConfig, key: &str| {
        let err = RedditScan::new(config, SymbolUniverse::empty()).unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    };
    bad(SocialConfig { source: PostSource::Reddit, ..SocialConfig::default() }, "social.reddit");
    bad(SocialConfig { subreddits: Vec::new(), ..SocialConfig::default() }, "social.subreddits");
    bad(
        SocialConfig { subreddits: vec!["r/stocks".to_owned()], ..SocialConfig::default() },
        "social.subreddits",
    );
    bad(SocialConfig { limit_per_subreddit: 0, ..SocialConfig::default() }, "social.limit_per_subreddit");
    bad(
        SocialConfig { extra_symbols: vec!["NO WAY".to_owned()], ..SocialConfig::default() },
        "social.extra_symbols",
    );
}

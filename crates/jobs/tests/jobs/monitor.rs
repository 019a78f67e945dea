//! The stock monitor over the database: rules fire once per crossing across evaluations and
//! restarts, from new daily bars and from quotes; the `monitor` job and the download-tracker
//! both evaluate, and list what fired among their run's outputs.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Bar, Interval, OutputKind, ProviderId, Quote, QuoteSource, RunTrigger};
use jobs::{AlertMonitor, DownloadTracker, DownloadTrackerConfig, Job, JobEngine, MonitorJob};
use monitor::{Condition, Direction, Frequency, Rule};
use providers::{ProviderChain, ProvidersConfig};
use storage::{AlertRule, RunStatus};

use crate::helpers::{SECS_30, TestEnv, sym};

fn utc(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, day, hour, 0, 0).unwrap()
}

/// A final daily bar of 2024-01-`day`.
fn bar(day: u32, high: f64, low: f64, close: f64) -> Bar {
    Bar {
        ts: utc(day, 0),
        open: Some(close),
        high: Some(high),
        low: Some(low),
        close: Some(close),
        adj_close: None,
        volume: Some(1_000),
        partial: false,
        provider: ProviderId::Sample,
        flag: None,
    }
}

fn quote(price: f64, ts: DateTime<Utc>) -> Quote {
    Quote {
        symbol: sym("AAPL"),
        price,
        previous_close: Some(100.0),
        change: None,
        change_percent: None,
        open: None,
        high: None,
        low: None,
        volume: None,
        ts,
        provider: ProviderId::Sample,
        source: QuoteSource::Live,
    }
}

fn price_above(symbol: Option<&str>, level: f64) -> AlertRule {
    AlertRule {
        symbol: symbol.map(sym),
        name: None,
        rule: Rule {
            condition: Condition::Price { direction: Direction::Above, level },
            frequency: Frequency::Every { cooldown_secs: 0 },
            hysteresis: 0.0,
            expires_at: None,
            paused: false,
        },
        targets: Vec::new(),
    }
}

#[tokio::test]
async fn a_rule_fires_once_per_crossing_from_bars_and_quotes_across_evaluations() {
    let env = TestEnv::new().await;
    let aapl = sym("AAPL");
    let upsert = |bars: Vec<Bar>| {
        let storage = env.storage.clone();
        let aapl = aapl.clone();
        async move { storage.upsert_bars(&aapl, Interval::Day1, &bars, &Default::default()).await.unwrap() }
    };
    upsert(vec![bar(2, 101.0, 99.0, 100.0), bar(3, 102.0, 99.0, 101.0), bar(4, 108.0, 99.0, 100.0)]).await;
    let rule = env.storage.create_alert_rule(&price_above(Some("AAPL"), 105.0)).await.unwrap();
    let monitor = AlertMonitor::new(env.storage.clone(), None);

    // Created on the 4th: the 4th's high of 108 came before the rule, and its close is below.
    let pass = monitor.evaluate(utc(4, 22)).await.unwrap();
    assert_eq!((pass.rules, pass.evaluations, pass.alerts.len()), (1, 1, 0));
    // The 5th touches 106 intraday and closes below: one alert, with the bar's values.
    upsert(vec![bar(5, 106.0, 103.0, 104.0)]).await;
    let pass = monitor.evaluate(utc(5, 22)).await.unwrap();
    assert_eq!(pass.alerts.len(), 1);
    let alert = &pass.alerts[0];
    assert_eq!(
        (alert.symbol.as_str(), alert.kind.as_str(), alert.rule.as_str()),
        ("AAPL", "price", "price above 105")
    );
    assert_eq!((alert.observed, alert.threshold, alert.previous), (106.0, 105.0, Some(100.0)));
    assert_eq!(alert.day.to_string(), "2024-01-05");
    assert_eq!(alert.provider.as_deref(), Some("sample"));
    // Evaluating again — the next poll, or a restart with a new monitor — fires nothing.
    assert!(
        AlertMonitor::new(env.storage.clone(), None).evaluate(utc(5, 23)).await.unwrap().alerts.is_empty()
    );

    // Quotes: still above, then back below, then above again: one more alert.
    env.storage.save_quote(&quote(107.0, utc(8, 15))).await.unwrap();
    assert!(monitor.evaluate(utc(8, 15)).await.unwrap().alerts.is_empty(), "still latched");
    env.storage.save_quote(&quote(104.0, Utc.with_ymd_and_hms(2024, 1, 8, 15, 5, 0).unwrap())).await.unwrap();
    assert!(monitor.evaluate(utc(8, 15)).await.unwrap().alerts.is_empty());
    env.storage
        .save_quote(&quote(105.5, Utc.with_ymd_and_hms(2024, 1, 8, 15, 10, 0).unwrap()))
        .await
        .unwrap();
    let pass = monitor.evaluate(utc(8, 16)).await.unwrap();
    assert_eq!(pass.alerts.iter().map(|a| a.observed).collect::<Vec<_>>(), vec![105.5]);
    assert_eq!(env.storage.alerts(None, None, 10).await.unwrap().len(), 2);

    // A paused rule is not evaluated at all.
    let mut paused = rule.value.clone();
    paused.rule.paused = true;
    env.storage.update_alert_rule(rule.id, &paused).await.unwrap();
    assert_eq!(monitor.evaluate(utc(9, 16)).await.unwrap().rules, 0);
}

fn sample_chain() -> ProviderChain {
    ProviderChain::from_config(&ProvidersConfig::default(), None).expect("sample chain")
}

#[tokio::test]
async fn the_monitor_job_and_the_download_tracker_list_their_alerts() {
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    // A watchlist rule that the latest quote fires.
    env.storage.create_alert_rule(&price_above(None, 1.0)).await.unwrap();
    let tracker =
        DownloadTracker::new(sample_chain(), env.export_service(), DownloadTrackerConfig::default())
            .expect("valid config");
    let monitor: Arc<dyn Job> = Arc::new(MonitorJob::new(sample_chain(), None));
    let engine =
        JobEngine::start(env.storage.clone(), vec![tracker.into_job(), monitor], Vec::new()).await.unwrap();

    let refresh = engine.trigger(DownloadTracker::NAME, RunTrigger::Api).await.unwrap().run;
    let refresh = engine.wait_for(refresh.id, SECS_30).await.unwrap();
    assert_eq!(refresh.status, RunStatus::Succeeded, "{refresh:?}");
    let alerts = env.storage.alerts(None, None, 10).await.unwrap();
    assert_eq!(alerts.len(), 1, "the refreshed quote crossed 1.0");
    let outputs = env.storage.run_outputs(refresh.id).await.unwrap();
    assert!(outputs.iter().any(|o| o.kind == OutputKind::Alert && o.id == alerts[0].id), "{outputs:?}");

    // The monitor job sees nothing new: the rule is latched.
    let poll = engine.trigger(MonitorJob::NAME, RunTrigger::Schedule).await.unwrap().run;
    let poll = engine.wait_for(poll.id, SECS_30).await.unwrap();
    assert!(!poll.status.is_active(), "{poll:?}");
    assert_eq!(env.storage.alerts(None, None, 10).await.unwrap().len(), 1);
    assert!(env.storage.run_outputs(poll.id).await.unwrap().iter().all(|o| o.kind != OutputKind::Alert));
    engine.shutdown(SECS_30).await;
}

fn notifier(policy: notify::TargetPolicy) -> Arc<notify::Notifier> {
    let mut http = notify::webhook_client_config();
    http.max_retries = 1;
    http.backoff_base = std::time::Duration::from_millis(5);
    http.backoff_max = std::time::Duration::from_millis(20);
    Arc::new(notify::Notifier::new(notify::NotifierConfig { policy, http, smtp: None }).unwrap())
}

#[tokio::test]
async fn fired_alerts_are_delivered_to_their_targets_and_every_attempt_is_recorded() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let env = TestEnv::new().await;
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/T0/secret-token"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut rule = price_above(Some("AAPL"), 100.0);
    rule.targets = vec![
        serde_json::json!({"type": "webhook", "url": format!("{}/hooks/T0/secret-token", hook.uri()), "format": "slack"}),
        serde_json::json!({"type": "webhook", "url": format!("http://{closed}/down")}),
        serde_json::json!({"type": "webhook", "url": "http://10.0.0.5/internal"}),
        serde_json::json!({"type": "pager"}),
    ];
    env.storage.create_alert_rule(&rule).await.unwrap();
    env.storage.save_quote(&quote(101.0, utc(8, 15))).await.unwrap();
    // Loopback allowed by name (the test's receivers); the 10.0.0.5 target stays refused.
    let policy = notify::TargetPolicy { allow_private: false, allowed_hosts: vec!["127.0.0.1".to_owned()] };
    let monitor = AlertMonitor::new(env.storage.clone(), Some(notifier(policy)));
    let pass = monitor.evaluate(utc(8, 16)).await.unwrap();
    assert_eq!(pass.alerts.len(), 1);

    let received = hook.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert!(body["text"].as_str().is_some_and(|text| text.contains("AAPL")), "{body}");
    let deliveries = env.storage.alert_deliveries(pass.alerts[0].id).await.unwrap();
    let outcomes: Vec<(bool, u32)> = deliveries.iter().map(|d| (d.delivered, d.attempts)).collect();
    assert_eq!(outcomes, vec![(true, 1), (false, 2), (false, 0), (false, 0)], "{deliveries:#?}");
    assert_eq!(deliveries[0].http_status, Some(200));
    for delivery in &deliveries {
        assert!(!delivery.target.contains("secret-token"), "{}", delivery.target);
        assert!(!delivery.error.as_deref().unwrap_or_default().contains("secret-token"));
    }
    assert!(
        deliveries[2]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("10.0.0.5") || e.contains("not public") || e.contains("private")),
        "{:?}",
        deliveries[2].error
    );
    assert!(deliveries[3].error.as_deref().is_some_and(|e| e.starts_with("invalid target")));
    // Nothing fires again, so nothing is delivered again.
    assert!(monitor.evaluate(utc(8, 17)).await.unwrap().alerts.is_empty());
    assert_eq!(hook.received_requests().await.unwrap().len(), 1);
}

fn note(rating: domain::Rating) -> domain::ResearchNote {
    domain::ResearchNote {
        crew_run_id: None,
        symbol: sym("AAPL"),
        rating,
        confidence: 0.6,
        horizon: "3-6 months".to_owned(),
        thesis: "test".to_owned(),
        risks: Vec::new(),
        key_figures: serde_json::Map::new(),
        sources: Vec::new(),
        markdown: "# AAPL".to_owned(),
        model: "offline".to_owned(),
        crew: "research".to_owned(),
    }
}

fn rule_of(condition: Condition) -> AlertRule {
    AlertRule {
        rule: Rule { condition, ..price_above(Some("AAPL"), 1.0).rule },
        ..price_above(Some("AAPL"), 1.0)
    }
}

#[tokio::test]
async fn rating_changes_and_mention_spikes_fire_from_notes_and_scans() {
    use domain::{Mention, MentionKind, PostSource, Rating, SocialPost};

    let env = TestEnv::new().await;
    env.storage.create_alert_rule(&rule_of(Condition::RatingChange)).await.unwrap();
    env.storage.create_alert_rule(&rule_of(Condition::MentionSpike { score: 2.5 })).await.unwrap();
    let monitor = AlertMonitor::new(env.storage.clone(), None);
    let now = Utc::now();
    // One note: nothing to compare with. Quiet Reddit: nothing either.
    env.storage.insert_research_note(&note(Rating::Hold)).await.unwrap();
    assert!(monitor.evaluate(now).await.unwrap().alerts.is_empty());

    // The crew changes its mind, and AAPL is suddenly talked about (3 posts, none before).
    env.storage.insert_research_note(&note(Rating::Sell)).await.unwrap();
    let posts: Vec<(SocialPost, Mention)> = (0..3)
        .map(|i| {
            let created_at = now - Duration::minutes(10 + i);
            let post = SocialPost {
                source: PostSource::Reddit,
                post_id: format!("p{i}"),
                subreddit: "stocks".to_owned(),
                author: format!("u{i}"),
                created_at,
                title: "AAPL to the moon".to_owned(),
                permalink: None,
                sentiment: -0.4,
            };
            let mention = Mention {
                source: PostSource::Reddit,
                post_id: format!("p{i}"),
                symbol: sym("AAPL"),
                kind: MentionKind::Cashtag,
                author: format!("u{i}"),
                subreddit: "stocks".to_owned(),
                created_at,
                sentiment: -0.4,
            };
            (post, mention)
        })
        .collect();
    let (posts, mentions): (Vec<_>, Vec<_>) = posts.into_iter().unzip();
    env.storage.save_social_posts(&posts, &mentions).await.unwrap();
    let pass = monitor.evaluate(now + Duration::seconds(1)).await.unwrap();
    let mut fired: Vec<(String, f64)> = pass.alerts.iter().map(|a| (a.kind.clone(), a.observed)).collect();
    fired.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(fired, vec![("mention_spike".to_owned(), 3.0), ("rating_change".to_owned(), -1.0)]);
    let rating = pass.alerts.iter().find(|a| a.kind == "rating_change").unwrap();
    assert_eq!((rating.previous, rating.provider.as_deref()), (Some(0.0), Some("crew")));
    // The same notes and posts fire nothing again.
    assert!(monitor.evaluate(now + Duration::seconds(2)).await.unwrap().alerts.is_empty());
}

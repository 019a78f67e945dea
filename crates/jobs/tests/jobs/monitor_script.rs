//! The `monitor` job over a scripted week of Finnhub quotes (wiremock, the vendor's `/quote`
//! format): crossing up, hovering inside the band, gapping overnight, a failing vendor, the
//! Thanksgiving holiday, the half day after it, and a weekend. Each step sets the clock and the
//! vendor's answer, runs the job through the engine, and asserts exactly which alerts fire and
//! whether the vendor was asked at all.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use domain::{ProviderId, RunTrigger};
use jobs::{Clock, Job, JobEngine, MonitorJob};
use monitor::{Condition, Direction, Frequency, Rule};
use providers::{ProviderChain, ProvidersConfig};
use serde_json::json;
use storage::{AlertRule, RunStatus};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{SECS_30, TestEnv, sym};

fn at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, month, day, hour, minute, 0).unwrap()
}

fn rule(name: &str, direction: Direction, level: f64, frequency: Frequency, hysteresis: f64) -> AlertRule {
    AlertRule {
        symbol: Some(sym("AAPL")),
        name: Some(name.to_owned()),
        rule: Rule {
            condition: Condition::Price { direction, level },
            frequency,
            hysteresis,
            expires_at: None,
            paused: false,
        },
        targets: Vec::new(),
    }
}

/// What the vendor answers at one step.
enum Vendor {
    /// A quote of this price, stamped a minute before the step, previous close 99.
    Quote(f64),
    /// Finnhub's rate-limit answer.
    RateLimited,
}

struct Step {
    now: DateTime<Utc>,
    vendor: Vendor,
    /// Whether the exchange is in session, so the vendor is asked.
    polled: bool,
    /// `(rule name, observed price)` of every alert this step fires.
    fires: &'static [(&'static str, f64)],
}

fn step(now: DateTime<Utc>, vendor: Vendor, polled: bool, fires: &'static [(&'static str, f64)]) -> Step {
    Step { now, vendor, polled, fires }
}

#[tokio::test]
async fn a_scripted_week_of_quotes_fires_exactly_the_expected_alerts() {
    use Vendor::{Quote, RateLimited};
    let env = TestEnv::new().await;
    env.watch(&["AAPL"]).await;
    // Every crossing, released only once back below 99 (a 1.0 band); once per trading day;
    // once ever, below 90.
    env.storage
        .create_alert_rule(&rule(
            "every",
            Direction::Above,
            100.0,
            Frequency::Every { cooldown_secs: 0 },
            1.0,
        ))
        .await
        .unwrap();
    env.storage
        .create_alert_rule(&rule("daily", Direction::Above, 100.25, Frequency::OncePerDay, 0.0))
        .await
        .unwrap();
    env.storage.create_alert_rule(&rule("once", Direction::Below, 90.0, Frequency::Once, 0.0)).await.unwrap();

    let vendor = MockServer::start().await;
    let mut config = ProvidersConfig { order: vec![ProviderId::Finnhub], ..ProvidersConfig::default() };
    config.finnhub.base_url = vendor.uri();
    config.finnhub.api_key = Some(providers::ApiKey::new("script-key"));
    config.finnhub.rate_limits.clear();
    config.finnhub.max_retries = 0;
    let chain = ProviderChain::from_config(&config, None).unwrap();

    let now = Arc::new(Mutex::new(at(11, 26, 15, 0)));
    let clock: Clock = {
        let now = Arc::clone(&now);
        Arc::new(move || *now.lock().unwrap())
    };
    let job: Arc<dyn Job> = Arc::new(MonitorJob::new(chain, None).with_clock(clock));
    let engine = JobEngine::start(env.storage.clone(), vec![job], Vec::new()).await.unwrap();

    // 2024-11-26 is a Tuesday; New York is UTC-5, the session 14:30–21:00 UTC.
    let script = [
        step(at(11, 26, 15, 0), Quote(99.0), true, &[]),
        // Crossing up.
        step(at(11, 26, 15, 5), Quote(100.5), true, &[("every", 100.5), ("daily", 100.5)]),
        // Hovering: under the level but inside the band, then above again — nothing.
        step(at(11, 26, 15, 10), Quote(99.5), true, &[]),
        step(at(11, 26, 15, 15), Quote(100.8), true, &[]),
        // Back past the band releases "every"; "daily" waits for tomorrow.
        step(at(11, 26, 15, 20), Quote(98.5), true, &[]),
        // The vendor refuses: the poll is reported, the rules keep their state.
        step(at(11, 26, 15, 22), RateLimited, true, &[]),
        step(at(11, 26, 15, 25), Quote(101.0), true, &[("every", 101.0)]),
        // Gapping down overnight, then straight back up.
        step(at(11, 27, 14, 35), Quote(85.0), true, &[("once", 85.0)]),
        step(at(11, 27, 14, 40), Quote(102.0), true, &[("every", 102.0), ("daily", 102.0)]),
        // Thanksgiving: the exchange is closed, the vendor is not asked.
        step(at(11, 28, 15, 0), Quote(80.0), false, &[]),
        // The half day after it closes at 13:00 in New York (18:00 UTC).
        step(at(11, 29, 17, 30), Quote(98.0), true, &[]),
        step(at(11, 29, 18, 30), Quote(105.0), false, &[]),
        // Saturday.
        step(at(11, 30, 15, 0), Quote(106.0), false, &[]),
        // Monday: above again; "once" stays disarmed when the price falls below 90 later.
        step(at(12, 2, 14, 35), Quote(105.0), true, &[("every", 105.0), ("daily", 105.0)]),
        step(at(12, 2, 14, 40), Quote(88.0), true, &[]),
    ];

    let mut fired_so_far = 0;
    for (number, step) in script.iter().enumerate() {
        *now.lock().unwrap() = step.now;
        vendor.reset().await;
        let response = match step.vendor {
            Quote(price) => ResponseTemplate::new(200).set_body_json(json!({
                "c": price, "d": price - 99.0, "dp": (price - 99.0) / 99.0 * 100.0,
                "h": price, "l": price, "o": price, "pc": 99.0,
                "t": (step.now.timestamp() - 60),
            })),
            RateLimited => ResponseTemplate::new(429).set_body_json(
                json!({"error": "API limit reached. Please try again later. Remaining Limit: 0"}),
            ),
        };
        Mock::given(method("GET"))
            .and(path("/quote"))
            .and(query_param("symbol", "AAPL"))
            .respond_with(response)
            .mount(&vendor)
            .await;

        let run = engine.trigger(MonitorJob::NAME, RunTrigger::Schedule).await.unwrap().run;
        let run = engine.wait_for(run.id, SECS_30).await.unwrap();
        // A poll whose every quote failed is reported as a failed run; the rules keep their state.
        let status =
            if matches!(step.vendor, RateLimited) { RunStatus::Failed } else { RunStatus::Succeeded };
        assert_eq!(run.status, status, "step {number}: {run:?}");
        let asked = vendor.received_requests().await.unwrap().len();
        assert_eq!(asked, usize::from(step.polled), "step {number} at {}: vendor requests", step.now);
        let items = env.storage.run_items(run.id).await.unwrap();
        match (&step.vendor, step.polled) {
            (_, false) => assert!(items.is_empty(), "step {number}: {items:?}"),
            (Quote(_), true) => {
                assert!(items.len() == 1 && items[0].succeeded, "step {number}: {items:?}")
            }
            (RateLimited, true) => {
                assert!(items.len() == 1 && !items[0].succeeded, "step {number}: {items:?}");
                let error = items[0].error.as_deref().unwrap_or_default();
                assert!(!error.contains("script-key"), "the key leaked: {error}");
            }
        }

        // Newest first: this step's alerts are the first ones listed.
        let all = env.storage.alerts(None, None, 100).await.unwrap();
        let mut new: Vec<(String, f64)> =
            all[..all.len() - fired_so_far].iter().map(|a| (a.rule.clone(), a.observed)).collect();
        new.sort_by(|a, b| a.0.cmp(&b.0));
        let mut expected: Vec<(String, f64)> =
            step.fires.iter().map(|(r, p)| ((*r).to_owned(), *p)).collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(new, expected, "step {number} at {}", step.now);
        for alert in &all[..all.len() - fired_so_far] {
            assert_eq!(alert.provider.as_deref(), Some("finnhub"));
            assert_eq!(alert.fired_at, step.now - chrono::Duration::seconds(60), "the quote's time");
        }
        fired_so_far = all.len();
    }
    assert_eq!(fired_so_far, 8);
    engine.shutdown(SECS_30).await;
}

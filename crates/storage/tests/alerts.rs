//! Alert rules, their state and their alerts, against SQLite always and PostgreSQL when
//! `TEST_DATABASE_URL` is set.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use domain::Symbol;
use monitor::{Condition, Direction, Frequency, Rule, RuleState};
use storage::{Alert, AlertRule, Storage, StorageError};

#[macro_use]
mod common;

backend_tests!(
    check_rules_are_stored_and_duplicates_refused,
    check_evaluations_store_each_alert_once,
    check_a_cursor_reader_sees_every_alert_once_in_id_order,
);

fn sym(text: &str) -> Symbol {
    Symbol::parse(text).unwrap()
}

fn price_rule(symbol: Option<&str>, level: f64) -> AlertRule {
    AlertRule {
        symbol: symbol.map(sym),
        name: Some(format!("above {level}")),
        rule: Rule {
            condition: Condition::Price { direction: Direction::Above, level },
            frequency: Frequency::Every { cooldown_secs: 3600 },
            hysteresis: 0.5,
            expires_at: None,
            paused: false,
        },
        targets: vec![serde_json::json!({"webhook": "https://example.com/hook"})],
    }
}

async fn check_rules_are_stored_and_duplicates_refused(storage: Storage) {
    let aapl = storage.create_alert_rule(&price_rule(Some("AAPL"), 200.0)).await.unwrap();
    assert_eq!(aapl.value, price_rule(Some("AAPL"), 200.0));
    let watchlist = storage.create_alert_rule(&price_rule(None, 200.0)).await.unwrap();
    // The same symbol and condition again, whatever the frequency: refused, naming the rule.
    let mut again = price_rule(Some("AAPL"), 200.0);
    again.rule.frequency = Frequency::Once;
    let err = storage.create_alert_rule(&again).await.unwrap_err();
    assert!(
        matches!(err, StorageError::DuplicateAlertRule { existing } if existing == aapl.id)
            && err.to_string().contains(&format!("rule {}", aapl.id)),
        "{err}"
    );
    // An invalid rule is refused before the database, naming the field.
    let err = storage.create_alert_rule(&price_rule(Some("AAPL"), -5.0)).await.unwrap_err();
    assert!(err.to_string().contains("level"), "{err}");

    let listed: Vec<i64> = storage.alert_rules().await.unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listed, vec![aapl.id, watchlist.id]);

    // Pausing keeps the state; changing the condition resets it.
    let state = RuleState::armed(NaiveDate::from_ymd_opt(2024, 5, 1).unwrap());
    storage.record_rule_evaluation(aapl.id, &sym("AAPL"), &state, &[]).await.unwrap();
    let mut paused = aapl.value.clone();
    paused.rule.paused = true;
    let updated = storage.update_alert_rule(aapl.id, &paused).await.unwrap().unwrap();
    assert!(updated.rule.paused);
    assert_eq!(storage.rule_state(aapl.id, &sym("AAPL")).await.unwrap(), Some(state));
    let moved = price_rule(Some("AAPL"), 210.0);
    storage.update_alert_rule(aapl.id, &moved).await.unwrap().unwrap();
    assert_eq!(storage.rule_state(aapl.id, &sym("AAPL")).await.unwrap(), None);
    // Updating into a duplicate of another rule is refused.
    let err = storage.update_alert_rule(watchlist.id, &moved).await.unwrap_err();
    assert!(err.to_string().contains("already watches"), "{err}");
    assert_eq!(storage.update_alert_rule(4242, &moved).await.unwrap(), None);

    assert!(storage.delete_alert_rule(watchlist.id).await.unwrap());
    assert!(!storage.delete_alert_rule(watchlist.id).await.unwrap());
    assert_eq!(storage.alert_rule(watchlist.id).await.unwrap(), None);
}

async fn check_evaluations_store_each_alert_once(storage: Storage) {
    let rule = storage.create_alert_rule(&price_rule(None, 100.0)).await.unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 5, 2).unwrap();
    let fired_at = Utc.with_ymd_and_hms(2024, 5, 2, 20, 0, 0).unwrap();
    let alert = |symbol: &str, at| Alert {
        rule_id: Some(rule.id),
        symbol: sym(symbol),
        kind: "price".to_owned(),
        rule: "above 100".to_owned(),
        fired_at: at,
        day,
        observed: 100.5,
        threshold: 100.0,
        previous: Some(99.0),
        provider: Some("sample".to_owned()),
        acknowledged_at: None,
    };
    let mut state = RuleState::armed(day);
    state.latched = true;
    let stored = storage
        .record_rule_evaluation(rule.id, &sym("AAPL"), &state, &[alert("AAPL", fired_at)])
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].value, alert("AAPL", fired_at));
    // The same firing again (a restart evaluating the same bar): nothing new.
    let again = storage
        .record_rule_evaluation(rule.id, &sym("AAPL"), &state, &[alert("AAPL", fired_at)])
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(storage.rule_state(rule.id, &sym("AAPL")).await.unwrap(), Some(state.clone()));
    assert_eq!(storage.rule_states().await.unwrap().get(&(rule.id, sym("AAPL"))), Some(&state));
    let later = fired_at + Duration::hours(2);
    storage.record_rule_evaluation(rule.id, &sym("MSFT"), &state, &[alert("MSFT", later)]).await.unwrap();

    let all = storage.alerts(None, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|a| a.symbol.as_str()).collect::<Vec<_>>(), ["MSFT", "AAPL"], "newest first");
    assert_eq!(storage.alerts(None, Some(&sym("AAPL")), 10).await.unwrap().len(), 1);
    assert_eq!(storage.alerts(Some(later), None, 10).await.unwrap().len(), 1);
    assert_eq!(storage.alerts(None, None, 1).await.unwrap().len(), 1);

    let acked = storage.acknowledge_alert(stored[0].id).await.unwrap().unwrap();
    let first_ack = acked.acknowledged_at.expect("acknowledged");
    let twice = storage.acknowledge_alert(stored[0].id).await.unwrap().unwrap();
    assert_eq!(twice.acknowledged_at, Some(first_ack), "the first acknowledgement stays");
    assert_eq!(storage.acknowledge_alert(4242).await.unwrap(), None);

    // Deleting the rule keeps its alerts, without the rule.
    storage.delete_alert_rule(rule.id).await.unwrap();
    let kept = storage.alerts(None, None, 10).await.unwrap();
    assert_eq!(kept.len(), 2);
    assert!(kept.iter().all(|a| a.rule_id.is_none()));
}

/// Issue 12: the live stream reads `alerts_after(last id seen)`. With writers storing alerts
/// concurrently (on PostgreSQL: transactions that could commit out of id order, were they not
/// serialised), a reader following the cursor sees every alert once, in increasing id order,
/// and the in-process signal carries the newest id.
async fn check_a_cursor_reader_sees_every_alert_once_in_id_order(storage: Storage) {
    const WRITERS: usize = 4;
    const PER_WRITER: i64 = 15;
    assert_eq!(storage.last_alert_id().await.unwrap(), 0);
    let mut signal = storage.alert_stored();
    let rule = storage.create_alert_rule(&price_rule(None, 100.0)).await.unwrap();
    let symbols = ["AAPL", "MSFT", "NVDA", "AMZN"];
    let writers: Vec<_> = symbols
        .iter()
        .take(WRITERS)
        .map(|symbol| {
            let storage = storage.clone();
            let symbol = sym(symbol);
            tokio::spawn(async move {
                let state = RuleState::armed(NaiveDate::from_ymd_opt(2024, 5, 2).unwrap());
                for second in 0..PER_WRITER {
                    let at = Utc.with_ymd_and_hms(2024, 5, 2, 20, 0, 0).unwrap() + Duration::seconds(second);
                    let alert = Alert {
                        rule_id: Some(rule.id),
                        symbol: symbol.clone(),
                        kind: "price".to_owned(),
                        rule: "above 100".to_owned(),
                        fired_at: at,
                        day: at.date_naive(),
                        observed: 101.0,
                        threshold: 100.0,
                        previous: None,
                        provider: None,
                        acknowledged_at: None,
                    };
                    storage.record_rule_evaluation(rule.id, &symbol, &state, &[alert]).await.unwrap();
                }
            })
        })
        .collect();
    let total = WRITERS * usize::try_from(PER_WRITER).unwrap();
    let (mut seen, mut cursor) = (Vec::new(), 0);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < total {
        assert!(tokio::time::Instant::now() < deadline, "saw {} of {total}", seen.len());
        let page = storage.alerts_after(cursor, None, 7).await.unwrap();
        assert!(page.len() <= 7);
        for alert in page {
            assert!(alert.id > cursor, "id {} after {cursor}", alert.id);
            cursor = alert.id;
            seen.push(alert.id);
        }
        tokio::task::yield_now().await;
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut stored: Vec<i64> = storage.alerts(None, None, 1000).await.unwrap().iter().map(|a| a.id).collect();
    stored.sort_unstable();
    assert_eq!(seen, stored, "every alert once, in id order");
    assert!(storage.alerts_after(cursor, None, 7).await.unwrap().is_empty());
    assert_eq!(storage.last_alert_id().await.unwrap(), cursor);
    assert!(signal.has_changed().unwrap());
    assert_eq!(*signal.borrow_and_update(), cursor, "the signal carries the newest id");
    // The symbol filter, and one alert by id.
    let msft = storage.alerts_after(0, Some(&sym("MSFT")), 100).await.unwrap();
    assert_eq!(msft.len(), usize::try_from(PER_WRITER).unwrap());
    assert!(msft.iter().all(|a| a.symbol.as_str() == "MSFT"));
    assert_eq!(storage.alert(msft[0].id).await.unwrap().unwrap(), msft[0]);
    assert_eq!(storage.alert(i64::MAX).await.unwrap(), None);
}

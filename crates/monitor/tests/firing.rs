//! Scripted sequences of bars, quotes and scans, with exactly the firings each must produce.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::Rating;
use monitor::{
    AverageKind, Condition, DailyBar, Direction, Frequency, Held, Line, Observation, Rule, RuleState, Step,
    evaluate, evaluate_daily, read, step,
};

fn day(n: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + Duration::days(i64::from(n))
}

fn at(n: u32, hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(n).and_hms_opt(hour, minute, second).unwrap())
}

/// A bar of day `n`: open, high, low, close.
fn bar(n: u32, open: f64, high: f64, low: f64, close: f64) -> DailyBar {
    DailyBar { date: day(n), open, high, low, close, volume: Some(1_000) }
}

/// Flat bars at `close` for days `0..n`.
fn flat(n: u32, close: f64) -> Vec<DailyBar> {
    (0..n).map(|i| bar(i, close, close, close, close)).collect()
}

fn rule(condition: Condition, frequency: Frequency) -> Rule {
    Rule { condition, frequency, hysteresis: 0.0, expires_at: None, paused: false }
}

fn every(cooldown_secs: u64) -> Frequency {
    Frequency::Every { cooldown_secs }
}

fn price_above(level: f64) -> Condition {
    Condition::Price { direction: Direction::Above, level }
}

fn fired_days(readings: &[monitor::Reading]) -> Vec<NaiveDate> {
    readings.iter().map(|r| r.day).collect()
}

#[test]
fn a_daily_price_rule_catches_an_intraday_touch_and_fires_once_per_crossing() {
    let rule = Rule { hysteresis: 1.0, ..rule(price_above(100.0), every(0)) };
    let mut state = RuleState::armed(day(0));
    let bars = vec![
        bar(0, 95.0, 99.0, 94.0, 96.0),    // armed: close 96 below
        bar(1, 96.0, 100.5, 95.0, 97.0),   // the high touches 100: fires although it closed below
        bar(2, 97.0, 103.0, 99.2, 102.0),  // still above, never back below 99: latched
        bar(3, 102.0, 102.5, 99.5, 100.0), // low 99.5 is not past the band (99)
        bar(4, 100.0, 101.0, 98.0, 99.0),  // low 98 is back past the band: re-armed, high 101 fires again
        bar(5, 99.0, 99.5, 97.0, 98.0),    // quiet
    ];
    let fired = evaluate_daily(&rule, &mut state, &bars, false, at(6, 0, 0, 0));
    assert_eq!(fired_days(&fired), vec![day(1), day(4)]);
    assert_eq!(fired[0].value, 100.5, "the day's high is the value that crossed");
    assert_eq!(fired[0].previous, Some(96.0));
    assert_eq!(state.evaluated_through, Some(day(5)));
    // Evaluating again (a restart, the next poll) fires nothing twice.
    assert!(evaluate_daily(&rule, &mut state, &bars, false, at(6, 1, 0, 0)).is_empty());
}

#[test]
fn on_the_day_it_is_armed_a_daily_rule_compares_the_close() {
    let rule = rule(price_above(100.0), every(0));
    // The high of the arming day came before the rule existed: no firing on it.
    let mut state = RuleState::armed(day(3));
    let bars = vec![bar(2, 99.0, 99.0, 99.0, 99.0), bar(3, 99.0, 104.0, 98.0, 99.5)];
    assert!(evaluate_daily(&rule, &mut state, &bars, false, at(3, 22, 0, 0)).is_empty());
    // A close beyond the level on the arming day fires.
    let mut state = RuleState::armed(day(3));
    let bars = vec![bar(2, 99.0, 99.0, 99.0, 99.0), bar(3, 99.0, 104.0, 98.0, 101.0)];
    assert_eq!(fired_days(&evaluate_daily(&rule, &mut state, &bars, false, at(3, 22, 0, 0))), vec![day(3)]);
}

#[test]
fn bars_before_the_rule_existed_never_fire() {
    let rule = rule(price_above(100.0), every(0));
    let mut state = RuleState::armed(day(5));
    let mut bars = flat(5, 120.0);
    bars.push(bar(5, 99.0, 99.0, 99.0, 99.0));
    assert!(evaluate_daily(&rule, &mut state, &bars, false, at(5, 22, 0, 0)).is_empty());
}

#[test]
fn a_partial_session_polled_again_and_again_fires_once() {
    let rule = rule(price_above(100.0), every(0));
    let mut state = RuleState::armed(day(0));
    let mut bars = vec![bar(0, 98.0, 98.0, 98.0, 98.0), bar(1, 98.0, 99.0, 97.0, 98.5)];
    let mut fired = Vec::new();
    // Poll after poll the session widens: up through 100, down far below, up again.
    for (high, low) in [(99.5, 97.0), (100.2, 97.0), (100.2, 90.0), (101.0, 90.0)] {
        bars[1].high = high;
        bars[1].low = low;
        fired.extend(evaluate_daily(&rule, &mut state, &bars, true, at(1, 15, 0, 0)));
        assert_eq!(state.evaluated_through, Some(day(0)), "the open session stays to be polled again");
    }
    // The session closes; the next poll sees the final bar, then the next day.
    fired.extend(evaluate_daily(&rule, &mut state, &bars, false, at(1, 22, 0, 0)));
    assert_eq!(fired_days(&fired), vec![day(1)]);
    bars.push(bar(2, 95.0, 100.5, 94.0, 96.0));
    let next = evaluate_daily(&rule, &mut state, &bars, false, at(2, 22, 0, 0));
    assert_eq!(fired_days(&next), vec![day(2)], "released by day 1's low, crossed again on day 2");
}

fn quote(price: f64, when: DateTime<Utc>) -> Observation<'static> {
    Observation::Quote { price, previous_close: Some(98.0), day: when.date_naive(), at: when }
}

#[test]
fn a_price_hovering_at_the_threshold_fires_once_until_it_moves_back_past_the_band() {
    let rule = Rule { hysteresis: 1.0, ..rule(price_above(100.0), every(0)) };
    let mut state = RuleState::armed(day(0));
    let prices = [99.0, 100.1, 99.9, 100.2, 99.95, 100.3, 99.5, 100.05, 98.9, 100.4];
    let fired: Vec<f64> = prices
        .iter()
        .enumerate()
        .filter_map(|(i, p)| evaluate(&rule, &mut state, &quote(*p, at(0, 15, 0, i as u32))).map(|r| r.value))
        .collect();
    // Only the crossings that follow a move below 99 (the band) count.
    assert_eq!(fired, vec![100.1, 100.4]);
}

#[test]
fn a_flood_of_quotes_gives_at_most_one_alert_per_cooldown() {
    let rule = rule(price_above(100.0), every(60));
    let mut state = RuleState::armed(day(0));
    let mut fired = Vec::new();
    // 1,000 quotes, ten per second, swinging through the threshold every time.
    for i in 0..1000_u32 {
        let when = at(0, 14, 0, 0) + Duration::milliseconds(i64::from(i) * 100);
        let price = if i % 2 == 0 { 101.0 } else { 99.0 };
        fired.extend(evaluate(&rule, &mut state, &quote(price, when)).map(|r| r.at));
    }
    // 100 s of quotes with a 60 s cooldown: the first crossing, and the first one 60 s later.
    assert_eq!(fired, vec![at(0, 14, 0, 0), at(0, 14, 1, 0)]);
}

#[test]
fn once_disarms_until_rearmed() {
    let rule = rule(price_above(100.0), Frequency::Once);
    let mut state = RuleState::armed(day(0));
    assert!(evaluate(&rule, &mut state, &quote(101.0, at(0, 15, 0, 0))).is_some());
    let below = read(&rule.condition, &quote(90.0, at(0, 15, 1, 0)), day(0), 0.0).unwrap();
    assert_eq!(step(&rule, &mut state, &below), Step::Quiet);
    let above = read(&rule.condition, &quote(105.0, at(0, 15, 2, 0)), day(0), 0.0).unwrap();
    assert_eq!(step(&rule, &mut state, &above), Step::Held(Held::Disarmed));
    state.rearm(day(1));
    assert!(evaluate(&rule, &mut state, &quote(105.0, at(1, 15, 0, 0))).is_some());
    assert_eq!(state.last_fired_day, Some(day(1)));
}

#[test]
fn once_per_day_fires_on_each_trading_day_the_condition_holds() {
    let rule = rule(price_above(100.0), Frequency::OncePerDay);
    let mut state = RuleState::armed(day(0));
    let mut fired = Vec::new();
    for (d, hour) in [(0, 14), (0, 15), (0, 16), (1, 14), (1, 18), (2, 10)] {
        fired.extend(evaluate(&rule, &mut state, &quote(101.0, at(d, hour, 0, 0))).map(|r| r.at));
    }
    assert_eq!(fired, vec![at(0, 14, 0, 0), at(1, 14, 0, 0), at(2, 10, 0, 0)]);
}

#[test]
fn paused_and_expired_rules_hold_their_fire() {
    let paused = Rule { paused: true, ..rule(price_above(100.0), every(0)) };
    let mut state = RuleState::armed(day(0));
    let reading = read(&paused.condition, &quote(101.0, at(0, 15, 0, 0)), day(0), 0.0).unwrap();
    assert_eq!(step(&paused, &mut state, &reading), Step::Held(Held::Paused));
    let expired = Rule { expires_at: Some(at(0, 12, 0, 0)), ..rule(price_above(100.0), every(0)) };
    assert_eq!(step(&expired, &mut state, &reading), Step::Held(Held::Expired));
    assert_eq!(state.last_fired_at, None);
}

#[test]
fn intraday_change_from_the_previous_close_and_over_days() {
    let drop5 =
        rule(Condition::ChangePercent { direction: Direction::Below, percent: 5.0, days: 0 }, every(0));
    let mut state = RuleState::armed(day(0));
    // Previous close 98: 93.2 is −4.9 %, 93.0 is −5.1 %.
    assert!(evaluate(&drop5, &mut state, &quote(93.2, at(0, 15, 0, 0))).is_none());
    let fired = evaluate(&drop5, &mut state, &quote(93.0, at(0, 15, 0, 1))).unwrap();
    assert!((fired.value + 5.102).abs() < 0.001, "{fired:?}");
    assert_eq!(fired.threshold, -5.0);

    let up10_over_5 =
        rule(Condition::ChangePercent { direction: Direction::Above, percent: 10.0, days: 5 }, every(0));
    let mut state = RuleState::armed(day(0));
    let closes = [100.0, 101.0, 102.0, 104.0, 106.0, 109.0, 111.0, 112.0];
    let bars: Vec<DailyBar> = closes.iter().enumerate().map(|(i, c)| bar(i as u32, *c, *c, *c, *c)).collect();
    // Day 5: 109/100 = +9 %; day 6: 111/101 = +9.9 %; day 7: 112/102 = +9.8 %: none.
    assert!(evaluate_daily(&up10_over_5, &mut state, &bars, false, at(8, 0, 0, 0)).is_empty());
    let mut bars = bars;
    bars.push(bar(8, 115.0, 115.0, 115.0, 115.0)); // 115/104 = +10.6 %
    assert_eq!(
        fired_days(&evaluate_daily(&up10_over_5, &mut state, &bars, false, at(9, 0, 0, 0))),
        vec![day(8)]
    );
}

#[test]
fn a_gap_at_the_open_fires_on_its_day_only() {
    let gap_up = rule(Condition::Gap { direction: Direction::Above, percent: 3.0 }, every(0));
    let gap_down = rule(Condition::Gap { direction: Direction::Below, percent: 3.0 }, every(0));
    let bars = vec![
        bar(0, 100.0, 100.0, 100.0, 100.0),
        bar(1, 103.5, 104.0, 99.0, 100.0), // +3.5 % gap up
        bar(2, 101.0, 101.0, 99.0, 100.0), // +1 %
        bar(3, 96.0, 97.0, 95.0, 96.0),    // −4 % gap down
    ];
    let mut up = RuleState::armed(day(0));
    let mut down = RuleState::armed(day(0));
    assert_eq!(fired_days(&evaluate_daily(&gap_up, &mut up, &bars, false, at(4, 0, 0, 0))), vec![day(1)]);
    assert_eq!(fired_days(&evaluate_daily(&gap_down, &mut down, &bars, false, at(4, 0, 0, 0))), vec![day(3)]);
}

#[test]
fn a_volume_spike_is_a_multiple_of_the_days_before() {
    let spike = rule(Condition::VolumeSpike { multiple: 3.0, days: 5 }, every(0));
    let mut bars = flat(8, 50.0);
    bars[6].volume = Some(2_900);
    bars[7].volume = Some(3_000);
    let mut state = RuleState::armed(day(0));
    let fired = evaluate_daily(&spike, &mut state, &bars, false, at(9, 0, 0, 0));
    // Day 6: 2,900 over an average of 1,000 is 2.9×; day 7: 3,000 over (4 × 1,000 + 2,900) / 5 =
    // 1,380 is 2.2×: no firing. Then a clear spike fires.
    assert!(fired.is_empty(), "{fired:?}");
    bars.push(DailyBar { volume: Some(10_000), ..bar(8, 50.0, 50.0, 50.0, 50.0) });
    let fired = evaluate_daily(&spike, &mut state, &bars, false, at(9, 0, 0, 0));
    assert_eq!(fired_days(&fired), vec![day(8)]);
    // Over days 3–7: (3 × 1,000 + 2,900 + 3,000) / 5 = 1,780.
    assert_eq!(fired[0].previous, Some(1_780.0));
    assert!((fired[0].value - 10_000.0 / 1_780.0).abs() < 1e-9, "{fired:?}");
}

#[test]
fn rsi_below_thirty_on_a_falling_series() {
    let oversold = rule(Condition::Rsi { direction: Direction::Below, level: 30.0, period: 14 }, every(0));
    let mut bars: Vec<DailyBar> =
        (0..20).map(|i| bar(i, 100.0, 100.0, 100.0, if i % 2 == 0 { 100.0 } else { 101.0 })).collect();
    let mut state = RuleState::armed(day(0));
    assert!(evaluate_daily(&oversold, &mut state, &bars, false, at(20, 0, 0, 0)).is_empty());
    for i in 20..30 {
        let close = 100.0 - f64::from(i - 19) * 2.0;
        bars.push(bar(i, close, close, close, close));
    }
    let fired = evaluate_daily(&oversold, &mut state, &bars, false, at(30, 0, 0, 0));
    assert_eq!(fired.len(), 1, "fires once and stays latched while oversold: {fired:?}");
    assert!(fired[0].value <= 30.0);
}

#[test]
fn a_golden_cross_fires_on_the_crossing_day() {
    let golden = rule(
        Condition::Cross {
            fast: Line::Average { kind: AverageKind::Sma, period: 3 },
            slow: Line::Average { kind: AverageKind::Sma, period: 5 },
            direction: Direction::Above,
        },
        every(0),
    );
    // Falling, then rising: SMA3 passes SMA5 on day 8.
    let closes = [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    let bars: Vec<DailyBar> = closes.iter().enumerate().map(|(i, c)| bar(i as u32, *c, *c, *c, *c)).collect();
    let mut state = RuleState::armed(day(0));
    let fired = evaluate_daily(&golden, &mut state, &bars, false, at(11, 0, 0, 0));
    // Day 7: SMA3 = 6.0, SMA5 = 6.2; day 8: SMA3 = 7.0, SMA5 = 6.4.
    assert_eq!(fired_days(&fired), vec![day(8)]);
    // Price crossing an average works the same way.
    let price_over = rule(
        Condition::Cross {
            fast: Line::Close,
            slow: Line::Average { kind: AverageKind::Ema, period: 3 },
            direction: Direction::Above,
        },
        every(0),
    );
    let mut state = RuleState::armed(day(0));
    assert_eq!(evaluate_daily(&price_over, &mut state, &bars, false, at(11, 0, 0, 0)).len(), 1);
}

#[test]
fn a_new_52_week_high_needs_a_year_of_history() {
    let high = rule(Condition::NewExtreme { direction: Direction::Above }, every(0));
    let mut bars = flat(260, 50.0);
    bars[100].high = 60.0;
    bars.push(bar(260, 55.0, 59.0, 54.0, 58.0)); // below day 100's 60
    bars.push(bar(261, 58.0, 61.0, 57.0, 60.5)); // a new high
    let mut state = RuleState::armed(day(0));
    let fired = evaluate_daily(&high, &mut state, &bars, false, at(262, 0, 0, 0));
    assert_eq!(fired_days(&fired), vec![day(261)]);
    assert_eq!((fired[0].value, fired[0].threshold), (61.0, 60.0));
}

#[test]
fn mention_spikes_sentiment_shifts_and_rating_changes() {
    let spike = rule(Condition::MentionSpike { score: 3.0 }, every(3600));
    let mut state = RuleState::armed(day(0));
    let scan = |score, hour| Observation::Mentions { spike_score: score, day: day(0), at: at(0, hour, 0, 0) };
    assert!(evaluate(&spike, &mut state, &scan(2.5, 10)).is_none());
    assert!(evaluate(&spike, &mut state, &scan(3.4, 11)).is_some());
    assert!(evaluate(&spike, &mut state, &scan(4.0, 12)).is_none(), "still spiking: latched");

    let souring = rule(Condition::SentimentShift { direction: Direction::Below, delta: 0.3 }, every(0));
    let mut state = RuleState::armed(day(0));
    let shift =
        |previous, current| Observation::Sentiment { previous, current, day: day(0), at: at(0, 9, 0, 0) };
    assert!(evaluate(&souring, &mut state, &shift(0.2, 0.4)).is_none());
    let fired = evaluate(&souring, &mut state, &shift(0.4, 0.05)).unwrap();
    assert!((fired.value + 0.35).abs() < 1e-9);

    let rating = rule(Condition::RatingChange, every(0));
    let mut state = RuleState::armed(day(0));
    let note = |previous, current| Observation::Rating { previous, current, day: day(0), at: at(0, 9, 0, 0) };
    assert!(evaluate(&rating, &mut state, &note(Rating::Hold, Rating::Hold)).is_none());
    let fired = evaluate(&rating, &mut state, &note(Rating::Hold, Rating::Sell)).unwrap();
    assert_eq!((fired.previous, fired.value), (Some(0.0), -1.0));
    // A price rule has nothing to say about a note, and the other way round.
    assert!(read(&price_above(1.0), &note(Rating::Buy, Rating::Sell), day(0), 0.0).is_none());
    assert!(read(&Condition::RatingChange, &quote(1.0, at(0, 9, 0, 0)), day(0), 0.0).is_none());
}

#[test]
fn bad_rules_name_the_field_and_duplicates_are_recognised() {
    let cases = [
        (price_above(-1.0), "level"),
        (price_above(f64::NAN), "level"),
        (Condition::ChangePercent { direction: Direction::Above, percent: 5.0, days: 1000 }, "days"),
        (Condition::VolumeSpike { multiple: 2.0, days: 0 }, "days"),
        (Condition::Rsi { direction: Direction::Below, level: 130.0, period: 14 }, "level"),
        (Condition::Cross { fast: Line::Close, slow: Line::Close, direction: Direction::Above }, "slow"),
        (Condition::MentionSpike { score: 0.0 }, "score"),
    ];
    for (condition, field) in cases {
        let err = rule(condition, every(0)).validate().unwrap_err();
        assert_eq!(err.field, field, "{condition:?}: {err}");
    }
    assert_eq!(rule(price_above(10.0), every(31_536_001)).validate().unwrap_err().field, "cooldown_secs");
    let negative_band = Rule { hysteresis: -1.0, ..rule(price_above(10.0), every(0)) };
    assert_eq!(negative_band.validate().unwrap_err().field, "hysteresis");
    assert!(rule(price_above(10.0), Frequency::Once).duplicates(&rule(price_above(10.0), every(60))));
    assert!(!rule(price_above(10.0), Frequency::Once).duplicates(&rule(price_above(11.0), Frequency::Once)));
}

#[test]
fn rules_and_states_round_trip_through_json() {
    let original = Rule {
        hysteresis: 0.5,
        expires_at: Some(at(30, 0, 0, 0)),
        ..rule(
            Condition::Cross {
                fast: Line::Average { kind: AverageKind::Sma, period: 50 },
                slow: Line::Average { kind: AverageKind::Sma, period: 200 },
                direction: Direction::Above,
            },
            every(3600),
        )
    };
    let json = serde_json::to_value(&original).unwrap();
    assert_eq!(json["condition"]["kind"], "cross");
    assert_eq!(json["condition"]["fast"]["kind"], "sma");
    assert_eq!(json["frequency"]["kind"], "every");
    assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), original);
    let mut state = RuleState::armed(day(2));
    state.latched = true;
    let back: RuleState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(back, state);
}

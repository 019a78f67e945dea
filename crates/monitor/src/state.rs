//! A rule's memory between evaluations, and the one function that decides whether a reading
//! fires it.
//!
//! The state is small and stored with the rule, so a restart neither forgets that a rule fired
//! (no repeat alert) nor invents a firing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::reading::{DailyBar, Observation, Reading, read};
use crate::rule::{Frequency, Rule};

/// What the monitor remembers about a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// The trading day the rule was (re-)armed: on that day daily rules compare the close.
    pub armed_on: NaiveDate,
    /// Fired and not yet back past the hysteresis band.
    #[serde(default)]
    pub latched: bool,
    /// A `Once` rule that fired: it stays silent until re-armed.
    #[serde(default)]
    pub disarmed: bool,
    #[serde(default)]
    pub last_fired_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_fired_day: Option<NaiveDate>,
    /// The last daily bar evaluated, so a bar is never evaluated (or fired on) twice.
    #[serde(default)]
    pub evaluated_through: Option<NaiveDate>,
}

impl RuleState {
    /// A rule armed on `day`.
    pub fn armed(day: NaiveDate) -> Self {
        Self {
            armed_on: day,
            latched: false,
            disarmed: false,
            last_fired_at: None,
            last_fired_day: None,
            evaluated_through: None,
        }
    }

    /// Re-arms a rule (a `Once` rule that fired, or any rule the user re-arms) from `day`.
    pub fn rearm(&mut self, day: NaiveDate) {
        *self = Self {
            last_fired_at: self.last_fired_at,
            last_fired_day: self.last_fired_day,
            ..Self::armed(day)
        };
    }
}

/// Why a reading did not fire a rule that it met (for the monitor's logs and `alerts test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Paused,
    Expired,
    /// A `Once` rule that already fired.
    Disarmed,
    /// Fired before and not yet back past the hysteresis band.
    Latched,
    /// Fired earlier on the same trading day (`OncePerDay`).
    SameDay,
    /// Within the cooldown of the last firing (`Every`).
    Cooldown,
}

/// What one reading did to a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The condition does not hold.
    Quiet,
    /// The rule fires with this reading.
    Fired(Reading),
    /// The condition holds but the rule may not fire now.
    Held(Held),
}

/// Applies one reading to a rule: releases the latch when the value is back past the band, and
/// fires when the condition holds and the frequency allows. A met reading that is held back by
/// the cooldown or the day limit latches the rule like a firing would, so a hovering value or
/// a flood of quotes never queues up alerts for later.
pub fn step(rule: &Rule, state: &mut RuleState, reading: &Reading) -> Step {
    if state.latched && reading.back {
        state.latched = false;
    }
    if !reading.met {
        return Step::Quiet;
    }
    let held = if rule.paused {
        Some(Held::Paused)
    } else if rule.expires_at.is_some_and(|expiry| reading.at >= expiry) {
        Some(Held::Expired)
    } else if state.disarmed {
        Some(Held::Disarmed)
    } else {
        match rule.frequency {
            // Once a day while it holds: the day is the limit, not the band.
            Frequency::OncePerDay if state.last_fired_day == Some(reading.day) => Some(Held::SameDay),
            Frequency::OncePerDay => None,
            _ if state.latched => Some(Held::Latched),
            Frequency::Every { cooldown_secs } => state
                .last_fired_at
                .filter(|last| {
                    (reading.at - *last).num_seconds() < i64::try_from(cooldown_secs).unwrap_or(i64::MAX)
                })
                .map(|_| Held::Cooldown),
            Frequency::Once => None,
        }
    };
    match held {
        Some(Held::Cooldown) => {
            state.latched = true;
            Step::Held(Held::Cooldown)
        }
        Some(held) => Step::Held(held),
        None => {
            state.latched = true;
            state.disarmed = rule.frequency == Frequency::Once;
            state.last_fired_at = Some(reading.at);
            state.last_fired_day = Some(reading.day);
            Step::Fired(*reading)
        }
    }
}

/// Evaluates every bar of `bars` (sorted by date) that is new since the last evaluation and
/// returns the readings that fired. The last bar may be the current, unfinished session: it is
/// evaluated again on the next poll (with its high and low so far), so `evaluated_through`
/// stops before it.
pub fn evaluate_daily(
    rule: &Rule,
    state: &mut RuleState,
    bars: &[DailyBar],
    last_is_partial: bool,
    at: DateTime<Utc>,
) -> Vec<Reading> {
    let mut fired = Vec::new();
    let start = state.evaluated_through.map_or(0, |through| bars.partition_point(|b| b.date <= through));
    for index in start..bars.len() {
        // Bars before the rule existed are history, never reasons to fire.
        if bars[index].date < state.armed_on {
            continue;
        }
        let observation = Observation::Daily { bars, index, at };
        if let Some(mut reading) = read(&rule.condition, &observation, state.armed_on, rule.hysteresis) {
            // A bar's high and low do not say in which order they came: the bar a rule fired on
            // cannot also release it (else each poll of a wide partial bar would fire again).
            if state.last_fired_day == Some(reading.day) {
                reading.back = false;
            }
            if let Step::Fired(reading) = step(rule, state, &reading) {
                fired.push(reading);
            }
        }
        let finished = !(last_is_partial && index + 1 == bars.len());
        if finished {
            state.evaluated_through = Some(bars[index].date);
        }
    }
    fired
}

/// Evaluates one observation that is not a daily bar (a quote, a scan, a note).
pub fn evaluate(rule: &Rule, state: &mut RuleState, observation: &Observation<'_>) -> Option<Reading> {
    let reading = read(&rule.condition, observation, state.armed_on, rule.hysteresis)?;
    match step(rule, state, &reading) {
        Step::Fired(reading) => Some(reading),
        Step::Quiet | Step::Held(_) => None,
    }
}

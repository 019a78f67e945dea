//! The stock monitor's rules: what a rule watches ([`Condition`]), how often it may fire
//! ([`Frequency`], hysteresis, cooldown, expiry, pause), and the exact moment it fires
//! ([`step`], [`evaluate_daily`], [`evaluate`]). Pure functions over bars, quotes and scan
//! results, with the rule's small [`RuleState`] stored beside it: the `jobs` crate feeds them
//! from the database and the provider chain, and delivers what fires.
//!
//! Why a crate of its own without IO: the firing rules are where alert tools go wrong (an alert
//! that fires 100 times while a price hovers, or never for an intraday touch between two polls),
//! so they are kept small enough to test exhaustively with scripted sequences.

mod reading;
mod rule;
mod state;

pub use reading::{DailyBar, Observation, Reading, SESSIONS_PER_YEAR, read};
pub use rule::{
    AverageKind, Condition, Direction, Frequency, InvalidRule, Line, MAX_COOLDOWN_SECS, MAX_LOOKBACK, Rule,
};
pub use state::{Held, RuleState, Step, evaluate, evaluate_daily, step};

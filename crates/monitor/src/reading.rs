//! From an observation (a daily bar in its series, a quote, a scan, a note) to a [`Reading`]:
//! the value a condition compares, whether it is met, and whether it is back past the band.
//!
//! Crossing semantics, and why:
//! - **Daily bars.** On the day a rule is armed, the day's *close* is compared: the day's high
//!   may have come before the rule existed. On later days the day's extreme in the rule's
//!   direction (the high for `Above`, the low for `Below`) is compared, so an intraday touch of
//!   the threshold between two polls is not missed; the opposite extreme decides whether the
//!   value went back past the band.
//! - **Quotes.** Each quote's price is compared on its own; the rule state (latched after a
//!   firing, released once back past the band) turns that into "crossed since the previous
//!   quote".
//! - **Events** (crosses of two lines, new 52-week extremes, gaps, rating changes) are met only
//!   on the bar or scan where they happen.

use chrono::{DateTime, NaiveDate, Utc};
use domain::Rating;
use domain::indicators::{Ema, Rsi, Sma};

use crate::rule::{AverageKind, Condition, Direction, Line};

/// Sessions in 52 weeks.
pub const SESSIONS_PER_YEAR: usize = 252;

/// One finished (or partial) session of a symbol, as the monitor needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyBar {
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: Option<i64>,
}

/// What a condition is evaluated on.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// The bar `bars[index]` of a series sorted by date (earlier bars are its history).
    Daily { bars: &'a [DailyBar], index: usize, at: DateTime<Utc> },
    /// A live quote.
    Quote { price: f64, previous_close: Option<f64>, day: NaiveDate, at: DateTime<Utc> },
    /// A Reddit scan's spike score for the symbol.
    Mentions { spike_score: f64, day: NaiveDate, at: DateTime<Utc> },
    /// The sentiment score of the latest scan and of the one before.
    Sentiment { previous: f64, current: f64, day: NaiveDate, at: DateTime<Utc> },
    /// The rating of the latest research note and of the one before.
    Rating { previous: Rating, current: Rating, day: NaiveDate, at: DateTime<Utc> },
}

/// What a condition saw in one observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The value compared with the threshold (the extreme or the close, a percent, an RSI…).
    pub value: f64,
    /// The value it is compared against: the threshold, or the slow line of a cross.
    pub threshold: f64,
    /// The value before (the previous close, the previous scan's score…), when there is one.
    pub previous: Option<f64>,
    /// The condition holds.
    pub met: bool,
    /// The value is back past the hysteresis band: a latched rule may fire again.
    pub back: bool,
    /// The trading day the observation belongs to.
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
}

/// The reading of `condition` on `observation`, for a rule armed on `armed_on` with
/// hysteresis `band`; `None` when the condition does not apply to this kind of observation or
/// the history is too short to say.
pub fn read(
    condition: &Condition,
    observation: &Observation<'_>,
    armed_on: NaiveDate,
    band: f64,
) -> Option<Reading> {
    match *observation {
        Observation::Daily { bars, index, at } => read_daily(condition, bars, index, at, armed_on, band),
        Observation::Quote { price, previous_close, day, at } => {
            read_quote(condition, price, previous_close, day, at, band)
        }
        Observation::Mentions { spike_score, day, at } => match *condition {
            Condition::MentionSpike { score } => Some(Reading {
                value: spike_score,
                threshold: score,
                previous: None,
                met: spike_score >= score,
                back: spike_score < score - band,
                day,
                at,
            }),
            _ => None,
        },
        Observation::Sentiment { previous, current, day, at } => match *condition {
            Condition::SentimentShift { direction, delta } => {
                let shift = current - previous;
                let signed = match direction {
                    Direction::Above => shift,
                    Direction::Below => -shift,
                };
                Some(Reading {
                    value: shift,
                    threshold: delta,
                    previous: Some(previous),
                    met: signed >= delta,
                    back: signed < delta - band,
                    day,
                    at,
                })
            }
            _ => None,
        },
        Observation::Rating { previous, current, day, at } => match *condition {
            // Each pair of notes is its own event: the caller offers a pair once (when its
            // newest note is new), so a later change fires again.
            Condition::RatingChange => Some(Reading {
                value: rating_score(current),
                threshold: rating_score(previous),
                previous: Some(rating_score(previous)),
                met: previous != current,
                back: true,
                day,
                at,
            }),
            _ => None,
        },
    }
}

/// Sell −1, hold 0, buy +1: a rating change as numbers, for the stored firing.
fn rating_score(rating: Rating) -> f64 {
    match rating {
        Rating::Sell => -1.0,
        Rating::Hold => 0.0,
        Rating::Buy => 1.0,
    }
}

fn read_quote(
    condition: &Condition,
    price: f64,
    previous_close: Option<f64>,
    day: NaiveDate,
    at: DateTime<Utc>,
    band: f64,
) -> Option<Reading> {
    let level = |direction: Direction, value: f64, threshold: f64, previous: Option<f64>| Reading {
        value,
        threshold,
        previous,
        met: direction.is_beyond(value, threshold),
        back: direction.is_back(value, threshold, band),
        day,
        at,
    };
    match *condition {
        Condition::Price { direction, level: threshold } => {
            Some(level(direction, price, threshold, previous_close))
        }
        Condition::ChangePercent { direction, percent, days: 0 } => {
            let previous_close = previous_close.filter(|p| *p > 0.0)?;
            let change = (price / previous_close - 1.0) * 100.0;
            Some(level(direction, change, signed(direction, percent), Some(previous_close)))
        }
        _ => None,
    }
}

/// `percent` on the rule's side: a fall of 5 % is −5.
fn signed(direction: Direction, percent: f64) -> f64 {
    match direction {
        Direction::Above => percent,
        Direction::Below => -percent,
    }
}

fn read_daily(
    condition: &Condition,
    bars: &[DailyBar],
    index: usize,
    at: DateTime<Utc>,
    armed_on: NaiveDate,
    band: f64,
) -> Option<Reading> {
    let bar = bars.get(index)?;
    let previous_bar = index.checked_sub(1).and_then(|i| bars.get(i));
    let first_day = bar.date <= armed_on;
    // The value in the rule's direction (its extreme after the first day) and the opposite
    // extreme, which decides whether the value went back past the band.
    let extremes = |direction: Direction| -> (f64, f64) {
        if first_day {
            (bar.close, bar.close)
        } else {
            match direction {
                Direction::Above => (bar.high, bar.low),
                Direction::Below => (bar.low, bar.high),
            }
        }
    };
    let reading = |direction: Direction,
                   (value, opposite): (f64, f64),
                   threshold: f64,
                   previous: Option<f64>| Reading {
        value,
        threshold,
        previous,
        met: direction.is_beyond(value, threshold),
        back: direction.is_back(opposite, threshold, band),
        day: bar.date,
        at,
    };
    let event = |value: f64, threshold: f64, previous: Option<f64>, met: bool| Reading {
        value,
        threshold,
        previous,
        met,
        back: !met,
        day: bar.date,
        at,
    };
    match *condition {
        Condition::Price { direction, level } => {
            Some(reading(direction, extremes(direction), level, previous_bar.map(|b| b.close)))
        }
        Condition::ChangePercent { direction, percent, days } => {
            let base = bars.get(index.checked_sub(usize::from(days.max(1)))?)?.close;
            if base <= 0.0 {
                return None;
            }
            let pct = |price: f64| (price / base - 1.0) * 100.0;
            // Intraday (from the previous close): the day's extreme counts; over days: closes.
            let (value, opposite) = if days == 0 { extremes(direction) } else { (bar.close, bar.close) };
            Some(reading(direction, (pct(value), pct(opposite)), signed(direction, percent), Some(base)))
        }
        Condition::Gap { direction, percent } => {
            let previous_close = previous_bar?.close;
            if previous_close <= 0.0 {
                return None;
            }
            let gap = (bar.open / previous_close - 1.0) * 100.0;
            let threshold = signed(direction, percent);
            Some(event(gap, threshold, Some(previous_close), direction.is_beyond(gap, threshold)))
        }
        Condition::VolumeSpike { multiple, days } => {
            let days = usize::from(days);
            let history = bars.get(index.checked_sub(days)?..index)?;
            let volumes: Option<Vec<f64>> = history.iter().map(|b| b.volume.map(|v| v as f64)).collect();
            let average = volumes?.iter().sum::<f64>() / days as f64;
            let volume = bar.volume? as f64;
            if average <= 0.0 {
                return None;
            }
            let ratio = volume / average;
            Some(Reading {
                value: ratio,
                threshold: multiple,
                previous: Some(average),
                met: ratio >= multiple,
                back: ratio < multiple - band,
                day: bar.date,
                at,
            })
        }
        Condition::Rsi { direction, level, period } => {
            let mut rsi = Rsi::new(usize::from(period));
            let mut last = None;
            let mut before = None;
            for b in &bars[..=index] {
                before = last;
                last = rsi.next(b.close);
            }
            let value = last?;
            Some(reading(direction, (value, value), level, before))
        }
        Condition::Cross { fast, slow, direction } => {
            let fast_line = line_values(&bars[..=index], fast);
            let slow_line = line_values(&bars[..=index], slow);
            let (f1, s1) = (fast_line.last().copied().flatten()?, slow_line.last().copied().flatten()?);
            let (f0, s0) = (
                fast_line.iter().rev().nth(1).copied().flatten()?,
                slow_line.iter().rev().nth(1).copied().flatten()?,
            );
            let crossed = match direction {
                Direction::Above => f0 <= s0 && f1 > s1,
                Direction::Below => f0 >= s0 && f1 < s1,
            };
            Some(event(f1, s1, Some(f0), crossed))
        }
        Condition::NewExtreme { direction } => {
            let start = index.checked_sub(SESSIONS_PER_YEAR)?;
            let history = &bars[start..index];
            let (value, record) = match direction {
                Direction::Above => (bar.high, history.iter().map(|b| b.high).fold(f64::MIN, f64::max)),
                Direction::Below => (bar.low, history.iter().map(|b| b.low).fold(f64::MAX, f64::min)),
            };
            let met = match direction {
                Direction::Above => value > record,
                Direction::Below => value < record,
            };
            Some(event(value, record, Some(record), met))
        }
        Condition::MentionSpike { .. } | Condition::SentimentShift { .. } | Condition::RatingChange => None,
    }
}

/// The line's value at each bar (`None` while an average is still filling).
fn line_values(bars: &[DailyBar], line: Line) -> Vec<Option<f64>> {
    match line {
        Line::Close => bars.iter().map(|b| Some(b.close)).collect(),
        Line::Average { kind: AverageKind::Sma, period } => {
            let mut sma = Sma::new(usize::from(period));
            bars.iter().map(|b| sma.next(b.close)).collect()
        }
        Line::Average { kind: AverageKind::Ema, period } => {
            let mut ema = Ema::new(usize::from(period));
            bars.iter().map(|b| ema.next(b.close)).collect()
        }
    }
}

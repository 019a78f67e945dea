//! What a user asks the monitor to watch: a [`Condition`], how often it may fire
//! ([`Frequency`]), a hysteresis band, an expiry and a pause switch.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

domain::text_enum! {
    /// Which side of a threshold (or which way through it) the rule watches.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "lowercase")]
    pub enum Direction {
        /// At or above the threshold; crossing upwards; a new high.
        Above => "above",
        /// At or below the threshold; crossing downwards; a new low.
        Below => "below",
    }
    parse_error = "unknown direction {:?}: expected above or below";
}

impl Direction {
    /// True when `value` is at or past `threshold` on this side.
    pub fn is_beyond(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::Above => value >= threshold,
            Self::Below => value <= threshold,
        }
    }

    /// True when `value` is back past `threshold` moved by `band` away from this side: the
    /// rule may fire again (hysteresis).
    pub fn is_back(self, value: f64, threshold: f64, band: f64) -> bool {
        match self {
            Self::Above => value < threshold - band,
            Self::Below => value > threshold + band,
        }
    }
}

domain::text_enum! {
    /// A moving average's kind.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    #[serde(rename_all = "lowercase")]
    pub enum AverageKind {
        Sma => "sma",
        Ema => "ema",
    }
    parse_error = "unknown average {:?}: expected sma or ema";
}

/// A line on the chart that a cross rule compares: the close itself or an average of it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum Line {
    Close,
    Average {
        kind: AverageKind,
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 400))]
        period: u16,
    },
}

/// What a rule watches. Thresholds are in the value's own unit: a price, a percent (`5.0` is
/// 5 %), an RSI level, a multiple of the average volume, a mention spike score, a change of the
/// sentiment score.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// The price at or beyond `level`.
    Price {
        direction: Direction,
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        level: f64,
    },
    /// The change in percent: `days = 0` from the previous close (intraday), else over `days`
    /// trading days close to close.
    ChangePercent {
        direction: Direction,
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        percent: f64,
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 400))]
        days: u16,
    },
    /// The open against the previous close, in percent: `Above` a gap up of at least
    /// `percent`, `Below` a gap down of at least `percent`.
    Gap {
        direction: Direction,
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        percent: f64,
    },
    /// The day's volume at least `multiple` × the average of the `days` sessions before.
    VolumeSpike {
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        multiple: f64,
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 400))]
        days: u16,
    },
    /// RSI over `period` sessions at or beyond `level`.
    Rsi {
        direction: Direction,
        #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 100.0))]
        level: f64,
        #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 400))]
        period: u16,
    },
    /// `fast` crosses `slow`: upwards (`Above`, e.g. a golden cross with SMA 50 over SMA 200) or
    /// downwards (`Below`).
    Cross { fast: Line, slow: Line, direction: Direction },
    /// A new 52-week high (`Above`, the day's high over every high of the 252 sessions before)
    /// or low (`Below`).
    NewExtreme { direction: Direction },
    /// The Reddit mention spike score at or above `score`.
    MentionSpike {
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        score: f64,
    },
    /// The sentiment score moved by at least `delta` upwards (`Above`) or downwards (`Below`)
    /// between two scans.
    SentimentShift {
        direction: Direction,
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0.0))]
        delta: f64,
    },
    /// The latest research note's rating differs from the one before.
    RatingChange,
}

/// Why a rule cannot be accepted; the field is named so the API can answer 422 with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid rule: {field}: {message}")]
pub struct InvalidRule {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidRule {
    InvalidRule { field, message: message.into() }
}

/// The longest window a rule may look back over (a little more than a year of sessions).
/// (The `maximum = 400` schema attributes above repeat it: utoipa takes literals only.)
pub const MAX_LOOKBACK: u16 = 400;

impl Condition {
    /// The condition in words, as alerts and lists name it: `price above 250`.
    pub fn describe(&self) -> String {
        match *self {
            Self::Price { direction, level } => format!("price {direction} {level}"),
            Self::ChangePercent { direction, percent, days: 0 } => {
                format!("change {direction} {percent}% today")
            }
            Self::ChangePercent { direction, percent, days } => {
                format!("change {direction} {percent}% over {days} days")
            }
            Self::Gap { direction, percent } => format!("gap {direction} {percent}%"),
            Self::VolumeSpike { multiple, days } => format!("volume {multiple}× the {days}-day average"),
            Self::Rsi { direction, level, period } => format!("RSI({period}) {direction} {level}"),
            Self::Cross { direction, .. } => format!("cross {direction}"),
            Self::NewExtreme { direction: Direction::Above } => "new 52-week high".to_owned(),
            Self::NewExtreme { direction: Direction::Below } => "new 52-week low".to_owned(),
            Self::MentionSpike { score } => format!("mention spike score ≥ {score}"),
            Self::SentimentShift { direction, delta } => format!("sentiment shift {direction} {delta}"),
            Self::RatingChange => "research-note rating change".to_owned(),
        }
    }

    /// Checks thresholds and windows.
    ///
    /// # Errors
    /// [`InvalidRule`] naming the field.
    pub fn validate(&self) -> Result<(), InvalidRule> {
        let finite = |field, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(invalid(field, format!("must be a number, got {value}")))
            }
        };
        let positive = |field, value: f64| {
            finite(field, value)?;
            if value > 0.0 { Ok(()) } else { Err(invalid(field, format!("must be above 0, got {value}"))) }
        };
        let window = |field, days: u16, min: u16| {
            if (min..=MAX_LOOKBACK).contains(&days) {
                Ok(())
            } else {
                Err(invalid(field, format!("must be between {min} and {MAX_LOOKBACK}, got {days}")))
            }
        };
        match *self {
            Self::Price { level, .. } => positive("level", level),
            Self::ChangePercent { percent, days, .. } => {
                positive("percent", percent)?;
                window("days", days, 0)
            }
            Self::Gap { percent, .. } => positive("percent", percent),
            Self::VolumeSpike { multiple, days } => {
                positive("multiple", multiple)?;
                window("days", days, 1)
            }
            Self::Rsi { level, period, .. } => {
                finite("level", level)?;
                if !(0.0..=100.0).contains(&level) {
                    return Err(invalid("level", format!("an RSI level is between 0 and 100, got {level}")));
                }
                window("period", period, 2)
            }
            Self::Cross { fast, slow, .. } => {
                for (field, line) in [("fast", fast), ("slow", slow)] {
                    if let Line::Average { period, .. } = line {
                        window(field, period, 1)?;
                    }
                }
                if fast == slow {
                    return Err(invalid("slow", "a line cannot cross itself"));
                }
                Ok(())
            }
            Self::NewExtreme { .. } | Self::RatingChange => Ok(()),
            Self::MentionSpike { score } => positive("score", score),
            Self::SentimentShift { delta, .. } => positive("delta", delta),
        }
    }
}

/// The longest cooldown, a year. (The schema's `maximum = 31_536_000` repeats it.)
pub const MAX_COOLDOWN_SECS: u64 = 31_536_000;

/// How often a rule may fire.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frequency {
    /// Fires once, then disarms until re-armed by the user.
    Once,
    /// At most once per trading day (of the symbol's exchange) while the condition holds.
    OncePerDay,
    /// Every time the condition is met again (after the value went back past the hysteresis
    /// band), but never twice within `cooldown_secs`.
    Every {
        #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 31_536_000))]
        cooldown_secs: u64,
    },
}

impl Frequency {
    /// In words: `once`, `once per day`, `every crossing, 300 s apart at least`.
    pub fn describe(self) -> String {
        match self {
            Self::Once => "once".to_owned(),
            Self::OncePerDay => "once per day".to_owned(),
            Self::Every { cooldown_secs: 0 } => "every crossing".to_owned(),
            Self::Every { cooldown_secs } => format!("every crossing, {cooldown_secs} s apart at least"),
        }
    }
}

/// A rule as the monitor evaluates it (the symbol and delivery targets live with the stored
/// rule).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub condition: Condition,
    pub frequency: Frequency,
    /// How far the value must move back past the threshold before the rule can fire again, in
    /// the threshold's unit; 0 means just back past it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0))]
    pub hysteresis: f64,
    /// After this instant the rule never fires.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub paused: bool,
}

impl Rule {
    /// Checks the condition and the band.
    ///
    /// # Errors
    /// [`InvalidRule`] naming the field.
    pub fn validate(&self) -> Result<(), InvalidRule> {
        self.condition.validate()?;
        if let Frequency::Every { cooldown_secs } = self.frequency
            && cooldown_secs > MAX_COOLDOWN_SECS
        {
            return Err(invalid(
                "cooldown_secs",
                format!("must be at most {MAX_COOLDOWN_SECS} (a year), got {cooldown_secs}"),
            ));
        }
        if !self.hysteresis.is_finite() || self.hysteresis < 0.0 {
            return Err(invalid("hysteresis", format!("must be 0 or more, got {}", self.hysteresis)));
        }
        Ok(())
    }

    /// Rules that would fire on the same events: same kind, direction, windows and threshold.
    /// (Frequency and band do not make a second rule different.)
    pub fn duplicates(&self, other: &Self) -> bool {
        self.condition == other.condition
    }
}

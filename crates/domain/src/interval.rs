use std::fmt;
use std::str::FromStr;

use chrono::Duration;
use serde::{Deserialize, Serialize};

/// A bar interval. The spelling (`1m` … `1mo`) follows Yahoo's because users know it; each vendor
/// maps it to its own resolution in the providers crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Interval {
    Min1,
    Min5,
    Min15,
    Min30,
    Hour1,
    Day1,
    Week1,
    Month1,
}

/// The text was not one of the supported intervals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown interval {0:?}; expected one of 1m 5m 15m 30m 1h 1d 1wk 1mo")]
pub struct ParseIntervalError(pub String);

impl Interval {
    /// Every interval, shortest first.
    pub const ALL: [Interval; 8] = [
        Self::Min1,
        Self::Min5,
        Self::Min15,
        Self::Min30,
        Self::Hour1,
        Self::Day1,
        Self::Week1,
        Self::Month1,
    ];

    /// The canonical spelling, also used as the stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Min1 => "1m",
            Self::Min5 => "5m",
            Self::Min15 => "15m",
            Self::Min30 => "30m",
            Self::Hour1 => "1h",
            Self::Day1 => "1d",
            Self::Week1 => "1wk",
            Self::Month1 => "1mo",
        }
    }

    /// True for intervals shorter than a day.
    pub fn is_intraday(self) -> bool {
        self < Self::Day1
    }

    /// Nominal length (a month counts as 30 days); used to size requests, never for calendar maths.
    pub fn nominal(self) -> Duration {
        match self {
            Self::Min1 => Duration::minutes(1),
            Self::Min5 => Duration::minutes(5),
            Self::Min15 => Duration::minutes(15),
            Self::Min30 => Duration::minutes(30),
            Self::Hour1 => Duration::hours(1),
            Self::Day1 => Duration::days(1),
            Self::Week1 => Duration::weeks(1),
            Self::Month1 => Duration::days(30),
        }
    }

    /// Number of minutes for intraday intervals (vendor APIs want them as numbers).
    pub fn minutes(self) -> Option<u32> {
        match self {
            Self::Min1 => Some(1),
            Self::Min5 => Some(5),
            Self::Min15 => Some(15),
            Self::Min30 => Some(30),
            Self::Hour1 => Some(60),
            _ => None,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = ParseIntervalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|i| i.as_str() == s.trim()).ok_or_else(|| ParseIntervalError(s.to_owned()))
    }
}

impl TryFrom<String> for Interval {
    type Error = ParseIntervalError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Interval> for String {
    fn from(value: Interval) -> Self {
        value.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_spelling() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>().unwrap(), i);
        }
    }

    #[test]
    fn rejects_unknown() {
        let err = "2d".parse::<Interval>().unwrap_err();
        assert!(err.to_string().contains("\"2d\""));
    }

    #[test]
    fn intraday_split() {
        assert!(Interval::Hour1.is_intraday());
        assert!(!Interval::Day1.is_intraday());
    }
}

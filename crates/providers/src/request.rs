use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use domain::{Interval, Symbol};

/// How far back to fetch. `Last` is relative to "now", which a provider chooses: networked
/// vendors use the wall clock, the offline sample uses the end of its data set, so
/// `--range 1y` means "the latest year available" everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    Last(Duration),
    /// From the first of January of the current year.
    YearToDate,
    Between {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
}

/// The range text is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown range {0:?}; expected e.g. 5d 1mo 3mo 6mo 1y 2y 5y 10y ytd max")]
pub struct ParseSpanError(pub String);

impl Span {
    /// Parses Yahoo-style range text: `5d`, `1mo`, `1y`, `ytd`, `max`, `2w`.
    ///
    /// # Errors
    /// [`ParseSpanError`] for anything else.
    pub fn parse_range(text: &str) -> Result<Self, ParseSpanError> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "ytd" => return Ok(Self::YearToDate),
            "max" => return Ok(Self::Last(Duration::days(365 * 100))),
            _ => {}
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let n: i64 = number
            .parse()
            .ok()
            .filter(|n| *n > 0 && *n <= 100_000)
            .ok_or_else(|| ParseSpanError(text.clone()))?;
        let days = match unit {
            "d" => n,
            "w" | "wk" => n * 7,
            "mo" => n * 31,
            "y" => n * 366,
            _ => return Err(ParseSpanError(text)),
        };
        Ok(Self::Last(Duration::days(days)))
    }

    /// The concrete `[from, to]` window given what "now" is.
    pub fn resolve(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        match *self {
            Self::Last(length) => (now - length, now),
            Self::YearToDate => {
                let start = Utc.with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0).single().unwrap_or(now);
                (start, now)
            }
            Self::Between { from, to } => (from, to),
        }
    }
}

/// A request for bars of one symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsRequest {
    pub symbol: Symbol,
    pub interval: Interval,
    pub span: Span,
}

impl BarsRequest {
    /// Text for errors and logs, e.g. `AAPL 1d bars`.
    pub fn describe(&self) -> String {
        format!("{} {} bars", self.symbol, self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(Span::parse_range("1y").unwrap(), Span::Last(Duration::days(366)));
        assert_eq!(Span::parse_range("5d").unwrap(), Span::Last(Duration::days(5)));
        assert_eq!(Span::parse_range("6mo").unwrap(), Span::Last(Duration::days(186)));
        assert_eq!(Span::parse_range("ytd").unwrap(), Span::YearToDate);
        assert!(Span::parse_range("1x").is_err());
        assert!(Span::parse_range("y").is_err());
        assert!(Span::parse_range("0d").is_err());
    }

    #[test]
    fn resolves_relative_to_now() {
        let now = Utc.with_ymd_and_hms(2013, 3, 1, 0, 0, 0).unwrap();
        let (from, to) = Span::Last(Duration::days(10)).resolve(now);
        assert_eq!(to, now);
        assert_eq!(from, Utc.with_ymd_and_hms(2013, 2, 19, 0, 0, 0).unwrap());
        assert_eq!(Span::YearToDate.resolve(now).0, Utc.with_ymd_and_hms(2013, 1, 1, 0, 0, 0).unwrap());
    }
}

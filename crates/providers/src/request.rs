use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::{DateRange, Exchange, Interval, Symbol};

/// Which trading days to fetch, as inclusive calendar dates in the exchange's own time zone.
///
/// `Last` and `YearToDate` are relative to "today", which a provider chooses: networked vendors
/// use today's date on the exchange, the offline sample uses the last date of its data set, so
/// `--range 1y` means "the latest year available" everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The `days` calendar days ending today (today included).
    Last { days: u32 },
    /// From the first of January of the current year.
    YearToDate,
    /// From this date to today, both included.
    Since(NaiveDate),
    /// Exactly these dates, both ends included.
    Between(DateRange),
}

/// The range text is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown range {0:?}; expected e.g. 5d 1mo 3mo 6mo 1y 2y 5y 10y ytd max")]
pub struct ParseSpanError(pub String);

/// `max`: a century, further back than any vendor's history.
const MAX_DAYS: u32 = 36_525;

impl Span {
    /// Parses Yahoo-style range text: `5d`, `1mo`, `1y`, `ytd`, `max`, `2w`.
    ///
    /// # Errors
    /// [`ParseSpanError`] for anything else.
    pub fn parse_range(text: &str) -> Result<Self, ParseSpanError> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "ytd" => return Ok(Self::YearToDate),
            "max" => return Ok(Self::Last { days: MAX_DAYS }),
            _ => {}
        }
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let n: u32 = number
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
        Ok(Self::Last { days: days.min(MAX_DAYS) })
    }

    /// The concrete dates given what "today" is.
    pub fn resolve(&self, today: NaiveDate) -> DateRange {
        match *self {
            Self::Last { days } => DateRange::ending(today, days),
            Self::YearToDate => {
                let january = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
                DateRange::new(january, today).unwrap_or(DateRange::day(today))
            }
            Self::Since(from) => DateRange::new(from, today).unwrap_or(DateRange::day(from)),
            Self::Between(range) => range,
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

    /// The exchange the symbol trades on (by suffix; see [`Exchange::for_symbol`]).
    pub fn exchange(&self) -> &'static Exchange {
        Exchange::for_symbol(&self.symbol)
    }

    /// The dates asked for, with "today" taken on the exchange at `now`.
    pub fn dates(&self, now: DateTime<Utc>) -> DateRange {
        self.span.resolve(self.exchange().today(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn parses_ranges() {
        assert_eq!(Span::parse_range("1y").unwrap(), Span::Last { days: 366 });
        assert_eq!(Span::parse_range("5d").unwrap(), Span::Last { days: 5 });
        assert_eq!(Span::parse_range("6mo").unwrap(), Span::Last { days: 186 });
        assert_eq!(Span::parse_range("ytd").unwrap(), Span::YearToDate);
        assert!(Span::parse_range("1x").is_err());
        assert!(Span::parse_range("y").is_err());
        assert!(Span::parse_range("0d").is_err());
    }

    #[test]
    fn resolves_relative_to_today_inclusively() {
        let today = date("2013-03-01");
        let range = Span::Last { days: 10 }.resolve(today);
        assert_eq!((range.from(), range.to()), (date("2013-02-20"), today));
        assert_eq!(range.n_days(), 10);
        assert_eq!(Span::YearToDate.resolve(today).from(), date("2013-01-01"));
        let fixed = DateRange::day(date("2020-05-07"));
        assert_eq!(Span::Between(fixed).resolve(today), fixed);
    }

    #[test]
    fn today_is_the_exchange_date() {
        let request = BarsRequest {
            symbol: Symbol::parse("BHP.AX").unwrap(),
            interval: Interval::Day1,
            span: Span::Last { days: 1 },
        };
        // 23:30 UTC on the 8th is already the 9th in Sydney.
        let now: DateTime<Utc> = "2024-01-08T23:30:00Z".parse().unwrap();
        assert_eq!(request.dates(now), DateRange::day(date("2024-01-09")));
    }
}

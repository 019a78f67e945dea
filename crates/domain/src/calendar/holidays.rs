//! Exchange holidays and early closes, kept as data, and the sessions they leave.
//!
//! Design decision: a holiday calendar is a value ([`Holidays`]) passed next to the
//! [`Exchange`], not a field of it. `Exchange` is a `Copy` entry of a `const` table that other
//! crates hold as `&'static`; a calendar is data that a user may extend or replace at runtime
//! from a file. So the caller picks the calendar once (usually
//! [`Exchange::bundled_holidays`], or that merged with a user file by
//! [`Holidays::extended_with`]) and hands it to [`Exchange::trading_day`] and friends.
//!
//! The US calendar (NYSE and Nasdaq, 2000–2027) is embedded from `data/holidays/US.csv`, whose
//! header names its source. Other exchanges have no bundled calendar: they close on weekends only
//! unless a file is given. Outside the years a calendar lists, only weekends are known (see
//! [`Holidays::last_date`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

use super::Exchange;

/// What a listed day is: no session, or a session that ends early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayKind {
    Closed,
    /// The session ends at this local time instead of the regular close.
    EarlyClose(NaiveTime),
}

/// One listed day of a holiday calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub kind: HolidayKind,
    /// What the exchange calls the day, e.g. `Good Friday`.
    pub name: String,
}

/// An exchange's holidays and early closes, by date.
///
/// The file format (UTF-8 CSV, one day a line): `date,kind,close,name`, e.g.
/// `2024-07-03,early_close,13:00,Day before Independence Day` or `2024-07-04,closed,,Independence
/// Day`. `kind` is `closed` (with an empty `close`) or `early_close` (with the local `HH:MM` the
/// session ends). Blank lines and lines starting with `#` are ignored; an optional header line
/// `date,kind,close,name` is skipped. The name may contain commas. Lines need not be sorted, but a
/// date may appear only once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holidays {
    by_date: BTreeMap<NaiveDate, Holiday>,
}

/// A holiday file could not be read; names the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("holiday file line {line}: {problem}")]
pub struct CalendarError {
    pub line: usize,
    pub problem: LineProblem,
}

/// What is wrong with a line of a holiday file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineProblem {
    #[error("expected 4 columns date,kind,close,name, found {0}")]
    Columns(usize),
    #[error("`{0}` is not a date (YYYY-MM-DD)")]
    Date(String),
    #[error("`{0}` is not a kind (closed or early_close)")]
    Kind(String),
    #[error("`{0}` is not a local time (HH:MM)")]
    Close(String),
    #[error("an early_close needs the close time")]
    MissingClose,
    #[error("a closed day has no close time, found `{0}`")]
    UnexpectedClose(String),
    #[error("{0} is listed twice")]
    Duplicate(NaiveDate),
}

const HEADER: &str = "date,kind,close,name";

static US_HOLIDAYS: LazyLock<Holidays> = LazyLock::new(|| {
    // A malformed bundled line is caught by `bundled_us_file_parses`; users never see a panic
    // from here, at worst (in a build that skipped the tests) an empty calendar.
    Holidays::from_csv(include_str!("../../data/holidays/US.csv")).unwrap_or_default()
});

static NO_HOLIDAYS: Holidays = Holidays::empty();

impl Holidays {
    /// A calendar with no holidays: weekends are the only closed days.
    pub const fn empty() -> Self {
        Self { by_date: BTreeMap::new() }
    }

    /// Reads a holiday file (format in the type's docs).
    ///
    /// # Errors
    /// [`CalendarError`] naming the first bad line and what is wrong with it.
    pub fn from_csv(text: &str) -> Result<Self, CalendarError> {
        let mut by_date = BTreeMap::new();
        let mut seen_data = false;
        for (idx, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let first = !seen_data;
            seen_data = true;
            if first && line.eq_ignore_ascii_case(HEADER) {
                continue;
            }
            let holiday = parse_line(line).map_err(|problem| CalendarError { line: idx + 1, problem })?;
            if by_date.contains_key(&holiday.date) {
                return Err(CalendarError { line: idx + 1, problem: LineProblem::Duplicate(holiday.date) });
            }
            by_date.insert(holiday.date, holiday);
        }
        Ok(Self { by_date })
    }

    /// This calendar with `other`'s days added; on a date both list, `other` wins (a user file
    /// can turn a bundled early close into a closure, or the reverse). To replace a calendar
    /// instead, use the user's [`Holidays`] alone.
    pub fn extended_with(&self, other: &Holidays) -> Holidays {
        let mut by_date = self.by_date.clone();
        by_date.extend(other.by_date.iter().map(|(date, holiday)| (*date, holiday.clone())));
        Holidays { by_date }
    }

    /// The listed day of `date`, if any.
    pub fn get(&self, date: NaiveDate) -> Option<&Holiday> {
        self.by_date.get(&date)
    }

    /// The listed days in date order.
    pub fn iter(&self) -> impl Iterator<Item = &Holiday> {
        self.by_date.values()
    }

    pub fn len(&self) -> usize {
        self.by_date.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_date.is_empty()
    }

    /// The last listed date. After it the calendar knows weekends only, so a scheduler can warn
    /// that the file needs the next year's days.
    pub fn last_date(&self) -> Option<NaiveDate> {
        self.by_date.keys().next_back().copied()
    }
}

fn parse_line(line: &str) -> Result<Holiday, LineProblem> {
    let columns: Vec<&str> = line.splitn(4, ',').map(str::trim).collect();
    let [date, kind, close, name] = columns[..] else {
        return Err(LineProblem::Columns(columns.len()));
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| LineProblem::Date(date.to_owned()))?;
    let kind = match kind {
        "closed" if close.is_empty() => HolidayKind::Closed,
        "closed" => return Err(LineProblem::UnexpectedClose(close.to_owned())),
        "early_close" if close.is_empty() => return Err(LineProblem::MissingClose),
        "early_close" => HolidayKind::EarlyClose(
            NaiveTime::parse_from_str(close, "%H:%M").map_err(|_| LineProblem::Close(close.to_owned()))?,
        ),
        other => return Err(LineProblem::Kind(other.to_owned())),
    };
    Ok(Holiday { date, kind, name: name.to_owned() })
}

/// What an exchange does on a date, as UTC instants of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradingDay {
    /// A weekend or a listed closure.
    Closed,
    Regular {
        open: DateTime<Utc>,
        close: DateTime<Utc>,
    },
    /// A listed early close: `close` is the early close.
    EarlyClose {
        open: DateTime<Utc>,
        close: DateTime<Utc>,
    },
}

impl TradingDay {
    /// The session's `(open, close)`, `None` when closed.
    pub fn session(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match *self {
            TradingDay::Closed => None,
            TradingDay::Regular { open, close } | TradingDay::EarlyClose { open, close } => {
                Some((open, close))
            }
        }
    }
}

impl fmt::Display for TradingDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TradingDay::Closed => f.write_str("closed"),
            TradingDay::Regular { open, close } => write!(f, "{open}..{close}"),
            TradingDay::EarlyClose { open, close } => write!(f, "{open}..{close} (early close)"),
        }
    }
}

impl Exchange {
    /// The calendar bundled for this exchange: NYSE/Nasdaq's for `US`, none (weekends only) for
    /// the others. Extend it with a user file through [`Holidays::extended_with`].
    pub fn bundled_holidays(&self) -> &'static Holidays {
        match self.name {
            "US" => &US_HOLIDAYS,
            _ => &NO_HOLIDAYS,
        }
    }

    /// What the exchange does on `date` (a local date): closed on weekends and listed closures,
    /// else its regular session, cut short on a listed early close. A market that never closes
    /// ([`Exchange::always_open`]) has every local day as a session and ignores `holidays`.
    ///
    /// An early close at or before the open leaves no session (`Closed`); one after the regular
    /// close does not lengthen it.
    pub fn trading_day(&self, date: NaiveDate, holidays: &Holidays) -> TradingDay {
        if self.always_open {
            let open = self.start_of(date);
            let close = date.succ_opt().map_or(DateTime::<Utc>::MAX_UTC, |next| self.start_of(next));
            return TradingDay::Regular { open, close };
        }
        if date.weekday().num_days_from_monday() >= 5 {
            return TradingDay::Closed;
        }
        let open = self.instant(date.and_time(self.open));
        let close = self.instant(date.and_time(self.close));
        match holidays.get(date).map(|holiday| holiday.kind) {
            None => TradingDay::Regular { open, close },
            Some(HolidayKind::Closed) => TradingDay::Closed,
            Some(HolidayKind::EarlyClose(local)) if local <= self.open => TradingDay::Closed,
            Some(HolidayKind::EarlyClose(local)) => {
                TradingDay::EarlyClose { open, close: close.min(self.instant(date.and_time(local))) }
            }
        }
    }

    /// True when the exchange has a session on `date`.
    pub fn is_trading_day(&self, date: NaiveDate, holidays: &Holidays) -> bool {
        self.trading_day(date, holidays) != TradingDay::Closed
    }

    /// The UTC instants `(open, close)` of `date`'s session, honouring early closes; `None` on a
    /// closed day.
    pub fn session(&self, date: NaiveDate, holidays: &Holidays) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.trading_day(date, holidays).session()
    }

    /// True when `instant` is inside a session (open inclusive, close exclusive). Unlike
    /// [`Exchange::in_regular_session`], which only looks at the clock and the weekday, this
    /// knows holidays and early closes: it is the question a quote poller asks.
    pub fn is_open(&self, instant: DateTime<Utc>, holidays: &Holidays) -> bool {
        self.session(self.local_date(instant), holidays)
            .is_some_and(|(open, close)| open <= instant && instant < close)
    }

    /// The first session open strictly after `after`: when a poller that is idle should wake.
    /// For markets that never close this is the next local midnight. `None` only past the end of
    /// the representable dates.
    pub fn next_session_open(&self, after: DateTime<Utc>, holidays: &Holidays) -> Option<DateTime<Utc>> {
        // Finite: among any `holidays.len() + 1` weekdays at least one is not listed.
        let mut date = self.local_date(after);
        loop {
            if let Some((open, _)) = self.session(date, holidays)
                && open > after
            {
                return Some(open);
            }
            date = date.succ_opt()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Weekday;

    use super::*;
    use crate::Symbol;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn us() -> (&'static Exchange, &'static Holidays) {
        let us = Exchange::for_symbol(&Symbol::parse("AAPL").unwrap());
        (us, us.bundled_holidays())
    }

    fn session(open: &str, close: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((utc(open), utc(close)))
    }

    #[test]
    fn bundled_us_file_parses() {
        let parsed = Holidays::from_csv(include_str!("../../data/holidays/US.csv"));
        let holidays = parsed.unwrap();
        assert_eq!(&holidays, Exchange::US.bundled_holidays());
        assert_eq!(holidays.iter().next().map(|h| h.date), Some(date("2000-01-17")));
        assert_eq!(holidays.last_date(), Some(date("2027-12-24")));
    }

    /// The file itself, line by line: the parser tolerates what a hand-edited file should not.
    #[test]
    fn bundled_us_file_is_sane() {
        let text = include_str!("../../data/holidays/US.csv");
        let dates: Vec<NaiveDate> = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty() && *line != HEADER)
            .map(|line| date(&line[..10]))
            .collect();
        assert!(dates.windows(2).all(|pair| pair[0] < pair[1]), "sorted, no duplicates");
        for day in &dates {
            assert!(!matches!(day.weekday(), Weekday::Sat | Weekday::Sun), "{day} is a weekend day");
        }
        let holidays = Exchange::US.bundled_holidays();
        assert_eq!(dates.len(), holidays.len());
        for holiday in holidays.iter() {
            assert!(!holiday.name.is_empty(), "{} has no name", holiday.date);
            if let HolidayKind::EarlyClose(close) = holiday.kind {
                assert_eq!(close, NaiveTime::from_hms_opt(13, 0, 0).unwrap(), "{}", holiday.date);
            }
        }
    }

    #[test]
    fn every_year_has_the_usual_number_of_closures() {
        // Nine Rule 7.2 holidays, ten from 2022 (Juneteenth); New Year's Day on a Saturday is not
        // observed on the Friday before.
        let exceptions: &[(i32, usize, &str)] = &[
            (2000, 8, "New Year's Day on a Saturday"),
            (2001, 13, "September 11 attacks, four days"),
            (2004, 10, "Reagan"),
            (2005, 8, "New Year's Day on a Saturday"),
            (2007, 10, "Ford"),
            (2011, 8, "New Year's Day on a Saturday"),
            (2012, 11, "Hurricane Sandy, two days"),
            (2018, 10, "Bush"),
            (2022, 9, "New Year's Day on a Saturday"),
            (2025, 11, "Carter"),
        ];
        let mut closures: BTreeMap<i32, usize> = BTreeMap::new();
        for holiday in Exchange::US.bundled_holidays().iter() {
            if holiday.kind == HolidayKind::Closed {
                *closures.entry(holiday.date.year()).or_default() += 1;
            }
        }
        for year in 2000..=2027 {
            let usual = if year >= 2022 { 10 } else { 9 };
            let expected = exceptions.iter().find(|(y, _, _)| *y == year).map_or(usual, |(_, n, _)| *n);
            assert_eq!(closures.get(&year).copied().unwrap_or(0), expected, "closures in {year}");
        }
    }

    #[test]
    fn known_us_days() {
        let (us, holidays) = us();
        let day = |text: &str| us.trading_day(date(text), holidays);
        // Early close at 13:00 New York (EDT, -4).
        assert_eq!(
            day("2024-07-03"),
            TradingDay::EarlyClose { open: utc("2024-07-03T13:30:00Z"), close: utc("2024-07-03T17:00:00Z") }
        );
        assert_eq!(day("2024-07-04"), TradingDay::Closed);
        // The day after Thanksgiving, in EST (-5).
        assert_eq!(
            day("2024-11-29"),
            TradingDay::EarlyClose { open: utc("2024-11-29T14:30:00Z"), close: utc("2024-11-29T18:00:00Z") }
        );
        assert_eq!(day("2024-03-29"), TradingDay::Closed, "Good Friday");
        assert_eq!(day("2023-06-19"), TradingDay::Closed, "Juneteenth");
        assert!(matches!(day("2021-06-18"), TradingDay::Regular { .. }), "no Juneteenth before 2022");
        assert_eq!(day("2025-01-09"), TradingDay::Closed, "Carter");
        assert_eq!(day("2012-10-30"), TradingDay::Closed, "Sandy");
        assert_eq!(
            day("2024-05-07"),
            TradingDay::Regular { open: utc("2024-05-07T13:30:00Z"), close: utc("2024-05-07T20:00:00Z") }
        );
        assert_eq!(day("2024-05-04"), TradingDay::Closed, "Saturday");
        assert_eq!(day("2024-05-05"), TradingDay::Closed, "Sunday");
        assert!(us.is_trading_day(date("2024-07-03"), holidays));
        assert!(!us.is_trading_day(date("2024-07-04"), holidays));
    }

    #[test]
    fn sessions_follow_daylight_saving() {
        let (us, holidays) = us();
        // US clocks spring forward on Sunday 2024-03-10 and fall back on Sunday 2024-11-03.
        assert_eq!(
            us.session(date("2024-03-08"), holidays),
            session("2024-03-08T14:30:00Z", "2024-03-08T21:00:00Z")
        );
        assert_eq!(
            us.session(date("2024-03-11"), holidays),
            session("2024-03-11T13:30:00Z", "2024-03-11T20:00:00Z")
        );
        assert_eq!(
            us.session(date("2024-11-01"), holidays),
            session("2024-11-01T13:30:00Z", "2024-11-01T20:00:00Z")
        );
        assert_eq!(
            us.session(date("2024-11-04"), holidays),
            session("2024-11-04T14:30:00Z", "2024-11-04T21:00:00Z")
        );
        // Europe switches on other Sundays (2024-03-31): the US session is an hour closer to London
        // in between, and the zone table decides.
        let lse = Exchange::for_symbol(&Symbol::parse("VOD.L").unwrap());
        let none = lse.bundled_holidays();
        assert_eq!(
            lse.session(date("2024-03-28"), none),
            session("2024-03-28T08:00:00Z", "2024-03-28T16:30:00Z")
        );
        assert_eq!(
            lse.session(date("2024-04-02"), none),
            session("2024-04-02T07:00:00Z", "2024-04-02T15:30:00Z")
        );
    }

    #[test]
    fn next_open_skips_weekends_and_holidays() {
        let (us, holidays) = us();
        // Friday 2024-05-24 after the close; Monday is Memorial Day.
        assert_eq!(
            us.next_session_open(utc("2024-05-24T20:30:00Z"), holidays),
            Some(utc("2024-05-28T13:30:00Z"))
        );
        // During the early close of 2024-07-03, across the Fourth: Friday.
        assert_eq!(
            us.next_session_open(utc("2024-07-03T15:00:00Z"), holidays),
            Some(utc("2024-07-05T13:30:00Z"))
        );
        // Before the open the same day; at the open exactly, the next day.
        assert_eq!(
            us.next_session_open(utc("2024-05-07T08:00:00Z"), holidays),
            Some(utc("2024-05-07T13:30:00Z"))
        );
        assert_eq!(
            us.next_session_open(utc("2024-05-07T13:30:00Z"), holidays),
            Some(utc("2024-05-08T13:30:00Z"))
        );
        // Christmas Eve's early close, over Christmas, to the 26th (EST).
        assert_eq!(
            us.next_session_open(utc("2024-12-24T18:00:00Z"), holidays),
            Some(utc("2024-12-26T14:30:00Z"))
        );
        // Without the calendar, Memorial Day is a trading day.
        let none = Holidays::empty();
        assert_eq!(
            us.next_session_open(utc("2024-05-24T20:30:00Z"), &none),
            Some(utc("2024-05-27T13:30:00Z"))
        );
    }

    #[test]
    fn is_open_honours_early_closes() {
        let (us, holidays) = us();
        assert!(us.is_open(utc("2024-07-03T16:59:00Z"), holidays));
        assert!(!us.is_open(utc("2024-07-03T17:00:00Z"), holidays));
        assert!(us.in_regular_session(utc("2024-07-03T17:00:00Z")), "the clock-only check does not know");
        assert!(!us.is_open(utc("2024-07-04T15:00:00Z"), holidays));
        assert!(us.is_open(utc("2024-05-07T13:30:00Z"), holidays));
        assert!(!us.is_open(utc("2024-05-07T20:00:00Z"), holidays));
    }

    #[test]
    fn markets_that_never_close_ignore_calendars() {
        let btc = Exchange::for_symbol(&Symbol::parse("BTC-USD").unwrap());
        let closing_everything = Holidays::from_csv("2024-07-04,closed,,test").unwrap();
        assert_eq!(
            btc.session(date("2024-07-04"), &closing_everything),
            session("2024-07-04T00:00:00Z", "2024-07-05T00:00:00Z")
        );
        assert!(btc.is_trading_day(date("2024-05-04"), btc.bundled_holidays()), "Saturday");
        assert!(btc.is_open(utc("2024-05-04T03:00:00Z"), &closing_everything));
        assert_eq!(
            btc.next_session_open(utc("2024-05-04T03:00:00Z"), &closing_everything),
            Some(utc("2024-05-05T00:00:00Z"))
        );
        // Other exchanges bundle nothing: weekends only.
        let asx = Exchange::for_symbol(&Symbol::parse("BHP.AX").unwrap());
        assert!(asx.bundled_holidays().is_empty());
        assert!(asx.is_trading_day(date("2024-12-25"), asx.bundled_holidays()));
    }

    #[test]
    fn a_user_file_extends_the_bundled_calendar() {
        let (us, holidays) = us();
        let user = Holidays::from_csv(
            "# our own additions\n\
             date,kind,close,name\n\
             2024-05-07,closed,,Hypothetical closure, for a test\n\
             \n\
             2024-07-03,closed,,Turned into a closure\n\
             2028-01-17,closed,,Martin Luther King Jr. Day\n",
        )
        .unwrap();
        assert_eq!(user.get(date("2024-05-07")).unwrap().name, "Hypothetical closure, for a test");
        let merged = holidays.extended_with(&user);
        assert_eq!(merged.len(), holidays.len() + 2);
        assert_eq!(merged.last_date(), Some(date("2028-01-17")));
        assert_eq!(us.trading_day(date("2024-05-07"), &merged), TradingDay::Closed);
        assert_eq!(us.trading_day(date("2024-07-03"), &merged), TradingDay::Closed, "the user file wins");
        assert_eq!(us.trading_day(date("2024-07-04"), &merged), TradingDay::Closed, "bundled days stay");
        assert!(us.is_trading_day(date("2024-05-07"), holidays), "the bundled calendar is unchanged");
        // An early close for an exchange without a bundled calendar.
        let asx = Exchange::for_symbol(&Symbol::parse("BHP.AX").unwrap());
        let asx_file = Holidays::from_csv("2024-12-24,early_close,14:10,Christmas Eve").unwrap();
        assert_eq!(
            asx.session(date("2024-12-24"), &asx_file),
            session("2024-12-23T23:00:00Z", "2024-12-24T03:10:00Z")
        );
    }

    #[test]
    fn early_closes_outside_the_session_do_not_extend_it() {
        let (us, _) = us();
        let file =
            Holidays::from_csv("2024-05-07,early_close,09:00,x\n2024-05-08,early_close,17:00,y").unwrap();
        assert_eq!(us.trading_day(date("2024-05-07"), &file), TradingDay::Closed);
        assert_eq!(
            us.session(date("2024-05-08"), &file),
            session("2024-05-08T13:30:00Z", "2024-05-08T20:00:00Z")
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        let error = |text: &str| Holidays::from_csv(text).unwrap_err();
        let header = "# comment\ndate,kind,close,name\n2024-01-01,closed,,ok\n";
        let cases = [
            ("2024-13-01,closed,,x", LineProblem::Date("2024-13-01".into())),
            ("2024-01-02,closed,x", LineProblem::Columns(3)),
            ("2024-01-02,shut,,x", LineProblem::Kind("shut".into())),
            ("2024-01-02,early_close,,x", LineProblem::MissingClose),
            ("2024-01-02,early_close,1pm,x", LineProblem::Close("1pm".into())),
            ("2024-01-02,closed,13:00,x", LineProblem::UnexpectedClose("13:00".into())),
            ("2024-01-01,closed,,again", LineProblem::Duplicate(date("2024-01-01"))),
        ];
        for (line, problem) in cases {
            assert_eq!(error(&format!("{header}{line}\n")), CalendarError { line: 4, problem }, "{line}");
        }
        assert_eq!(
            error(&format!("{header}2024-13-01,closed,,x")).to_string(),
            "holiday file line 4: `2024-13-01` is not a date (YYYY-MM-DD)"
        );
        // A header anywhere but first is a bad line, not silently skipped.
        assert_eq!(error("2024-01-01,closed,,x\ndate,kind,close,name").line, 2);
    }
}

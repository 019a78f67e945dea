//! Trading days: which exchange a symbol trades on, its time zone and session hours, and
//! inclusive date ranges.
//!
//! Why this exists: a daily bar is a *trading day*, not an instant. Vendors stamp the same day
//! differently (Yahoo at the session open, Polygon at midnight New York, Alpha Vantage with a bare
//! date, Finnhub at midnight UTC), and for exchanges east of UTC the session open falls on the
//! previous UTC day. Every provider therefore converts its stamp to the session date in the
//! exchange's own calendar with the zone from here (or from the vendor's metadata), and a daily
//! bar is stored under that date, whatever the provider.
//!
//! The table covers the suffixes Yahoo uses for the larger exchanges; a symbol without a suffix
//! is taken as US-listed. Session hours are the regular session (no auctions, no half days):
//! they decide whether today's bar can still change. Which days trade at all, and which end
//! early, is the holiday calendar's business ([`Holidays`]): data passed next to the exchange.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{Interval, Symbol};

mod holidays;

pub use holidays::{CalendarError, Holiday, HolidayKind, Holidays, LineProblem, TradingDay};

/// An inclusive range of calendar dates: `from` and `to` both belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

/// `from` is after `to`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the date range is empty: from {from} is after to {to}")]
pub struct EmptyDateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// The dates `from..=to`.
    ///
    /// # Errors
    /// [`EmptyDateRange`] when `from` is after `to`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, EmptyDateRange> {
        if from > to { Err(EmptyDateRange { from, to }) } else { Ok(Self { from, to }) }
    }

    /// One day.
    pub fn day(date: NaiveDate) -> Self {
        Self { from: date, to: date }
    }

    /// The `days` calendar days ending with `to` (`days` = 1 is `to` alone; 0 counts as 1).
    pub fn ending(to: NaiveDate, days: u32) -> Self {
        let back = Duration::days(i64::from(days.max(1)) - 1);
        Self { from: to.checked_sub_signed(back).unwrap_or(NaiveDate::MIN), to }
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// True when `date` is in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        (self.from..=self.to).contains(&date)
    }

    /// Number of calendar days, both ends counted.
    pub fn n_days(&self) -> u64 {
        (self.to - self.from).num_days().unsigned_abs() + 1
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.from, self.to)
    }
}

/// An exchange's calendar facts: time zone and regular session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// Short name, e.g. `US`, `ASX`, `CRYPTO`.
    pub name: &'static str,
    pub zone: Tz,
    /// Regular session, local time. For markets that never close, `00:00`–`00:00` of the next
    /// day (see [`Exchange::always_open`]).
    pub open: NaiveTime,
    pub close: NaiveTime,
    /// Trades around the clock (crypto, FX): a day's bar is final only when the day is over.
    pub always_open: bool,
}

/// How long after the regular close a daily bar is still taken as partial: vendors publish the
/// closing auction's prints a few minutes after the bell.
pub const SETTLE_AFTER_CLOSE: Duration = Duration::minutes(20);

const fn hm(hour: u32, minute: u32) -> NaiveTime {
    match NaiveTime::from_hms_opt(hour, minute, 0) {
        Some(time) => time,
        None => NaiveTime::MIN,
    }
}

const fn exchange(name: &'static str, zone: Tz, open: NaiveTime, close: NaiveTime) -> Exchange {
    Exchange { name, zone, open, close, always_open: false }
}

const US: Exchange = exchange("US", Tz::America__New_York, hm(9, 30), hm(16, 0));
const CRYPTO: Exchange = Exchange {
    name: "CRYPTO",
    zone: Tz::UTC,
    open: NaiveTime::MIN,
    close: NaiveTime::MIN,
    always_open: true,
};
/// Yahoo stamps FX days at midnight London time.
const FX: Exchange = Exchange {
    name: "FX",
    zone: Tz::Europe__London,
    open: NaiveTime::MIN,
    close: NaiveTime::MIN,
    always_open: true,
};

/// Yahoo's symbol suffixes of the larger exchanges. Sources: each exchange's published regular
/// trading hours; suffixes as Yahoo Finance lists them.
const BY_SUFFIX: &[(&str, Exchange)] = &[
    (".TO", exchange("TSX", Tz::America__Toronto, hm(9, 30), hm(16, 0))),
    (".V", exchange("TSXV", Tz::America__Toronto, hm(9, 30), hm(16, 0))),
    (".L", exchange("LSE", Tz::Europe__London, hm(8, 0), hm(16, 30))),
    (".DE", exchange("XETRA", Tz::Europe__Berlin, hm(9, 0), hm(17, 30))),
    (".F", exchange("FSE", Tz::Europe__Berlin, hm(8, 0), hm(22, 0))),
    (".PA", exchange("EPA", Tz::Europe__Paris, hm(9, 0), hm(17, 30))),
    (".AS", exchange("AMS", Tz::Europe__Amsterdam, hm(9, 0), hm(17, 30))),
    (".BR", exchange("EBR", Tz::Europe__Brussels, hm(9, 0), hm(17, 30))),
    (".MI", exchange("BIT", Tz::Europe__Rome, hm(9, 0), hm(17, 30))),
    (".MC", exchange("BME", Tz::Europe__Madrid, hm(9, 0), hm(17, 30))),
    (".SW", exchange("SIX", Tz::Europe__Zurich, hm(9, 0), hm(17, 30))),
    (".ST", exchange("STO", Tz::Europe__Stockholm, hm(9, 0), hm(17, 30))),
    (".OL", exchange("OSL", Tz::Europe__Oslo, hm(9, 0), hm(16, 20))),
    (".CO", exchange("CPH", Tz::Europe__Copenhagen, hm(9, 0), hm(17, 0))),
    (".HE", exchange("HEL", Tz::Europe__Helsinki, hm(10, 0), hm(18, 30))),
    (".AX", exchange("ASX", Tz::Australia__Sydney, hm(10, 0), hm(16, 0))),
    (".NZ", exchange("NZX", Tz::Pacific__Auckland, hm(10, 0), hm(16, 45))),
    (".T", exchange("TSE", Tz::Asia__Tokyo, hm(9, 0), hm(15, 30))),
    (".HK", exchange("HKEX", Tz::Asia__Hong_Kong, hm(9, 30), hm(16, 0))),
    (".SS", exchange("SSE", Tz::Asia__Shanghai, hm(9, 30), hm(15, 0))),
    (".SZ", exchange("SZSE", Tz::Asia__Shanghai, hm(9, 30), hm(15, 0))),
    (".KS", exchange("KRX", Tz::Asia__Seoul, hm(9, 0), hm(15, 30))),
    (".TW", exchange("TWSE", Tz::Asia__Taipei, hm(9, 0), hm(13, 30))),
    (".SI", exchange("SGX", Tz::Asia__Singapore, hm(9, 0), hm(17, 0))),
    (".NS", exchange("NSE", Tz::Asia__Kolkata, hm(9, 15), hm(15, 30))),
    (".BO", exchange("BSE", Tz::Asia__Kolkata, hm(9, 15), hm(15, 30))),
    (".JK", exchange("IDX", Tz::Asia__Jakarta, hm(9, 0), hm(16, 0))),
    (".SA", exchange("B3", Tz::America__Sao_Paulo, hm(10, 0), hm(17, 0))),
    (".MX", exchange("BMV", Tz::America__Mexico_City, hm(8, 30), hm(15, 0))),
    (".JO", exchange("JSE", Tz::Africa__Johannesburg, hm(9, 0), hm(17, 0))),
];

/// Index symbols that do not trade in New York.
const INDICES: &[(&str, &str)] = &[
    ("^N225", ".T"),
    ("^AXJO", ".AX"),
    ("^AORD", ".AX"),
    ("^NZ50", ".NZ"),
    ("^HSI", ".HK"),
    ("^FTSE", ".L"),
    ("^GDAXI", ".DE"),
    ("^FCHI", ".PA"),
    ("^STOXX50E", ".DE"),
    ("^KS11", ".KS"),
    ("^BSESN", ".BO"),
    ("^NSEI", ".NS"),
    ("^GSPTSE", ".TO"),
];

/// Quote currencies of crypto pairs as Yahoo spells them (`BTC-USD`).
const CRYPTO_QUOTES: &[&str] = &["-USD", "-USDT", "-USDC", "-EUR", "-GBP", "-JPY", "-BTC", "-ETH"];

fn by_suffix(suffix: &str) -> Option<&'static Exchange> {
    BY_SUFFIX.iter().find(|(s, _)| *s == suffix).map(|(_, exchange)| exchange)
}

impl Exchange {
    /// The US exchanges (NYSE, Nasdaq): New York time, 09:30–16:00.
    pub const US: Exchange = US;

    /// The exchange a symbol trades on, from its Yahoo-style suffix; US when there is none.
    pub fn for_symbol(symbol: &Symbol) -> &'static Exchange {
        let text = symbol.as_str();
        if let Some((_, suffix)) = INDICES.iter().find(|(index, _)| *index == text) {
            return by_suffix(suffix).unwrap_or(&US);
        }
        if text.ends_with("=X") {
            return &FX;
        }
        if text.len() > 4
            && CRYPTO_QUOTES.iter().any(|quote| text.ends_with(quote) && text.len() > quote.len() + 1)
        {
            return &CRYPTO;
        }
        if let Some(dot) = text.rfind('.')
            && let Some(exchange) = by_suffix(&text[dot..])
        {
            return exchange;
        }
        &US
    }

    /// This exchange's hours in another zone, for a vendor whose metadata names the zone (Yahoo's
    /// `exchangeTimezoneName`): the vendor knows the listing better than a suffix table.
    pub fn in_zone(&self, zone: Tz) -> Exchange {
        Exchange { zone, ..*self }
    }

    /// The calendar date at `instant` in the exchange's zone: the session date of a bar stamped
    /// at its open (or at any time during its session).
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.zone).date_naive()
    }

    /// Today in the exchange's zone.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.local_date(now)
    }

    /// The instant a local wall-clock time happens. In a spring-forward gap the time does not
    /// exist and the first instant after the gap is used; in an autumn overlap, the earlier one.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut probe = local;
        for _ in 0..4 {
            if let Some(instant) = self.zone.from_local_datetime(&probe).earliest() {
                return instant.with_timezone(&Utc);
            }
            match probe.checked_add_signed(Duration::minutes(30)) {
                Some(later) => probe = later,
                None => break,
            }
        }
        local.and_utc()
    }

    /// Midnight at the start of `date`, local time.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        self.instant(date.and_time(NaiveTime::MIN))
    }

    /// The instants `[start of from, start of the day after to)` of a date range.
    pub fn window(&self, range: DateRange) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = range.to().succ_opt().unwrap_or(range.to());
        (self.start_of(range.from()), self.start_of(end))
    }

    /// When `date`'s bar stops changing: the regular close plus [`SETTLE_AFTER_CLOSE`], or the
    /// end of the day for markets that never close.
    pub fn final_at(&self, date: NaiveDate) -> DateTime<Utc> {
        if self.always_open {
            return self.start_of(date.succ_opt().unwrap_or(date));
        }
        let close = self.instant(date.and_time(self.close));
        close.checked_add_signed(SETTLE_AFTER_CLOSE).unwrap_or(close)
    }

    /// True when a daily bar of `date` seen at `now` may still change (its session is not over).
    pub fn is_partial(&self, date: NaiveDate, now: DateTime<Utc>) -> bool {
        now < self.final_at(date)
    }

    /// True when the local time of `instant` is inside the regular session (for intraday bars:
    /// pre- and post-market bars are not).
    pub fn in_regular_session(&self, instant: DateTime<Utc>) -> bool {
        if self.always_open {
            return true;
        }
        let local = instant.with_timezone(&self.zone);
        let weekday = local.weekday().num_days_from_monday();
        let time = local.time();
        weekday < 5 && time >= self.open && time < self.close
    }
}

impl Exchange {
    /// The session date of a daily (or longer) bar stamp. A stamp at exactly midnight UTC is a
    /// vendor's date-only convention (Alpha Vantage, Finnhub, our sample) and means its UTC
    /// date; any other stamp (Yahoo's session open, Polygon's midnight New York, a live bar's
    /// current time) is read as a local time on the exchange.
    pub fn session_date(&self, stamp: DateTime<Utc>) -> NaiveDate {
        if stamp.time() == NaiveTime::MIN { stamp.date_naive() } else { self.local_date(stamp) }
    }

    /// The stored key of a bar the vendor stamped `stamp`: intraday bars keep their UTC start,
    /// longer bars become their session date at midnight UTC (see `Bar::ts`).
    pub fn bar_key(&self, interval: Interval, stamp: DateTime<Utc>) -> DateTime<Utc> {
        if interval.is_intraday() { stamp } else { date_stamp(self.session_date(stamp)) }
    }

    /// The exchange date a stored bar key belongs to.
    pub fn key_date(&self, interval: Interval, key: DateTime<Utc>) -> NaiveDate {
        if interval.is_intraday() { self.local_date(key) } else { key.date_naive() }
    }

    /// The stored keys of the trading days `from..=to` (either end open when `None`): the dates
    /// themselves (midnight UTC) for daily and longer bars, the instants from the first day's
    /// local midnight to the last second of the last day for intraday bars. The one conversion of
    /// user-facing date ranges (CLI, API, exports) into storage bounds.
    pub fn key_bounds(
        &self,
        interval: Interval,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        if !interval.is_intraday() {
            return (from.map(date_stamp), to.map(date_stamp));
        }
        let end_of = |date: NaiveDate| match date.succ_opt() {
            Some(next) => self.start_of(next) - Duration::seconds(1),
            None => DateTime::<Utc>::MAX_UTC,
        };
        (from.map(|date| self.start_of(date)), to.map(end_of))
    }

    /// True when the bar keyed `key` may still change at `now`: its window (the session, the
    /// week, the month, or the intraday interval) has not ended.
    pub fn is_bar_partial(&self, interval: Interval, key: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let date = key.date_naive();
        // Most bars are history: a bar that started over a month before now is final whatever
        // its interval, without any time-zone arithmetic (this runs once per parsed bar).
        if now.date_naive().signed_duration_since(date) > Duration::days(32) {
            return false;
        }
        let last_day = match interval {
            Interval::Day1 => date,
            Interval::Week1 => date.checked_add_signed(Duration::days(6)).unwrap_or(date),
            Interval::Month1 => {
                let next_month = if date.month() == 12 {
                    NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
                };
                next_month.and_then(|d| d.pred_opt()).unwrap_or(date)
            }
            intraday => return key.checked_add_signed(intraday.nominal()).is_none_or(|end| now < end),
        };
        self.is_partial(last_day, now)
    }
}

/// Parses a vendor's time-zone name (`America/New_York`, `US/Eastern`, `Australia/Sydney`, `UTC`).
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// Midnight UTC of a date: how a daily bar's date is stored in `Bar::ts`.
pub fn date_stamp(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(text: &str) -> Symbol {
        Symbol::parse(text).unwrap()
    }

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn symbols_map_to_their_exchange() {
        assert_eq!(Exchange::for_symbol(&symbol("AAPL")).name, "US");
        assert_eq!(Exchange::for_symbol(&symbol("BRK.B")).name, "US");
        assert_eq!(Exchange::for_symbol(&symbol("BRK-B")).name, "US");
        assert_eq!(Exchange::for_symbol(&symbol("BHP.AX")).name, "ASX");
        assert_eq!(Exchange::for_symbol(&symbol("AIR.NZ")).name, "NZX");
        assert_eq!(Exchange::for_symbol(&symbol("7203.T")).name, "TSE");
        assert_eq!(Exchange::for_symbol(&symbol("BTC-USD")).name, "CRYPTO");
        assert_eq!(Exchange::for_symbol(&symbol("EURUSD=X")).name, "FX");
        assert_eq!(Exchange::for_symbol(&symbol("^N225")).name, "TSE");
        assert_eq!(Exchange::for_symbol(&symbol("^GSPC")).name, "US");
    }

    #[test]
    fn session_dates_follow_the_exchange_zone() {
        let asx = Exchange::for_symbol(&symbol("BHP.AX"));
        // 10:00 Sydney in summer (AEDT, +11) is 23:00 UTC the day before.
        assert_eq!(asx.local_date(utc("2024-01-08T23:00:00Z")), date("2024-01-09"));
        // A live bar stamped mid-session.
        assert_eq!(asx.local_date(utc("2024-01-09T04:32:16Z")), date("2024-01-09"));
        let us = Exchange::for_symbol(&symbol("AAPL"));
        assert_eq!(us.local_date(utc("2024-05-03T13:30:00Z")), date("2024-05-03"));
        // Polygon's midnight New York stamp.
        assert_eq!(us.local_date(utc("2020-01-02T05:00:00Z")), date("2020-01-02"));
    }

    #[test]
    fn windows_are_local_midnights() {
        let us = Exchange::for_symbol(&symbol("IBM"));
        let (start, end) = us.window(DateRange::day(date("2020-05-07")));
        assert_eq!(start, utc("2020-05-07T04:00:00Z"));
        assert_eq!(end, utc("2020-05-08T04:00:00Z"));
        let nz = Exchange::for_symbol(&symbol("AIR.NZ"));
        let (start, _) = nz.window(DateRange::day(date("2024-01-09")));
        assert_eq!(start, utc("2024-01-08T11:00:00Z"));
    }

    #[test]
    fn partial_until_the_session_settles() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        let day = date("2024-05-03");
        assert!(us.is_partial(day, utc("2024-05-03T19:59:00Z")));
        assert!(us.is_partial(day, utc("2024-05-03T20:10:00Z")));
        assert!(!us.is_partial(day, utc("2024-05-03T20:21:00Z")));
        assert!(!us.is_partial(date("2024-05-02"), utc("2024-05-03T14:00:00Z")));
        let btc = Exchange::for_symbol(&symbol("BTC-USD"));
        assert!(btc.is_partial(day, utc("2024-05-03T23:59:00Z")));
        assert!(!btc.is_partial(day, utc("2024-05-04T00:00:00Z")));
    }

    #[test]
    fn regular_session_excludes_pre_market_and_weekends() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        assert!(!us.in_regular_session(utc("2024-05-03T12:00:00Z"))); // 08:00 New York
        assert!(us.in_regular_session(utc("2024-05-03T13:30:00Z")));
        assert!(!us.in_regular_session(utc("2024-05-03T20:00:00Z")));
        assert!(!us.in_regular_session(utc("2024-05-04T15:00:00Z"))); // Saturday
    }

    #[test]
    fn spring_forward_gap_moves_to_the_next_valid_time() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        let local = date("2024-03-10").and_time(hm(2, 30));
        assert_eq!(us.instant(local), utc("2024-03-10T07:00:00Z"));
    }

    #[test]
    fn vendor_stamps_become_session_dates() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        let day = |stamp: &str| us.bar_key(Interval::Day1, utc(stamp));
        let expected = date_stamp(date("2020-01-02"));
        assert_eq!(day("2020-01-02T14:30:00Z"), expected, "Yahoo: session open");
        assert_eq!(day("2020-01-02T05:00:00Z"), expected, "Polygon: midnight New York");
        assert_eq!(day("2020-01-02T00:00:00Z"), expected, "Finnhub, Alpha Vantage: the date");
        assert_eq!(us.bar_key(Interval::Min5, utc("2020-01-02T14:35:00Z")), utc("2020-01-02T14:35:00Z"));
        let asx = Exchange::for_symbol(&symbol("BHP.AX"));
        assert_eq!(asx.bar_key(Interval::Day1, utc("2024-01-08T23:00:00Z")), date_stamp(date("2024-01-09")));
        assert_eq!(asx.key_date(Interval::Min5, utc("2024-01-08T23:05:00Z")), date("2024-01-09"));
    }

    #[test]
    fn date_bounds_become_storage_keys() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        let day = Some(date("2024-01-02"));
        assert_eq!(
            us.key_bounds(Interval::Day1, day, day),
            (Some(date_stamp(date("2024-01-02"))), Some(date_stamp(date("2024-01-02"))))
        );
        let (from, to) = us.key_bounds(Interval::Min5, day, day);
        assert_eq!((from, to), (Some(utc("2024-01-02T05:00:00Z")), Some(utc("2024-01-03T04:59:59Z"))));
        assert_eq!(us.key_bounds(Interval::Min5, None, None), (None, None));
    }

    #[test]
    fn longer_bars_are_partial_until_their_period_ends() {
        let us = Exchange::for_symbol(&symbol("AAPL"));
        let week = date_stamp(date("2024-04-29"));
        assert!(us.is_bar_partial(Interval::Week1, week, utc("2024-05-03T19:00:00Z")));
        assert!(!us.is_bar_partial(Interval::Week1, week, utc("2024-05-06T00:00:00Z")));
        let month = date_stamp(date("2024-12-01"));
        assert!(us.is_bar_partial(Interval::Month1, month, utc("2024-12-31T12:00:00Z")));
        assert!(!us.is_bar_partial(Interval::Month1, month, utc("2025-01-01T00:00:00Z")));
        let five = utc("2024-05-03T14:30:00Z");
        assert!(us.is_bar_partial(Interval::Min5, five, utc("2024-05-03T14:34:59Z")));
        assert!(!us.is_bar_partial(Interval::Min5, five, utc("2024-05-03T14:35:00Z")));
    }

    #[test]
    fn date_ranges_are_inclusive() {
        let range = DateRange::new(date("2024-01-01"), date("2024-01-31")).unwrap();
        assert!(range.contains(date("2024-01-31")));
        assert!(!range.contains(date("2024-02-01")));
        assert_eq!(range.n_days(), 31);
        assert!(DateRange::new(date("2024-02-01"), date("2024-01-01")).is_err());
        assert_eq!(DateRange::ending(date("2024-01-10"), 10).from(), date("2024-01-01"));
        assert!(parse_zone("US/Eastern").is_some());
        assert!(parse_zone("Mars/Olympus").is_none());
    }
}

//! The body of `GET /api/symbols/{symbol}/bars`, written bar by bar as the rows are read.
//!
//! The shape is `BarsResponse` (and `BarDto` for each bar) in `symbols.rs`, which document it in
//! the OpenAPI spec. The bars are written by hand rather than through serde: chrono's dates go
//! through `Display` and serde_json's string escaper a character at a time, which was a tenth of
//! the cost of a response. Numbers go through serde_json's own formatter, so every byte is what
//! serde_json would write for a `BarDto`; a test compares the two on awkward bars.

use std::io::Write as _;
use std::ops::ControlFlow;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde_json::ser::{CompactFormatter, Formatter as _};
use storage::{BarQuery, BarRow};

use crate::error::ApiError;

/// A bars response being written: the head at [`BarsJson::start`], one bar per
/// [`BarsJson::push`] (the visitor of `Storage::visit_bars`), the tail at [`BarsJson::finish`].
pub(crate) struct BarsJson {
    body: Vec<u8>,
    intraday: bool,
    limit: u64,
    count: u64,
    truncated: bool,
    error: Option<serde_json::Error>,
}

impl BarsJson {
    /// Bytes of one bar, about: a date, six numbers of up to 17 digits, the provider and flags.
    const BAR_BYTES: u64 = 210;
    /// The most a buffer is sized for up front (it grows past it if needed).
    const MAX_CAPACITY: u64 = 256 * 1024;

    /// The head of the response for `query`, which serves at most `limit` bars.
    pub(crate) fn start(query: &BarQuery, limit: u64) -> Result<Self, ApiError> {
        // Room for the bars expected (a daily range holds at most one bar a day), so the buffer
        // is rarely copied as it grows.
        let days = match (query.from, query.to) {
            (Some(from), Some(to)) if !query.interval.is_intraday() => {
                u64::try_from((to - from).num_days()).unwrap_or(0) + 1
            }
            _ => 64,
        };
        let capacity = (days.min(limit) * Self::BAR_BYTES + 128).min(Self::MAX_CAPACITY);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(8 * 1024));
        body.extend_from_slice(b"{\"symbol\":");
        serde_json::to_writer(&mut body, query.symbol.as_str()).map_err(ApiError::internal)?;
        body.extend_from_slice(b",\"interval\":");
        serde_json::to_writer(&mut body, query.interval.as_str()).map_err(ApiError::internal)?;
        body.extend_from_slice(b",\"bars\":[");
        Ok(Self {
            body,
            intraday: query.interval.is_intraday(),
            limit,
            count: 0,
            truncated: false,
            error: None,
        })
    }

    /// Appends `bar`, or stops at the limit (the query asks for one more bar, to tell whether
    /// the answer is truncated).
    pub(crate) fn push(&mut self, bar: BarRow<'_>) -> ControlFlow<()> {
        if self.count == self.limit {
            self.truncated = true;
            return ControlFlow::Break(());
        }
        if self.count > 0 {
            self.body.push(b',');
        }
        if let Err(error) = write_bar(&mut self.body, bar, self.intraday) {
            self.error = Some(error);
            return ControlFlow::Break(());
        }
        self.count += 1;
        ControlFlow::Continue(())
    }

    /// The whole body.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, ApiError> {
        if let Some(error) = self.error {
            return Err(ApiError::internal(error));
        }
        let (count, truncated) = (self.count, self.truncated);
        // Writing to a Vec cannot fail.
        let _ = write!(self.body, "],\"count\":{count},\"truncated\":{truncated}}}");
        Ok(self.body)
    }
}

/// Writes `bar` as the JSON object `BarDto` serializes to: `date` (or `ts` for intraday bars),
/// `open`, `high`, `low`, `close`, `adj_close`, `volume`, `provider`, `partial`, `flag`.
fn write_bar(out: &mut Vec<u8>, bar: BarRow<'_>, intraday: bool) -> serde_json::Result<()> {
    if intraday {
        out.extend_from_slice(b"{\"ts\":");
        write_timestamp(out, bar.ts)?;
    } else {
        out.extend_from_slice(b"{\"date\":");
        write_day(out, bar.ts)?;
    }
    for (key, value) in [
        (&b",\"open\":"[..], bar.open),
        (b",\"high\":", bar.high),
        (b",\"low\":", bar.low),
        (b",\"close\":", bar.close),
        (b",\"adj_close\":", bar.adj_close),
    ] {
        out.extend_from_slice(key);
        write_f64(out, value);
    }
    out.extend_from_slice(b",\"volume\":");
    match bar.volume {
        // Writing to a Vec cannot fail.
        Some(volume) => drop(CompactFormatter.write_i64(out, volume)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"provider\":");
    serde_json::to_writer(&mut *out, bar.provider.as_str())?;
    out.extend_from_slice(if bar.partial { b",\"partial\":true" } else { b",\"partial\":false" });
    out.extend_from_slice(b",\"flag\":");
    match bar.flag {
        Some(flag) => serde_json::to_writer(&mut *out, flag)?,
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    Ok(())
}

/// A number as serde_json writes an `Option<f64>`: `null` for none (and for NaN or an infinity,
/// which storage never holds).
fn write_f64(out: &mut Vec<u8>, value: Option<f64>) {
    match value {
        // Writing to a Vec cannot fail.
        Some(value) if value.is_finite() => drop(CompactFormatter.write_f64(out, value)),
        _ => out.extend_from_slice(b"null"),
    }
}

/// `"YYYY-MM-DD"` as chrono writes it; years outside 0..=9999 go through chrono.
fn write_date(out: &mut Vec<u8>, date: NaiveDate) -> serde_json::Result<()> {
    if !(0..=9_999).contains(&date.year()) {
        return serde_json::to_writer(&mut *out, &date);
    }
    out.push(b'"');
    push_ymd(out, date.year().unsigned_abs(), date.month(), date.day());
    out.push(b'"');
    Ok(())
}

/// The date of a daily bar's key (midnight UTC of its trading day), as [`write_date`] writes
/// it, straight from the unix seconds: a bar's `date` without chrono's calendar types.
fn write_day(out: &mut Vec<u8>, ts: DateTime<Utc>) -> serde_json::Result<()> {
    match civil_day(ts.timestamp().div_euclid(86_400)) {
        Some((year, month, day)) => {
            out.push(b'"');
            push_ymd(out, year, month, day);
            out.push(b'"');
            Ok(())
        }
        None => write_date(out, ts.date_naive()),
    }
}

/// `"YYYY-MM-DDTHH:MM:SSZ"` as chrono serializes a whole-second `DateTime<Utc>`; anything else
/// (fractions of a second, years outside 0..=9999) goes through chrono.
fn write_timestamp(out: &mut Vec<u8>, ts: DateTime<Utc>) -> serde_json::Result<()> {
    let secs = ts.timestamp();
    let (Some((year, month, day)), 0) = (civil_day(secs.div_euclid(86_400)), ts.nanosecond()) else {
        return serde_json::to_writer(&mut *out, &ts);
    };
    let time = u32::try_from(secs.rem_euclid(86_400)).unwrap_or(0);
    out.push(b'"');
    push_ymd(out, year, month, day);
    out.push(b'T');
    push_digits(out, time / 3_600);
    out.push(b':');
    push_digits(out, time / 60 % 60);
    out.push(b':');
    push_digits(out, time % 60);
    out.extend_from_slice(b"Z\"");
    Ok(())
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01, for years 0..=9999
/// (else `None`). Howard Hinnant's `civil_from_days`.
fn civil_day(days: i64) -> Option<(u32, u32, u32)> {
    // 0000-03-01 .. 9999-12-31 keeps every step below in range and non-negative.
    if !(-719_468..=2_932_896).contains(&days) {
        return None;
    }
    let z = u64::try_from(days + 719_468).ok()?; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // from 1 March
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    Some((u32::try_from(year).ok()?, u32::try_from(month).ok()?, u32::try_from(day).ok()?))
}

/// `YYYY-MM-DD` (year below 10 000).
fn push_ymd(out: &mut Vec<u8>, year: u32, month: u32, day: u32) {
    push_digits(out, year / 100);
    push_digits(out, year % 100);
    out.push(b'-');
    push_digits(out, month);
    out.push(b'-');
    push_digits(out, day);
}

/// Two decimal digits of `n` (below 100).
fn push_digits(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use domain::ProviderId;

    use super::*;
    use crate::routes::symbols::BarDto;

    fn row(ts: DateTime<Utc>) -> BarRow<'static> {
        BarRow {
            ts,
            open: Some(99.5),
            high: Some(102.25),
            low: Some(98.0),
            close: Some(100.0),
            adj_close: None,
            volume: Some(1_000),
            provider: ProviderId::Yahoo,
            partial: false,
            flag: None,
        }
    }

    #[test]
    fn bars_are_written_as_serde_writes_a_bar_dto() {
        let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
        let mut bars = vec![
            row(day(2024, 1, 2)),
            row(day(1999, 12, 31)),
            row(day(1, 1, 1)),
            row(day(10_000, 3, 4)),
            row(day(-5, 6, 7)),
            row(day(0, 1, 1)),
            row(day(0, 2, 29)),
            row(day(0, 3, 1)),
            row(day(9_999, 12, 31)),
            row(day(1970, 1, 1)),
            row(day(1969, 12, 31)),
            row(Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap()),
            row(Utc.with_ymd_and_hms(9_999, 12, 31, 23, 59, 59).unwrap()),
            row(Utc.with_ymd_and_hms(2024, 5, 3, 13, 30, 59).unwrap()),
            row(Utc.with_ymd_and_hms(2024, 5, 3, 9, 5, 7).unwrap() + chrono::Duration::milliseconds(250)),
        ];
        bars[1].open = None;
        bars[1].volume = None;
        bars[1].flag = Some("a \"jump\" \\ of 100× ⚠ \n\u{1}");
        bars[2] = BarRow {
            open: Some(0.1 + 0.2),
            high: Some(1e21),
            low: Some(-0.0),
            close: Some(123_456_789.123_456_79),
            adj_close: Some(5e-324),
            volume: Some(i64::MAX),
            provider: ProviderId::AlphaVantage,
            partial: true,
            ..bars[2]
        };
        bars[3].close = Some(f64::NAN);
        bars[3].high = Some(f64::INFINITY);
        bars[4].volume = Some(0);
        for bar in bars {
            for intraday in [false, true] {
                let mut ours = Vec::new();
                write_bar(&mut ours, bar, intraday).unwrap();
                let serde = serde_json::to_vec(&BarDto::new(bar, intraday)).unwrap();
                assert_eq!(String::from_utf8(ours).unwrap(), String::from_utf8(serde).unwrap(), "{bar:?}");
            }
        }
    }

    #[test]
    fn dates_are_computed_as_chrono_computes_them() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let first = NaiveDate::from_ymd_opt(0, 3, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(9_999, 12, 31).unwrap();
        let (first, last) = ((first - epoch).num_days(), (last - epoch).num_days());
        // Every day from 1800 to 2200, and every 97th day over the whole range.
        let dense = (NaiveDate::from_ymd_opt(1_800, 1, 1).unwrap() - epoch).num_days()
            ..(NaiveDate::from_ymd_opt(2_200, 1, 1).unwrap() - epoch).num_days();
        for days in dense.chain((first..=last).step_by(97)).chain([first, last, 0, -1]) {
            let date = epoch + chrono::Duration::days(days);
            let expected = (date.year().unsigned_abs(), date.month(), date.day());
            assert_eq!(civil_day(days), Some(expected), "{date}");
        }
        assert_eq!(civil_day(first - 1), None, "before 0000-03-01: chrono writes it");
        assert_eq!(civil_day(last + 1), None, "year 10000: chrono writes it");
    }

    #[test]
    fn a_response_has_head_bars_and_tail() {
        let query = BarQuery::new(domain::Symbol::parse("AAPL").unwrap(), domain::Interval::Day1);
        let mut json = BarsJson::start(&query, 2).unwrap();
        let day = Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap();
        for n in 0..3 {
            if json.push(row(day + chrono::Duration::days(n))).is_break() {
                break;
            }
        }
        let body: serde_json::Value = serde_json::from_slice(&json.finish().unwrap()).unwrap();
        assert_eq!(body["symbol"], "AAPL");
        assert_eq!(body["interval"], "1d");
        assert_eq!(body["bars"][1]["date"], "2024-01-03");
        assert_eq!((body["count"].as_u64(), body["truncated"].as_bool()), (Some(2), Some(true)));
    }
}

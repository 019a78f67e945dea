//! Allocation-free text forms of the values in a bar row.
//!
//! The row writers run at millions of rows per second, where `format!` or chrono's
//! `to_rfc3339` (a fresh `String` each) would dominate, so timestamps are formatted into a fixed
//! buffer and floats through `zmij` (shortest round-trip digits, as `serde_json` prints them).

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats timestamps as RFC 3339 UTC (`2024-01-02T14:30:00Z`) into a reused buffer.
#[derive(Debug, Default)]
pub(crate) struct TsText {
    buf: [u8; 20],
    /// For the rare timestamp outside years 0–9999 or with a fraction of a second.
    fallback: String,
}

impl TsText {
    pub(crate) fn format(&mut self, ts: DateTime<Utc>) -> &str {
        let secs = ts.timestamp();
        let days = secs.div_euclid(86_400);
        let second_of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) || ts.timestamp_subsec_nanos() != 0 {
            self.fallback = ts.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            return &self.fallback;
        }
        let b = &mut self.buf;
        put_digits(&mut b[0..4], year);
        b[4] = b'-';
        put_digits(&mut b[5..7], month);
        b[7] = b'-';
        put_digits(&mut b[8..10], day);
        b[10] = b'T';
        put_digits(&mut b[11..13], second_of_day / 3600);
        b[13] = b':';
        put_digits(&mut b[14..16], second_of_day / 60 % 60);
        b[16] = b':';
        put_digits(&mut b[17..19], second_of_day % 60);
        b[19] = b'Z';
        // Only ASCII digits and separators were written.
        std::str::from_utf8(b).unwrap_or_default()
    }
}

/// Writes `value` (non-negative, fitting the slice) as zero-padded decimal digits.
fn put_digits(out: &mut [u8], mut value: i64) {
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats floats in their shortest round-trip form into a reused buffer.
#[derive(Default)]
pub(crate) struct FloatText {
    buf: zmij::Buffer,
}

impl FloatText {
    /// `1.5` → `"1.5"`, `2.0` → `"2.0"`; NaN and infinities (which storage refuses) as `NaN`,
    /// `inf`, `-inf`.
    pub(crate) fn format(&mut self, value: f64) -> &str {
        self.buf.format(value)
    }
}

/// Seconds since the Unix epoch as an Excel serial date (days since 1899-12-30, time of day as
/// the fraction), what a date cell holds.
pub(crate) fn excel_serial(ts: DateTime<Utc>) -> f64 {
    const UNIX_EPOCH_SERIAL: f64 = 25_569.0;
    let secs = ts.timestamp() as f64 + f64::from(ts.timestamp_subsec_millis()) / 1000.0;
    UNIX_EPOCH_SERIAL + secs / 86_400.0
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn rfc3339_matches_chrono() {
        let mut text = TsText::default();
        let mut secs = -62_135_596_800_i64; // 0001-01-01
        while secs < 253_402_300_799 {
            let ts = Utc.timestamp_opt(secs, 0).unwrap();
            assert_eq!(text.format(ts), ts.to_rfc3339_opts(SecondsFormat::Secs, true));
            secs += 7_777_777;
        }
        for ts in [Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 59).unwrap(), Utc.timestamp_opt(0, 0).unwrap()] {
            assert_eq!(text.format(ts), ts.to_rfc3339_opts(SecondsFormat::Secs, true));
        }
        let fractional = Utc.timestamp_opt(1, 500_000_000).unwrap();
        assert_eq!(text.format(fractional), "1970-01-01T00:00:01.500Z");
    }

    #[test]
    fn floats_round_trip() {
        let mut text = FloatText::default();
        for v in [0.0, 1.0, 1.5, 123.456, 1e-7, 12_345_678.0, 0.1 + 0.2] {
            assert_eq!(text.format(v).parse::<f64>().unwrap(), v);
        }
    }

    #[test]
    fn excel_dates() {
        assert_eq!(excel_serial(Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap()), 25_569.0);
        assert_eq!(excel_serial(Utc.with_ymd_and_hms(2024, 1, 1, 12, 0, 0).unwrap()), 45_292.5);
    }
}

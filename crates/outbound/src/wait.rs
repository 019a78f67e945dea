//! Server wait hints: `Retry-After` and vendors' rate-limit reset headers, read without trusting
//! them.
//!
//! A hint is whatever text a server, or a proxy in front of it, put in a header: `1e20`, `-5`,
//! `NaN`, a date in 1999 or 9999, `soon`, an empty value, several values. Handed to
//! `Duration::from_secs_f64` some of those panic, and `Instant + Duration` overflows on others.
//! So every value goes through [`from_secs`]: a usable hint is a [`Duration`] of at most
//! [`MAX_SERVER_WAIT`], anything else is `None`, "no usable wait", and the caller falls back to
//! its own backoff. Nothing here panics, whatever the input.
//!
//! Where a header carries several values (sent twice, or comma-separated), the longest usable
//! one counts: waiting a little long costs less than being refused again.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// The longest wait a server hint can ask for. Longer asks (`Retry-After: 1e20`, a date years
/// ahead) are read as this: far beyond any `max_retry_wait`, so the call fails as rate-limited
/// instead of sleeping, and still a `Duration` that `Instant` arithmetic can take.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// Where a vendor states how long to wait. A client reads its list in order and takes the first
/// usable hint (see [`wait_hint`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitHeader {
    /// `Retry-After`: delay-seconds (a fraction is accepted) or an HTTP-date.
    RetryAfter,
    /// A header holding seconds, possibly fractional: Reddit's `X-Ratelimit-Reset: 412.0`.
    Seconds(&'static str),
    /// A header holding milliseconds: `retry-after-ms: 250`.
    Millis(&'static str),
    /// Per-budget reset durations in Go's syntax, OpenAI's `x-ratelimit-reset-requests: 6m0s`
    /// and `x-ratelimit-reset-tokens: 12ms`: the longest reset among the budgets whose
    /// `{remaining_prefix}{budget}` header says 0 (or says nothing usable).
    BudgetResets {
        reset_prefix: &'static str,
        remaining_prefix: &'static str,
        budgets: &'static [&'static str],
    },
}

impl WaitHeader {
    /// The wait this header asks for, if it is present and usable.
    pub fn read(&self, headers: &HeaderMap) -> Option<Duration> {
        match *self {
            Self::RetryAfter => longest(headers, RETRY_AFTER.as_str(), retry_after),
            Self::Seconds(name) => longest(headers, name, seconds),
            Self::Millis(name) => longest(headers, name, millis),
            Self::BudgetResets { reset_prefix, remaining_prefix, budgets } => budgets
                .iter()
                .filter(|budget| {
                    longest_number(headers, &format!("{remaining_prefix}{budget}")).is_none_or(|n| n <= 0.0)
                })
                .filter_map(|budget| longest(headers, &format!("{reset_prefix}{budget}"), go_duration))
                .max(),
        }
    }
}

/// The first usable hint among `sources`, in their order.
pub fn wait_hint(sources: &[WaitHeader], headers: &HeaderMap) -> Option<Duration> {
    sources.iter().find_map(|source| source.read(headers))
}

/// The one conversion from a number of seconds: `None` for NaN, infinities and negative
/// values, at most [`MAX_SERVER_WAIT`] otherwise.
pub fn from_secs(secs: f64) -> Option<Duration> {
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    if secs >= MAX_SERVER_WAIT.as_secs_f64() {
        return Some(MAX_SERVER_WAIT);
    }
    // `secs` is in [0, one day) here (-0.0 included), which `from_secs_f64` takes.
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// A `Retry-After` value: delay-seconds or an HTTP-date (a date in the past means "now").
pub fn retry_after(value: &str) -> Option<Duration> {
    retry_after_at(value, SystemTime::now())
}

/// [`retry_after`] as of `now`.
pub fn retry_after_at(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    seconds(value).or_else(|| {
        let date = httpdate::parse_http_date(value).ok()?;
        Some(date.duration_since(now).map_or(Duration::ZERO, |wait| wait.min(MAX_SERVER_WAIT)))
    })
}

/// A number of seconds (`412.0`).
pub fn seconds(value: &str) -> Option<Duration> {
    number(value).and_then(from_secs)
}

/// A number of milliseconds (`250`).
pub fn millis(value: &str) -> Option<Duration> {
    number(value).and_then(|ms| from_secs(ms / 1000.0))
}

/// A duration in Go's syntax as OpenAI writes it (`12ms`, `6m0s`, `1.5s`, `1h2m`); a bare number
/// is seconds.
pub fn go_duration(value: &str) -> Option<Duration> {
    let text = value.trim();
    if let Some(secs) = number(text) {
        return from_secs(secs);
    }
    let max = MAX_SERVER_WAIT.as_secs_f64();
    let mut total = 0.0_f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let value: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        // Digits only, so never NaN; a run of 400 digits is infinite, and `min` caps that.
        total = (total + value * scale).min(max);
        rest = &rest[unit_end..];
    }
    (!text.is_empty()).then(|| from_secs(total)).flatten()
}

fn number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok()
}

/// The longest usable value of header `name` over all its instances and comma-separated parts.
fn longest(headers: &HeaderMap, name: &str, parse: fn(&str) -> Option<Duration>) -> Option<Duration> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| {
            // An HTTP-date has a comma of its own: try the whole value first.
            parse(value).or_else(|| value.split(',').filter_map(parse).max())
        })
        .max()
}

/// The largest number among the values of header `name` (NaN and unparsable values left out).
fn longest_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(number)
        .filter(|n| !n.is_nan())
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_bytes(value).expect("a header value"));
        }
        map
    }

    fn retry_after_header(value: &[u8]) -> Option<Duration> {
        WaitHeader::RetryAfter.read(&headers(&[("retry-after", value)]))
    }

    #[test]
    fn plain_seconds() {
        assert_eq!(retry_after_header(b"3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after_header(b" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(retry_after_header(b"0"), Some(Duration::ZERO));
        assert_eq!(retry_after_header(b"1.5"), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn huge_values_are_capped() {
        assert_eq!(retry_after_header(b"1e20"), Some(MAX_SERVER_WAIT));
        assert_eq!(retry_after_header(b"1e308"), Some(MAX_SERVER_WAIT));
        assert_eq!(retry_after_header(b"18446744073709551616"), Some(MAX_SERVER_WAIT));
        assert_eq!(retry_after_header(b"86401"), Some(MAX_SERVER_WAIT));
        assert_eq!(millis("1e300"), Some(MAX_SERVER_WAIT));
        assert_eq!(go_duration(&format!("{}h", "9".repeat(400))), Some(MAX_SERVER_WAIT));
        assert_eq!(go_duration("1000000h1s"), Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn negative_values_are_unusable() {
        assert_eq!(retry_after_header(b"-5"), None);
        assert_eq!(retry_after_header(b"-1e20"), None);
        assert_eq!(retry_after_header(b"-0"), Some(Duration::ZERO));
        assert_eq!(millis("-250"), None);
        assert_eq!(go_duration("-1s"), None);
    }

    #[test]
    fn nan_and_infinities_are_unusable() {
        for value in [&b"NaN"[..], b"nan", b"inf", b"-inf", b"infinity", b"+Infinity"] {
            assert_eq!(retry_after_header(value), None, "{}", String::from_utf8_lossy(value));
        }
        assert_eq!(go_duration("NaN"), None);
        assert_eq!(seconds("inf"), None);
    }

    #[test]
    fn http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").expect("a date");
        assert_eq!(
            retry_after_at("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30)),
            "IMF-fixdate"
        );
        assert_eq!(
            retry_after_at("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60)),
            "RFC 850"
        );
        assert_eq!(retry_after_at("Wed Oct 21 07:28:05 2015", now), Some(Duration::from_secs(5)), "asctime");
        assert_eq!(retry_after_at("Wed, 21 Oct 2015 07:27:00 GMT", now), Some(Duration::ZERO), "past: now");
        assert_eq!(retry_after_at("Thu, 01 Jan 1970 00:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(retry_after_at("Fri, 31 Dec 9999 23:59:59 GMT", now), Some(MAX_SERVER_WAIT), "far future");
        // Today's clock against a date far ahead or long past.
        assert_eq!(retry_after_header(b"Fri, 31 Dec 9999 23:59:59 GMT"), Some(MAX_SERVER_WAIT));
        assert_eq!(retry_after_header(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_and_empty_values_are_unusable() {
        for value in [
            &b""[..],
            b"   ",
            b"soon",
            b"5 seconds",
            b"0x10",
            b"Wed, 32 Oct 2015 07:28:00 GMT",
            b"Wed, 21 Oct 10000 07:28:00 GMT",
            b"Mon, 21 Oct 2015 25:61:61 GMT",
        ] {
            assert_eq!(retry_after_header(value), None, "{}", String::from_utf8_lossy(value));
        }
        // Bytes that are not text.
        assert_eq!(retry_after_header(b"\xff\xfe"), None);
        assert_eq!(retry_after_header("٣".as_bytes()), None, "non-ASCII digits");
        assert_eq!(go_duration(""), None);
        assert_eq!(go_duration("soon"), None);
        assert_eq!(go_duration("5x"), None);
        assert_eq!(go_duration("."), None);
        assert_eq!(go_duration("1..5s"), None);
        assert_eq!(WaitHeader::RetryAfter.read(&HeaderMap::new()), None, "absent");
    }

    #[test]
    fn several_values_take_the_longest_usable_one() {
        let map = headers(&[("retry-after", b"5"), ("retry-after", b"12"), ("retry-after", b"soon")]);
        assert_eq!(WaitHeader::RetryAfter.read(&map), Some(Duration::from_secs(12)));
        assert_eq!(retry_after_header(b"5, 10"), Some(Duration::from_secs(10)));
        assert_eq!(retry_after_header(b"5, garbage"), Some(Duration::from_secs(5)));
        assert_eq!(retry_after_header(b"garbage, -3, NaN"), None);
        assert_eq!(retry_after_header(b"3, 1e20"), Some(MAX_SERVER_WAIT));
        let map = headers(&[("retry-after", b"1"), ("retry-after", b"Fri, 31 Dec 9999 23:59:59 GMT")]);
        assert_eq!(WaitHeader::RetryAfter.read(&map), Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn seconds_and_millis_headers() {
        let reset = WaitHeader::Seconds("x-ratelimit-reset");
        assert_eq!(reset.read(&headers(&[("x-ratelimit-reset", b"412.0")])), Some(Duration::from_secs(412)));
        assert_eq!(reset.read(&headers(&[("x-ratelimit-reset", b"1e20")])), Some(MAX_SERVER_WAIT));
        assert_eq!(reset.read(&headers(&[("x-ratelimit-reset", b"-1")])), None);
        // A date is not seconds.
        assert_eq!(reset.read(&headers(&[("x-ratelimit-reset", b"Wed, 21 Oct 2015 07:28:00 GMT")])), None);
        let ms = WaitHeader::Millis("retry-after-ms");
        assert_eq!(ms.read(&headers(&[("retry-after-ms", b"250")])), Some(Duration::from_millis(250)));
        assert_eq!(ms.read(&headers(&[("retry-after-ms", b"NaN")])), None);
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(go_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(go_duration("250us"), Some(Duration::from_micros(250)));
    }

    #[test]
    fn first_usable_source_wins() {
        let budgets = WaitHeader::BudgetResets {
            reset_prefix: "x-ratelimit-reset-",
            remaining_prefix: "x-ratelimit-remaining-",
            budgets: &["requests", "tokens"],
        };
        let sources = [WaitHeader::Millis("retry-after-ms"), WaitHeader::RetryAfter, budgets];
        let mut map = HeaderMap::new();
        assert_eq!(wait_hint(&sources, &map), None);
        map.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("5"));
        map.insert("x-ratelimit-reset-requests", HeaderValue::from_static("6m0s"));
        map.insert("x-ratelimit-remaining-tokens", HeaderValue::from_static("0"));
        map.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("12ms"));
        assert_eq!(wait_hint(&sources, &map), Some(Duration::from_millis(12)), "only the used-up budget");
        map.remove("x-ratelimit-remaining-requests");
        assert_eq!(wait_hint(&sources, &map), Some(Duration::from_secs(360)), "a silent budget counts");
        map.insert("retry-after", HeaderValue::from_static("NaN"));
        assert_eq!(
            wait_hint(&sources, &map),
            Some(Duration::from_secs(360)),
            "an unusable source is skipped"
        );
        map.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(wait_hint(&sources, &map), Some(Duration::from_secs(2)));
        map.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(wait_hint(&sources, &map), Some(Duration::from_millis(250)));
        let huge = headers(&[("x-ratelimit-reset-tokens", b"99999999h")]);
        assert_eq!(wait_hint(&sources, &huge), Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn from_secs_never_panics() {
        for secs in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -0.0, 0.0, 1e-300, f64::MAX, f64::MIN]
        {
            let wait = from_secs(secs);
            assert!(wait.is_none_or(|w| w <= MAX_SERVER_WAIT), "{secs}: {wait:?}");
        }
        assert_eq!(from_secs(-0.0), Some(Duration::ZERO));
    }
}

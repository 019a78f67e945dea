//! When to try again: backoff with jitter and the server's own hints.

use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;

/// Exponential backoff with jitter: a random wait in `[base·2^attempt / 2, base·2^attempt]`,
/// capped, so many agents retrying together spread out.
pub(crate) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(max);
    let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

/// The wait the server asked for: `retry-after-ms`, `retry-after` (seconds; the HTTP-date form
/// is not used by these servers and is ignored), else OpenAI's `x-ratelimit-reset-requests` /
/// `-tokens` for whichever budget is exhausted (both when neither `remaining` header says).
pub(crate) fn server_hint(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let seconds = |text: &str| text.parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0);
    if let Some(ms) = header("retry-after-ms").and_then(seconds) {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(secs) = header("retry-after").and_then(seconds) {
        return Some(Duration::from_secs_f64(secs));
    }
    ["requests", "tokens"]
        .iter()
        .filter(|budget| header(&format!("x-ratelimit-remaining-{budget}")).is_none_or(|n| n == "0"))
        .filter_map(|budget| header(&format!("x-ratelimit-reset-{budget}")).and_then(parse_go_duration))
        .max()
}

/// Parses Go's duration syntax as OpenAI writes it (`12ms`, `6m0s`, `1.5s`, `1h2m`); a bare
/// number is seconds.
pub(crate) fn parse_go_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
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
        total += value * scale;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && !text.is_empty()).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_go_duration("soon"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("5x"), None);
    }

    #[test]
    fn hints() {
        let mut headers = HeaderMap::new();
        assert_eq!(server_hint(&headers), None);
        headers.insert("x-ratelimit-remaining-requests", "5".parse().unwrap());
        headers.insert("x-ratelimit-reset-requests", "6m0s".parse().unwrap());
        headers.insert("x-ratelimit-remaining-tokens", "0".parse().unwrap());
        headers.insert("x-ratelimit-reset-tokens", "12ms".parse().unwrap());
        assert_eq!(server_hint(&headers), Some(Duration::from_millis(12)));
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(server_hint(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(server_hint(&headers), Some(Duration::from_millis(250)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(300));
        let first = backoff(base, max, 0);
        assert!(first >= Duration::from_millis(50) && first <= base);
        assert!(backoff(base, max, 10) <= max);
    }
}

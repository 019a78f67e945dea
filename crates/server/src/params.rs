//! Request parameters shared by several routes: what the spec declares about them, and the checks
//! that make the server accept exactly that.
//!
//! Why the schemas are built here (`#[param(schema_with = …)]`) rather than written as attribute
//! literals: utoipa's `maximum = 1000` or `pattern = "…"` must be literals, so every bound would
//! be written twice, once for the spec and once for the check, and the two would drift. Here a
//! schema and its check read the same constant; `tests/api/spec.rs` then sends every declared
//! bound and one past it, and `scripts/schemathesis.sh` fuzzes the whole spec.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::Symbol;
use serde_json::json;
use utoipa::openapi::KnownFormat;
use utoipa::openapi::schema::{AnyOfBuilder, Object, ObjectBuilder, Schema, SchemaFormat, Type};

use crate::error::ApiError;

/// What [`Symbol::parse`] accepts, as an ECMA-262 regex a generator can produce from (no
/// lookaround): letters (either case: they are upper-cased), digits and `.` `-` `^` `=`, with at
/// least one letter or digit; [`Symbol::MAX_LEN`] bounds the length beside it. Surrounding
/// whitespace, which `Symbol::parse` would trim, is refused by [`symbol`], so the server accepts
/// exactly what the pattern and the length allow.
pub(crate) const SYMBOL_PATTERN: &str = r"^[.^=-]*[A-Za-z0-9][A-Za-z0-9.^=-]*$";

/// The schema of a symbol in a path, a query or a body.
pub(crate) fn symbol_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(Symbol::MAX_LEN))
        .pattern(Some(SYMBOL_PATTERN))
        .description(Some(
            "Ticker symbol: letters, digits and `. - ^ =`, at least one letter or digit, at most 15 \
             characters; case-insensitive (stored upper-case)",
        ))
        .examples([json!("AAPL")])
        .build()
}

/// Parses a symbol from a path segment, a query parameter or a body field; the 400 names where it
/// came from (`in_what`, e.g. "path") and why it is not one (see [`Symbol::parse`]).
///
/// Stricter than `Symbol::parse` in one way: surrounding whitespace is refused rather than
/// trimmed, because [`SYMBOL_PATTERN`] (what the spec promises) does not allow it.
pub(crate) fn symbol(raw: &str, in_what: &str) -> Result<Symbol, ApiError> {
    let invalid = |reason: String| ApiError::InvalidSymbol(format!("invalid symbol in {in_what}: {reason}"));
    if raw.trim() != raw {
        return Err(invalid(format!("symbol {raw:?} has surrounding whitespace")));
    }
    Symbol::parse(raw).map_err(|error| invalid(error.to_string()))
}

/// A `limit` query parameter: how many items at most, from 1 to `max`, `default` when absent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LimitParam {
    pub(crate) default: u64,
    pub(crate) max: u64,
}

impl LimitParam {
    /// The schema the spec declares: an integer from 1 to `max`, with its default.
    pub(crate) fn schema(self) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .maximum(Some(self.max))
            .default(Some(json!(self.default)))
            .build()
    }

    /// The limit asked for, or the default; a 400 naming `limit` and its range when it is out of
    /// range. (A value that is not an integer at all, or beyond `u64`, is refused by the query
    /// extractor, whose message names `limit` too.)
    pub(crate) fn check(self, raw: Option<u64>) -> Result<u64, ApiError> {
        match raw {
            None => Ok(self.default),
            Some(limit) if (1..=self.max).contains(&limit) => Ok(limit),
            Some(limit) => Err(ApiError::BadRequest(format!(
                "invalid limit {limit}: expected an integer from 1 to {}",
                self.max
            ))),
        }
    }
}

/// The schema of a database id in a path: a positive int64.
pub(crate) fn id_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(1))
        .maximum(Some(i64::MAX))
        .examples([json!(1)])
        .build()
}

/// Parses an id from a path segment: decimal digits only, 1 to `i64::MAX`. Anything else is a
/// 400 naming the parameter (`what`, e.g. "export id"), never an undocumented error.
pub(crate) fn id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw.parse::<i64>().ok())
        .flatten()
        .filter(|id| *id >= 1)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "invalid {what} {raw:?}: expected an integer from 1 to {}",
                i64::MAX
            ))
        })
}

/// The schema of a calendar date (`YYYY-MM-DD`).
pub(crate) fn date_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .build()
}

/// The schema of `since`: an RFC 3339 time, or a date taken as 00:00 UTC.
pub(crate) fn since_schema() -> Schema {
    let date_time = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .examples([json!("2024-01-01T00:00:00Z")])
        .build();
    AnyOfBuilder::new().item(date_time).item(date_schema()).build().into()
}

/// Parses a `YYYY-MM-DD` date parameter named `name`, strictly: the `date` format has four-digit
/// years and two-digit months and days, where chrono's own parser would also take `2024-1-2`,
/// signs and spaces.
pub(crate) fn date(raw: &str, name: &str) -> Result<NaiveDate, ApiError> {
    strict_date(raw)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid {name} {raw:?}: expected a date (2024-01-31)")))
}

fn strict_date(raw: &str) -> Option<NaiveDate> {
    let shaped = raw.len() == 10
        && raw
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    shaped.then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()).flatten()
}

/// Parses `since`: an RFC 3339 time, or a `YYYY-MM-DD` date taken as 00:00 UTC.
pub(crate) fn since(raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let invalid = || {
        ApiError::BadRequest(format!(
            "invalid since {raw:?}: expected an RFC 3339 time (2024-01-01T00:00:00Z) or a date (2024-01-01)"
        ))
    };
    let (day, time) = raw.split_at_checked(10).ok_or_else(invalid)?;
    let date = strict_date(day).ok_or_else(invalid)?;
    if time.is_empty() {
        return Ok(date.and_time(NaiveTime::MIN).and_utc());
    }
    // chrono also takes a space or a lower-case `t` between date and time; the format does not.
    if !time.starts_with('T') {
        return Err(invalid());
    }
    DateTime::parse_from_rfc3339(raw).map(|time| time.with_timezone(&Utc)).map_err(|_| invalid())
}

/// Parses an enumerated parameter named `name` into one of `values` (the spelling exactly, as
/// the spec's `enum` lists it).
pub(crate) fn one_of<T: Copy>(
    raw: &str,
    name: &str,
    values: impl IntoIterator<Item = T>,
    spelling: impl Fn(T) -> &'static str,
) -> Result<T, ApiError> {
    let values: Vec<T> = values.into_iter().collect();
    values.iter().copied().find(|value| spelling(*value) == raw).ok_or_else(|| {
        let expected: Vec<&str> = values.iter().map(|value| spelling(*value)).collect();
        ApiError::BadRequest(format!("invalid {name} {raw:?}: expected one of {}", expected.join(", ")))
    })
}

/// The schema of an enumerated string parameter.
pub(crate) fn enum_schema(values: impl IntoIterator<Item = &'static str>, default: &'static str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .default(Some(json!(default)))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_against_their_range() {
        let limit = LimitParam { default: 50, max: 1000 };
        assert_eq!(limit.check(None).unwrap(), 50);
        assert_eq!(limit.check(Some(1)).unwrap(), 1);
        assert_eq!(limit.check(Some(1000)).unwrap(), 1000);
        for bad in [0, 1001, 9_223_372_036_854_775_808, u64::MAX] {
            let error = limit.check(Some(bad)).unwrap_err();
            assert!(matches!(&error, ApiError::BadRequest(message) if message.contains("limit")), "{bad}");
        }
        let schema = serde_json::to_value(limit.schema()).unwrap();
        assert_eq!((schema["minimum"].as_u64(), schema["maximum"].as_u64()), (Some(1), Some(1000)));
    }

    #[test]
    fn ids_are_positive_int64_digits() {
        assert_eq!(id("1", "export id").unwrap(), 1);
        assert_eq!(id("9223372036854775807", "export id").unwrap(), i64::MAX);
        for bad in ["0", "-1", "+1", "", " 1", "1.0", "abc", "9223372036854775808", "99999999999999999999"] {
            let error = id(bad, "export id").unwrap_err();
            assert!(
                matches!(&error, ApiError::BadRequest(message) if message.contains("export id")),
                "{bad}"
            );
        }
    }

    #[test]
    fn symbols_are_parsed_without_trimming() {
        assert_eq!(symbol("aapl", "path").unwrap(), "AAPL");
        assert_eq!(symbol("^GSPC", "path").unwrap(), "^GSPC");
        for bad in [" AAPL", "AAPL ", "", "A;B", "...", "ABCDEFGHIJKLMNOP"] {
            assert!(matches!(symbol(bad, "path"), Err(ApiError::InvalidSymbol(_))), "{bad:?}");
        }
    }

    #[test]
    fn dates_have_the_format_shape() {
        assert_eq!(date("2024-02-29", "from").unwrap().to_string(), "2024-02-29");
        for bad in
            ["2023-02-29", "2024-1-02", "2024-01-2", " 2024-01-02", "+2024-01-02", "20240102", "yesterday"]
        {
            let error = date(bad, "from").unwrap_err();
            assert!(matches!(&error, ApiError::BadRequest(message) if message.contains("from")), "{bad}");
        }
    }

    #[test]
    fn enumerated_values_are_spelled_exactly() {
        let intervals = domain::Interval::ALL;
        assert_eq!(
            one_of("1wk", "interval", intervals, domain::Interval::as_str).unwrap(),
            domain::Interval::Week1
        );
        let error = one_of(" 1d", "interval", intervals, domain::Interval::as_str).unwrap_err();
        assert!(error.to_string().contains("expected one of 1m, 5m"), "{error}");
    }

    #[test]
    fn since_is_a_date_time_or_a_date() {
        assert_eq!(since("2024-01-02").unwrap().to_rfc3339(), "2024-01-02T00:00:00+00:00");
        assert_eq!(since("2024-01-02T03:04:05+02:00").unwrap().to_rfc3339(), "2024-01-02T01:04:05+00:00");
        assert_eq!(since("2024-01-02T03:04:05.123Z").unwrap().timestamp_subsec_millis(), 123);
        for bad in [
            "2024-1-02",
            "+024-01-02",
            "2024-01-2 ",
            "yesterday",
            "2024-13-01",
            "2024-01-02T03:04:05",
            "2024-01-02 03:04:05Z",
            "2024-01-02t03:04:05Z",
            " 2024-01-02",
            "",
        ] {
            assert!(matches!(since(bad), Err(ApiError::BadRequest(_))), "{bad}");
        }
    }
}

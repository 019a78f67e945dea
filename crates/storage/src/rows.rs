//! Reading rows the same way from both backends, and the conversions at the crate's edge
//! (unix seconds ↔ `DateTime<Utc>`, text ↔ domain enums).

use chrono::{DateTime, Utc};
use domain::{Interval, ProviderId, Symbol};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::StorageError;

/// Typed column access shared by `SqliteRow` and `PgRow`, so row-to-domain conversions are
/// written once instead of being generic over a wall of sqlx trait bounds.
pub(crate) trait RowExt {
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    fn int_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    fn real(&self, column: &str) -> Result<f64, sqlx::Error>;
    fn real_opt(&self, column: &str) -> Result<Option<f64>, sqlx::Error>;
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// Positional access for hot loops (bar streams): no column-name lookup per value.
    fn int_at(&self, index: usize) -> Result<i64, sqlx::Error>;
    fn int_opt_at(&self, index: usize) -> Result<Option<i64>, sqlx::Error>;
    fn real_opt_at(&self, index: usize) -> Result<Option<f64>, sqlx::Error>;
    fn text_opt_at(&self, index: usize) -> Result<Option<String>, sqlx::Error>;
    /// Runs `f` on a borrowed text value, sparing an allocation per row.
    fn with_str_at<T>(&self, index: usize, f: impl FnOnce(&str) -> T) -> Result<T, sqlx::Error>;
}

macro_rules! impl_row_ext {
    ($($row:ty),*) => {$(
        impl RowExt for $row {
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                self.try_get(column)
            }
            fn int_opt(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(column)
            }
            fn real(&self, column: &str) -> Result<f64, sqlx::Error> {
                self.try_get(column)
            }
            fn real_opt(&self, column: &str) -> Result<Option<f64>, sqlx::Error> {
                self.try_get(column)
            }
            fn text(&self, column: &str) -> Result<String, sqlx::Error> {
                self.try_get(column)
            }
            fn text_opt(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(column)
            }
            fn int_at(&self, index: usize) -> Result<i64, sqlx::Error> {
                self.try_get(index)
            }
            fn int_opt_at(&self, index: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(index)
            }
            fn real_opt_at(&self, index: usize) -> Result<Option<f64>, sqlx::Error> {
                self.try_get(index)
            }
            fn text_opt_at(&self, index: usize) -> Result<Option<String>, sqlx::Error> {
                self.try_get(index)
            }
            fn with_str_at<T>(&self, index: usize, f: impl FnOnce(&str) -> T) -> Result<T, sqlx::Error> {
                let text: &str = self.try_get(index)?;
                Ok(f(text))
            }
        }
    )*};
}

impl_row_ext!(SqliteRow, PgRow);

/// The stored form of a timestamp. Sub-second precision is dropped (see the crate doc).
pub(crate) fn to_unix(ts: DateTime<Utc>) -> i64 {
    ts.timestamp()
}

pub(crate) fn now_unix() -> i64 {
    to_unix(Utc::now())
}

pub(crate) fn from_unix(column: &'static str, secs: i64) -> Result<DateTime<Utc>, StorageError> {
    DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| StorageError::corrupt(column, secs, "timestamp out of range"))
}

pub(crate) fn time_col(row: &impl RowExt, column: &'static str) -> Result<DateTime<Utc>, StorageError> {
    from_unix(column, row.int(column)?)
}

/// A TEXT column holding one of our own spellings (a symbol, an enum's `as_str`), parsed back;
/// anything else in it is [`StorageError::Corrupt`].
pub(crate) fn parsed_col<T>(row: &impl RowExt, column: &'static str) -> Result<T, StorageError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text = row.text(column)?;
    text.parse().map_err(|e: T::Err| StorageError::corrupt(column, &text, e))
}

pub(crate) fn symbol_col(row: &impl RowExt, column: &'static str) -> Result<Symbol, StorageError> {
    parsed_col(row, column)
}

pub(crate) fn provider_col(row: &impl RowExt, column: &'static str) -> Result<ProviderId, StorageError> {
    parsed_col(row, column)
}

pub(crate) fn interval_col(row: &impl RowExt, column: &'static str) -> Result<Interval, StorageError> {
    parsed_col(row, column)
}

/// Converts a caller's `u64` limit to SQL's signed `LIMIT`, saturating (no one has 2^63 rows).
pub(crate) fn sql_limit(limit: Option<u64>) -> i64 {
    limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX))
}

/// Converts a `COUNT(*)` (never negative) to the `u64` callers get.
pub(crate) fn count_to_u64(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}

//! Formatting shared by the commands: tables, numbers and dates.

use chrono::{DateTime, Utc};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

/// A table with the house style and the given header.
pub fn table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(header.iter().map(Cell::new));
    table
}

/// A right-aligned numeric cell; missing values show as `—` (never as 0).
pub fn number(value: Option<f64>, decimals: usize) -> Cell {
    let text = value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"));
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// A right-aligned whole number; missing values show as `—`.
pub fn integer(value: Option<i64>) -> Cell {
    let text = value.map_or_else(|| "—".to_owned(), |v| v.to_string());
    Cell::new(text).set_alignment(CellAlignment::Right)
}

/// A right-aligned integer-like cell.
pub fn count(value: impl std::fmt::Display) -> Cell {
    Cell::new(value).set_alignment(CellAlignment::Right)
}

/// A date (daily bars) or date-time (intraday) in UTC.
pub fn timestamp(ts: DateTime<Utc>, intraday: bool) -> String {
    if intraday { ts.format("%Y-%m-%d %H:%M").to_string() } else { ts.format("%Y-%m-%d").to_string() }
}

/// Text for an optional value, empty when missing (CSV).
pub fn optional(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

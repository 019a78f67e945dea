//! Checks every indicator against values computed by the Python package `ta` 0.11.0 for GOOG's
//! daily prices 2004-08-19 .. 2013-03-01 (`tests/data/indicators-reference.csv`, see the shared
//! data README). The reference is ground truth for our conventions, including where each
//! indicator's warm-up ends: an empty cell (or `ta`'s 0.0 ATR) must be `None` here.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, TimeZone, Utc};
use domain::indicators::{Atr, Bollinger, Ema, Macd, Rsi, Sma, latest};
use domain::{Bar, ProviderId};
use serde::Deserialize;

const RELATIVE_TOLERANCE: f64 = 1e-6;
const ABSOLUTE_TOLERANCE: f64 = 1e-9;
/// The series has 2,148 rows; every column has well over this many post-warm-up values, so a
/// broken reader or an indicator stuck in warm-up fails instead of comparing nothing.
const MIN_COMPARED: usize = 2000;
/// `ta` writes 0.0, not an empty cell, for ATR's warm-up rows.
const ATR_PERIOD: usize = 14;

#[derive(Debug, Deserialize)]
struct Row {
    date: NaiveDate,
    open: f64,
    high: f64,
    low: f64,
    close: f64,
    sma_20: Option<f64>,
    ema_20: Option<f64>,
    rsi_14: Option<f64>,
    macd: Option<f64>,
    macd_signal: Option<f64>,
    macd_hist: Option<f64>,
    bb_mid: Option<f64>,
    bb_upper: Option<f64>,
    bb_lower: Option<f64>,
    atr_14: Option<f64>,
}

fn reference_rows() -> Vec<Row> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/indicators-reference.csv");
    let mut reader =
        csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    reader
        .deserialize()
        .enumerate()
        .map(|(i, row)| row.unwrap_or_else(|e| panic!("bad reference row {}: {e}", i + 1)))
        .collect()
}

#[derive(Default)]
struct Comparison {
    /// Per column: (values compared, warm-up rows checked).
    counts: BTreeMap<&'static str, (usize, usize)>,
    failures: Vec<String>,
}

impl Comparison {
    fn check(&mut self, column: &'static str, row: &Row, actual: Option<f64>, expected: Option<f64>) {
        let counts = self.counts.entry(column).or_default();
        match (actual, expected) {
            (Some(actual), Some(expected)) => {
                counts.0 += 1;
                let tolerance = (RELATIVE_TOLERANCE * expected.abs()).max(ABSOLUTE_TOLERANCE);
                if (actual - expected).abs() > tolerance {
                    self.failures.push(format!(
                        "{column} on {}: expected {expected}, got {actual} (relative error {:e})",
                        row.date,
                        ((actual - expected) / expected).abs()
                    ));
                }
            }
            (None, None) => counts.1 += 1,
            (actual, expected) => self.failures.push(format!(
                "{column} on {}: warm-up mismatch, expected {expected:?}, got {actual:?}",
                row.date
            )),
        }
    }

    fn finish(self, expected_columns: &[&str]) {
        assert!(
            self.failures.is_empty(),
            "{} mismatches against the reference, first ones:\n{}",
            self.failures.len(),
            self.failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        );
        for column in expected_columns {
            let (compared, warm_up) = self.counts.get(column).copied().unwrap_or_default();
            assert!(
                compared > MIN_COMPARED,
                "{column}: only {compared} values compared (and {warm_up} warm-up rows)"
            );
        }
    }
}

#[test]
fn indicators_match_ta_reference() {
    let rows = reference_rows();
    assert_eq!(rows.len(), 2148, "unexpected reference row count");

    let mut sma20 = Sma::new(20);
    let mut ema20 = Ema::new(20);
    let mut rsi14 = Rsi::new(14);
    let mut macd = Macd::new(12, 26, 9);
    let mut bollinger = Bollinger::new(20, 2.0);
    let mut atr14 = Atr::new(ATR_PERIOD);

    let mut comparison = Comparison::default();
    for (i, row) in rows.iter().enumerate() {
        let close = row.close;
        comparison.check("sma_20", row, sma20.next(close), row.sma_20);
        comparison.check("ema_20", row, ema20.next(close), row.ema_20);
        comparison.check("rsi_14", row, rsi14.next(close), row.rsi_14);

        let macd_output = macd.next(close);
        comparison.check("macd", row, macd_output.map(|m| m.macd), row.macd);
        comparison.check("macd_signal", row, macd_output.and_then(|m| m.signal), row.macd_signal);
        comparison.check("macd_hist", row, macd_output.and_then(|m| m.histogram), row.macd_hist);

        let bands = bollinger.next(close);
        comparison.check("bb_mid", row, bands.map(|b| b.middle), row.bb_mid);
        comparison.check("bb_upper", row, bands.map(|b| b.upper), row.bb_upper);
        comparison.check("bb_lower", row, bands.map(|b| b.lower), row.bb_lower);

        let expected_atr = if i + 1 < ATR_PERIOD {
            assert_eq!(row.atr_14, Some(0.0), "ATR warm-up on {} should be ta's 0.0", row.date);
            None
        } else {
            row.atr_14
        };
        comparison.check("atr_14", row, atr14.next(row.high, row.low, close), expected_atr);
    }

    comparison.finish(&[
        "sma_20",
        "ema_20",
        "rsi_14",
        "macd",
        "macd_signal",
        "macd_hist",
        "bb_mid",
        "bb_upper",
        "bb_lower",
        "atr_14",
    ]);
}

/// The one-pass snapshot must agree with the individual indicators on the reference's last row.
#[test]
fn latest_matches_the_last_reference_row() {
    let rows = reference_rows();
    let bars: Vec<Bar> = rows
        .iter()
        .map(|row| Bar {
            ts: Utc.from_utc_datetime(&row.date.and_hms_opt(0, 0, 0).unwrap()),
            open: Some(row.open),
            high: Some(row.high),
            low: Some(row.low),
            close: Some(row.close),
            adj_close: None,
            volume: None,
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        })
        .collect();
    let snapshot = latest(&bars);
    let last = rows.last().unwrap();

    assert_eq!(snapshot.bars_used, rows.len());
    assert_eq!(snapshot.last_close, Some(last.close));
    let mut comparison = Comparison::default();
    comparison.check("sma_20", last, snapshot.sma20, last.sma_20);
    comparison.check("ema_20", last, snapshot.ema20, last.ema_20);
    comparison.check("rsi_14", last, snapshot.rsi14, last.rsi_14);
    comparison.check("macd", last, snapshot.macd, last.macd);
    comparison.check("macd_signal", last, snapshot.macd_signal, last.macd_signal);
    comparison.check("macd_hist", last, snapshot.macd_hist, last.macd_hist);
    comparison.check("bb_mid", last, snapshot.bb_mid, last.bb_mid);
    comparison.check("bb_upper", last, snapshot.bb_upper, last.bb_upper);
    comparison.check("bb_lower", last, snapshot.bb_lower, last.bb_lower);
    comparison.check("atr_14", last, snapshot.atr14, last.atr_14);
    comparison.finish(&[]);

    let previous = rows[rows.len() - 2].close;
    let expected_return = last.close / previous - 1.0;
    assert!((snapshot.daily_return.unwrap() - expected_return).abs() < 1e-12);
    assert!(snapshot.sma50.is_some() && snapshot.volatility20.is_some());
}

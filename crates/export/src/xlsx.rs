//! The xlsx writer: one sheet per symbol with typed cells, and a `Summary` sheet in front.
//!
//! Memory: bar sheets use `rust_xlsxwriter`'s constant-memory mode, which streams each finished
//! row to an unnamed temporary file (created in the destination's directory, so a small tmpfs
//! `/tmp` is not filled and nothing is left behind even on a crash) and keeps only the current
//! row in RAM. The price is one open temporary file (and an 8 KiB buffer) per sheet until the
//! workbook is saved, since the zip is assembled at the end; the zip itself is streamed to the
//! destination file without buffering it.
//!
//! The `Summary` sheet needs every symbol's summary, known only after its rows have streamed
//! past, yet should come first. It is therefore created first as an ordinary (in-memory) sheet,
//! which may be written in any order, and filled in at the end: one row per symbol, small.

use std::collections::HashSet;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use domain::{Bar, Interval, Symbol};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::neutralise_formula;
use crate::report::ExportError;
use crate::sink::{BarSink, FileOut, WRITE_BUFFER, bar_columns, prices};
use crate::summary::{SUMMARY_COLUMNS, SymbolSummary};
use crate::text::excel_serial;

/// Rows in an Excel sheet; a symbol with more bars continues on a further sheet.
const MAX_SHEET_ROWS: u32 = 1_048_576;
/// Excel's limit on sheet names, in characters.
const MAX_SHEET_NAME: usize = 31;
const SUMMARY_SHEET: &str = "Summary";
/// Deflate level of the zip container. Compression dominates the cost of a large workbook:
/// measured on 1M bars, level 1 writes ~2x faster than the default 6 (above 300k rows/s) for a
/// file ~1.5x larger (113 MB instead of 74 MB); levels 2-3 sit in between (83 MB, ~250k rows/s).
const ZIP_LEVEL: u8 = 1;

pub(crate) struct XlsxSink {
    workbook: Workbook,
    out: FileOut,
    path: PathBuf,
    interval: Interval,
    header: Format,
    date: Format,
    /// Lower-cased names in use (Excel compares sheet names case-insensitively).
    used_names: HashSet<String>,
    /// The current symbol (neutralised) and the base of its sheet names.
    symbol: String,
    sheet_base: String,
    /// Index of the current bar sheet, its part number and next free row.
    sheet: Option<usize>,
    part: u32,
    row: u32,
    /// Rows per sheet, header included ([`MAX_SHEET_ROWS`]; smaller in tests).
    max_rows: u32,
}

fn xlsx_error(path: &Path, error: XlsxError) -> ExportError {
    match error {
        XlsxError::IoError(source) | XlsxError::TempFileError(_, source) => ExportError::io(path, source),
        other => ExportError::Format(format!("xlsx: {other}")),
    }
}

/// A valid, not necessarily unique, sheet name for `text`: Excel's forbidden characters
/// `[]:*?/\` replaced by `_`, no leading or trailing apostrophe, at most 31 characters, not
/// blank and not Excel's reserved `History`.
pub(crate) fn sanitize_sheet_name(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| if matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\') { '_' } else { c })
        .collect();
    let mut name: String = replaced.trim_matches('\'').chars().take(MAX_SHEET_NAME).collect();
    while name.ends_with('\'') {
        name.pop();
    }
    if name.trim().is_empty() {
        name = "Sheet".to_owned();
    }
    if name.eq_ignore_ascii_case("history") {
        name.push('_');
    }
    name
}

impl XlsxSink {
    /// # Errors
    /// If the temporary directory for constant-memory sheets (the destination's) is not usable.
    pub(crate) fn new(
        out: FileOut,
        path: PathBuf,
        dir: &Path,
        interval: Interval,
    ) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        workbook.set_tempdir(dir).map_err(|e| xlsx_error(&path, e))?;
        workbook.set_zip_compression_level(ZIP_LEVEL);
        workbook.add_worksheet().set_name(SUMMARY_SHEET).map_err(|e| xlsx_error(&path, e))?;
        let date = Format::new().set_num_format(if interval.is_intraday() {
            "yyyy-mm-dd hh:mm"
        } else {
            "yyyy-mm-dd"
        });
        Ok(Self {
            workbook,
            out,
            path,
            interval,
            header: Format::new().set_bold(),
            date,
            used_names: HashSet::from([SUMMARY_SHEET.to_lowercase()]),
            symbol: String::new(),
            sheet_base: String::new(),
            sheet: None,
            part: 0,
            row: 0,
            max_rows: MAX_SHEET_ROWS,
        })
    }

    /// `base`, or `base (2)`, `base (3)`, … shortened to fit, whichever is free.
    fn unique_name(&mut self, base: &str) -> String {
        let mut n = 1_u32;
        loop {
            let name = if n == 1 {
                base.to_owned()
            } else {
                let suffix = format!(" ({n})");
                let keep = MAX_SHEET_NAME - suffix.len();
                let stem: String = base.chars().take(keep).collect();
                format!("{}{suffix}", stem.trim_end_matches('\''))
            };
            if self.used_names.insert(name.to_lowercase()) {
                return name;
            }
            n += 1;
        }
    }

    /// Starts a new constant-memory sheet for the current symbol, with a bold, frozen header.
    fn start_sheet(&mut self) -> Result<(), ExportError> {
        self.part += 1;
        let base = if self.part == 1 {
            self.sheet_base.clone()
        } else {
            // A continuation sheet: the same name with a part number.
            let suffix = format!(" ({})", self.part);
            let stem: String = self.sheet_base.chars().take(MAX_SHEET_NAME - suffix.len()).collect();
            format!("{stem}{suffix}")
        };
        let name = self.unique_name(&base);
        let path = &self.path;
        let sheet = self.workbook.add_worksheet_with_constant_memory().map_err(|e| xlsx_error(path, e))?;
        sheet.set_name(name).map_err(|e| xlsx_error(path, e))?;
        write_header(sheet, &bar_columns(self.interval), &self.header).map_err(|e| xlsx_error(path, e))?;
        // The date format is the column's, not each cell's: a cell format costs a hash of the
        // whole `Format` per cell, a column format a lookup by column number.
        sheet.set_column_format(2, &self.date).map_err(|e| xlsx_error(path, e))?;
        sheet
            .set_column_width(2, if self.interval.is_intraday() { 17 } else { 11 })
            .map_err(|e| xlsx_error(path, e))?;
        self.sheet = Some(self.workbook.worksheets_mut().len() - 1);
        self.row = 1;
        Ok(())
    }

    fn write_bar(
        sheet: &mut Worksheet,
        row: u32,
        bar: &Bar,
        symbol: &str,
        interval: &str,
    ) -> Result<(), XlsxError> {
        sheet.write_string(row, 0, symbol)?;
        sheet.write_string(row, 1, interval)?;
        sheet.write_number(row, 2, excel_serial(bar.ts))?;
        for (col, value) in (3_u16..).zip(prices(bar)) {
            if let Some(v) = value {
                sheet.write_number(row, col, v)?;
            }
        }
        if let Some(volume) = bar.volume {
            // Exact below 2^53, far above any day's volume.
            sheet.write_number(row, 8, volume as f64)?;
        }
        sheet.write_string(row, 9, neutralise_formula(bar.provider.as_str()))?;
        sheet.write_boolean(row, 10, bar.partial)?;
        if let Some(flag) = &bar.flag {
            sheet.write_string(row, 11, neutralise_formula(flag))?;
        }
        Ok(())
    }

    fn write_summary(&mut self, summaries: &[SymbolSummary]) -> Result<(), XlsxError> {
        let header = self.header.clone();
        let date = self.date.clone();
        let sheet = self.workbook.worksheet_from_index(0)?;
        write_header(sheet, &SUMMARY_COLUMNS, &header)?;
        sheet.set_column_width(0, 12)?;
        sheet.set_column_range_width(2, 3, 11)?;
        sheet.set_column_width(6, 11)?;
        for (row, summary) in (1_u32..).zip(summaries) {
            sheet.write_string(row, 0, neutralise_formula(summary.symbol.as_str()))?;
            sheet.write_number(row, 1, summary.n_bars as f64)?;
            for (col, time) in [(2, summary.first), (3, summary.last), (6, summary.indicators.as_of)] {
                if let Some(time) = time {
                    sheet.write_number_with_format(row, col, excel_serial(time), &date)?;
                }
            }
            sheet.write_string(row, 4, summary.providers_text())?;
            sheet.write_number(row, 5, summary.disagreements as f64)?;
            if let Some(close) = summary.indicators.last_close {
                sheet.write_number(row, 7, close)?;
            }
            sheet.write_number(row, 8, summary.indicators.bars_used as f64)?;
            for (col, value) in (9_u16..).zip(summary.indicator_values()) {
                if let Some(v) = value {
                    sheet.write_number(row, col, v)?;
                }
            }
        }
        Ok(())
    }
}

fn write_header(sheet: &mut Worksheet, columns: &[&str], bold: &Format) -> Result<(), XlsxError> {
    for (col, name) in (0_u16..).zip(columns) {
        sheet.write_string_with_format(0, col, *name, bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    Ok(())
}

impl BarSink for XlsxSink {
    fn begin_symbol(&mut self, symbol: &Symbol) -> Result<(), ExportError> {
        self.symbol = neutralise_formula(symbol.as_str()).into_owned();
        self.sheet_base = sanitize_sheet_name(symbol.as_str());
        self.part = 0;
        self.start_sheet()
    }

    fn write_bars(&mut self, mut bars: &[Bar]) -> Result<(), ExportError> {
        while !bars.is_empty() {
            if self.row >= self.max_rows {
                self.start_sheet()?;
            }
            let room = (self.max_rows - self.row) as usize;
            let (now, later) = bars.split_at(room.min(bars.len()));
            bars = later;
            let index =
                self.sheet.ok_or_else(|| ExportError::Format("xlsx: bars before their symbol".to_owned()))?;
            let path = &self.path;
            let sheet = self.workbook.worksheet_from_index(index).map_err(|e| xlsx_error(path, e))?;
            for bar in now {
                Self::write_bar(sheet, self.row, bar, &self.symbol, self.interval.as_str())
                    .map_err(|e| xlsx_error(path, e))?;
                self.row += 1;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, summaries: &[SymbolSummary]) -> Result<FileOut, ExportError> {
        self.write_summary(summaries).map_err(|e| xlsx_error(&self.path, e))?;
        let Self { mut workbook, out, path, .. } = *self;
        let mut buffered = BufWriter::with_capacity(WRITE_BUFFER, out);
        workbook.save_to_writer(&mut buffered).map_err(|e| xlsx_error(&path, e))?;
        // Closes the constant-memory sheets' temporary files before the export is committed.
        drop(workbook);
        buffered.into_inner().map_err(|e| ExportError::io(&path, e.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    use chrono::{TimeZone, Utc};
    use domain::ProviderId;

    use super::*;
    use crate::atomic::HashingWriter;

    #[test]
    fn long_series_continue_on_further_sheets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.xlsx");
        let file = crate::stream::Out::File(std::fs::File::create(&path).unwrap());
        let out = HashingWriter::new(file, Arc::new(AtomicBool::new(false)));
        let mut sink = XlsxSink::new(out, path.clone(), dir.path(), Interval::Day1).unwrap();
        sink.max_rows = 4; // header + 3 bars per sheet
        let bars: Vec<Bar> = (0..7)
            .map(|i| Bar {
                ts: Utc.timestamp_opt(i * 86_400, 0).unwrap(),
                open: None,
                high: None,
                low: None,
                close: Some(1.0),
                adj_close: None,
                volume: None,
                provider: ProviderId::Sample,
                partial: false,
                flag: None,
            })
            .collect();
        sink.begin_symbol(&Symbol::parse("AAPL").unwrap()).unwrap();
        sink.write_bars(&bars[..2]).unwrap();
        sink.write_bars(&bars[2..]).unwrap();
        Box::new(sink).finish(&[]).unwrap();

        let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        let mut workbook = String::new();
        archive.by_name("xl/workbook.xml").unwrap().read_to_string(&mut workbook).unwrap();
        for name in ["Summary", "AAPL", "AAPL (2)", "AAPL (3)"] {
            assert!(workbook.contains(&format!("<sheet name=\"{name}\"")), "{name} in {workbook}");
        }
        let mut last = String::new();
        archive.by_name("xl/worksheets/sheet4.xml").unwrap().read_to_string(&mut last).unwrap();
        assert_eq!(last.matches("<row ").count(), 2, "header + the 7th bar");
    }

    #[test]
    fn sheet_names_are_valid() {
        assert_eq!(sanitize_sheet_name("AAPL"), "AAPL");
        assert_eq!(sanitize_sheet_name("a[b]:c*d?e/f\\g"), "a_b__c_d_e_f_g");
        assert_eq!(sanitize_sheet_name("'quoted'"), "quoted");
        assert_eq!(sanitize_sheet_name("''"), "Sheet");
        assert_eq!(sanitize_sheet_name("HISTORY"), "HISTORY_");
        assert_eq!(sanitize_sheet_name(&"X".repeat(40)).chars().count(), 31);
    }
}

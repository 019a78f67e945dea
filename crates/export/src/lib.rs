//! Exports of stored market data: `csv`, `ndjson`, `xlsx`, `parquet` and a self-contained `html`
//! report with inline SVG charts.
//!
//! Design decisions, and why:
//! - **Streaming.** Bars flow from `storage::Storage::stream_bars` in chunks through a bounded
//!   channel to a writer on a blocking thread, so memory does not grow with the export's size
//!   (the HTML report is the exception by nature: it holds one symbol's bars at a time to draw it).
//! - **Atomic and durable.** A file is written under a temporary name in the destination
//!   directory, fsynced, then renamed; a reader never sees a partial file under the final name,
//!   and stray temporary files of a killed export are removed by the next export into the same
//!   directory ([`clean_stray_temp_files`]). A writer holds an advisory lock on its temporary
//!   file, and only unlocked ones are removed, so two processes can export into one directory.
//! - **Memory per format** (measured on 1M bars, 500 symbols: peak RSS of the whole process
//!   20–45 MB): csv and ndjson hold a few chunks of bars and a 256 KiB buffer; parquet adds one
//!   encoded row group of 65 536 rows; xlsx keeps bar sheets on disk (constant-memory mode) but
//!   one open temporary file per sheet until the end; html holds one symbol's bars.
//! - **Files or streams.** The same writers fill a file ([`export_to_file`]) or a bounded channel
//!   of byte chunks ([`export_to`] with [`Destination::Stream`]) that a caller uploads, e.g. to
//!   object storage; see the `stream` module for why a channel bridges the synchronous encoders.
//! - **Safe for spreadsheets.** Text cells beginning with `=`, `+`, `-`, `@`, tab or CR are
//!   neutralised in csv and xlsx ([`neutralise_formula`]), so a hostile symbol name or news
//!   headline cannot run as a formula in Excel.

mod atomic;
mod format;
mod html;
mod pipeline;
mod report;
mod sink;
mod stream;
mod summary;
mod text;
mod xlsx;

pub use atomic::clean_stray_temp_files;
pub use format::{ExportFormat, ParseExportFormatError};
pub use pipeline::{
    Destination, export_to, export_to_file, write_mentions_csv, write_mentions_csv_to, write_notes_csv,
    write_notes_csv_to, write_summary_csv, write_summary_csv_to,
};
pub use report::{
    CompanySummary, ExportError, ExportOutput, ExportProgress, ExportRequest, NoteSummary, REPORT_HEADLINES,
};
pub use sink::{BarTableWriter, TextTable};
pub use stream::StreamTarget;
pub use summary::SymbolSummary;

use std::borrow::Cow;

/// Prefix of temporary files. One named `{TEMP_PREFIX}….tmp` that nobody holds a lock on is
/// debris of a killed export (see [`clean_stray_temp_files`]).
pub const TEMP_PREFIX: &str = ".tw-export-";
/// Suffix of temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Makes a text cell inert in spreadsheets by prefixing a single quote when it starts with a
/// formula trigger (`=`, `+`, `-`, `@`, tab, CR), per OWASP's CSV-injection guidance.
pub fn neutralise_formula(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neutralises_formula_triggers_only() {
        for evil in ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"] {
            assert!(neutralise_formula(evil).starts_with('\''), "{evil:?}");
        }
        assert_eq!(neutralise_formula("AAPL"), "AAPL");
        assert_eq!(neutralise_formula(""), "");
    }
}

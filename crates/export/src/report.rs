//! The vocabulary of an export: what to export ([`ExportRequest`]), what came out
//! ([`ExportOutput`]), how far it got ([`ExportProgress`]) and what went wrong ([`ExportError`]).
//!
//! Kept apart from the pipeline so the HTML renderer (and the HTTP layer) can name these types
//! without depending on how bytes are produced.

use std::io;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use domain::{Bar, Interval, Rating, ResearchNote, Symbol};
use storage::{StorageError, Stored};

use crate::{ExportFormat, SymbolSummary};

/// What to export: the bars of `symbols` at `interval`, optionally limited to the trading days
/// `from..=to` (in each symbol's exchange calendar), in `format`. Storage holds one bar per
/// trading day (each says its provider).
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    pub symbols: Vec<Symbol>,
    pub interval: Interval,
    /// First trading day, inclusive; `None` means from the first stored bar.
    pub from: Option<NaiveDate>,
    /// Last trading day, inclusive; `None` means up to the last stored bar.
    pub to: Option<NaiveDate>,
    pub format: ExportFormat,
    /// Research notes for the `html` report's "Research notes" section, meant as the latest note
    /// per symbol: shown in the order of `symbols`, at most one per symbol (the first here that
    /// names it); notes of other symbols are left out. Other formats ignore them (a table of
    /// notes is [`write_notes_csv`](crate::write_notes_csv)'s job). Usually empty.
    pub notes: Vec<NoteSummary>,
}

/// What the HTML report shows of a research note: the export's own view of
/// [`ResearchNote`], without the long markdown, the sources or the key figures.
/// Every text in it is model-written and treated as untrusted (escaped when rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct NoteSummary {
    pub symbol: Symbol,
    pub rating: Rating,
    /// In `0..=1`; anything else (not finite, out of range) is shown as missing.
    pub confidence: f64,
    pub horizon: String,
    pub thesis: String,
    pub risks: Vec<String>,
    pub model: String,
    pub crew: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Stored<ResearchNote>> for NoteSummary {
    fn from(note: &Stored<ResearchNote>) -> Self {
        Self {
            symbol: note.symbol.clone(),
            rating: note.rating,
            confidence: note.confidence,
            horizon: note.horizon.clone(),
            thesis: note.thesis.clone(),
            risks: note.risks.clone(),
            model: note.model.clone(),
            crew: note.crew.clone(),
            created_at: note.created_at,
        }
    }
}

/// What the HTML report shows of a symbol's company: a few facts of its stored profile and its
/// latest stored headlines. Read from storage by the pipeline for `html` exports only. Every text
/// in it comes from a vendor (or the bundled sample) and is treated as untrusted: escaped when
/// rendered, and a URL becomes a link only when it is `http` or `https`.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanySummary {
    pub symbol: Symbol,
    pub name: Option<String>,
    pub sector: Option<String>,
    pub industry: Option<String>,
    pub market_cap: Option<f64>,
    /// Where the profile came from (`None` when only news is stored).
    pub provider: Option<domain::ProviderId>,
    /// Newest first, at most [`REPORT_HEADLINES`].
    pub headlines: Vec<domain::NewsItem>,
}

/// Headlines the report shows per symbol.
pub const REPORT_HEADLINES: u64 = 5;

/// A finished export: the file now under its final name, and what is in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOutput {
    /// The destination the file was renamed to.
    pub path: PathBuf,
    /// Data rows written (bars, or summary lines for [`write_summary_csv`](crate::write_summary_csv)),
    /// not counting header rows.
    pub rows: u64,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// Lower-case hex SHA-256 of the file's bytes, computed while writing.
    pub sha256: String,
    /// One per requested symbol, in request order (also for symbols without bars).
    pub summaries: Vec<SymbolSummary>,
}

/// Reported while an export runs: after each chunk handed to the writer and after each symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    /// Index into [`ExportRequest::symbols`] of the symbol being read.
    pub symbol_idx: usize,
    pub n_symbols: usize,
    /// Rows the writer has encoded so far, over all symbols.
    pub rows_written: u64,
}

/// One symbol's section of the HTML report: its summary and all its exported bars (the report
/// draws charts, so it needs a symbol's series at once; only one symbol is held at a time).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SymbolReport {
    pub summary: SymbolSummary,
    pub bars: Vec<Bar>,
}

/// Everything that can make an export fail. Whatever the variant, the destination is untouched
/// and the temporary file has been removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading or writing a file failed (disk full, I/O error, …).
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A file cannot be created in the destination's directory: it does not exist, is not a
    /// directory, or is not writable.
    #[error("cannot write an export into {}: {source}", dir.display())]
    DestinationNotWritable {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The destination path cannot name a file (it is an existing directory, or has no file
    /// name, like `/` or `..`).
    #[error("export destination {} is not a file path", path.display())]
    InvalidDestination { path: PathBuf },

    /// Reading the bars failed.
    #[error("reading bars for the export failed: {0}")]
    Storage(#[from] StorageError),

    /// An encoder (csv, JSON, Parquet, xlsx, HTML) refused the data.
    #[error("encoding the export failed: {0}")]
    Format(String),

    /// The export was abandoned before all rows were written (the caller dropped it).
    #[error("the export was cancelled before it completed")]
    Cancelled,

    /// The writer thread panicked (a bug, or a library that panics on an I/O error).
    #[error("the export writer failed unexpectedly: {0}")]
    WriterPanicked(String),
}

impl ExportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }
}

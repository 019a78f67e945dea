//! The row writers of the table formats (csv, ndjson, parquet), driven chunk by chunk on the
//! export's blocking thread. xlsx lives in [`crate::xlsx`] because of its size.
//!
//! Every writer reuses its buffers (a fixed timestamp buffer, a float formatter, the csv
//! writer's record buffer, Arrow builders) so the per-row cost is formatting, not allocation.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use arrow_array::builder::{
    ArrayBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use domain::{Bar, Interval, Symbol};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use serde::Serialize;

use crate::atomic::HashingWriter;
use crate::neutralise_formula;
use crate::report::ExportError;
use crate::stream::Out;
use crate::summary::{SUMMARY_COLUMNS, SymbolSummary};
use crate::text::{FloatText, TsText};

/// The file (or stream) behind every writer: bytes are hashed and counted on their way in.
pub(crate) type FileOut = HashingWriter<Out>;

/// Buffer between the encoders and the file: large writes, few syscalls.
pub(crate) const WRITE_BUFFER: usize = 256 * 1024;

/// Column names of a bar table, in every format. Daily and longer bars are trading days and
/// carry their session `date` (in the exchange's calendar); intraday bars carry `ts`, their UTC
/// start. Both are in the same (third) column.
pub(crate) fn bar_columns(interval: Interval) -> [&'static str; 12] {
    let time = if interval.is_intraday() { "ts" } else { "date" };
    [
        "symbol",
        "interval",
        time,
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
        "provider",
        "partial",
        "flag",
    ]
}

/// Number of bar columns.
pub(crate) const N_BAR_COLUMNS: usize = 12;

/// Rows per Arrow `RecordBatch` handed to the Parquet writer.
const PARQUET_BATCH_ROWS: usize = 16_384;
/// Rows per Parquet row group: the writer buffers one encoded row group (a few MB) in memory.
const PARQUET_ROW_GROUP_ROWS: usize = 65_536;

/// A writer of one table format.
pub(crate) trait BarSink {
    /// The following bars belong to `symbol`.
    ///
    /// # Errors
    /// If the encoder or the file fails.
    fn begin_symbol(&mut self, symbol: &Symbol) -> Result<(), ExportError>;

    /// Writes a chunk of the current symbol's bars, in time order.
    ///
    /// # Errors
    /// If the encoder or the file fails.
    fn write_bars(&mut self, bars: &[Bar]) -> Result<(), ExportError>;

    /// Writes any trailer (and, for xlsx, the summary sheet), flushes, and hands back the file.
    ///
    /// # Errors
    /// If the encoder or the file fails.
    fn finish(self: Box<Self>, summaries: &[SymbolSummary]) -> Result<FileOut, ExportError>;
}

/// The price fields of a bar, in [`bar_columns`] order (volume, an integer, follows them).
pub(crate) fn prices(bar: &Bar) -> [Option<f64>; 5] {
    [bar.open, bar.high, bar.low, bar.close, bar.adj_close]
}

/// The text of a bar's time column: `2024-05-03` for a trading day, `2024-05-03T13:30:00Z` for
/// an intraday bar.
fn time_text<'a>(ts: &'a mut TsText, bar: &Bar, intraday: bool) -> &'a str {
    let text = ts.format(bar.ts);
    if intraday { text } else { text.get(..10).unwrap_or(text) }
}

fn csv_error(path: &std::path::Path, error: csv::Error) -> ExportError {
    if error.is_io_error()
        && let csv::ErrorKind::Io(source) = error.into_kind()
    {
        return ExportError::io(path, source);
    }
    ExportError::Format("csv: the writer refused a record".to_owned())
}

fn json_error(path: &std::path::Path, error: serde_json::Error) -> ExportError {
    if error.is_io() {
        ExportError::io(path, io::Error::from(error))
    } else {
        ExportError::Format(format!("ndjson: {error}"))
    }
}

// ---------------------------------------------------------------------------------------------
// csv
// ---------------------------------------------------------------------------------------------

/// RFC 4180 csv with a header row; text cells neutralised against formula injection. Writes to
/// an export file, or to any writer (the CLI's `bars --format csv`).
pub(crate) struct CsvSink<W: Write = FileOut> {
    writer: csv::Writer<W>,
    path: PathBuf,
    interval: &'static str,
    intraday: bool,
    symbol: String,
    ts: TsText,
    number: FloatText,
    integer: itoa::Buffer,
}

impl<W: Write> CsvSink<W> {
    pub(crate) fn new(out: W, path: PathBuf, interval: Interval) -> Result<Self, ExportError> {
        let mut writer = csv::WriterBuilder::new().buffer_capacity(WRITE_BUFFER).from_writer(out);
        writer.write_record(bar_columns(interval)).map_err(|e| csv_error(&path, e))?;
        Ok(Self {
            writer,
            path,
            interval: interval.as_str(),
            intraday: interval.is_intraday(),
            symbol: String::new(),
            ts: TsText::default(),
            number: FloatText::default(),
            integer: itoa::Buffer::new(),
        })
    }

    fn write_bar(&mut self, bar: &Bar) -> csv::Result<()> {
        let w = &mut self.writer;
        w.write_field(&self.symbol)?;
        w.write_field(self.interval)?;
        w.write_field(time_text(&mut self.ts, bar, self.intraday))?;
        for value in prices(bar) {
            match value {
                Some(v) => w.write_field(self.number.format(v))?,
                None => w.write_field(b"")?,
            }
        }
        match bar.volume {
            Some(v) => w.write_field(self.integer.format(v))?,
            None => w.write_field(b"")?,
        }
        w.write_field(neutralise_formula(bar.provider.as_str()).as_bytes())?;
        w.write_field(if bar.partial { "true" } else { "false" })?;
        w.write_field(bar.flag.as_deref().map(neutralise_formula).unwrap_or_default().as_bytes())?;
        w.write_record(None::<&[u8]>)
    }
}

impl<W: Write> TextSink<W> for CsvSink<W> {
    fn begin(&mut self, symbol: &Symbol) {
        self.symbol = neutralise_formula(symbol.as_str()).into_owned();
    }

    fn write(&mut self, bars: &[Bar]) -> Result<(), ExportError> {
        for bar in bars {
            self.write_bar(bar).map_err(|e| csv_error(&self.path, e))?;
        }
        Ok(())
    }

    fn into_inner(self) -> Result<W, ExportError> {
        let path = self.path;
        self.writer.into_inner().map_err(|e| ExportError::io(path, e.into_error()))
    }
}

/// The text tables (csv, ndjson) as writers to any `W`: an export file or the CLI's stdout.
pub(crate) trait TextSink<W: Write> {
    fn begin(&mut self, symbol: &Symbol);
    fn write(&mut self, bars: &[Bar]) -> Result<(), ExportError>;
    fn into_inner(self) -> Result<W, ExportError>;
}

impl<T: TextSink<FileOut>> BarSink for T {
    fn begin_symbol(&mut self, symbol: &Symbol) -> Result<(), ExportError> {
        self.begin(symbol);
        Ok(())
    }

    fn write_bars(&mut self, bars: &[Bar]) -> Result<(), ExportError> {
        self.write(bars)
    }

    fn finish(self: Box<Self>, _summaries: &[SymbolSummary]) -> Result<FileOut, ExportError> {
        (*self).into_inner()
    }
}

// ---------------------------------------------------------------------------------------------
// ndjson
// ---------------------------------------------------------------------------------------------

/// One bar as a JSON object; missing values are `null`. Trading days have `date`, intraday bars
/// `ts` (see [`bar_columns`]).
#[derive(Serialize)]
struct JsonBar<'a> {
    symbol: &'a str,
    interval: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<&'a str>,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
    adj_close: Option<f64>,
    volume: Option<i64>,
    provider: &'a str,
    partial: bool,
    flag: Option<&'a str>,
}

/// Newline-delimited JSON, one bar per line, or (for the CLI) one JSON array of the same
/// objects. Text is not neutralised: JSON is not opened by spreadsheets, and consumers want the
/// values as stored.
pub(crate) struct NdjsonSink<W: Write = FileOut> {
    writer: BufWriter<W>,
    path: PathBuf,
    interval: &'static str,
    intraday: bool,
    symbol: String,
    ts: TsText,
    /// Write `[`, `,` between objects and `]` instead of newlines only.
    array: bool,
    n_written: u64,
}

impl<W: Write> NdjsonSink<W> {
    pub(crate) fn new(out: W, path: PathBuf, interval: Interval) -> Self {
        Self {
            writer: BufWriter::with_capacity(WRITE_BUFFER, out),
            path,
            interval: interval.as_str(),
            intraday: interval.is_intraday(),
            symbol: String::new(),
            ts: TsText::default(),
            array: false,
            n_written: 0,
        }
    }

    /// The same objects as one JSON array, one per line.
    pub(crate) fn array(out: W, path: PathBuf, interval: Interval) -> Self {
        Self { array: true, ..Self::new(out, path, interval) }
    }
}

impl<W: Write> TextSink<W> for NdjsonSink<W> {
    fn begin(&mut self, symbol: &Symbol) {
        symbol.as_str().clone_into(&mut self.symbol);
    }

    fn into_inner(mut self) -> Result<W, ExportError> {
        if self.array {
            let close: &[u8] = if self.n_written == 0 { b"[]\n" } else { b"\n]\n" };
            self.writer.write_all(close).map_err(|e| ExportError::io(&self.path, e))?;
        }
        let path = self.path;
        self.writer.into_inner().map_err(|e| ExportError::io(path, e.into_error()))
    }

    fn write(&mut self, bars: &[Bar]) -> Result<(), ExportError> {
        for bar in bars {
            let time = time_text(&mut self.ts, bar, self.intraday);
            let (date, ts) = if self.intraday { (None, Some(time)) } else { (Some(time), None) };
            let row = JsonBar {
                symbol: &self.symbol,
                interval: self.interval,
                date,
                ts,
                open: bar.open,
                high: bar.high,
                low: bar.low,
                close: bar.close,
                adj_close: bar.adj_close,
                volume: bar.volume,
                provider: bar.provider.as_str(),
                partial: bar.partial,
                flag: bar.flag.as_deref(),
            };
            if self.array {
                let separator: &[u8] = if self.n_written == 0 { b"[\n  " } else { b",\n  " };
                self.writer.write_all(separator).map_err(|e| ExportError::io(&self.path, e))?;
            }
            serde_json::to_writer(&mut self.writer, &row).map_err(|e| json_error(&self.path, e))?;
            if !self.array {
                self.writer.write_all(b"\n").map_err(|e| ExportError::io(&self.path, e))?;
            }
            self.n_written += 1;
        }
        Ok(())
    }
}

/// The text formats of a bar table that can be written to any writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextTable {
    /// csv with a header, spreadsheet-safe (as in csv exports).
    Csv,
    /// One JSON object per line (as in ndjson exports).
    Ndjson,
    /// One JSON array of the same objects.
    JsonArray,
}

/// Writes bars as a csv or JSON table to any writer, with exactly the columns and text of the
/// exports (`date` or `ts`, integer `volume`, `partial`, `flag`; csv cells neutralised): the
/// CLI's `bars --format csv|json` is an export to stdout, not a second serializer.
pub struct BarTableWriter<W: Write> {
    inner: TableInner<W>,
}

enum TableInner<W: Write> {
    Csv(Box<CsvSink<W>>),
    Json(NdjsonSink<W>),
}

impl<W: Write> BarTableWriter<W> {
    /// A writer of `interval` bars in `format` to `out` (the csv header is written at once).
    ///
    /// # Errors
    /// If writing the header fails.
    pub fn new(format: TextTable, interval: Interval, out: W) -> Result<Self, ExportError> {
        let path = PathBuf::from("<output>");
        let inner = match format {
            TextTable::Csv => TableInner::Csv(Box::new(CsvSink::new(out, path, interval)?)),
            TextTable::Ndjson => TableInner::Json(NdjsonSink::new(out, path, interval)),
            TextTable::JsonArray => TableInner::Json(NdjsonSink::array(out, path, interval)),
        };
        Ok(Self { inner })
    }

    /// Writes `bars` (of `symbol`, in time order).
    ///
    /// # Errors
    /// If the writer fails.
    pub fn write(&mut self, symbol: &Symbol, bars: &[Bar]) -> Result<(), ExportError> {
        match &mut self.inner {
            TableInner::Csv(sink) => {
                sink.begin(symbol);
                sink.write(bars)
            }
            TableInner::Json(sink) => {
                sink.begin(symbol);
                sink.write(bars)
            }
        }
    }

    /// Closes the table (the JSON array's bracket) and flushes; hands back the writer.
    ///
    /// # Errors
    /// If the writer fails.
    pub fn finish(self) -> Result<W, ExportError> {
        match self.inner {
            TableInner::Csv(sink) => sink.into_inner(),
            TableInner::Json(sink) => sink.into_inner(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// parquet
// ---------------------------------------------------------------------------------------------

/// The Arrow schema of a bar table: typed, prices nullable, volume an integer. The time column
/// carries a logical type every reader understands: `date` is DATE32 (days), `ts` is
/// TIMESTAMP(MILLIS, UTC). Parquet has no seconds unit, and an Arrow seconds column is written
/// as a plain INT64 that DuckDB and older readers show as a number.
pub(crate) fn bar_schema(interval: Interval) -> SchemaRef {
    let price = |name: &str| Field::new(name, DataType::Float64, true);
    let time = if interval.is_intraday() {
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())), false)
    } else {
        Field::new("date", DataType::Date32, false)
    };
    Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("interval", DataType::Utf8, false),
        time,
        price("open"),
        price("high"),
        price("low"),
        price("close"),
        price("adj_close"),
        Field::new("volume", DataType::Int64, true),
        Field::new("provider", DataType::Utf8, false),
        Field::new("partial", DataType::Boolean, false),
        Field::new("flag", DataType::Utf8, true),
    ]))
}

/// The builder of the time column (see [`bar_schema`]).
enum TimeBuilder {
    Date(Date32Builder),
    Ts(TimestampMillisecondBuilder),
}

impl TimeBuilder {
    fn append(&mut self, bar: &Bar) {
        match self {
            // Daily keys are midnight UTC of the session date.
            Self::Date(builder) => builder.append_value(bar.ts.timestamp().div_euclid(86_400) as i32),
            Self::Ts(builder) => builder.append_value(bar.ts.timestamp_millis()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Date(builder) => builder.len(),
            Self::Ts(builder) => builder.len(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Date(builder) => Arc::new(builder.finish()),
            Self::Ts(builder) => Arc::new(builder.finish()),
        }
    }
}

/// Snappy-compressed Parquet. Rows collect in Arrow builders and go to the writer as a
/// `RecordBatch` every [`PARQUET_BATCH_ROWS`] rows, independent of symbol boundaries; the writer
/// flushes a row group every [`PARQUET_ROW_GROUP_ROWS`] rows.
pub(crate) struct ParquetSink {
    writer: ArrowWriter<BufWriter<FileOut>>,
    path: PathBuf,
    schema: SchemaRef,
    interval: &'static str,
    symbol: String,
    symbols: StringBuilder,
    intervals: StringBuilder,
    time: TimeBuilder,
    prices: [Float64Builder; 5],
    volumes: Int64Builder,
    providers: StringBuilder,
    partials: BooleanBuilder,
    flags: StringBuilder,
}

fn parquet_error(error: impl std::fmt::Display) -> ExportError {
    ExportError::Format(format!("parquet: {error}"))
}

impl ParquetSink {
    pub(crate) fn new(out: FileOut, path: PathBuf, interval: Interval) -> Result<Self, ExportError> {
        let schema = bar_schema(interval);
        // Dictionary encoding only where values repeat (symbol, interval, provider, flag): prices,
        // volumes and timestamps are nearly unique, and hashing each into a dictionary that is
        // then abandoned was a fifth of the export's CPU time.
        let mut props = WriterProperties::builder().set_dictionary_enabled(false);
        for column in ["symbol", "interval", "provider", "flag"] {
            props = props.set_column_dictionary_enabled(ColumnPath::from(column), true);
        }
        let props = props
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(PARQUET_ROW_GROUP_ROWS))
            .set_created_by(concat!("tickerwatch export ", env!("CARGO_PKG_VERSION")).to_owned())
            .build();
        let buffered = BufWriter::with_capacity(WRITE_BUFFER, out);
        let writer =
            ArrowWriter::try_new(buffered, Arc::clone(&schema), Some(props)).map_err(parquet_error)?;
        let rows = PARQUET_BATCH_ROWS;
        let time = if interval.is_intraday() {
            TimeBuilder::Ts(TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"))
        } else {
            TimeBuilder::Date(Date32Builder::with_capacity(rows))
        };
        Ok(Self {
            writer,
            path,
            schema,
            interval: interval.as_str(),
            symbol: String::new(),
            symbols: StringBuilder::with_capacity(rows, rows * 8),
            intervals: StringBuilder::with_capacity(rows, rows * 3),
            time,
            prices: std::array::from_fn(|_| Float64Builder::with_capacity(rows)),
            volumes: Int64Builder::with_capacity(rows),
            providers: StringBuilder::with_capacity(rows, rows * 8),
            partials: BooleanBuilder::with_capacity(rows),
            flags: StringBuilder::with_capacity(rows, 0),
        })
    }

    /// Hands the buffered rows to the Parquet writer as one `RecordBatch`.
    fn flush_batch(&mut self) -> Result<(), ExportError> {
        if self.time.len() == 0 {
            return Ok(());
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(N_BAR_COLUMNS);
        columns.push(Arc::new(self.symbols.finish()));
        columns.push(Arc::new(self.intervals.finish()));
        columns.push(self.time.finish());
        for prices in &mut self.prices {
            columns.push(Arc::new(prices.finish()));
        }
        columns.push(Arc::new(self.volumes.finish()));
        columns.push(Arc::new(self.providers.finish()));
        columns.push(Arc::new(self.partials.finish()));
        columns.push(Arc::new(self.flags.finish()));
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(parquet_error)?;
        self.writer.write(&batch).map_err(parquet_error)
    }
}

impl BarSink for ParquetSink {
    fn begin_symbol(&mut self, symbol: &Symbol) -> Result<(), ExportError> {
        symbol.as_str().clone_into(&mut self.symbol);
        Ok(())
    }

    fn write_bars(&mut self, bars: &[Bar]) -> Result<(), ExportError> {
        for bar in bars {
            self.symbols.append_value(&self.symbol);
            self.intervals.append_value(self.interval);
            self.time.append(bar);
            for (builder, value) in self.prices.iter_mut().zip(prices(bar)) {
                builder.append_option(value);
            }
            self.volumes.append_option(bar.volume);
            self.providers.append_value(bar.provider.as_str());
            self.partials.append_value(bar.partial);
            self.flags.append_option(bar.flag.as_deref());
            if self.time.len() >= PARQUET_BATCH_ROWS {
                self.flush_batch()?;
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, _summaries: &[SymbolSummary]) -> Result<FileOut, ExportError> {
        self.flush_batch()?;
        let this = *self;
        let buffered = this.writer.into_inner().map_err(parquet_error)?;
        buffered.into_inner().map_err(|e| ExportError::io(this.path, e.into_error()))
    }
}

// ---------------------------------------------------------------------------------------------
// summary csv
// ---------------------------------------------------------------------------------------------

/// Writes the summary table as csv (header, then one line per symbol) to `out`.
pub(crate) fn write_summary_csv(
    out: FileOut,
    path: &std::path::Path,
    summaries: &[SymbolSummary],
) -> Result<FileOut, ExportError> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let mut ts = TsText::default();
    let mut number = FloatText::default();
    let result: csv::Result<()> = (|| {
        writer.write_record(SUMMARY_COLUMNS)?;
        for summary in summaries {
            writer.write_field(neutralise_formula(summary.symbol.as_str()).as_bytes())?;
            writer.write_field(summary.n_bars.to_string())?;
            for time in [summary.first, summary.last] {
                writer.write_field(time.map(|t| ts.format(t).to_owned()).unwrap_or_default())?;
            }
            writer.write_field(summary.providers_text())?;
            writer.write_field(summary.disagreements.to_string())?;
            writer
                .write_field(summary.indicators.as_of.map(|t| ts.format(t).to_owned()).unwrap_or_default())?;
            let last_close = summary.indicators.last_close.map(|v| number.format(v).to_owned());
            writer.write_field(last_close.unwrap_or_default())?;
            writer.write_field(summary.indicators.bars_used.to_string())?;
            for value in summary.indicator_values() {
                writer.write_field(value.map(|v| number.format(v).to_owned()).unwrap_or_default())?;
            }
            writer.write_record(None::<&[u8]>)?;
        }
        writer.flush()?;
        Ok(())
    })();
    result.map_err(|e| csv_error(path, e))?;
    writer.into_inner().map_err(|e| ExportError::io(path, e.into_error()))
}

/// Header of the mentions table.
const MENTION_COLUMNS: [&str; 8] =
    ["symbol", "created_at", "subreddit", "author", "kind", "sentiment", "source", "post_id"];

/// Writes the mentions table (see [`crate::write_mentions_csv`]).
pub(crate) fn write_mentions_csv(
    out: FileOut,
    path: &std::path::Path,
    mentions: &[domain::Mention],
) -> Result<FileOut, ExportError> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let mut ts = TsText::default();
    let mut number = FloatText::default();
    let result: csv::Result<()> = (|| {
        writer.write_record(MENTION_COLUMNS)?;
        for mention in mentions {
            writer.write_field(mention.symbol.as_str())?;
            writer.write_field(ts.format(mention.created_at))?;
            writer.write_field(neutralise_formula(&mention.subreddit).as_bytes())?;
            writer.write_field(neutralise_formula(&mention.author).as_bytes())?;
            writer.write_field(mention.kind.as_str())?;
            writer.write_field(number.format(mention.sentiment))?;
            writer.write_field(mention.source.as_str())?;
            writer.write_field(neutralise_formula(&mention.post_id).as_bytes())?;
            writer.write_record(None::<&[u8]>)?;
        }
        writer.flush()?;
        Ok(())
    })();
    result.map_err(|e| csv_error(path, e))?;
    writer.into_inner().map_err(|e| ExportError::io(path, e.into_error()))
}

/// Header of the research-notes table.
const NOTE_COLUMNS: [&str; 12] = [
    "symbol",
    "created_at",
    "rating",
    "confidence",
    "horizon",
    "thesis",
    "risks",
    "key_figures",
    "sources",
    "model",
    "crew",
    "crew_run_id",
];

/// Separator of list cells (risks, sources) in the notes table.
const LIST_SEPARATOR: &str = " | ";

/// Writes the research-notes table (see [`crate::write_notes_csv`]).
pub(crate) fn write_notes_csv(
    out: FileOut,
    path: &std::path::Path,
    notes: &[storage::Stored<domain::ResearchNote>],
) -> Result<FileOut, ExportError> {
    let mut writer = csv::WriterBuilder::new().from_writer(out);
    let mut ts = TsText::default();
    let mut number = FloatText::default();
    let result: csv::Result<()> = (|| {
        writer.write_record(NOTE_COLUMNS)?;
        for note in notes {
            // A map of JSON values always serialises; an empty cell would be the only fallback.
            let key_figures = serde_json::to_string(&note.key_figures).unwrap_or_default();
            writer.write_field(note.symbol.as_str())?;
            writer.write_field(ts.format(note.created_at))?;
            writer.write_field(note.rating.as_str())?;
            writer.write_field(number.format(note.confidence))?;
            writer.write_field(neutralise_formula(&note.horizon).as_bytes())?;
            writer.write_field(neutralise_formula(&note.thesis).as_bytes())?;
            writer.write_field(neutralise_formula(&note.risks.join(LIST_SEPARATOR)).as_bytes())?;
            writer.write_field(neutralise_formula(&key_figures).as_bytes())?;
            writer.write_field(neutralise_formula(&note.sources.join(LIST_SEPARATOR)).as_bytes())?;
            writer.write_field(neutralise_formula(&note.model).as_bytes())?;
            writer.write_field(neutralise_formula(&note.crew).as_bytes())?;
            writer.write_field(note.crew_run_id.map(|id| id.to_string()).unwrap_or_default())?;
            writer.write_record(None::<&[u8]>)?;
        }
        writer.flush()?;
        Ok(())
    })();
    result.map_err(|e| csv_error(path, e))?;
    writer.into_inner().map_err(|e| ExportError::io(path, e.into_error()))
}

//! The export pipeline: an async producer reading bars from storage, a bounded channel, and a
//! writer on a blocking thread.
//!
//! Why this shape: the database driver is async, the encoders (csv, serde_json, Parquet,
//! rust_xlsxwriter) are synchronous and CPU-bound, and neither side may hold the whole export.
//! Bars travel in chunks of [`CHUNK_ROWS`] through a channel of [`CHANNEL_CHUNKS`] slots, so at
//! most a handful of chunks (a few MB) exist at once whatever the export's size, and a slow disk
//! slows the database cursor instead of filling memory. Both sides run concurrently, which on
//! two cores roughly halves the wall time compared with decoding and encoding in turn.
//!
//! Cancellation: dropping the future drops the channel's sender and the [`TempFile`] guard; the
//! guard removes the temporary file and raises the abort flag, on which the writer's next file
//! write fails, and the writer thread also ends when it finds the channel closed without the
//! final `Done`. Nothing is left behind and no thread keeps running on its own for long.

use std::mem;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use chrono::Utc;
use domain::{Bar, Exchange, Interval, Symbol};
use futures::StreamExt;
use storage::{BarQuery, Storage};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::ExportFormat;
use crate::atomic::{HashingWriter, TempFile, check_destination, clean_before_export, parent_dir, sync_dir};
use crate::html::render_report as render;
use crate::report::{
    CompanySummary, ExportError, ExportOutput, ExportProgress, ExportRequest, NoteSummary, REPORT_HEADLINES,
    SymbolReport,
};
use crate::sink::{self, BarSink, CsvSink, FileOut, NdjsonSink, ParquetSink};
use crate::stream::{ChunkWriter, Out, StreamTarget};
use crate::summary::{SummaryBuilder, SymbolSummary};
use crate::xlsx::XlsxSink;

/// Bars per chunk sent to the writer (about 0.5 MB of `Bar`s).
const CHUNK_ROWS: usize = 4096;
/// Chunks the channel holds before the reader waits for the writer.
const CHANNEL_CHUNKS: usize = 4;

/// What the reader tells the writer.
#[derive(Debug)]
enum Msg {
    /// The following bars belong to `symbols[idx]`, which has this many disagreements between
    /// providers in the exported range.
    Begin(usize, u64),
    Bars(Vec<Bar>),
    /// The current symbol has no more bars.
    End,
    /// Every symbol has been sent; without it a closed channel means cancellation.
    Done,
}

/// Where an export's bytes go.
#[derive(Debug)]
pub enum Destination {
    /// A file, replaced atomically: temporary file in the same directory, fsync, rename.
    File(PathBuf),
    /// A bounded channel of byte chunks for an uploader; see [`StreamTarget`].
    Stream(StreamTarget),
}

/// Exports `request` to the file `destination`, atomically: the data is written to a temporary
/// file in the same directory, fsynced and renamed over `destination`, and the directory is
/// fsynced. On any error, and if this future is dropped before completing, the temporary file
/// is removed and `destination` is untouched.
///
/// Memory stays bounded whatever the size of the export (the crate docs give each format's
/// bound); the bars of each symbol are read in time order, every provider's row included.
/// `progress` is called from the calling task after each chunk and each symbol.
///
/// # Errors
/// - [`ExportError::InvalidDestination`] if `destination` is a directory or has no file name;
/// - [`ExportError::DestinationNotWritable`] if no file can be created next to it (missing or
///   read-only directory, or a parent that is not a directory);
/// - [`ExportError::Storage`] if reading bars fails;
/// - [`ExportError::Io`] or [`ExportError::Format`] if writing fails;
/// - [`ExportError::WriterPanicked`] if an encoder panics.
pub async fn export_to_file(
    storage: &Storage,
    request: &ExportRequest,
    destination: &Path,
    progress: Option<&(dyn Fn(ExportProgress) + Send + Sync)>,
) -> Result<ExportOutput, ExportError> {
    export_to(storage, request, Destination::File(destination.to_path_buf()), progress).await
}

/// Exports `request` to `destination`: a file as [`export_to_file`] does, or a stream of chunks
/// (the channel is closed when this returns, on success and on error alike; only `Ok` says the
/// stream is complete). Memory stays bounded either way.
///
/// # Errors
/// As [`export_to_file`]; for a stream, [`ExportError::Io`] (broken pipe) when the receiver
/// went away.
pub async fn export_to(
    storage: &Storage,
    request: &ExportRequest,
    destination: Destination,
    progress: Option<&(dyn Fn(ExportProgress) + Send + Sync)>,
) -> Result<ExportOutput, ExportError> {
    let started = Instant::now();
    let (path, done) = match destination {
        Destination::File(destination) => {
            let destination = destination.as_path();
            check_destination(destination)?;
            let dir = parent_dir(destination);
            let (guard, file) = TempFile::create_in(&dir)?;
            let out = HashingWriter::new(Out::File(file), guard.abort_flag());
            let done =
                write_export(storage, request, out, guard.path().to_path_buf(), dir.clone(), true, progress)
                    .await?;
            let WriterDone { out, rows, bytes, sha256, summaries } = done;
            drop(out);
            guard.commit(destination)?;
            let synced = tokio::task::spawn_blocking(move || sync_dir(&dir).map_err(|e| (dir, e))).await;
            if let Ok(Err((dir, error))) = synced {
                warn!(dir = %dir.display(), %error, "Cannot fsync the export directory; the rename may not survive a crash.");
            }
            (destination.to_path_buf(), (rows, bytes, sha256, summaries))
        }
        Destination::Stream(target) => {
            let name = PathBuf::from(&target.name);
            let out = HashingWriter::new(
                Out::Stream(ChunkWriter::new(target.tx, target.chunk_bytes)),
                Arc::new(AtomicBool::new(false)),
            );
            let done = write_export(storage, request, out, name.clone(), target.scratch_dir, false, progress)
                .await?;
            let WriterDone { out, rows, bytes, sha256, summaries } = done;
            // Closes the channel: the receiver has every byte.
            drop(out);
            (name, (rows, bytes, sha256, summaries))
        }
    };
    let (rows, bytes, sha256, summaries) = done;
    // The final report comes once the file is in place (or every chunk is sent).
    if let Some(progress) = progress {
        progress(ExportProgress {
            symbol_idx: request.symbols.len().saturating_sub(1),
            n_symbols: request.symbols.len(),
            rows_written: rows,
        });
    }
    info!(
        path = %path.display(),
        format = %request.format,
        symbols = request.symbols.len(),
        rows,
        bytes,
        elapsed_ms = started.elapsed().as_millis(),
        "Export written."
    );
    Ok(ExportOutput { path, rows, bytes, sha256, summaries })
}

/// The reader, the channel and the writer thread of one export into `out`; `path` names the
/// output in messages, `dir` takes xlsx's temporary sheet files (and is swept of stray
/// temporary files of ours first when `sweep`).
async fn write_export(
    storage: &Storage,
    request: &ExportRequest,
    out: FileOut,
    path: PathBuf,
    dir: PathBuf,
    sweep: bool,
    progress: Option<&(dyn Fn(ExportProgress) + Send + Sync)>,
) -> Result<WriterDone, ExportError> {
    let companies = if request.format == ExportFormat::Html {
        report_companies(storage, request).await
    } else {
        Vec::new()
    };
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let written = Arc::new(AtomicU64::new(0));
    let job = WriterJob {
        format: request.format,
        interval: request.interval,
        symbols: request.symbols.clone(),
        path,
        dir: dir.clone(),
        title: report_title(request),
        notes: if request.format == ExportFormat::Html { report_notes(request) } else { Vec::new() },
        companies,
        feed: Feed {
            rx,
            symbols: request.symbols.clone(),
            builder: None,
            summaries: Vec::with_capacity(request.symbols.len()),
            rows: 0,
            written: Arc::clone(&written),
        },
    };
    let writer = tokio::task::spawn_blocking(move || {
        if sweep {
            // Our own temporary file is locked by now, so the sweep leaves it alone.
            clean_before_export(&dir);
        }
        job.run(out)
    });

    let produced = produce(storage, request, &tx, progress, &written).await;
    drop(tx);
    let done = match writer.await {
        Ok(result) => result,
        Err(join) => Err(ExportError::WriterPanicked(join.to_string())),
    };
    // A read error makes the writer see a closed channel (`Cancelled`): report the cause.
    produced?;
    done
}

/// Writes `summaries` as a csv table (one line per symbol, the columns of the xlsx `Summary`
/// sheet) to `destination`, atomically like [`export_to_file`]; for formats that have no summary
/// sheet of their own.
///
/// # Errors
/// [`ExportError::InvalidDestination`], [`ExportError::DestinationNotWritable`] or
/// [`ExportError::Io`], as for [`export_to_file`].
pub async fn write_summary_csv(
    summaries: &[SymbolSummary],
    destination: &Path,
) -> Result<ExportOutput, ExportError> {
    write_summary_csv_to(summaries, Destination::File(destination.to_path_buf())).await
}

/// [`write_summary_csv`] to a file or a stream.
///
/// # Errors
/// As [`write_summary_csv`]; for a stream as [`export_to`].
pub async fn write_summary_csv_to(
    summaries: &[SymbolSummary],
    destination: Destination,
) -> Result<ExportOutput, ExportError> {
    let owned = summaries.to_vec();
    let rows = owned.len() as u64;
    let output = write_small_csv(destination, rows, move |out, path| {
        sink::write_summary_csv(out, path, &owned).map(|out| (out, owned))
    })
    .await?;
    info!(path = %output.path.display(), rows, bytes = output.bytes, "Summary written.");
    Ok(output)
}

/// Writes social mentions (one row per symbol per post) to a CSV file, atomically like every
/// export: the download-tracker's `mentions` table. Text cells are neutralised for spreadsheets.
///
/// # Errors
/// As [`export_to_file`], for the destination and the write.
pub async fn write_mentions_csv(
    mentions: &[domain::Mention],
    destination: &Path,
) -> Result<ExportOutput, ExportError> {
    write_mentions_csv_to(mentions, Destination::File(destination.to_path_buf())).await
}

/// [`write_mentions_csv`] to a file or a stream.
///
/// # Errors
/// As [`write_mentions_csv`]; for a stream as [`export_to`].
pub async fn write_mentions_csv_to(
    mentions: &[domain::Mention],
    destination: Destination,
) -> Result<ExportOutput, ExportError> {
    let owned = mentions.to_vec();
    let rows = owned.len() as u64;
    let output = write_small_csv(destination, rows, move |out, path| {
        sink::write_mentions_csv(out, path, &owned).map(|out| (out, Vec::new()))
    })
    .await?;
    info!(path = %output.path.display(), rows, bytes = output.bytes, "Mentions written.");
    Ok(output)
}

/// Writes research notes (one row per note, e.g. the latest note of each watched symbol) to a
/// CSV file, atomically like every export: the download-tracker's `notes` table. Columns:
/// `symbol, created_at` (RFC 3339, UTC)`, rating, confidence` (0–1)`, horizon, thesis, risks`
/// (joined with `" | "`)`, key_figures` (compact JSON)`, sources` (joined with `" | "`)`, model,
/// crew, crew_run_id` (empty when the note has no crew run). The notes are model-written, so
/// every text cell is neutralised for spreadsheets.
///
/// # Errors
/// As [`export_to_file`], for the destination and the write.
pub async fn write_notes_csv(
    notes: &[storage::Stored<domain::ResearchNote>],
    destination: &Path,
) -> Result<ExportOutput, ExportError> {
    write_notes_csv_to(notes, Destination::File(destination.to_path_buf())).await
}

/// [`write_notes_csv`] to a file or a stream.
///
/// # Errors
/// As [`write_notes_csv`]; for a stream as [`export_to`].
pub async fn write_notes_csv_to(
    notes: &[storage::Stored<domain::ResearchNote>],
    destination: Destination,
) -> Result<ExportOutput, ExportError> {
    let owned = notes.to_vec();
    let rows = owned.len() as u64;
    let output = write_small_csv(destination, rows, move |out, path| {
        sink::write_notes_csv(out, path, &owned).map(|out| (out, Vec::new()))
    })
    .await?;
    info!(path = %output.path.display(), rows, bytes = output.bytes, "Research notes written.");
    Ok(output)
}

/// A small table written in one go on a blocking thread, hashed while writing: to a file with
/// the atomic protocol (temp file, fsync, rename, fsync the directory), or to a stream.
async fn write_small_csv(
    destination: Destination,
    rows: u64,
    write: impl FnOnce(FileOut, &Path) -> Result<(FileOut, Vec<SymbolSummary>), ExportError> + Send + 'static,
) -> Result<ExportOutput, ExportError> {
    let (guard, out, path, dir) = match destination {
        Destination::File(destination) => {
            check_destination(&destination)?;
            let dir = parent_dir(&destination);
            let (guard, file) = TempFile::create_in(&dir)?;
            let out = HashingWriter::new(Out::File(file), guard.abort_flag());
            let path = guard.path().to_path_buf();
            (Some((guard, destination)), out, path, Some(dir))
        }
        Destination::Stream(target) => {
            let out = HashingWriter::new(
                Out::Stream(ChunkWriter::new(target.tx, target.chunk_bytes)),
                Arc::new(AtomicBool::new(false)),
            );
            (None, out, PathBuf::from(target.name), None)
        }
    };
    let sweep_dir = dir.clone();
    let written_path = path.clone();
    let written = tokio::task::spawn_blocking(move || {
        if let Some(dir) = &sweep_dir {
            clean_before_export(dir);
        }
        let (out, summaries) = write(out, &written_path)?;
        let (mut out, sha256, bytes) = out.finish();
        out.finish().map_err(|e| ExportError::io(&written_path, e))?;
        // Closes a stream's channel before the caller hears of the result.
        drop(out);
        Ok::<_, ExportError>((summaries, sha256, bytes))
    })
    .await
    .map_err(|join| ExportError::WriterPanicked(join.to_string()))?;
    let (summaries, sha256, bytes) = written?;
    let path = match (guard, dir) {
        (Some((guard, destination)), Some(dir)) => {
            guard.commit(&destination)?;
            if let Err(error) = tokio::task::spawn_blocking(move || sync_dir(&dir)).await.unwrap_or(Ok(())) {
                warn!(%error, "Cannot fsync the export directory; the rename may not survive a crash.");
            }
            destination
        }
        _ => path,
    };
    Ok(ExportOutput { path, rows, bytes, sha256, summaries })
}

/// Symbols read ahead of the one being written. Each reader runs on its own thread or task
/// (see `Storage::stream_bar_chunks`): reading the next symbol while the current one is encoded
/// uses the second core, and each reader's bounded channel keeps memory bounded.
const READ_AHEAD: usize = 2;

/// A symbol's bars in chunks, being read ahead by storage's bulk reader.
struct SymbolReader {
    chunks: futures::stream::BoxStream<'static, Result<Vec<Bar>, storage::StorageError>>,
}

fn spawn_reader(storage: &Storage, query: BarQuery) -> SymbolReader {
    SymbolReader { chunks: storage.stream_bar_chunks(&query, CHUNK_ROWS) }
}

/// The reader side: streams each symbol's bars from storage into the writer's channel in
/// chunks, in request order, with the next symbol already being read.
///
/// Returns `Ok` also when the writer hung up early; the writer's result then says why.
async fn produce(
    storage: &Storage,
    request: &ExportRequest,
    tx: &mpsc::Sender<Msg>,
    progress: Option<&(dyn Fn(ExportProgress) + Send + Sync)>,
    written: &AtomicU64,
) -> Result<(), ExportError> {
    let n_symbols = request.symbols.len();
    let report = |symbol_idx: usize| {
        if let Some(progress) = progress {
            progress(ExportProgress { symbol_idx, n_symbols, rows_written: written.load(Ordering::Relaxed) });
        }
    };
    let bounds =
        |symbol: &Symbol| Exchange::for_symbol(symbol).key_bounds(request.interval, request.from, request.to);
    let query_of = |symbol: &Symbol| {
        let (from, to) = bounds(symbol);
        BarQuery { symbol: symbol.clone(), interval: request.interval, from, to, provider: None, limit: None }
    };
    let mut readers = std::collections::VecDeque::with_capacity(READ_AHEAD);
    let mut next_to_spawn = 0;
    for idx in 0..n_symbols {
        while next_to_spawn < n_symbols && next_to_spawn < idx + READ_AHEAD {
            readers.push_back(spawn_reader(storage, query_of(&request.symbols[next_to_spawn])));
            next_to_spawn += 1;
        }
        let Some(mut reader) = readers.pop_front() else { break };
        let (from, to) = bounds(&request.symbols[idx]);
        let disagreements =
            storage.count_disagreements(&request.symbols[idx], request.interval, from, to).await?;
        if tx.send(Msg::Begin(idx, disagreements)).await.is_err() {
            return Ok(());
        }
        while let Some(chunk) = reader.chunks.next().await {
            if tx.send(Msg::Bars(chunk?)).await.is_err() {
                return Ok(());
            }
            report(idx);
        }
        if tx.send(Msg::End).await.is_err() {
            return Ok(());
        }
        report(idx);
    }
    // An error here means the writer failed; its result says how.
    let _ = tx.send(Msg::Done).await;
    Ok(())
}

fn report_title(request: &ExportRequest) -> String {
    let names: Vec<&str> = request.symbols.iter().take(6).map(Symbol::as_str).collect();
    let symbols = if request.symbols.len() <= 5 {
        names.join(", ")
    } else {
        format!("{} symbols", request.symbols.len())
    };
    format!("tickerwatch export: {symbols} ({})", request.interval)
}

/// The notes the report shows: in the order of the request's symbols, at most one per symbol.
fn report_notes(request: &ExportRequest) -> Vec<NoteSummary> {
    let mut shown = std::collections::HashSet::new();
    request
        .symbols
        .iter()
        .filter(|symbol| shown.insert(symbol.as_str()))
        .filter_map(|symbol| request.notes.iter().find(|note| note.symbol == symbol.as_str()))
        .cloned()
        .collect()
}

/// The stored profile and latest headlines of each requested symbol (once each), for the HTML
/// report. A symbol with neither is left out; a read that fails is logged and left out too,
/// because company facts are decoration and must not cost the bars export.
async fn report_companies(storage: &Storage, request: &ExportRequest) -> Vec<CompanySummary> {
    let mut shown = std::collections::HashSet::new();
    let mut companies = Vec::new();
    for symbol in request.symbols.iter().filter(|symbol| shown.insert(symbol.as_str())) {
        let profile = storage.profile(symbol).await;
        let headlines = storage.news(symbol, REPORT_HEADLINES).await;
        let (profile, headlines) = match (profile, headlines) {
            (Ok(profile), Ok(headlines)) => (profile, headlines),
            (Err(error), _) | (_, Err(error)) => {
                warn!(%symbol, %error, "Cannot read the stored profile or news; the report goes without them.");
                continue;
            }
        };
        if profile.is_none() && headlines.is_empty() {
            continue;
        }
        let profile = profile.unwrap_or_default();
        companies.push(CompanySummary {
            symbol: symbol.clone(),
            name: profile.name,
            sector: profile.sector,
            industry: profile.industry,
            market_cap: profile.market_cap,
            provider: profile.provider,
            headlines,
        });
    }
    companies
}

/// The writer's side of the channel: hands messages to a format while maintaining the
/// per-symbol summaries and the row count.
struct Feed {
    rx: mpsc::Receiver<Msg>,
    symbols: Vec<Symbol>,
    builder: Option<SummaryBuilder>,
    summaries: Vec<SymbolSummary>,
    rows: u64,
    written: Arc<AtomicU64>,
}

impl Feed {
    /// The next message, after updating the summaries with it.
    ///
    /// # Errors
    /// [`ExportError::Cancelled`] if the reader went away before `Done`.
    fn next(&mut self) -> Result<Msg, ExportError> {
        let msg = self.rx.blocking_recv().ok_or(ExportError::Cancelled)?;
        match &msg {
            Msg::Begin(idx, disagreements) => {
                let symbol = self.symbols.get(*idx).cloned().ok_or(ExportError::Cancelled)?;
                self.builder = Some(SummaryBuilder::new(symbol, *disagreements));
            }
            Msg::Bars(bars) => {
                if let Some(builder) = &mut self.builder {
                    bars.iter().for_each(|bar| builder.push(bar));
                }
            }
            Msg::End => {
                if let Some(builder) = self.builder.take() {
                    self.summaries.push(builder.finish());
                }
            }
            Msg::Done => {}
        }
        Ok(msg)
    }

    fn mark_written(&mut self, rows: usize) {
        self.rows += rows as u64;
        self.written.fetch_add(rows as u64, Ordering::Relaxed);
    }
}

/// Everything the writer thread needs; moved onto it.
struct WriterJob {
    format: ExportFormat,
    interval: Interval,
    symbols: Vec<Symbol>,
    /// The temporary file's path, for error messages.
    path: PathBuf,
    dir: PathBuf,
    title: String,
    /// The research notes of the HTML report, already in report order.
    notes: Vec<NoteSummary>,
    /// Profiles and headlines of the HTML report, one per symbol at most.
    companies: Vec<CompanySummary>,
    feed: Feed,
}

/// What the writer thread hands back: the synced file (or the stream with every chunk sent)
/// and what it holds.
struct WriterDone {
    out: Out,
    rows: u64,
    bytes: u64,
    sha256: String,
    summaries: Vec<SymbolSummary>,
}

impl WriterJob {
    fn run(mut self, out: FileOut) -> Result<WriterDone, ExportError> {
        let out = match self.format {
            ExportFormat::Html => self.run_report(out)?,
            ExportFormat::Csv => {
                self.run_sink(Box::new(CsvSink::new(out, self.path.clone(), self.interval)?))?
            }
            ExportFormat::Ndjson => {
                self.run_sink(Box::new(NdjsonSink::new(out, self.path.clone(), self.interval)))?
            }
            ExportFormat::Parquet => {
                self.run_sink(Box::new(ParquetSink::new(out, self.path.clone(), self.interval)?))?
            }
            ExportFormat::Xlsx => {
                self.run_sink(Box::new(XlsxSink::new(out, self.path.clone(), &self.dir, self.interval)?))?
            }
        };
        let (mut out, sha256, bytes) = out.finish();
        out.finish().map_err(|e| ExportError::io(&self.path, e))?;
        Ok(WriterDone { out, rows: self.feed.rows, bytes, sha256, summaries: self.feed.summaries })
    }

    /// Drives a table format until `Done`.
    fn run_sink(&mut self, mut sink: Box<dyn BarSink>) -> Result<FileOut, ExportError> {
        loop {
            match self.feed.next()? {
                Msg::Begin(idx, _) => {
                    let symbol = self.symbols.get(idx).ok_or(ExportError::Cancelled)?;
                    sink.begin_symbol(symbol)?;
                }
                Msg::Bars(bars) => {
                    sink.write_bars(&bars)?;
                    self.feed.mark_written(bars.len());
                }
                Msg::End => {}
                Msg::Done => return sink.finish(&self.feed.summaries),
            }
        }
    }

    /// Drives the HTML report, which pulls one symbol's complete section at a time.
    fn run_report(&mut self, out: FileOut) -> Result<FileOut, ExportError> {
        let mut buffered = std::io::BufWriter::with_capacity(sink::WRITE_BUFFER, out);
        let mut sections = Sections { feed: &mut self.feed, bars: Vec::new(), finished: false };
        render(&mut buffered, &self.title, Utc::now(), &self.notes, &self.companies, &mut sections).map_err(
            |e| match e {
                // The renderer does not know the file's name.
                ExportError::Io { source, .. } => ExportError::io(&self.path, source),
                other => other,
            },
        )?;
        // A renderer that stops early still gets complete summaries and an honest row count.
        for section in &mut sections {
            section?;
        }
        buffered.into_inner().map_err(|e| ExportError::io(&self.path, e.into_error()))
    }
}

/// One [`SymbolReport`] per symbol, assembled from the channel for the HTML renderer.
struct Sections<'a> {
    feed: &'a mut Feed,
    bars: Vec<Bar>,
    finished: bool,
}

impl Iterator for Sections<'_> {
    type Item = Result<SymbolReport, ExportError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished {
            match self.feed.next() {
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                Ok(Msg::Begin(..)) => self.bars.clear(),
                Ok(Msg::Bars(mut bars)) => {
                    self.feed.mark_written(bars.len());
                    if self.bars.is_empty() {
                        mem::swap(&mut self.bars, &mut bars);
                    } else {
                        self.bars.append(&mut bars);
                    }
                }
                Ok(Msg::End) => {
                    let summary = self.feed.summaries.last().cloned()?;
                    return Some(Ok(SymbolReport { summary, bars: mem::take(&mut self.bars) }));
                }
                Ok(Msg::Done) => self.finished = true,
            }
        }
        None
    }
}

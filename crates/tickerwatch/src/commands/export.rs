//! `tickerwatch export`: stored bars to a file, streamed, atomically, with a progress bar.

use anyhow::bail;
use export::{ExportFormat, ExportProgress, ExportRequest, NoteSummary, export_to_file};
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::App;
use crate::cli::ExportArgs;

/// Writes the export and prints what was written.
///
/// # Errors
/// For a bad window, an empty selection or a failed write (the output file is then untouched).
pub async fn run(app: &App, args: ExportArgs) -> anyhow::Result<()> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        bail!("--from {from} is after --to {to}");
    }
    let symbols = if args.symbols.is_empty() {
        app.storage.watchlist().await?.into_iter().map(|e| e.symbol).collect()
    } else {
        args.symbols.clone()
    };
    if symbols.is_empty() {
        bail!("no --symbols given and the watchlist is empty");
    }
    // The html report shows each symbol's latest research note; other formats have no place for it.
    let notes = if args.format == ExportFormat::Html {
        app.storage.latest_research_notes(&symbols).await?.iter().map(NoteSummary::from).collect()
    } else {
        Vec::new()
    };
    let request = ExportRequest {
        symbols,
        interval: args.interval,
        from: args.from,
        to: args.to,
        format: args.format,
        notes,
    };
    let progress = ProgressBar::new(request.symbols.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} symbols, {msg} rows ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = {
        let progress = progress.clone();
        move |p: ExportProgress| {
            progress.set_position(p.symbol_idx as u64);
            progress.set_message(p.rows_written.to_string());
        }
    };
    let output = export_to_file(&app.storage, &request, &args.output, Some(&report)).await;
    progress.finish_and_clear();
    let output = output?;
    println!(
        "Wrote {} rows, {} bytes to {} (sha256 {})",
        output.rows,
        output.bytes,
        output.path.display(),
        output.sha256
    );
    Ok(())
}

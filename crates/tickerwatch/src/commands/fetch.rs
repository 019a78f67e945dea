//! `tickerwatch fetch`: bars through the provider chain, through the quality gate, into storage.

use std::sync::Arc;

use anyhow::bail;
use domain::{DateRange, Interval, Symbol};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use jobs::ingest::{FetchedSymbol, IngestError, fetch_and_store};
use providers::{BarsRequest, ProviderChain, Span};
use storage::Storage;

use crate::app::App;
use crate::cli::FetchArgs;
use crate::output;

/// What happened to one symbol.
pub struct FetchOutcome {
    pub symbol: Symbol,
    pub result: Result<FetchedSymbol, IngestError>,
}

/// `--from`/`--to` are inclusive trading days in each symbol's exchange calendar; without
/// `--to`, up to today there.
fn span_from_args(args: &FetchArgs) -> anyhow::Result<Span> {
    Ok(match (args.from, args.to) {
        (Some(from), Some(to)) => {
            Span::Between(DateRange::new(from, to).map_err(|e| anyhow::anyhow!("--from/--to: {e}"))?)
        }
        (Some(from), None) => Span::Since(from),
        (None, _) => args.range,
    })
}

/// Runs the command; returns false when any symbol failed.
///
/// # Errors
/// When there is nothing to fetch or the chain cannot be built.
pub async fn run(app: &App, args: FetchArgs) -> anyhow::Result<bool> {
    let symbols = if args.symbols.is_empty() {
        let watchlist = app.storage.watchlist().await?;
        if watchlist.is_empty() {
            bail!("no symbols given and the watchlist is empty (try `tickerwatch watchlist add AAPL`)");
        }
        watchlist.into_iter().map(|entry| entry.symbol).collect()
    } else {
        args.symbols.clone()
    };
    let chain = Arc::new(app.chain(args.provider).await?);
    let span = span_from_args(&args)?;
    let outcomes = fetch_many(
        &chain,
        &app.storage,
        &symbols,
        args.interval,
        span,
        app.config.providers.fetch_concurrency,
    )
    .await;
    print_summary(&outcomes, args.interval);
    Ok(outcomes.iter().all(|o| o.result.is_ok()))
}

/// Fetches many symbols with bounded concurrency, showing a progress bar for more than one.
pub async fn fetch_many(
    chain: &ProviderChain,
    storage: &Storage,
    symbols: &[Symbol],
    interval: Interval,
    span: Span,
    concurrency: usize,
) -> Vec<FetchOutcome> {
    let progress =
        if symbols.len() > 1 { ProgressBar::new(symbols.len() as u64) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut outcomes: Vec<FetchOutcome> = futures::stream::iter(symbols.iter().cloned())
        .map(|symbol| {
            let progress = progress.clone();
            async move {
                let request = BarsRequest { symbol: symbol.clone(), interval, span };
                let result = fetch_and_store(chain, storage, &request).await;
                progress.set_message(symbol.to_string());
                progress.inc(1);
                FetchOutcome { symbol, result }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    progress.finish_and_clear();
    outcomes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    outcomes
}

fn print_summary(outcomes: &[FetchOutcome], interval: Interval) {
    let mut table = output::table(&[
        "symbol",
        "provider",
        "bars",
        "new",
        "updated",
        "kept",
        "from",
        "to",
        "last close",
        "quality",
    ]);
    let intraday = interval.is_intraday();
    for outcome in outcomes {
        match &outcome.result {
            Ok(f) => {
                let mut notes = Vec::new();
                if f.n_bars == 0 {
                    notes.push("no trading days in the window".to_owned());
                }
                if !f.quality.rejected.is_empty() || !f.quality.flagged.is_empty() {
                    notes.push(format!(
                        "{} rejected, {} flagged",
                        f.quality.rejected.len(),
                        f.quality.flagged.len()
                    ));
                }
                if !f.quality.explained.is_empty() {
                    notes.push(format!("{} split(s)", f.quality.explained.len()));
                }
                if f.n_partial > 0 {
                    notes.push(format!("{} partial", f.n_partial));
                }
                if f.disagreements > 0 {
                    notes.push(format!("{} disagreement(s)", f.disagreements));
                }
                let quality = if notes.is_empty() { "ok".to_owned() } else { notes.join(", ") };
                table.add_row(vec![
                    outcome.symbol.to_string().into(),
                    f.provider.to_string().into(),
                    output::count(f.n_bars),
                    output::count(f.inserted),
                    output::count(f.updated),
                    output::count(f.kept),
                    f.first.map(|t| output::timestamp(t, intraday)).unwrap_or_default().into(),
                    f.last.map(|t| output::timestamp(t, intraday)).unwrap_or_default().into(),
                    output::number(f.last_close, 2),
                    quality.into(),
                ]);
            }
            Err(_) => {
                let mut row = vec![comfy_table::Cell::new(&outcome.symbol); 1];
                row.extend(std::iter::repeat_n(comfy_table::Cell::new(""), 8));
                row.push(comfy_table::Cell::new("FAILED"));
                table.add_row(row);
            }
        }
    }
    println!("{table}");
    for outcome in outcomes {
        if let Err(error) = &outcome.result {
            eprintln!("error: {}: {error:#}", outcome.symbol);
        }
    }
}

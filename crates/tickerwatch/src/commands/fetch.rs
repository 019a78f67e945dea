//! `tickerwatch fetch`: bars through the provider chain, through the quality gate, into storage.

use std::sync::Arc;

use anyhow::bail;
use chrono::{NaiveTime, Utc};
use domain::{Interval, Symbol};
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

fn span_from_args(args: &FetchArgs) -> Span {
    match args.from {
        Some(from) => {
            let to = args
                .to
                .map_or_else(Utc::now, |d| d.and_time(NaiveTime::MIN).and_utc() + chrono::Duration::days(1));
            Span::Between { from: from.and_time(NaiveTime::MIN).and_utc(), to }
        }
        None => args.range,
    }
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
    let chain = Arc::new(app.chain(args.provider)?);
    let span = span_from_args(&args);
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
        "from",
        "to",
        "last close",
        "quality",
    ]);
    let intraday = interval.is_intraday();
    for outcome in outcomes {
        match &outcome.result {
            Ok(f) => {
                let quality = if f.quality.is_clean() {
                    "ok".to_owned()
                } else {
                    format!("{} rejected, {} flagged", f.quality.rejected.len(), f.quality.flagged.len())
                };
                table.add_row(vec![
                    outcome.symbol.to_string().into(),
                    f.provider.to_string().into(),
                    output::count(f.n_bars),
                    output::count(f.inserted),
                    output::count(f.updated),
                    f.first.map(|t| output::timestamp(t, intraday)).unwrap_or_default().into(),
                    f.last.map(|t| output::timestamp(t, intraday)).unwrap_or_default().into(),
                    output::number(f.last_close, 2),
                    quality.into(),
                ]);
            }
            Err(_) => {
                let mut row = vec![comfy_table::Cell::new(&outcome.symbol); 1];
                row.extend(std::iter::repeat_n(comfy_table::Cell::new(""), 7));
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

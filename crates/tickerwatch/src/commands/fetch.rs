//! `tickerwatch fetch`: bars through the provider chain, through the quality gate, into storage.

use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveTime, Utc};
use domain::{Interval, ProviderId, QualityReport, Symbol, check_bars};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use providers::{BarsRequest, ProviderChain, Span};
use storage::Storage;

use crate::app::App;
use crate::cli::FetchArgs;
use crate::output;

/// What happened to one symbol.
pub struct FetchOutcome {
    pub symbol: Symbol,
    pub result: anyhow::Result<FetchedSymbol>,
}

/// A symbol fetched and stored.
pub struct FetchedSymbol {
    pub provider: ProviderId,
    pub n_bars: usize,
    pub inserted: u64,
    pub updated: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub last_close: Option<f64>,
    pub quality: QualityReport,
}

/// Fetches one symbol and stores what passed the quality gate, in one transaction, so a failed
/// fetch or write leaves previously stored bars untouched.
///
/// # Errors
/// When every provider fails or the database write fails; the message names the symbol.
pub async fn fetch_symbol(
    chain: &ProviderChain,
    storage: &Storage,
    request: &BarsRequest,
) -> anyhow::Result<FetchedSymbol> {
    let served = chain.bars(request).await?;
    let provider = served.provider;
    let mut bars = served.value.bars;
    let quality = check_bars(&mut bars);
    for finding in &quality.rejected {
        tracing::warn!(symbol = %request.symbol, %provider, ts = %finding.ts, issue = %finding.issue, "Rejected bar.");
    }
    let stats = storage
        .upsert_bars(&request.symbol, request.interval, &bars)
        .await
        .with_context(|| format!("cannot store bars of {}", request.symbol))?;
    if !quality.is_clean() {
        storage
            .record_quality(&request.symbol, request.interval, provider, &quality)
            .await
            .with_context(|| format!("cannot record quality findings of {}", request.symbol))?;
    }
    Ok(FetchedSymbol {
        provider,
        n_bars: bars.len(),
        inserted: stats.inserted,
        updated: stats.updated,
        first: bars.first().map(|b| b.ts),
        last: bars.last().map(|b| b.ts),
        last_close: bars.iter().rev().find_map(|b| b.close),
        quality,
    })
}

fn span_from_args(args: &FetchArgs) -> Span {
    match args.from {
        Some(from) => {
            let to = args.to.map_or_else(Utc::now, |d| d.and_time(NaiveTime::MIN).and_utc() + chrono::Duration::days(1));
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
    let outcomes = fetch_many(&chain, &app.storage, &symbols, args.interval, span, app.config.providers.fetch_concurrency)
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
    let progress = if symbols.len() > 1 { ProgressBar::new(symbols.len() as u64) } else { ProgressBar::hidden() };
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
                let result = fetch_symbol(chain, storage, &request).await;
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
    let mut table = output::table(&["symbol", "provider", "bars", "new", "updated", "from", "to", "last close", "quality"]);
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

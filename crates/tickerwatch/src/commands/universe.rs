//! `tickerwatch universe update|show` and `tickerwatch sentiment`: the Reddit scanner's symbol
//! universe, and scoring any text the way the scanner scores posts.

use std::io::BufRead;

use anyhow::Context;
use jobs::universe::{CurrentUniverse, MIN_LISTINGS, from_rows, rows_of};

use crate::app::App;
use crate::cli::{DisplayFormat, SentimentArgs, UniverseCommand};
use crate::output;

/// Runs a `universe` subcommand.
///
/// # Errors
/// When the vendor or the database fails, or a listing is too short to be a US listing.
pub async fn run(app: &App, command: UniverseCommand) -> anyhow::Result<bool> {
    match command {
        UniverseCommand::Update { provider } => update(app, provider).await,
        UniverseCommand::Show { symbols } => show(app, &symbols).await.map(|()| true),
    }
}

/// Fetches a vendor's listing and stores it whole. The stored universe is kept when the listing
/// cannot be fetched, is shorter than a US listing can be, or does not load as a universe.
async fn update(app: &App, provider: Option<domain::ProviderId>) -> anyhow::Result<bool> {
    let chain = app.chain(provider).await?;
    let served = chain.listings().await.context("no provider could list symbols (the offline sample cannot: configure polygon, finnhub or alpha_vantage with a key and pass --provider)")?;
    let rows = rows_of(&served.value);
    if rows.len() < MIN_LISTINGS {
        anyhow::bail!(
            "{} listed only {} symbols (a US listing has over 8,000); the stored universe is kept",
            served.provider,
            rows.len()
        );
    }
    let universe = from_rows(&rows).context("the listing does not load as a universe; nothing stored")?;
    let stored = app.storage.replace_universe(served.provider.as_str(), &rows).await?;
    let etfs = rows.iter().filter(|row| row.security_type == "etf").count();
    println!(
        "Stored {stored} symbols from {} ({} stocks, {etfs} ETFs; {} with aliases and renames). \
         The reddit-scan job uses it from its next run, on every instance.",
        served.provider,
        rows.len() - etfs,
        universe.len()
    );
    Ok(true)
}

async fn show(app: &App, symbols: &[domain::Symbol]) -> anyhow::Result<()> {
    match app.storage.universe_version().await? {
        Some(storage::UniverseVersion { updated_at, size, provider, .. }) => {
            println!(
                "Universe: {size} symbols stored from {provider} at {} (`tickerwatch universe update` refreshes it).",
                updated_at.format("%Y-%m-%d %H:%M UTC")
            );
        }
        None => println!(
            "Universe: the snapshot bundled in this binary (no update stored yet; `tickerwatch universe \
             update --provider polygon|finnhub|alpha_vantage` fetches a fresh one)."
        ),
    }
    let universe = CurrentUniverse::default().get(&app.storage).await;
    println!("{} symbols in use (with renames and extra symbols).", universe.len());
    if symbols.is_empty() {
        return Ok(());
    }
    let mut table = output::table(&["symbol", "name", "exchange", "type", "former symbols"]);
    for symbol in symbols {
        match universe.lookup(symbol.as_str()) {
            Some(info) => table.add_row(vec![
                info.symbol.to_owned(),
                info.name.to_owned(),
                info.exchange.to_owned(),
                info.security_type.as_str().to_owned(),
                info.former_symbols.join(", "),
            ]),
            None => table.add_row(vec![symbol.to_string(), "(not in the universe)".to_owned()]),
        };
    }
    println!("{table}");
    Ok(())
}

/// Scores each text (or each line of standard input for `-`).
///
/// # Errors
/// When standard input cannot be read or the database fails.
pub async fn sentiment(app: &App, args: SentimentArgs) -> anyhow::Result<()> {
    let mut texts = Vec::new();
    for text in args.texts {
        if text == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("cannot read standard input")?;
                if !line.trim().is_empty() {
                    texts.push(line);
                }
            }
        } else {
            texts.push(text);
        }
    }
    let universe = CurrentUniverse::default().get(&app.storage).await;
    let analyses: Vec<social::TextAnalysis> =
        texts.iter().map(|text| social::analyze_text(&universe, text)).collect();
    if args.format == DisplayFormat::Json {
        for analysis in &analyses {
            println!("{}", serde_json::to_string(analysis)?);
        }
        return Ok(());
    }
    let mut table =
        output::table(&["text", "sentiment", "score", "bullish", "bearish", "neutral", "tickers"]);
    for (text, analysis) in texts.iter().zip(&analyses) {
        let shown: String = text.chars().take(60).collect();
        let p = analysis.probabilities;
        let tickers: Vec<String> =
            analysis.mentions.iter().map(|m| format!("{} ({})", m.symbol, m.kind.as_str())).collect();
        table.add_row(vec![
            shown,
            analysis.sentiment.to_owned(),
            format!("{:+.2}", analysis.score),
            format!("{:.2}", p.bullish),
            format!("{:.2}", p.bearish),
            format!("{:.2}", p.neutral),
            tickers.join(", "),
        ]);
    }
    println!("{table}");
    Ok(())
}

//! `tickerwatch quote`: the latest quote through the chain, stored and printed.

use anyhow::Context;
use domain::QuoteSource;

use crate::app::App;
use crate::cli::QuoteArgs;
use crate::output;

/// Prints one row per symbol; returns false when any symbol failed.
///
/// # Errors
/// When the chain cannot be built.
pub async fn run(app: &App, args: QuoteArgs) -> anyhow::Result<bool> {
    let chain = app.chain(args.provider).await?;
    let mut table = output::table(&["symbol", "price", "change", "change %", "as of", "provider", "source"]);
    let mut all_ok = true;
    let mut errors = Vec::new();
    for symbol in &args.symbols {
        let result = async {
            let served = chain.quote(symbol).await?;
            app.storage
                .save_quote(&served.value)
                .await
                .with_context(|| format!("cannot store the quote of {symbol}"))?;
            anyhow::Ok(served.value)
        }
        .await;
        match result {
            Ok(quote) => {
                let source = match quote.source {
                    QuoteSource::Live => "live",
                    QuoteSource::LastBarClose => "last bar close",
                };
                table.add_row(vec![
                    quote.symbol.to_string().into(),
                    output::number(Some(quote.price), 2),
                    output::number(quote.change, 2),
                    output::number(quote.change_percent, 2),
                    quote.ts.format("%Y-%m-%d %H:%M UTC").to_string().into(),
                    quote.provider.to_string().into(),
                    source.into(),
                ]);
            }
            Err(error) => {
                all_ok = false;
                errors.push(format!("error: {symbol}: {error:#}"));
            }
        }
    }
    println!("{table}");
    for error in errors {
        eprintln!("{error}");
    }
    Ok(all_ok)
}

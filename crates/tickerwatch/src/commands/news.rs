//! `tickerwatch news` and `tickerwatch profile`: what is stored about a symbol's news and
//! company, fetched through the provider chain (and stored) when nothing is stored yet or when
//! `--refresh` asks for it. Reading first keeps vendor calls for when they add something: the
//! download-tracker refreshes watched symbols anyway.

use anyhow::Context;
use chrono::{Duration, Utc};
use domain::{CompanyProfile, Symbol};

use crate::app::App;
use crate::cli::{DisplayFormat, NewsArgs, ProfileArgs};
use crate::output;

/// Prints the stored news of a symbol, fetching it first when none is stored or on `--refresh`.
///
/// # Errors
/// When a needed fetch fails (every provider's reason), or the database fails.
pub async fn news(app: &App, args: NewsArgs) -> anyhow::Result<()> {
    let symbol = &args.symbol;
    let stored = app.storage.news(symbol, args.limit).await.context("cannot read the stored news")?;
    let items = if args.refresh || stored.is_empty() {
        let chain = app.chain(args.provider)?;
        let to = Utc::now();
        let from = to - Duration::days(i64::from(args.days));
        let served =
            chain.news(symbol, from, to).await.with_context(|| format!("cannot fetch news of {symbol}"))?;
        let new = app.storage.save_news(&served.value).await.context("cannot store the news")?;
        eprintln!(
            "Fetched {} articles of {symbol} from {} ({new} new).",
            served.value.len(),
            served.provider
        );
        app.storage.news(symbol, args.limit).await.context("cannot read the stored news")?
    } else {
        stored
    };
    match args.format {
        DisplayFormat::Json => println!("{}", serde_json::to_string_pretty(&items)?),
        DisplayFormat::Table => {
            let mut table =
                output::table(&["published (UTC)", "headline", "source", "sentiment", "provider"]);
            for item in &items {
                table.add_row(vec![
                    item.published_at.format("%Y-%m-%d %H:%M").to_string().into(),
                    item.headline.clone().into(),
                    item.source.clone().unwrap_or_default().into(),
                    output::number(item.sentiment, 2),
                    item.provider.to_string().into(),
                ]);
            }
            println!("{table}");
            if items.is_empty() {
                eprintln!("No news of {symbol} in the last {} days.", args.days);
            }
        }
    }
    Ok(())
}

/// Prints the stored profile of a symbol, fetching it first when none is stored or on
/// `--refresh`.
///
/// # Errors
/// When no profile is stored and the fetch fails (every provider's reason), or the database
/// fails.
pub async fn profile(app: &App, args: ProfileArgs) -> anyhow::Result<()> {
    let symbol = &args.symbol;
    let stored = if args.refresh {
        None
    } else {
        app.storage.profile(symbol).await.context("cannot read the profile")?
    };
    let profile = match stored {
        Some(profile) => profile,
        None => fetch_profile(app, symbol, args.provider).await?,
    };
    match args.format {
        DisplayFormat::Json => println!("{}", serde_json::to_string_pretty(&profile)?),
        DisplayFormat::Table => {
            let mut table = output::table(&["field", "value"]);
            let text = |value: &Option<String>| value.clone().unwrap_or_else(|| "—".to_owned());
            for (field, value) in [
                ("symbol", symbol.to_string()),
                ("name", text(&profile.name)),
                ("exchange", text(&profile.exchange)),
                ("currency", text(&profile.currency)),
                ("country", text(&profile.country)),
                ("sector", text(&profile.sector)),
                ("industry", text(&profile.industry)),
                ("market cap", profile.market_cap.map_or_else(|| "—".to_owned(), |m| format!("{m:.0}"))),
                ("website", text(&profile.website)),
                ("provider", profile.provider.map_or_else(|| "—".to_owned(), |p| p.to_string())),
            ] {
                table.add_row(vec![field.to_owned(), value]);
            }
            println!("{table}");
            if let Some(description) = &profile.description {
                println!("\n{description}");
            }
        }
    }
    Ok(())
}

async fn fetch_profile(
    app: &App,
    symbol: &Symbol,
    only: Option<domain::ProviderId>,
) -> anyhow::Result<CompanyProfile> {
    let chain = app.chain(only)?;
    let served =
        chain.profile(symbol).await.with_context(|| format!("cannot fetch the profile of {symbol}"))?;
    app.storage.save_profile(&served.value).await.context("cannot store the profile")?;
    Ok(served.value)
}

//! `tickerwatch watchlist add|remove|list`.

use crate::app::App;
use crate::cli::WatchlistCommand;
use crate::output;

/// Runs a watchlist subcommand.
///
/// # Errors
/// When the database fails.
pub async fn run(app: &App, command: WatchlistCommand) -> anyhow::Result<()> {
    match command {
        WatchlistCommand::Add { symbols } => {
            for symbol in symbols {
                let added = app.storage.add_to_watchlist(&symbol).await?;
                println!("{symbol}: {}", if added { "added" } else { "already on the watchlist" });
            }
        }
        WatchlistCommand::Remove { symbols } => {
            for symbol in symbols {
                let removed = app.storage.remove_from_watchlist(&symbol).await?;
                println!(
                    "{symbol}: {}",
                    if removed { "removed (stored bars are kept)" } else { "not on the watchlist" }
                );
            }
        }
        WatchlistCommand::List => {
            let entries = app.storage.watchlist().await?;
            let mut table = output::table(&["symbol", "added"]);
            for entry in &entries {
                table.add_row(vec![
                    entry.symbol.to_string(),
                    entry.added_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                ]);
            }
            println!("{table}");
            println!("{} symbol(s)", entries.len());
        }
    }
    Ok(())
}

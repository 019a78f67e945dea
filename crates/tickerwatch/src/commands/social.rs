//! `tickerwatch scan` and `tickerwatch trending`: Reddit (or the offline sample) mentions.

use chrono::Utc;
use domain::ScanStatus;
use jobs::RedditScan;

use crate::app::App;
use crate::cli::{ScanArgs, TrendingArgs};
use crate::commands::jobs::run_in_process;
use crate::output;

/// Runs the reddit-scan job here (with the given overrides), then prints what is trending over
/// the last 24 hours; false when the scan did not complete (blocked or failed).
///
/// # Errors
/// When the job cannot be built or run.
pub async fn scan(app: &App, args: ScanArgs) -> anyhow::Result<bool> {
    let mut config = app.config.clone();
    if !args.subreddits.is_empty() {
        config.social.subreddits = args.subreddits;
    }
    if let Some(limit) = args.limit {
        config.social.limit_per_subreddit = limit;
    }
    let run = run_in_process(app, &config, RedditScan::NAME, None).await?;
    trending(app, &TrendingArgs { window: chrono::Duration::hours(24), limit: 20 }).await?;
    if let Some(error) = &run.error {
        eprintln!("scan {}: {error}", run.status);
    }
    Ok(run.status == storage::RunStatus::Succeeded)
}

/// Prints the trending table and the latest scan's coverage.
///
/// # Errors
/// When the database fails.
pub async fn trending(app: &App, args: &TrendingArgs) -> anyhow::Result<()> {
    let until = Utc::now();
    let rows = app.storage.trending(until - args.window, until, Some(args.limit)).await?;
    let mut table =
        output::table(&["symbol", "mentions", "authors", "sentiment", "bullish", "bearish", "spike"]);
    for row in &rows {
        table.add_row(vec![
            row.symbol.clone().into(),
            output::count(row.mentions),
            output::count(row.unique_authors),
            output::number(Some(row.mean_sentiment), 2),
            output::count(row.bullish),
            output::count(row.bearish),
            output::number(Some(row.spike_score), 1),
        ]);
    }
    println!("{table}");
    match app.storage.latest_social_scan().await? {
        Some(scan) => {
            let status = match scan.status {
                ScanStatus::Blocked => "BLOCKED (mention counts are incomplete)",
                ScanStatus::Failed => "FAILED (mention counts are incomplete)",
                ScanStatus::Complete => "complete",
            };
            println!(
                "Latest scan {} at {}: {} of r/{}, {} posts, {} mentions, {status}{}",
                scan.id,
                scan.finished_at.format("%Y-%m-%d %H:%M UTC"),
                scan.source,
                scan.subreddits.join(", r/"),
                scan.posts_read,
                scan.mentions_found,
                scan.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            );
        }
        None => println!("No scan yet; run `tickerwatch scan`."),
    }
    Ok(())
}

//! `tickerwatch providers`: each provider's health, as `GET /api/providers` reports it.
//!
//! Requests today and the daily budget left come from the database (every process's requests);
//! last success, last error and back-off are what this process saw, so on a fresh command they
//! are empty: a running server's are at `GET /api/providers`.

use chrono::{DateTime, Utc};
use comfy_table::Cell;

use crate::app::App;
use crate::cli::{DisplayFormat, ProvidersArgs};
use crate::output;

/// Prints one row (or JSON object) per provider; keys never appear, only whether one is set.
///
/// # Errors
/// When a provider's settings are invalid.
pub async fn run(app: &App, args: &ProvidersArgs) -> anyhow::Result<()> {
    let chain = app.chain(None).await?;
    let report = server::provider_health(&chain, &app.storage).await;
    if args.format == DisplayFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let mut table = output::table(&[
        "provider",
        "status",
        "requests today",
        "day left",
        "minute left",
        "last success",
        "last error",
        "backing off until",
    ]);
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or_else(|| "—".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
    };
    let budget = |left: Option<u64>, of: Option<u32>| match (left, of) {
        (Some(left), Some(of)) => output::count(format!("{left}/{of}")),
        _ => output::count("—"),
    };
    for health in &report {
        let last_error = health
            .last_error
            .as_ref()
            .map_or_else(|| "—".to_owned(), |e| format!("{}: {}", time(Some(e.at)), e.message));
        table.add_row(vec![
            Cell::new(&health.provider),
            Cell::new(health.status),
            output::count(health.requests_today),
            budget(health.budget.day_left, health.budget.per_day),
            budget(health.budget.minute_left.map(u64::from), health.budget.per_minute),
            Cell::new(time(health.last_success)),
            Cell::new(last_error),
            Cell::new(time(health.backing_off_until)),
        ]);
    }
    println!("{table}");
    Ok(())
}

//! `tickerwatch bars`: stored bars as a table, CSV or JSON. CSV and JSON stream row by row from
//! the database, so printing ten years of minute bars does not load them into memory.

use std::io::Write;

use anyhow::{Context, bail};
use chrono::{Duration, NaiveTime};
use futures::TryStreamExt;
use storage::BarQuery;

use crate::app::App;
use crate::cli::{BarsArgs, OutputFormat};
use crate::output;

/// Prints the bars.
///
/// # Errors
/// For a bad date window or a database failure.
pub async fn run(app: &App, args: BarsArgs) -> anyhow::Result<()> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        bail!("--from {from} is after --to {to}");
    }
    let query = BarQuery {
        symbol: args.symbol.clone(),
        interval: args.interval,
        from: args.from.map(|d| d.and_time(NaiveTime::MIN).and_utc()),
        to: args.to.map(|d| d.and_time(NaiveTime::MIN).and_utc() + Duration::days(1) - Duration::seconds(1)),
        provider: args.provider,
        limit: args.limit,
    };
    let intraday = args.interval.is_intraday();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rows = app.storage.stream_bars(&query);
    let mut n_rows = 0u64;
    match args.format {
        OutputFormat::Table => {
            let mut table =
                output::table(&["date", "open", "high", "low", "close", "adj close", "volume", "provider"]);
            while let Some(bar) = rows.try_next().await? {
                n_rows += 1;
                table.add_row(vec![
                    output::timestamp(bar.ts, intraday).into(),
                    output::number(bar.open, 2),
                    output::number(bar.high, 2),
                    output::number(bar.low, 2),
                    output::number(bar.close, 2),
                    output::number(bar.adj_close, 4),
                    output::number(bar.volume, 0),
                    bar.provider.to_string().into(),
                ]);
            }
            writeln!(out, "{table}")?;
            writeln!(out, "{n_rows} bar(s) of {} {}", args.symbol, args.interval)?;
        }
        OutputFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            writer.write_record([
                "symbol",
                "interval",
                "ts",
                "open",
                "high",
                "low",
                "close",
                "adj_close",
                "volume",
                "provider",
            ])?;
            while let Some(bar) = rows.try_next().await? {
                n_rows += 1;
                writer.write_record([
                    args.symbol.as_str(),
                    args.interval.as_str(),
                    &bar.ts.to_rfc3339(),
                    &output::optional(bar.open),
                    &output::optional(bar.high),
                    &output::optional(bar.low),
                    &output::optional(bar.close),
                    &output::optional(bar.adj_close),
                    &output::optional(bar.volume),
                    bar.provider.as_str(),
                ])?;
            }
            writer.flush()?;
        }
        OutputFormat::Json => {
            write!(out, "[")?;
            while let Some(bar) = rows.try_next().await? {
                if n_rows > 0 {
                    write!(out, ",")?;
                }
                n_rows += 1;
                let row = serde_json::json!({
                    "symbol": args.symbol, "interval": args.interval, "ts": bar.ts, "open": bar.open,
                    "high": bar.high, "low": bar.low, "close": bar.close, "adj_close": bar.adj_close,
                    "volume": bar.volume, "provider": bar.provider, "flag": bar.flag,
                });
                write!(out, "\n  {row}")?;
            }
            writeln!(out, "\n]")?;
        }
    }
    out.flush().context("cannot write to stdout")?;
    if n_rows == 0 && args.format == OutputFormat::Table {
        eprintln!("No stored bars match; fetch some with `tickerwatch fetch {}`.", args.symbol);
    }
    Ok(())
}

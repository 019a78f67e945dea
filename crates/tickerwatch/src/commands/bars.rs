//! `tickerwatch bars`: stored bars as a table, CSV or JSON. CSV and JSON are written by the
//! export crate's table writer, so they have exactly the columns and text of exports (`date` for
//! trading days, `ts` for intraday bars, integer volume, `partial`, `flag`), and stream from the
//! database in chunks, so printing ten years of minute bars does not load them into memory.

use std::io::Write;

use anyhow::{Context, bail};
use domain::Exchange;
use export::{BarTableWriter, TextTable};
use futures::TryStreamExt;
use storage::{BarQuery, DisagreementQuery};

/// Bars handed to the table writer at a time.
const CHUNK_ROWS: usize = 1024;

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
    let intraday = args.interval.is_intraday();
    // Trading days are keyed by date; intraday bars by instant, from the first day's local
    // midnight on the exchange to the last day's end.
    let (from, to) = Exchange::for_symbol(&args.symbol).key_bounds(args.interval, args.from, args.to);
    let query = BarQuery {
        symbol: args.symbol.clone(),
        interval: args.interval,
        from,
        to,
        provider: args.provider,
        limit: args.limit,
    };
    let time_column = if intraday { "ts" } else { "date" };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rows = app.storage.stream_bars(&query);
    let (mut n_rows, mut n_partial) = (0u64, 0u64);
    match args.format {
        OutputFormat::Table => {
            let mut table = output::table(&[
                time_column,
                "open",
                "high",
                "low",
                "close",
                "adj close",
                "volume",
                "provider",
                "",
            ]);
            while let Some(bar) = rows.try_next().await? {
                n_rows += 1;
                n_partial += u64::from(bar.partial);
                table.add_row(vec![
                    output::timestamp(bar.ts, intraday).into(),
                    output::number(bar.open, 2),
                    output::number(bar.high, 2),
                    output::number(bar.low, 2),
                    output::number(bar.close, 2),
                    output::number(bar.adj_close, 4),
                    output::integer(bar.volume),
                    bar.provider.to_string().into(),
                    if bar.partial { "partial" } else { "" }.into(),
                ]);
            }
            writeln!(out, "{table}")?;
            let partial = if n_partial > 0 {
                format!(" ({n_partial} partial: session not closed)")
            } else {
                String::new()
            };
            writeln!(out, "{n_rows} bar(s) of {} {}{partial}", args.symbol, args.interval)?;
        }
        OutputFormat::Csv | OutputFormat::Json => {
            // The same writer as csv and ndjson exports: same columns, same text, cells
            // neutralised in csv. Rows stream through in chunks.
            let format = if args.format == OutputFormat::Csv { TextTable::Csv } else { TextTable::JsonArray };
            let mut table = BarTableWriter::new(format, args.interval, &mut out)?;
            let mut chunk = Vec::with_capacity(CHUNK_ROWS);
            while let Some(bar) = rows.try_next().await? {
                n_rows += 1;
                chunk.push(bar);
                if chunk.len() == CHUNK_ROWS {
                    table.write(&args.symbol, &chunk)?;
                    chunk.clear();
                }
            }
            table.write(&args.symbol, &chunk)?;
            table.finish()?;
        }
    }
    drop(rows);
    out.flush().context("cannot write to stdout")?;
    if n_rows == 0 && args.format == OutputFormat::Table {
        eprintln!("No stored bars match; fetch some with `tickerwatch fetch {}`.", args.symbol);
    }
    if args.show_disagreements {
        print_disagreements(app, &args, from, to, intraday).await?;
    }
    Ok(())
}

/// The disagreements between providers over the printed days: to stdout after a table, to
/// stderr after csv or json (so the data stays parseable).
async fn print_disagreements(
    app: &App,
    args: &BarsArgs,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    intraday: bool,
) -> anyhow::Result<()> {
    let query = DisagreementQuery {
        interval: Some(args.interval),
        from,
        to,
        ..DisagreementQuery::new(args.symbol.clone())
    };
    let disagreements = app.storage.disagreements(&query).await?;
    let mut table = output::table(&[
        if intraday { "ts" } else { "date" },
        "field",
        "kept",
        "value",
        "other",
        "value",
        "difference",
    ]);
    for d in &disagreements {
        let decimals = if d.field == domain::reconcile::BarField::Volume { 0 } else { 4 };
        table.add_row(vec![
            output::timestamp(d.ts, intraday).into(),
            d.field.to_string().into(),
            d.kept_provider.to_string().into(),
            output::number(Some(d.kept_value), decimals),
            d.other_provider.to_string().into(),
            output::number(Some(d.other_value), decimals),
            comfy_table::Cell::new(format!("{:+.2}%", d.relative_difference() * 100.0))
                .set_alignment(comfy_table::CellAlignment::Right),
        ]);
    }
    let text = if disagreements.is_empty() {
        format!("No disagreements between providers for {} {} in this window.", args.symbol, args.interval)
    } else {
        format!(
            "{table}\n{} disagreement(s) between providers (kept: the stored, preferred provider's value).",
            disagreements.len()
        )
    };
    if args.format == OutputFormat::Table {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(())
}

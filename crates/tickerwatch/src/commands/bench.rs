//! `tickerwatch bench ingest`: the ingest path's speed, measured on synthetic Yahoo chart JSON
//! (500 symbols × 10 years of daily bars by default) parsed by the real Yahoo parser and upserted
//! by the real storage layer into a fresh SQLite file. Each symbol's JSON is generated, parsed
//! and written before the next is made, so peak memory reflects the pipeline, not the input.
//! Run it on a release build: `cargo run --release -p tickerwatch -- bench ingest`.
//!
//! `tickerwatch bench export` exports synthetic daily bars from a SQLite file (filled on first
//! use); `tickerwatch bench seed` only fills one, with the same bars, for the HTTP load test
//! (`bench/http-load.sh`).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use domain::{Interval, Symbol};
use storage::{DatabaseConfig, Storage};

use crate::cli::IngestBenchArgs;

/// Trading days per year in the synthetic series.
const DAYS_PER_YEAR: usize = 252;

/// A small deterministic generator, so every run parses the same bytes.
struct XorShift(u64);

impl XorShift {
    fn next_unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Yahoo chart v8 JSON for one symbol, shaped like the real thing (float32 noise included).
fn chart_json(symbol: &str, n_bars: usize, seed: u64) -> String {
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = 1_262_615_400_i64; // 2010-01-04 14:30 UTC, a session open
    let (mut ts, mut open, mut high, mut low, mut close, mut volume, mut adj) = (
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let mut price = 50.0 + rng.next_unit() * 100.0;
    for i in 0..n_bars {
        let sep = if i == 0 { "" } else { "," };
        let o = price;
        let c = (o * (1.0 + (rng.next_unit() - 0.5) * 0.04)).max(1.0);
        let h = o.max(c) * (1.0 + rng.next_unit() * 0.01);
        let l = o.min(c) * (1.0 - rng.next_unit() * 0.01);
        let v = (1_000_000.0 + rng.next_unit() * 9_000_000.0) as u64;
        let _ = write!(ts, "{sep}{}", start + (i as i64) * 86_400);
        let _ = write!(open, "{sep}{}", o as f32 as f64);
        let _ = write!(high, "{sep}{}", h as f32 as f64);
        let _ = write!(low, "{sep}{}", l as f32 as f64);
        let _ = write!(close, "{sep}{}", c as f32 as f64);
        let _ = write!(volume, "{sep}{v}");
        let _ = write!(adj, "{sep}{}", (c * 0.98) as f32 as f64);
        price = c;
    }
    format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"{symbol}","exchangeName":"NMS","instrumentType":"EQUITY","regularMarketPrice":{price},"chartPreviousClose":{price},"gmtoffset":-18000,"timezone":"EST","exchangeTimezoneName":"America/New_York","dataGranularity":"1d","range":""}},"timestamp":[{ts}],"indicators":{{"quote":[{{"open":[{open}],"high":[{high}],"low":[{low}],"close":[{close}],"volume":[{volume}]}}],"adjclose":[{{"adjclose":[{adj}]}}]}}}}],"error":null}}}}"#
    )
}

/// Peak resident set size of this process (VmHWM), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn per_second(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Runs the ingest benchmark and prints its figures.
///
/// # Errors
/// When the database cannot be created or a parse/upsert fails.
pub async fn ingest(args: IngestBenchArgs) -> anyhow::Result<()> {
    let temp_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let db_path = args.db.clone().unwrap_or_else(|| temp_dir.path().join("bench.db"));
    let url = format!("sqlite://{}", db_path.display());
    let config = DatabaseConfig { url: url.clone(), ..DatabaseConfig::default() };
    let storage = Storage::connect(&url, &config).await?;
    storage.migrate().await?;
    let n_bars_each = args.years * DAYS_PER_YEAR;
    let now = chrono::Utc::now();
    let preference = domain::reconcile::ProviderPreference::default();
    let (mut parse_time, mut upsert_time) = (Duration::ZERO, Duration::ZERO);
    let (mut n_bars, mut n_bytes, mut stored) = (0usize, 0usize, 0u64);
    let started = Instant::now();
    for i in 0..args.symbols {
        let symbol = Symbol::parse(&format!("S{i:04}"))?;
        let body = chart_json(symbol.as_str(), n_bars_each, i as u64 + 1);
        n_bytes += body.len();
        let t0 = Instant::now();
        let bars = providers::yahoo::parse_chart(&symbol, Interval::Day1, body.as_bytes(), now)
            .map_err(|e| anyhow::anyhow!("parse failed for {symbol}: {e}"))?
            .bars;
        parse_time += t0.elapsed();
        let t1 = Instant::now();
        storage.upsert_bars(&symbol, Interval::Day1, &bars, &preference).await?;
        upsert_time += t1.elapsed();
        n_bars += bars.len();
        stored += storage.bar_count(&symbol, Interval::Day1).await?;
    }
    let total = started.elapsed();
    storage.close().await;
    println!(
        "ingest benchmark: {} symbols x {} daily bars = {n_bars} bars ({:.1} MB of JSON)",
        args.symbols,
        n_bars_each,
        n_bytes as f64 / 1e6
    );
    println!(
        "  parse  : {:>12.0} bars/s  ({:.2} s, {:.0} MB/s)",
        per_second(n_bars, parse_time),
        parse_time.as_secs_f64(),
        n_bytes as f64 / 1e6 / parse_time.as_secs_f64().max(1e-9)
    );
    println!(
        "  upsert : {:>12.0} bars/s  ({:.2} s, SQLite WAL, one transaction per symbol)",
        per_second(n_bars, upsert_time),
        upsert_time.as_secs_f64()
    );
    println!(
        "  total  : {:>12.0} bars/s  ({:.2} s incl. JSON generation and row counts)",
        per_second(n_bars, total),
        total.as_secs_f64()
    );
    println!("  stored : {stored} rows");
    if let Some(peak) = peak_rss_bytes() {
        println!("  peak RSS: {:.1} MB", peak as f64 / 1_048_576.0);
    }
    anyhow::ensure!(stored as usize == n_bars, "stored {stored} rows but parsed {n_bars} bars");
    Ok(())
}

/// The first synthetic bar's day: Monday 2010-01-04.
const FIRST_SYNTHETIC_DAY: i64 = 1_262_563_200;

/// Synthetic daily bars of the export and HTTP benchmarks: `days` bars per symbol, one per
/// weekday from 2010-01-04 (Monday), so a year holds about 261 of them as on an exchange.
fn synthetic_bars(symbol_idx: usize, days: usize) -> Vec<domain::Bar> {
    let mut rng = XorShift((symbol_idx as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = chrono::DateTime::from_timestamp(FIRST_SYNTHETIC_DAY, 0).unwrap_or_default();
    let mut price = 20.0 + rng.next_unit() * 200.0;
    (0..days)
        .map(|day| {
            let open = price;
            let close = (open * (1.0 + (rng.next_unit() - 0.5) * 0.04)).max(1.0);
            let high = open.max(close) * (1.0 + rng.next_unit() * 0.01);
            let low = open.min(close) * (1.0 - rng.next_unit() * 0.01);
            price = close;
            let (weeks, weekday) = (day as i64 / 5, day as i64 % 5);
            domain::Bar {
                ts: start + chrono::Duration::days(weeks * 7 + weekday),
                open: Some(open),
                high: Some(high),
                low: Some(low),
                close: Some(close),
                adj_close: Some(close * 0.98),
                volume: Some((1_000_000.0 + rng.next_unit() * 9_000_000.0).round() as i64),
                provider: domain::ProviderId::Sample,
                partial: false,
                flag: None,
            }
        })
        .collect()
}

/// The benchmark symbols `S0000`, `S0001`, …
fn synthetic_symbols(n: usize) -> anyhow::Result<Vec<Symbol>> {
    Ok((0..n).map(|i| Symbol::parse(&format!("S{i:04}"))).collect::<Result<_, _>>()?)
}

/// Opens (creating and migrating) the SQLite file `db`; when it did not exist, fills it with
/// `days` synthetic daily bars of each of `symbols`.
async fn open_synthetic(db: &std::path::Path, symbols: &[Symbol], days: usize) -> anyhow::Result<Storage> {
    let url = format!("sqlite://{}", db.display());
    let config = DatabaseConfig { url: url.clone(), ..DatabaseConfig::default() };
    let fresh = !db.exists();
    let storage = Storage::connect(&url, &config).await?;
    storage.migrate().await?;
    if fresh {
        fill_synthetic(&storage, symbols, days).await?;
    }
    Ok(storage)
}

/// Resets this process's peak-RSS counter (Linux `clear_refs` 5), so the figure printed
/// afterwards belongs to the export alone, not to filling the database.
fn reset_peak_rss() {
    if let Err(error) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("warning: cannot reset peak RSS ({error}); the figure includes set-up");
    }
}

/// Runs the export benchmark and prints its figures.
///
/// # Errors
/// When the database cannot be created or the export fails.
pub async fn export(args: crate::cli::ExportBenchArgs) -> anyhow::Result<()> {
    let symbols = synthetic_symbols(args.symbols)?;
    let storage = open_synthetic(&args.db, &symbols, args.days).await?;
    let temp_dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| temp_dir.path().join(format!("bench.{}", args.format.extension())));
    let request = export::ExportRequest {
        symbols,
        interval: Interval::Day1,
        from: None,
        to: None,
        format: args.format,
        notes: Vec::new(),
    };
    reset_peak_rss();
    let started = Instant::now();
    let written = export::export_to_file(&storage, &request, &output, None).await?;
    let elapsed = started.elapsed();
    storage.close().await;
    println!(
        "export benchmark: {} -> {} rows in {:.2} s = {:.0} rows/s, {:.1} MB written",
        args.format,
        written.rows,
        elapsed.as_secs_f64(),
        per_second(written.rows as usize, elapsed),
        written.bytes as f64 / 1e6
    );
    if let Some(peak) = peak_rss_bytes() {
        println!("  peak RSS during export: {:.1} MB", peak as f64 / 1_048_576.0);
    }
    Ok(())
}

/// Fills a SQLite file with the export benchmark's bars and says what it holds.
///
/// # Errors
/// When the database cannot be created or filled.
pub async fn seed(args: crate::cli::SeedBenchArgs) -> anyhow::Result<()> {
    let symbols = synthetic_symbols(args.symbols)?;
    let (storage, place) = match (&args.url, &args.db) {
        (Some(url), _) => (open_synthetic_url(url, &symbols, args.days).await?, storage::redact_url(url)),
        (None, Some(db)) => (open_synthetic(db, &symbols, args.days).await?, db.display().to_string()),
        (None, None) => anyhow::bail!("give --db or --url"),
    };
    let (count, last) = match symbols.first() {
        Some(symbol) => (
            storage.bar_count(symbol, Interval::Day1).await?,
            storage.last_bar_ts(symbol, Interval::Day1).await?,
        ),
        None => (0, None),
    };
    storage.close().await;
    println!(
        "{place}: {} symbols (S0000…), {count} daily bars each, {} to {}",
        symbols.len(),
        chrono::DateTime::from_timestamp(FIRST_SYNTHETIC_DAY, 0).unwrap_or_default().date_naive(),
        last.map_or_else(|| "-".to_owned(), |ts| ts.date_naive().to_string())
    );
    Ok(())
}

/// [`open_synthetic`] for any database URL: filled unless its first symbol has bars already.
async fn open_synthetic_url(url: &str, symbols: &[Symbol], days: usize) -> anyhow::Result<Storage> {
    let config = DatabaseConfig { url: url.to_owned(), ..DatabaseConfig::default() };
    let storage = Storage::connect(url, &config).await?;
    storage.migrate().await?;
    let filled = match symbols.first() {
        Some(first) => storage.bar_count(first, Interval::Day1).await? > 0,
        None => true,
    };
    if !filled {
        fill_synthetic(&storage, symbols, days).await?;
    }
    Ok(storage)
}

async fn fill_synthetic(storage: &Storage, symbols: &[Symbol], days: usize) -> anyhow::Result<()> {
    let preference = domain::reconcile::ProviderPreference::default();
    eprintln!("Filling the database with {} symbols x {days} days...", symbols.len());
    for (i, symbol) in symbols.iter().enumerate() {
        storage.upsert_bars(symbol, Interval::Day1, &synthetic_bars(i, days), &preference).await?;
    }
    Ok(())
}

/// The bar of `symbol` stamped `at` or the last one before it.
async fn last_bar(
    storage: &Storage,
    symbol: &Symbol,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<domain::Bar>> {
    let query = storage::BarQuery {
        symbol: symbol.clone(),
        interval: Interval::Day1,
        from: Some(at - chrono::Duration::days(7)),
        to: Some(at),
        provider: None,
        limit: None,
    };
    Ok(storage.bars(&query).await?.pop())
}

/// The monitor benchmark: `rules_per_symbol` rules on each of `symbols` symbols, evaluated by
/// `jobs::AlertMonitor` as a poll would: pass 1 arms every rule (a state written per rule and
/// symbol), pass 2 is a poll with nothing new (reads only), pass 3 follows a new bar for every
/// symbol (each rule reads it, fires or not, and writes its state). Prints each pass's time.
///
/// # Errors
/// When the database cannot be created or a pass fails.
pub async fn monitor(args: crate::cli::MonitorBenchArgs) -> anyhow::Result<()> {
    use monitor::{AverageKind, Condition, Direction, Frequency, Line, Rule};

    let symbols = synthetic_symbols(args.symbols)?;
    let storage = open_synthetic(&args.db, &symbols, args.days).await?;
    for rule in storage.alert_rules().await? {
        storage.delete_alert_rule(rule.id).await?;
    }
    let Some(last) = storage.last_bar_ts(&symbols[0], Interval::Day1).await? else {
        anyhow::bail!("{} holds no bars", args.db.display());
    };
    let kinds = [
        |close: f64| Condition::Price { direction: Direction::Above, level: close * 1.02 },
        |_| Condition::Rsi { direction: Direction::Below, level: 30.0, period: 14 },
        |_| Condition::Cross {
            fast: Line::Average { kind: AverageKind::Sma, period: 20 },
            slow: Line::Average { kind: AverageKind::Sma, period: 50 },
            direction: Direction::Above,
        },
        |_| Condition::VolumeSpike { multiple: 1.5, days: 20 },
        |_| Condition::NewExtreme { direction: Direction::Above },
    ];
    let mut n_rules = 0;
    for symbol in &symbols {
        let close = last_bar(&storage, symbol, last).await?.and_then(|b| b.close).unwrap_or(1.0);
        for condition in kinds.iter().cycle().take(args.rules_per_symbol).map(|kind| kind(close)) {
            let rule = storage::AlertRule {
                symbol: Some(symbol.clone()),
                name: None,
                rule: Rule {
                    condition,
                    frequency: Frequency::Every { cooldown_secs: 0 },
                    hysteresis: 0.0,
                    expires_at: None,
                    paused: false,
                },
                targets: Vec::new(),
            };
            storage.create_alert_rule(&rule).await?;
            n_rules += 1;
        }
    }
    let monitor = jobs::AlertMonitor::new(storage.clone(), None);
    reset_peak_rss();
    let evening = |day: chrono::DateTime<chrono::Utc>| day + chrono::Duration::hours(22);
    let report = |label: &str, pass: jobs::MonitorPass, elapsed: Duration| {
        println!(
            "{label:<44} {:>8.1} ms  {} rules, {} evaluations, {} alerts",
            elapsed.as_secs_f64() * 1000.0,
            pass.rules,
            pass.evaluations,
            pass.alerts.len()
        );
    };
    println!("{n_rules} rules over {} symbols, {} daily bars each", symbols.len(), args.days);
    let started = Instant::now();
    let pass = monitor.evaluate(evening(last)).await?;
    report("pass 1: arm every rule", pass, started.elapsed());
    let started = Instant::now();
    let pass = monitor.evaluate(evening(last) + chrono::Duration::minutes(5)).await?;
    report("pass 2: a poll with nothing new", pass, started.elapsed());
    // The next weekday: one new bar per symbol, 3 % up on heavy volume.
    let next = last
        + chrono::Duration::days(if chrono::Datelike::weekday(&last) == chrono::Weekday::Fri {
            3
        } else {
            1
        });
    let preference = domain::reconcile::ProviderPreference::default();
    for symbol in &symbols {
        let Some(previous) = last_bar(&storage, symbol, last).await? else { continue };
        let close = previous.close.unwrap_or(1.0) * 1.03;
        let bar = domain::Bar {
            ts: next,
            open: previous.close,
            high: Some(close * 1.01),
            low: previous.close,
            close: Some(close),
            volume: previous.volume.map(|v| v * 2),
            ..previous
        };
        storage.upsert_bars(symbol, Interval::Day1, &[bar], &preference).await?;
    }
    let started = Instant::now();
    let pass = monitor.evaluate(evening(next)).await?;
    report("pass 3: a new bar for every symbol", pass, started.elapsed());
    println!("peak RSS {:.1} MB", peak_rss_bytes().unwrap_or_default() as f64 / 1e6);
    storage.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_chart_parses_with_the_real_parser() {
        let symbol = Symbol::parse("S0001").unwrap();
        let body = chart_json("S0001", 30, 7);
        let bars =
            providers::yahoo::parse_chart(&symbol, Interval::Day1, body.as_bytes(), chrono::Utc::now())
                .unwrap()
                .bars;
        assert_eq!(bars.len(), 30);
        assert!(bars.iter().all(|b| b.low <= b.close && b.close <= b.high));
    }

    #[test]
    fn synthetic_bars_fall_on_weekdays() {
        use chrono::Datelike;
        let bars = synthetic_bars(3, 2520);
        assert_eq!(bars[0].date().to_string(), "2010-01-04");
        assert!(bars.iter().all(|b| b.date().weekday().number_from_monday() <= 5));
        assert!(bars.windows(2).all(|w| w[0].ts < w[1].ts));
        // Ten years of trading days.
        assert_eq!(bars[2519].date().year(), 2019);
    }
}

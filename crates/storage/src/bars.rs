use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use domain::reconcile::{BarField, Disagreement, ProviderPreference, reconcile};
use domain::{Bar, Exchange, Interval, ProviderId, Symbol, volume_from_f64};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::AssertSqlSafe;

use crate::rows::{
    RowExt, count_to_u64, from_unix, interval_col, now_unix, provider_col, sql_limit, time_col, to_unix,
};
use crate::watchlist::ENSURE_SYMBOL;
use crate::{Backend, Storage, StorageError};

/// Which bars to read. `from` and `to` are both inclusive; `None` means unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarQuery {
    pub symbol: Symbol,
    pub interval: Interval,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only the bars this provider served. Without it, every stored bar (each says its
    /// provider).
    pub provider: Option<ProviderId>,
    /// At most this many rows, counted from the earliest.
    pub limit: Option<u64>,
}

impl BarQuery {
    /// All bars of `symbol` at `interval`, from every provider.
    pub fn new(symbol: Symbol, interval: Interval) -> Self {
        Self { symbol, interval, from: None, to: None, provider: None, limit: None }
    }
}

/// One stored bar as [`Storage::visit_bars`] reads it: its text borrowed from the row, so
/// reading a bar allocates nothing. Fields as in [`Bar`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarRow<'a> {
    pub ts: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub adj_close: Option<f64>,
    pub volume: Option<i64>,
    pub provider: ProviderId,
    pub partial: bool,
    pub flag: Option<&'a str>,
}

impl<'a> BarRow<'a> {
    /// A view of `bar`.
    pub fn of(bar: &'a Bar) -> Self {
        Self {
            ts: bar.ts,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            adj_close: bar.adj_close,
            volume: bar.volume,
            provider: bar.provider,
            partial: bar.partial,
            flag: bar.flag.as_deref(),
        }
    }

    /// An owned copy.
    pub fn to_bar(&self) -> Bar {
        Bar {
            ts: self.ts,
            open: self.open,
            high: self.high,
            low: self.low,
            close: self.close,
            adj_close: self.adj_close,
            volume: self.volume,
            provider: self.provider,
            partial: self.partial,
            flag: self.flag.map(str::to_owned),
        }
    }

    /// The trading day of a daily (or longer) bar; see [`Bar::date`].
    pub fn date(&self) -> NaiveDate {
        self.ts.date_naive()
    }
}

/// What [`Storage::upsert_bars`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertStats {
    /// Keys (trading days, for daily bars) that had no bar before.
    pub inserted: u64,
    /// Keys whose stored bar was replaced: a refetch from the same provider, a final bar for a
    /// partial one, or a more preferred provider's bar.
    pub updated: u64,
    /// Bars not written because a preferred provider's (or a final) bar is stored for the key.
    pub kept: u64,
    /// Field disagreements recorded between providers (see [`domain::reconcile`]).
    pub disagreements: u64,
}

/// Parameters per row of the bulk insert: symbol, interval, fetched_at, then ts, open, high, low,
/// close, adj_close, volume, provider, partial, flag.
const PARAMS_PER_ROW: usize = 13;
/// PostgreSQL binds symbol, interval and fetched_at once per statement (`$1`–`$3`) and only the
/// other ten per row, a quarter fewer parameters to encode and send.
const POSTGRES_PARAMS_PER_ROW: usize = 10;
/// Rows per statement for SQLite, whose bind-parameter limit is 32 766. A power of two so the
/// remainder decomposes into powers of two (see [`chunk_sizes`]).
const SQLITE_MAX_ROWS: usize = 2048;
/// Rows per statement for PostgreSQL, whose bind-parameter limit is 65 535.
const POSTGRES_MAX_ROWS: usize = 4096;
const _: () = assert!(PARAMS_PER_ROW * SQLITE_MAX_ROWS <= 32_766);
const _: () = assert!(3 + POSTGRES_PARAMS_PER_ROW * POSTGRES_MAX_ROWS <= 65_535);
const _: () = assert!(SQLITE_MAX_ROWS.is_power_of_two() && POSTGRES_MAX_ROWS.is_power_of_two());
/// Number of distinct statement sizes: 1, 2, 4, …, the larger maximum.
const SIZE_CLASSES: usize = POSTGRES_MAX_ROWS.trailing_zeros() as usize + 1;

/// The columns every bar read selects, in the order [`bar_from_row`] decodes them.
macro_rules! bar_columns {
    () => {
        "SELECT ts, open, high, low, close, adj_close, volume, provider, partial, flag FROM bars "
    };
}

const SELECT_BARS: &str = concat!(
    bar_columns!(),
    "WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts LIMIT $5"
);

/// [`SELECT_BARS`] with SQLite's own numbered placeholders, for the rusqlite bulk reader.
const BULK_SELECT_BARS: &str = concat!(
    bar_columns!(),
    "WHERE symbol = ?1 AND interval = ?2 AND ts >= ?3 AND ts <= ?4 ORDER BY ts LIMIT ?5"
);

/// [`SELECT_BARS_OF_PROVIDER`] for the rusqlite bulk reader.
const BULK_SELECT_BARS_OF_PROVIDER: &str = concat!(
    bar_columns!(),
    "WHERE symbol = ?1 AND interval = ?2 AND ts >= ?3 AND ts <= ?4 AND provider = ?6 ORDER BY ts LIMIT ?5"
);

const SELECT_BARS_OF_PROVIDER: &str = concat!(
    bar_columns!(),
    "WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 AND provider = $6 ORDER BY ts LIMIT $5"
);

/// The stored bars an upsert may collide with, read inside its transaction.
const SELECT_STORED_RANGE: &str =
    concat!(bar_columns!(), "WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 ORDER BY ts");

const DELETE_KEY_DISAGREEMENTS: &str =
    "DELETE FROM bar_disagreements WHERE symbol = $1 AND interval = $2 AND ts = $3";
const DELETE_PAIR_DISAGREEMENTS: &str =
    "DELETE FROM bar_disagreements WHERE symbol = $1 AND interval = $2 AND ts = $3 AND other_provider = $4";
const INSERT_DISAGREEMENT: &str = "INSERT INTO bar_disagreements \
     (symbol, interval, ts, field, other_provider, kept_provider, kept_value, other_value, recorded_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (symbol, interval, ts, field, other_provider) DO UPDATE SET \
     kept_provider = excluded.kept_provider, kept_value = excluded.kept_value, \
     other_value = excluded.other_value, recorded_at = excluded.recorded_at";

/// Splits `n` rows into statements of `max` rows, then the remainder into descending powers of
/// two. Every statement text therefore has one of [`SIZE_CLASSES`] shapes, all of which stay in
/// sqlx's prepared-statement cache, instead of one new (large) statement to parse per call.
fn chunk_sizes(mut n: usize, max: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= max { max } else { 1 << n.ilog2() };
        n -= size;
        Some(size)
    })
}

/// The bulk upsert statement for `rows` rows, built once per backend and power-of-two size.
///
/// The placeholders differ by backend, which is the only SQL difference in this crate. SQLite
/// gets anonymous `?` placeholders, every row binding its own symbol/interval/fetched_at:
/// SQLite resolves a numbered `$n` by scanning the list of parameter names, so binding a
/// statement with thousands of them is quadratic (measured: 6 000 rows/s with `$n` against
/// 600 000 rows/s with `?` at 2 048 rows per statement). PostgreSQL only knows `$n` and has no
/// such cost, so it shares `$1`–`$3` across rows.
///
/// Only bars that [`plan_writes`] decided to store reach this statement, so on a conflict the
/// row is replaced whole, provider included.
fn insert_sql(backend: Backend, rows: usize) -> Arc<str> {
    static SQLITE_CACHE: [OnceLock<Arc<str>>; SIZE_CLASSES] = [const { OnceLock::new() }; SIZE_CLASSES];
    static POSTGRES_CACHE: [OnceLock<Arc<str>>; SIZE_CLASSES] = [const { OnceLock::new() }; SIZE_CLASSES];
    let build = || -> Arc<str> {
        let mut sql = String::with_capacity(400 + rows * 64);
        sql.push_str(
            "INSERT INTO bars (symbol, interval, fetched_at, ts, open, high, low, close, adj_close, volume, provider, partial, flag) VALUES ",
        );
        for row in 0..rows {
            if row > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?,?)"),
                Backend::Postgres => {
                    sql.push_str("($1,$2,$3");
                    let first = 4 + row * POSTGRES_PARAMS_PER_ROW;
                    for param in first..first + POSTGRES_PARAMS_PER_ROW {
                        // Writing to a String cannot fail.
                        let _ = write!(sql, ",${param}");
                    }
                    sql.push(')');
                }
            }
        }
        sql.push_str(
            " ON CONFLICT (symbol, interval, ts) DO UPDATE SET \
             open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, \
             adj_close = excluded.adj_close, volume = excluded.volume, provider = excluded.provider, \
             partial = excluded.partial, flag = excluded.flag, fetched_at = excluded.fetched_at",
        );
        sql.into()
    };
    let cache = match backend {
        Backend::Sqlite => &SQLITE_CACHE,
        Backend::Postgres => &POSTGRES_CACHE,
    };
    match cache.get(rows.trailing_zeros() as usize) {
        Some(cell) if rows.is_power_of_two() => Arc::clone(cell.get_or_init(build)),
        _ => build(),
    }
}

/// Refuses NaN and infinities (see [`StorageError::NonFinite`]).
fn check_finite(symbol: &Symbol, bars: &[Bar]) -> Result<(), StorageError> {
    for bar in bars {
        let fields = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
            ("adj_close", bar.adj_close),
        ];
        if let Some((field, _)) = fields.into_iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            return Err(StorageError::NonFinite { symbol: symbol.clone(), ts: bar.ts, field });
        }
    }
    Ok(())
}

/// Two providers' bars of one key compared: where they differ, and which one stays.
#[derive(Debug, Clone, PartialEq)]
struct Comparison {
    ts: i64,
    kept: ProviderId,
    other: ProviderId,
    differences: Vec<(BarField, f64, f64)>,
}

/// What one upsert writes.
#[derive(Debug, Default)]
struct WritePlan<'a> {
    /// Bars to store, sorted by key, one per key.
    rows: Vec<&'a Bar>,
    /// Keys whose stored bar changes provider: their old comparisons no longer describe the
    /// stored bar and are dropped.
    provider_changed: Vec<i64>,
    comparisons: Vec<Comparison>,
    stats: UpsertStats,
}

/// Decides, key by key, which bar is stored: among the incoming bars of a key (a batch can hold
/// several providers' bars, as when an old database is converted) and against the stored bar
/// (`stored`, sorted by key). See [`domain::reconcile::reconcile`] for the rule.
fn plan_writes<'a>(incoming: &'a [Bar], stored: &[Bar], preference: &ProviderPreference) -> WritePlan<'a> {
    let mut sorted: Vec<&Bar> = incoming.iter().collect();
    if !sorted.windows(2).all(|w| w[0].ts < w[1].ts) {
        sorted.sort_by_key(|bar| bar.ts); // stable: equal keys keep their input order
    }
    let mut plan = WritePlan::default();
    let mut stored = stored.iter().peekable();
    let mut rest = sorted.as_slice();
    while let Some((first, tail)) = rest.split_first() {
        let same_key = tail.iter().take_while(|bar| bar.ts == first.ts).count();
        let (group, tail) = tail.split_at(same_key);
        rest = tail;
        let ts = to_unix(first.ts);
        // The batch's own bars of this key first.
        let mut winner: &Bar = first;
        for candidate in group {
            let verdict = reconcile(winner, candidate, preference);
            let (kept, other) = if verdict.replace { (*candidate, winner) } else { (winner, *candidate) };
            plan.push_comparison(ts, kept, other, verdict.differences);
            if verdict.replace {
                winner = candidate;
            }
        }
        // Then the stored bar of the key, if any.
        while stored.peek().is_some_and(|bar| bar.ts < first.ts) {
            stored.next();
        }
        match stored.peek().filter(|bar| bar.ts == first.ts) {
            None => {
                plan.stats.inserted += 1;
                plan.rows.push(winner);
            }
            Some(existing) => {
                let verdict = reconcile(existing, winner, preference);
                if verdict.replace {
                    plan.stats.updated += 1;
                    if existing.provider != winner.provider {
                        plan.provider_changed.push(ts);
                    }
                    plan.push_comparison(ts, winner, existing, verdict.differences);
                    plan.rows.push(winner);
                } else {
                    plan.stats.kept += 1;
                    plan.push_comparison(ts, existing, winner, verdict.differences);
                }
            }
        }
    }
    plan
}

impl WritePlan<'_> {
    /// Records a comparison between two providers' final bars (same-provider refetches and
    /// partial bars are not comparisons).
    fn push_comparison(&mut self, ts: i64, kept: &Bar, other: &Bar, differences: Vec<(BarField, f64, f64)>) {
        if kept.provider == other.provider || kept.partial || other.partial {
            return;
        }
        self.stats.disagreements += differences.len() as u64;
        self.comparisons.push(Comparison { ts, kept: kept.provider, other: other.provider, differences });
    }
}

/// Decodes a row of [`SELECT_BARS`] by position (`ts, open, high, low, close, adj_close, volume,
/// provider, partial, flag`): exports stream millions of these, and a name lookup per value was
/// a measurable share of the cost.
fn bar_from_row(row: &impl RowExt) -> Result<Bar, StorageError> {
    let provider = row.with_str_at(7, |text| text.parse::<ProviderId>().map_err(|e| (text.to_owned(), e)))?;
    Ok(Bar {
        ts: from_unix("ts", row.int_at(0)?)?,
        open: row.real_opt_at(1)?,
        high: row.real_opt_at(2)?,
        low: row.real_opt_at(3)?,
        close: row.real_opt_at(4)?,
        adj_close: row.real_opt_at(5)?,
        volume: row.int_opt_at(6)?,
        provider: provider.map_err(|(text, e)| StorageError::corrupt("provider", text, e))?,
        partial: row.int_at(8)? != 0,
        flag: row.text_opt_at(9)?,
    })
}

/// Which disagreements to read. `from` and `to` are inclusive bar keys; `None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisagreementQuery {
    pub symbol: Symbol,
    pub interval: Option<Interval>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
}

impl DisagreementQuery {
    /// Every disagreement of `symbol`.
    pub fn new(symbol: Symbol) -> Self {
        Self { symbol, interval: None, from: None, to: None, limit: None }
    }
}

impl Storage {
    /// Stores `bars` of `symbol` at `interval`, one bar per key (a trading day for daily bars;
    /// see `Bar::ts`), whatever the provider, and records where providers disagree. Also
    /// registers the symbol if it is new.
    ///
    /// For each key the rule of [`domain::reconcile::reconcile`] decides with `preference` (the
    /// order of `providers.order`): a refetch from the stored bar's provider replaces it, a final
    /// bar replaces a partial one, a more preferred provider's bar replaces a less preferred
    /// one, and otherwise the stored bar stays. When two providers' final bars differ beyond the
    /// tolerance, each differing field is stored as a disagreement (see
    /// [`Storage::disagreements`]). Bars need not be sorted and may hold several bars per key.
    ///
    /// All of it happens in one transaction: the stored bars of the batch's range are read, the
    /// plan is made, and the rows and disagreements are written; on any error nothing is and the
    /// stored data is exactly as before. Timestamps are stored to the second.
    ///
    /// Speed: rows go in multi-row `INSERT … ON CONFLICT DO UPDATE` statements of up to 2 048
    /// (SQLite) or 4 096 (PostgreSQL) rows, below each backend's bind-parameter limit, with the
    /// remainder split into power-of-two sizes so every statement is a cached prepared one.
    /// Measured in release builds with `tickerwatch bench ingest`: well over 300 000 bars/s
    /// into a SQLite file.
    ///
    /// # Errors
    /// [`StorageError::NonFinite`] (nothing written) if a price is NaN or infinite;
    /// [`StorageError::Query`] (everything rolled back) if the database refuses a row, e.g. a
    /// negative volume or high below low, which the schema forbids.
    pub async fn upsert_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
        preference: &ProviderPreference,
    ) -> Result<UpsertStats, StorageError> {
        if bars.is_empty() {
            return Ok(UpsertStats::default());
        }
        check_finite(symbol, bars)?;
        let started = Instant::now();
        let (min_ts, max_ts) = bars
            .iter()
            .map(|bar| to_unix(bar.ts))
            .fold((i64::MAX, i64::MIN), |(lo, hi), ts| (lo.min(ts), hi.max(ts)));
        let now = now_unix();
        let backend = self.backend();
        let max_rows = match backend {
            Backend::Sqlite => SQLITE_MAX_ROWS,
            Backend::Postgres => POSTGRES_MAX_ROWS,
        };
        // See `insert_sql` for why SQLite binds the shared values in every row.
        let shared_per_row = backend == Backend::Sqlite;

        let stats = with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            let stored: Vec<Bar> = sqlx::query(SELECT_STORED_RANGE)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .bind(min_ts)
                .bind(max_ts)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(bar_from_row)
                .collect::<Result<_, _>>()?;
            let plan = plan_writes(bars, &stored, preference);
            let mut rest = plan.rows.as_slice();
            for size in chunk_sizes(plan.rows.len(), max_rows) {
                let (chunk, tail) = rest.split_at(size);
                rest = tail;
                let mut query = sqlx::query(AssertSqlSafe(insert_sql(backend, size)));
                if !shared_per_row {
                    query = query.bind(symbol.as_str()).bind(interval.as_str()).bind(now);
                }
                for bar in chunk {
                    if shared_per_row {
                        query = query.bind(symbol.as_str()).bind(interval.as_str()).bind(now);
                    }
                    query = query
                        .bind(to_unix(bar.ts))
                        .bind(bar.open)
                        .bind(bar.high)
                        .bind(bar.low)
                        .bind(bar.close)
                        .bind(bar.adj_close)
                        .bind(bar.volume)
                        .bind(bar.provider.as_str())
                        .bind(i64::from(bar.partial))
                        .bind(bar.flag.as_deref());
                }
                query.execute(&mut *tx).await?;
            }
            for ts in &plan.provider_changed {
                sqlx::query(DELETE_KEY_DISAGREEMENTS)
                    .bind(symbol.as_str())
                    .bind(interval.as_str())
                    .bind(*ts)
                    .execute(&mut *tx)
                    .await?;
            }
            for comparison in &plan.comparisons {
                sqlx::query(DELETE_PAIR_DISAGREEMENTS)
                    .bind(symbol.as_str())
                    .bind(interval.as_str())
                    .bind(comparison.ts)
                    .bind(comparison.other.as_str())
                    .execute(&mut *tx)
                    .await?;
                for (field, kept_value, other_value) in &comparison.differences {
                    sqlx::query(INSERT_DISAGREEMENT)
                        .bind(symbol.as_str())
                        .bind(interval.as_str())
                        .bind(comparison.ts)
                        .bind(field.as_str())
                        .bind(comparison.other.as_str())
                        .bind(comparison.kept.as_str())
                        .bind(*kept_value)
                        .bind(*other_value)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            plan.stats
        });

        tracing::debug!(
            %symbol,
            %interval,
            bars = bars.len(),
            inserted = stats.inserted,
            updated = stats.updated,
            kept = stats.kept,
            disagreements = stats.disagreements,
            elapsed_ms = started.elapsed().as_millis(),
            "Upserted bars."
        );
        Ok(stats)
    }

    /// Disagreements between providers matching `query`, ordered by key and field.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn disagreements(&self, query: &DisagreementQuery) -> Result<Vec<Disagreement>, StorageError> {
        const SQL: &str = "SELECT interval, ts, field, kept_provider, kept_value, other_provider, other_value \
             FROM bar_disagreements WHERE symbol = $1 AND ($2 = '' OR interval = $2) AND ts >= $3 AND ts <= $4 \
             ORDER BY interval, ts, field, other_provider LIMIT $5";
        let rows = with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(query.symbol.as_str())
                .bind(query.interval.map_or("", Interval::as_str))
                .bind(query.from.map_or(i64::MIN, to_unix))
                .bind(query.to.map_or(i64::MAX, to_unix))
                .bind(sql_limit(query.limit))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    let field_text = row.text("field")?;
                    Ok(Disagreement {
                        symbol: query.symbol.clone(),
                        interval: interval_col(row, "interval")?,
                        ts: time_col(row, "ts")?,
                        field: field_text.parse().map_err(|e| StorageError::corrupt("field", &field_text, e))?,
                        kept_provider: provider_col(row, "kept_provider")?,
                        kept_value: row.real("kept_value")?,
                        other_provider: provider_col(row, "other_provider")?,
                        other_value: row.real("other_value")?,
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?
        });
        Ok(rows)
    }

    /// How many disagreements `symbol` has at `interval` between two bar keys (inclusive).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn count_disagreements(
        &self,
        symbol: &Symbol,
        interval: Interval,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM bar_disagreements \
             WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4";
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(SQL)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .bind(from.map_or(i64::MIN, to_unix))
                .bind(to.map_or(i64::MAX, to_unix))
                .fetch_one(pool)
                .await?
        });
        Ok(count_to_u64(count))
    }

    /// Like [`Storage::stream_bars`] but yields chunks of up to `chunk_rows` bars: the bulk path
    /// for exports.
    ///
    /// On a SQLite file the rows are read by a dedicated read-only connection (rusqlite) on a
    /// blocking thread and handed over through a channel of four chunks: sqlx's SQLite driver
    /// passes every row between threads one by one, which limited exports to ~0.5 M rows/s;
    /// reading in bulk is several times faster. The thread ends when the rows do or when the
    /// stream is dropped (its next send fails), so nothing outlives the consumer for long.
    /// PostgreSQL and in-memory SQLite use the pooled path on a task, through the same bounded
    /// channel, so in every case the next chunks are read while the consumer works.
    pub fn stream_bar_chunks(
        &self,
        query: &BarQuery,
        chunk_rows: usize,
    ) -> BoxStream<'static, Result<Vec<Bar>, StorageError>> {
        let chunk_rows = chunk_rows.max(1);
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let query = query.clone();
        // A closed store must refuse reads like the pooled path does, not open a side door.
        let file =
            self.readers.as_ref().filter(|_| !self.is_closed()).map(|readers| readers.path().to_owned());
        let Some(path) = file else {
            let storage = self.clone();
            tokio::spawn(async move {
                let mut bars = storage.stream_bars(&query).try_chunks(chunk_rows);
                while let Some(chunk) = bars.next().await {
                    if tx.send(chunk.map_err(|e| e.1)).await.is_err() {
                        return;
                    }
                }
            });
            return futures::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
            )
            .boxed();
        };
        tokio::task::spawn_blocking(move || {
            if let Err(error) = read_bar_chunks(&path, &query, chunk_rows, &tx) {
                let _ = tx.blocking_send(Err(error));
            }
        });
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
    }

    /// Reads the bars matching `query` in order and hands each to `visit` with `state`, until
    /// the rows end or `visit` breaks; returns the state. The API's read path: `visit` writes
    /// each bar where it is needed (the JSON response) without any `Vec<Bar>` in between.
    ///
    /// On a SQLite file the query runs on one of the store's reader threads (at most
    /// `database.read_connections`, each with its read-only rusqlite connection) with a cached
    /// prepared statement, and each row is handed over while still borrowed from SQLite (no
    /// allocation per row), so `visit` runs on that thread: keep it to in-memory work. At most
    /// twice as many reads are queued or running; the others wait without holding a thread.
    /// PostgreSQL and in-memory SQLite read through the sqlx pool, with `visit` called on the
    /// caller's task.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails (also `PoolTimedOut` when the readers'
    /// queue stayed full for `acquire_timeout_secs`, `PoolClosed` after [`Storage::close`]),
    /// [`StorageError::Bulk`] if rusqlite fails, [`StorageError::Corrupt`] for an unreadable row.
    pub async fn visit_bars<S, F>(&self, query: &BarQuery, state: S, mut visit: F) -> Result<S, StorageError>
    where
        S: Send + 'static,
        F: FnMut(&mut S, BarRow<'_>) -> ControlFlow<()> + Send + 'static,
    {
        if let Some(readers) = &self.readers {
            let query = query.clone();
            return readers.run(move |connection| visit_bar_rows(connection, &query, state, visit)).await;
        }
        let mut state = state;
        let mut rows = self.stream_bars(query);
        while let Some(bar) = rows.try_next().await? {
            if visit(&mut state, BarRow::of(&bar)).is_break() {
                break;
            }
        }
        Ok(state)
    }

    /// The bars matching `query`, ordered by time. Loads them all into memory;
    /// use [`Storage::stream_bars`] for exports.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn bars(&self, query: &BarQuery) -> Result<Vec<Bar>, StorageError> {
        self.stream_bars(query).try_collect().await
    }

    /// Like [`Storage::bars`] but yields rows as the database produces them, holding one pooled
    /// connection until the stream ends or is dropped, so memory stays flat however many bars
    /// match (for CSV exports and the like).
    ///
    /// Each item is a `Result`; after an error the stream ends.
    pub fn stream_bars(&self, query: &BarQuery) -> BoxStream<'_, Result<Bar, StorageError>> {
        let sql = if query.provider.is_some() { SELECT_BARS_OF_PROVIDER } else { SELECT_BARS };
        let symbol = query.symbol.as_str().to_owned();
        let interval = query.interval.as_str();
        let from = query.from.map_or(i64::MIN, to_unix);
        let to = query.to.map_or(i64::MAX, to_unix);
        let limit = sql_limit(query.limit);
        let provider = query.provider.map(ProviderId::as_str);
        with_pool!(self, pool => {
            let mut q = sqlx::query(sql).bind(symbol).bind(interval).bind(from).bind(to).bind(limit);
            if let Some(provider) = provider {
                q = q.bind(provider);
            }
            q.fetch(pool)
                .map(|row| bar_from_row(&row?))
                .boxed()
        })
    }

    /// The start of the newest stored bar of `symbol` at `interval` (any provider), or `None` if
    /// there is none; the scheduler fetches from there on.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn last_bar_ts(
        &self,
        symbol: &Symbol,
        interval: Interval,
    ) -> Result<Option<DateTime<Utc>>, StorageError> {
        // ORDER BY … LIMIT 1 rather than MAX(): both planners turn it into one index seek.
        const SQL: &str = "SELECT ts FROM bars WHERE symbol = $1 AND interval = $2 ORDER BY ts DESC LIMIT 1";
        let ts: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(SQL)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .fetch_optional(pool)
                .await?
        });
        ts.map(|ts| from_unix("ts", ts)).transpose()
    }

    /// How many bars (keys) are stored for `symbol` at `interval`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn bar_count(&self, symbol: &Symbol, interval: Interval) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM bars WHERE symbol = $1 AND interval = $2";
        let count: i64 = with_pool!(self, pool => {
            sqlx::query_scalar(SQL)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .fetch_one(pool)
                .await?
        });
        Ok(count_to_u64(count))
    }
}

impl Storage {
    /// Converts the bars of a database made before trading-day keys (migration 5 renamed them to
    /// `bars_legacy`): each legacy row gets its trading-day key (the exchange calendar of its
    /// symbol), and the rows of one key are reconciled as any upsert would be, with the default
    /// provider preference (yahoo, alpha_vantage, polygon, finnhub, sample): one row per day
    /// kept, the others recorded as disagreements where they differ. Volumes are rounded to
    /// whole shares. Then `bars_legacy` is dropped.
    ///
    /// Each symbol and interval is one upsert transaction and the legacy table goes last, so a
    /// conversion interrupted half-way is simply run again at the next start (the upserts are
    /// idempotent) and nothing is lost.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for a legacy row
    /// that cannot be read.
    pub(crate) async fn convert_legacy_bars(&self) -> Result<(), StorageError> {
        let exists_sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'bars_legacy'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_name = 'bars_legacy' AND table_schema = current_schema()"
            }
        };
        let exists: i64 = with_pool!(self, pool => sqlx::query_scalar(exists_sql).fetch_one(pool).await?);
        if exists == 0 {
            return Ok(());
        }
        let started = Instant::now();
        let groups: Vec<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT DISTINCT symbol, interval FROM bars_legacy ORDER BY symbol, interval")
                .fetch_all(pool)
                .await?
        });
        let preference = ProviderPreference::default();
        let (mut rows, mut stored) = (0_usize, UpsertStats::default());
        for (symbol_text, interval_text) in &groups {
            let symbol =
                Symbol::parse(symbol_text).map_err(|e| StorageError::corrupt("symbol", symbol_text, e))?;
            let interval: Interval =
                interval_text.parse().map_err(|e| StorageError::corrupt("interval", interval_text, e))?;
            let exchange = Exchange::for_symbol(&symbol);
            const SQL: &str = "SELECT ts, open, high, low, close, adj_close, volume, provider, flag \
                 FROM bars_legacy WHERE symbol = $1 AND interval = $2 ORDER BY ts, provider";
            let legacy: Vec<Bar> = with_pool!(self, pool => {
                sqlx::query(SQL)
                    .bind(symbol_text)
                    .bind(interval_text)
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok(Bar {
                            ts: exchange.bar_key(interval, time_col(row, "ts")?),
                            open: row.real_opt("open")?,
                            high: row.real_opt("high")?,
                            low: row.real_opt("low")?,
                            close: row.real_opt("close")?,
                            adj_close: row.real_opt("adj_close")?,
                            volume: row.real_opt("volume")?.and_then(volume_from_f64),
                            provider: provider_col(row, "provider")?,
                            partial: false,
                            flag: row.text_opt("flag")?,
                        })
                    })
                    .collect::<Result<_, StorageError>>()?
            });
            rows += legacy.len();
            let stats = self.upsert_bars(&symbol, interval, &legacy, &preference).await?;
            stored.inserted += stats.inserted + stats.updated;
            stored.disagreements += stats.disagreements;
        }
        with_pool!(self, pool => {
            sqlx::query("DROP TABLE IF EXISTS bars_legacy").execute(pool).await?;
        });
        tracing::info!(
            legacy_rows = rows,
            bars = stored.inserted,
            disagreements = stored.disagreements,
            elapsed_ms = started.elapsed().as_millis(),
            "Converted stored bars to one bar per trading day."
        );
        Ok(())
    }
}

fn bulk_error(error: impl ToString) -> StorageError {
    StorageError::Bulk(error.to_string())
}

/// Runs the bar query of `query` on `connection` (a statement cached on the connection) and
/// hands each row to `visit` until it breaks.
fn visit_bar_rows<S, F>(
    connection: &rusqlite::Connection,
    query: &BarQuery,
    mut state: S,
    mut visit: F,
) -> Result<S, StorageError>
where
    F: FnMut(&mut S, BarRow<'_>) -> ControlFlow<()>,
{
    let sql = if query.provider.is_some() { BULK_SELECT_BARS_OF_PROVIDER } else { BULK_SELECT_BARS };
    let mut statement = connection.prepare_cached(sql).map_err(bulk_error)?;
    let symbol = query.symbol.as_str();
    let interval = query.interval.as_str();
    let from = query.from.map_or(i64::MIN, to_unix);
    let to = query.to.map_or(i64::MAX, to_unix);
    let limit = sql_limit(query.limit);
    let mut rows = match query.provider {
        Some(provider) => {
            statement.query(rusqlite::params![symbol, interval, from, to, limit, provider.as_str()])
        }
        None => statement.query(rusqlite::params![symbol, interval, from, to, limit]),
    }
    .map_err(bulk_error)?;
    while let Some(row) = rows.next().map_err(bulk_error)? {
        if visit(&mut state, bar_row(row)?).is_break() {
            break;
        }
    }
    Ok(state)
}

/// A stored provider name, compared as stored before `FromStr` (which trims) says why not.
fn stored_provider(text: &str) -> Result<ProviderId, StorageError> {
    match ProviderId::ALL.into_iter().find(|provider| provider.as_str() == text) {
        Some(provider) => Ok(provider),
        None => text.parse().map_err(|e| StorageError::corrupt("provider", text, e)),
    }
}

/// Decodes a row of [`BULK_SELECT_BARS`] by position, borrowing its text.
fn bar_row<'r>(row: &'r rusqlite::Row<'_>) -> Result<BarRow<'r>, StorageError> {
    let provider_text = row.get_ref(7).map_err(bulk_error)?.as_str().map_err(bulk_error)?;
    Ok(BarRow {
        ts: from_unix("ts", row.get(0).map_err(bulk_error)?)?,
        open: row.get(1).map_err(bulk_error)?,
        high: row.get(2).map_err(bulk_error)?,
        low: row.get(3).map_err(bulk_error)?,
        close: row.get(4).map_err(bulk_error)?,
        adj_close: row.get(5).map_err(bulk_error)?,
        volume: row.get(6).map_err(bulk_error)?,
        provider: stored_provider(provider_text)?,
        partial: row.get::<_, i64>(8).map_err(bulk_error)? != 0,
        flag: row.get_ref(9).map_err(bulk_error)?.as_str_or_null().map_err(bulk_error)?,
    })
}

/// The blocking half of [`Storage::stream_bar_chunks`] on a SQLite file: its own read-only
/// connection (an export reads for seconds or minutes, which would hold a connection of the
/// API's small read pool that long).
fn read_bar_chunks(
    path: &std::path::Path,
    query: &BarQuery,
    chunk_rows: usize,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<Bar>, StorageError>>,
) -> Result<(), StorageError> {
    let connection = crate::read_pool::open_read_only(path, std::time::Duration::from_secs(30))?;
    let chunk = Vec::with_capacity(chunk_rows);
    let chunk = visit_bar_rows(&connection, query, chunk, |chunk, bar| {
        chunk.push(bar.to_bar());
        if chunk.len() < chunk_rows {
            return ControlFlow::Continue(());
        }
        let full = std::mem::replace(chunk, Vec::with_capacity(chunk_rows));
        if tx.blocking_send(Ok(full)).is_err() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(chunk));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn chunks_are_full_then_powers_of_two() {
        assert_eq!(chunk_sizes(0, 2048).collect::<Vec<_>>(), Vec::<usize>::new());
        assert_eq!(chunk_sizes(1, 2048).collect::<Vec<_>>(), vec![1]);
        assert_eq!(chunk_sizes(5000, 2048).collect::<Vec<_>>(), vec![2048, 2048, 512, 256, 128, 8]);
        for n in [1, 7, 2048, 4095, 10_000] {
            let sizes: Vec<usize> = chunk_sizes(n, 2048).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 2048));
        }
    }

    #[test]
    fn insert_sql_placeholders() {
        let pg = insert_sql(Backend::Postgres, 2);
        assert!(pg.contains("($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13),($1,$2,$3,$14,"), "{pg}");
        assert!(pg.contains(",$23)"), "{pg}");
        assert!(!pg.contains("$24"));
        assert!(Arc::ptr_eq(&insert_sql(Backend::Postgres, 2), &pg), "power-of-two sizes are built once");

        let lite = insert_sql(Backend::Sqlite, 4);
        assert_eq!(lite.matches('?').count(), 4 * PARAMS_PER_ROW, "{lite}");
        assert!(!lite.contains('$'));
    }

    fn bar(day: u32, provider: ProviderId, close: f64) -> Bar {
        Bar {
            ts: Utc.with_ymd_and_hms(2024, 1, day, 0, 0, 0).unwrap(),
            open: None,
            high: None,
            low: None,
            close: Some(close),
            adj_close: None,
            volume: None,
            provider,
            partial: false,
            flag: None,
        }
    }

    #[test]
    fn plan_keeps_one_bar_per_key_by_preference() {
        let preference = ProviderPreference::new([ProviderId::Yahoo, ProviderId::Polygon]);
        let incoming = vec![
            bar(2, ProviderId::Polygon, 10.0),
            bar(1, ProviderId::Yahoo, 2.0),
            bar(2, ProviderId::Yahoo, 10.01),
            bar(3, ProviderId::Polygon, 7.0),
        ];
        let stored = vec![bar(3, ProviderId::Yahoo, 5.0)];
        let plan = plan_writes(&incoming, &stored, &preference);
        let written: Vec<(u32, ProviderId)> =
            plan.rows.iter().map(|b| (chrono::Datelike::day(&b.ts), b.provider)).collect();
        assert_eq!(written, vec![(1, ProviderId::Yahoo), (2, ProviderId::Yahoo)]);
        assert_eq!(plan.stats, UpsertStats { inserted: 2, updated: 0, kept: 1, disagreements: 1 });
        // Day 2 agrees within tolerance; day 3's closes (5 vs 7) do not.
        assert_eq!(plan.comparisons.len(), 2);
        let day3 = plan.comparisons.iter().find(|c| !c.differences.is_empty()).unwrap();
        assert_eq!((day3.kept, day3.other), (ProviderId::Yahoo, ProviderId::Polygon));
        assert_eq!(day3.differences, vec![(BarField::Close, 5.0, 7.0)]);
    }

    #[test]
    fn non_finite_is_refused() {
        let mut b = bar(1, ProviderId::Sample, 1.0);
        b.adj_close = Some(f64::NAN);
        let symbol = Symbol::parse("AAPL").unwrap();
        let err = check_finite(&symbol, &[b]).unwrap_err();
        assert!(matches!(err, StorageError::NonFinite { field: "adj_close", .. }), "{err}");
    }
}

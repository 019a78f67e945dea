use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use domain::{Bar, Interval, ProviderId, Symbol};
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use sqlx::AssertSqlSafe;

use crate::rows::{RowExt, count_to_u64, from_unix, now_unix, sql_limit, to_unix};
use crate::watchlist::ENSURE_SYMBOL;
use crate::{Backend, Storage, StorageError};

/// Which bars to read. `from` and `to` are both inclusive; `None` means unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarQuery {
    pub symbol: Symbol,
    pub interval: Interval,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only this provider's bars. Without it, every provider's bar for a timestamp is returned
    /// (each says its provider), ordered by provider within the timestamp.
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

/// What [`Storage::upsert_bars`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertStats {
    /// Rows that did not exist before.
    pub inserted: u64,
    /// Rows that existed (same symbol, interval, ts and provider) and were overwritten, whether or
    /// not any value changed.
    pub updated: u64,
}

/// Parameters per row of the bulk insert: symbol, interval, fetched_at, then ts, open, high, low,
/// close, adj_close, volume, provider, flag.
const PARAMS_PER_ROW: usize = 12;
/// PostgreSQL binds symbol, interval and fetched_at once per statement (`$1`–`$3`) and only the
/// other nine per row, a quarter fewer parameters to encode and send.
const POSTGRES_PARAMS_PER_ROW: usize = 9;
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

const COUNT_RANGE: &str =
    "SELECT COUNT(*) FROM bars WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4";

const SELECT_BARS: &str = "SELECT ts, open, high, low, close, adj_close, volume, provider, flag \
     FROM bars WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 \
     ORDER BY ts, provider LIMIT $5";

/// [`SELECT_BARS`] with SQLite's own numbered placeholders, for the rusqlite bulk reader.
const BULK_SELECT_BARS: &str = "SELECT ts, open, high, low, close, adj_close, volume, provider, flag \
     FROM bars WHERE symbol = ?1 AND interval = ?2 AND ts >= ?3 AND ts <= ?4 \
     ORDER BY ts, provider LIMIT ?5";

/// [`SELECT_BARS_OF_PROVIDER`] for the rusqlite bulk reader.
const BULK_SELECT_BARS_OF_PROVIDER: &str = "SELECT ts, open, high, low, close, adj_close, volume, provider, flag \
     FROM bars WHERE symbol = ?1 AND interval = ?2 AND ts >= ?3 AND ts <= ?4 AND provider = ?6 \
     ORDER BY ts, provider LIMIT ?5";

const SELECT_BARS_OF_PROVIDER: &str = "SELECT ts, open, high, low, close, adj_close, volume, provider, flag \
     FROM bars WHERE symbol = $1 AND interval = $2 AND ts >= $3 AND ts <= $4 AND provider = $6 \
     ORDER BY ts, provider LIMIT $5";

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
fn insert_sql(backend: Backend, rows: usize) -> Arc<str> {
    static SQLITE_CACHE: [OnceLock<Arc<str>>; SIZE_CLASSES] = [const { OnceLock::new() }; SIZE_CLASSES];
    static POSTGRES_CACHE: [OnceLock<Arc<str>>; SIZE_CLASSES] = [const { OnceLock::new() }; SIZE_CLASSES];
    let build = || -> Arc<str> {
        let mut sql = String::with_capacity(400 + rows * 64);
        sql.push_str(
            "INSERT INTO bars (symbol, interval, fetched_at, ts, open, high, low, close, adj_close, volume, provider, flag) VALUES ",
        );
        for row in 0..rows {
            if row > 0 {
                sql.push(',');
            }
            match backend {
                Backend::Sqlite => sql.push_str("(?,?,?,?,?,?,?,?,?,?,?,?)"),
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
            " ON CONFLICT (symbol, interval, ts, provider) DO UPDATE SET \
             open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, \
             adj_close = excluded.adj_close, volume = excluded.volume, flag = excluded.flag, \
             fetched_at = excluded.fetched_at",
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
            ("volume", bar.volume),
        ];
        if let Some((field, _)) = fields.into_iter().find(|(_, v)| v.is_some_and(|v| !v.is_finite())) {
            return Err(StorageError::NonFinite { symbol: symbol.clone(), ts: bar.ts, field });
        }
    }
    Ok(())
}

/// The stored key of a bar within one symbol and interval.
fn key(bar: &Bar) -> (i64, ProviderId) {
    (to_unix(bar.ts), bar.provider)
}

/// The rows to write: one per key, the last one given winning (as if written one by one).
///
/// PostgreSQL refuses a statement that updates the same row twice, so duplicates cannot be left
/// to `ON CONFLICT`. A [`BarSeries`](domain::BarSeries) is already sorted and unique, which is
/// checked in one pass without allocating a second vector.
fn dedupe(bars: &[Bar]) -> Vec<&Bar> {
    let mut rows: Vec<&Bar> = bars.iter().collect();
    if rows.windows(2).all(|w| key(w[0]) < key(w[1])) {
        return rows;
    }
    rows.sort_by_key(|bar| key(bar)); // stable: equal keys keep their input order
    let mut unique: Vec<&Bar> = Vec::with_capacity(rows.len());
    for bar in rows {
        match unique.last_mut() {
            Some(last) if key(last) == key(bar) => *last = bar,
            _ => unique.push(bar),
        }
    }
    unique
}

/// Decodes a row of [`SELECT_BARS`] by position (`ts, open, high, low, close, adj_close, volume,
/// provider, flag`): exports stream millions of these, and a name lookup per value was a
/// measurable share of the cost.
fn bar_from_row(row: &impl RowExt) -> Result<Bar, StorageError> {
    let provider = row.with_str_at(7, |text| text.parse::<ProviderId>().map_err(|e| (text.to_owned(), e)))?;
    Ok(Bar {
        ts: from_unix("ts", row.int_at(0)?)?,
        open: row.real_opt_at(1)?,
        high: row.real_opt_at(2)?,
        low: row.real_opt_at(3)?,
        close: row.real_opt_at(4)?,
        adj_close: row.real_opt_at(5)?,
        volume: row.real_opt_at(6)?,
        provider: provider.map_err(|(text, e)| StorageError::corrupt("provider", text, e))?,
        flag: row.text_opt_at(8)?,
    })
}

impl Storage {
    /// Inserts or overwrites `bars` of `symbol` at `interval`, keyed by (ts, provider): storing a
    /// re-fetched range again adds no rows. Also registers the symbol if it is new.
    ///
    /// All of it happens in one transaction: either every bar is stored or, on any error, none is
    /// and the stored data is exactly as before. Bars need not be sorted; if two share a key the
    /// later one wins. Timestamps are stored to the second.
    ///
    /// Speed: rows go in multi-row `INSERT … ON CONFLICT DO UPDATE` statements of up to 2 048
    /// (SQLite) or 4 096 (PostgreSQL) rows, below each backend's bind-parameter limit, with the
    /// remainder split into power-of-two sizes so every statement is a cached prepared one.
    /// Measured in release builds with `tickerwatch bench ingest`: well over 300 000 bars/s
    /// into a SQLite file.
    ///
    /// How `inserted`/`updated` are counted: the database reports only rows affected (inserted +
    /// updated), so the rows in the batch's time range are counted before and after the writes,
    /// inside the transaction, and the difference is `inserted`. That costs two index range
    /// counts, a small fraction of the write. On SQLite (one writer at a time) it is exact; on
    /// PostgreSQL a concurrent writer to the same symbol, interval and range can shift rows
    /// between the two numbers, never their sum.
    ///
    /// # Errors
    /// [`StorageError::NonFinite`] (nothing written) if a value is NaN or infinite;
    /// [`StorageError::Query`] (everything rolled back) if the database refuses a row, e.g. a
    /// negative volume or high below low, which the schema forbids.
    pub async fn upsert_bars(
        &self,
        symbol: &Symbol,
        interval: Interval,
        bars: &[Bar],
    ) -> Result<UpsertStats, StorageError> {
        if bars.is_empty() {
            return Ok(UpsertStats::default());
        }
        check_finite(symbol, bars)?;
        let started = Instant::now();
        let rows = dedupe(bars);
        let (min_ts, max_ts) = rows
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

        let (before, after, affected) = with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            let before: i64 = sqlx::query_scalar(COUNT_RANGE)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .bind(min_ts)
                .bind(max_ts)
                .fetch_one(&mut *tx)
                .await?;
            let mut affected = 0_u64;
            let mut rest = rows.as_slice();
            for size in chunk_sizes(rows.len(), max_rows) {
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
                        .bind(bar.flag.as_deref());
                }
                affected += query.execute(&mut *tx).await?.rows_affected();
            }
            let after: i64 = sqlx::query_scalar(COUNT_RANGE)
                .bind(symbol.as_str())
                .bind(interval.as_str())
                .bind(min_ts)
                .bind(max_ts)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            (before, after, affected)
        });

        let inserted = count_to_u64(after.saturating_sub(before)).min(affected);
        let stats = UpsertStats { inserted, updated: affected - inserted };
        tracing::debug!(
            %symbol,
            %interval,
            bars = rows.len(),
            inserted = stats.inserted,
            updated = stats.updated,
            elapsed_ms = started.elapsed().as_millis(),
            "upserted bars"
        );
        Ok(stats)
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
        let Some(path) = self.sqlite_file.clone().filter(|_| !self.is_closed()) else {
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

    /// The bars matching `query`, ordered by time (then provider). Loads them all into memory;
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

    /// How many bar rows are stored for `symbol` at `interval`, counting each provider's row.
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

/// The blocking half of [`Storage::stream_bar_chunks`] on a SQLite file.
fn read_bar_chunks(
    path: &std::path::Path,
    query: &BarQuery,
    chunk_rows: usize,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<Bar>, StorageError>>,
) -> Result<(), StorageError> {
    use rusqlite::OpenFlags;
    let bulk = |e: rusqlite::Error| StorageError::Bulk(e.to_string());
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(bulk)?;
    connection.busy_timeout(std::time::Duration::from_secs(30)).map_err(bulk)?;
    let sql = if query.provider.is_some() { BULK_SELECT_BARS_OF_PROVIDER } else { BULK_SELECT_BARS };
    let mut statement = connection.prepare(sql).map_err(bulk)?;
    let from = query.from.map_or(i64::MIN, to_unix);
    let to = query.to.map_or(i64::MAX, to_unix);
    let limit = sql_limit(query.limit);
    let provider = query.provider.map_or("", ProviderId::as_str);
    let mut rows = if query.provider.is_some() {
        statement.query(rusqlite::params![
            query.symbol.as_str(),
            query.interval.as_str(),
            from,
            to,
            limit,
            provider
        ])
    } else {
        statement.query(rusqlite::params![query.symbol.as_str(), query.interval.as_str(), from, to, limit])
    }
    .map_err(bulk)?;
    let mut chunk = Vec::with_capacity(chunk_rows);
    while let Some(row) = rows.next().map_err(bulk)? {
        let ts: i64 = row.get(0).map_err(bulk)?;
        let provider_text =
            row.get_ref(7).map_err(bulk)?.as_str().map_err(|e| StorageError::Bulk(e.to_string()))?;
        let provider: ProviderId =
            provider_text.parse().map_err(|e| StorageError::corrupt("provider", provider_text, e))?;
        chunk.push(Bar {
            ts: from_unix("ts", ts)?,
            open: row.get(1).map_err(bulk)?,
            high: row.get(2).map_err(bulk)?,
            low: row.get(3).map_err(bulk)?,
            close: row.get(4).map_err(bulk)?,
            adj_close: row.get(5).map_err(bulk)?,
            volume: row.get(6).map_err(bulk)?,
            provider,
            flag: row.get(8).map_err(bulk)?,
        });
        if chunk.len() == chunk_rows {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(chunk_rows));
            if tx.blocking_send(Ok(full)).is_err() {
                return Ok(());
            }
        }
    }
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
        assert!(pg.contains("($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12),($1,$2,$3,$13,"), "{pg}");
        assert!(pg.contains(",$21)"), "{pg}");
        assert!(!pg.contains("$22"));
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
            flag: None,
        }
    }

    #[test]
    fn dedupe_keeps_last_of_each_key() {
        let bars = vec![
            bar(2, ProviderId::Yahoo, 1.0),
            bar(1, ProviderId::Yahoo, 2.0),
            bar(2, ProviderId::Yahoo, 3.0),
            bar(2, ProviderId::Polygon, 4.0),
        ];
        let closes: Vec<f64> = dedupe(&bars).iter().filter_map(|b| b.close).collect();
        assert_eq!(closes, vec![2.0, 3.0, 4.0], "day 1 yahoo (last), day 2 yahoo (last), day 2 polygon");
    }

    #[test]
    fn non_finite_is_refused() {
        let mut b = bar(1, ProviderId::Sample, 1.0);
        b.volume = Some(f64::NAN);
        let symbol = Symbol::parse("AAPL").unwrap();
        let err = check_finite(&symbol, &[b]).unwrap_err();
        assert!(matches!(err, StorageError::NonFinite { field: "volume", .. }), "{err}");
    }
}

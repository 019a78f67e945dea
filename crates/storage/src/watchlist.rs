use chrono::{DateTime, Utc};
use domain::Symbol;

use crate::rows::{RowExt, now_unix, symbol_col, time_col};
use crate::{Storage, StorageError};

/// Registers a symbol in the catalogue if it is new. Every write that mentions a symbol runs this
/// first, in its own transaction, because the data tables reference `symbols`.
pub(crate) const ENSURE_SYMBOL: &str =
    "INSERT INTO symbols (symbol, added_at) VALUES ($1, $2) ON CONFLICT (symbol) DO NOTHING";

/// A symbol on the watchlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchlistEntry {
    pub symbol: Symbol,
    /// When it was (last) put on the watchlist.
    pub added_at: DateTime<Utc>,
}

fn entry_from_row(row: &impl RowExt) -> Result<WatchlistEntry, StorageError> {
    Ok(WatchlistEntry { symbol: symbol_col(row, "symbol")?, added_at: time_col(row, "added_at")? })
}

impl Storage {
    /// Puts `symbol` on the watchlist.
    ///
    /// Returns `true` if it was newly added, `false` if it was already there (its `added_at` is
    /// then left unchanged), so callers can say "already watching" without a second query.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn add_to_watchlist(&self, symbol: &Symbol) -> Result<bool, StorageError> {
        let now = now_unix();
        let begin = self.backend().begin_write();
        let added = with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            let done = sqlx::query(
                "INSERT INTO watchlist (symbol, added_at) VALUES ($1, $2) ON CONFLICT (symbol) DO NOTHING",
            )
            .bind(symbol.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            done.rows_affected() > 0
        });
        tracing::debug!(%symbol, added, "add to watchlist");
        Ok(added)
    }

    /// Takes `symbol` off the watchlist. Its stored bars, quotes and news are kept, so re-adding
    /// it later does not refetch history.
    ///
    /// Returns `true` if it was on the watchlist.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn remove_from_watchlist(&self, symbol: &Symbol) -> Result<bool, StorageError> {
        let removed = with_pool!(self, pool => {
            sqlx::query("DELETE FROM watchlist WHERE symbol = $1")
                .bind(symbol.as_str())
                .execute(pool)
                .await?
                .rows_affected()
                > 0
        });
        tracing::debug!(%symbol, removed, "remove from watchlist");
        Ok(removed)
    }

    /// True when `symbol` has stored daily bars or is on the watchlist: a symbol worth a rule,
    /// where a typo would be a rule that never fires.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn is_known_symbol(&self, symbol: &Symbol) -> Result<bool, StorageError> {
        const SQL: &str = "SELECT 1 AS known FROM watchlist WHERE symbol = $1";
        let watched = with_pool!(self, pool => {
            sqlx::query(SQL).bind(symbol.as_str()).fetch_optional(pool).await?.is_some()
        });
        Ok(watched || self.last_bar_ts(symbol, domain::Interval::Day1).await?.is_some())
    }

    /// The watchlist, sorted by symbol (byte order, the same on both backends: sorting happens
    /// here because PostgreSQL's text order depends on the database's collation).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] if a stored
    /// symbol is no longer valid.
    pub async fn watchlist(&self) -> Result<Vec<WatchlistEntry>, StorageError> {
        const SQL: &str = "SELECT symbol, added_at FROM watchlist";
        let mut entries: Vec<WatchlistEntry> = with_pool!(self, pool => {
            sqlx::query(SQL).fetch_all(pool).await?.iter().map(entry_from_row).collect::<Result<_, _>>()?
        });
        entries.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(entries)
    }
}

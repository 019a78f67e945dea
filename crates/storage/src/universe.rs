//! The Reddit scanner's symbol universe as last refreshed from a vendor (migration 0009).

use chrono::{DateTime, Utc};

use crate::rows::{RowExt, count_to_u64, time_col};
use crate::{Storage, StorageError};

/// One symbol of the stored universe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseRow {
    pub symbol: String,
    pub name: String,
    pub exchange: String,
    /// `stock` or `etf`.
    pub security_type: String,
}

/// Which stored universe this is: `generation` grows by one with every update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseVersion {
    pub generation: i64,
    /// The vendor the stored universe came from.
    pub provider: String,
    pub updated_at: DateTime<Utc>,
    pub size: u64,
}

/// The stored universe: which vendor it came from, when, and its rows by symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUniverse {
    pub provider: String,
    pub updated_at: DateTime<Utc>,
    pub rows: Vec<UniverseRow>,
}

impl Storage {
    /// Replaces the stored universe with `rows` from `provider`, in one transaction: a reader
    /// sees the old universe or the new one, never a mix. Returns how many rows were stored.
    ///
    /// # Errors
    /// [`StorageError::Invalid`] (nothing written) for no rows or a type other than `stock` or
    /// `etf`; [`StorageError::Query`] (everything rolled back) if the database fails.
    pub async fn replace_universe(&self, provider: &str, rows: &[UniverseRow]) -> Result<u64, StorageError> {
        if rows.is_empty() {
            return Err(StorageError::invalid("universe", "no rows: the stored universe is kept"));
        }
        if let Some(row) = rows.iter().find(|row| row.security_type != "stock" && row.security_type != "etf")
        {
            return Err(StorageError::invalid(
                "universe",
                format!("{}: type {:?} is not stock or etf", row.symbol, row.security_type),
            ));
        }
        const INSERT: &str = "INSERT INTO universe_listings \
            (symbol, name, exchange, security_type, provider, updated_at, generation) \
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (symbol) DO NOTHING";
        const LAST_GENERATION: &str =
            "SELECT COALESCE(MAX(generation), 0) AS generation FROM universe_listings";
        let now = Utc::now().timestamp();
        let backend = self.backend();
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let generation = sqlx::query(LAST_GENERATION).fetch_one(&mut *tx).await?.int("generation")? + 1;
            sqlx::query("DELETE FROM universe_listings").execute(&mut *tx).await?;
            let mut stored = 0;
            for row in rows {
                stored += sqlx::query(INSERT)
                    .bind(&row.symbol)
                    .bind(&row.name)
                    .bind(&row.exchange)
                    .bind(&row.security_type)
                    .bind(provider)
                    .bind(now)
                    .bind(generation)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            stored
        }))
    }

    /// The stored universe, or `None` before the first update.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn universe(&self) -> Result<Option<StoredUniverse>, StorageError> {
        const SQL: &str = "SELECT symbol, name, exchange, security_type, provider, updated_at \
                           FROM universe_listings ORDER BY symbol";
        Ok(with_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            match rows.first() {
                None => None,
                Some(first) => {
                    let provider = first.text("provider")?;
                    let updated_at = time_col(first, "updated_at")?;
                    let rows = rows
                        .iter()
                        .map(|row| {
                            Ok(UniverseRow {
                                symbol: row.text("symbol")?,
                                name: row.text("name")?,
                                exchange: row.text("exchange")?,
                                security_type: row.text("security_type")?,
                            })
                        })
                        .collect::<Result<Vec<_>, StorageError>>()?;
                    Some(StoredUniverse { provider, updated_at, rows })
                }
            }
        }))
    }

    /// How many symbols the stored universe holds (0 before the first update).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn universe_size(&self) -> Result<u64, StorageError> {
        Ok(self.universe_version().await?.map_or(0, |version| version.size))
    }

    /// When the stored universe was written and how many rows it has, or `None` before the
    /// first update: one cheap query that tells a reader whether to load it again.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn universe_version(&self) -> Result<Option<UniverseVersion>, StorageError> {
        const SQL: &str = "SELECT COUNT(*) AS n, MAX(updated_at) AS updated_at, \
                           MAX(generation) AS generation, MAX(provider) AS provider FROM universe_listings";
        Ok(with_pool!(self, pool => {
            let row = sqlx::query(SQL).fetch_one(pool).await?;
            match count_to_u64(row.int("n")?) {
                0 => None,
                size => Some(UniverseVersion {
                    generation: row.int("generation")?,
                    provider: row.text("provider")?,
                    updated_at: time_col(&row, "updated_at")?,
                    size,
                }),
            }
        }))
    }
}

//! Splits and dividends as vendors report them: the ingest step needs the splits to turn a
//! split-adjusted series into as-traded prices, and the quality gate to explain a split's step.

use chrono::NaiveDate;
use domain::calendar::date_stamp;
use domain::{CorporateAction, CorporateActionKind, Symbol};

use crate::rows::{RowExt, now_unix, provider_col, time_col, to_unix};
use crate::watchlist::ENSURE_SYMBOL;
use crate::{Storage, StorageError};

const UPSERT_ACTION: &str = "INSERT INTO corporate_actions \
     (symbol, date, kind, provider, numerator, denominator, amount, fetched_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (symbol, date, kind, provider) DO UPDATE SET numerator = excluded.numerator, \
     denominator = excluded.denominator, amount = excluded.amount, fetched_at = excluded.fetched_at";

impl Storage {
    /// Stores `actions` of `symbol` (one per date, kind and provider; a vendor's later report of
    /// the same action replaces its earlier one), in one transaction.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database refuses a row (a split with a ratio of zero, a
    /// negative dividend); nothing is written then.
    pub async fn save_corporate_actions(
        &self,
        symbol: &Symbol,
        actions: &[CorporateAction],
    ) -> Result<(), StorageError> {
        if actions.is_empty() {
            return Ok(());
        }
        let now = now_unix();
        let begin = self.backend().begin_write();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            for action in actions {
                let (kind, numerator, denominator, amount) = match action.kind {
                    CorporateActionKind::Split { numerator, denominator } => {
                        ("split", Some(numerator), Some(denominator), None)
                    }
                    CorporateActionKind::Dividend { amount } => ("dividend", None, None, Some(amount)),
                };
                sqlx::query(UPSERT_ACTION)
                    .bind(symbol.as_str())
                    .bind(to_unix(date_stamp(action.date)))
                    .bind(kind)
                    .bind(action.provider.as_str())
                    .bind(numerator)
                    .bind(denominator)
                    .bind(amount)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The corporate actions of `symbol` on or after `since` (every one when `None`), by date.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn corporate_actions(
        &self,
        symbol: &Symbol,
        since: Option<NaiveDate>,
    ) -> Result<Vec<CorporateAction>, StorageError> {
        const SQL: &str = "SELECT date, kind, provider, numerator, denominator, amount \
             FROM corporate_actions WHERE symbol = $1 AND date >= $2 ORDER BY date, kind, provider";
        let since = since.map_or(i64::MIN, |date| to_unix(date_stamp(date)));
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .bind(since)
                .fetch_all(pool)
                .await?
                .iter()
                .map(action_from_row)
                .collect()
        })
    }
}

fn action_from_row(row: &impl RowExt) -> Result<CorporateAction, StorageError> {
    let kind_text = row.text("kind")?;
    let kind = match kind_text.as_str() {
        "split" => CorporateActionKind::Split {
            numerator: row.real_opt("numerator")?.unwrap_or(f64::NAN),
            denominator: row.real_opt("denominator")?.unwrap_or(f64::NAN),
        },
        "dividend" => CorporateActionKind::Dividend { amount: row.real_opt("amount")?.unwrap_or(f64::NAN) },
        _ => return Err(StorageError::corrupt("kind", kind_text, "expected split or dividend")),
    };
    Ok(CorporateAction {
        date: time_col(row, "date")?.date_naive(),
        kind,
        provider: provider_col(row, "provider")?,
    })
}

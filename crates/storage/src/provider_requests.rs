//! Requests sent to each provider per UTC day, so daily budgets survive restarts and are shared
//! by every process on the database (see `migrations/*/0008_provider_requests.sql`).

use chrono::NaiveDate;
use domain::ProviderId;

use crate::rows::{RowExt, count_to_u64, provider_col};
use crate::{Storage, StorageError};

/// Days of counts kept; older rows are pruned when counts are added.
const KEEP_DAYS: i64 = 31;

/// Requests of one provider on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderRequests {
    pub provider: ProviderId,
    pub day: NaiveDate,
    pub requests: u64,
}

fn day_unix(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp())
}

impl Storage {
    /// Adds each entry's requests to its provider's stored day and returns the new totals (which
    /// include other processes' requests), in one transaction; rows older than a month go.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails; nothing is added then.
    pub async fn add_provider_requests(
        &self,
        added: &[ProviderRequests],
    ) -> Result<Vec<ProviderRequests>, StorageError> {
        if added.is_empty() {
            return Ok(Vec::new());
        }
        let begin = self.backend().begin_write();
        let oldest = added.iter().map(|a| day_unix(a.day)).max().unwrap_or(0) - KEEP_DAYS * 86_400;
        let totals = with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let mut totals = Vec::with_capacity(added.len());
            for entry in added {
                let row = sqlx::query(
                    "INSERT INTO provider_requests (provider, day, requests) VALUES ($1, $2, $3) \
                     ON CONFLICT (provider, day) DO UPDATE \
                     SET requests = provider_requests.requests + excluded.requests \
                     RETURNING requests",
                )
                .bind(entry.provider.as_str())
                .bind(day_unix(entry.day))
                .bind(i64::try_from(entry.requests).unwrap_or(i64::MAX))
                .fetch_one(&mut *tx)
                .await?;
                totals.push(ProviderRequests { requests: count_to_u64(row.int("requests")?), ..*entry });
            }
            sqlx::query("DELETE FROM provider_requests WHERE day < $1").bind(oldest).execute(&mut *tx).await?;
            tx.commit().await?;
            totals
        });
        Ok(totals)
    }

    /// Every provider's stored requests of `day`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, `Corrupt` for an unknown provider name.
    pub async fn provider_requests(&self, day: NaiveDate) -> Result<Vec<ProviderRequests>, StorageError> {
        let rows = with_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT provider, requests FROM provider_requests WHERE day = $1 ORDER BY provider",
            )
            .bind(day_unix(day))
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(ProviderRequests {
                        provider: provider_col(row, "provider")?,
                        day,
                        requests: count_to_u64(row.int("requests")?),
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?
        });
        Ok(rows)
    }
}

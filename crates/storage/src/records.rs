//! Quotes, company profiles, news and the data-quality log: small, low-volume records, written
//! row by row inside one transaction per call.

use std::fmt;

use chrono::{DateTime, Utc};
use domain::{CompanyProfile, Interval, NewsItem, ProviderId, QualityReport, Quote, QuoteSource, Symbol};

use crate::rows::{RowExt, interval_col, now_unix, provider_col, sql_limit, symbol_col, time_col, to_unix};
use crate::watchlist::ENSURE_SYMBOL;
use crate::{Storage, StorageError};

fn quote_source_str(source: QuoteSource) -> &'static str {
    match source {
        QuoteSource::Live => "live",
        QuoteSource::LastBarClose => "last_bar_close",
    }
}

fn quote_from_row(row: &impl RowExt) -> Result<Quote, StorageError> {
    let source = row.text("source")?;
    let source = match source.as_str() {
        "live" => QuoteSource::Live,
        "last_bar_close" => QuoteSource::LastBarClose,
        _ => return Err(StorageError::corrupt("source", source, "expected live or last_bar_close")),
    };
    Ok(Quote {
        symbol: symbol_col(row, "symbol")?,
        price: row.real("price")?,
        previous_close: row.real_opt("previous_close")?,
        change: row.real_opt("change")?,
        change_percent: row.real_opt("change_percent")?,
        open: row.real_opt("open")?,
        high: row.real_opt("high")?,
        low: row.real_opt("low")?,
        volume: row.int_opt("volume")?,
        ts: time_col(row, "ts")?,
        provider: provider_col(row, "provider")?,
        source,
    })
}

fn profile_from_row(row: &impl RowExt) -> Result<CompanyProfile, StorageError> {
    Ok(CompanyProfile {
        symbol: Some(symbol_col(row, "symbol")?),
        name: row.text_opt("name")?,
        exchange: row.text_opt("exchange")?,
        currency: row.text_opt("currency")?,
        country: row.text_opt("country")?,
        sector: row.text_opt("sector")?,
        industry: row.text_opt("industry")?,
        market_cap: row.real_opt("market_cap")?,
        description: row.text_opt("description")?,
        website: row.text_opt("website")?,
        provider: Some(provider_col(row, "provider")?),
    })
}

fn news_from_row(row: &impl RowExt) -> Result<NewsItem, StorageError> {
    Ok(NewsItem {
        symbol: symbol_col(row, "symbol")?,
        headline: row.text("headline")?,
        url: row.text("url")?,
        source: row.text_opt("source")?,
        summary: row.text_opt("summary")?,
        published_at: time_col(row, "published_at")?,
        sentiment: row.real_opt("sentiment")?,
        provider: provider_col(row, "provider")?,
    })
}

/// What the quality gate did to a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QualityAction {
    /// The bar was impossible and not stored.
    Rejected,
    /// The bar was stored with a flag.
    Flagged,
    /// The bar was stored unflagged: a step in its close is a split on record.
    Explained,
}

impl QualityAction {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Flagged => "flagged",
            Self::Explained => "explained",
        }
    }
}

impl fmt::Display for QualityAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the data-quality log.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityEvent {
    pub symbol: Symbol,
    pub interval: Interval,
    pub provider: ProviderId,
    /// The affected bar's start.
    pub ts: DateTime<Utc>,
    pub action: QualityAction,
    /// The gate's explanation, e.g. "high 9 is below low 11".
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
}

fn quality_event_from_row(row: &impl RowExt) -> Result<QualityEvent, StorageError> {
    let action = row.text("action")?;
    let action = match action.as_str() {
        "rejected" => QualityAction::Rejected,
        "flagged" => QualityAction::Flagged,
        "explained" => QualityAction::Explained,
        _ => return Err(StorageError::corrupt("action", action, "expected rejected, flagged or explained")),
    };
    Ok(QualityEvent {
        symbol: symbol_col(row, "symbol")?,
        interval: interval_col(row, "interval")?,
        provider: provider_col(row, "provider")?,
        ts: time_col(row, "ts")?,
        action,
        reason: row.text("reason")?,
        recorded_at: time_col(row, "recorded_at")?,
    })
}

const UPSERT_QUOTE: &str = "INSERT INTO quotes \
    (symbol, provider, price, previous_close, change, change_percent, open, high, low, volume, ts, source, fetched_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
    ON CONFLICT (symbol, provider) DO UPDATE SET \
    price = excluded.price, previous_close = excluded.previous_close, change = excluded.change, \
    change_percent = excluded.change_percent, open = excluded.open, high = excluded.high, \
    low = excluded.low, volume = excluded.volume, ts = excluded.ts, source = excluded.source, \
    fetched_at = excluded.fetched_at \
    WHERE excluded.ts >= quotes.ts";

const UPSERT_PROFILE: &str = "INSERT INTO profiles \
    (symbol, provider, name, exchange, currency, country, sector, industry, market_cap, description, website, fetched_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
    ON CONFLICT (symbol, provider) DO UPDATE SET \
    name = excluded.name, exchange = excluded.exchange, currency = excluded.currency, \
    country = excluded.country, sector = excluded.sector, industry = excluded.industry, \
    market_cap = excluded.market_cap, description = excluded.description, \
    website = excluded.website, fetched_at = excluded.fetched_at";

const INSERT_NEWS: &str = "INSERT INTO news \
    (provider, symbol, url, headline, source, summary, published_at, sentiment, fetched_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (provider, symbol, url) DO NOTHING";

const INSERT_QUALITY: &str = "INSERT INTO quality_events \
    (symbol, interval, provider, ts, action, reason, recorded_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

impl Storage {
    /// Stores `quote` as the latest of its symbol and provider, replacing the previous one unless
    /// that one is newer (`ts`), so a slow, stale response cannot overwrite a fresh price.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn save_quote(&self, quote: &Quote) -> Result<(), StorageError> {
        let now = now_unix();
        let begin = self.backend().begin_write();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(ENSURE_SYMBOL).bind(quote.symbol.as_str()).bind(now).execute(&mut *tx).await?;
            sqlx::query(UPSERT_QUOTE)
                .bind(quote.symbol.as_str())
                .bind(quote.provider.as_str())
                .bind(quote.price)
                .bind(quote.previous_close)
                .bind(quote.change)
                .bind(quote.change_percent)
                .bind(quote.open)
                .bind(quote.high)
                .bind(quote.low)
                .bind(quote.volume)
                .bind(to_unix(quote.ts))
                .bind(quote_source_str(quote.source))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The most recently observed quote of `symbol` across providers (newest `ts`; ties go to the
    /// most recently fetched), or `None` if there is none. [`Quote::source`] tells whether it is a
    /// live price or an old close.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn latest_quote(&self, symbol: &Symbol) -> Result<Option<Quote>, StorageError> {
        const SQL: &str = "SELECT symbol, provider, price, previous_close, change, change_percent, \
            open, high, low, volume, ts, source FROM quotes WHERE symbol = $1 \
            ORDER BY ts DESC, fetched_at DESC, provider LIMIT 1";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .fetch_optional(pool)
                .await?
                .map(|row| quote_from_row(&row))
                .transpose()
        })
    }

    /// Stores `profile` as its provider's profile of its symbol, replacing the previous one, and
    /// records the company name in the symbol catalogue when the profile has one.
    ///
    /// # Errors
    /// [`StorageError::MissingField`] if the profile has no symbol or no provider (the storage
    /// key; a profile must say where it came from); [`StorageError::Query`] if the database fails.
    pub async fn save_profile(&self, profile: &CompanyProfile) -> Result<(), StorageError> {
        let missing = |field| StorageError::MissingField { what: "company profile", field };
        let symbol = profile.symbol.as_ref().ok_or_else(|| missing("symbol"))?;
        let provider = profile.provider.ok_or_else(|| missing("provider"))?;
        let now = now_unix();
        let begin = self.backend().begin_write();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            sqlx::query(UPSERT_PROFILE)
                .bind(symbol.as_str())
                .bind(provider.as_str())
                .bind(profile.name.as_deref())
                .bind(profile.exchange.as_deref())
                .bind(profile.currency.as_deref())
                .bind(profile.country.as_deref())
                .bind(profile.sector.as_deref())
                .bind(profile.industry.as_deref())
                .bind(profile.market_cap)
                .bind(profile.description.as_deref())
                .bind(profile.website.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if let Some(name) = profile.name.as_deref() {
                sqlx::query("UPDATE symbols SET name = $2 WHERE symbol = $1")
                    .bind(symbol.as_str())
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The most recently saved profile of `symbol` from any provider, or `None`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn profile(&self, symbol: &Symbol) -> Result<Option<CompanyProfile>, StorageError> {
        const SQL: &str = "SELECT symbol, provider, name, exchange, currency, country, sector, \
            industry, market_cap, description, website FROM profiles WHERE symbol = $1 \
            ORDER BY fetched_at DESC, provider LIMIT 1";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .fetch_optional(pool)
                .await?
                .map(|row| profile_from_row(&row))
                .transpose()
        })
    }

    /// When the most recently saved profile of `symbol` (from any provider) was fetched, or
    /// `None` when none is stored. The download-tracker asks a vendor again only once this is
    /// older than its configured age: profiles change rarely and vendors count every call.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// time.
    pub async fn profile_fetched_at(&self, symbol: &Symbol) -> Result<Option<DateTime<Utc>>, StorageError> {
        const SQL: &str =
            "SELECT fetched_at FROM profiles WHERE symbol = $1 ORDER BY fetched_at DESC LIMIT 1";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .fetch_optional(pool)
                .await?
                .map(|row| time_col(&row, "fetched_at"))
                .transpose()
        })
    }

    /// Stores news items, skipping any already stored for the same provider, symbol and URL
    /// (vendors return the same articles on every poll). One transaction for the whole slice.
    ///
    /// Returns how many items were new.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails; nothing is stored then.
    pub async fn save_news(&self, items: &[NewsItem]) -> Result<u64, StorageError> {
        if items.is_empty() {
            return Ok(0);
        }
        let now = now_unix();
        let begin = self.backend().begin_write();
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            let mut inserted = 0_u64;
            for item in items {
                sqlx::query(ENSURE_SYMBOL).bind(item.symbol.as_str()).bind(now).execute(&mut *tx).await?;
                inserted += sqlx::query(INSERT_NEWS)
                    .bind(item.provider.as_str())
                    .bind(item.symbol.as_str())
                    .bind(item.url.as_str())
                    .bind(item.headline.as_str())
                    .bind(item.source.as_deref())
                    .bind(item.summary.as_deref())
                    .bind(to_unix(item.published_at))
                    .bind(item.sentiment)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            inserted
        });
        tracing::debug!(items = items.len(), inserted, "saved news");
        Ok(inserted)
    }

    /// The newest `limit` news items about `symbol`, newest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn news(&self, symbol: &Symbol, limit: u64) -> Result<Vec<NewsItem>, StorageError> {
        const SQL: &str = "SELECT provider, symbol, url, headline, source, summary, published_at, \
            sentiment FROM news WHERE symbol = $1 \
            ORDER BY published_at DESC, provider, url LIMIT $2";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(news_from_row)
                .collect()
        })
    }

    /// Appends what the quality gate rejected and flagged in one batch of `symbol` at `interval`
    /// from `provider` to the quality log. A clean report writes nothing.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails; nothing is recorded then.
    pub async fn record_quality(
        &self,
        symbol: &Symbol,
        interval: Interval,
        provider: ProviderId,
        report: &QualityReport,
    ) -> Result<(), StorageError> {
        if report.is_clean() {
            return Ok(());
        }
        let findings = report
            .rejected
            .iter()
            .map(|f| (QualityAction::Rejected, f))
            .chain(report.flagged.iter().map(|f| (QualityAction::Flagged, f)))
            .chain(report.explained.iter().map(|f| (QualityAction::Explained, f)));
        let now = now_unix();
        let begin = self.backend().begin_write();
        with_pool!(self, pool => {
            let mut tx = pool.begin_with(begin).await?;
            sqlx::query(ENSURE_SYMBOL).bind(symbol.as_str()).bind(now).execute(&mut *tx).await?;
            for (action, finding) in findings {
                sqlx::query(INSERT_QUALITY)
                    .bind(symbol.as_str())
                    .bind(interval.as_str())
                    .bind(provider.as_str())
                    .bind(to_unix(finding.ts))
                    .bind(action.as_str())
                    .bind(finding.issue.to_string())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        tracing::debug!(
            %symbol,
            %interval,
            %provider,
            rejected = report.rejected.len(),
            flagged = report.flagged.len(),
            "recorded quality findings"
        );
        Ok(())
    }

    /// The newest `limit` quality-log entries of `symbol`, newest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an unreadable
    /// row.
    pub async fn quality_events(
        &self,
        symbol: &Symbol,
        limit: u64,
    ) -> Result<Vec<QualityEvent>, StorageError> {
        const SQL: &str = "SELECT symbol, interval, provider, ts, action, reason, recorded_at \
            FROM quality_events WHERE symbol = $1 ORDER BY recorded_at DESC, id DESC LIMIT $2";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(quality_event_from_row)
                .collect()
        })
    }
}

//! Social posts, ticker mentions, scan coverage and the mention aggregates (trending symbols with
//! a spike score, per-hour/day buckets).
//!
//! Aggregation happens in SQL with portable integer arithmetic (`(created_at - base) / 3600`
//! groups unix seconds into hours on both backends); only the spike z-score is computed here.

use domain::text_enum;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use domain::{Mention, SocialPost, SocialScan, Symbol};

use crate::rows::{RowExt, count_to_u64, from_unix, parsed_col, sql_limit, symbol_col, time_col, to_unix};
use crate::{Storage, StorageError, Stored};

/// Sentiment at or above this counts as bullish (as `social::sentiment::label`).
pub const BULLISH_THRESHOLD: f64 = 0.05;
/// Sentiment at or below this counts as bearish.
pub const BEARISH_THRESHOLD: f64 = -0.05;

const HOUR: i64 = 3600;
/// The spike baseline: 7 days of hourly buckets.
pub const SPIKE_BASELINE_HOURS: i64 = 168;

/// How many rows [`Storage::save_social_posts`] inserted (already stored ones are skipped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SocialSaveStats {
    pub posts_inserted: u64,
    pub mentions_inserted: u64,
}

/// One symbol's activity in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingRow {
    pub symbol: Symbol,
    pub mentions: u64,
    pub unique_authors: u64,
    pub mean_sentiment: f64,
    pub bullish: u64,
    pub bearish: u64,
    /// See [`spike_score`].
    pub spike_score: f64,
}

text_enum! {
    /// Bucket width for [`Storage::mention_buckets`]. Days are UTC days.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum MentionBucketSize {
        Hour => "hour",
        Day => "day",
    }
    parse_error = "unknown bucket {:?}: expected hour or day";
}

impl MentionBucketSize {
    /// The width in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Hour => HOUR,
            Self::Day => 24 * HOUR,
        }
    }
}

/// One symbol's activity in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct MentionBucket {
    /// Start of the bucket (aligned to the hour or UTC day).
    pub start: DateTime<Utc>,
    pub mentions: u64,
    pub unique_authors: u64,
    pub mean_sentiment: f64,
    pub bullish: u64,
    pub bearish: u64,
}

/// The spike score of `current` mentions against `baseline` hourly counts: the z-score
/// `(current - mean) / std` with the population standard deviation over all baseline buckets
/// (zeros included). When the baseline has no variation (`std == 0`, e.g. a symbol never
/// mentioned before), the score is `current - mean` if `current > mean` (every extra mention
/// counts as one standard deviation, so a brand-new symbol still ranks as a spike) and 0
/// otherwise. An empty baseline counts as all zeros.
pub fn spike_score(current: u64, baseline: &[u64]) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let current = current as f64;
    if baseline.is_empty() {
        return current;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = baseline.len() as f64;
    #[allow(clippy::cast_precision_loss)]
    let mean = baseline.iter().map(|&c| c as f64).sum::<f64>() / n;
    #[allow(clippy::cast_precision_loss)]
    let variance = baseline.iter().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / n;
    let std = variance.sqrt();
    if std > f64::EPSILON {
        (current - mean) / std
    } else if current > mean {
        current - mean
    } else {
        0.0
    }
}

const AGG_COLUMNS: &str = "COUNT(*) AS mentions, COUNT(DISTINCT author) AS unique_authors, \
     AVG(sentiment) AS mean_sentiment, \
     SUM(CASE WHEN sentiment >= $bull THEN 1 ELSE 0 END) AS bullish, \
     SUM(CASE WHEN sentiment <= $bear THEN 1 ELSE 0 END) AS bearish";

/// The aggregate columns with the thresholds inlined as literals (constants, not user input).
fn agg_columns() -> String {
    AGG_COLUMNS
        .replace("$bull", &format!("{BULLISH_THRESHOLD:?}"))
        .replace("$bear", &format!("{BEARISH_THRESHOLD:?}"))
}

const MENTION_COLUMNS: &str = "source, post_id, symbol, kind, author, subreddit, created_at, sentiment";
const SCAN_COLUMNS: &str =
    "id, started_at, finished_at, source, subreddits, posts_read, mentions_found, status, error";

fn mention_from_row(row: &impl RowExt) -> Result<Mention, StorageError> {
    Ok(Mention {
        source: parsed_col(row, "source")?,
        post_id: row.text("post_id")?,
        symbol: symbol_col(row, "symbol")?,
        kind: parsed_col(row, "kind")?,
        author: row.text("author")?,
        subreddit: row.text("subreddit")?,
        created_at: time_col(row, "created_at")?,
        sentiment: row.real("sentiment")?,
    })
}

fn post_from_row(row: &impl RowExt) -> Result<SocialPost, StorageError> {
    Ok(SocialPost {
        source: parsed_col(row, "source")?,
        post_id: row.text("post_id")?,
        subreddit: row.text("subreddit")?,
        author: row.text("author")?,
        created_at: time_col(row, "created_at")?,
        title: row.text("title")?,
        permalink: row.text_opt("permalink")?,
        sentiment: row.real("sentiment")?,
    })
}

/// A scan's row is written once, when the scan has finished, so that is when it was created.
fn scan_from_row(row: &impl RowExt) -> Result<Stored<SocialScan>, StorageError> {
    let subreddits = row.text("subreddits")?;
    let finished_at = time_col(row, "finished_at")?;
    Ok(Stored {
        id: row.int("id")?,
        created_at: finished_at,
        value: SocialScan {
            started_at: time_col(row, "started_at")?,
            finished_at,
            source: parsed_col(row, "source")?,
            subreddits: subreddits.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            posts_read: count_to_u64(row.int("posts_read")?),
            mentions_found: count_to_u64(row.int("mentions_found")?),
            status: parsed_col(row, "status")?,
            error: row.text_opt("error")?,
        },
    })
}

/// The aggregate part of a row: (mentions, unique authors, mean sentiment, bullish, bearish).
fn aggregates(row: &impl RowExt) -> Result<(u64, u64, f64, u64, u64), StorageError> {
    Ok((
        count_to_u64(row.int("mentions")?),
        count_to_u64(row.int("unique_authors")?),
        row.real_opt("mean_sentiment")?.unwrap_or(0.0),
        count_to_u64(row.int_opt("bullish")?.unwrap_or(0)),
        count_to_u64(row.int_opt("bearish")?.unwrap_or(0)),
    ))
}

fn check_finite(what: &'static str, id: &str, value: f64) -> Result<(), StorageError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(StorageError::corrupt(what, id, "sentiment must be a finite number; nothing was stored"))
    }
}

fn u64_to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Storage {
    /// Stores posts and their mentions in one transaction. Rows already stored (same source and
    /// post id, or same source, post id and symbol) are left as they are, so re-scanning is
    /// idempotent. Returns how many rows were new.
    ///
    /// # Errors
    /// [`StorageError::Corrupt`] (nothing written) for a non-finite sentiment;
    /// [`StorageError::Query`] (everything rolled back) if the database fails.
    pub async fn save_social_posts(
        &self,
        posts: &[SocialPost],
        mentions: &[Mention],
    ) -> Result<SocialSaveStats, StorageError> {
        for post in posts {
            check_finite("social_posts.sentiment", &post.post_id, post.sentiment)?;
        }
        for mention in mentions {
            check_finite("mentions.sentiment", &mention.post_id, mention.sentiment)?;
        }
        if posts.is_empty() && mentions.is_empty() {
            return Ok(SocialSaveStats::default());
        }
        const POST_SQL: &str = "INSERT INTO social_posts \
            (source, post_id, subreddit, author, created_at, title, permalink, sentiment) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        const MENTION_SQL: &str = "INSERT INTO mentions \
            (source, post_id, symbol, kind, author, subreddit, created_at, sentiment) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        let backend = self.backend();
        let stats = with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let mut stats = SocialSaveStats::default();
            for post in posts {
                stats.posts_inserted += sqlx::query(POST_SQL)
                    .bind(post.source.as_str())
                    .bind(&post.post_id)
                    .bind(&post.subreddit)
                    .bind(&post.author)
                    .bind(to_unix(post.created_at))
                    .bind(&post.title)
                    .bind(post.permalink.as_deref())
                    .bind(post.sentiment)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            for mention in mentions {
                stats.mentions_inserted += sqlx::query(MENTION_SQL)
                    .bind(mention.source.as_str())
                    .bind(&mention.post_id)
                    .bind(mention.symbol.as_str())
                    .bind(mention.kind.as_str())
                    .bind(&mention.author)
                    .bind(&mention.subreddit)
                    .bind(to_unix(mention.created_at))
                    .bind(mention.sentiment)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            stats
        });
        tracing::debug!(
            posts = posts.len(),
            mentions = mentions.len(),
            posts_inserted = stats.posts_inserted,
            mentions_inserted = stats.mentions_inserted,
            "saved social posts"
        );
        Ok(stats)
    }

    /// Records a finished scan and returns it with its id. Subreddit names are stored
    /// comma-separated (they cannot contain commas).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn record_social_scan(&self, scan: &SocialScan) -> Result<Stored<SocialScan>, StorageError> {
        let sql = format!(
            "INSERT INTO social_scans \
             (started_at, finished_at, source, subreddits, posts_read, mentions_found, status, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {SCAN_COLUMNS}"
        );
        let subreddits = scan.subreddits.join(",");
        Ok(with_pool!(self, pool => {
            // fetch_all runs the write statement to completion (see `create_run`).
            let rows = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(to_unix(scan.started_at))
                .bind(to_unix(scan.finished_at))
                .bind(scan.source.as_str())
                .bind(&subreddits)
                .bind(u64_to_sql(scan.posts_read))
                .bind(u64_to_sql(scan.mentions_found))
                .bind(scan.status.as_str())
                .bind(scan.error.as_deref())
                .fetch_all(pool)
                .await?;
            let row = rows.first().ok_or_else(|| StorageError::corrupt("social_scans", scan.source, "INSERT returned no row"))?;
            scan_from_row(row)?
        }))
    }

    /// The most recently recorded scan, if any.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn latest_social_scan(&self) -> Result<Option<Stored<SocialScan>>, StorageError> {
        let sql = format!("SELECT {SCAN_COLUMNS} FROM social_scans ORDER BY id DESC LIMIT 1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(AssertSqlSafe(sql.clone())).fetch_optional(pool).await? {
                Some(row) => Some(scan_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Mentions at or after `since`, of `symbol` or of every symbol, newest first (ties by
    /// symbol, source and post id), at most `limit`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn mentions(
        &self,
        symbol: Option<&Symbol>,
        since: DateTime<Utc>,
        limit: Option<u64>,
    ) -> Result<Vec<Mention>, StorageError> {
        const ORDER: &str = "ORDER BY created_at DESC, symbol, source, post_id LIMIT $2";
        let sql = match symbol {
            Some(_) => format!(
                "SELECT {MENTION_COLUMNS} FROM mentions WHERE created_at >= $1 AND symbol = $3 {ORDER}"
            ),
            None => format!("SELECT {MENTION_COLUMNS} FROM mentions WHERE created_at >= $1 {ORDER}"),
        };
        Ok(with_pool!(self, pool => {
            let mut query = sqlx::query(AssertSqlSafe(sql.clone())).bind(to_unix(since)).bind(sql_limit(limit));
            if let Some(symbol) = symbol {
                query = query.bind(symbol.as_str());
            }
            query.fetch_all(pool).await?.iter().map(mention_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// The posts that mention `symbol` at or after `since`, newest first, at most `limit`: what
    /// people said, beside the counts.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn posts_mentioning(
        &self,
        symbol: &Symbol,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<SocialPost>, StorageError> {
        const SQL: &str = "SELECT p.source, p.post_id, p.subreddit, p.author, p.created_at, p.title, \
                           p.permalink, p.sentiment FROM mentions m JOIN social_posts p \
                           ON p.source = m.source AND p.post_id = m.post_id \
                           WHERE m.symbol = $1 AND m.created_at >= $2 \
                           ORDER BY m.created_at DESC, p.post_id LIMIT $3";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(symbol.as_str())
                .bind(to_unix(since))
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(post_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// The most mentioned symbols in `[since, until)`, most mentions first (ties by symbol), at
    /// most `limit`, each with its spike score: the z-score of its mentions in the last hour
    /// `[until - 1h, until)` against its hourly counts over the 168 hours before that (see
    /// [`spike_score`]).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn trending(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: Option<u64>,
    ) -> Result<Vec<TrendingRow>, StorageError> {
        let agg = agg_columns();
        let top_sql = format!(
            "SELECT symbol, {agg} FROM mentions WHERE created_at >= $1 AND created_at < $2 \
             GROUP BY symbol ORDER BY COUNT(*) DESC, symbol LIMIT $3"
        );
        let until_secs = to_unix(until);
        let base = until_secs - (SPIKE_BASELINE_HOURS + 1) * HOUR;
        // Hour index 0..=168 relative to `base`; 168 is the current hour.
        let hourly_sql = "SELECT symbol, bucket, COUNT(*) AS n FROM \
            (SELECT symbol, (created_at - $1) / 3600 AS bucket FROM mentions \
             WHERE created_at >= $1 AND created_at < $2) AS m \
            GROUP BY symbol, bucket";
        let (mut rows, hourly) = with_pool!(self, pool => {
            let rows = sqlx::query(AssertSqlSafe(top_sql.clone()))
                .bind(to_unix(since))
                .bind(until_secs)
                .bind(sql_limit(limit))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    let (mentions, unique_authors, mean_sentiment, bullish, bearish) = aggregates(row)?;
                    Ok(TrendingRow {
                        symbol: symbol_col(row, "symbol")?,
                        mentions,
                        unique_authors,
                        mean_sentiment,
                        bullish,
                        bearish,
                        spike_score: 0.0,
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?;
            let mut hourly: HashMap<Symbol, Vec<u64>> = HashMap::new();
            for row in sqlx::query(hourly_sql).bind(base).bind(until_secs).fetch_all(pool).await? {
                let symbol = symbol_col(&row, "symbol")?;
                let bucket = usize::try_from(row.int("bucket")?).unwrap_or(0);
                let counts = hourly.entry(symbol).or_insert_with(|| vec![0; 169]);
                if let Some(slot) = counts.get_mut(bucket) {
                    *slot = count_to_u64(row.int("n")?);
                }
            }
            (rows, hourly)
        });
        for row in &mut rows {
            row.spike_score = match hourly.get(&row.symbol) {
                Some(counts) => {
                    let (baseline, current) = counts.split_at(counts.len() - 1);
                    spike_score(current[0], baseline)
                }
                None => 0.0,
            };
        }
        Ok(rows)
    }

    /// `symbol`'s activity per hour or UTC day from `since` on, oldest first; buckets without
    /// mentions are omitted.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn mention_buckets(
        &self,
        symbol: &Symbol,
        bucket: MentionBucketSize,
        since: DateTime<Utc>,
    ) -> Result<Vec<MentionBucket>, StorageError> {
        let agg = agg_columns();
        let width = bucket.seconds();
        // created_at is never negative, so integer division floors on both backends.
        let sql = format!(
            "SELECT bucket, {agg} FROM \
             (SELECT (created_at / {width}) * {width} AS bucket, author, sentiment FROM mentions \
              WHERE symbol = $1 AND created_at >= $2) AS m \
             GROUP BY bucket ORDER BY bucket"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(symbol.as_str())
                .bind(to_unix(since))
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    let (mentions, unique_authors, mean_sentiment, bullish, bearish) = aggregates(row)?;
                    Ok(MentionBucket {
                        start: from_unix("bucket", row.int("bucket")?)?,
                        mentions,
                        unique_authors,
                        mean_sentiment,
                        bullish,
                        bearish,
                    })
                })
                .collect::<Result<Vec<_>, StorageError>>()?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_score_is_a_z_score() {
        // Mean 1, population std 1 (half 0, half 2).
        let baseline: Vec<u64> = (0..168).map(|i| if i % 2 == 0 { 0 } else { 2 }).collect();
        assert!((spike_score(4, &baseline) - 3.0).abs() < 1e-9);
        assert!((spike_score(1, &baseline)).abs() < 1e-9);
        assert!((spike_score(0, &baseline) + 1.0).abs() < 1e-9);
    }

    #[test]
    fn flat_baseline() {
        assert!((spike_score(5, &[0; 168]) - 5.0).abs() < 1e-9);
        assert!((spike_score(3, &[3; 168])).abs() < 1e-9);
        assert!((spike_score(1, &[3; 168])).abs() < 1e-9);
        assert!((spike_score(2, &[]) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn bucket_size_parses() {
        assert_eq!("hour".parse::<MentionBucketSize>(), Ok(MentionBucketSize::Hour));
        assert_eq!("day".parse::<MentionBucketSize>().map(MentionBucketSize::seconds), Ok(86_400));
        assert!("week".parse::<MentionBucketSize>().is_err());
    }
}

//! Social mentions of ticker symbols (Reddit scans): the raw mentions and the trending symbols,
//! with the coverage of the latest scan so a blocked scan is never read as "no mentions".

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use domain::{Mention, SocialScan};
use serde::{Deserialize, Serialize};
use serde_json::json;
use storage::{MentionBucketSize, Storage, Stored, TrendingRow};
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, LimitParam};
use crate::routes::symbols::SymbolPath;

/// Mentions listed when no `limit` is given, and the most one request may ask for.
const MENTIONS_LIMIT: LimitParam = LimitParam { default: 100, max: 1000 };
/// How far back `GET /api/social/mentions` looks when no `since` is given.
const DEFAULT_SINCE_HOURS: i64 = 24;
/// Trending symbols listed when no `limit` is given, and the most one request may ask for.
const TRENDING_LIMIT: LimitParam = LimitParam { default: 20, max: 100 };
/// The trending window when none is given.
const DEFAULT_WINDOW: &str = "24h";
/// The longest trending window, in hours (30 days).
const MAX_WINDOW_HOURS: i64 = 30 * 24;
/// What [`parse_window`] accepts: `1h` to `720h` or `1d` to `30d`, without leading zeros. Written
/// out by hand (a schema pattern must be a literal); `windows_are_hours_or_days_within_bounds`
/// checks the server side of the bargain, and the schemathesis run the pattern's.
const WINDOW_PATTERN: &str =
    "^(?:[1-9]|[1-9][0-9]|[1-6][0-9][0-9]|7[01][0-9]|720)h$|^(?:[1-9]|[12][0-9]|30)d$";

fn mentions_limit_schema() -> Object {
    MENTIONS_LIMIT.schema()
}

fn trending_limit_schema() -> Object {
    TRENDING_LIMIT.schema()
}

fn window_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(WINDOW_PATTERN))
        .default(Some(json!(DEFAULT_WINDOW)))
        .examples([json!("24h"), json!("7d")])
        .build()
}

fn bucket_schema() -> Object {
    params::enum_schema(
        MentionBucketSize::ALL.map(MentionBucketSize::as_str),
        MentionBucketSize::Hour.as_str(),
    )
}

fn since_schema() -> Schema {
    params::since_schema()
}

/// Query of `GET /api/social/mentions`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct MentionsParams {
    /// Only this symbol (as in the universe, e.g. `BRK-B`). Every symbol when absent.
    #[param(schema_with = params::symbol_schema)]
    symbol: Option<String>,
    /// Mentions at or after this time: RFC 3339 or a `YYYY-MM-DD` date (00:00 UTC). Default: 24
    /// hours ago.
    #[param(schema_with = since_schema)]
    since: Option<String>,
    /// At most this many mentions, newest first (default 100, maximum 1000).
    #[param(schema_with = mentions_limit_schema)]
    limit: Option<u64>,
}

/// One symbol mentioned in one post.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MentionDto {
    /// Where the post came from: `reddit` or `sample`.
    #[schema(example = "reddit")]
    source: &'static str,
    post_id: String,
    #[schema(example = "AAPL")]
    symbol: String,
    /// How it was found: `cashtag` (`$AAPL`), `bare` (`AAPL`) or `alias` (a company name).
    #[schema(example = "cashtag")]
    kind: &'static str,
    /// The post's author (public Reddit username).
    author: String,
    #[schema(example = "stocks")]
    subreddit: String,
    /// When the post was created (UTC).
    created_at: DateTime<Utc>,
    /// The post's sentiment in [-1, 1].
    sentiment: f64,
}

impl From<Mention> for MentionDto {
    fn from(record: Mention) -> Self {
        Self {
            source: record.source.as_str(),
            post_id: record.post_id,
            symbol: record.symbol.into(),
            kind: record.kind.as_str(),
            author: record.author,
            subreddit: record.subreddit,
            created_at: record.created_at,
            sentiment: record.sentiment,
        }
    }
}

/// Mentions of ticker symbols found in social posts, newest first.
#[utoipa::path(
    get,
    path = "/api/social/mentions",
    operation_id = "list_mentions",
    tag = "social",
    params(MentionsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<MentionDto>),
        (status = 400, description = "Invalid symbol (`invalid_symbol`), since or limit, or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn mentions(
    State(storage): State<Storage>,
    ApiQuery(query): ApiQuery<MentionsParams>,
) -> Result<Json<Vec<MentionDto>>, ApiError> {
    let symbol = query.symbol.as_deref().map(|raw| params::symbol(raw, "query")).transpose()?;
    let since = match query.since.as_deref() {
        Some(raw) => params::since(raw)?,
        None => Utc::now() - TimeDelta::hours(DEFAULT_SINCE_HOURS),
    };
    let limit = MENTIONS_LIMIT.check(query.limit)?;
    let records = storage.mentions(symbol.as_ref(), since, Some(limit)).await?;
    Ok(Json(records.into_iter().map(MentionDto::from).collect()))
}

/// Query of `GET /api/social/trending`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrendingParams {
    /// The window ending now: `Nh` or `Nd`, from `1h` to `30d` (default `24h`).
    #[param(schema_with = window_schema)]
    window: Option<String>,
    /// At most this many symbols, most mentioned first (default 20, maximum 100).
    #[param(schema_with = trending_limit_schema)]
    limit: Option<u64>,
}

/// One symbol's activity in the window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrendingSymbolDto {
    #[schema(example = "AAPL")]
    symbol: String,
    mentions: u64,
    unique_authors: u64,
    /// Mean post sentiment in [-1, 1].
    mean_sentiment: f64,
    /// Mentions in posts with sentiment >= 0.05.
    bullish: u64,
    /// Mentions in posts with sentiment <= -0.05.
    bearish: u64,
    /// z-score of the mentions in the last hour against the hourly counts of the 7 days before.
    spike_score: f64,
}

impl From<TrendingRow> for TrendingSymbolDto {
    fn from(row: TrendingRow) -> Self {
        Self {
            symbol: row.symbol.into(),
            mentions: row.mentions,
            unique_authors: row.unique_authors,
            mean_sentiment: row.mean_sentiment,
            bullish: row.bullish,
            bearish: row.bearish,
            spike_score: row.spike_score,
        }
    }
}

/// The latest social scan: what was read, and whether it worked.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ScanCoverageDto {
    id: i64,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    #[schema(example = "reddit")]
    source: &'static str,
    subreddits: Vec<String>,
    posts_read: u64,
    mentions_found: u64,
    /// `complete`, `blocked` (the source refused us: counts are not real zeros) or `failed`.
    #[schema(example = "complete")]
    status: &'static str,
    error: Option<String>,
}

impl From<Stored<SocialScan>> for ScanCoverageDto {
    fn from(Stored { id, value: scan, .. }: Stored<SocialScan>) -> Self {
        Self {
            id,
            started_at: scan.started_at,
            finished_at: scan.finished_at,
            source: scan.source.as_str(),
            subreddits: scan.subreddits,
            posts_read: scan.posts_read,
            mentions_found: scan.mentions_found,
            status: scan.status.as_str(),
            error: scan.error,
        }
    }
}

/// The most mentioned symbols in a window.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TrendingResponse {
    /// The window as asked, e.g. `24h`.
    #[schema(example = "24h")]
    window: String,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    symbols: Vec<TrendingSymbolDto>,
    /// The latest scan, `null` when none was ever recorded. When its `status` is `blocked` or
    /// `failed`, an empty or short `symbols` says nothing about real activity.
    coverage: Option<ScanCoverageDto>,
}

/// Parses a window `Nh` or `Nd` into its length, 1 hour to 30 days (as [`WINDOW_PATTERN`] says:
/// no leading zeros).
fn parse_window(raw: &str) -> Result<TimeDelta, ApiError> {
    let invalid =
        || ApiError::InvalidWindow(format!("invalid window {raw:?}: expected Nh or Nd, from 1h to 30d"));
    let (number, unit_hours) = if let Some(number) = raw.strip_suffix('h') {
        (number, 1)
    } else if let Some(number) = raw.strip_suffix('d') {
        (number, 24)
    } else {
        return Err(invalid());
    };
    if number.is_empty() || number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let hours = number.parse::<i64>().ok().and_then(|n| n.checked_mul(unit_hours)).ok_or_else(invalid)?;
    if !(1..=MAX_WINDOW_HOURS).contains(&hours) {
        return Err(invalid());
    }
    Ok(TimeDelta::hours(hours))
}

/// The most mentioned symbols in a window ending now, with sentiment and a spike score, and the
/// coverage of the latest scan (a `blocked` scan shows in `coverage.status`).
#[utoipa::path(
    get,
    path = "/api/social/trending",
    operation_id = "get_trending",
    tag = "social",
    params(TrendingParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = TrendingResponse),
        (status = 400, description = "Invalid window (`invalid_window`), invalid limit or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn trending(
    State(storage): State<Storage>,
    ApiQuery(params): ApiQuery<TrendingParams>,
) -> Result<Json<TrendingResponse>, ApiError> {
    let window = params.window.unwrap_or_else(|| DEFAULT_WINDOW.to_owned());
    let length = parse_window(&window)?;
    let limit = TRENDING_LIMIT.check(params.limit)?;
    let until = Utc::now();
    let since = until - length;
    let rows = storage.trending(since, until, Some(limit)).await?;
    let coverage = storage.latest_social_scan().await?;
    Ok(Json(TrendingResponse {
        window,
        since,
        until,
        symbols: rows.into_iter().map(TrendingSymbolDto::from).collect(),
        coverage: coverage.map(ScanCoverageDto::from),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzed_texts_are_bounded_in_number_and_length() {
        assert!(check_texts(&["one".to_owned()]).is_ok());
        assert!(check_texts(&[]).is_err());
        assert!(check_texts(&vec!["x".to_owned(); 101]).is_err());
        assert!(check_texts(&vec!["x".to_owned(); 100]).is_ok());
        let long = "é".repeat(40_001);
        let error = check_texts(&["fine".to_owned(), long]).unwrap_err();
        assert!(error.to_string().contains("texts[1]"), "{error}");
        assert!(check_texts(&["é".repeat(40_000)]).is_ok(), "characters, not bytes");
    }

    #[test]
    fn windows_are_hours_or_days_within_bounds() {
        assert_eq!(parse_window("1h").unwrap(), TimeDelta::hours(1));
        assert_eq!(parse_window("24h").unwrap(), TimeDelta::hours(24));
        assert_eq!(parse_window("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(parse_window("30d").unwrap(), TimeDelta::days(30));
        assert_eq!(parse_window("720h").unwrap(), TimeDelta::days(30));
        for bad in [
            "",
            "h",
            "0h",
            "0d",
            "31d",
            "721h",
            "-1h",
            "+2h",
            "1w",
            "1.5h",
            "24",
            "024h",
            "01d",
            " 1h",
            "99999999999999999999d",
        ] {
            assert!(matches!(parse_window(bad), Err(ApiError::InvalidWindow(_))), "{bad}");
        }
        // Exactly what `WINDOW_PATTERN` spells out: 1..=720 hours, 1..=30 days.
        for n in 0..=1000 {
            assert_eq!(parse_window(&format!("{n}h")).is_ok(), (1..=720).contains(&n), "{n}h");
            assert_eq!(parse_window(&format!("{n}d")).is_ok(), (1..=30).contains(&n), "{n}d");
        }
    }
}

/// Query of `GET /api/social/symbols/{symbol}/buckets`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BucketsParams {
    /// `hour` (default) or `day` (UTC days).
    #[param(schema_with = bucket_schema)]
    bucket: Option<String>,
    /// Buckets at or after this time: RFC 3339 or a `YYYY-MM-DD` date. Default: 7 days ago.
    #[param(schema_with = since_schema)]
    since: Option<String>,
}

/// Mentions of one symbol in one hour or day.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MentionBucketDto {
    /// Start of the bucket (UTC, aligned to the hour or day).
    start: DateTime<Utc>,
    mentions: u64,
    unique_authors: u64,
    /// Mean sentiment in [-1, 1].
    mean_sentiment: f64,
    bullish: u64,
    bearish: u64,
}

/// How far back buckets go when no `since` is given.
const DEFAULT_BUCKET_DAYS: i64 = 7;

/// A symbol's mentions per hour or per day (buckets without mentions are left out).
#[utoipa::path(
    get,
    path = "/api/social/symbols/{symbol}/buckets",
    operation_id = "mention_buckets",
    tag = "social",
    params(SymbolPath, BucketsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<MentionBucketDto>),
        (status = 400, description = "Invalid symbol (`invalid_symbol`), bucket or since, or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn buckets(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
    ApiQuery(params): ApiQuery<BucketsParams>,
) -> Result<Json<Vec<MentionBucketDto>>, ApiError> {
    let symbol = path.parse()?;
    let size = match params.bucket.as_deref() {
        None => MentionBucketSize::Hour,
        Some(raw) => crate::params::one_of(raw, "bucket", MentionBucketSize::ALL, MentionBucketSize::as_str)?,
    };
    let since = match params.since.as_deref() {
        Some(raw) => crate::params::since(raw)?,
        None => Utc::now() - TimeDelta::days(DEFAULT_BUCKET_DAYS),
    };
    let buckets = storage.mention_buckets(&symbol, size, since).await?;
    Ok(Json(
        buckets
            .into_iter()
            .map(|b| MentionBucketDto {
                start: b.start,
                mentions: b.mentions,
                unique_authors: b.unique_authors,
                mean_sentiment: b.mean_sentiment,
                bullish: b.bullish,
                bearish: b.bearish,
            })
            .collect(),
    ))
}

/// Texts at most per `POST /api/social/analyze` request.
const ANALYZE_MAX_TEXTS: usize = 100;
/// Characters at most per text (Reddit allows 40,000 in a post body; scoring reads them all).
const ANALYZE_MAX_CHARS: usize = 40_000;

/// The body of `POST /api/social/analyze`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyzeTexts {
    /// 1 to 100 texts (posts, comments, headlines), each at most 40,000 characters.
    #[schema(min_items = 1, max_items = 100)]
    texts: Vec<String>,
}

/// The sentiment model's probability of each class.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ClassProbabilitiesDto {
    bullish: f64,
    bearish: f64,
    neutral: f64,
}

/// One symbol a text mentions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TextMentionDto {
    /// As in the universe (`BRK-B`).
    symbol: String,
    /// `cashtag` (`$NVDA`), `bare` (`NVDA`, `nvda` in trading context) or `alias` ("Nvidia").
    kind: String,
    /// The company or fund name, when the universe has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

/// What the Reddit scanner makes of one text.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TextAnalysisDto {
    /// Each symbol once, in order of first mention.
    mentions: Vec<TextMentionDto>,
    /// `bullish`, `bearish` or `neutral`.
    sentiment: String,
    /// In [-1, 1]: what the scanner stores as a post's sentiment.
    score: f64,
    probabilities: ClassProbabilitiesDto,
}

/// The answer of `POST /api/social/analyze`: one result per text, in the order given.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AnalyzeResults {
    results: Vec<TextAnalysisDto>,
}

/// 1 to [`ANALYZE_MAX_TEXTS`] texts of at most [`ANALYZE_MAX_CHARS`] characters each.
fn check_texts(texts: &[String]) -> Result<(), ApiError> {
    if texts.is_empty() || texts.len() > ANALYZE_MAX_TEXTS {
        return Err(ApiError::BadRequest(format!(
            "texts: give 1 to {ANALYZE_MAX_TEXTS} texts (got {})",
            texts.len()
        )));
    }
    if let Some(index) = texts.iter().position(|text| text.chars().count() > ANALYZE_MAX_CHARS) {
        return Err(ApiError::BadRequest(format!(
            "texts[{index}]: at most {ANALYZE_MAX_CHARS} characters per text"
        )));
    }
    Ok(())
}

/// Scores texts as the Reddit scanner scores posts: the tickers each mentions (against the
/// symbol universe in use) and its sentiment. Stores nothing.
#[utoipa::path(
    post,
    path = "/api/social/analyze",
    operation_id = "analyze_texts",
    tag = "social",
    request_body = AnalyzeTexts,
    security(("bearer" = [])),
    responses(
        (status = 200, body = AnalyzeResults),
        (status = 400, description = "No texts, more than 100, or a text over 40,000 characters (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 413, description = "Body over `server.request_body_limit_bytes` (`payload_too_large`)", body = ErrorResponse),
        (status = 415, description = "Body without `Content-Type: application/json` (`unsupported_media_type`)", body = ErrorResponse),
        (status = 422, description = "Body that is not JSON or not this shape (`invalid_json`)", body = ErrorResponse),
    )
)]
pub(crate) async fn analyze(
    State(state): State<crate::AppState>,
    crate::extract::ApiJson(body): crate::extract::ApiJson<AnalyzeTexts>,
) -> Result<Json<AnalyzeResults>, ApiError> {
    check_texts(&body.texts)?;
    let universe = state.universe.get(&state.storage).await;
    // Scoring is CPU work (~microseconds per text): off the async workers for a full request.
    let results = tokio::task::spawn_blocking(move || {
        body.texts
            .iter()
            .map(|text| {
                let analysis = social::analyze_text(&universe, text);
                TextAnalysisDto {
                    mentions: analysis
                        .mentions
                        .into_iter()
                        .map(|m| TextMentionDto {
                            symbol: m.symbol,
                            kind: m.kind.as_str().to_owned(),
                            name: m.name,
                        })
                        .collect(),
                    sentiment: analysis.sentiment.to_owned(),
                    score: analysis.score,
                    probabilities: ClassProbabilitiesDto {
                        bullish: analysis.probabilities.bullish,
                        bearish: analysis.probabilities.bearish,
                        neutral: analysis.probabilities.neutral,
                    },
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|error| ApiError::Internal(std::sync::Arc::new(error)))?;
    Ok(Json(AnalyzeResults { results }))
}

//! Per-symbol market data: stored bars (the hot path), the latest quote and indicators, news and
//! the company profile.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Days, NaiveDate, Utc};
use domain::{CompanyProfile, Exchange, Interval, NewsItem, Quote, Symbol};
use providers::{ChainError, ProviderChain};
use serde::{Deserialize, Serialize};
#[cfg(test)]
use storage::BarRow;
use storage::{BarQuery, DisagreementQuery, Storage};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use crate::cache::{BarsCache, BarsKey, Lookup};
use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiPath, ApiQuery};
use crate::params::{self, LimitParam};
use crate::routes::bars_json::BarsJson;

/// Most bars one response carries. One year of daily bars is about 252; the cap bounds the
/// memory of a request for years of minute bars (ask again from the last `ts` to page).
const MAX_BARS: u64 = 10_000;

/// History fed to the indicators: enough calendar days for every warm-up (SMA 50, MACD 26+9)
/// and for the EMAs to converge, without reading a symbol's whole history.
const INDICATOR_LOOKBACK_DAYS: u64 = 400;

/// Path of the per-symbol routes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct SymbolPath {
    /// Ticker symbol.
    #[param(schema_with = params::symbol_schema)]
    pub(crate) symbol: String,
}

impl SymbolPath {
    /// The symbol, or a 400 `invalid_symbol`.
    pub(crate) fn parse(&self) -> Result<Symbol, ApiError> {
        params::symbol(&self.symbol, "path")
    }
}

/// `limit` of `GET /api/symbols/{symbol}/bars` and `…/disagreements`.
const BARS_LIMIT: LimitParam = LimitParam { default: MAX_BARS, max: MAX_BARS };

fn bars_limit_schema() -> Object {
    BARS_LIMIT.schema()
}

fn interval_schema() -> Object {
    params::enum_schema(Interval::ALL.map(Interval::as_str), Interval::Day1.as_str())
}

/// Query of `GET /api/symbols/{symbol}/bars` and `…/disagreements`: trading days and interval.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct BarsParams {
    /// First trading day, inclusive, in the exchange's calendar. Unbounded when absent.
    #[param(schema_with = params::date_schema, example = "2024-01-01")]
    from: Option<String>,
    /// Last trading day, inclusive, in the exchange's calendar. Unbounded when absent.
    #[param(schema_with = params::date_schema, example = "2024-12-31")]
    to: Option<String>,
    /// The bar length (default `1d`).
    #[param(schema_with = interval_schema)]
    interval: Option<String>,
    /// At most this many bars, from the earliest (default and maximum 10000).
    #[param(schema_with = bars_limit_schema)]
    limit: Option<u64>,
}

/// [`BarsParams`], parsed.
struct BarsQuery {
    interval: Interval,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    limit: u64,
}

impl BarsParams {
    fn parse(&self) -> Result<BarsQuery, ApiError> {
        let interval = match self.interval.as_deref() {
            Some(raw) => params::one_of(raw, "interval", Interval::ALL, Interval::as_str)?,
            None => Interval::Day1,
        };
        Ok(BarsQuery {
            interval,
            from: self.from.as_deref().map(|raw| params::date(raw, "from")).transpose()?,
            to: self.to.as_deref().map(|raw| params::date(raw, "to")).transpose()?,
            limit: BARS_LIMIT.check(self.limit)?,
        })
    }
}

/// One OHLCV bar, as traded. Missing values are `null`, never 0. Daily, weekly and monthly bars
/// are trading days and carry `date`; intraday bars carry `ts`. (Documents the shape `bars_json`
/// writes by hand, which a test compares with this type's serialization.)
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BarDto<'a> {
    /// The session date in the exchange's calendar (daily and longer bars only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date, example = "2024-05-03")]
    date: Option<NaiveDate>,
    /// Start of the bar, UTC (intraday bars only).
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<DateTime<Utc>>,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
    /// The vendor's split- and dividend-adjusted close, where it gives one.
    adj_close: Option<f64>,
    /// Shares traded.
    volume: Option<i64>,
    /// The provider the bar came from.
    #[schema(value_type = String, example = "yahoo")]
    provider: &'a str,
    /// The session had not closed when the bar was fetched; the final bar will replace it.
    partial: bool,
    /// Set by the quality gate for suspicious but kept bars.
    flag: Option<&'a str>,
}

impl<'a> BarDto<'a> {
    /// What `bars_json` writes by hand, through serde (for its test).
    #[cfg(test)]
    pub(crate) fn new(bar: BarRow<'a>, intraday: bool) -> Self {
        let (date, ts) = if intraday { (None, Some(bar.ts)) } else { (Some(bar.date()), None) };
        Self {
            date,
            ts,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            adj_close: bar.adj_close,
            volume: bar.volume,
            provider: bar.provider.as_str(),
            partial: bar.partial,
            flag: bar.flag,
        }
    }
}

/// Stored bars of a symbol. (Documents the shape [`bars`] writes by hand.)
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BarsResponse<'a> {
    #[schema(example = "AAPL")]
    symbol: &'a str,
    #[schema(example = "1d")]
    interval: &'a str,
    bars: Vec<BarDto<'a>>,
    /// Number of bars in `bars`.
    count: usize,
    /// True when more bars match than `limit`; ask again from the last `date` (or `ts`).
    truncated: bool,
}

/// A range of stored bar keys; `None` is unbounded on that side.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The stored keys of the trading days `from..=to` (both inclusive, in the exchange's
/// calendar): the dates themselves for daily and longer bars, the instants from the first day's
/// local midnight to the last day's end for intraday bars.
fn day_range(
    symbol: &Symbol,
    interval: Interval,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Range, ApiError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(ApiError::InvalidRange(format!("from ({from}) is after to ({to})")));
    }
    Ok(Exchange::for_symbol(symbol).key_bounds(interval, from, to))
}

/// Stored bars of a symbol, oldest first; each says which provider it came from.
///
/// The hot path of the API. On a SQLite file the rows are read on one of the store's reader
/// threads by its read-only connection (see `Storage::visit_bars`) and each is written as
/// JSON straight into the response buffer while SQLite still holds it: no `Vec<Bar>` in
/// between, no allocation per bar. The bytes may be served again for a moment from a bounded
/// cache (`server.bars_cache_ttl_ms`, one second by default; see `cache.rs`), so a bar stored
/// by a job shows up here within that time.
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/bars",
    operation_id = "get_bars",
    tag = "symbols",
    params(SymbolPath, BarsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = BarsResponse),
        (status = 400, description = "Invalid symbol (`invalid_symbol`), date, interval or limit (`bad_request`), or `from` after `to` (`invalid_range`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn bars(
    State(storage): State<Storage>,
    State(cache): State<Arc<BarsCache>>,
    ApiPath(path): ApiPath<SymbolPath>,
    ApiQuery(params): ApiQuery<BarsParams>,
) -> Result<Response, ApiError> {
    let symbol = path.parse()?;
    let BarsQuery { interval, from, to, limit } = params.parse()?;
    let (from, to) = day_range(&symbol, interval, from, to)?;
    let query = BarQuery {
        from,
        to,
        // One more than asked, to tell whether the answer was truncated.
        limit: Some(limit + 1),
        ..BarQuery::new(symbol, interval)
    };
    let key = cache.is_enabled().then(|| BarsKey {
        symbol: query.symbol.clone(),
        interval,
        from: from.map(|t| t.timestamp()),
        to: to.map(|t| t.timestamp()),
        limit,
    });
    if let Some(key) = &key
        && let Lookup::Fresh(body) | Lookup::Stale(body) = cache.lookup(key)
    {
        return Ok(json_response(body));
    }

    let json = BarsJson::start(&query, limit)?;
    let json = storage.visit_bars(&query, json, BarsJson::push).await?;
    let body = Bytes::from(json.finish()?);
    if let Some(key) = key {
        cache.insert(key, body.clone());
    }
    Ok(json_response(body))
}

fn json_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// A latest-price snapshot.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QuoteDto {
    #[schema(example = "AAPL")]
    symbol: String,
    price: f64,
    previous_close: Option<f64>,
    change: Option<f64>,
    /// Percent, e.g. `0.62` for +0.62 %.
    change_percent: Option<f64>,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    volume: Option<i64>,
    /// When the price was observed (vendor time).
    ts: DateTime<Utc>,
    #[schema(example = "yahoo")]
    provider: &'static str,
    /// `live`, or `last_bar_close` when the price is a stored close (the offline provider).
    #[schema(example = "live")]
    source: &'static str,
}

impl From<Quote> for QuoteDto {
    fn from(quote: Quote) -> Self {
        Self {
            symbol: quote.symbol.into(),
            price: quote.price,
            previous_close: quote.previous_close,
            change: quote.change,
            change_percent: quote.change_percent,
            open: quote.open,
            high: quote.high,
            low: quote.low,
            volume: quote.volume,
            ts: quote.ts,
            provider: quote.provider.as_str(),
            source: match quote.source {
                domain::QuoteSource::Live => "live",
                domain::QuoteSource::LastBarClose => "last_bar_close",
            },
        }
    }
}

/// The latest stored quote; when none is stored, one is fetched through the provider chain and
/// stored.
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/quote",
    operation_id = "get_quote",
    tag = "symbols",
    params(SymbolPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = QuoteDto),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No provider knows the symbol (`not_found`)", body = ErrorResponse),
        (status = 502, description = "Every provider failed (`upstream_failed`)", body = ErrorResponse),
        (status = 503, description = "No provider is configured (`unavailable`)", body = ErrorResponse),
    )
)]
pub(crate) async fn quote(
    State(storage): State<Storage>,
    State(providers): State<ProviderChain>,
    ApiPath(path): ApiPath<SymbolPath>,
) -> Result<Json<QuoteDto>, ApiError> {
    let symbol = path.parse()?;
    if let Some(quote) = storage.latest_quote(&symbol).await? {
        return Ok(Json(quote.into()));
    }
    let served = match providers.quote(&symbol).await {
        Ok(served) => served,
        Err(error) => {
            crate::metrics::record_chain_error(&error);
            return Err(chain_error(&symbol, error));
        }
    };
    crate::metrics::record_provider_outcomes(Some(served.provider), &served.failed_attempts);
    storage.save_quote(&served.value).await?;
    Ok(Json(served.value.into()))
}

/// A failed chain call as the client should see it: an unknown symbol is a 404, anything else a
/// 502 with the (already redacted) reasons.
fn chain_error(symbol: &Symbol, error: ChainError) -> ApiError {
    match error {
        error if error.is_not_found() => ApiError::NotFound(error.to_string()),
        ChainError::NoProvider { .. } => ApiError::Unavailable(error.to_string()),
        other => {
            tracing::warn!(%symbol, error = %other, "Quote fetch failed.");
            ApiError::Upstream(other.to_string())
        }
    }
}

/// `limit` of `GET /api/symbols/{symbol}/news`.
const NEWS_LIMIT: LimitParam = LimitParam { default: 20, max: 200 };

fn news_limit_schema() -> Object {
    NEWS_LIMIT.schema()
}

/// Query of `GET /api/symbols/{symbol}/news`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewsParams {
    /// At most this many articles, newest first (default 20, at most 200).
    #[param(schema_with = news_limit_schema)]
    limit: Option<u64>,
}

/// A news article about a symbol, as its vendor described it (text is the vendor's, not ours).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewsItemDto {
    headline: String,
    url: String,
    /// The publisher, where the vendor names one.
    source: Option<String>,
    summary: Option<String>,
    published_at: DateTime<Utc>,
    /// The vendor's sentiment about this symbol in [-1, 1], where it gives one (Polygon's
    /// `positive`/`neutral`/`negative` are 1/0/-1).
    sentiment: Option<f64>,
    #[schema(example = "polygon")]
    provider: &'static str,
}

impl From<NewsItem> for NewsItemDto {
    fn from(item: NewsItem) -> Self {
        Self {
            headline: item.headline,
            url: item.url,
            source: item.source,
            summary: item.summary,
            published_at: item.published_at,
            sentiment: item.sentiment,
            provider: item.provider.as_str(),
        }
    }
}

/// Stored news of a symbol.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewsResponse {
    #[schema(example = "AAPL")]
    symbol: String,
    /// Newest first.
    news: Vec<NewsItemDto>,
    count: usize,
}

/// Stored news of a symbol, newest first. The download-tracker fetches the news of watched
/// symbols (`jobs.download_tracker.news_days`); this reads what it stored and never calls a
/// vendor, so an empty list means none is stored yet.
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/news",
    operation_id = "get_news",
    tag = "symbols",
    params(SymbolPath, NewsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = NewsResponse),
        (status = 400, description = "Invalid symbol (`invalid_symbol`) or limit (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn news(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
    ApiQuery(params): ApiQuery<NewsParams>,
) -> Result<Json<NewsResponse>, ApiError> {
    let symbol = path.parse()?;
    let limit = NEWS_LIMIT.check(params.limit)?;
    let news: Vec<NewsItemDto> = storage.news(&symbol, limit).await?.into_iter().map(Into::into).collect();
    Ok(Json(NewsResponse { symbol: symbol.into(), count: news.len(), news }))
}

/// A company profile. Missing facts are `null`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProfileDto {
    #[schema(example = "AAPL")]
    symbol: String,
    #[schema(example = "Apple Inc.")]
    name: Option<String>,
    /// The vendor's name of the listing exchange (Polygon: a MIC such as `XNAS`).
    exchange: Option<String>,
    #[schema(example = "USD")]
    currency: Option<String>,
    country: Option<String>,
    sector: Option<String>,
    industry: Option<String>,
    /// In the listing currency.
    market_cap: Option<f64>,
    description: Option<String>,
    website: Option<String>,
    /// The provider the profile came from.
    #[schema(example = "finnhub")]
    provider: Option<&'static str>,
}

impl ProfileDto {
    fn new(symbol: &Symbol, profile: CompanyProfile) -> Self {
        Self {
            symbol: profile.symbol.map_or_else(|| symbol.to_string(), String::from),
            name: profile.name,
            exchange: profile.exchange,
            currency: profile.currency,
            country: profile.country,
            sector: profile.sector,
            industry: profile.industry,
            market_cap: profile.market_cap,
            description: profile.description,
            website: profile.website,
            provider: profile.provider.map(|p| p.as_str()),
        }
    }
}

/// The stored company profile; when none is stored, one is fetched through the provider chain
/// (from the providers that have profiles) and stored.
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/profile",
    operation_id = "get_profile",
    tag = "symbols",
    params(SymbolPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ProfileDto),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No profile of the symbol: none stored, and no provider has one (`not_found`)", body = ErrorResponse),
        (status = 502, description = "Every provider with profiles failed (`upstream_failed`)", body = ErrorResponse),
    )
)]
pub(crate) async fn profile(
    State(storage): State<Storage>,
    State(providers): State<ProviderChain>,
    ApiPath(path): ApiPath<SymbolPath>,
) -> Result<Json<ProfileDto>, ApiError> {
    let symbol = path.parse()?;
    if let Some(profile) = storage.profile(&symbol).await? {
        return Ok(Json(ProfileDto::new(&symbol, profile)));
    }
    let served = match providers.profile(&symbol).await {
        Ok(served) => served,
        Err(error) => {
            crate::metrics::record_chain_error(&error);
            return Err(match error {
                // No provider with profiles: there is no profile to give, which is not a failure.
                ChainError::NoProvider { .. } => {
                    ApiError::NotFound(format!("no profile of {symbol}: {error}"))
                }
                error if error.is_not_found() => {
                    ApiError::NotFound(format!("no profile of {symbol}: {error}"))
                }
                other => {
                    tracing::warn!(%symbol, error = %other, "Profile fetch failed.");
                    ApiError::Upstream(other.to_string())
                }
            });
        }
    };
    crate::metrics::record_provider_outcomes(Some(served.provider), &served.failed_attempts);
    storage.save_profile(&served.value).await?;
    Ok(Json(ProfileDto::new(&symbol, served.value)))
}

/// Where two providers' bars of the same day differ beyond the tolerance (0.5 % on prices, 5 %
/// on volume).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DisagreementDto {
    /// The trading day (daily and longer bars).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date, example = "2024-05-03")]
    date: Option<NaiveDate>,
    /// The bar's start (intraday bars).
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<DateTime<Utc>>,
    /// `open`, `high`, `low`, `close` or `volume`.
    #[schema(example = "close")]
    field: &'static str,
    /// The stored bar's provider (the preferred one) and its value.
    #[schema(example = "yahoo")]
    kept_provider: &'static str,
    kept_value: f64,
    /// The other provider and its value.
    #[schema(example = "alpha_vantage")]
    other_provider: &'static str,
    other_value: f64,
    /// `other_value` relative to `kept_value`, e.g. `0.012` for 1.2 % above.
    relative_difference: f64,
}

/// Disagreements of a symbol. (Documents the response shape.)
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DisagreementsResponse {
    #[schema(example = "AAPL")]
    symbol: String,
    #[schema(example = "1d")]
    interval: &'static str,
    disagreements: Vec<DisagreementDto>,
    count: usize,
}

/// Where providers disagree about a symbol's stored bars: for each trading day and field, the
/// kept (preferred) provider's value and the other provider's.
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/disagreements",
    operation_id = "get_disagreements",
    tag = "symbols",
    params(SymbolPath, BarsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = DisagreementsResponse),
        (status = 400, description = "Invalid symbol (`invalid_symbol`), date, interval or limit (`bad_request`), or `from` after `to` (`invalid_range`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn disagreements(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
    ApiQuery(params): ApiQuery<BarsParams>,
) -> Result<Json<DisagreementsResponse>, ApiError> {
    let symbol = path.parse()?;
    let BarsQuery { interval, from, to, limit } = params.parse()?;
    let (from, to) = day_range(&symbol, interval, from, to)?;
    let query = DisagreementQuery {
        interval: Some(interval),
        from,
        to,
        limit: Some(limit),
        ..DisagreementQuery::new(symbol.clone())
    };
    let disagreements: Vec<DisagreementDto> = storage
        .disagreements(&query)
        .await?
        .into_iter()
        .map(|d| DisagreementDto {
            date: (!interval.is_intraday()).then(|| d.ts.date_naive()),
            ts: interval.is_intraday().then_some(d.ts),
            field: d.field.as_str(),
            kept_provider: d.kept_provider.as_str(),
            kept_value: d.kept_value,
            other_provider: d.other_provider.as_str(),
            other_value: d.other_value,
            relative_difference: d.relative_difference(),
        })
        .collect();
    Ok(Json(DisagreementsResponse {
        symbol: symbol.into(),
        interval: interval.as_str(),
        count: disagreements.len(),
        disagreements,
    }))
}

/// Latest indicator values over the stored daily bars.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IndicatorsDto {
    #[schema(example = "AAPL")]
    symbol: String,
    #[schema(example = "1d")]
    interval: &'static str,
    /// The bar these values describe.
    as_of: Option<DateTime<Utc>>,
    last_close: Option<f64>,
    /// Bars with a close that fed the indicators.
    bars_used: usize,
    sma20: Option<f64>,
    sma50: Option<f64>,
    ema20: Option<f64>,
    rsi14: Option<f64>,
    /// MACD 12/26/9.
    macd: Option<f64>,
    macd_signal: Option<f64>,
    macd_hist: Option<f64>,
    /// Bollinger Bands 20, ±2σ.
    bb_mid: Option<f64>,
    bb_upper: Option<f64>,
    bb_lower: Option<f64>,
    atr14: Option<f64>,
    daily_return: Option<f64>,
    /// Annualised volatility of the last 20 daily returns.
    volatility20: Option<f64>,
}

/// Latest SMA, EMA, RSI, MACD, Bollinger, ATR, return and volatility over the stored daily bars
/// (`null` where the history is too short for an indicator's warm-up).
#[utoipa::path(
    get,
    path = "/api/symbols/{symbol}/indicators",
    operation_id = "get_indicators",
    tag = "symbols",
    params(SymbolPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = IndicatorsDto),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No daily bars stored for the symbol (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn indicators(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
) -> Result<Json<IndicatorsDto>, ApiError> {
    let symbol = path.parse()?;
    let Some(last) = storage.last_bar_ts(&symbol, Interval::Day1).await? else {
        return Err(ApiError::NotFound(format!("no daily bars stored for {symbol}")));
    };
    let query = BarQuery {
        from: last.checked_sub_days(Days::new(INDICATOR_LOOKBACK_DAYS)),
        ..BarQuery::new(symbol.clone(), Interval::Day1)
    };
    let bars = storage.bars(&query).await?;
    let snapshot = domain::indicators::latest(&bars);
    Ok(Json(IndicatorsDto {
        symbol: symbol.into(),
        interval: Interval::Day1.as_str(),
        as_of: snapshot.as_of,
        last_close: snapshot.last_close,
        bars_used: snapshot.bars_used,
        sma20: snapshot.sma20,
        sma50: snapshot.sma50,
        ema20: snapshot.ema20,
        rsi14: snapshot.rsi14,
        macd: snapshot.macd,
        macd_signal: snapshot.macd_signal,
        macd_hist: snapshot.macd_hist,
        bb_mid: snapshot.bb_mid,
        bb_upper: snapshot.bb_upper,
        bb_lower: snapshot.bb_lower,
        atr14: snapshot.atr14,
        daily_return: snapshot.daily_return,
        volatility20: snapshot.volatility20,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_range_is_inclusive_and_ordered() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let aapl = Symbol::parse("AAPL").unwrap();
        let one_day = Some(day("2024-01-02"));
        let (from, to) = day_range(&aapl, Interval::Day1, one_day, one_day).unwrap();
        assert_eq!(
            (from, to),
            (
                Some(domain::calendar::date_stamp(day("2024-01-02"))),
                Some(domain::calendar::date_stamp(day("2024-01-02")))
            )
        );
        // Intraday: the New York day, 05:00Z to 04:59:59Z the next day in winter.
        let (from, to) = day_range(&aapl, Interval::Min5, one_day, one_day).unwrap();
        assert_eq!(from.unwrap().to_rfc3339(), "2024-01-02T05:00:00+00:00");
        assert_eq!(to.unwrap().to_rfc3339(), "2024-01-03T04:59:59+00:00");
        assert!(matches!(
            day_range(&aapl, Interval::Day1, Some(day("2024-02-01")), Some(day("2024-01-01"))),
            Err(ApiError::InvalidRange(_))
        ));
        assert_eq!(day_range(&aapl, Interval::Day1, None, None).unwrap(), (None, None));
    }
}

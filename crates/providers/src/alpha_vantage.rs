//! Alpha Vantage provider: daily and intraday bars, quotes, company overviews and news with
//! sentiment, all from `GET {base_url}/query?function=…&apikey=…`.
//!
//! Design decision: responses are classified by their *body*, never by the status code. Alpha
//! Vantage answers almost every failure (unknown symbol, bad key, quota, premium endpoint) with
//! HTTP 200 and a one-key JSON object, so [`AlphaVantageProvider`] first looks for the key that
//! carries the requested data and only then reads `Error Message` / `Information` / `Note` and
//! maps their text onto a typed [`ProviderError`]. That text can quote the API key (the daily
//! quota message does), so every message passes through the HTTP client's redactor before it
//! becomes part of an error; the key also travels in the query string, so URLs are never logged.
//!
//! Timestamps: daily bars carry only the session date, which is what the domain keys them by.
//! Intraday times are local exchange time (the `Meta Data` time zone, `US/Eastern`) and are
//! converted to UTC with the time-zone database, daylight-saving changes included.
//! `TIME_SERIES_DAILY` is as traded (not split-adjusted), as the domain stores prices.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use domain::calendar::{date_stamp, parse_zone};
use domain::{
    Bar, BarSeries, CompanyProfile, DateRange, Exchange, Interval, NewsItem, ProviderId, Quote, QuoteSource,
    Symbol, volume_from_f64,
};
use outbound::{Auth, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::http::HttpClient;
use crate::listing::{self, Listing};
use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError, VendorConfig};

const CAPABILITIES: Capabilities = Capabilities::new(&[
    Capability::DailyBars,
    Capability::IntradayBars,
    Capability::Quote,
    Capability::Profile,
    Capability::News,
    Capability::Listings,
]);

/// `outputsize=compact` returns the last 100 trading days, about 140 calendar days. Windows
/// starting further back than this ask for `full`; the margin covers holidays.
const COMPACT_REACH: TimeDelta = TimeDelta::days(130);

/// News requests cost one call whatever their size, and the window already bounds the result,
/// so ask for the documented maximum rather than the default 50.
const NEWS_LIMIT: &str = "1000";

/// The burst limit is about one request per second.
const BURST_WAIT: Duration = Duration::from_secs(1);

/// The pre-2024 limit was counted per minute.
const MINUTE_WAIT: Duration = Duration::from_secs(60);

/// Alpha Vantage does not say when its day rolls over. The wait until the next UTC midnight is a
/// guess, and this floor keeps the HTTP stack from sleeping through a quota shortly before it.
const DAILY_QUOTA_MIN_WAIT: Duration = Duration::from_secs(3600);

const DAILY_SERIES_KEY: &str = "Time Series (Daily)";
const QUOTE_KEY: &str = "Global Quote";
const OVERVIEW_KEY: &str = "Symbol";
const NEWS_KEY: &str = "feed";
/// Keys under which Alpha Vantage reports failures, all with HTTP 200.
const MESSAGE_KEYS: [&str; 3] = ["Error Message", "Information", "Note"];

/// Alpha Vantage market data.
#[derive(Debug)]
pub struct AlphaVantageProvider {
    http: HttpClient,
}

impl AlphaVantageProvider {
    /// Builds the provider and its HTTP client. A missing key is reported per request, not
    /// here, so a config that lists Alpha Vantage without a key still starts and the chain can
    /// fall back.
    ///
    /// # Errors
    /// `NotConfigured` for invalid settings.
    pub fn new(config: &VendorConfig) -> Result<Self, ProviderError> {
        let auth = config.key().map_or(Auth::None, |key| Auth::Query { name: "apikey", value: key });
        Ok(Self { http: HttpClient::new(ProviderId::AlphaVantage, config, auth)? })
    }

    /// Sends one `/query` request and returns the body once it is known to hold `data_key`.
    async fn fetch(
        &self,
        what: &str,
        symbol: &Symbol,
        params: &[(&str, &str)],
        data_key: &str,
    ) -> Result<Map<String, Value>, ProviderError> {
        let url = self.query_url()?;
        self.http
            .execute(
                what,
                // The client appends `apikey` last, as the documented examples have it.
                |client| client.get(&url).query(params),
                |response| self.classify(what, symbol, data_key, response),
            )
            .await
    }

    /// The `/query` URL every function is asked at; an error when no key is configured.
    fn query_url(&self) -> Result<String, ProviderError> {
        self.http.require_key(
            "providers.alpha_vantage.api_key is not set (free keys: https://www.alphavantage.co/support/#api-key)",
        )?;
        Ok(format!("{}/query", self.http.base_url()))
    }

    /// `LISTING_STATUS`: a CSV body on success, a JSON message (rate limit, bad key) otherwise.
    async fn listing_status(&self) -> Result<Vec<Listing>, ProviderError> {
        let what = "listing status";
        let url = self.query_url()?;
        self.http
            .execute(
                what,
                |client| client.get(&url).query(&[("function", "LISTING_STATUS")]),
                |response| {
                    if !response.status.is_success() {
                        return Err(self.http.status_error(what, response, None));
                    }
                    let body = std::str::from_utf8(&response.body)
                        .map_err(|_| self.http.malformed(what, "the body is not UTF-8"))?;
                    if body.trim_start().starts_with('{') {
                        let message: Map<String, Value> = self.http.parse_json(what, response)?;
                        let text = MESSAGE_KEYS
                            .iter()
                            .find_map(|key| message.get(*key))
                            .map(|text| text.as_str().map_or_else(|| text.to_string(), str::to_owned))
                            .unwrap_or_else(|| "a JSON body instead of the CSV listing".to_owned());
                        return Err(self.vendor_error(what, None, &text));
                    }
                    listing::parse_alpha_vantage_csv(body)
                        .map_err(|message| self.http.malformed(what, message))
                },
            )
            .await
    }

    fn classify(
        &self,
        what: &str,
        symbol: &Symbol,
        data_key: &str,
        response: &Response,
    ) -> Result<Map<String, Value>, ProviderError> {
        if !response.status.is_success() {
            return Err(self.http.status_error(what, response, None));
        }
        let body: Map<String, Value> = self.http.parse_json(what, response)?;
        match body.get(data_key) {
            // `{"Global Quote":{}}` is how an unknown symbol looks for quotes.
            Some(Value::Object(inner)) if inner.is_empty() => {
                return Err(self.not_found(what, symbol, "the response holds no data"));
            }
            Some(_) => return Ok(body),
            None => {}
        }
        if let Some(text) = MESSAGE_KEYS.iter().find_map(|key| body.get(*key)) {
            let text = text.as_str().map_or_else(|| text.to_string(), str::to_owned);
            return Err(self.vendor_error(what, Some(symbol), &text));
        }
        if body.is_empty() {
            // `{}` is how an unknown symbol looks for OVERVIEW.
            return Err(self.not_found(what, symbol, "the response is empty"));
        }
        let keys = body.keys().map(String::as_str).collect::<Vec<_>>().join(", ");
        Err(self.http.malformed(what, format!("expected {data_key:?} in the response, found keys: {keys}")))
    }

    fn not_found(&self, what: &str, symbol: &Symbol, detail: &str) -> ProviderError {
        ProviderError::NotFound {
            provider: ProviderId::AlphaVantage,
            what: what.to_owned(),
            message: self
                .http
                .redactor()
                .redact(&format!("Alpha Vantage has no data for symbol {symbol}: {detail}")),
        }
    }

    /// Maps the text of an `Error Message` / `Information` / `Note` body onto an error. Order
    /// matters: the quota message also mentions "premium plans", so rate limits are checked
    /// before entitlement.
    fn vendor_error(&self, what: &str, symbol: Option<&Symbol>, text: &str) -> ProviderError {
        let provider = ProviderId::AlphaVantage;
        let lower = text.to_ascii_lowercase();
        let message = self.http.redactor().redact(text);
        let what = what.to_owned();
        let error = if lower.contains("apikey is invalid") {
            ProviderError::Auth { provider, what, message }
        } else if let Some(symbol) = symbol.filter(|_| lower.contains("invalid api call")) {
            // Alpha Vantage gives this answer for unknown symbols; our parameters are fixed.
            return self.not_found(&what, symbol, &message);
        } else if let Some(retry_after) = rate_limit_wait(&lower, Utc::now()) {
            ProviderError::RateLimited { provider, what, message, retry_after }
        } else if lower.contains("demo") {
            ProviderError::Auth { provider, what, message }
        } else if lower.contains("premium") {
            ProviderError::Entitlement { provider, what, message }
        } else {
            ProviderError::InvalidRequest { provider, what, message }
        };
        if matches!(error, ProviderError::RateLimited { .. }) {
            tracing::warn!(%error, %provider, "Rate limited.");
        } else {
            tracing::debug!(%error, %provider, "Vendor reported an error.");
        }
        error
    }

    fn decode<T: DeserializeOwned>(&self, what: &str, value: Value) -> Result<T, ProviderError> {
        serde_json::from_value(value).map_err(|e| self.http.malformed(what, format!("unexpected shape: {e}")))
    }

    fn number(&self, what: &str, field: &str, value: Option<&str>) -> Result<Option<f64>, ProviderError> {
        parse_number(field, value).map_err(|message| self.http.malformed(what, message))
    }

    /// The whole daily series comes back; `outputsize=compact` (the last 100 sessions) when the
    /// first date asked for is recent enough, and the dates outside the request are dropped.
    async fn daily_bars(&self, request: &BarsRequest) -> Result<Vec<Bar>, ProviderError> {
        let what = request.describe();
        let now = Utc::now();
        let dates = request.dates(now);
        let today = request.exchange().today(now);
        let outputsize = if today - dates.from() > COMPACT_REACH { "full" } else { "compact" };
        let params = [
            ("function", "TIME_SERIES_DAILY"),
            ("symbol", request.symbol.as_str()),
            ("outputsize", outputsize),
        ];
        let body = self.fetch(&what, &request.symbol, &params, DAILY_SERIES_KEY).await?;
        series_bars(&request.symbol, Interval::Day1, body, Some(dates), now)
            .map_err(|message| self.http.malformed(&what, message))
    }

    async fn intraday_bars(&self, request: &BarsRequest, interval: &str) -> Result<Vec<Bar>, ProviderError> {
        let what = request.describe();
        let now = Utc::now();
        let dates = request.dates(now);
        let series_key = format!("Time Series ({interval})");
        // Regular session only, matching what the other providers return for intraday bars.
        let params = [
            ("function", "TIME_SERIES_INTRADAY"),
            ("symbol", request.symbol.as_str()),
            ("interval", interval),
            ("outputsize", "full"),
            ("extended_hours", "false"),
        ];
        let body = self.fetch(&what, &request.symbol, &params, &series_key).await?;
        series_bars(&request.symbol, request.interval, body, Some(dates), now)
            .map_err(|message| self.http.malformed(&what, message))
    }
}

/// Parses a `TIME_SERIES_DAILY` or `TIME_SERIES_INTRADAY` body without HTTP (for the fuzz tests
/// and payload replays): bars sorted by time, within `dates` when given. A body with one of the
/// vendor's message keys (`Error Message`, `Information`, `Note`) is an error with its text.
///
/// # Errors
/// A description of why the body is not a usable series.
pub fn parse_series_body(
    symbol: &Symbol,
    interval: Interval,
    body: &[u8],
    dates: Option<DateRange>,
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    let body: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid series JSON: {e}"))?;
    if let Some(text) = MESSAGE_KEYS.iter().find_map(|key| body.get(*key)) {
        return Err(format!("{symbol}: {text}"));
    }
    let mut bars = series_bars(symbol, interval, body, dates, now)?;
    bars.sort_by_key(|bar| bar.ts);
    bars.dedup_by_key(|bar| bar.ts);
    Ok(bars)
}

/// The bars of a series body: `Time Series (Daily)` keyed by session date, intraday series by
/// local time in the `Meta Data` zone (converted to UTC with the time-zone database), each
/// marked partial when its session or interval had not ended at `now`.
fn series_bars(
    symbol: &Symbol,
    interval: Interval,
    mut body: Map<String, Value>,
    dates: Option<DateRange>,
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    let series_key = match intraday_interval(interval) {
        Some(name) => format!("Time Series ({name})"),
        None if interval == Interval::Day1 => DAILY_SERIES_KEY.to_owned(),
        None => return Err(format!("Alpha Vantage has no {interval} series")),
    };
    let exchange = series_exchange(symbol, body.get("Meta Data"))?;
    let series: BTreeMap<String, RawBar> =
        serde_json::from_value(body.remove(&series_key).unwrap_or_default())
            .map_err(|e| format!("unexpected shape: {e}"))?;
    let in_range = |date: NaiveDate| dates.is_none_or(|dates| dates.contains(date));
    let mut bars = Vec::with_capacity(series.len());
    for (stamp, raw) in &series {
        let (ts, date) = if interval.is_intraday() {
            let local = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M"))
                .map_err(|e| format!("bad timestamp {stamp:?}: {e}"))?;
            (exchange.instant(local), local.date())
        } else {
            let day = NaiveDate::parse_from_str(stamp, "%Y-%m-%d")
                .map_err(|e| format!("bad date {stamp:?}: {e}"))?;
            (date_stamp(day), day)
        };
        // Regular session only for intraday bars, as every provider returns them: the request
        // says `extended_hours=false`, but recorded answers still carry 04:00–20:00 bars.
        if !in_range(date) || (interval.is_intraday() && !exchange.in_regular_session(ts)) {
            continue;
        }
        let field = |name: &str| format!("{name} of {stamp}");
        bars.push(Bar {
            ts,
            open: parse_number(&field("open"), raw.open.as_deref())?,
            high: parse_number(&field("high"), raw.high.as_deref())?,
            low: parse_number(&field("low"), raw.low.as_deref())?,
            close: parse_number(&field("close"), raw.close.as_deref())?,
            adj_close: None,
            volume: parse_number(&field("volume"), raw.volume.as_deref())?.and_then(volume_from_f64),
            provider: ProviderId::AlphaVantage,
            partial: exchange.is_bar_partial(interval, ts, now),
            flag: None,
        });
    }
    Ok(bars)
}

/// A number sent as text; `None`, `-` and empty mean missing.
fn parse_number(field: &str, value: Option<&str>) -> Result<Option<f64>, String> {
    let Some(text) = value.map(str::trim).filter(|t| !is_missing(t)) else {
        return Ok(None);
    };
    text.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .map(Some)
        .ok_or_else(|| format!("{field} is not a number: {text:?}"))
}

/// The symbol's exchange in the zone `Meta Data` names (`US/Eastern` for every US listing; the
/// table's zone when the field is missing). Intraday times mean nothing without it.
fn series_exchange(symbol: &Symbol, meta: Option<&Value>) -> Result<Exchange, String> {
    let listed = Exchange::for_symbol(symbol);
    let zone = meta
        .and_then(Value::as_object)
        .and_then(|meta| meta.iter().find(|(key, _)| key.ends_with("Time Zone")))
        .and_then(|(_, value)| value.as_str());
    match zone {
        None => Ok(*listed),
        Some(name) => parse_zone(name)
            .map(|zone| listed.in_zone(zone))
            .ok_or_else(|| format!("unsupported time zone {name:?}")),
    }
}

#[async_trait]
impl MarketData for AlphaVantageProvider {
    fn id(&self) -> ProviderId {
        self.http.provider()
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn usage(&self) -> Option<&outbound::Usage> {
        Some(self.http.usage())
    }

    fn is_configured(&self) -> bool {
        self.http.has_key()
    }

    async fn listings(&self) -> Result<Vec<Listing>, ProviderError> {
        self.listing_status().await
    }

    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        let mut bars = match request.interval {
            Interval::Day1 => self.daily_bars(request).await?,
            interval => match intraday_interval(interval) {
                Some(name) => self.intraday_bars(request, name).await?,
                None => {
                    return Err(ProviderError::InvalidRequest {
                        provider: ProviderId::AlphaVantage,
                        what: request.describe(),
                        message: "Alpha Vantage is used for daily (1d) and intraday bars only".to_owned(),
                    });
                }
            },
        };
        // The body is keyed newest first; the series contract is ascending without duplicates.
        bars.sort_by_key(|bar| bar.ts);
        bars.dedup_by_key(|bar| bar.ts);
        Ok(BarSeries::as_traded(request.symbol.clone(), request.interval, ProviderId::AlphaVantage, bars))
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote, ProviderError> {
        let what = format!("{symbol} quote");
        let params = [("function", "GLOBAL_QUOTE"), ("symbol", symbol.as_str())];
        let mut body = self.fetch(&what, symbol, &params, QUOTE_KEY).await?;
        let raw: RawQuote = self.decode(&what, body.remove(QUOTE_KEY).unwrap_or_default())?;
        let price = self
            .number(&what, "price", raw.price.as_deref())?
            .ok_or_else(|| self.http.malformed(&what, "the quote has no price"))?;
        let day = raw.latest_trading_day.as_deref().unwrap_or_default();
        // Only a date is given; midnight UTC of it, like daily bars.
        let ts = date_stamp(
            NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .map_err(|e| self.http.malformed(&what, format!("bad latest trading day {day:?}: {e}")))?,
        );
        let change_percent = raw.change_percent.as_deref().map(|p| p.trim().trim_end_matches('%'));
        Ok(Quote {
            symbol: symbol.clone(),
            price,
            previous_close: self.number(&what, "previous close", raw.previous_close.as_deref())?,
            change: self.number(&what, "change", raw.change.as_deref())?,
            change_percent: self.number(&what, "change percent", change_percent)?,
            open: self.number(&what, "open", raw.open.as_deref())?,
            high: self.number(&what, "high", raw.high.as_deref())?,
            low: self.number(&what, "low", raw.low.as_deref())?,
            volume: self.number(&what, "volume", raw.volume.as_deref())?.and_then(volume_from_f64),
            ts,
            provider: ProviderId::AlphaVantage,
            source: QuoteSource::Live,
        })
    }

    async fn profile(&self, symbol: &Symbol) -> Result<CompanyProfile, ProviderError> {
        let what = format!("{symbol} profile");
        let params = [("function", "OVERVIEW"), ("symbol", symbol.as_str())];
        let body = self.fetch(&what, symbol, &params, OVERVIEW_KEY).await?;
        let raw: RawOverview = self.decode(&what, Value::Object(body))?;
        Ok(CompanyProfile {
            symbol: Some(symbol.clone()),
            name: text(raw.name),
            exchange: text(raw.exchange),
            currency: text(raw.currency),
            country: text(raw.country),
            sector: text(raw.sector),
            industry: text(raw.industry),
            // Overview numbers are loose ("None", "-", sometimes prose); a bad one is left out.
            market_cap: text(raw.market_capitalization)
                .and_then(|m| m.parse::<f64>().ok())
                .filter(|m| m.is_finite()),
            description: text(raw.description),
            website: text(raw.official_site),
            provider: Some(ProviderId::AlphaVantage),
        })
    }

    async fn news(
        &self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, ProviderError> {
        let what = format!("{symbol} news");
        let time_from = from.format("%Y%m%dT%H%M").to_string();
        // The parameter has minute precision; round up so the last minute is not cut off.
        let time_to = (to + TimeDelta::seconds(59)).format("%Y%m%dT%H%M").to_string();
        let params = [
            ("function", "NEWS_SENTIMENT"),
            ("tickers", symbol.as_str()),
            ("time_from", time_from.as_str()),
            ("time_to", time_to.as_str()),
            ("sort", "LATEST"),
            ("limit", NEWS_LIMIT),
        ];
        let mut body = self.fetch(&what, symbol, &params, NEWS_KEY).await?;
        let feed: Vec<RawArticle> = self.decode(&what, body.remove(NEWS_KEY).unwrap_or_default())?;
        let mut items = Vec::with_capacity(feed.len());
        for article in feed {
            let (Some(headline), Some(url)) = (text(article.title), text(article.url)) else {
                tracing::debug!(what, "Skipping an article without headline or URL.");
                continue;
            };
            let stamp = article.time_published.unwrap_or_default();
            let Some(published_at) = parse_news_time(&stamp) else {
                tracing::warn!(what, stamp, "Skipping an article with an unreadable publication time.");
                continue;
            };
            if !(from..=to).contains(&published_at) {
                continue;
            }
            let for_symbol = article
                .ticker_sentiment
                .iter()
                .find(|t| t.ticker.eq_ignore_ascii_case(symbol.as_str()))
                .and_then(|t| score(t.ticker_sentiment_score.as_ref()));
            items.push(NewsItem {
                symbol: symbol.clone(),
                headline,
                url,
                source: text(article.source),
                summary: text(article.summary),
                published_at,
                sentiment: for_symbol.or_else(|| score(article.overall_sentiment_score.as_ref())),
                provider: ProviderId::AlphaVantage,
            });
        }
        // Oldest first, like bars; the same story can be listed twice.
        items.sort_by_key(|item| item.published_at);
        let mut seen = std::collections::HashSet::new();
        items.retain(|item| seen.insert(item.url.clone()));
        Ok(items)
    }
}

/// Alpha Vantage's name for an intraday interval.
fn intraday_interval(interval: Interval) -> Option<&'static str> {
    match interval {
        Interval::Min1 => Some("1min"),
        Interval::Min5 => Some("5min"),
        Interval::Min15 => Some("15min"),
        Interval::Min30 => Some("30min"),
        Interval::Hour1 => Some("60min"),
        Interval::Day1 | Interval::Week1 | Interval::Month1 => None,
    }
}

/// The wait a throttling message asks for, or `None` when `lower` (lower-cased text) is not
/// about throttling. `Some(None)` means throttled without a known wait.
fn rate_limit_wait(lower: &str, now: DateTime<Utc>) -> Option<Option<Duration>> {
    if !["rate limit", "spreading out", "call frequency"].iter().any(|s| lower.contains(s)) {
        return None;
    }
    Some(if lower.contains("spreading out") || lower.contains("per second") {
        Some(BURST_WAIT)
    } else if lower.contains("per minute") {
        Some(MINUTE_WAIT)
    } else if lower.contains("per day") || lower.contains("daily") {
        Some(until_next_utc_midnight(now).max(DAILY_QUOTA_MIN_WAIT))
    } else {
        None
    })
}

fn until_next_utc_midnight(now: DateTime<Utc>) -> Duration {
    now.date_naive()
        .succ_opt()
        .map(|tomorrow| tomorrow.and_time(NaiveTime::MIN).and_utc() - now)
        .and_then(|left| left.to_std().ok())
        .unwrap_or(DAILY_QUOTA_MIN_WAIT)
}

/// Alpha Vantage writes a missing value as `"None"` or `"-"`.
fn is_missing(text: &str) -> bool {
    matches!(text, "" | "None" | "-")
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !is_missing(v))
}

/// Scores come as strings per ticker and as a number overall; accept either.
fn score(value: Option<&Value>) -> Option<f64> {
    let score = match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }?;
    score.is_finite().then(|| score.clamp(-1.0, 1.0))
}

/// `20240105T140000`, sometimes with a trailing `Z` or without seconds. The documentation gives
/// no zone; the occasional `Z` says UTC.
fn parse_news_time(stamp: &str) -> Option<DateTime<Utc>> {
    let stamp = stamp.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S")
        .or_else(|_| NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M"))
        .ok()
        .map(|t| t.and_utc())
}

/// One bar as sent: every value a string.
#[derive(Debug, Deserialize)]
struct RawBar {
    #[serde(rename = "1. open")]
    open: Option<String>,
    #[serde(rename = "2. high")]
    high: Option<String>,
    #[serde(rename = "3. low")]
    low: Option<String>,
    #[serde(rename = "4. close")]
    close: Option<String>,
    #[serde(rename = "5. volume")]
    volume: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawQuote {
    #[serde(rename = "02. open")]
    open: Option<String>,
    #[serde(rename = "03. high")]
    high: Option<String>,
    #[serde(rename = "04. low")]
    low: Option<String>,
    #[serde(rename = "05. price")]
    price: Option<String>,
    #[serde(rename = "06. volume")]
    volume: Option<String>,
    #[serde(rename = "07. latest trading day")]
    latest_trading_day: Option<String>,
    #[serde(rename = "08. previous close")]
    previous_close: Option<String>,
    #[serde(rename = "09. change")]
    change: Option<String>,
    #[serde(rename = "10. change percent")]
    change_percent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawOverview {
    name: Option<String>,
    description: Option<String>,
    exchange: Option<String>,
    currency: Option<String>,
    country: Option<String>,
    sector: Option<String>,
    industry: Option<String>,
    market_capitalization: Option<String>,
    official_site: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawArticle {
    title: Option<String>,
    url: Option<String>,
    time_published: Option<String>,
    summary: Option<String>,
    source: Option<String>,
    overall_sentiment_score: Option<Value>,
    #[serde(default)]
    ticker_sentiment: Vec<RawTickerSentiment>,
}

#[derive(Debug, Deserialize)]
struct RawTickerSentiment {
    ticker: String,
    ticker_sentiment_score: Option<Value>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn eastern_time_follows_the_us_daylight_rule() {
        let symbol = Symbol::parse("IBM").unwrap();
        let eastern = Exchange::for_symbol(&symbol).in_zone(parse_zone("US/Eastern").unwrap());
        let to_utc = |text: &str| eastern.instant(local(text));
        // 2024: DST from Sunday 10 March to Sunday 3 November.
        assert_eq!(to_utc("2024-03-08 15:55"), utc(2024, 3, 8, 20, 55));
        assert_eq!(to_utc("2024-03-10 01:59"), utc(2024, 3, 10, 6, 59));
        assert_eq!(to_utc("2024-03-10 03:00"), utc(2024, 3, 10, 7, 0));
        assert_eq!(to_utc("2024-03-11 09:30"), utc(2024, 3, 11, 13, 30));
        assert_eq!(to_utc("2024-11-01 15:55"), utc(2024, 11, 1, 19, 55));
        assert_eq!(to_utc("2024-11-04 09:30"), utc(2024, 11, 4, 14, 30));
        // 2006, the old rule: first Sunday of April (2 April) to last Sunday of October (29th).
        assert_eq!(to_utc("2006-03-31 09:30"), utc(2006, 3, 31, 14, 30));
        assert_eq!(to_utc("2006-04-03 09:30"), utc(2006, 4, 3, 13, 30));
        assert_eq!(to_utc("2006-10-27 09:30"), utc(2006, 10, 27, 13, 30));
        assert_eq!(to_utc("2006-10-30 09:30"), utc(2006, 10, 30, 14, 30));
    }

    #[test]
    fn throttling_messages_map_to_waits() {
        let now = utc(2024, 5, 3, 12, 0);
        let burst = "thank you for using alpha vantage! please consider spreading out your free api requests more sparingly (1 request per second).";
        assert_eq!(rate_limit_wait(burst, now), Some(Some(BURST_WAIT)));
        let daily =
            "we have detected your api key as *** and our standard api rate limit is 25 requests per day.";
        assert_eq!(rate_limit_wait(daily, now), Some(Some(Duration::from_secs(12 * 3600))));
        let late = utc(2024, 5, 3, 23, 59);
        assert_eq!(rate_limit_wait(daily, late), Some(Some(DAILY_QUOTA_MIN_WAIT)));
        let note = "our standard api call frequency is 5 calls per minute and 500 calls per day.";
        assert_eq!(rate_limit_wait(note, now), Some(Some(MINUTE_WAIT)));
        assert_eq!(rate_limit_wait("this is a premium endpoint.", now), None);
    }

    #[test]
    fn news_times_and_scores() {
        assert_eq!(parse_news_time("20240105T140000"), Some(utc(2024, 1, 5, 14, 0)));
        assert_eq!(
            parse_news_time("20240103T165940Z"),
            Some(Utc.with_ymd_and_hms(2024, 1, 3, 16, 59, 40).unwrap())
        );
        assert_eq!(parse_news_time("20240105T1400"), Some(utc(2024, 1, 5, 14, 0)));
        assert_eq!(parse_news_time("yesterday"), None);
        assert_eq!(score(Some(&Value::String("0.51".into()))), Some(0.51));
        assert_eq!(score(Some(&serde_json::json!(0.42))), Some(0.42));
        assert_eq!(score(Some(&Value::Null)), None);
    }
}

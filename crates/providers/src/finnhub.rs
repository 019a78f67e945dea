//! Finnhub provider: quotes, candles, company news and profiles from `https://finnhub.io/api/v1`.
//!
//! Design decision: the key is sent only in the `X-Finnhub-Token` header, never as the
//! `token=` query parameter Finnhub also accepts. URLs end up in logs, proxies and reqwest's
//! own error messages; a header does not, so a leak needs more than one mistake.
//!
//! Finnhub reports some failures in-band rather than by status: an unknown symbol gets an
//! all-zero quote or an empty profile `{}` with HTTP 200, and both become `NotFound`. Candles
//! are premium since 2024; free keys get 403, which maps to `Entitlement` so the chain moves on.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::calendar::date_stamp;
use domain::{
    Bar, BarSeries, CompanyProfile, Exchange, Interval, NewsItem, PriceBasis, ProviderId, Quote, QuoteSource,
    Symbol, volume_from_f64,
};
use outbound::{Auth, Response};
use reqwest::header::HeaderName;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::http::HttpClient;
use crate::listing::{self, FinnhubSymbol, Listing};
use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError, VendorConfig};

const CAPABILITIES: Capabilities = Capabilities::new(&[
    Capability::DailyBars,
    Capability::IntradayBars,
    Capability::Quote,
    Capability::Profile,
    Capability::News,
    Capability::Listings,
]);

/// Lower case: `HeaderName::from_static` takes no other (header names are case-insensitive).
const TOKEN_HEADER: &str = "x-finnhub-token";

/// Finnhub market data.
#[derive(Debug)]
pub struct FinnhubProvider {
    http: HttpClient,
}

impl FinnhubProvider {
    /// Builds the provider and its HTTP client. A missing key is reported per request, not
    /// here, so a config that lists Finnhub without a key still starts and the chain can fall
    /// back.
    ///
    /// # Errors
    /// `NotConfigured` for invalid settings.
    pub fn new(config: &VendorConfig) -> Result<Self, ProviderError> {
        let auth = config.key().map_or(Auth::None, |key| Auth::Header {
            name: HeaderName::from_static(TOKEN_HEADER),
            value: key,
        });
        Ok(Self { http: HttpClient::new(ProviderId::Finnhub, config, auth)? })
    }

    /// Sends `GET {base_url}{path}?{params}` and parses the JSON body as `T`.
    async fn fetch<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<T, ProviderError> {
        // Finnhub answers a missing token with a misleading 429, so never send a request without one.
        self.http
            .require_key("providers.finnhub.api_key is not set (free keys: https://finnhub.io/register)")?;
        let url = format!("{}{path}", self.http.base_url());
        self.http
            .execute(what, |client| client.get(&url).query(params), |response| self.classify(what, response))
            .await
    }

    fn classify<T: DeserializeOwned>(&self, what: &str, response: &Response) -> Result<T, ProviderError> {
        if !response.status.is_success() {
            return Err(self.http.status_error(what, response, error_text(response)));
        }
        let body: Value = self.http.parse_json(what, response)?;
        if let Some(message) = body.get("error").and_then(Value::as_str) {
            return Err(self.in_band_error(what, message));
        }
        serde_json::from_value(body).map_err(|e| self.http.malformed(what, format!("unexpected shape: {e}")))
    }

    /// An `{"error": …}` body sent with HTTP 200; the text is all there is to go on.
    fn in_band_error(&self, what: &str, text: &str) -> ProviderError {
        let provider = ProviderId::Finnhub;
        let what = what.to_owned();
        let lower = text.to_ascii_lowercase();
        let message = self.http.redactor().redact(text);
        if lower.contains("api limit") {
            ProviderError::RateLimited { provider, what, message, retry_after: None }
        } else if lower.contains("access") {
            ProviderError::Entitlement { provider, what, message }
        } else if lower.contains("api key") || lower.contains("token") {
            ProviderError::Auth { provider, what, message }
        } else {
            ProviderError::InvalidRequest { provider, what, message }
        }
    }

    fn not_found(&self, what: &str, symbol: &Symbol, detail: &str) -> ProviderError {
        ProviderError::NotFound {
            provider: ProviderId::Finnhub,
            what: what.to_owned(),
            message: format!("Finnhub has no data for symbol {symbol}: {detail}"),
        }
    }
}

#[async_trait]
impl MarketData for FinnhubProvider {
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

    /// `from` and `to` are unix seconds, both inclusive. Intraday: the exchange-local days.
    /// Daily and longer candles carry a date-like stamp, so the window reaches from the earlier
    /// of local and UTC midnight of the first day to the later of them after the last day, and
    /// the candles are trimmed to the dates asked for.
    /// `/stock/symbol?exchange=US`: every US symbol in one (large) answer.
    async fn listings(&self) -> Result<Vec<Listing>, ProviderError> {
        let entries: Vec<FinnhubSymbol> =
            self.fetch("symbol list", "/stock/symbol", &[("exchange", "US")]).await?;
        Ok(listing::from_finnhub(entries))
    }

    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        let what = request.describe();
        let now = Utc::now();
        let dates = request.dates(now);
        let exchange = request.exchange();
        let (start, end) = exchange.window(dates);
        let (start, end) = if request.interval.is_intraday() {
            (start, end)
        } else {
            let after_last = dates.to().succ_opt().unwrap_or(dates.to());
            (start.min(date_stamp(dates.from())), end.max(date_stamp(after_last)))
        };
        let (from_secs, to_secs) = (start.timestamp().to_string(), (end.timestamp() - 1).to_string());
        let params = [
            ("symbol", request.symbol.as_str()),
            ("resolution", resolution(request.interval)),
            ("from", from_secs.as_str()),
            ("to", to_secs.as_str()),
        ];
        let raw: RawCandles = self.fetch(&what, "/stock/candle", &params).await?;
        let bars = parse_candles(&raw, request.interval, exchange, now)
            .map_err(|message| self.http.malformed(&what, message))?;
        let bars: Vec<Bar> = bars
            .into_iter()
            .filter(|bar| dates.contains(exchange.key_date(request.interval, bar.ts)))
            .collect();
        if raw.s == "no_data" {
            // Also Finnhub's answer for a symbol it does not know: its quote tells the two apart.
            self.quote(&request.symbol).await?;
        }
        Ok(BarSeries {
            symbol: request.symbol.clone(),
            interval: request.interval,
            provider: ProviderId::Finnhub,
            bars,
            // "Daily data will be adjusted for Splits. Intraday data will remain unadjusted."
            // (Finnhub's candle documentation). Finnhub sends no split events with candles, so
            // the ingest step uses the splits on record.
            basis: if request.interval.is_intraday() {
                PriceBasis::AsTraded
            } else {
                PriceBasis::SplitAdjusted
            },
            actions: Vec::new(),
        })
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote, ProviderError> {
        let what = format!("{symbol} quote");
        let raw: RawQuote = self.fetch(&what, "/quote", &[("symbol", symbol.as_str())]).await?;
        quote_from_raw(symbol, &raw, Utc::now())
            .map_err(|message| self.http.malformed(&what, message))?
            // Finnhub's answer for a symbol it does not know is a quote of zeros.
            .ok_or_else(|| self.not_found(&what, symbol, "the quote is all zeros"))
    }

    async fn profile(&self, symbol: &Symbol) -> Result<CompanyProfile, ProviderError> {
        let what = format!("{symbol} profile");
        let body: Map<String, Value> =
            self.fetch(&what, "/stock/profile2", &[("symbol", symbol.as_str())]).await?;
        if body.is_empty() {
            return Err(self.not_found(&what, symbol, "the profile is empty"));
        }
        let raw: RawProfile = serde_json::from_value(Value::Object(body))
            .map_err(|e| self.http.malformed(&what, format!("unexpected shape: {e}")))?;
        Ok(CompanyProfile {
            symbol: Some(symbol.clone()),
            name: text(raw.name),
            exchange: text(raw.exchange),
            currency: text(raw.currency),
            country: text(raw.country),
            sector: None,
            industry: text(raw.finnhub_industry),
            // Finnhub gives market capitalisation in millions.
            market_cap: raw.market_capitalization.filter(|m| m.is_finite() && *m > 0.0).map(|m| m * 1e6),
            description: None,
            website: text(raw.weburl),
            provider: Some(ProviderId::Finnhub),
        })
    }

    async fn news(
        &self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, ProviderError> {
        let what = format!("{symbol} news");
        // The endpoint takes whole days; the exact window is applied below.
        let (from_day, to_day) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        let params = [("symbol", symbol.as_str()), ("from", from_day.as_str()), ("to", to_day.as_str())];
        let raw: Vec<RawArticle> = self.fetch(&what, "/company-news", &params).await?;
        let mut items = Vec::with_capacity(raw.len());
        for article in raw {
            let (Some(headline), Some(url)) = (text(article.headline), text(article.url)) else {
                tracing::debug!(what, "Skipping an article without headline or URL.");
                continue;
            };
            let Some(published_at) = article.datetime.and_then(|s| DateTime::from_timestamp(s, 0)) else {
                tracing::warn!(what, "Skipping an article without a publication time.");
                continue;
            };
            if !(from..=to).contains(&published_at) {
                continue;
            }
            items.push(NewsItem {
                symbol: symbol.clone(),
                headline,
                url,
                source: text(article.source),
                summary: text(article.summary),
                published_at,
                sentiment: None,
                provider: ProviderId::Finnhub,
            });
        }
        // Oldest first, like bars; the same story can be listed twice.
        items.sort_by_key(|item| item.published_at);
        let mut seen = std::collections::HashSet::new();
        items.retain(|item| seen.insert(item.url.clone()));
        Ok(items)
    }
}

/// Converts candles into bars keyed as the domain stores them, sorted, one per key.
///
/// # Errors
/// A message for a `Malformed` error when the arrays do not line up, a time is out of range or
/// the status is unknown.
fn parse_candles(
    raw: &RawCandles,
    interval: Interval,
    exchange: &Exchange,
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    match raw.s.as_str() {
        "ok" => {}
        "no_data" => return Ok(Vec::new()),
        other => return Err(format!("unexpected candle status {other:?}")),
    }
    let n = raw.t.len();
    for (name, column) in [("o", &raw.o), ("h", &raw.h), ("l", &raw.l), ("c", &raw.c)] {
        if column.len() != n {
            return Err(format!("column {name} has {} values for {n} timestamps", column.len()));
        }
    }
    if !raw.v.is_empty() && raw.v.len() != n {
        return Err(format!("column v has {} values for {n} timestamps", raw.v.len()));
    }
    let mut bars = std::collections::BTreeMap::new();
    for (i, seconds) in raw.t.iter().enumerate() {
        let stamp = DateTime::from_timestamp(*seconds, 0)
            .ok_or_else(|| format!("timestamp {seconds} is out of range"))?;
        let ts = exchange.bar_key(interval, stamp);
        bars.insert(
            ts,
            Bar {
                ts,
                open: raw.o[i].filter(|x| x.is_finite()),
                high: raw.h[i].filter(|x| x.is_finite()),
                low: raw.l[i].filter(|x| x.is_finite()),
                close: raw.c[i].filter(|x| x.is_finite()),
                adj_close: None,
                volume: raw.v.get(i).copied().flatten().and_then(volume_from_f64),
                provider: ProviderId::Finnhub,
                partial: exchange.is_bar_partial(interval, ts, now),
                flag: None,
            },
        );
    }
    Ok(bars.into_values().collect())
}

/// Parses a candle body without HTTP (for the fuzz tests and payload replays).
///
/// # Errors
/// A description of why the body is not usable candles.
pub fn parse_candles_body(
    symbol: &Symbol,
    interval: Interval,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    let raw: RawCandles =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid candle JSON: {e}"))?;
    parse_candles(&raw, interval, Exchange::for_symbol(symbol), now)
}

/// A quote from Finnhub's `/quote` fields; `None` for the all-zero quote of an unknown symbol.
/// Finnhub writes 0 where it has no value (no listed price is exactly zero). Older responses,
/// still served on some plans, have no `t`: such a quote is as of `now`.
///
/// # Errors
/// A message for a `Malformed` error when `t` is out of range.
fn quote_from_raw(symbol: &Symbol, raw: &RawQuote, now: DateTime<Utc>) -> Result<Option<Quote>, String> {
    let Some(price) = raw.c.filter(|c| c.is_finite() && *c != 0.0) else {
        return Ok(None);
    };
    let ts = match raw.t.filter(|t| *t != 0) {
        Some(seconds) => DateTime::from_timestamp(seconds, 0)
            .ok_or_else(|| format!("timestamp {seconds} is out of range"))?,
        None => now,
    };
    let value = |x: Option<f64>| x.filter(|x| x.is_finite() && *x != 0.0);
    Ok(Some(Quote {
        symbol: symbol.clone(),
        price,
        previous_close: value(raw.pc),
        change: raw.d.filter(|x| x.is_finite()),
        change_percent: raw.dp.filter(|x| x.is_finite()),
        open: value(raw.o),
        high: value(raw.h),
        low: value(raw.l),
        volume: None,
        ts,
        provider: ProviderId::Finnhub,
        source: QuoteSource::Live,
    }))
}

/// Parses a `/quote` body without HTTP (for the fuzz tests and payload replays); `Ok(None)` is
/// the all-zero answer for an unknown symbol.
///
/// # Errors
/// A description of why the body is not a usable quote.
pub fn parse_quote_body(symbol: &Symbol, body: &[u8], now: DateTime<Utc>) -> Result<Option<Quote>, String> {
    let raw: RawQuote =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid quote JSON: {e}"))?;
    quote_from_raw(symbol, &raw, now)
}

/// Finnhub's resolution for an interval.
fn resolution(interval: Interval) -> &'static str {
    match interval {
        Interval::Min1 => "1",
        Interval::Min5 => "5",
        Interval::Min15 => "15",
        Interval::Min30 => "30",
        Interval::Hour1 => "60",
        Interval::Day1 => "D",
        Interval::Week1 => "W",
        Interval::Month1 => "M",
    }
}

/// The `error` field of an error body, or `None` to let the HTTP client describe the raw body.
fn error_text(response: &Response) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorBody {
        error: String,
    }
    serde_json::from_slice::<ErrorBody>(&response.body).ok().map(|body| body.error)
}

fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Parallel arrays, one entry per bar.
#[derive(Debug, Deserialize)]
struct RawCandles {
    s: String,
    #[serde(default)]
    t: Vec<i64>,
    #[serde(default)]
    o: Vec<Option<f64>>,
    #[serde(default)]
    h: Vec<Option<f64>>,
    #[serde(default)]
    l: Vec<Option<f64>>,
    #[serde(default)]
    c: Vec<Option<f64>>,
    #[serde(default)]
    v: Vec<Option<f64>>,
}

#[derive(Debug, Deserialize)]
struct RawQuote {
    c: Option<f64>,
    d: Option<f64>,
    dp: Option<f64>,
    h: Option<f64>,
    l: Option<f64>,
    o: Option<f64>,
    pc: Option<f64>,
    t: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    name: Option<String>,
    exchange: Option<String>,
    currency: Option<String>,
    country: Option<String>,
    finnhub_industry: Option<String>,
    market_capitalization: Option<f64>,
    weburl: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawArticle {
    datetime: Option<i64>,
    headline: Option<String>,
    url: Option<String>,
    source: Option<String>,
    summary: Option<String>,
}

//! Polygon.io provider (the API Massive serves since the 2025 rename): aggregates for bars, the
//! free previous-close endpoint for quotes, ticker details (`/v3/reference/tickers/{ticker}`) for
//! company profiles and `/v2/reference/news` for news.
//!
//! Design decision: the key travels only in an `Authorization: Bearer` header, never in a URL.
//! Polygon's paging `next_url` carries no key, and a key in a query string ends up in proxy
//! logs and HTTP error texts; with the header there is nothing to re-add or to redact. For the
//! same reason `next_url` is followed only on the configured origin: a misbehaving response
//! cannot send the key to another host, and paging stops after [`MAX_PAGES`] pages.
//!
//! A missing key does not stop construction (so `tickerwatch config show` and chains that list
//! Polygon still build); each request then fails with `NotConfigured`, on which the chain moves
//! to the next provider.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    Bar, BarSeries, CompanyProfile, CorporateAction, CorporateActionKind, Exchange, Interval, NewsItem,
    ProviderId, Quote, QuoteSource, Symbol, volume_from_f64,
};
use outbound::{Auth, Response};
use url::Url;

use crate::http::HttpClient;
use crate::listing::{self, Listing, PolygonTickersPage};
use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError, VendorConfig};

/// Pages of 1,000 tickers followed at most: the US list is about 12 pages; a vendor that keeps
/// answering `next_url` past this is not followed for ever.
const MAX_LISTING_PAGES: usize = 40;

const CAPABILITIES: Capabilities = Capabilities::new(&[
    Capability::DailyBars,
    Capability::IntradayBars,
    Capability::Quote,
    Capability::CorporateActions,
    Capability::Profile,
    Capability::News,
    Capability::Listings,
]);

/// Splits or dividends asked for in one reference request; a ticker has far fewer.
const REFERENCE_LIMIT: &str = "1000";

/// Upper bound on `next_url` pages for one request. At 50 000 bars a page this is far beyond
/// any real window; it only bounds a server that never stops sending `next_url`.
pub const MAX_PAGES: usize = 1000;

/// Articles asked for per news page (Polygon's maximum).
const NEWS_PAGE_LIMIT: &str = "1000";

/// Upper bound on news pages for one window. Pages come newest first, so stopping early keeps
/// the latest articles; on the free tier (5 requests a minute) every page is a fifth of the
/// minute's budget, and a few thousand articles about one ticker are more than anyone reads.
pub const MAX_NEWS_PAGES: usize = 5;

/// Polygon.io market data.
#[derive(Debug)]
pub struct PolygonProvider {
    http: HttpClient,
    base: Url,
}

impl PolygonProvider {
    /// Builds the provider and its HTTP client. A missing or blank key is accepted here and
    /// reported by each request instead (see the module docs).
    ///
    /// # Errors
    /// `NotConfigured` for invalid settings.
    pub fn new(config: &VendorConfig) -> Result<Self, ProviderError> {
        let auth = config.key().map_or(Auth::None, Auth::Bearer);
        let http = HttpClient::new(ProviderId::Polygon, config, auth)?;
        let base =
            Url::parse(http.base_url()).ok().filter(|url| !url.cannot_be_a_base()).ok_or_else(|| {
                ProviderError::NotConfigured {
                    provider: ProviderId::Polygon,
                    message: format!("base_url {:?} cannot take a path", http.base_url()),
                }
            })?;
        Ok(Self { http, base })
    }

    fn ensure_key(&self) -> Result<(), ProviderError> {
        self.http.require_key(
            "no API key; set providers.polygon.api_key (or TICKERWATCH_PROVIDERS__POLYGON__API_KEY)",
        )
    }

    /// The configured base URL plus `segments`, each escaped as one path segment.
    fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// Resolves a `next_url` and refuses any other origin than the configured one, because the
    /// key goes with every request.
    fn next_page(&self, what: &str, next_url: &str) -> Result<Url, ProviderError> {
        let url = self
            .base
            .join(next_url)
            .map_err(|e| self.http.malformed(what, format!("next_url is not a URL: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(self.http.malformed(
                what,
                format!(
                    "next_url points at {}, not the configured {}; not following it with the key",
                    url.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ),
            ));
        }
        Ok(url)
    }

    /// One GET (the client adds the key as a Bearer header), retried and classified by the shared client.
    async fn get(&self, what: &str, url: &Url) -> Result<models::AggsResponse, ProviderError> {
        self.http
            .execute(what, |client| client.get(url.clone()), |response| self.classify(what, response))
            .await
    }

    /// One GET of a reference endpoint, parsed as `T`.
    async fn get_reference<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &Url,
    ) -> Result<T, ProviderError> {
        self.http
            .execute(
                what,
                |client| client.get(url.clone()),
                |response| {
                    if !response.status.is_success() {
                        return Err(self.http.status_error(what, response, vendor_message(response)));
                    }
                    self.http.parse_json(what, response)
                },
            )
            .await
    }

    /// Aggregates answer an unknown ticker and a window without sessions alike (`resultsCount:
    /// 0`); the ticker reference tells them apart with one more request, made only when a window
    /// came back empty.
    async fn ensure_ticker_exists(&self, what: &str, symbol: &Symbol) -> Result<(), ProviderError> {
        let ticker = polygon_ticker(symbol);
        let url = self.endpoint(&["v3", "reference", "tickers", &ticker]);
        self.http
            .execute(
                what,
                |client| client.get(url.clone()),
                |response| match response.status.as_u16() {
                    404 if vendor_status(response).as_deref() == Some("NOT_FOUND") => {
                        Err(unknown_ticker(what, symbol, response))
                    }
                    status if (200..300).contains(&status) => Ok(()),
                    _ => Err(self.http.status_error(what, response, vendor_message(response))),
                },
            )
            .await
    }

    /// Polygon's HTTP status is reliable (its body `status` may be `OK`, `DELAYED`, …), so the
    /// status decides and the body only supplies the message.
    fn classify(&self, what: &str, response: &Response) -> Result<models::AggsResponse, ProviderError> {
        if !response.status.is_success() {
            return Err(self.http.status_error(what, response, vendor_message(response)));
        }
        self.http.parse_json(what, response)
    }
}

/// Polygon's `NOT_FOUND` answer of the ticker reference, as `NotFound`.
fn unknown_ticker(what: &str, symbol: &Symbol, response: &Response) -> ProviderError {
    ProviderError::NotFound {
        provider: ProviderId::Polygon,
        what: what.to_owned(),
        message: format!(
            "Polygon does not know ticker {symbol}: {}",
            vendor_message(response).unwrap_or_else(|| "not found".to_owned())
        ),
    }
}

/// Oldest first, one item per URL (the first seen; pages overlap when articles arrive while
/// paging).
fn sorted_unique(mut items: Vec<NewsItem>) -> Vec<NewsItem> {
    let mut seen = HashSet::new();
    items.retain(|item| seen.insert(item.url.clone()));
    items.sort_by_key(|item| item.published_at);
    items
}

/// The vendor's own error text: under `error` for `ERROR`, under `message` for
/// `NOT_AUTHORIZED`. `None` for non-JSON bodies, which the shared excerpt describes instead.
fn vendor_message(response: &Response) -> Option<String> {
    if response.is_html() {
        return None;
    }
    let body: models::ErrorBody = serde_json::from_slice(&response.body).ok()?;
    body.error.or(body.message).map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
}

/// Polygon's name for a symbol: crypto pairs are `X:BTCUSD` (ours, Yahoo's spelling: `BTC-USD`),
/// currency pairs `C:EURUSD` (`EURUSD=X`), indices `I:SPX` (`^SPX`); stocks are as they are
/// (`BRK.B` included).
fn polygon_ticker(symbol: &Symbol) -> String {
    let text = symbol.as_str();
    match Exchange::for_symbol(symbol).name {
        "CRYPTO" => format!("X:{}", text.replace('-', "")),
        "FX" => format!("C:{}", text.trim_end_matches("=X")),
        _ if text.starts_with('^') => format!("I:{}", &text[1..]),
        _ => text.to_owned(),
    }
}

/// The body's `status` (`OK`, `NOT_FOUND`, `ERROR`, …), if the body is JSON.
fn vendor_status(response: &Response) -> Option<String> {
    serde_json::from_slice::<models::ErrorBody>(&response.body).ok()?.status
}

/// Polygon's `{multiplier}/{timespan}` for each interval.
fn range(interval: Interval) -> (u32, &'static str) {
    match interval {
        Interval::Min1 => (1, "minute"),
        Interval::Min5 => (5, "minute"),
        Interval::Min15 => (15, "minute"),
        Interval::Min30 => (30, "minute"),
        Interval::Hour1 => (1, "hour"),
        Interval::Day1 => (1, "day"),
        Interval::Week1 => (1, "week"),
        Interval::Month1 => (1, "month"),
    }
}

#[async_trait]
impl MarketData for PolygonProvider {
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

    /// Daily and longer bars are asked for by date (`from` and `to` are both inclusive in
    /// Polygon's terms); intraday bars by the millisecond instants of the exchange-local days,
    /// the end exclusive. `adjusted=false`: the domain stores as-traded prices. Pre- and
    /// post-market bars are dropped, as the other vendors return the regular session only.
    /// `/v3/reference/tickers?market=stocks&active=true`, 1,000 per page, following `next_url`
    /// on the configured origin for at most [`MAX_LISTING_PAGES`] pages (about 12 are needed).
    async fn listings(&self) -> Result<Vec<Listing>, ProviderError> {
        let what = "ticker list";
        self.ensure_key()?;
        let mut url = self.endpoint(&["v3", "reference", "tickers"]);
        url.query_pairs_mut()
            .append_pair("market", "stocks")
            .append_pair("active", "true")
            .append_pair("limit", "1000");
        let mut listings = Vec::new();
        let mut visited = HashSet::new();
        for page in 1..=MAX_LISTING_PAGES {
            let response: PolygonTickersPage = self.get_reference(what, &url).await?;
            listings.extend(listing::from_polygon(response.results));
            let Some(next_url) = response.next_url.as_deref().filter(|next| !next.is_empty()) else {
                return Ok(listings);
            };
            visited.insert(url.to_string());
            url = self.next_page(what, next_url)?;
            if visited.contains(url.as_str()) {
                return Err(self
                    .http
                    .malformed(what, format!("next_url on page {page} repeats an earlier page")));
            }
        }
        Err(self.http.malformed(what, format!("more than {MAX_LISTING_PAGES} pages of tickers; stopped")))
    }

    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        let what = request.describe();
        self.ensure_key()?;
        let now = Utc::now();
        let dates = request.dates(now);
        let exchange = request.exchange();
        let (from, to) = if request.interval.is_intraday() {
            let (start, end) = exchange.window(dates);
            (start.timestamp_millis().to_string(), (end.timestamp_millis() - 1).to_string())
        } else {
            (dates.from().to_string(), dates.to().to_string())
        };
        let (multiplier, timespan) = range(request.interval);
        let multiplier = multiplier.to_string();
        let ticker = polygon_ticker(&request.symbol);
        let mut url =
            self.endpoint(&["v2", "aggs", "ticker", &ticker, "range", &multiplier, timespan, &from, &to]);
        url.query_pairs_mut()
            .append_pair("adjusted", "false")
            .append_pair("sort", "asc")
            .append_pair("limit", "50000");

        // Keyed by time: sorted across pages, and a bar repeated on two pages is kept once.
        let mut bars = BTreeMap::new();
        let mut visited = HashSet::new();
        for page in 1..=MAX_PAGES {
            let response = self.get(&what, &url).await?;
            let page_bars = parse_aggs(&response, request.interval, exchange, now)
                .map_err(|message| self.http.malformed(&what, message))?;
            bars.extend(
                page_bars
                    .into_iter()
                    .filter(|bar| dates.contains(exchange.key_date(request.interval, bar.ts)))
                    .map(|bar| (bar.ts, bar)),
            );
            let Some(next_url) = response.next_url.as_deref().filter(|next| !next.is_empty()) else {
                tracing::debug!(provider = %ProviderId::Polygon, what, page, bars = bars.len(), "Fetched aggregates.");
                if bars.is_empty() {
                    self.ensure_ticker_exists(&what, &request.symbol).await?;
                }
                return Ok(BarSeries::as_traded(
                    request.symbol.clone(),
                    request.interval,
                    ProviderId::Polygon,
                    bars.into_values().collect(),
                ));
            };
            visited.insert(url.to_string());
            url = self.next_page(&what, next_url)?;
            if visited.contains(url.as_str()) {
                return Err(self
                    .http
                    .malformed(&what, format!("next_url on page {page} repeats an earlier page")));
            }
        }
        Err(self.http.malformed(&what, format!("still paging after {MAX_PAGES} pages; giving up")))
    }

    /// Splits (`/v3/reference/splits`) and cash dividends (`/v3/reference/dividends`) of the
    /// ticker. Polygon's bars are asked for as traded, so the splits are not needed to read them;
    /// they explain a split's step in the closes to the quality gate.
    async fn corporate_actions(&self, symbol: &Symbol) -> Result<Vec<CorporateAction>, ProviderError> {
        let what = format!("{symbol} corporate actions");
        self.ensure_key()?;
        let mut actions = Vec::new();
        for (endpoint, parse) in [
            (
                "splits",
                parse_splits
                    as fn(&Symbol, &models::ReferenceResponse) -> Result<Vec<CorporateAction>, String>,
            ),
            ("dividends", parse_dividends),
        ] {
            let mut url = self.endpoint(&["v3", "reference", endpoint]);
            url.query_pairs_mut()
                .append_pair("ticker", &polygon_ticker(symbol))
                .append_pair("limit", REFERENCE_LIMIT);
            let response: models::ReferenceResponse = self.get_reference(&what, &url).await?;
            actions.extend(parse(symbol, &response).map_err(|message| self.http.malformed(&what, message))?);
        }
        actions.sort_by_key(|action| action.date);
        Ok(actions)
    }

    /// Ticker details (`/v3/reference/tickers/{ticker}`): name, primary exchange (a MIC such as
    /// `XNAS`), currency, locale, market capitalisation, description, homepage and the SIC
    /// industry. Polygon has no sector, so `sector` stays `None` rather than a guess. An unknown
    /// ticker is Polygon's 404 `NOT_FOUND`, which becomes `NotFound`; a bare 404 stays the
    /// endpoint's fault, as for every call.
    async fn profile(&self, symbol: &Symbol) -> Result<CompanyProfile, ProviderError> {
        let what = format!("{symbol} profile");
        self.ensure_key()?;
        let url = self.endpoint(&["v3", "reference", "tickers", &polygon_ticker(symbol)]);
        let response: models::TickerDetailsResponse = self
            .http
            .execute(
                &what,
                |client| client.get(url.clone()),
                |response| {
                    if response.status.as_u16() == 404
                        && vendor_status(response).as_deref() == Some("NOT_FOUND")
                    {
                        return Err(unknown_ticker(&what, symbol, response));
                    }
                    if !response.status.is_success() {
                        return Err(self.http.status_error(&what, response, vendor_message(response)));
                    }
                    self.http.parse_json(&what, response)
                },
            )
            .await?;
        parse_ticker_details(symbol, &response).map_err(|message| self.http.malformed(&what, message))
    }

    /// Articles tagged with the ticker and published in `[from, to]` (`published_utc.gte`/`.lte`,
    /// to the second), newest first, following `next_url` for at most [`MAX_NEWS_PAGES`] pages on
    /// the configured origin; returned oldest first and once per URL. An empty window is
    /// confirmed with the ticker reference, as for bars, so an unknown ticker is `NotFound`
    /// rather than "no news".
    async fn news(
        &self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, ProviderError> {
        let what = format!("{symbol} news");
        self.ensure_key()?;
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut url = self.endpoint(&["v2", "reference", "news"]);
        url.query_pairs_mut()
            .append_pair("ticker", &polygon_ticker(symbol))
            .append_pair("published_utc.gte", &stamp(from))
            .append_pair("published_utc.lte", &stamp(to))
            .append_pair("order", "desc")
            .append_pair("sort", "published_utc")
            .append_pair("limit", NEWS_PAGE_LIMIT);
        let mut items = Vec::new();
        let mut visited = HashSet::new();
        for page in 1..=MAX_NEWS_PAGES {
            let response: models::NewsResponse = self.get_reference(&what, &url).await?;
            items.extend(
                parse_news(symbol, &response, from, to)
                    .map_err(|message| self.http.malformed(&what, message))?,
            );
            let Some(next_url) = response.next_url.as_deref().filter(|next| !next.is_empty()) else {
                break;
            };
            if page == MAX_NEWS_PAGES {
                tracing::debug!(provider = %ProviderId::Polygon, what, page, "Stopping news paging at the page bound.");
                break;
            }
            visited.insert(url.to_string());
            url = self.next_page(&what, next_url)?;
            if visited.contains(url.as_str()) {
                return Err(self
                    .http
                    .malformed(&what, format!("next_url on page {page} repeats an earlier page")));
            }
        }
        if items.is_empty() {
            self.ensure_ticker_exists(&what, symbol).await?;
        }
        Ok(sorted_unique(items))
    }

    /// The previous session's bar, from the free `/prev` endpoint. It is labelled
    /// `LastBarClose` because it is yesterday's close, not a live price.
    async fn quote(&self, symbol: &Symbol) -> Result<Quote, ProviderError> {
        let what = format!("{symbol} quote");
        self.ensure_key()?;
        let mut url = self.endpoint(&["v2", "aggs", "ticker", &polygon_ticker(symbol), "prev"]);
        url.query_pairs_mut().append_pair("adjusted", "false");
        let response = self.get(&what, &url).await?;
        parse_prev_close(symbol, &response)
            .map_err(|message| self.http.malformed(&what, message))?
            .ok_or_else(|| ProviderError::NotFound {
                provider: ProviderId::Polygon,
                what,
                message: "no previous-day bar; the ticker may be unknown to Polygon".to_owned(),
            })
    }
}

/// Turns the `/prev` answer into a quote, `None` when Polygon has no bar. The time is the bar's
/// `t` as sent (the session close on this endpoint), since that is when the price was set.
///
/// # Errors
/// A message for a `Malformed` error when the bar has no close or the envelope is inconsistent.
pub(crate) fn parse_prev_close(
    symbol: &Symbol,
    response: &models::AggsResponse,
) -> Result<Option<Quote>, String> {
    // Checks the envelope the same way as for bars: no results is only "none" with a count of 0.
    if parse_aggs(response, Interval::Day1, Exchange::for_symbol(symbol), Utc::now())?.is_empty() {
        return Ok(None);
    }
    let (agg, price) = response
        .results
        .iter()
        .flatten()
        .rev()
        .find_map(|agg| agg.c.map(|close| (agg, close)))
        .ok_or("previous-day bar has no close")?;
    let ts = DateTime::from_timestamp_millis(agg.t)
        .ok_or_else(|| format!("bar time {} ms is out of range", agg.t))?;
    Ok(Some(Quote {
        symbol: symbol.clone(),
        price,
        previous_close: None,
        change: None,
        change_percent: None,
        open: agg.o,
        high: agg.h,
        low: agg.l,
        volume: agg.v.and_then(volume_from_f64),
        ts,
        provider: ProviderId::Polygon,
        source: QuoteSource::LastBarClose,
    }))
}

/// Converts one aggregates page into bars, sorted by time.
///
/// No `results` (or `null`) is an empty window only when `resultsCount` says 0: a body with
/// neither is some other answer (an error envelope with HTTP 200) and must not pass as "no
/// data". Daily and longer bars (stamped at midnight New York) are keyed by their session date;
/// intraday bars keep their start and are dropped outside the regular session. Fractional
/// volumes are rounded to whole shares.
///
/// # Errors
/// A message for a `Malformed` error.
pub(crate) fn parse_aggs(
    response: &models::AggsResponse,
    interval: Interval,
    exchange: &Exchange,
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    let Some(results) = response.results.as_deref() else {
        return match response.results_count {
            Some(0) => Ok(Vec::new()),
            count => {
                let vendor =
                    response.error.as_deref().or(response.message.as_deref()).unwrap_or("no vendor message");
                Err(format!(
                    "no results but resultsCount is {} (status {}): {vendor}",
                    count.map_or_else(|| "missing".to_owned(), |c| c.to_string()),
                    response.status.as_deref().unwrap_or("missing"),
                ))
            }
        };
    };
    let mut bars = BTreeMap::new();
    for agg in results {
        if agg.o.is_none() && agg.h.is_none() && agg.l.is_none() && agg.c.is_none() {
            continue;
        }
        let start = DateTime::from_timestamp_millis(agg.t)
            .ok_or_else(|| format!("bar time {} ms is out of range", agg.t))?;
        if interval.is_intraday() && !exchange.in_regular_session(start) {
            continue;
        }
        let ts = exchange.bar_key(interval, start);
        bars.insert(
            ts,
            Bar {
                ts,
                open: agg.o,
                high: agg.h,
                low: agg.l,
                close: agg.c,
                adj_close: None,
                volume: agg.v.and_then(volume_from_f64),
                provider: ProviderId::Polygon,
                partial: exchange.is_bar_partial(interval, ts, now),
                flag: None,
            },
        );
    }
    Ok(bars.into_values().collect())
}

/// The rows of a reference answer about `symbol` (rows naming another ticker are left out).
fn rows_of<'a>(
    symbol: &Symbol,
    response: &'a models::ReferenceResponse,
) -> impl Iterator<Item = &'a models::ReferenceRow> {
    let ticker = polygon_ticker(symbol);
    response.results.iter().flatten().filter(move |row| row.ticker.as_deref().is_none_or(|t| t == ticker))
}

/// Splits of `symbol` from a `/v3/reference/splits` answer: `split_to` new shares for every
/// `split_from` old ones, effective on `execution_date`. Rows of other tickers are left out.
///
/// # Errors
/// A message for a `Malformed` error when a date cannot be read.
pub(crate) fn parse_splits(
    symbol: &Symbol,
    response: &models::ReferenceResponse,
) -> Result<Vec<CorporateAction>, String> {
    let mut actions = Vec::new();
    for row in rows_of(symbol, response) {
        let (Some(date), Some(to), Some(from)) =
            (row.execution_date.as_deref(), row.split_to, row.split_from)
        else {
            continue;
        };
        let kind = CorporateActionKind::Split { numerator: to, denominator: from };
        if kind.split_ratio().is_none() {
            continue;
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|e| format!("bad execution_date {date:?}: {e}"))?;
        actions.push(CorporateAction { date, kind, provider: ProviderId::Polygon });
    }
    Ok(actions)
}

/// Cash dividends of `symbol` from a `/v3/reference/dividends` answer, by ex-dividend date.
///
/// # Errors
/// A message for a `Malformed` error when a date cannot be read.
pub(crate) fn parse_dividends(
    symbol: &Symbol,
    response: &models::ReferenceResponse,
) -> Result<Vec<CorporateAction>, String> {
    let mut actions = Vec::new();
    for row in rows_of(symbol, response) {
        let (Some(date), Some(amount)) = (row.ex_dividend_date.as_deref(), row.cash_amount) else {
            continue;
        };
        if !(amount.is_finite() && amount >= 0.0) {
            continue;
        }
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map_err(|e| format!("bad ex_dividend_date {date:?}: {e}"))?;
        actions.push(CorporateAction {
            date,
            kind: CorporateActionKind::Dividend { amount },
            provider: ProviderId::Polygon,
        });
    }
    Ok(actions)
}

/// The profile in a ticker-details answer.
///
/// Text fields are trimmed and empty ones left out; `currency_name` (`usd`) and `locale` (`us`)
/// are upper-cased to the ISO spellings the other providers give; a market capitalisation that
/// is not a positive finite number is left out (missing is `None`, never 0).
///
/// # Errors
/// A message for a `Malformed` error when there is no `results` object or it names another
/// ticker.
pub(crate) fn parse_ticker_details(
    symbol: &Symbol,
    response: &models::TickerDetailsResponse,
) -> Result<CompanyProfile, String> {
    let Some(details) = response.results.as_ref() else {
        let vendor = response.error.as_deref().or(response.message.as_deref()).unwrap_or("no vendor message");
        return Err(format!(
            "no results in ticker details (status {}): {vendor}",
            response.status.as_deref().unwrap_or("missing")
        ));
    };
    let ticker = polygon_ticker(symbol);
    if let Some(other) = details.ticker.as_deref().filter(|t| !t.eq_ignore_ascii_case(&ticker)) {
        return Err(format!("ticker details are about {other:?}, not {ticker}"));
    }
    let text =
        |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    Ok(CompanyProfile {
        symbol: Some(symbol.clone()),
        name: text(&details.name),
        exchange: text(&details.primary_exchange),
        currency: text(&details.currency_name).map(|c| c.to_ascii_uppercase()),
        country: text(&details.locale).map(|c| c.to_ascii_uppercase()),
        sector: None,
        industry: text(&details.sic_description),
        market_cap: details.market_cap.filter(|m| m.is_finite() && *m > 0.0),
        description: text(&details.description),
        website: text(&details.homepage_url),
        provider: Some(ProviderId::Polygon),
    })
}

/// Parses a `/v3/reference/tickers/{ticker}` body without HTTP (for the fuzz tests and
/// payload replays).
///
/// # Errors
/// A description of why the body is not a usable ticker-details answer.
pub fn parse_ticker_details_body(symbol: &Symbol, body: &[u8]) -> Result<CompanyProfile, String> {
    let response: models::TickerDetailsResponse =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid ticker details JSON: {e}"))?;
    parse_ticker_details(symbol, &response)
}

/// Our sentiment for Polygon's per-ticker insight label: `positive` 1, `neutral` 0, `negative`
/// -1 (Polygon gives a label, not a score; these are the ends and middle of the [-1, 1] scale the
/// other vendors' scores use). Any other label is no sentiment.
fn insight_sentiment(label: &str) -> Option<f64> {
    match label.trim().to_ascii_lowercase().as_str() {
        "positive" => Some(1.0),
        "neutral" => Some(0.0),
        "negative" => Some(-1.0),
        _ => None,
    }
}

/// The articles of one news page that were published in `[from, to]`.
///
/// Rows without a title, URL or readable `published_utc` are skipped (with a debug line); the
/// sentiment is the insight about this ticker, when Polygon gives one. No `results` is an empty
/// page only when the body says nothing went wrong (`status` `OK`, no error text).
///
/// # Errors
/// A message for a `Malformed` error for an error envelope sent with HTTP 200.
pub(crate) fn parse_news(
    symbol: &Symbol,
    response: &models::NewsResponse,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<NewsItem>, String> {
    let Some(results) = response.results.as_deref() else {
        let vendor = response.error.as_deref().or(response.message.as_deref());
        return match (response.status.as_deref(), vendor) {
            (Some("OK"), None) => Ok(Vec::new()),
            (status, vendor) => Err(format!(
                "no results in news (status {}): {}",
                status.unwrap_or("missing"),
                vendor.unwrap_or("no vendor message")
            )),
        };
    };
    let ticker = polygon_ticker(symbol);
    let text =
        |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut items = Vec::with_capacity(results.len());
    for article in results {
        let (Some(headline), Some(url)) = (text(&article.title), text(&article.article_url)) else {
            tracing::debug!(%symbol, "Skipping an article without title or URL.");
            continue;
        };
        let Some(published_at) = article
            .published_utc
            .as_deref()
            .and_then(|stamp| DateTime::parse_from_rfc3339(stamp.trim()).ok())
            .map(|t| t.with_timezone(&Utc))
        else {
            tracing::debug!(%symbol, url, "Skipping an article with an unreadable published_utc.");
            continue;
        };
        if !(from..=to).contains(&published_at) {
            continue;
        }
        let sentiment = article
            .insights
            .iter()
            .flatten()
            .find(|insight| insight.ticker.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(&ticker)))
            .and_then(|insight| insight.sentiment.as_deref())
            .and_then(insight_sentiment);
        items.push(NewsItem {
            symbol: symbol.clone(),
            headline,
            url,
            source: article.publisher.as_ref().and_then(|p| text(&p.name)),
            summary: text(&article.description),
            published_at,
            sentiment,
            provider: ProviderId::Polygon,
        });
    }
    Ok(items)
}

/// Parses one `/v2/reference/news` page without HTTP (for the fuzz tests and payload replays):
/// the articles about `symbol` published in `[from, to]`, oldest first, once per URL.
///
/// # Errors
/// A description of why the body is not a usable news page.
pub fn parse_news_body(
    symbol: &Symbol,
    body: &[u8],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<NewsItem>, String> {
    let response: models::NewsResponse =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid news JSON: {e}"))?;
    Ok(sorted_unique(parse_news(symbol, &response, from, to)?))
}

/// Parses a `/v3/reference/splits` or `/v3/reference/dividends` body without HTTP (for the fuzz
/// tests and payload replays).
///
/// # Errors
/// A description of why the body is not a usable reference answer.
pub fn parse_reference_body(symbol: &Symbol, body: &[u8]) -> Result<Vec<CorporateAction>, String> {
    let response: models::ReferenceResponse =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid reference JSON: {e}"))?;
    let mut actions = parse_splits(symbol, &response)?;
    actions.extend(parse_dividends(symbol, &response)?);
    Ok(actions)
}

/// Parses one aggregates page without HTTP (for the fuzz tests and payload replays).
///
/// # Errors
/// A description of why the body is not a usable page.
pub fn parse_aggs_body(
    symbol: &Symbol,
    interval: Interval,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<Bar>, String> {
    let response: models::AggsResponse =
        serde_json::from_slice(body).map_err(|e| format!("{symbol}: invalid aggregates JSON: {e}"))?;
    parse_aggs(&response, interval, Exchange::for_symbol(symbol), now)
}

/// Polygon's wire format, kept apart from the domain types.
pub(crate) mod models {
    use serde::Deserialize;

    /// The envelope shared by `/range` and `/prev`.
    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct AggsResponse {
        #[serde(default)]
        pub(crate) results: Option<Vec<Agg>>,
        #[serde(default, rename = "resultsCount")]
        pub(crate) results_count: Option<u64>,
        #[serde(default)]
        pub(crate) next_url: Option<String>,
        #[serde(default)]
        pub(crate) status: Option<String>,
        #[serde(default)]
        pub(crate) error: Option<String>,
        #[serde(default)]
        pub(crate) message: Option<String>,
    }

    /// One aggregate bar. `t` is the window start in milliseconds; `v` may be fractional.
    #[derive(Debug, Deserialize)]
    pub(crate) struct Agg {
        pub(crate) t: i64,
        #[serde(default)]
        pub(crate) o: Option<f64>,
        #[serde(default)]
        pub(crate) h: Option<f64>,
        #[serde(default)]
        pub(crate) l: Option<f64>,
        #[serde(default)]
        pub(crate) c: Option<f64>,
        #[serde(default)]
        pub(crate) v: Option<f64>,
    }

    /// `/v3/reference/splits` and `/v3/reference/dividends`: rows of either kind.
    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct ReferenceResponse {
        #[serde(default)]
        pub(crate) results: Option<Vec<ReferenceRow>>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct ReferenceRow {
        #[serde(default)]
        pub(crate) ticker: Option<String>,
        #[serde(default)]
        pub(crate) execution_date: Option<String>,
        #[serde(default)]
        pub(crate) split_from: Option<f64>,
        #[serde(default)]
        pub(crate) split_to: Option<f64>,
        #[serde(default)]
        pub(crate) ex_dividend_date: Option<String>,
        #[serde(default)]
        pub(crate) cash_amount: Option<f64>,
    }

    /// `/v3/reference/tickers/{ticker}`: one ticker's details under `results`.
    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct TickerDetailsResponse {
        #[serde(default)]
        pub(crate) results: Option<TickerDetails>,
        #[serde(default)]
        pub(crate) status: Option<String>,
        #[serde(default)]
        pub(crate) error: Option<String>,
        #[serde(default)]
        pub(crate) message: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct TickerDetails {
        #[serde(default)]
        pub(crate) ticker: Option<String>,
        #[serde(default)]
        pub(crate) name: Option<String>,
        #[serde(default)]
        pub(crate) primary_exchange: Option<String>,
        #[serde(default)]
        pub(crate) currency_name: Option<String>,
        #[serde(default)]
        pub(crate) locale: Option<String>,
        #[serde(default)]
        pub(crate) market_cap: Option<f64>,
        #[serde(default)]
        pub(crate) description: Option<String>,
        #[serde(default)]
        pub(crate) homepage_url: Option<String>,
        #[serde(default)]
        pub(crate) sic_description: Option<String>,
    }

    /// `/v2/reference/news`: one page of articles.
    #[derive(Debug, Default, Deserialize)]
    pub(crate) struct NewsResponse {
        #[serde(default)]
        pub(crate) results: Option<Vec<Article>>,
        #[serde(default)]
        pub(crate) next_url: Option<String>,
        #[serde(default)]
        pub(crate) status: Option<String>,
        #[serde(default)]
        pub(crate) error: Option<String>,
        #[serde(default)]
        pub(crate) message: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Article {
        #[serde(default)]
        pub(crate) title: Option<String>,
        #[serde(default)]
        pub(crate) article_url: Option<String>,
        #[serde(default)]
        pub(crate) published_utc: Option<String>,
        #[serde(default)]
        pub(crate) description: Option<String>,
        #[serde(default)]
        pub(crate) publisher: Option<Publisher>,
        #[serde(default)]
        pub(crate) insights: Option<Vec<Insight>>,
    }

    #[derive(Debug, Deserialize)]
    pub(crate) struct Publisher {
        #[serde(default)]
        pub(crate) name: Option<String>,
    }

    /// Polygon's per-ticker sentiment: `positive`, `neutral` or `negative`, with its reasoning.
    #[derive(Debug, Deserialize)]
    pub(crate) struct Insight {
        #[serde(default)]
        pub(crate) ticker: Option<String>,
        #[serde(default)]
        pub(crate) sentiment: Option<String>,
    }

    /// Any error body: `{"status":"ERROR","error":…}` or `{"status":"NOT_AUTHORIZED","message":…}`.
    #[derive(Debug, Deserialize)]
    pub(crate) struct ErrorBody {
        #[serde(default)]
        pub(crate) status: Option<String>,
        #[serde(default)]
        pub(crate) error: Option<String>,
        #[serde(default)]
        pub(crate) message: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn page(json: &str) -> models::AggsResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn empty_only_when_results_count_says_so() {
        for json in [r#"{"resultsCount":0,"status":"OK"}"#, r#"{"resultsCount":0,"results":null}"#] {
            assert!(parse_aggs(&page(json), Interval::Day1, &Exchange::US, Utc::now()).unwrap().is_empty());
        }
        let err = parse_aggs(
            &page(r#"{"status":"ERROR","error":"boom"}"#),
            Interval::Day1,
            &Exchange::US,
            Utc::now(),
        )
        .unwrap_err();
        assert!(err.contains("boom") && err.contains("missing"), "{err}");
    }

    #[test]
    fn daily_bars_are_keyed_by_date_intraday_bars_by_start_in_the_session() {
        // 2020-01-02 05:00Z is midnight New York; 14:30Z is the open; 12:00Z is pre-market.
        let json = r#"{"resultsCount":3,"results":[
            {"t":1577941200000,"o":1,"h":2,"l":0.5,"c":1.5,"v":10.5},
            {"t":1577975400000,"o":1,"h":2,"l":0.5,"c":1.5,"v":10},
            {"t":1577966400000,"o":1,"h":2,"l":0.5,"c":1.5,"v":10}]}"#;
        let now = Utc::now();
        let one =
            r#"{"resultsCount":1,"results":[{"t":1577941200000,"o":1,"h":2,"l":0.5,"c":1.5,"v":10.5}]}"#;
        let daily = parse_aggs(&page(one), Interval::Day1, &Exchange::US, now).unwrap();
        assert_eq!(daily[0].ts, Utc.with_ymd_and_hms(2020, 1, 2, 0, 0, 0).unwrap());
        assert_eq!(daily[0].volume, Some(11), "fractional volumes round");
        assert!(!daily[0].partial);
        let intraday = parse_aggs(&page(json), Interval::Min5, &Exchange::US, now).unwrap();
        assert_eq!(intraday.len(), 1, "{intraday:?}");
        assert_eq!(intraday[0].ts, Utc.with_ymd_and_hms(2020, 1, 2, 14, 30, 0).unwrap());
    }

    #[test]
    fn crypto_fx_and_indices_use_polygon_tickers() {
        let ticker = |text: &str| polygon_ticker(&Symbol::parse(text).unwrap());
        assert_eq!(ticker("BTC-USD"), "X:BTCUSD");
        assert_eq!(ticker("EURUSD=X"), "C:EURUSD");
        assert_eq!(ticker("^SPX"), "I:SPX");
        assert_eq!(ticker("BRK.B"), "BRK.B");
        assert_eq!(ticker("AAPL"), "AAPL");
    }

    #[test]
    fn every_interval_has_a_range() {
        assert_eq!(range(Interval::Hour1), (1, "hour"));
        assert_eq!(range(Interval::Min15), (15, "minute"));
        assert_eq!(range(Interval::Month1), (1, "month"));
    }
}

//! The offline `sample` provider: real daily prices (AAPL, MSFT, IBM, GOOG, FB, 2000–2013, public
//! domain Quandl WIKI data via `bokeh_sampledata`) embedded in the binary, so the service works
//! with no network and no key.
//!
//! Design decision: the data is decompressed and parsed once per process on first use and kept
//! in a `OnceLock` — a fixed 1 MB that never grows, shared by every `SampleProvider`.
//! Relative ranges (`1y`) are resolved against the end of the data set, because "the last year
//! up to today" would always be empty for 2013 data; each row still says `provider = sample`.
//!
//! Company profiles and a few news items per symbol come from `data/sample-news.json`, written
//! for this project (not vendor data, not real headlines: "Sample news: …", URLs under
//! `example.invalid`), so the news and profile surfaces have something to show offline. For the
//! same reason as relative ranges, a news window that reaches past the end of the price data is
//! moved back to end there (keeping its length): "the last 7 days" means the data set's last 7.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::{
    Bar, BarSeries, CompanyProfile, Interval, NewsItem, ProviderId, Quote, QuoteSource, Symbol,
    volume_from_f64,
};

use crate::{BarsRequest, Capabilities, Capability, MarketData, ProviderError};

const SAMPLE_CSV_GZ: &[u8] = include_bytes!("../data/sample-ohlcv.csv.gz");

type SampleData = BTreeMap<Symbol, Vec<Bar>>;

fn data() -> &'static Result<SampleData, String> {
    static DATA: OnceLock<Result<SampleData, String>> = OnceLock::new();
    DATA.get_or_init(load)
}

#[derive(serde::Deserialize)]
struct Row {
    symbol: String,
    date: NaiveDate,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
    volume: Option<f64>,
    adj_close: Option<f64>,
}

fn load() -> Result<SampleData, String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(SAMPLE_CSV_GZ)
        .read_to_string(&mut text)
        .map_err(|e| format!("bundled sample data is corrupt: {e}"))?;
    let mut data = SampleData::new();
    for (line, row) in csv::Reader::from_reader(text.as_bytes()).deserialize::<Row>().enumerate() {
        let row = row.map_err(|e| format!("bundled sample data, row {}: {e}", line + 2))?;
        let symbol = Symbol::parse(&row.symbol).map_err(|e| format!("bundled sample data: {e}"))?;
        let ts = domain::calendar::date_stamp(row.date);
        data.entry(symbol).or_default().push(Bar {
            ts,
            open: row.open,
            high: row.high,
            low: row.low,
            close: row.close,
            adj_close: row.adj_close,
            volume: row.volume.and_then(volume_from_f64),
            provider: ProviderId::Sample,
            partial: false,
            flag: None,
        });
    }
    for bars in data.values_mut() {
        bars.sort_by_key(|b| b.ts);
        bars.dedup_by_key(|b| b.ts);
    }
    Ok(data)
}

/// Profiles and news written for the project (see the module docs).
const SAMPLE_NEWS_JSON: &str = include_str!("../data/sample-news.json");

/// The bundled profiles and news, by symbol.
#[derive(Debug, Default)]
struct SampleNews {
    profiles: BTreeMap<Symbol, CompanyProfile>,
    /// Oldest first.
    news: BTreeMap<Symbol, Vec<NewsItem>>,
}

#[derive(serde::Deserialize)]
struct NewsFile {
    profiles: Vec<ProfileRow>,
    news: Vec<NewsRow>,
}

#[derive(serde::Deserialize)]
struct ProfileRow {
    symbol: String,
    name: Option<String>,
    exchange: Option<String>,
    currency: Option<String>,
    country: Option<String>,
    sector: Option<String>,
    industry: Option<String>,
    description: Option<String>,
    website: Option<String>,
}

#[derive(serde::Deserialize)]
struct NewsRow {
    symbol: String,
    headline: String,
    url: String,
    source: Option<String>,
    summary: Option<String>,
    published_at: DateTime<Utc>,
    sentiment: Option<f64>,
}

fn sample_news() -> &'static Result<SampleNews, String> {
    static NEWS: OnceLock<Result<SampleNews, String>> = OnceLock::new();
    NEWS.get_or_init(|| load_news(SAMPLE_NEWS_JSON))
}

fn load_news(text: &str) -> Result<SampleNews, String> {
    let file: NewsFile =
        serde_json::from_str(text).map_err(|e| format!("bundled sample news is corrupt: {e}"))?;
    let symbol = |text: &str| Symbol::parse(text).map_err(|e| format!("bundled sample news: {e}"));
    let mut sample = SampleNews::default();
    for row in file.profiles {
        let symbol = symbol(&row.symbol)?;
        sample.profiles.insert(
            symbol.clone(),
            CompanyProfile {
                symbol: Some(symbol),
                name: row.name,
                exchange: row.exchange,
                currency: row.currency,
                country: row.country,
                sector: row.sector,
                industry: row.industry,
                // The sample has no shares outstanding to derive one from; missing is None.
                market_cap: None,
                description: row.description,
                website: row.website,
                provider: Some(ProviderId::Sample),
            },
        );
    }
    for row in file.news {
        let symbol = symbol(&row.symbol)?;
        sample.news.entry(symbol.clone()).or_default().push(NewsItem {
            symbol,
            headline: row.headline,
            url: row.url,
            source: row.source,
            summary: row.summary,
            published_at: row.published_at,
            sentiment: row.sentiment,
            provider: ProviderId::Sample,
        });
    }
    for items in sample.news.values_mut() {
        items.sort_by_key(|item| item.published_at);
    }
    Ok(sample)
}

const CAPABILITIES: Capabilities =
    Capabilities::new(&[Capability::DailyBars, Capability::Quote, Capability::Profile, Capability::News]);

/// The offline provider. Cheap to create: the data set is shared.
#[derive(Debug, Default, Clone, Copy)]
pub struct SampleProvider;

impl SampleProvider {
    /// A handle to the bundled data.
    pub fn new() -> Self {
        Self
    }

    /// The symbols in the data set.
    pub fn symbols() -> Vec<Symbol> {
        data().as_ref().map(|d| d.keys().cloned().collect()).unwrap_or_default()
    }

    fn series(&self, symbol: &Symbol, what: &str) -> Result<&'static [Bar], ProviderError> {
        let data = data().as_ref().map_err(|message| ProviderError::Malformed {
            provider: ProviderId::Sample,
            what: what.to_owned(),
            message: message.clone(),
        })?;
        data.get(symbol).map(Vec::as_slice).ok_or_else(|| ProviderError::NotFound {
            provider: ProviderId::Sample,
            what: what.to_owned(),
            message: format!(
                "the offline sample data has only {}",
                data.keys().map(Symbol::as_str).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    fn news_data(&self, what: &str) -> Result<&'static SampleNews, ProviderError> {
        sample_news().as_ref().map_err(|message| ProviderError::Malformed {
            provider: ProviderId::Sample,
            what: what.to_owned(),
            message: message.clone(),
        })
    }

    /// The last date in the data set, used as "today" for relative ranges.
    fn end_of_data(bars: &[Bar]) -> NaiveDate {
        bars.last().map_or_else(|| Utc::now().date_naive(), Bar::date)
    }
}

#[async_trait]
impl MarketData for SampleProvider {
    fn id(&self) -> ProviderId {
        ProviderId::Sample
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError> {
        if request.interval.is_intraday() {
            return Err(self.unsupported(Capability::IntradayBars));
        }
        if request.interval != Interval::Day1 {
            return Err(ProviderError::InvalidRequest {
                provider: ProviderId::Sample,
                what: request.describe(),
                message: "the offline sample data has daily bars (1d) only".to_owned(),
            });
        }
        let all = self.series(&request.symbol, &request.describe())?;
        let dates = request.span.resolve(Self::end_of_data(all));
        let start = all.partition_point(|b| b.date() < dates.from());
        let end = all.partition_point(|b| b.date() <= dates.to());
        Ok(BarSeries::as_traded(
            request.symbol.clone(),
            Interval::Day1,
            ProviderId::Sample,
            all[start..end.max(start)].to_vec(),
        ))
    }

    async fn profile(&self, symbol: &Symbol) -> Result<CompanyProfile, ProviderError> {
        let what = format!("{symbol} profile");
        self.series(symbol, &what)?;
        self.news_data(&what)?.profiles.get(symbol).cloned().ok_or_else(|| ProviderError::NotFound {
            provider: ProviderId::Sample,
            what,
            message: "the offline sample data has no profile of it".to_owned(),
        })
    }

    /// The bundled items published in `[from, to]`, where a window reaching past the end of the
    /// price data is first moved back to end there (see the module docs).
    async fn news(
        &self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, ProviderError> {
        let what = format!("{symbol} news");
        let bars = self.series(symbol, &what)?;
        let end = domain::calendar::date_stamp(Self::end_of_data(bars)) + TimeDelta::days(1);
        let (from, to) = if to > end {
            (from.checked_sub_signed(to - end).unwrap_or(DateTime::<Utc>::MIN_UTC), end)
        } else {
            (from, to)
        };
        let items = self.news_data(&what)?.news.get(symbol).map(Vec::as_slice).unwrap_or_default();
        Ok(items.iter().filter(|item| (from..=to).contains(&item.published_at)).cloned().collect())
    }

    async fn quote(&self, symbol: &Symbol) -> Result<Quote, ProviderError> {
        let what = format!("{symbol} quote");
        let all = self.series(symbol, &what)?;
        let with_close: Vec<&Bar> = all.iter().rev().filter(|b| b.close.is_some()).take(2).collect();
        let last = with_close.first().ok_or_else(|| ProviderError::NotFound {
            provider: ProviderId::Sample,
            what: what.clone(),
            message: "no closing price in the sample data".to_owned(),
        })?;
        let price = last.close.unwrap_or_default();
        let previous_close = with_close.get(1).and_then(|b| b.close);
        let change = previous_close.map(|p| price - p);
        Ok(Quote {
            symbol: symbol.clone(),
            price,
            previous_close,
            change,
            change_percent: previous_close.and_then(|p| change.map(|c| c / p * 100.0)),
            open: last.open,
            high: last.high,
            low: last.low,
            volume: last.volume,
            ts: last.ts,
            provider: ProviderId::Sample,
            source: QuoteSource::LastBarClose,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::Span;

    fn request(symbol: &str, span: Span) -> BarsRequest {
        BarsRequest { symbol: Symbol::parse(symbol).unwrap(), interval: Interval::Day1, span }
    }

    #[tokio::test]
    async fn serves_the_bundled_history() {
        assert_eq!(SampleProvider::symbols().len(), 5);
        let all = SampleProvider.bars(&request("GOOG", Span::parse_range("max").unwrap())).await.unwrap();
        assert_eq!(all.bars.len(), 2148);
        assert!(all.bars.iter().all(|b| b.provider == ProviderId::Sample));
        assert!(all.bars.windows(2).all(|w| w[0].ts < w[1].ts));
        assert_eq!(all.bars[0].ts, Utc.with_ymd_and_hms(2004, 8, 19, 0, 0, 0).unwrap());
        assert_eq!(all.bars[0].close, Some(100.335));
    }

    #[tokio::test]
    async fn relative_range_ends_at_the_data() {
        let year = SampleProvider.bars(&request("AAPL", Span::Last { days: 366 })).await.unwrap();
        assert!((240..=260).contains(&year.bars.len()), "{}", year.bars.len());
        assert_eq!(year.bars.last().unwrap().ts, Utc.with_ymd_and_hms(2013, 3, 1, 0, 0, 0).unwrap());
    }

    #[tokio::test]
    async fn quote_is_the_last_close_and_says_so() {
        let quote = SampleProvider.quote(&Symbol::parse("IBM").unwrap()).await.unwrap();
        assert_eq!(quote.source, QuoteSource::LastBarClose);
        assert_eq!(quote.provider, ProviderId::Sample);
        assert_eq!(quote.ts, Utc.with_ymd_and_hms(2013, 3, 1, 0, 0, 0).unwrap());
        assert!(quote.previous_close.is_some());
    }

    #[tokio::test]
    async fn unknown_symbol_and_missing_capabilities_are_clear_errors() {
        let err = SampleProvider.bars(&request("NVDA", Span::parse_range("1y").unwrap())).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotFound { .. }));
        assert!(err.to_string().contains("NVDA"), "{err}");
        let err = SampleProvider.corporate_actions(&Symbol::parse("AAPL").unwrap()).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unsupported { capability: Capability::CorporateActions, .. }),
            "{err}"
        );
        let mut intraday = request("AAPL", Span::parse_range("5d").unwrap());
        intraday.interval = Interval::Min5;
        let err = SampleProvider.bars(&intraday).await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Unsupported { capability: Capability::IntradayBars, .. }),
            "{err}"
        );
        intraday.interval = Interval::Week1;
        let err = SampleProvider.bars(&intraday).await.unwrap_err();
        assert!(err.to_string().contains("daily bars (1d) only"), "{err}");
    }

    #[tokio::test]
    async fn every_sample_symbol_has_a_labelled_profile_and_sample_news() {
        for symbol in SampleProvider::symbols() {
            let profile = SampleProvider.profile(&symbol).await.unwrap();
            assert_eq!(profile.provider, Some(ProviderId::Sample));
            assert!(profile.description.as_deref().unwrap().contains("not vendor data"), "{symbol}");
            let all = SampleProvider
                .news(&symbol, DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
                .await
                .unwrap();
            assert!(!all.is_empty(), "{symbol}");
            for item in &all {
                assert!(item.headline.starts_with("Sample news: "), "{}", item.headline);
                assert!(item.url.starts_with("https://example.invalid/"), "{}", item.url);
                assert_eq!(item.provider, ProviderId::Sample);
            }
        }
        let err = SampleProvider.profile(&Symbol::parse("NVDA").unwrap()).await.unwrap_err();
        assert!(matches!(err, ProviderError::NotFound { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_news_window_past_the_data_ends_at_the_data() {
        let aapl = Symbol::parse("AAPL").unwrap();
        let now = Utc::now();
        let week = SampleProvider.news(&aapl, now - TimeDelta::days(7), now).await.unwrap();
        let dates: Vec<_> = week.iter().map(|item| item.published_at.date_naive().to_string()).collect();
        assert_eq!(dates, ["2013-02-25", "2013-02-27", "2013-03-01"]);
        let two_days = SampleProvider.news(&aapl, now - TimeDelta::days(2), now).await.unwrap();
        assert_eq!(two_days.len(), 1, "{two_days:?}");
        // A window inside the data is taken as it is.
        let from = Utc.with_ymd_and_hms(2013, 2, 26, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2013, 2, 28, 0, 0, 0).unwrap();
        let inside = SampleProvider.news(&aapl, from, to).await.unwrap();
        assert_eq!(inside.len(), 1);
        assert!(inside[0].headline.contains("cash pile"));
        assert!(load_news("{").is_err());
    }
}

//! The offline `sample` provider: real daily prices (AAPL, MSFT, IBM, GOOG, FB, 2000–2013, public
//! domain Quandl WIKI data via `bokeh_sampledata`) embedded in the binary, so the service works
//! with no network and no key.
//!
//! Design decision: the data is decompressed and parsed once per process on first use and kept
//! in a `OnceLock` — a fixed 1 MB that never grows, shared by every `SampleProvider`.
//! Relative ranges (`1y`) are resolved against the end of the data set, because "the last year
//! up to today" would always be empty for 2013 data; each row still says `provider = sample`.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::OnceLock;

use async_trait::async_trait;
use chrono::{NaiveDate, Utc};
use domain::{Bar, BarSeries, Interval, ProviderId, Quote, QuoteSource, Symbol, volume_from_f64};

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

const CAPABILITIES: Capabilities = Capabilities::new(&[Capability::DailyBars, Capability::Quote]);

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
        let err = SampleProvider.profile(&Symbol::parse("AAPL").unwrap()).await.unwrap_err();
        assert!(matches!(err, ProviderError::Unsupported { capability: Capability::Profile, .. }), "{err}");
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
}

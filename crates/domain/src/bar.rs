use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Interval, Symbol};

/// Which data source produced a value. Stored with every row so a user can always tell where a
/// number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderId {
    Yahoo,
    AlphaVantage,
    Polygon,
    Finnhub,
    Sample,
}

impl ProviderId {
    /// Every provider, in the default fallback order for networked use.
    pub const ALL: [ProviderId; 5] =
        [Self::Yahoo, Self::AlphaVantage, Self::Polygon, Self::Finnhub, Self::Sample];

    /// The config and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yahoo => "yahoo",
            Self::AlphaVantage => "alpha_vantage",
            Self::Polygon => "polygon",
            Self::Finnhub => "finnhub",
            Self::Sample => "sample",
        }
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a known provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}; expected one of yahoo, alpha_vantage, polygon, finnhub, sample")]
pub struct ParseProviderError(pub String);

impl FromStr for ProviderId {
    type Err = ParseProviderError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|p| p.as_str() == s.trim()).ok_or_else(|| ParseProviderError(s.to_owned()))
    }
}

/// One OHLCV bar. Prices are `Option` because vendors send `null` for missing points (Yahoo does
/// mid-series); a missing value is stored as NULL, never invented as 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Start of the bar's window, UTC (daily bars: the session open or midnight UTC of the date).
    pub ts: DateTime<Utc>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    /// Split- and dividend-adjusted close, where the vendor provides one.
    pub adj_close: Option<f64>,
    /// Traded volume; fractional for some vendors (Polygon), so kept as a float.
    pub volume: Option<f64>,
    pub provider: ProviderId,
    /// Set by the quality gate when the bar is suspicious but kept (e.g. a 100x jump).
    pub flag: Option<String>,
}

/// Bars of one symbol and interval from one provider, sorted by `ts` ascending, no duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub symbol: Symbol,
    pub interval: Interval,
    pub provider: ProviderId,
    pub bars: Vec<Bar>,
}

/// Where a quote's price comes from: a live vendor quote, or the last stored/sample bar's close
/// (the offline provider), so nobody mistakes a 2013 close for today's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteSource {
    Live,
    LastBarClose,
}

/// A latest-price snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    pub symbol: Symbol,
    pub price: f64,
    pub previous_close: Option<f64>,
    pub change: Option<f64>,
    /// Percent, e.g. `0.62` for +0.62 %.
    pub change_percent: Option<f64>,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub volume: Option<f64>,
    /// When the price was observed (vendor time).
    pub ts: DateTime<Utc>,
    pub provider: ProviderId,
    pub source: QuoteSource,
}

/// Company facts. Every field but the symbol may be missing; vendors disagree on coverage.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompanyProfile {
    pub symbol: Option<Symbol>,
    pub name: Option<String>,
    pub exchange: Option<String>,
    pub currency: Option<String>,
    pub country: Option<String>,
    pub sector: Option<String>,
    pub industry: Option<String>,
    pub market_cap: Option<f64>,
    pub description: Option<String>,
    pub website: Option<String>,
    pub provider: Option<ProviderId>,
}

/// A news article about a symbol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewsItem {
    pub symbol: Symbol,
    pub headline: String,
    pub url: String,
    pub source: Option<String>,
    pub summary: Option<String>,
    pub published_at: DateTime<Utc>,
    /// Vendor sentiment in [-1, 1] where given (Alpha Vantage).
    pub sentiment: Option<f64>,
    pub provider: ProviderId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_round_trip() {
        for p in ProviderId::ALL {
            assert_eq!(p.as_str().parse::<ProviderId>().unwrap(), p);
        }
        assert!("bloomberg".parse::<ProviderId>().is_err());
    }
}

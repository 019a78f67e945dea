//! Market-data providers behind one trait, [`MarketData`], and the fallback [`ProviderChain`].
//!
//! Each vendor module owns its wire DTOs (`models`), converts them into domain types, and maps
//! the vendor's own ways of failing (Alpha Vantage's HTTP-200 `Information` bodies, Yahoo's
//! `chart.error`, Finnhub's all-zero quote) into one typed [`ProviderError`].
//!
//! Design decision: every networked provider owns exactly one [`http::HttpClient`], built from
//! its config; nothing is shared through globals. Dropping a provider closes its connections,
//! which is what the lifecycle tests check, so a process that builds and drops providers for
//! months holds no more sockets than it did on day one.

pub mod alpha_vantage;
mod chain;
pub mod config;
mod error;
pub mod finnhub;
pub mod http;
pub mod listing;
pub mod polygon;
mod request;
pub mod sample;
pub mod yahoo;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{BarSeries, CompanyProfile, CorporateAction, NewsItem, ProviderId, Quote, Symbol};

pub use chain::{Attempt, ChainError, ProviderChain, ProviderStatus, Served};
pub use config::{ApiKey, ProvidersConfig, RateLimit, VendorConfig};
pub use error::{ProviderConfigError, ProviderError};
pub use listing::{Listing, ListingKind};
/// The HTTP client's usage counters, as providers report them (see [`outbound::Usage`]).
pub use outbound::{LastError, UnixDay, Usage, UsageSnapshot};
pub use request::{BarsRequest, ParseSpanError, Span};

/// One kind of data a provider may or may not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    DailyBars,
    IntradayBars,
    Quote,
    Profile,
    News,
    /// Splits and dividends.
    CorporateActions,
    /// Every listed stock and ETF (for the Reddit scanner's symbol universe).
    Listings,
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DailyBars => "daily bars",
            Self::IntradayBars => "intraday bars",
            Self::Quote => "quotes",
            Self::Profile => "company profiles",
            Self::News => "news",
            Self::CorporateActions => "corporate actions",
            Self::Listings => "symbol listings",
        })
    }
}

/// What a provider declares it can serve. Asking for anything else is an `Unsupported` error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities(&'static [Capability]);

impl Capabilities {
    /// Declares the given capabilities.
    pub const fn new(capabilities: &'static [Capability]) -> Self {
        Self(capabilities)
    }

    /// True when `capability` is offered.
    pub fn supports(&self, capability: Capability) -> bool {
        self.0.contains(&capability)
    }

    /// All offered capabilities.
    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        self.0.iter().copied()
    }
}

/// A source of market data. Methods a provider does not override answer `Unsupported`.
#[async_trait]
pub trait MarketData: Send + Sync {
    /// Which provider this is; stamped on every row it returns.
    fn id(&self) -> ProviderId;

    /// What this provider can serve.
    fn capabilities(&self) -> Capabilities;

    /// Bars for one symbol, sorted ascending by time, without duplicates.
    async fn bars(&self, request: &BarsRequest) -> Result<BarSeries, ProviderError>;

    /// The latest quote.
    async fn quote(&self, _symbol: &Symbol) -> Result<Quote, ProviderError> {
        Err(self.unsupported(Capability::Quote))
    }

    /// Company facts.
    async fn profile(&self, _symbol: &Symbol) -> Result<CompanyProfile, ProviderError> {
        Err(self.unsupported(Capability::Profile))
    }

    /// News published in `[from, to]`.
    async fn news(
        &self,
        _symbol: &Symbol,
        _from: DateTime<Utc>,
        _to: DateTime<Utc>,
    ) -> Result<Vec<NewsItem>, ProviderError> {
        Err(self.unsupported(Capability::News))
    }

    /// Splits and dividends of a symbol, by ex-date (as far back as the vendor has them).
    async fn corporate_actions(&self, _symbol: &Symbol) -> Result<Vec<CorporateAction>, ProviderError> {
        Err(self.unsupported(Capability::CorporateActions))
    }

    /// Every listed US stock and ETF the vendor knows.
    async fn listings(&self) -> Result<Vec<Listing>, ProviderError> {
        Err(self.unsupported(Capability::Listings))
    }

    /// The HTTP client's usage counters (`None` for a provider that sends no request).
    fn usage(&self) -> Option<&outbound::Usage> {
        None
    }

    /// False when the provider needs a key the config does not give: it is still listed (and
    /// in the chain, which moves past it), but cannot serve.
    fn is_configured(&self) -> bool {
        true
    }

    /// Requests one call for `capability` usually costs, for planning a run within budgets. One
    /// for every vendor today (a refresh window fits one page; extra calls such as Polygon's
    /// ticker check on an empty answer are rare).
    fn estimated_requests(&self, capability: Capability) -> u32 {
        u32::from(self.capabilities().supports(capability))
    }

    /// The error for a capability this provider lacks.
    fn unsupported(&self, capability: Capability) -> ProviderError {
        ProviderError::Unsupported { provider: self.id(), capability }
    }

    /// Fails with `Unsupported` unless `capability` is declared.
    ///
    /// # Errors
    /// `Unsupported` naming the provider and the capability.
    fn ensure(&self, capability: Capability) -> Result<(), ProviderError> {
        if self.capabilities().supports(capability) { Ok(()) } else { Err(self.unsupported(capability)) }
    }
}

/// Builds one provider from config.
///
/// # Errors
/// `NotConfigured` when the vendor's settings are invalid or a required key is missing.
pub fn build_provider(
    provider: ProviderId,
    config: &ProvidersConfig,
) -> Result<Arc<dyn MarketData>, ProviderError> {
    Ok(match provider {
        ProviderId::Sample => Arc::new(sample::SampleProvider::new()),
        ProviderId::Yahoo => Arc::new(yahoo::YahooProvider::new(&config.yahoo)?),
        ProviderId::AlphaVantage => {
            Arc::new(alpha_vantage::AlphaVantageProvider::new(&config.alpha_vantage)?)
        }
        ProviderId::Polygon => Arc::new(polygon::PolygonProvider::new(&config.polygon)?),
        ProviderId::Finnhub => Arc::new(finnhub::FinnhubProvider::new(&config.finnhub)?),
    })
}

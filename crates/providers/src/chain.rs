use std::future::Future;
use std::sync::Arc;

use tracing::Instrument;

use chrono::{DateTime, Utc};
use domain::reconcile::ProviderPreference;
use domain::{BarSeries, CompanyProfile, CorporateAction, NewsItem, ProviderId, Quote, Symbol};
use outbound::{Usage, UsageSnapshot};

use crate::{
    BarsRequest, Capability, MarketData, ProviderConfigError, ProviderError, ProvidersConfig, build_provider,
};

/// A provider that was tried and why it did not serve the request.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub provider: ProviderId,
    pub error: ProviderError,
}

/// A value and the provider that served it, plus the providers tried before it.
#[derive(Debug, Clone)]
pub struct Served<T> {
    pub value: T,
    pub provider: ProviderId,
    pub failed_attempts: Vec<Attempt>,
}

/// The whole chain failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// A provider gave an answer that another provider would not change, so the chain stopped
    /// there. (No error does so today; kept for vendors whose answer is final.)
    #[error("{0}")]
    Stopped(ProviderError),
    /// Every provider was tried and failed; each one's reason, in order.
    #[error("{}: {}", if self.is_not_found() { format!("no provider knows {what}") } else { format!("every provider failed for {what}") }, attempts.iter().map(|a| a.error.to_string()).collect::<Vec<_>>().join("; "))]
    Exhausted { what: String, attempts: Vec<Attempt> },
    /// No provider in the chain offers this kind of data.
    #[error("no configured provider supports {capability} (tried {})", providers.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))]
    NoProvider { capability: Capability, providers: Vec<ProviderId> },
}

impl ChainError {
    /// True when the symbol is unknown: some provider said so and none failed for a reason that
    /// might pass (a timeout, a rate limit, a 5xx), so asking again would not help.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Stopped(error) => matches!(error, ProviderError::NotFound { .. }),
            Self::Exhausted { attempts, .. } => {
                attempts.iter().any(|a| matches!(a.error, ProviderError::NotFound { .. }))
                    && attempts.iter().all(|a| !a.error.is_retryable())
            }
            Self::NoProvider { .. } => false,
        }
    }

    /// The individual provider errors.
    pub fn errors(&self) -> Vec<&ProviderError> {
        match self {
            Self::Stopped(error) => vec![error],
            Self::Exhausted { attempts, .. } => attempts.iter().map(|a| &a.error).collect(),
            Self::NoProvider { .. } => Vec::new(),
        }
    }
}

/// Providers tried in order for each request (`providers.order`). Any failure (a retryable one,
/// entitlement, auth, format, or a symbol this vendor does not know) moves on to the next
/// provider; the final error lists every provider's reason.
#[derive(Clone)]
pub struct ProviderChain {
    providers: Vec<Arc<dyn MarketData>>,
    /// Which provider's bar is kept when two deliver the same day: `providers.order`, even when
    /// this chain was narrowed to one provider (`fetch --provider polygon` must not let Polygon
    /// overwrite the bars of a provider the user prefers).
    preference: ProviderPreference,
    /// Vendors of the config that are not in this chain: listed by [`status`](Self::status)
    /// with their budgets, so a health report names every provider.
    idle: Arc<[IdleProvider]>,
}

/// A configured vendor outside the chain (not in `providers.order`, or narrowed away).
struct IdleProvider {
    provider: ProviderId,
    configured: bool,
    usage: Usage,
}

/// One provider's health, as [`ProviderChain::status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStatus {
    pub provider: ProviderId,
    /// In this chain (`providers.order`), so requests go to it.
    pub in_chain: bool,
    /// False when it needs a key the config does not give.
    pub configured: bool,
    /// The HTTP client's counters; `None` for the offline sample, which sends no request.
    pub usage: Option<UsageSnapshot>,
}

impl std::fmt::Debug for ProviderChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|p| p.id())).finish()
    }
}

impl ProviderChain {
    /// A chain over already-built providers, preferred in the order given.
    pub fn new(providers: Vec<Arc<dyn MarketData>>) -> Self {
        let preference = ProviderPreference::new(providers.iter().map(|p| p.id()));
        Self { providers, preference, idle: Arc::new([]) }
    }

    /// The same chain with another preference order for stored bars.
    pub fn with_preference(mut self, preference: ProviderPreference) -> Self {
        self.preference = preference;
        self
    }

    /// Which provider's bar is kept when two deliver the same day.
    pub fn preference(&self) -> &ProviderPreference {
        &self.preference
    }

    /// Builds the providers named in `config.order`, or only `only` when given.
    ///
    /// # Errors
    /// The first provider that cannot be built.
    pub fn from_config(
        config: &ProvidersConfig,
        only: Option<ProviderId>,
    ) -> Result<Self, ProviderConfigError> {
        let order = only.map_or_else(|| config.order.clone(), |p| vec![p]);
        let providers = order
            .into_iter()
            .map(|id| build_provider(id, config).map_err(ProviderConfigError))
            .collect::<Result<Vec<_>, _>>()?;
        let mut chain =
            Self::new(providers).with_preference(ProviderPreference::new(config.order.iter().copied()));
        chain.idle = ProviderId::ALL
            .into_iter()
            .filter(|id| !chain.providers.iter().any(|p| p.id() == *id))
            .filter_map(|provider| {
                let vendor = config.vendor(provider)?;
                let configured = provider == ProviderId::Yahoo || vendor.key().is_some();
                Some(IdleProvider {
                    provider,
                    configured,
                    usage: Usage::new(&vendor.rate_limits, vendor.daily_budget),
                })
            })
            .collect();
        Ok(chain)
    }

    /// Every provider's health: the chain's in order, then the config's other vendors (with
    /// their budgets, no requests of their own). Secrets never appear here.
    pub fn status(&self) -> Vec<ProviderStatus> {
        let in_chain = self.providers.iter().map(|p| ProviderStatus {
            provider: p.id(),
            in_chain: true,
            configured: p.is_configured(),
            usage: p.usage().map(Usage::snapshot),
        });
        let idle = self.idle.iter().map(|idle| ProviderStatus {
            provider: idle.provider,
            in_chain: false,
            configured: idle.configured,
            usage: Some(idle.usage.snapshot()),
        });
        in_chain.chain(idle).collect()
    }

    /// Every usage counter of this chain (its providers' HTTP clients and the idle vendors'), to
    /// seed from storage at start and to persist in batches.
    pub fn usages(&self) -> Vec<(ProviderId, &Usage)> {
        let in_chain = self.providers.iter().filter_map(|p| Some((p.id(), p.usage()?)));
        in_chain.chain(self.idle.iter().map(|idle| (idle.provider, &idle.usage))).collect()
    }

    /// The same chain with `first` tried first and the others after it in their order (the
    /// preference for stored bars is unchanged): the download-tracker sends each symbol to the
    /// provider its plan chose, and the others still serve as fallbacks.
    #[must_use]
    pub fn starting_with(&self, first: ProviderId) -> Self {
        let mut chain = self.clone();
        if let Some(index) = chain.providers.iter().position(|p| p.id() == first) {
            let provider = chain.providers.remove(index);
            chain.providers.insert(0, provider);
        }
        chain
    }

    /// The provider `id`, when it is in this chain.
    pub fn provider(&self, id: ProviderId) -> Option<&Arc<dyn MarketData>> {
        self.providers.iter().find(|p| p.id() == id)
    }

    /// The providers in order.
    pub fn providers(&self) -> impl Iterator<Item = ProviderId> + '_ {
        self.providers.iter().map(|p| p.id())
    }

    async fn first_success<T, F, Fut>(
        &self,
        capability: Capability,
        what: &str,
        call: F,
    ) -> Result<Served<T>, ChainError>
    where
        F: Fn(Arc<dyn MarketData>) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let mut failed_attempts = Vec::new();
        let candidates: Vec<_> =
            self.providers.iter().filter(|p| p.capabilities().supports(capability)).collect();
        if candidates.is_empty() {
            return Err(ChainError::NoProvider { capability, providers: self.providers().collect() });
        }
        for provider in candidates {
            // WARN level: kept by the default `warn` filter, so warnings inside name the vendor.
            let span = tracing::warn_span!("provider", provider = %provider.id(), what);
            match call(Arc::clone(provider)).instrument(span).await {
                Ok(value) => return Ok(Served { value, provider: provider.id(), failed_attempts }),
                Err(error) if error.should_fall_back() => {
                    tracing::warn!(provider = %provider.id(), %error, "Provider failed; trying the next one.");
                    failed_attempts.push(Attempt { provider: provider.id(), error });
                }
                Err(error) => return Err(ChainError::Stopped(error)),
            }
        }
        Err(ChainError::Exhausted { what: what.to_owned(), attempts: failed_attempts })
    }

    /// Bars from the first provider that serves them.
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn bars(&self, request: &BarsRequest) -> Result<Served<BarSeries>, ChainError> {
        let capability =
            if request.interval.is_intraday() { Capability::IntradayBars } else { Capability::DailyBars };
        self.first_success(capability, &request.describe(), |p| async move { p.bars(request).await }).await
    }

    /// A quote from the first provider that serves it.
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn quote(&self, symbol: &Symbol) -> Result<Served<Quote>, ChainError> {
        self.first_success(
            Capability::Quote,
            &format!("{symbol} quote"),
            |p| async move { p.quote(symbol).await },
        )
        .await
    }

    /// Splits and dividends from the first provider that serves them.
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn corporate_actions(
        &self,
        symbol: &Symbol,
    ) -> Result<Served<Vec<CorporateAction>>, ChainError> {
        self.first_success(
            Capability::CorporateActions,
            &format!("{symbol} corporate actions"),
            |p| async move { p.corporate_actions(symbol).await },
        )
        .await
    }

    /// A company profile from the first provider that serves it.
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn profile(&self, symbol: &Symbol) -> Result<Served<CompanyProfile>, ChainError> {
        self.first_success(Capability::Profile, &format!("{symbol} profile"), |p| async move {
            p.profile(symbol).await
        })
        .await
    }

    /// Every listed US stock and ETF, from the first provider that lists them, one row per
    /// symbol (the first a vendor gives).
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn listings(&self) -> Result<Served<Vec<crate::Listing>>, ChainError> {
        let mut served = self
            .first_success(Capability::Listings, "symbol listings", |p| async move { p.listings().await })
            .await?;
        let mut seen = std::collections::HashSet::new();
        served.value.retain(|listing| seen.insert(listing.symbol.clone()));
        served.value.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        Ok(served)
    }

    /// News published in `[from, to]` from the first provider that serves news, oldest first and
    /// once per URL (a vendor can list one story twice, e.g. across pages).
    ///
    /// The first success wins, as for every other kind of data: merging every vendor's feed would
    /// spend each one's rate-limit budget on stories the first already gave.
    ///
    /// # Errors
    /// [`ChainError`] with every provider's reason.
    pub async fn news(
        &self,
        symbol: &Symbol,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Served<Vec<NewsItem>>, ChainError> {
        let mut served = self
            .first_success(Capability::News, &format!("{symbol} news"), |p| async move {
                p.news(symbol, from, to).await
            })
            .await?;
        let mut seen = std::collections::HashSet::new();
        served.value.retain(|item| seen.insert(item.url.clone()));
        served.value.sort_by_key(|item| item.published_at);
        Ok(served)
    }
}

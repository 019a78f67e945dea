use std::future::Future;
use std::sync::Arc;

use domain::{BarSeries, CompanyProfile, ProviderId, Quote, Symbol};

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
    /// A provider gave an answer that another provider would not change (unknown symbol, bad
    /// request), so the chain stopped there.
    #[error("{0}")]
    Stopped(ProviderError),
    /// Every provider was tried and failed.
    #[error("every provider failed for {what}: {}", attempts.iter().map(|a| a.error.to_string()).collect::<Vec<_>>().join("; "))]
    Exhausted { what: String, attempts: Vec<Attempt> },
    /// No provider in the chain offers this kind of data.
    #[error("no configured provider supports {capability} (tried {})", providers.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))]
    NoProvider { capability: Capability, providers: Vec<ProviderId> },
}

impl ChainError {
    /// The individual provider errors.
    pub fn errors(&self) -> Vec<&ProviderError> {
        match self {
            Self::Stopped(error) => vec![error],
            Self::Exhausted { attempts, .. } => attempts.iter().map(|a| &a.error).collect(),
            Self::NoProvider { .. } => Vec::new(),
        }
    }
}

/// Providers tried in order for each request (`providers.order`). A retryable, entitlement,
/// auth or format failure moves on to the next provider; an unknown symbol stops the chain.
#[derive(Clone)]
pub struct ProviderChain {
    providers: Vec<Arc<dyn MarketData>>,
}

impl std::fmt::Debug for ProviderChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.providers.iter().map(|p| p.id())).finish()
    }
}

impl ProviderChain {
    /// A chain over already-built providers.
    pub fn new(providers: Vec<Arc<dyn MarketData>>) -> Self {
        Self { providers }
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
        Ok(Self::new(providers))
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
            match call(Arc::clone(provider)).await {
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
}

use std::time::Duration;

use domain::ProviderId;

use crate::Capability;

/// Everything that can go wrong when asking a vendor for data.
///
/// Each variant names the provider and what was asked (`what`, e.g. "AAPL 1d bars") so a user
/// reading one line knows where to look. Messages have already been through the provider's
/// redactor: no API key can appear in them.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    #[error("{provider}: rate limited while requesting {what}: {message}")]
    RateLimited {
        provider: ProviderId,
        what: String,
        message: String,
        /// How long the vendor (or our own limiter) asks us to wait, when known.
        retry_after: Option<Duration>,
    },
    #[error("{provider}: authentication failed for {what}: {message}")]
    Auth { provider: ProviderId, what: String, message: String },
    #[error("{provider}: {what} not found: {message}")]
    NotFound { provider: ProviderId, what: String, message: String },
    #[error("{provider}: plan not entitled to {what}: {message}")]
    Entitlement { provider: ProviderId, what: String, message: String },
    #[error("{provider}: upstream error for {what}{}: {message}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Upstream { provider: ProviderId, what: String, status: Option<u16>, message: String },
    #[error("{provider}: timed out requesting {what} after {after:?}")]
    Timeout { provider: ProviderId, what: String, after: Duration },
    #[error("{provider}: malformed response for {what}: {message}")]
    Malformed { provider: ProviderId, what: String, message: String },
    #[error("{provider} does not support {capability}")]
    Unsupported { provider: ProviderId, capability: Capability },
    #[error("{provider}: invalid request for {what}: {message}")]
    InvalidRequest { provider: ProviderId, what: String, message: String },
    #[error("{provider} is not configured: {message}")]
    NotConfigured { provider: ProviderId, message: String },
}

impl ProviderError {
    /// Worth repeating the same request later: rate limits, timeouts, 5xx and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Timeout { .. } => true,
            Self::Upstream { status, .. } => status.is_none_or(|s| s >= 500),
            _ => false,
        }
    }

    /// Worth asking the next provider in the chain. Besides retryable failures that covers the
    /// ones specific to this vendor's account, format or limits (entitlement, auth, unsupported,
    /// a body we could not parse, a request this vendor refuses such as Yahoo's 60-day intraday
    /// window) and an unknown symbol: vendors' coverage differs (Polygon has no ASX listings,
    /// the sample has five symbols), so "not found" is only the answer when every provider says
    /// so.
    pub fn should_fall_back(&self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                Self::Entitlement { .. }
                    | Self::Auth { .. }
                    | Self::NotFound { .. }
                    | Self::Upstream { .. }
                    | Self::Unsupported { .. }
                    | Self::Malformed { .. }
                    | Self::InvalidRequest { .. }
                    | Self::NotConfigured { .. }
            )
    }

    /// The provider that produced this error.
    pub fn provider(&self) -> ProviderId {
        match self {
            Self::RateLimited { provider, .. }
            | Self::Auth { provider, .. }
            | Self::NotFound { provider, .. }
            | Self::Entitlement { provider, .. }
            | Self::Upstream { provider, .. }
            | Self::Timeout { provider, .. }
            | Self::Malformed { provider, .. }
            | Self::Unsupported { provider, .. }
            | Self::InvalidRequest { provider, .. }
            | Self::NotConfigured { provider, .. } => *provider,
        }
    }

    /// Short machine-readable kind, used in metrics and stored run items.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Auth { .. } => "auth",
            Self::NotFound { .. } => "not_found",
            Self::Entitlement { .. } => "entitlement",
            Self::Upstream { .. } => "upstream",
            Self::Timeout { .. } => "timeout",
            Self::Malformed { .. } => "malformed",
            Self::Unsupported { .. } => "unsupported",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::NotConfigured { .. } => "not_configured",
        }
    }

    /// The vendor-requested wait, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A provider named in the config could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot set up provider: {0}")]
pub struct ProviderConfigError(pub ProviderError);

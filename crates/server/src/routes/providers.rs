//! Provider health: what each market-data provider did lately and what is left of its budgets.
//!
//! The figures come from the HTTP clients the jobs and the API share (one per vendor, see
//! `providers::ProviderChain::status`); today's request counts are first synced with storage, so
//! they include requests made before a restart and by other processes on the database. Read-only,
//! and no key is shown: a configured key appears only as `configured: true`.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use providers::{ProviderChain, ProviderStatus};
use serde::Serialize;
use storage::Storage;
use utoipa::ToSchema;

use crate::error::ErrorResponse;

/// One provider's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderHealth {
    #[schema(example = "alpha_vantage")]
    pub provider: String,
    /// `ok`, `not configured` (no key), `backing off` (a server asked for a wait, or a request
    /// met the spent daily budget), `budget spent` (no request left today), `failing` (the last
    /// call failed), `unused` (configured but not in `providers.order`) or `offline` (the bundled
    /// sample, which sends no request).
    #[schema(example = "ok")]
    pub status: &'static str,
    /// Has what it needs to send requests (a key, for vendors that require one).
    pub configured: bool,
    /// In `providers.order`, so requests go to it.
    pub in_chain: bool,
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<ProviderFailure>,
    /// The UTC day `requests_today` counts.
    pub day: Option<NaiveDate>,
    /// Requests sent today (UTC), retries included, by every process on the database.
    pub requests_today: u64,
    pub budget: Budget,
    /// True while the provider holds requests back (see `backing_off_until`).
    pub backing_off: bool,
    /// Until when: after a 429 with `Retry-After`, a used-up server window, or a spent daily
    /// budget (then the next 00:00 UTC).
    pub backing_off_until: Option<DateTime<Utc>>,
}

/// The provider's last failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderFailure {
    pub at: DateTime<Utc>,
    /// Redacted: keys and credential parameters are masked.
    pub message: String,
}

/// What is left of the rate limits; `null` where the provider has no such limit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Budget {
    /// Requests allowed per UTC day (`providers.<name>.daily_budget`).
    pub per_day: Option<u32>,
    pub day_left: Option<u64>,
    /// The tightest per-minute rate of `providers.<name>.rate_limits`.
    pub per_minute: Option<u32>,
    /// Left in the current minute (an estimate: a fixed window from its first request).
    pub minute_left: Option<u32>,
}

fn utc(time: SystemTime) -> DateTime<Utc> {
    DateTime::<Utc>::from(time)
}

fn health(status: ProviderStatus, now: SystemTime) -> ProviderHealth {
    let usage = status.usage;
    let backing_off = usage.as_ref().is_some_and(|u| u.is_backing_off(now));
    let failing = usage
        .as_ref()
        .and_then(|u| u.last_error.as_ref().map(|e| (e.at, u.last_success)))
        .is_some_and(|(error_at, success_at)| success_at.is_none_or(|s| s < error_at));
    let label = match (&usage, status.configured, status.in_chain) {
        (None, _, _) => "offline",
        (_, false, _) => "not configured",
        (_, true, false) => "unused",
        _ if backing_off => "backing off",
        (Some(usage), _, _) if usage.daily_left == Some(0) => "budget spent",
        _ if failing => "failing",
        _ => "ok",
    };
    ProviderHealth {
        provider: status.provider.as_str().to_owned(),
        status: label,
        configured: status.configured,
        in_chain: status.in_chain,
        last_success: usage.as_ref().and_then(|u| u.last_success).map(utc),
        last_error: usage
            .as_ref()
            .and_then(|u| u.last_error.clone())
            .map(|e| ProviderFailure { at: utc(e.at), message: e.message }),
        day: usage
            .as_ref()
            .and_then(|u| DateTime::from_timestamp(u.day.saturating_mul(86_400), 0))
            .map(|t| t.date_naive()),
        requests_today: usage.as_ref().map_or(0, |u| u.requests_today),
        budget: Budget {
            per_day: usage.as_ref().and_then(|u| u.daily_budget),
            day_left: usage.as_ref().and_then(|u| u.daily_left),
            per_minute: usage.as_ref().and_then(|u| u.per_minute),
            minute_left: usage.as_ref().and_then(|u| u.minute_left),
        },
        backing_off,
        backing_off_until: usage.as_ref().and_then(|u| u.backing_off_until).filter(|_| backing_off).map(utc),
    }
}

/// Every provider's health: the chain's in `providers.order`, then the other vendors (listed
/// even without a key, as `not configured`).
#[utoipa::path(
    get,
    path = "/api/providers",
    operation_id = "list_providers",
    tag = "ops",
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<ProviderHealth>),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list(
    State(chain): State<ProviderChain>,
    State(storage): State<Storage>,
) -> Json<Vec<ProviderHealth>> {
    Json(provider_health(&chain, &storage).await)
}

/// The report `GET /api/providers` answers (the CLI's `providers` prints the same): today's
/// counts synced with storage first. A database that cannot take the counts is logged, not an
/// error: the live figures still answer, and the counts stay in memory for the next sync.
pub async fn provider_health(chain: &ProviderChain, storage: &Storage) -> Vec<ProviderHealth> {
    jobs::provider_usage::sync_usage_or_warn(chain, storage).await;
    let now = SystemTime::now();
    chain.status().into_iter().map(|status| health(status, now)).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use domain::ProviderId;
    use providers::{LastError, UsageSnapshot};

    use super::*;

    fn status(configured: bool, in_chain: bool, usage: Option<UsageSnapshot>) -> ProviderStatus {
        ProviderStatus { provider: ProviderId::AlphaVantage, in_chain, configured, usage }
    }

    fn usage(now: SystemTime) -> UsageSnapshot {
        UsageSnapshot {
            day: 20_000,
            requests_today: 3,
            daily_budget: Some(25),
            daily_left: Some(22),
            per_minute: Some(5),
            minute_left: Some(2),
            last_success: Some(now),
            last_error: None,
            backing_off_until: None,
        }
    }

    #[test]
    fn the_status_says_what_matters_most() {
        let now = SystemTime::now();
        let label = |s: ProviderStatus| health(s, now).status;
        assert_eq!(label(status(true, true, None)), "offline");
        assert_eq!(label(status(false, true, Some(usage(now)))), "not configured");
        assert_eq!(label(status(true, false, Some(usage(now)))), "unused");
        assert_eq!(label(status(true, true, Some(usage(now)))), "ok");
        let error = LastError { at: now + Duration::from_secs(1), message: "HTTP 503".to_owned() };
        let failing = UsageSnapshot { last_error: Some(error), ..usage(now) };
        assert_eq!(label(status(true, true, Some(failing.clone()))), "failing");
        let spent = UsageSnapshot { daily_left: Some(0), ..failing.clone() };
        assert_eq!(label(status(true, true, Some(spent))), "budget spent");
        let waiting = UsageSnapshot { backing_off_until: Some(now + Duration::from_secs(60)), ..failing };
        let report = health(status(true, true, Some(waiting)), now);
        assert_eq!((report.status, report.backing_off), ("backing off", true));
        assert_eq!(report.day, NaiveDate::from_ymd_opt(2024, 10, 4));
    }
}

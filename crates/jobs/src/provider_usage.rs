//! Keeps the providers' daily request counts in storage: the HTTP clients count every request in
//! memory (`outbound::Usage`), and this adds what they counted since the last time to the stored
//! day and hands the stored totals back, so a restart (or another process on the database) does
//! not forget how much of a daily budget is spent.
//!
//! Who calls it: the download-tracker before planning and after each symbol, the monitor job
//! after each poll, the CLI after a command that used the chain, and `GET /api/providers` before
//! it answers. A crash loses at most the requests since the last of those.

use chrono::{DateTime, NaiveDate, Utc};
use providers::{ProviderChain, UnixDay};
use storage::{ProviderRequests, Storage, StorageError};

fn date_of(day: UnixDay) -> NaiveDate {
    DateTime::from_timestamp(day.saturating_mul(86_400), 0).unwrap_or_default().date_naive()
}

fn unix_day_of(date: NaiveDate) -> UnixDay {
    date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()).div_euclid(86_400)
}

/// Stores the requests every client of `chain` counted since the last call (one transaction),
/// then reads today's stored totals back into the clients, so each knows what every process
/// spent today.
///
/// # Errors
/// When the database fails; the counts taken are given back to their clients, so the next call
/// stores them.
pub async fn sync_usage(chain: &ProviderChain, storage: &Storage) -> Result<(), StorageError> {
    let usages = chain.usages();
    let mut added = Vec::new();
    for (provider, usage) in &usages {
        for (day, requests) in usage.take_unflushed() {
            added.push(ProviderRequests { provider: *provider, day: date_of(day), requests });
        }
    }
    if let Err(error) = storage.add_provider_requests(&added).await {
        for (provider, usage) in &usages {
            let counts: Vec<_> = added
                .iter()
                .filter(|a| a.provider == *provider)
                .map(|a| (unix_day_of(a.day), a.requests))
                .collect();
            usage.give_back(&counts);
        }
        return Err(error);
    }
    let today = Utc::now().date_naive();
    for stored in storage.provider_requests(today).await? {
        for (_, usage) in usages.iter().filter(|(provider, _)| *provider == stored.provider) {
            usage.observe_total(unix_day_of(today), stored.requests);
        }
    }
    Ok(())
}

/// [`sync_usage`] for callers that carry on when it fails (a health report, the end of a
/// command): the failure is logged, the counts stay in memory for the next call.
pub async fn sync_usage_or_warn(chain: &ProviderChain, storage: &Storage) {
    if let Err(error) = sync_usage(chain, storage).await {
        tracing::warn!(%error, "Cannot store the providers' request counts; they are kept for the next try.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
        assert_eq!(date_of(unix_day_of(date)), date);
        assert_eq!(unix_day_of(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
    }
}

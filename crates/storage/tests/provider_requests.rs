//! Per-provider per-day request counts: added in batches, totals returned, and still there for a
//! second handle on the same database (a restart, or another process), on both backends.

use chrono::NaiveDate;
use domain::ProviderId;
use storage::{ProviderRequests, Storage};

#[macro_use]
mod common;

use common::config;

backend_tests!(check_a_day_without_requests_is_empty);
url_backend_tests!(check_counts_add_up_and_survive_a_new_handle);

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
}

fn requests(provider: ProviderId, d: u32, requests: u64) -> ProviderRequests {
    ProviderRequests { provider, day: day(d), requests }
}

async fn check_counts_add_up_and_survive_a_new_handle(storage: Storage, url: String) {
    assert!(storage.add_provider_requests(&[]).await.unwrap().is_empty());
    let totals = storage
        .add_provider_requests(&[
            requests(ProviderId::AlphaVantage, 5, 20),
            requests(ProviderId::Polygon, 5, 3),
        ])
        .await
        .unwrap();
    assert_eq!(totals, [requests(ProviderId::AlphaVantage, 5, 20), requests(ProviderId::Polygon, 5, 3)]);
    // A second batch adds to the day and answers with the new total.
    let totals = storage.add_provider_requests(&[requests(ProviderId::AlphaVantage, 5, 2)]).await.unwrap();
    assert_eq!(totals, [requests(ProviderId::AlphaVantage, 5, 22)]);

    // A new handle (a restart, another process) reads the same counts.
    let again = Storage::connect(&url, &config()).await.unwrap();
    assert_eq!(
        again.provider_requests(day(5)).await.unwrap(),
        [requests(ProviderId::AlphaVantage, 5, 22), requests(ProviderId::Polygon, 5, 3)]
    );
    assert!(again.provider_requests(day(6)).await.unwrap().is_empty(), "days are apart");
    // Another process's requests add to the same total.
    let totals = again.add_provider_requests(&[requests(ProviderId::AlphaVantage, 5, 1)]).await.unwrap();
    assert_eq!(totals[0].requests, 23);
    again.close().await;

    // Days older than a month are pruned when counts are added.
    storage.add_provider_requests(&[requests(ProviderId::Yahoo, 31, 1)]).await.unwrap();
    storage.add_provider_requests(&[requests(ProviderId::Yahoo, 5, 0)]).await.unwrap();
    let later = NaiveDate::from_ymd_opt(2027, 1, 20).unwrap();
    storage
        .add_provider_requests(&[ProviderRequests { provider: ProviderId::Yahoo, day: later, requests: 1 }])
        .await
        .unwrap();
    assert!(storage.provider_requests(day(5)).await.unwrap().is_empty());
    assert_eq!(storage.provider_requests(day(31)).await.unwrap().len(), 1);
}

async fn check_a_day_without_requests_is_empty(storage: Storage) {
    assert!(storage.provider_requests(day(5)).await.unwrap().is_empty());
    // A flush with nothing new for a provider stores its zero without harm.
    let totals = storage.add_provider_requests(&[requests(ProviderId::Finnhub, 5, 0)]).await.unwrap();
    assert_eq!(totals, [requests(ProviderId::Finnhub, 5, 0)]);
}

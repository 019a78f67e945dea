//! Fetch-and-store, shared by the CLI's `fetch` and the download-tracker job: bars through the
//! provider chain, through the quality gate, into storage in one transaction per symbol.

use chrono::{DateTime, Utc};
use domain::{ProviderId, QualityReport, check_bars};
use providers::{BarsRequest, ChainError, ProviderChain};
use storage::{Storage, StorageError};

/// A symbol fetched and stored.
#[derive(Debug, Clone)]
pub struct FetchedSymbol {
    pub provider: ProviderId,
    pub n_bars: usize,
    pub inserted: u64,
    pub updated: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub last_close: Option<f64>,
    pub quality: QualityReport,
}

/// Why a symbol could not be fetched and stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Providers(#[from] ChainError),
    #[error("cannot store bars of {symbol}: {source}")]
    Storage { symbol: String, source: StorageError },
}

/// Fetches one symbol and stores what passed the quality gate. The upsert is one transaction, so
/// a failed fetch or write leaves previously stored bars untouched.
///
/// # Errors
/// When every provider fails or the database write fails; the message names the symbol.
pub async fn fetch_and_store(
    chain: &ProviderChain,
    storage: &Storage,
    request: &BarsRequest,
) -> Result<FetchedSymbol, IngestError> {
    let served = chain.bars(request).await?;
    let provider = served.provider;
    let mut bars = served.value.bars;
    let quality = check_bars(&mut bars);
    for finding in &quality.rejected {
        tracing::warn!(symbol = %request.symbol, %provider, ts = %finding.ts, issue = %finding.issue, "Rejected bar.");
    }
    let storage_error = |source| IngestError::Storage { symbol: request.symbol.to_string(), source };
    let stats = storage.upsert_bars(&request.symbol, request.interval, &bars).await.map_err(storage_error)?;
    if !quality.is_clean() {
        storage
            .record_quality(&request.symbol, request.interval, provider, &quality)
            .await
            .map_err(storage_error)?;
    }
    Ok(FetchedSymbol {
        provider,
        n_bars: bars.len(),
        inserted: stats.inserted,
        updated: stats.updated,
        first: bars.first().map(|b| b.ts),
        last: bars.last().map(|b| b.ts),
        last_close: bars.iter().rev().find_map(|b| b.close),
        quality,
    })
}

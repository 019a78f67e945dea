//! Fetch-and-store, shared by the CLI's `fetch` and the download-tracker job: bars through the
//! provider chain, to as-traded prices, through the quality gate, into storage in one
//! transaction per symbol, reconciled with what is stored (one bar per trading day).

use chrono::{DateTime, Utc};
use domain::{CorporateActionKind, PriceBasis, ProviderId, QualityIssue, QualityReport, Symbol, check_bars};
use providers::{BarsRequest, ChainError, ProviderChain};
use storage::{Storage, StorageError};

/// A symbol fetched and stored.
#[derive(Debug, Clone)]
pub struct FetchedSymbol {
    pub provider: ProviderId,
    /// Bars the provider delivered for the window (0 for a window without sessions, such as a
    /// weekend or a holiday: that is a success).
    pub n_bars: usize,
    pub inserted: u64,
    pub updated: u64,
    /// Delivered bars not stored because a preferred provider's (or a final) bar is stored.
    pub kept: u64,
    /// Field disagreements with other providers' bars of the same days.
    pub disagreements: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub last_close: Option<f64>,
    /// Bars of sessions not yet closed (stored as partial).
    pub n_partial: usize,
    pub quality: QualityReport,
    /// Providers that failed before the one that served.
    pub failed_attempts: Vec<providers::Attempt>,
}

/// Why a symbol could not be fetched and stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Providers(#[from] ChainError),
    #[error("cannot store bars of {symbol}: {source}")]
    Storage { symbol: Symbol, source: StorageError },
}

/// Fetches one symbol and stores what passed the quality gate. The upsert is one transaction, so
/// a failed fetch or write leaves previously stored bars untouched.
///
/// A split-adjusted series (Yahoo, Finnhub daily) is turned into as-traded prices first, with
/// the splits the vendor sent and those on record, so series from different vendors are never
/// spliced across a split; the vendor's splits and dividends are stored for later fetches.
///
/// # Errors
/// When every provider fails or the database write fails; the message names the symbol and,
/// for provider failures, every provider's reason.
#[tracing::instrument(level = "warn", skip_all, fields(symbol = %request.symbol, interval = %request.interval))]
pub async fn fetch_and_store(
    chain: &ProviderChain,
    storage: &Storage,
    request: &BarsRequest,
) -> Result<FetchedSymbol, IngestError> {
    let served = chain.bars(request).await?;
    let provider = served.provider;
    let mut series = served.value;
    let storage_error = |source| IngestError::Storage { symbol: request.symbol.clone(), source };
    storage.save_corporate_actions(&request.symbol, &series.actions).await.map_err(storage_error)?;
    // A split-adjusted series without its vendor's events (Finnhub's daily candles) needs the
    // splits from a provider that has them before it can be read as traded.
    if series.basis == PriceBasis::SplitAdjusted && series.actions.is_empty() && !series.bars.is_empty() {
        refresh_corporate_actions(chain, storage, request).await.map_err(storage_error)?;
    }
    let first_date = series.bars.first().map(domain::Bar::date);
    let splits_on_record = || async {
        let mut actions = storage.corporate_actions(&request.symbol, first_date).await?;
        actions.retain(|a| matches!(a.kind, CorporateActionKind::Split { .. }));
        Ok::<_, StorageError>(actions)
    };
    let mut actions = splits_on_record().await.map_err(storage_error)?;
    if series.basis == PriceBasis::SplitAdjusted {
        series.undo_split_adjustment(&actions);
    }
    let mut bars = series.bars.clone();
    let mut quality = check_bars(&mut bars, &actions);
    if quality.flagged.iter().any(|f| matches!(f.issue, QualityIssue::SplitSizedStep { .. })) {
        // A split-sized step with no split on record: ask the vendors that list splits, and
        // check again with what they say before flagging the step.
        refresh_corporate_actions(chain, storage, request).await.map_err(storage_error)?;
        actions = splits_on_record().await.map_err(storage_error)?;
        bars = series.bars;
        quality = check_bars(&mut bars, &actions);
    }
    for finding in &quality.rejected {
        tracing::warn!(symbol = %request.symbol, %provider, ts = %finding.ts, issue = %finding.issue, "Rejected bar.");
    }
    let stats = storage
        .upsert_bars(&request.symbol, request.interval, &bars, chain.preference())
        .await
        .map_err(storage_error)?;
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
        kept: stats.kept,
        disagreements: stats.disagreements,
        first: bars.first().map(|b| b.ts),
        last: bars.last().map(|b| b.ts),
        last_close: bars.iter().rev().find_map(|b| b.close),
        n_partial: bars.iter().filter(|b| b.partial).count(),
        quality,
        failed_attempts: served.failed_attempts,
    })
}

/// Asks the chain for the symbol's splits and dividends and stores them. A vendor failure is
/// logged and not the fetch's: the bars are stored either way, a step may then stay flagged.
async fn refresh_corporate_actions(
    chain: &ProviderChain,
    storage: &Storage,
    request: &BarsRequest,
) -> Result<(), StorageError> {
    match chain.corporate_actions(&request.symbol).await {
        Ok(served) => {
            tracing::debug!(symbol = %request.symbol, provider = %served.provider, actions = served.value.len(), "Corporate actions fetched.");
            storage.save_corporate_actions(&request.symbol, &served.value).await
        }
        Err(error) => {
            tracing::warn!(symbol = %request.symbol, %error, "No corporate actions; split steps stay unexplained.");
            Ok(())
        }
    }
}

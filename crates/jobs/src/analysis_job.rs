//! The `analysis` job: the research crew on one symbol (the run's subject, from
//! `POST /api/analysis/{symbol}`) or on every watched symbol (a schedule or a plain trigger).

use agents::NoObserver;
use analysis::{AnalysisError, AnalysisService, AnalyzeRequest};
use anyhow::Context as _;
use async_trait::async_trait;
use domain::{Interval, OutputKind, RunOutput, Symbol};
use providers::{BarsRequest, ProviderChain, Span};
use storage::RunItem;
use tracing::warn;

use crate::engine::{Job, JobContext, JobOutcome};
use crate::ingest::{IngestError, fetch_and_store};

/// Daily bars fetched for a symbol that has none stored, so the indicators have a year.
const FIRST_FETCH_DAYS: u32 = 400;

/// The job. Holds the service (and so the model's HTTP client) for its lifetime.
pub struct AnalysisJob {
    service: AnalysisService,
    chain: ProviderChain,
}

impl AnalysisJob {
    pub const NAME: &'static str = "analysis";

    pub fn new(service: AnalysisService, chain: ProviderChain) -> Self {
        Self { service, chain }
    }

    pub fn service(&self) -> &AnalysisService {
        &self.service
    }
}

/// A symbol with no stored bars that no provider knows: there is nothing to analyse, and a note
/// on it would be made up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown symbol {symbol}: no bars are stored and {reason}")]
pub struct UnknownSymbol {
    pub symbol: Symbol,
    /// What the providers said, e.g. `no provider knows AAPL 1d: sample: not found …`.
    pub reason: String,
}

/// Fetches a year of daily bars when none are stored, so a first analysis has data. `Ok(None)`
/// when bars are there now; `Ok(Some(why))` when they could not be fetched for a reason that may
/// pass (a timeout, a rate limit, the database): logged, not fatal, the crew then says the data is
/// thin.
///
/// # Errors
/// [`UnknownSymbol`] when no bars are stored and every provider says it does not know the symbol.
pub async fn ensure_bars(
    chain: &ProviderChain,
    storage: &storage::Storage,
    symbol: &Symbol,
) -> Result<Option<String>, UnknownSymbol> {
    match storage.last_bar_ts(symbol, Interval::Day1).await {
        Ok(Some(_)) => return Ok(None),
        Ok(None) => {}
        Err(error) => return Ok(Some(error.to_string())),
    }
    let request = BarsRequest {
        symbol: symbol.clone(),
        interval: Interval::Day1,
        span: Span::Last { days: FIRST_FETCH_DAYS },
    };
    match fetch_and_store(chain, storage, &request).await {
        Ok(_) => Ok(None),
        Err(IngestError::Providers(error)) if error.is_not_found() => {
            Err(UnknownSymbol { symbol: symbol.clone(), reason: error.to_string() })
        }
        Err(error) => {
            warn!(%symbol, %error, "No bars for the analysis; the crew will work with what it has.");
            Ok(Some(error.to_string()))
        }
    }
}

#[async_trait]
impl Job for AnalysisJob {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let symbols: Vec<Symbol> = match &context.subject {
            Some(symbol) => vec![symbol.clone()],
            None => {
                let watchlist = context.storage.watchlist().await.context("cannot read the watchlist")?;
                watchlist.into_iter().map(|entry| entry.symbol).collect()
            }
        };
        if symbols.is_empty() {
            return Ok(JobOutcome {
                error: Some("the watchlist is empty".to_owned()),
                ..JobOutcome::default()
            });
        }
        match self.service.apply_retention().await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "Deleted crew runs past retention."),
            Err(error) => warn!(%error, "Crew-run retention failed; continuing."),
        }
        let model = self.service.model_label();
        let mut failures = 0;
        for symbol in &symbols {
            if context.cancel.is_cancelled() {
                break;
            }
            // Cancelled past the shutdown grace: drop the vendor requests at once.
            let Some(ensured) =
                context.cancel.run_until_cancelled(ensure_bars(&self.chain, &context.storage, symbol)).await
            else {
                break;
            };
            let fetch_error = match ensured {
                Ok(fetch_error) => fetch_error,
                Err(unknown) => {
                    // No crew runs and no note is stored for a symbol that does not exist.
                    warn!(%symbol, %unknown, "Not analysing an unknown symbol.");
                    failures += 1;
                    let item = RunItem {
                        symbol: symbol.to_string(),
                        succeeded: false,
                        bars: 0,
                        provider: None,
                        error: Some(unknown.to_string()),
                    };
                    context.record_item(&item).await.context("cannot record the analysis result")?;
                    continue;
                }
            };
            let request = AnalyzeRequest {
                symbol: symbol.clone(),
                crew: None,
                job_run_id: Some(context.run_id),
                stream: false,
            };
            let result = self.service.analyze(&request, &NoObserver, context.cancel.clone()).await;
            let (succeeded, error) = match result {
                Ok(analysis) => {
                    for output in [
                        RunOutput::new(OutputKind::CrewRun, analysis.crew_run_id),
                        RunOutput::new(OutputKind::ResearchNote, analysis.note.id),
                    ] {
                        context
                            .attach(output)
                            .await
                            .context("cannot list the note among the run's outputs")?;
                    }
                    (true, fetch_error.map(|e| format!("analysed without fresh bars: {e}")))
                }
                Err(AnalysisError::Storage(error)) => return Err(error).context("cannot store the analysis"),
                Err(error) => (false, Some(error.to_string())),
            };
            failures += usize::from(!succeeded);
            let item = RunItem {
                symbol: symbol.to_string(),
                succeeded,
                bars: 0,
                provider: Some(model.clone()),
                error,
            };
            context.record_item(&item).await.context("cannot record the analysis result")?;
        }
        let error = (failures == symbols.len()).then(|| format!("no analysis finished ({failures} failed)"));
        Ok(JobOutcome { error, ..JobOutcome::default() })
    }
}

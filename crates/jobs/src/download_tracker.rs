//! The download-tracker job: refreshes every watchlist symbol, then writes an export.
//!
//! Decisions, and why:
//! - **The provider chain is built once**, when the job is constructed, and reused by every run,
//!   so HTTP clients, their connection pools and rate limiters live as long as the job (one owner,
//!   one bound) instead of being rebuilt, and their sockets re-opened, on every run.
//! - **Per symbol**: the trading days from the newest stored bar's date to today on the
//!   symbol's exchange (`Span::Between`; the last stored day is fetched again because it may
//!   have been partial, and its final bar replaces it), or `initial_range` when nothing is
//!   stored; `Between` is absolute, so the offline `sample` provider (which resolves *relative*
//!   spans against the end of its 2013 data) behaves the same. Then a quote. A symbol's item is
//!   `succeeded` when its bars were stored; a failed quote is noted in the item's `error`
//!   (`quote: …`) without failing it, because the stored bars — what the export is made of —
//!   are fine. When every refreshed symbol's quote failed the run ends `partial` with the
//!   reasons. When the bars fail, the quote is not asked for: the chain has just failed for that
//!   symbol and would spend rate-limit budget to fail again.
//! - **News and company profiles** follow a successful bar refresh: the news of the last
//!   `news_days` (stored once per URL, so the count logged is of new items) and, when the stored
//!   profile is older than `profile_max_age_days` (or there is none), the profile. Either failing
//!   is noted in the item's `error` (`news: …`, `profile: …`) and logged; it never fails the
//!   symbol or the run, because the bars are what the run is for, and the next run tries again.
//!   A chain with no provider of news or profiles (Yahoo alone) skips them silently.
//! - **A plan within the providers' budgets** (`run_plan`): before fetching, the stored request
//!   counts are synced into the clients, the symbols are ordered least recently refreshed first,
//!   and each goes to a provider with budget left (`providers.order` first, spread past a
//!   per-minute rate); the symbol's chain starts with that provider, the others stay fallbacks.
//!   When daily budgets cannot cover the watchlist, the run says so up front (a warning naming
//!   the deferred symbols) and in its result (`partial`, with the names); deferred symbols get no
//!   item and are not failures. Request counts are stored after each symbol. News and profiles
//!   go through the symbol's planned chain too, and count in its cost when they are on.
//! - **Symbols are independent**: a failing symbol is recorded with its error and the others go
//!   on (the engine turns the items into `partial`/`failed`). At most `concurrency` symbols are in
//!   flight (`buffer_unordered`); rate limits are the providers' job. Cancellation is checked
//!   before each symbol starts.
//! - **The export** covers `export_range` counted back from the newest stored bar of the
//!   watchlist, not from the wall clock: for a live vendor that is the last trading day, so the
//!   window is "the last year"; for the sample data set (ending in 2013) a wall-clock window would
//!   always be empty. For csv, ndjson and parquet a summary csv (kind `summary`) is written too;
//!   xlsx has its own summary sheet and html its summary table.
//! - **Research notes**: the latest note of each watched symbol (written by the analysis crew)
//!   goes into a `notes` csv table, like the mentions only when there is one, and, when the
//!   format is html, into the report's "Research notes" section. Notes that cannot be read do not
//!   cost the bars export: the report is written without them and the run's error says why.
//! - **Empty watchlist**: the run succeeds with no items and still writes an (empty) export, so
//!   "every run has an export" holds for consumers. **Every symbol failed**: no export is written
//!   (it would only repeat the previous data and push good exports out of retention); the run is
//!   `failed` with every symbol's reason.
//! - A failed export (e.g. a directory that is not writable) fails the run with the export's
//!   message; the bars stored before it stay stored. Retention runs after every run that got as
//!   far as the export step (by age it must apply even when nothing new is written); its failure
//!   is logged, not the run's.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use domain::{DateRange, Exchange, Symbol};
use export::{ExportFormat, ExportRequest, NoteSummary};
use futures::StreamExt;
use providers::{BarsRequest, Capability, ChainError, ProviderChain, ProvidersConfig, Span};
use storage::RunItem;
use tracing::{info, warn};

use crate::config::{ConfigError, DownloadTrackerConfig};
use crate::engine::{Job, JobContext, JobOutcome};
use crate::exports::ExportService;
use crate::ingest::fetch_and_store;
use crate::provider_usage::sync_usage_or_warn;
use crate::run_plan::{PLAN_WINDOW, RunPlan, budgets, plan_run};

/// Refreshes every watchlist symbol and writes an export.
pub struct DownloadTracker {
    chain: ProviderChain,
    exports: ExportService,
    config: DownloadTrackerConfig,
    initial_span: Span,
    export_span: Span,
    /// Delivers the alerts the refresh fires (shared with the `monitor` job).
    notifier: Option<std::sync::Arc<notify::Notifier>>,
}

/// Why the download-tracker could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DownloadTrackerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Providers(#[from] providers::ProviderConfigError),
}

/// How far back the mentions table of an export reaches.
const MENTIONS_WINDOW_DAYS: i64 = 7;
/// Upper bound on mentions read for one export, so a flood of posts cannot blow up a run.
const MAX_EXPORTED_MENTIONS: u64 = 100_000;

impl DownloadTracker {
    /// The job's name in URLs, config and run records.
    pub const NAME: &'static str = "download-tracker";

    /// The job over an already-built chain (reused by every run).
    ///
    /// # Errors
    /// [`ConfigError`] for a bad range or concurrency (see [`DownloadTrackerConfig::validate`]).
    pub fn new(
        chain: ProviderChain,
        exports: ExportService,
        config: DownloadTrackerConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let initial_span = config.initial_span()?;
        let export_span = config.export_span()?;
        Ok(Self { chain, exports, config, initial_span, export_span, notifier: None })
    }

    /// Delivers the alerts fired after each refresh through `notifier`.
    #[must_use]
    pub fn with_notifier(mut self, notifier: std::sync::Arc<notify::Notifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Builds the provider chain from `providers` once, then [`new`](Self::new).
    ///
    /// # Errors
    /// A provider that cannot be built, or a bad setting.
    pub fn from_config(
        providers: &ProvidersConfig,
        exports: ExportService,
        config: DownloadTrackerConfig,
    ) -> Result<Self, DownloadTrackerError> {
        let chain = ProviderChain::from_config(providers, None)?;
        Ok(Self::new(chain, exports, config)?)
    }

    /// The job as the engine takes it.
    pub fn into_job(self) -> Arc<dyn Job> {
        Arc::new(self)
    }

    /// Writes the watchlist's social mentions of the last [`MENTIONS_WINDOW_DAYS`] days as a
    /// `mentions` export, when there are any (the reddit-scan job collects them).
    async fn export_mentions(
        &self,
        context: &JobContext,
        watched: &std::collections::HashSet<Symbol>,
    ) -> anyhow::Result<()> {
        let since = Utc::now() - chrono::Duration::days(MENTIONS_WINDOW_DAYS);
        let mut mentions = context.storage.mentions(None, since, Some(MAX_EXPORTED_MENTIONS)).await?;
        mentions.retain(|m| watched.contains(&m.symbol));
        if !mentions.is_empty() {
            self.exports.create_mentions(&mentions, Some(context.run_id)).await?;
        }
        Ok(())
    }

    /// Writes the latest research note of each watched symbol as a `notes` export, when there
    /// are any.
    async fn export_notes(
        &self,
        context: &JobContext,
        notes: &[storage::Stored<domain::ResearchNote>],
    ) -> anyhow::Result<()> {
        if !notes.is_empty() {
            self.exports.create_notes(notes, Some(context.run_id)).await?;
        }
        Ok(())
    }

    /// Fetches and stores one symbol's new bars, quote, news and profile through `chain` (the
    /// run's plan put the symbol's provider first); the item says how it went, and the second
    /// value why the quote failed, if it did.
    async fn refresh(
        &self,
        context: &JobContext,
        chain: &ProviderChain,
        symbol: Symbol,
        now: DateTime<Utc>,
    ) -> (RunItem, Option<String>) {
        let storage = &context.storage;
        let interval = self.config.interval;
        let exchange = Exchange::for_symbol(&symbol);
        let span = match storage.last_bar_ts(&symbol, interval).await {
            Ok(Some(last)) => {
                let last_day = exchange.key_date(interval, last);
                let today = exchange.today(now).max(last_day);
                Span::Between(DateRange::new(last_day, today).unwrap_or(DateRange::day(last_day)))
            }
            Ok(None) => self.initial_span,
            Err(error) => return (failed_item(&symbol, format!("cannot read stored bars: {error}")), None),
        };
        let request = BarsRequest { symbol: symbol.clone(), interval, span };
        let fetched = match fetch_and_store(chain, storage, &request).await {
            Ok(fetched) => fetched,
            Err(error) => {
                warn!(%symbol, %error, "Symbol refresh failed.");
                return (failed_item(&symbol, error.to_string()), None);
            }
        };
        let quote_error = match chain.quote(&symbol).await {
            Ok(served) => {
                storage.save_quote(&served.value).await.err().map(|e| format!("quote: cannot store: {e}"))
            }
            Err(error) => Some(format!("quote: {error}")),
        };
        if let Some(error) = &quote_error {
            warn!(%symbol, error, "Quote failed; the symbol's bars were stored.");
        }
        let (new_news, news_error) = match self.refresh_news(chain, storage, &symbol, now).await {
            Ok(new_news) => (new_news, None),
            Err(error) => {
                warn!(%symbol, error, "News refresh failed; the symbol's bars were stored.");
                (0, Some(error))
            }
        };
        let profile_error = self.refresh_profile(chain, storage, &symbol, now).await.err();
        if let Some(error) = &profile_error {
            warn!(%symbol, error, "Profile refresh failed; the symbol's bars were stored.");
        }
        let stored = fetched.inserted + fetched.updated;
        info!(%symbol, provider = %fetched.provider, bars = stored, new_news, "Symbol refreshed.");
        let errors: Vec<String> =
            [quote_error.clone(), news_error, profile_error].into_iter().flatten().collect();
        let item = RunItem {
            symbol: symbol.to_string(),
            succeeded: true,
            bars: stored,
            provider: Some(fetched.provider.to_string()),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
        };
        (item, quote_error)
    }

    /// Fetches the news of the last `news_days` and stores it; returns how many items were new.
    ///
    /// # Errors
    /// What failed, prefixed `news:`, for the item's error.
    async fn refresh_news(
        &self,
        chain: &ProviderChain,
        storage: &storage::Storage,
        symbol: &Symbol,
        now: DateTime<Utc>,
    ) -> Result<u64, String> {
        if self.config.news_days == 0 {
            return Ok(0);
        }
        let from = now - chrono::Duration::days(i64::from(self.config.news_days));
        let served = match chain.news(symbol, from, now).await {
            Ok(served) => served,
            // A chain without a news source (e.g. Yahoo alone) has nothing to refresh.
            Err(ChainError::NoProvider { .. }) => return Ok(0),
            Err(error) => return Err(format!("news: {error}")),
        };
        storage.save_news(&served.value).await.map_err(|e| format!("news: cannot store: {e}"))
    }

    /// Fetches and stores the profile when none is stored or the stored one is older than
    /// `profile_max_age_days`.
    ///
    /// # Errors
    /// What failed, prefixed `profile:`, for the item's error.
    async fn refresh_profile(
        &self,
        chain: &ProviderChain,
        storage: &storage::Storage,
        symbol: &Symbol,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        if self.config.profile_max_age_days == 0 {
            return Ok(());
        }
        let max_age = chrono::Duration::days(i64::from(self.config.profile_max_age_days));
        let fetched_at =
            storage.profile_fetched_at(symbol).await.map_err(|e| format!("profile: cannot read: {e}"))?;
        if fetched_at.is_some_and(|at| now - at < max_age) {
            return Ok(());
        }
        let served = match chain.profile(symbol).await {
            Ok(served) => served,
            Err(ChainError::NoProvider { .. }) => return Ok(()),
            Err(error) => return Err(format!("profile: {error}")),
        };
        storage.save_profile(&served.value).await.map_err(|e| format!("profile: cannot store: {e}"))
    }

    /// Plans the run within the providers' budgets: today's stored request counts first (another
    /// process may have spent some), then the symbols least recently refreshed first, so symbols
    /// deferred by one run lead the next.
    async fn plan(&self, context: &JobContext, symbols: &[Symbol]) -> RunPlan {
        sync_usage_or_warn(&self.chain, &context.storage).await;
        let mut by_staleness = Vec::with_capacity(symbols.len());
        for symbol in symbols {
            // An unreadable last bar sorts first: the refresh reports the error.
            let last = context.storage.last_bar_ts(symbol, self.config.interval).await.ok().flatten();
            by_staleness.push((last, symbol.clone()));
        }
        by_staleness.sort_by_key(|(last, _)| *last);
        let ordered: Vec<Symbol> = by_staleness.into_iter().map(|(_, symbol)| symbol).collect();
        // What a refresh asks besides bars and a quote. A profile is counted on every run though
        // it is fetched only when stale: the plan errs on the side of deferring.
        let mut extra = Vec::new();
        if self.config.news_days > 0 {
            extra.push(Capability::News);
        }
        if self.config.profile_max_age_days > 0 {
            extra.push(Capability::Profile);
        }
        let plan = plan_run(&ordered, &budgets(&self.chain, self.config.interval, &extra), PLAN_WINDOW);
        info!(plan = %plan.describe(), deferred = plan.deferred.len(), "Run planned within the providers' budgets.");
        plan
    }

    /// Applies the export retention; a failure is logged (it is retried after the next run).
    async fn apply_retention(&self) {
        match self.exports.apply_retention().await {
            Ok(removed) => info!(removed, "Retention applied."),
            Err(error) => {
                warn!(%error, "Retention failed; it is retried after the next run.")
            }
        }
    }

    /// The export's first trading day: `export_range` before the newest stored bar of `symbols`.
    async fn export_from(
        &self,
        context: &JobContext,
        symbols: &[Symbol],
    ) -> anyhow::Result<Option<NaiveDate>> {
        let mut newest: Option<NaiveDate> = None;
        for symbol in symbols {
            let last = context.storage.last_bar_ts(symbol, self.config.interval).await?;
            let last = last.map(|ts| Exchange::for_symbol(symbol).key_date(self.config.interval, ts));
            newest = newest.max(last);
        }
        Ok(newest.map(|newest| self.export_span.resolve(newest).from()))
    }
}

fn failed_item(symbol: &Symbol, error: String) -> RunItem {
    RunItem { symbol: symbol.to_string(), succeeded: false, bars: 0, provider: None, error: Some(error) }
}

#[async_trait]
impl Job for DownloadTracker {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Bars are upserted and each attempt writes its own export, so a retry repeats nothing twice.
    fn max_attempts(&self) -> u32 {
        3
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let symbols: Vec<Symbol> = context
            .storage
            .watchlist()
            .await
            .context("cannot read the watchlist")?
            .into_iter()
            .map(|e| e.symbol)
            .collect();
        let now = Utc::now();
        info!(symbols = symbols.len(), "Refreshing the watchlist.");
        let plan = self.plan(context, &symbols).await;
        let deferred = plan.deferred_message(symbols.len());
        if let Some(message) = &deferred {
            warn!(deferred = plan.deferred.len(), "{message}.");
        }
        let planned: Vec<(Symbol, ProviderChain)> = plan
            .assignments
            .iter()
            .flat_map(|a| a.symbols.iter().map(|s| (s.clone(), self.chain.starting_with(a.provider))))
            .collect();

        // Each symbol's future records its own item: awaiting a write in the loop below while
        // the stream is not polled could leave another symbol's SQLite write transaction
        // suspended, and the write here would wait for its lock until the busy timeout.
        let mut refreshed = futures::stream::iter(planned)
            .map(|(symbol, chain)| async move {
                // Cancelled (shutdown past the grace period): drop the in-flight vendor requests
                // now rather than wait for their responses.
                let refresh = self.refresh(context, &chain, symbol, now);
                let Some((item, quote_error)) = context.cancel.run_until_cancelled(refresh).await else {
                    return Ok(None);
                };
                sync_usage_or_warn(&self.chain, &context.storage).await;
                context
                    .record_item(&item)
                    .await
                    .with_context(|| format!("cannot record the result of {}", item.symbol))?;
                anyhow::Ok(Some((item, quote_error)))
            })
            .buffer_unordered(self.config.concurrency.max(1));
        let (mut n_ok, mut n_failed) = (0_usize, 0_usize);
        let mut quote_errors = Vec::new();
        while let Some(refreshed) = refreshed.next().await {
            match refreshed? {
                Some((item, quote_error)) if item.succeeded => {
                    n_ok += 1;
                    if let Some(error) = quote_error {
                        quote_errors.push(format!("{}: {error}", item.symbol));
                    }
                }
                Some(_) => n_failed += 1,
                None => {}
            }
        }
        drop(refreshed);
        anyhow::ensure!(!context.cancel.is_cancelled(), "cancelled before every symbol was refreshed");

        // New bars and quotes: the alert rules see them now, not at the monitor's next poll.
        match crate::AlertMonitor::new(context.storage.clone(), self.notifier.clone())
            .evaluate(Utc::now())
            .await
        {
            Ok(pass) => {
                for alert in &pass.alerts {
                    let output = domain::RunOutput::new(domain::OutputKind::Alert, alert.id);
                    context.attach(output).await.context("cannot list an alert among the run's outputs")?;
                }
            }
            Err(error) => warn!(%error, "Cannot evaluate the alert rules; the monitor's next pass will."),
        }

        if n_ok == 0 && n_failed > 0 {
            info!(failed = n_failed, "Every symbol failed; no export written.");
            self.apply_retention().await;
            return Ok(JobOutcome { partial: deferred, ..JobOutcome::default() });
        }

        let format = self.config.export_format;
        let watched: std::collections::HashSet<Symbol> = symbols.iter().cloned().collect();
        let notes = context.storage.latest_research_notes(&symbols).await;
        if let Err(error) = &notes {
            warn!(%error, "Cannot read the research notes; exporting without them.");
        }
        let report_notes = match (&notes, format) {
            (Ok(notes), ExportFormat::Html) => notes.iter().map(NoteSummary::from).collect(),
            _ => Vec::new(),
        };
        let request = ExportRequest {
            from: self.export_from(context, &symbols).await.context("cannot find the newest stored bar")?,
            to: None,
            symbols,
            interval: self.config.interval,
            format,
            notes: report_notes,
        };
        let created = self.exports.create_with_summaries(&request, Some(context.run_id)).await;
        let (record, summaries) = match created {
            Ok(created) => created,
            Err(error) => {
                return Ok(JobOutcome { error: Some(format!("export failed: {error}")), partial: None });
            }
        };
        // The export service lists every export it writes for a run among the run's outputs.
        let mut outcome = JobOutcome { partial: deferred, ..JobOutcome::default() };
        if n_ok > 0 && quote_errors.len() == n_ok {
            quote_errors.sort();
            let every_quote = format!("every quote failed: {}", quote_errors.join("; "));
            outcome.partial = Some(match outcome.partial.take() {
                Some(deferred) => format!("{deferred}; {every_quote}"),
                None => every_quote,
            });
        }
        if matches!(format, ExportFormat::Csv | ExportFormat::Ndjson | ExportFormat::Parquet)
            && let Err(error) = self.exports.create_summary(&summaries, Some(context.run_id)).await
        {
            outcome.error = Some(format!("summary export failed: {error}"));
        }
        if let Err(error) = self.export_mentions(context, &watched).await {
            outcome.error = Some(format!("mentions export failed: {error:#}"));
        }
        let notes_exported = match notes {
            Ok(notes) => self.export_notes(context, &notes).await,
            Err(error) => Err(anyhow::Error::new(error).context("cannot read the research notes")),
        };
        if let Err(error) = notes_exported {
            outcome.error = Some(format!("notes export failed: {error:#}"));
        }
        match self.exports.apply_retention().await {
            Ok(removed) => info!(removed, "Retention applied."),
            Err(error) => {
                warn!(%error, "Retention failed; it is retried after the next run.")
            }
        }
        info!(ok = n_ok, failed = n_failed, export_id = record.id, "Watchlist refreshed.");
        Ok(outcome)
    }
}

//! The stock monitor: [`AlertMonitor`] evaluates every alert rule over the stored bars and the
//! latest quotes and stores what fires; [`MonitorJob`] (the `monitor` job) polls quotes for the
//! symbols the rules watch while their exchange is in session, then evaluates.
//!
//! Why the split: the download-tracker evaluates the rules right after each refresh (new daily
//! bars), and the `monitor` job on its own schedule between refreshes (quotes). Both share one
//! evaluator, the provider chain (and with it the HTTP pools and rate limits) and the rule
//! state stored in the database, so a rule never fires twice for one crossing whichever path
//! saw it first. The job runs in its own lane: it never waits behind an analysis.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use domain::{Exchange, Interval, OutputKind, Quote, RunOutput, Symbol};
use monitor::{Condition, DailyBar, Observation, Reading, RuleState, evaluate, evaluate_daily};
use notify::{DeliveryAttempt, DeliveryStatus, Notifier, Target};
use providers::ProviderChain;
use storage::{
    Alert, AlertDelivery, AlertRule, BarQuery, RunItem, Storage, StorageError, Stored, TrendingRow,
};
use tracing::{info, warn};

use crate::engine::{Job, JobContext, JobOutcome};

/// Daily history read per symbol: a 52-week window plus the longest average a rule may use.
const HISTORY_DAYS: i64 = 600;

/// What one evaluation pass did.
#[derive(Debug, Default)]
pub struct MonitorPass {
    /// Rules evaluated (paused ones are skipped).
    pub rules: usize,
    /// (rule, symbol) pairs evaluated.
    pub evaluations: usize,
    /// Alerts stored by this pass.
    pub alerts: Vec<Stored<Alert>>,
}

/// Evaluates the stored alert rules and delivers what fires; cheap to clone.
#[derive(Clone)]
pub struct AlertMonitor {
    storage: Storage,
    /// Delivers to the rules' targets (webhooks, e-mail); without one, alerts are only stored
    /// (and shown by the API).
    notifier: Option<Arc<Notifier>>,
}

impl AlertMonitor {
    pub fn new(storage: Storage, notifier: Option<Arc<Notifier>>) -> Self {
        Self { storage, notifier }
    }

    /// The symbols the active rules watch: their own, or the watchlist's for watchlist rules.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn watched_symbols(&self) -> Result<BTreeSet<Symbol>, StorageError> {
        Ok(self.active_rules().await?.into_iter().flat_map(|(_, symbols)| symbols).collect())
    }

    /// Every rule that is not paused, with the symbols it watches: its own, or the watchlist's.
    async fn active_rules(&self) -> Result<Vec<(Stored<AlertRule>, Vec<Symbol>)>, StorageError> {
        let rules: Vec<Stored<AlertRule>> =
            self.storage.alert_rules().await?.into_iter().filter(|r| !r.rule.paused).collect();
        let watchlist: Vec<Symbol> = if rules.iter().any(|r| r.symbol.is_none()) {
            self.storage.watchlist().await?.into_iter().map(|e| e.symbol).collect()
        } else {
            Vec::new()
        };
        Ok(rules
            .into_iter()
            .map(|rule| {
                let symbols = rule.symbol.clone().map_or_else(|| watchlist.clone(), |symbol| vec![symbol]);
                (rule, symbols)
            })
            .collect())
    }

    /// Evaluates every active rule for each symbol it watches, over the stored daily bars and
    /// the latest stored quote, and stores the alerts that fire with the rule's new state.
    ///
    /// # Errors
    /// When the database fails; alerts stored before the failure stay stored.
    pub async fn evaluate(&self, now: DateTime<Utc>) -> Result<MonitorPass, StorageError> {
        let rules = self.active_rules().await?;
        let social = if rules.iter().any(|(r, _)| social_driven(&r.rule.condition)) {
            SocialSignals::read(&self.storage, now).await?
        } else {
            SocialSignals::default()
        };
        // Each symbol's bars and latest quote are read once per pass, however many rules watch it,
        // and every rule state in one query.
        let mut series = SeriesCache::default();
        let mut quotes = QuoteCache::default();
        let mut states = self.storage.rule_states().await?;
        let mut pass = MonitorPass::default();
        for (rule, symbols) in &rules {
            pass.rules += 1;
            for symbol in symbols {
                pass.evaluations += 1;
                let state = states.remove(&(rule.id, symbol.clone()));
                let caches = (&mut series, &mut quotes);
                let fired = self.evaluate_one(rule, symbol, state, now, &social, caches).await?;
                self.deliver(rule, &fired).await;
                pass.alerts.extend(fired);
            }
        }
        if !pass.alerts.is_empty() {
            info!(alerts = pass.alerts.len(), rules = pass.rules, "Alert rules fired.");
        }
        Ok(pass)
    }

    async fn evaluate_one(
        &self,
        rule: &Stored<AlertRule>,
        symbol: &Symbol,
        state: Option<RuleState>,
        now: DateTime<Utc>,
        social: &SocialSignals,
        (series, quotes): (&mut SeriesCache, &mut QuoteCache),
    ) -> Result<Vec<Stored<Alert>>, StorageError> {
        let exchange = Exchange::for_symbol(symbol);
        let mut state = state.unwrap_or_else(|| RuleState::armed(exchange.today(now)));
        let before = state.clone();
        let series = series.get_or_load(&self.storage, symbol, now).await?;
        let (bars, providers, last_is_partial) = (&series.bars, &series.providers, series.last_is_partial);
        let mut fired: Vec<(Reading, Option<String>)> =
            evaluate_daily(&rule.rule, &mut state, bars, last_is_partial, now)
                .into_iter()
                .map(|reading| {
                    let provider =
                        bars.iter().position(|b| b.date == reading.day).map(|i| providers[i].clone());
                    (reading, provider)
                })
                .collect();
        if quote_driven(&rule.rule.condition)
            && let Some(quote) = quotes.get_or_load(&self.storage, symbol).await?
            && let Some(reading) = evaluate(&rule.rule, &mut state, &quote_observation(&quote, exchange))
        {
            fired.push((reading, Some(quote.provider.to_string())));
        }
        let day = exchange.today(now);
        let observation = match rule.rule.condition {
            Condition::MentionSpike { .. } => social
                .current
                .get(symbol)
                .map(|row| (Observation::Mentions { spike_score: row.spike_score, day, at: now }, "reddit")),
            Condition::SentimentShift { .. } => {
                social.current.get(symbol).zip(social.previous.get(symbol)).map(|(current, previous)| {
                    let observation = Observation::Sentiment {
                        previous: previous.mean_sentiment,
                        current: current.mean_sentiment,
                        day,
                        at: now,
                    };
                    (observation, "reddit")
                })
            }
            // A pair of notes is offered once: when its newest note came after the rule was
            // armed and after the rule's last firing.
            Condition::RatingChange => match self.storage.research_notes(Some(symbol), 2).await?.as_slice() {
                [latest, before]
                    if exchange.session_date(latest.created_at) >= state.armed_on
                        && state.last_fired_at.is_none_or(|fired| latest.created_at > fired) =>
                {
                    Some((
                        Observation::Rating {
                            previous: before.rating,
                            current: latest.rating,
                            day: exchange.session_date(latest.created_at),
                            at: latest.created_at,
                        },
                        "crew",
                    ))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((observation, source)) = observation
            && let Some(reading) = evaluate(&rule.rule, &mut state, &observation)
        {
            fired.push((reading, Some(source.to_owned())));
        }
        if fired.is_empty() && state == before {
            return Ok(Vec::new());
        }
        let alerts: Vec<Alert> = fired
            .into_iter()
            .map(|(reading, provider)| Alert {
                rule_id: Some(rule.id),
                symbol: symbol.clone(),
                kind: condition_kind(&rule.rule.condition),
                rule: rule.name.clone().unwrap_or_else(|| rule.rule.condition.describe()),
                fired_at: reading.at,
                day: reading.day,
                observed: reading.value,
                threshold: reading.threshold,
                previous: reading.previous,
                provider,
                acknowledged_at: None,
            })
            .collect();
        self.storage.record_rule_evaluation(rule.id, symbol, &state, &alerts).await
    }
}

impl AlertMonitor {
    /// Delivers each new alert to each of its rule's targets and records every attempt. A
    /// failed delivery (target down, refused by the address policy, a malformed target) is
    /// recorded and logged; it never stops the monitor.
    async fn deliver(&self, rule: &Stored<AlertRule>, alerts: &[Stored<Alert>]) {
        let Some(notifier) = &self.notifier else { return };
        for alert in alerts {
            let message = notify::Alert {
                id: alert.id,
                symbol: alert.symbol.to_string(),
                rule: alert.rule.clone(),
                kind: alert.kind.clone(),
                value: alert.observed,
                threshold: alert.threshold,
                previous: alert.previous,
                price: None,
                provider: alert.provider.clone(),
                fired_at: alert.fired_at,
            };
            for target in &rule.targets {
                let (shown, attempt) = match serde_json::from_value::<Target>(target.clone()) {
                    Ok(target) => (target.to_string(), notifier.deliver(&message, &target).await),
                    Err(error) => (
                        "(invalid target)".to_owned(),
                        DeliveryAttempt {
                            status: DeliveryStatus::Failed,
                            attempts: 0,
                            latency_ms: 0,
                            http_status: None,
                            error: Some(format!("invalid target: {error}")),
                        },
                    ),
                };
                if let Some(error) = &attempt.error {
                    warn!(alert_id = alert.id, target = %shown, error, "Alert delivery failed.");
                }
                let delivery = AlertDelivery {
                    alert_id: alert.id,
                    target: shown,
                    delivered: attempt.status == DeliveryStatus::Delivered,
                    attempts: attempt.attempts,
                    latency_ms: attempt.latency_ms,
                    http_status: attempt.http_status,
                    error: attempt.error,
                    attempted_at: chrono::Utc::now(),
                };
                if let Err(error) = self.storage.record_alert_delivery(&delivery).await {
                    warn!(alert_id = alert.id, %error, "Cannot record an alert delivery.");
                }
            }
        }
    }
}

/// A symbol's recent daily bars as the rules read them.
struct DailySeries {
    bars: Vec<DailyBar>,
    /// The provider of each bar.
    providers: Vec<String>,
    last_is_partial: bool,
}

/// The daily series read so far in one pass.
#[derive(Default)]
struct SeriesCache(std::collections::HashMap<Symbol, Arc<DailySeries>>);

impl SeriesCache {
    async fn get_or_load(
        &mut self,
        storage: &Storage,
        symbol: &Symbol,
        now: DateTime<Utc>,
    ) -> Result<Arc<DailySeries>, StorageError> {
        if let Some(series) = self.0.get(symbol) {
            return Ok(Arc::clone(series));
        }
        let query = BarQuery {
            symbol: symbol.clone(),
            interval: Interval::Day1,
            from: Some(now - Duration::days(HISTORY_DAYS)),
            to: Some(now),
            provider: None,
            limit: None,
        };
        // The read path of the HTTP API: SQLite's read-only connections, rows visited in place.
        let empty = DailySeries { bars: Vec::new(), providers: Vec::new(), last_is_partial: false };
        let series = storage
            .visit_bars(&query, empty, |series, row| {
                if let (Some(open), Some(high), Some(low), Some(close)) =
                    (row.open, row.high, row.low, row.close)
                {
                    let date = row.ts.date_naive();
                    series.bars.push(DailyBar { date, open, high, low, close, volume: row.volume });
                    series.providers.push(row.provider.to_string());
                }
                series.last_is_partial = row.partial;
                std::ops::ControlFlow::Continue(())
            })
            .await?;
        let series = Arc::new(series);
        self.0.insert(symbol.clone(), Arc::clone(&series));
        Ok(series)
    }
}

/// The latest stored quote of each symbol read so far in one pass: every quote-driven rule of a
/// symbol compares the same quote.
#[derive(Default)]
struct QuoteCache(std::collections::HashMap<Symbol, Option<Quote>>);

impl QuoteCache {
    async fn get_or_load(
        &mut self,
        storage: &Storage,
        symbol: &Symbol,
    ) -> Result<Option<Quote>, StorageError> {
        if let Some(quote) = self.0.get(symbol) {
            return Ok(quote.clone());
        }
        let quote = storage.latest_quote(symbol).await?;
        self.0.insert(symbol.clone(), quote.clone());
        Ok(quote)
    }
}

/// Conditions decided by Reddit scans rather than prices.
fn social_driven(condition: &Condition) -> bool {
    matches!(condition, Condition::MentionSpike { .. } | Condition::SentimentShift { .. })
}

/// Mentions per symbol over the last day and the day before, read once per pass.
#[derive(Default)]
struct SocialSignals {
    current: std::collections::HashMap<Symbol, TrendingRow>,
    previous: std::collections::HashMap<Symbol, TrendingRow>,
}

impl SocialSignals {
    async fn read(storage: &Storage, now: DateTime<Utc>) -> Result<Self, StorageError> {
        let day_ago = now - Duration::hours(24);
        let by_symbol =
            |rows: Vec<TrendingRow>| rows.into_iter().map(|row| (row.symbol.clone(), row)).collect();
        Ok(Self {
            current: by_symbol(storage.trending(day_ago, now, None).await?),
            previous: by_symbol(storage.trending(day_ago - Duration::hours(24), day_ago, None).await?),
        })
    }
}

/// Conditions a single quote can decide (a level, a change from the previous close).
fn quote_driven(condition: &Condition) -> bool {
    matches!(condition, Condition::Price { .. } | Condition::ChangePercent { days: 0, .. })
}

fn quote_observation(quote: &Quote, exchange: &Exchange) -> Observation<'static> {
    Observation::Quote {
        price: quote.price,
        previous_close: quote.previous_close,
        day: exchange.session_date(quote.ts),
        at: quote.ts,
    }
}

/// The condition's `kind` as the API spells it (`price`, `cross`, …).
fn condition_kind(condition: &Condition) -> String {
    serde_json::to_value(condition)
        .ok()
        .and_then(|value| value.get("kind").and_then(|kind| kind.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// The instant the monitor takes as "now". The service uses the system clock; a scripted
/// session (a holiday, a half day, a weekend) needs another, without waiting for one.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The `monitor` job: polls quotes for the watched symbols whose exchange is in its regular
/// session, then evaluates every rule. Schedule it (e.g. every five minutes on weekdays); the
/// download-tracker also evaluates after each refresh.
pub struct MonitorJob {
    chain: ProviderChain,
    notifier: Option<Arc<Notifier>>,
    clock: Clock,
}

impl MonitorJob {
    pub const NAME: &'static str = "monitor";

    /// The job over the shared provider chain and notifier (no client of its own).
    pub fn new(chain: ProviderChain, notifier: Option<Arc<Notifier>>) -> Self {
        Self { chain, notifier, clock: Arc::new(Utc::now) }
    }

    /// The same job on another clock: which sessions are open, and the evaluation instant,
    /// come from it.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

#[async_trait]
impl Job for MonitorJob {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Rule state is stored per evaluation, so an alert that fired is not fired again by a retry.
    fn max_attempts(&self) -> u32 {
        3
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let monitor = AlertMonitor::new(context.storage.clone(), self.notifier.clone());
        let now = (self.clock)();
        let symbols = monitor.watched_symbols().await.context("cannot read the alert rules")?;
        let mut polled = 0_usize;
        let mut failed = 0_usize;
        let mut closed = 0_usize;
        // Only symbols whose exchange is in session: weekends, holidays and early closes (the
        // bundled NYSE/Nasdaq calendar) cost no vendor requests.
        let mut in_session = |symbol: &&Symbol| {
            let exchange = Exchange::for_symbol(symbol);
            let open = exchange.is_open(now, exchange.bundled_holidays());
            closed += usize::from(!open);
            open
        };
        for symbol in symbols.iter().filter(&mut in_session) {
            // Cancelled past the shutdown grace: drop the vendor request at once.
            let Some(quote) = context.cancel.run_until_cancelled(self.chain.quote(symbol)).await else {
                anyhow::bail!("cancelled while polling quotes");
            };
            let (succeeded, provider, error) = match quote {
                Ok(served) => match context.storage.save_quote(&served.value).await {
                    Ok(()) => (true, Some(served.value.provider.to_string()), None),
                    Err(error) => (false, None, Some(format!("cannot store the quote: {error}"))),
                },
                Err(error) => (false, None, Some(error.to_string())),
            };
            polled += 1;
            failed += usize::from(!succeeded);
            if let Some(error) = &error {
                warn!(%symbol, error, "Quote poll failed; the rules keep their state.");
            }
            let item = RunItem { symbol: symbol.to_string(), succeeded, bars: 0, provider, error };
            context.record_item(&item).await.context("cannot record a poll")?;
        }
        if polled > 0 {
            // The polls spent request budget: store it (daily budgets survive restarts).
            crate::provider_usage::sync_usage_or_warn(&self.chain, &context.storage).await;
        }
        let pass = monitor.evaluate(now).await.context("cannot evaluate the alert rules")?;
        for alert in &pass.alerts {
            context
                .attach(RunOutput::new(OutputKind::Alert, alert.id))
                .await
                .context("cannot list an alert")?;
        }
        info!(
            polled,
            failed,
            closed,
            rules = pass.rules,
            alerts = pass.alerts.len(),
            "Monitor pass finished (closed: symbols whose exchange is not in session)."
        );
        Ok(JobOutcome::default())
    }
}

//! Planning a download-tracker run within the providers' budgets, as a pure function.
//!
//! Why plan at all: the chain alone would spend Alpha Vantage's 25 daily requests on the first
//! symbols and then fail the rest one by one (each failure itself a request), and a provider
//! limited to 5 requests a minute would make a long watchlist take an hour. The plan decides up
//! front, from each provider's estimated cost per symbol and what is left of its budgets:
//!
//! 1. each symbol goes to the first provider in `providers.order` that can serve it and has room
//!    within its daily budget *and* within what its per-minute rate allows in [`PLAN_WINDOW`];
//! 2. symbols left over go to the first provider with daily budget left, per-minute rate
//!    regardless (the run is slower, not impossible);
//! 3. what still has no provider is **deferred**: not fetched, reported by name, and not a
//!    failure. The caller orders symbols least recently refreshed first, so deferred symbols
//!    come first in the next run.
//!
//! When no provider can serve at all (none has its key), there is no budget to plan: every
//! symbol goes to the first provider, so the chain's errors say what is missing instead of a
//! deferral hiding a configuration mistake.
//!
//! The plan is an estimate: the chain still falls back when an assigned provider fails, and the
//! HTTP client still refuses a request past a daily budget.

use std::time::Duration;

use domain::{Interval, ProviderId, Symbol};
use providers::{Capability, ProviderChain};

/// How long a run may lean on a per-minute-limited provider before symbols are spread to the
/// next one: Polygon's free 5 a minute serve 12 symbols (2 requests each) in it.
pub const PLAN_WINDOW: Duration = Duration::from_secs(5 * 60);

/// What the plan knows of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderBudget {
    pub provider: ProviderId,
    /// Configured (has its key) and offers what a refresh asks for.
    pub serves: bool,
    /// Estimated requests to refresh one symbol (bars and quote).
    pub requests_per_symbol: u32,
    /// Requests left today; `None` without a daily budget.
    pub daily_left: Option<u64>,
    /// The provider's per-minute rate; `None` without one.
    pub per_minute: Option<u32>,
}

impl ProviderBudget {
    /// Symbols this provider can take within its daily budget (`None`: no limit).
    fn daily_capacity(&self) -> Option<u64> {
        if !self.serves || self.requests_per_symbol == 0 {
            return Some(0);
        }
        self.daily_left.map(|left| left / u64::from(self.requests_per_symbol))
    }

    /// Symbols it can take within the daily budget and its per-minute rate over `window`.
    fn window_capacity(&self, window: Duration) -> Option<u64> {
        let by_rate = self.per_minute.map(|per_minute| {
            let requests = u64::from(per_minute) * window.as_secs() / 60;
            requests / u64::from(self.requests_per_symbol.max(1))
        });
        match (self.daily_capacity(), by_rate) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Symbols given to one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub provider: ProviderId,
    pub symbols: Vec<Symbol>,
    /// Estimated requests for them.
    pub requests: u64,
}

/// A run's plan: who refreshes which symbol, and which symbols wait for the next run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunPlan {
    /// In preference order; providers without symbols are left out.
    pub assignments: Vec<Assignment>,
    /// Symbols no provider has budget for today, in the order given.
    pub deferred: Vec<Symbol>,
}

impl RunPlan {
    /// The provider a symbol was given to.
    pub fn provider_for(&self, symbol: &Symbol) -> Option<ProviderId> {
        self.assignments.iter().find(|a| a.symbols.contains(symbol)).map(|a| a.provider)
    }

    /// One line for logs and the run result, e.g. `alpha_vantage 5 symbols (5 requests),
    /// yahoo 25 symbols (50 requests)`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .assignments
            .iter()
            .map(|a| format!("{} {} symbols ({} requests)", a.provider, a.symbols.len(), a.requests))
            .collect();
        if parts.is_empty() { "nothing to refresh".to_owned() } else { parts.join(", ") }
    }

    /// Why symbols are deferred and which, or `None` when the whole watchlist fits this run.
    pub fn deferred_message(&self, total: usize) -> Option<String> {
        if self.deferred.is_empty() {
            return None;
        }
        let names: Vec<&str> = self.deferred.iter().map(Symbol::as_str).collect();
        Some(format!(
            "the watchlist cannot be refreshed in one run: no configured provider has daily budget left \
             for {} of {total} symbols, deferred to a later run ({})",
            self.deferred.len(),
            names.join(", ")
        ))
    }
}

/// What each provider of `chain` (in its order) has left, and what refreshing one symbol costs
/// it: its `interval` bars, a quote, and each of `extra` (news, profile) it serves.
pub fn budgets(chain: &ProviderChain, interval: Interval, extra: &[Capability]) -> Vec<ProviderBudget> {
    let bars = if interval.is_intraday() { Capability::IntradayBars } else { Capability::DailyBars };
    chain
        .status()
        .into_iter()
        .filter(|status| status.in_chain)
        .filter_map(|status| {
            let provider = chain.provider(status.provider)?;
            let usage = status.usage;
            Some(ProviderBudget {
                provider: status.provider,
                serves: status.configured && provider.capabilities().supports(bars),
                requests_per_symbol: provider.estimated_requests(bars)
                    + provider.estimated_requests(Capability::Quote)
                    + extra.iter().map(|c| provider.estimated_requests(*c)).sum::<u32>(),
                daily_left: usage.as_ref().and_then(|u| u.daily_left),
                per_minute: usage.as_ref().and_then(|u| u.per_minute),
            })
        })
        .collect()
}

/// Plans a run of `symbols` (most in need of a refresh first) over `providers` (in preference
/// order). See the module docs for the rules.
pub fn plan_run(symbols: &[Symbol], providers: &[ProviderBudget], window: Duration) -> RunPlan {
    if let Some(first) = providers.first()
        && !providers.iter().any(|p| p.serves)
    {
        let assignments = if symbols.is_empty() {
            Vec::new()
        } else {
            vec![Assignment { provider: first.provider, symbols: symbols.to_vec(), requests: 0 }]
        };
        return RunPlan { assignments, deferred: Vec::new() };
    }
    let mut taken = vec![0_u64; providers.len()];
    let mut chosen: Vec<Option<usize>> = vec![None; symbols.len()];
    let has_room = |capacity: Option<u64>, taken: u64| capacity.is_none_or(|c| taken < c);
    for pass in [Pass::WithinWindow, Pass::WithinDay] {
        for slot in chosen.iter_mut().filter(|slot| slot.is_none()) {
            let found = providers.iter().enumerate().find(|(index, budget)| {
                let capacity = match pass {
                    Pass::WithinWindow => budget.window_capacity(window),
                    Pass::WithinDay => budget.daily_capacity(),
                };
                has_room(capacity, taken[*index])
            });
            if let Some((index, _)) = found {
                taken[index] += 1;
                *slot = Some(index);
            }
        }
    }
    let mut plan = RunPlan::default();
    for (index, budget) in providers.iter().enumerate() {
        let assigned: Vec<Symbol> = symbols
            .iter()
            .zip(&chosen)
            .filter(|(_, slot)| **slot == Some(index))
            .map(|(symbol, _)| symbol.clone())
            .collect();
        if !assigned.is_empty() {
            let requests = assigned.len() as u64 * u64::from(budget.requests_per_symbol);
            plan.assignments.push(Assignment { provider: budget.provider, symbols: assigned, requests });
        }
    }
    plan.deferred =
        symbols.iter().zip(&chosen).filter(|(_, slot)| slot.is_none()).map(|(s, _)| s.clone()).collect();
    plan
}

#[derive(Clone, Copy)]
enum Pass {
    WithinWindow,
    WithinDay,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(n: usize) -> Vec<Symbol> {
        (0..n).map(|i| Symbol::parse(&format!("S{i}")).unwrap()).collect()
    }

    fn alpha_vantage(used: u64) -> ProviderBudget {
        ProviderBudget {
            provider: ProviderId::AlphaVantage,
            serves: true,
            requests_per_symbol: 1,
            daily_left: Some(25 - used),
            per_minute: Some(5),
        }
    }

    fn unlimited(provider: ProviderId) -> ProviderBudget {
        ProviderBudget { provider, serves: true, requests_per_symbol: 1, daily_left: None, per_minute: None }
    }

    fn count(plan: &RunPlan, provider: ProviderId) -> usize {
        plan.assignments.iter().find(|a| a.provider == provider).map_or(0, |a| a.symbols.len())
    }

    #[test]
    fn alpha_vantage_takes_what_its_day_has_left_and_the_rest_goes_to_the_next() {
        let watchlist = symbols(30);
        let plan = plan_run(&watchlist, &[alpha_vantage(20), unlimited(ProviderId::Yahoo)], PLAN_WINDOW);
        assert_eq!(count(&plan, ProviderId::AlphaVantage), 5);
        assert_eq!(count(&plan, ProviderId::Yahoo), 25);
        assert!(plan.deferred.is_empty());
        assert_eq!(plan.deferred_message(30), None);
        // Preference order: the first symbols (least recently refreshed) go to the first provider.
        assert_eq!(plan.provider_for(&watchlist[0]), Some(ProviderId::AlphaVantage));
        assert_eq!(plan.provider_for(&watchlist[29]), Some(ProviderId::Yahoo));
        assert_eq!(plan.describe(), "alpha_vantage 5 symbols (5 requests), yahoo 25 symbols (25 requests)");
    }

    #[test]
    fn only_alpha_vantage_refreshes_five_and_defers_the_rest_by_name() {
        let watchlist = symbols(30);
        let plan = plan_run(&watchlist, &[alpha_vantage(20)], PLAN_WINDOW);
        assert_eq!(count(&plan, ProviderId::AlphaVantage), 5);
        assert_eq!(plan.deferred, watchlist[5..].to_vec());
        let message = plan.deferred_message(30).expect("said up front");
        assert!(message.contains("for 25 of 30 symbols, deferred"), "{message}");
        assert!(message.contains("S5, S6") && message.ends_with("S29)"), "{message}");
    }

    #[test]
    fn a_spent_or_unconfigured_provider_gets_nothing() {
        let watchlist = symbols(3);
        let unconfigured = ProviderBudget { serves: false, ..unlimited(ProviderId::Polygon) };
        let plan = plan_run(&watchlist, &[alpha_vantage(25), unconfigured], PLAN_WINDOW);
        assert!(plan.assignments.is_empty());
        assert_eq!(plan.deferred, watchlist);
        assert_eq!(plan.describe(), "nothing to refresh");
    }

    #[test]
    fn without_any_configured_provider_nothing_is_deferred_and_the_chain_says_why() {
        let watchlist = symbols(3);
        let unconfigured = ProviderBudget { serves: false, ..unlimited(ProviderId::Polygon) };
        let plan = plan_run(&watchlist, &[unconfigured], PLAN_WINDOW);
        assert!(plan.deferred.is_empty());
        assert_eq!(plan.provider_for(&watchlist[2]), Some(ProviderId::Polygon));
        let no_provider = plan_run(&watchlist, &[], PLAN_WINDOW);
        assert_eq!(no_provider.deferred, watchlist, "never dropped silently");
    }

    #[test]
    fn a_per_minute_limit_spreads_symbols_but_never_defers_them() {
        // Polygon's 5 a minute over 5 minutes at 2 requests a symbol: 12 symbols, then Finnhub.
        let polygon = ProviderBudget {
            provider: ProviderId::Polygon,
            serves: true,
            requests_per_symbol: 2,
            daily_left: None,
            per_minute: Some(5),
        };
        let finnhub =
            ProviderBudget { provider: ProviderId::Finnhub, per_minute: Some(60), ..polygon.clone() };
        let watchlist = symbols(200);
        let plan = plan_run(&watchlist, &[polygon.clone(), finnhub], PLAN_WINDOW);
        assert_eq!(count(&plan, ProviderId::Finnhub), 150, "60 a minute, 5 minutes, 2 requests each");
        // Past every window, the other 38 go to the first provider with daily budget left.
        assert_eq!(count(&plan, ProviderId::Polygon), 12 + 38);
        assert!(plan.deferred.is_empty());
        let alone = plan_run(&watchlist, &[polygon], PLAN_WINDOW);
        assert_eq!(count(&alone, ProviderId::Polygon), 200, "slower, not deferred");
    }

    #[test]
    fn costs_per_symbol_divide_the_daily_budget() {
        let two_each = ProviderBudget { requests_per_symbol: 2, ..alpha_vantage(0) };
        let plan = plan_run(&symbols(30), &[two_each], Duration::from_secs(24 * 3600));
        assert_eq!(count(&plan, ProviderId::AlphaVantage), 12);
        assert_eq!(plan.assignments[0].requests, 24);
        assert_eq!(plan.deferred.len(), 18);
    }
}

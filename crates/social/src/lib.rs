//! The social half of tickerwatch: which tickers people talk about on Reddit and how they feel.
//!
//! Modules: `extract` (ticker mentions from cashtags, bare symbols validated against a
//! universe, and company-name aliases), `sentiment` (a VADER-style lexicon scorer extended with
//! market slang and emoji), `reddit` (the HTTP client: OAuth, listings, paging, rate limits).

pub mod extract;
pub mod reddit;
pub mod sentiment;

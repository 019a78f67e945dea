//! The social half of tickerwatch: which tickers people talk about on Reddit and how they feel.
//!
//! Modules: `extract` (ticker mentions from cashtags, symbols in any case validated against the
//! universe of US-listed stocks and ETFs and judged by their context, and company-name aliases), `sentiment` (a learned linear model over words and
//! financial cues; the old VADER-style scorer kept as `sentiment::vader_baseline`), `reddit` (the
//! HTTP client: OAuth, listings, paging, rate limits), `scanner` (scan a set of
//! subreddits from Reddit or the bundled sample, score and extract: [`scan_and_extract`]),
//! `subreddit` (which names are subreddit names: [`parse_subreddit`]).

pub mod analyze;
pub mod extract;
pub mod reddit;
pub mod scanner;
pub mod sentiment;
pub mod subreddit;

pub use analyze::{TextAnalysis, TextMention, analyze_text};
pub use scanner::{
    CoverageStatus, SampleSource, ScanOutcome, ScannedPost, SocialSource, SubredditCoverage,
    scan_and_extract, scan_and_extract_with_comments,
};
pub use subreddit::{InvalidSubreddit, parse_subreddit};

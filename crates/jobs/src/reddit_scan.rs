//! The reddit-scan job: reads the configured subreddits, stores posts and ticker mentions, and
//! records what the scan covered.
//!
//! Decisions, and why:
//! - **The source is built once**, when the job is constructed: a [`RedditClient`] owns its
//!   connection pool and rate limiter, so every run reuses them (one owner, one bound), like the
//!   download-tracker's provider chain. The offline `sample` source needs nothing.
//! - **The universe** is the one stored by `tickerwatch universe update` when there is one (read
//!   again when it changes, see [`crate::universe::CurrentUniverse`]), else the one given to
//!   [`RedditScan::new`] (normally `SymbolUniverse::bundled()`); plus the config's
//!   `extra_symbols` and the watchlist (read at every run, since it changes).
//! - **Coverage is the truth about a scan.** Each subreddit becomes one run item (`r/<name>`,
//!   posts read as `bars`, the source as `provider`); a blocked subreddit is a failed item whose
//!   error starts with `blocked:`, so a blocked scan shows as `partial`/`failed`, never as a
//!   successful scan with 0 mentions. The same coverage is stored in `social_scans` (status
//!   `complete`, `blocked` if any subreddit was blocked, else `failed`).
//! - **Posts read before a failure are kept** and stored; storing is idempotent, so the next scan
//!   re-reading them changes nothing.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;

use crate::universe::CurrentUniverse;
use domain::{OutputKind, PostSource, RunOutput, SocialPost, SocialScan, Symbol};
use serde::{Deserialize, Serialize};
use social::extract::SymbolUniverse;
use social::reddit::{RedditClient, RedditConfig, RedditError};
use social::{CoverageStatus, SampleSource, ScanOutcome, SocialSource, scan_and_extract_with_comments};
use storage::RunItem;
use tracing::{info, warn};

use crate::config::ConfigError;
use crate::engine::{Job, JobContext, JobOutcome};

/// The social scan settings (the reddit-scan job's section).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialConfig {
    /// Cron expression with seconds, in UTC (e.g. `"0 */30 * * * *"`); none means trigger-only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    pub source: PostSource,
    /// Subreddit names without `r/`.
    pub subreddits: Vec<String>,
    /// Newest posts read per subreddit and scan.
    pub limit_per_subreddit: usize,
    /// Also read the comments of this many most-commented threads per subreddit (Reddit only;
    /// 0 = posts only). Each thread costs one more request against the rate limit.
    pub comment_threads: usize,
    /// Symbols added to the bundled universe (besides the watchlist).
    pub extra_symbols: Vec<String>,
    /// The Reddit client; required when `source = "reddit"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reddit: Option<RedditConfig>,
}

impl Default for SocialConfig {
    fn default() -> Self {
        Self {
            schedule: None,
            source: PostSource::Sample,
            subreddits: ["wallstreetbets", "stocks", "investing"].map(str::to_owned).to_vec(),
            limit_per_subreddit: 100,
            comment_threads: 0,
            extra_symbols: Vec::new(),
            reddit: None,
        }
    }
}

impl SocialConfig {
    /// The largest accepted `limit_per_subreddit` (Reddit listings stop at about 1000 posts).
    pub const MAX_LIMIT: usize = 1000;
    /// Largest `comment_threads`.
    pub const MAX_COMMENT_THREADS: usize = 25;

    /// `(job name, cron expression)` when a schedule is set, as `JobEngine::start` takes it.
    pub fn schedule_entry(&self) -> Option<(String, String)> {
        self.schedule.as_ref().map(|s| (RedditScan::NAME.to_owned(), s.clone()))
    }

    /// Checks what serde cannot (the cron expression is checked by `JobEngine::start`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad key (relative to the social section).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.subreddits.is_empty() {
            return Err(ConfigError::new("social.subreddits", "at least one subreddit is needed"));
        }
        if let Some(error) = self.subreddits.iter().find_map(|s| social::parse_subreddit(s).err()) {
            return Err(ConfigError::new("social.subreddits", error.to_string()));
        }
        if !(1..=Self::MAX_LIMIT).contains(&self.limit_per_subreddit) {
            return Err(ConfigError::new(
                "social.limit_per_subreddit",
                format!("must be between 1 and {}, got {}", Self::MAX_LIMIT, self.limit_per_subreddit),
            ));
        }
        if self.comment_threads > Self::MAX_COMMENT_THREADS {
            return Err(ConfigError::new(
                "social.comment_threads",
                format!("must be at most {}, got {}", Self::MAX_COMMENT_THREADS, self.comment_threads),
            ));
        }
        if let Some(error) = self.extra_symbols.iter().find_map(|s| Symbol::parse(s).err()) {
            return Err(ConfigError::new("social.extra_symbols", error.to_string()));
        }
        if self.source == PostSource::Reddit && self.reddit.is_none() {
            return Err(ConfigError::new(
                "social.reddit",
                "required when source = \"reddit\" (at least user_agent = \"platform:app:version (by /u/name)\")",
            ));
        }
        if let Some(reddit) = &self.reddit {
            reddit.validate().map_err(|message| ConfigError::new("social.reddit", message))?;
        }
        Ok(())
    }
}

/// Why the reddit-scan job could not be built.
#[derive(Debug, thiserror::Error)]
pub enum RedditScanError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot build the Reddit client: {0}")]
    Reddit(#[from] RedditError),
}

/// Scans the configured subreddits and stores posts, mentions and coverage.
pub struct RedditScan {
    source: SocialSource,
    config: SocialConfig,
    /// The universe stored by `tickerwatch universe update`, when there is one.
    current: CurrentUniverse,
}

impl std::fmt::Debug for RedditScan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedditScan").field("source", &self.source.kind()).finish_non_exhaustive()
    }
}

impl RedditScan {
    /// The job's name in URLs, config and run records.
    pub const NAME: &'static str = "reddit-scan";

    /// Builds the job and its source (the Reddit client and its pool, once). `universe` is the
    /// base symbol universe, normally `SymbolUniverse::bundled()`; `extra_symbols` are added
    /// here and the watchlist at every run.
    ///
    /// # Errors
    /// A bad setting ([`SocialConfig::validate`]) or a Reddit client that cannot be built.
    pub fn new(config: SocialConfig, universe: SymbolUniverse) -> Result<Self, RedditScanError> {
        config.validate()?;
        let source = match (&config.source, &config.reddit) {
            (PostSource::Sample, _) => SocialSource::Sample(SampleSource::new()),
            (PostSource::Reddit, Some(reddit)) => SocialSource::Reddit(RedditClient::new(reddit)?),
            (PostSource::Reddit, None) => {
                unreachable!("validate requires [reddit] for source = reddit")
            }
        };
        Ok(Self::with_source(source, config, universe))
    }

    /// The job over an already-built source (tests: a sample source at a fixed time). `config`
    /// supplies subreddits, limit and extra symbols; its `source` and `reddit` are not used.
    pub fn with_source(source: SocialSource, config: SocialConfig, universe: SymbolUniverse) -> Self {
        let universe = universe.with_symbols(
            config.extra_symbols.iter().filter_map(|s| Symbol::parse(s).ok()).map(String::from),
        );
        let current = CurrentUniverse::with_extra_symbols(universe, config.extra_symbols.clone());
        Self { source, config, current }
    }

    /// The job as the engine takes it.
    pub fn into_job(self) -> Arc<dyn Job> {
        Arc::new(self)
    }
}

fn posts_of(outcome: &ScanOutcome) -> Vec<SocialPost> {
    outcome
        .posts
        .iter()
        .map(|p| SocialPost {
            source: outcome.source,
            post_id: p.post.id.clone(),
            subreddit: p.post.subreddit.clone(),
            author: p.post.author.clone(),
            created_at: p.post.created_utc,
            title: p.post.title.clone(),
            permalink: (!p.post.permalink.is_empty()).then(|| p.post.permalink.clone()),
            sentiment: p.sentiment,
        })
        .collect()
}

#[async_trait]
impl Job for RedditScan {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    /// Posts and mentions are upserted by id, so a retry stores nothing twice.
    fn max_attempts(&self) -> u32 {
        3
    }

    async fn run(&self, context: &JobContext) -> anyhow::Result<JobOutcome> {
        let watchlist = context.storage.watchlist().await.context("cannot read the watchlist")?;
        // One copy per scan, for the watchlist's symbols; the shared universe stays as it is.
        let base = self.current.get(&context.storage).await;
        let universe = (*base).clone().with_symbols(watchlist.iter().map(|e| e.symbol.to_string()));
        info!(source = %self.source.kind(), subreddits = self.config.subreddits.len(), "Scanning subreddits.");
        let scanned = scan_and_extract_with_comments(
            &self.source,
            &self.config.subreddits,
            self.config.limit_per_subreddit,
            self.config.comment_threads,
            &universe,
        );
        // Cancelled past the shutdown grace: drop the in-flight Reddit requests at once.
        let Some(outcome) = context.cancel.run_until_cancelled(scanned).await else {
            anyhow::bail!("cancelled before the scan finished");
        };

        let posts = posts_of(&outcome);
        let saved = context
            .storage
            .save_social_posts(&posts, &outcome.mentions)
            .await
            .context("cannot store the scanned posts")?;
        let scan = SocialScan {
            started_at: outcome.started_at,
            finished_at: outcome.finished_at,
            source: outcome.source,
            subreddits: self.config.subreddits.clone(),
            posts_read: u64::try_from(outcome.posts.len()).unwrap_or(u64::MAX),
            mentions_found: u64::try_from(outcome.mentions.len()).unwrap_or(u64::MAX),
            status: outcome.status(),
            error: outcome.error_summary(),
        };
        let stored = context.storage.record_social_scan(&scan).await.context("cannot record the scan")?;
        context
            .attach(RunOutput::new(OutputKind::SocialScan, stored.id))
            .await
            .context("cannot list the scan among the run's outputs")?;

        for coverage in &outcome.coverage {
            let error = match &coverage.status {
                CoverageStatus::Complete => None,
                CoverageStatus::Blocked { reason } => Some(format!("blocked: {reason}")),
                CoverageStatus::Failed { error } => Some(format!("failed: {error}")),
            };
            if let Some(error) = &error {
                warn!(subreddit = %coverage.subreddit, error, "Subreddit not fully read.");
            }
            let item = RunItem {
                symbol: format!("r/{}", coverage.subreddit),
                succeeded: coverage.status == CoverageStatus::Complete,
                bars: u64::try_from(coverage.posts_read).unwrap_or(u64::MAX),
                provider: Some(outcome.source.to_string()),
                error,
            };
            context.record_item(&item).await.context("cannot record a subreddit's result")?;
        }
        info!(
            status = scan.status.as_str(),
            posts = scan.posts_read,
            mentions = scan.mentions_found,
            posts_inserted = saved.posts_inserted,
            mentions_inserted = saved.mentions_inserted,
            "Scan finished."
        );
        Ok(JobOutcome::default())
    }
}

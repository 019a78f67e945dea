//! Scanning a set of subreddits from a [`SocialSource`] and turning the posts into scored
//! mentions: [`scan_and_extract`].
//!
//! Two sources: [`SocialSource::Reddit`] (the live client) and [`SocialSource::Sample`], a bundled
//! offline set of posts (`data/sample-posts.jsonl`, written for the project: wallstreetbets,
//! stocks and investing over seven days, with a visible PLTR spike in the newest hour). The sample
//! timestamps are relative to a fixed anchor (the newest post); at scan time they are shifted so
//! the newest post is "now", which keeps trending windows and spike scores meaningful in a demo.
//!
//! Coverage is reported per subreddit: a blocked subreddit says **blocked** (with the reason),
//! never "0 mentions".

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use domain::{Mention, PostSource, Symbol};

use crate::extract::{self, SymbolUniverse};
use crate::reddit::{Listing, Post, RedditClient, ScanStatus};
use crate::sentiment;

const SAMPLE_JSONL: &str = include_str!("../data/sample-posts.jsonl");

/// One line of `data/sample-posts.jsonl`. `symbols` is what the post is known to mention (used by
/// tests); `created_utc` is unix seconds relative to the file's anchor (its newest post).
#[derive(Debug, Clone, Deserialize)]
struct SampleLine {
    id: String,
    subreddit: String,
    author: String,
    created_utc: i64,
    title: String,
    #[serde(default)]
    selftext: String,
    #[serde(default)]
    score: i64,
    #[serde(default)]
    num_comments: u64,
    #[serde(default)]
    symbols: Vec<String>,
}

/// The bundled sample posts, parsed once (a fixed-size immutable data set).
fn sample_lines() -> &'static [SampleLine] {
    static LINES: OnceLock<Vec<SampleLine>> = OnceLock::new();
    LINES.get_or_init(|| {
        SAMPLE_JSONL
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("bundled sample-posts.jsonl is valid"))
            .collect()
    })
}

/// The offline source: the bundled sample posts, shifted so the newest one is at `now`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleSource {
    /// `None`: the time of each scan.
    now: Option<DateTime<Utc>>,
}

impl SampleSource {
    /// Shifted to the time of each scan.
    pub fn new() -> Self {
        Self { now: None }
    }

    /// Shifted so the newest post is at `now` (for tests).
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now: Some(now) }
    }

    /// The anchor of the bundled file: its newest post's time.
    pub fn anchor() -> DateTime<Utc> {
        let newest = sample_lines().iter().map(|l| l.created_utc).max().unwrap_or(0);
        DateTime::from_timestamp(newest, 0).unwrap_or_default()
    }

    /// How many posts the bundled set holds.
    pub fn len() -> usize {
        sample_lines().len()
    }

    /// The symbols each bundled post is known to mention, by post id (sorted), for tests and
    /// demos.
    pub fn known_symbols() -> Vec<(String, Vec<String>)> {
        sample_lines().iter().map(|l| (l.id.clone(), l.symbols.clone())).collect()
    }

    /// Up to `limit` posts of `subreddit` (case-insensitive), newest first, shifted.
    pub fn posts(&self, subreddit: &str, limit: usize) -> Vec<Post> {
        let now = self.now.unwrap_or_else(Utc::now);
        let shift = now - Self::anchor();
        let mut lines: Vec<&SampleLine> =
            sample_lines().iter().filter(|l| l.subreddit.eq_ignore_ascii_case(subreddit)).collect();
        lines.sort_by(|a, b| b.created_utc.cmp(&a.created_utc).then_with(|| a.id.cmp(&b.id)));
        lines
            .into_iter()
            .take(limit)
            .map(|l| {
                let permalink = format!("/r/{}/comments/{}/", l.subreddit, l.id);
                Post {
                    id: l.id.clone(),
                    subreddit: l.subreddit.clone(),
                    title: l.title.clone(),
                    selftext: l.selftext.clone(),
                    author: l.author.clone(),
                    created_utc: DateTime::from_timestamp(l.created_utc, 0).unwrap_or_default() + shift,
                    score: l.score,
                    num_comments: l.num_comments,
                    url: format!("https://www.reddit.com{permalink}"),
                    permalink,
                }
            })
            .collect()
    }
}

/// Where a scan reads posts from.
// One value per job, never in a collection: boxing the client would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum SocialSource {
    /// The bundled offline posts.
    Sample(SampleSource),
    /// Reddit itself, through the client (which owns its HTTP pool).
    Reddit(RedditClient),
}

impl SocialSource {
    /// Which kind of source this is, as stored on posts and scans.
    pub fn kind(&self) -> PostSource {
        match self {
            Self::Sample(_) => PostSource::Sample,
            Self::Reddit(_) => PostSource::Reddit,
        }
    }
}

/// How reading one subreddit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverageStatus {
    Complete,
    /// Reddit answered with a block page, or refused the subreddit (private, banned, quarantined);
    /// `reason` says why.
    Blocked {
        reason: String,
    },
    /// Another error after retries (network, 5xx, rate limit, malformed).
    Failed {
        error: String,
    },
}

impl CoverageStatus {
    /// `complete`, `blocked` or `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Complete => "complete",
            Self::Blocked { .. } => "blocked",
            Self::Failed { .. } => "failed",
        }
    }

    /// The reason or error, `None` when complete.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Complete => None,
            Self::Blocked { reason } => Some(reason),
            Self::Failed { error } => Some(error),
        }
    }
}

/// What was read from one subreddit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubredditCoverage {
    pub subreddit: String,
    /// Posts read (kept even when a later page failed).
    pub posts_read: usize,
    /// Pages read successfully (1 for the sample source).
    pub pages: u32,
    /// Comments read from the most-commented threads (see [`scan_and_extract_with_comments`]).
    pub comments_read: usize,
    pub status: CoverageStatus,
}

/// A post read by a scan, with its sentiment.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedPost {
    pub post: Post,
    /// Sentiment of title and body in [-1, 1].
    pub sentiment: f64,
}

/// The result of [`scan_and_extract`].
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOutcome {
    /// [`SocialSource::kind`].
    pub source: PostSource,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Every post read, once each (a post seen in two subreddits' listings is kept once).
    pub posts: Vec<ScannedPost>,
    /// At most one per symbol per post or comment.
    pub mentions: Vec<Mention>,
    /// One entry per requested subreddit, in the requested order.
    pub coverage: Vec<SubredditCoverage>,
}

impl ScanOutcome {
    /// Complete when every subreddit was read, else blocked if any was blocked, else failed.
    pub fn status(&self) -> domain::ScanStatus {
        if self.coverage.iter().all(|c| c.status == CoverageStatus::Complete) {
            domain::ScanStatus::Complete
        } else if self.is_blocked() {
            domain::ScanStatus::Blocked
        } else {
            domain::ScanStatus::Failed
        }
    }

    /// True if any subreddit was blocked.
    pub fn is_blocked(&self) -> bool {
        self.coverage.iter().any(|c| matches!(c.status, CoverageStatus::Blocked { .. }))
    }

    /// The non-complete subreddits as `r/name: status: message`, joined by `; `; `None` when all
    /// were complete.
    pub fn error_summary(&self) -> Option<String> {
        let parts: Vec<String> = self
            .coverage
            .iter()
            .filter_map(|c| {
                c.status.message().map(|m| format!("r/{}: {}: {m}", c.subreddit, c.status.as_str()))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Where one scored text (a post or a comment) came from, to turn its extracted mentions into
/// [`Mention`]s.
struct TextOf<'a> {
    source: PostSource,
    post_id: &'a str,
    author: &'a str,
    subreddit: &'a str,
    created_at: DateTime<Utc>,
    sentiment: f64,
}

impl TextOf<'_> {
    /// `None` for a universe entry that is no valid [`Symbol`] (a configured extra symbol can be
    /// anything; the bundled universe always parses, see the tests), logged and left out.
    fn mention(&self, found: &extract::Mention<'_>) -> Option<Mention> {
        let symbol = match Symbol::parse(found.symbol) {
            Ok(symbol) => symbol,
            Err(error) => {
                tracing::debug!(%error, "A mentioned name is not a symbol; skipped.");
                return None;
            }
        };
        Some(Mention {
            source: self.source,
            post_id: self.post_id.to_owned(),
            symbol,
            kind: found.kind,
            author: self.author.to_owned(),
            subreddit: self.subreddit.to_owned(),
            created_at: self.created_at,
            sentiment: self.sentiment,
        })
    }
}

/// Reads up to `limit` newest posts from each subreddit, scores each post's sentiment (title and
/// body) and extracts its mentions against `universe`. Never fails as a whole: each
/// subreddit's outcome is in [`ScanOutcome::coverage`].
pub async fn scan_and_extract(
    source: &SocialSource,
    subreddits: &[String],
    limit: usize,
    universe: &SymbolUniverse,
) -> ScanOutcome {
    scan_and_extract_with_comments(source, subreddits, limit, 0, universe).await
}

/// [`scan_and_extract`], plus the comments of the `comment_threads` most-commented posts of each
/// subreddit (Reddit source only; the sample has no comments). Each comment counts as its own
/// text (mentions keyed `t1_<comment id>`), one mention per symbol per comment; a thread whose
/// comments cannot be read is logged and skipped, since its post was already counted.
pub async fn scan_and_extract_with_comments(
    source: &SocialSource,
    subreddits: &[String],
    limit: usize,
    comment_threads: usize,
    universe: &SymbolUniverse,
) -> ScanOutcome {
    let started_at = Utc::now();
    let mut outcome = ScanOutcome {
        source: source.kind(),
        started_at,
        finished_at: started_at,
        posts: Vec::new(),
        mentions: Vec::new(),
        coverage: Vec::with_capacity(subreddits.len()),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut found = Vec::new();
    let mut text = String::new();
    for subreddit in subreddits {
        let (posts, pages, status) = match source {
            SocialSource::Sample(sample) => (sample.posts(subreddit, limit), 1, CoverageStatus::Complete),
            SocialSource::Reddit(client) => {
                let report = client.scan(subreddit, Listing::New, limit).await;
                let status = match report.status {
                    ScanStatus::Complete => CoverageStatus::Complete,
                    ScanStatus::Blocked { reason } => CoverageStatus::Blocked { reason },
                    ScanStatus::Failed { error } => {
                        // A private or banned subreddit is refused content, like a block page.
                        if matches!(error.kind(), "blocked" | "forbidden") {
                            CoverageStatus::Blocked { reason: error.to_string() }
                        } else {
                            CoverageStatus::Failed { error: error.to_string() }
                        }
                    }
                };
                (report.posts, report.pages, status)
            }
        };
        let mut by_comments: Vec<(u64, String)> =
            posts.iter().filter(|p| p.num_comments > 0).map(|p| (p.num_comments, p.id.clone())).collect();
        by_comments.sort_unstable_by_key(|(n, _)| std::cmp::Reverse(*n));
        let hottest: Vec<String> = by_comments.into_iter().take(comment_threads).map(|(_, id)| id).collect();
        outcome.coverage.push(SubredditCoverage {
            subreddit: subreddit.clone(),
            posts_read: posts.len(),
            pages,
            comments_read: 0,
            status,
        });
        for post in posts {
            if !seen.insert(post.id.clone()) {
                continue;
            }
            text.clear();
            text.push_str(&post.title);
            if !post.selftext.is_empty() {
                text.push('\n');
                text.push_str(&post.selftext);
            }
            let score = sentiment::score(&text);
            universe.extract_mentions_into(&text, &mut found);
            let text_of = TextOf {
                source: outcome.source,
                post_id: &post.id,
                author: &post.author,
                subreddit: &post.subreddit,
                created_at: post.created_utc,
                sentiment: score,
            };
            outcome.mentions.extend(found.iter().filter_map(|m| text_of.mention(m)));
            outcome.posts.push(ScannedPost { post, sentiment: score });
        }
        if let SocialSource::Reddit(client) = source {
            let mut comments_read = 0;
            for post_id in &hottest {
                let comments = match client.comments(subreddit, post_id).await {
                    Ok(comments) => comments,
                    Err(error) => {
                        tracing::warn!(%error, subreddit = %subreddit, post_id = %post_id, "Cannot read comments.");
                        continue;
                    }
                };
                for comment in comments {
                    if matches!(comment.body.as_str(), "[deleted]" | "[removed]") {
                        continue;
                    }
                    comments_read += 1;
                    let score = sentiment::score(&comment.body);
                    universe.extract_mentions_into(&comment.body, &mut found);
                    let text_of = TextOf {
                        source: outcome.source,
                        post_id: &format!("t1_{}", comment.id),
                        author: &comment.author,
                        subreddit,
                        created_at: comment.created_utc,
                        sentiment: score,
                    };
                    outcome.mentions.extend(found.iter().filter_map(|m| text_of.mention(m)));
                }
            }
            if let Some(coverage) = outcome.coverage.last_mut() {
                coverage.comments_read = comments_read;
            }
        }
    }
    outcome.finished_at = Utc::now().max(started_at);
    outcome
}

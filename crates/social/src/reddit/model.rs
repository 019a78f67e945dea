//! What a scan reads — posts and comments — and the wire shapes they are parsed from
//! (`Listing` → `t3`/`t1` things, see `provider-apis.md` §5). Parsing is lenient about missing
//! optional fields (deleted authors, link posts without `selftext`) and strict about the
//! envelope: a body that is not a `Listing` is malformed, never "no posts".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::RedditError;

/// Which listing of a subreddit to read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listing {
    New,
    Hot,
    /// `top?t=day`.
    TopDay,
    /// `search?q=…&restrict_sr=1&sort=new&t=week`.
    Search {
        query: String,
    },
}

impl Listing {
    /// The path segment after `/r/{sub}/`.
    pub(crate) fn endpoint(&self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Hot => "hot",
            Self::TopDay => "top",
            Self::Search { .. } => "search",
        }
    }

    /// Query parameters besides `limit`, `after` and `raw_json`.
    pub(crate) fn params(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::New | Self::Hot => Vec::new(),
            Self::TopDay => vec![("t", "day".to_owned())],
            Self::Search { query } => vec![
                ("q", query.clone()),
                ("restrict_sr", "1".to_owned()),
                ("sort", "new".to_owned()),
                ("t", "week".to_owned()),
            ],
        }
    }
}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Search { query } => write!(f, "search {query:?}"),
            other => f.write_str(other.endpoint()),
        }
    }
}

/// One submission (`t3`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Base-36 id without the `t3_` prefix.
    pub id: String,
    pub subreddit: String,
    pub title: String,
    /// `""` for link posts.
    pub selftext: String,
    /// `[deleted]` when Reddit gives none.
    pub author: String,
    pub created_utc: DateTime<Utc>,
    pub score: i64,
    pub num_comments: u64,
    /// Relative, as Reddit sends it: `/r/stocks/comments/…/`.
    pub permalink: String,
    pub url: String,
}

/// One comment (`t1`) of a thread, flattened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: String,
    pub author: String,
    pub body: String,
    pub score: i64,
    pub created_utc: DateTime<Utc>,
    /// 0 for top-level comments.
    pub depth: u32,
}

/// How a scan ended.
#[derive(Debug, Clone)]
pub enum ScanStatus {
    /// Every page up to the limit (or the end of the listing) was read.
    Complete,
    /// Reddit answered with a block page: the posts read so far are not the subreddit's.
    Blocked { reason: String },
    /// A page failed after retries; the posts of earlier pages are kept.
    Failed { error: RedditError },
}

/// The outcome of [`super::RedditClient::scan`]: what was read and how far it got.
#[derive(Debug, Clone)]
pub struct ScanReport {
    pub subreddit: String,
    pub listing: Listing,
    pub posts: Vec<Post>,
    /// Pages read successfully.
    pub pages: u32,
    pub status: ScanStatus,
}

impl ScanReport {
    pub fn is_complete(&self) -> bool {
        matches!(self.status, ScanStatus::Complete)
    }

    pub fn is_blocked(&self) -> bool {
        matches!(self.status, ScanStatus::Blocked { .. })
    }

    /// The error of a failed scan.
    pub fn error(&self) -> Option<&RedditError> {
        match &self.status {
            ScanStatus::Failed { error } => Some(error),
            _ => None,
        }
    }

    /// `complete`, `blocked` or `failed`, for reports and metrics.
    pub fn status_label(&self) -> &'static str {
        match self.status {
            ScanStatus::Complete => "complete",
            ScanStatus::Blocked { .. } => "blocked",
            ScanStatus::Failed { .. } => "failed",
        }
    }
}

/// One page of a listing.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) posts: Vec<Post>,
    pub(crate) after: Option<String>,
}

#[derive(Deserialize)]
struct Thing<T> {
    kind: String,
    data: T,
}

#[derive(Deserialize)]
struct ListingData<T> {
    #[serde(default)]
    after: Option<String>,
    children: Vec<T>,
}

#[derive(Deserialize)]
struct RawPost {
    id: String,
    #[serde(default)]
    subreddit: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    selftext: String,
    #[serde(default)]
    author: Option<String>,
    created_utc: f64,
    #[serde(default)]
    score: i64,
    #[serde(default)]
    num_comments: u64,
    #[serde(default)]
    permalink: String,
    #[serde(default)]
    url: String,
}

fn timestamp(secs: f64) -> Option<DateTime<Utc>> {
    if !secs.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

fn author(author: Option<String>) -> String {
    author.filter(|a| !a.is_empty()).unwrap_or_else(|| "[deleted]".to_owned())
}

/// Parses a listing page (`{"kind":"Listing","data":{"after":…,"children":[{"kind":"t3",…}]}}`).
pub(crate) fn parse_listing(what: &str, body: &[u8]) -> Result<Page, RedditError> {
    let malformed = |message: String| RedditError::Malformed { what: what.to_owned(), message };
    let thing: Thing<ListingData<Thing<Value>>> =
        serde_json::from_slice(body).map_err(|e| malformed(format!("not a Listing: {e}")))?;
    if thing.kind != "Listing" {
        return Err(malformed(format!("expected kind Listing, got {:?}", thing.kind)));
    }
    let mut posts = Vec::with_capacity(thing.data.children.len());
    for child in thing.data.children {
        if child.kind != "t3" {
            continue;
        }
        let raw: RawPost =
            serde_json::from_value(child.data).map_err(|e| malformed(format!("bad post: {e}")))?;
        let created_utc = timestamp(raw.created_utc)
            .ok_or_else(|| malformed(format!("post {} has created_utc {}", raw.id, raw.created_utc)))?;
        posts.push(Post {
            id: raw.id,
            subreddit: raw.subreddit,
            title: raw.title,
            selftext: raw.selftext,
            author: author(raw.author),
            created_utc,
            score: raw.score,
            num_comments: raw.num_comments,
            permalink: raw.permalink,
            url: raw.url,
        });
    }
    let after = thing.data.after.filter(|a| !a.is_empty());
    Ok(Page { posts, after })
}

/// Parses a thread (`[post listing, comment listing]`) into at most `max` comments, depth-first
/// in display order. `more` stubs are skipped (reading them costs one request each).
pub(crate) fn parse_comments(what: &str, body: &[u8], max: usize) -> Result<Vec<Comment>, RedditError> {
    let malformed =
        |message: &str| RedditError::Malformed { what: what.to_owned(), message: message.to_owned() };
    let value: Value = serde_json::from_slice(body).map_err(|e| malformed(&format!("invalid JSON: {e}")))?;
    let listing = value
        .as_array()
        .and_then(|parts| parts.get(1))
        .ok_or_else(|| malformed("expected [post, comments] listings"))?;
    let children = listing_children(listing).ok_or_else(|| malformed("comments are not a Listing"))?;
    let mut comments = Vec::new();
    // An explicit stack instead of recursion: thread depth is Reddit's to choose.
    let mut stack: Vec<(&Value, u32)> = children.iter().rev().map(|c| (c, 0)).collect();
    while let Some((thing, depth)) = stack.pop() {
        if comments.len() >= max {
            break;
        }
        if thing.get("kind").and_then(Value::as_str) != Some("t1") {
            continue;
        }
        let Some(data) = thing.get("data") else { continue };
        let text = |key: &str| data.get(key).and_then(Value::as_str).map(str::to_owned);
        let created_utc = data.get("created_utc").and_then(Value::as_f64).and_then(timestamp);
        let (Some(id), Some(body), Some(created_utc)) = (text("id"), text("body"), created_utc) else {
            return Err(malformed("comment without id, body or created_utc"));
        };
        comments.push(Comment {
            id,
            author: author(text("author")),
            body,
            score: data.get("score").and_then(Value::as_i64).unwrap_or(0),
            created_utc,
            depth,
        });
        // `replies` is "" when there are none, else a Listing.
        if let Some(replies) = data.get("replies").and_then(listing_children) {
            stack.extend(replies.iter().rev().map(|c| (c, depth + 1)));
        }
    }
    Ok(comments)
}

fn listing_children(value: &Value) -> Option<&Vec<Value>> {
    if value.get("kind").and_then(Value::as_str) != Some("Listing") {
        return None;
    }
    value.get("data")?.get("children")?.as_array()
}

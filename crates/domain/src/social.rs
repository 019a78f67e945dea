//! The social vocabulary: posts read from a source, the ticker mentions found in them, and the
//! record of one scan. The scanner produces these, storage keeps them, the API and exports show
//! them; each spelling (`reddit`, `cashtag`, `blocked`) is written once, here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Symbol;

crate::text_enum! {
    /// Where posts come from.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum PostSource {
        /// The bundled offline posts (no network).
        #[default]
        Sample => "sample",
        /// Reddit.
        Reddit => "reddit",
    }
    parse_error = "unknown post source {:?}: expected sample or reddit";
}

crate::text_enum! {
    /// How a symbol was mentioned.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum MentionKind {
        /// `$NVDA`, `$BRK.B`.
        Cashtag => "cashtag",
        /// An upper-case word validated against the symbol universe: `NVDA`.
        Bare => "bare",
        /// A company name: "Nvidia".
        Alias => "alias",
    }
    parse_error = "unknown mention kind {:?}: expected cashtag, bare or alias";
}

crate::text_enum! {
    /// How a social scan ended.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    pub enum ScanStatus {
        /// Every subreddit was read.
        Complete => "complete",
        /// The source refused us (block page, private or banned subreddit).
        Blocked => "blocked",
        /// Another error (network, server).
        Failed => "failed",
    }
    parse_error = "unknown scan status {:?}";
}

/// A scanned post (title and metadata; the body is not kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocialPost {
    pub source: PostSource,
    pub post_id: String,
    pub subreddit: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub title: String,
    pub permalink: Option<String>,
    /// Sentiment of the post in [-1, 1].
    pub sentiment: f64,
}

/// One symbol mentioned in one post (at most one per symbol per post).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub source: PostSource,
    pub post_id: String,
    pub symbol: Symbol,
    /// How it was first mentioned in the post.
    pub kind: MentionKind,
    pub author: String,
    pub subreddit: String,
    pub created_at: DateTime<Utc>,
    /// The post's sentiment.
    pub sentiment: f64,
}

/// One scan of a list of subreddits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocialScan {
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub source: PostSource,
    pub subreddits: Vec<String>,
    pub posts_read: u64,
    pub mentions_found: u64,
    pub status: ScanStatus,
    /// What went wrong where, when not complete.
    pub error: Option<String>,
}

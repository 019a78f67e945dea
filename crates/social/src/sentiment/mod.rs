//! Sentiment of a post or comment in [-1, 1], for Reddit's market talk.

pub mod vader_baseline;

/// Scores at or above this are bullish.
pub const BULLISH_THRESHOLD: f64 = 0.05;
/// Scores at or below this are bearish.
pub const BEARISH_THRESHOLD: f64 = -0.05;

/// Bullish, bearish or neutral, from a score and the ±0.05 thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentimentLabel {
    /// Score ≥ 0.05.
    Bullish,
    /// Score ≤ -0.05.
    Bearish,
    /// In between.
    Neutral,
}

impl SentimentLabel {
    /// Lower-case name: `bullish`, `bearish`, `neutral`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bullish => "bullish",
            Self::Bearish => "bearish",
            Self::Neutral => "neutral",
        }
    }
}

/// The label for a score from [`score`].
pub fn label(score: f64) -> SentimentLabel {
    if score >= BULLISH_THRESHOLD {
        SentimentLabel::Bullish
    } else if score <= BEARISH_THRESHOLD {
        SentimentLabel::Bearish
    } else {
        SentimentLabel::Neutral
    }
}

/// The sentiment of `text` in [-1, 1].
pub fn score(text: &str) -> f64 {
    vader_baseline::score(text)
}

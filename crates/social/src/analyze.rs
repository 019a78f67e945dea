//! One text scored the way the scanner scores a post: which tickers it mentions and how it
//! feels about them. For `tickerwatch sentiment` and `POST /api/social/analyze`, so users and
//! tests can check any text against the same code the scanner runs.

use serde::Serialize;

use crate::extract::SymbolUniverse;
use crate::sentiment;

/// What the scanner would make of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextAnalysis {
    /// Each symbol once, in order of first mention.
    pub mentions: Vec<TextMention>,
    /// `bullish`, `bearish` or `neutral`.
    pub sentiment: &'static str,
    /// In [-1, 1]: what the scanner stores as the post's sentiment.
    pub score: f64,
    /// The model's probability of each class.
    pub probabilities: ClassProbabilities,
}

/// One symbol a text mentions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextMention {
    pub symbol: String,
    /// `cashtag`, `bare` or `alias`.
    pub kind: domain::MentionKind,
    /// The company or fund name, when the universe has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The sentiment model's class probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassProbabilities {
    pub bullish: f64,
    pub bearish: f64,
    pub neutral: f64,
}

/// Mentions and sentiment of `text` against `universe`.
pub fn analyze_text(universe: &SymbolUniverse, text: &str) -> TextAnalysis {
    let mentions = universe
        .extract_mentions(text)
        .into_iter()
        .map(|mention| TextMention {
            symbol: mention.symbol.to_owned(),
            kind: mention.kind,
            name: universe
                .lookup(mention.symbol)
                .map(|info| info.name.to_owned())
                .filter(|name| !name.is_empty()),
        })
        .collect();
    let [bearish, bullish, neutral] = sentiment::probabilities(text);
    let score = sentiment::score(text);
    TextAnalysis {
        mentions,
        sentiment: sentiment::label(score).as_str(),
        score,
        probabilities: ClassProbabilities { bullish, bearish, neutral },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_gets_its_mentions_names_and_sentiment() {
        let universe = SymbolUniverse::bundled();
        let analysis = analyze_text(&universe, "Loading up on $NVDA calls, Nvidia to the moon 🚀");
        assert_eq!(analysis.mentions.len(), 1, "{analysis:?}");
        assert_eq!(analysis.mentions[0].symbol, "NVDA");
        assert_eq!(analysis.mentions[0].kind, domain::MentionKind::Cashtag);
        assert!(analysis.mentions[0].name.as_deref().unwrap_or("").to_lowercase().contains("nvidia"));
        assert_eq!(analysis.sentiment, "bullish");
        let p = analysis.probabilities;
        assert!((p.bullish + p.bearish + p.neutral - 1.0).abs() < 1e-9);
        let json = serde_json::to_value(&analysis).unwrap();
        assert_eq!(json["sentiment"], "bullish");
        assert_eq!(json["mentions"][0]["kind"], "cashtag");
        let bearish = analyze_text(&universe, "bought SPY puts, this market is going to crash");
        assert_eq!(bearish.sentiment, "bearish", "{bearish:?}");
    }
}

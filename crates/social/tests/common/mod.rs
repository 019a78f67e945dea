//! Shared by the extraction accuracy tests: labelled texts, counts and the naive baseline.

use std::collections::BTreeSet;

use serde::Deserialize;
use social::extract::SymbolUniverse;

/// One labelled text. Other fields of the files (sentiment, source, id…) are ignored here.
#[derive(Deserialize)]
pub(crate) struct LabelledPost {
    pub(crate) text: String,
    pub(crate) symbols: Vec<String>,
}

/// Parses JSON Lines of labelled texts; panics with the line on a malformed one.
pub(crate) fn parse_posts(jsonl: &str) -> Vec<LabelledPost> {
    jsonl
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect()
}

/// True/false positives and false negatives over a set of texts.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) true_positives: usize,
    pub(crate) false_positives: usize,
    pub(crate) false_negatives: usize,
}

impl Counts {
    pub(crate) fn add(&mut self, expected: &BTreeSet<String>, found: &BTreeSet<String>) {
        self.true_positives += found.intersection(expected).count();
        self.false_positives += found.difference(expected).count();
        self.false_negatives += expected.difference(found).count();
    }

    pub(crate) fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    pub(crate) fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    pub(crate) fn f1(&self) -> f64 {
        let (precision, recall) = (self.precision(), self.recall());
        if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) }
    }

    /// "P 0.950 R 0.900 F1 0.924 (tp 10, fp 1, fn 2)".
    pub(crate) fn summary(&self) -> String {
        format!(
            "P {:.3} R {:.3} F1 {:.3} (tp {}, fp {}, fn {})",
            self.precision(),
            self.recall(),
            self.f1(),
            self.true_positives,
            self.false_positives,
            self.false_negatives
        )
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 { 1.0 } else { numerator as f64 / denominator as f64 }
}

/// The symbols our extractor finds in `text`.
pub(crate) fn our_extract(universe: &SymbolUniverse, text: &str) -> BTreeSet<String> {
    universe.extract_mentions(text).iter().map(|mention| mention.symbol.to_owned()).collect()
}

/// The naive extractor: every run of 1–5 upper-case letters between regex word boundaries
/// (`[A-Za-z0-9_]`) that is in the universe.
pub(crate) fn naive_extract(universe: &SymbolUniverse, text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut found = BTreeSet::new();
    let mut pos = 0;
    while pos < bytes.len() {
        if !is_word(bytes[pos]) {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < bytes.len() && is_word(bytes[pos]) {
            pos += 1;
        }
        let word = &text[start..pos];
        if (1..=5).contains(&word.len())
            && word.bytes().all(|b| b.is_ascii_uppercase())
            && universe.contains(word)
        {
            found.insert(word.to_owned());
        }
    }
    found
}

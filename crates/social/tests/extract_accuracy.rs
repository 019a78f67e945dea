//! Precision and recall of ticker extraction on the hand-labelled posts in
//! `data/labelled-posts.jsonl`, against a naive baseline (every `\b[A-Z]{1,5}\b` word that is in the
//! universe). Run with `--nocapture` to see the figures.

use std::collections::BTreeSet;

use serde::Deserialize;
use social::extract::SymbolUniverse;

const LABELLED_POSTS: &str = include_str!("../data/labelled-posts.jsonl");

#[derive(Deserialize)]
struct LabelledPost {
    text: String,
    symbols: Vec<String>,
}

#[derive(Default, Debug)]
struct Counts {
    true_positives: usize,
    false_positives: usize,
    false_negatives: usize,
}

impl Counts {
    fn add(&mut self, expected: &BTreeSet<String>, found: &BTreeSet<String>) {
        self.true_positives += found.intersection(expected).count();
        self.false_positives += found.difference(expected).count();
        self.false_negatives += expected.difference(found).count();
    }

    fn precision(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_positives) as f64
    }

    fn recall(&self) -> f64 {
        self.true_positives as f64 / (self.true_positives + self.false_negatives) as f64
    }
}

fn posts() -> Vec<LabelledPost> {
    LABELLED_POSTS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect(line))
        .collect()
}

/// The naive extractor: every run of 1–5 upper-case letters between regex word boundaries
/// (`[A-Za-z0-9_]`) that is in the universe.
fn naive_extract(universe: &SymbolUniverse, text: &str) -> BTreeSet<String> {
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

#[test]
fn extraction_precision_and_recall_beat_the_naive_baseline() {
    let universe = SymbolUniverse::bundled();
    let posts = posts();
    assert!(posts.len() >= 200, "only {} labelled posts", posts.len());

    let (mut ours, mut naive) = (Counts::default(), Counts::default());
    for post in &posts {
        let expected: BTreeSet<String> = post.symbols.iter().cloned().collect();
        let found: BTreeSet<String> =
            universe.extract_mentions(&post.text).iter().map(|mention| mention.symbol.to_owned()).collect();
        if found != expected {
            println!("miss: {:?}\n  expected {expected:?}, found {found:?}", post.text);
        }
        ours.add(&expected, &found);
        naive.add(&expected, &naive_extract(&universe, &post.text));
    }
    println!(
        "extraction over {} posts ({} labelled mentions): ours precision {:.3} recall {:.3} {ours:?}; \
         naive precision {:.3} recall {:.3} {naive:?}",
        posts.len(),
        ours.true_positives + ours.false_negatives,
        ours.precision(),
        ours.recall(),
        naive.precision(),
        naive.recall(),
    );
    assert!(ours.precision() >= 0.95, "precision {:.3}", ours.precision());
    assert!(ours.recall() >= 0.90, "recall {:.3}", ours.recall());
    assert!(ours.precision() > naive.precision());
}

#[test]
fn labelled_symbols_are_spelled_as_in_the_universe_or_are_known_misses() {
    // Symbols outside the universe are labelled honestly (a human would count them) but cannot be
    // found; keep them few so the measurement stays about extraction, not coverage.
    let universe = SymbolUniverse::bundled();
    let outside: BTreeSet<String> = posts()
        .iter()
        .flat_map(|post| post.symbols.clone())
        .filter(|symbol| !universe.contains(symbol))
        .collect();
    println!("labelled symbols outside the universe: {outside:?}");
    assert!(outside.len() <= 5, "{outside:?}");
}

//! Precision and recall of ticker extraction on the hand-labelled posts in
//! `data/labelled-posts.jsonl`, against a naive baseline (every `\b[A-Z]{1,5}\b` word that is in the
//! universe). Run with `--nocapture` to see the figures.

mod common;

use std::collections::BTreeSet;

use common::{Counts, LabelledPost, naive_extract, our_extract, parse_posts};
use social::extract::SymbolUniverse;

const LABELLED_POSTS: &str = include_str!("../data/labelled-posts.jsonl");

fn posts() -> Vec<LabelledPost> {
    parse_posts(LABELLED_POSTS)
}

#[test]
fn extraction_precision_and_recall_beat_the_naive_baseline() {
    let universe = SymbolUniverse::bundled();
    let posts = posts();
    assert!(posts.len() >= 200, "only {} labelled posts", posts.len());

    let (mut ours, mut naive) = (Counts::default(), Counts::default());
    for post in &posts {
        let expected: BTreeSet<String> = post.symbols.iter().cloned().collect();
        let found = our_extract(&universe, &post.text);
        if found != expected {
            println!("miss: {:?}\n  expected {expected:?}, found {found:?}", post.text);
        }
        ours.add(&expected, &found);
        naive.add(&expected, &naive_extract(&universe, &post.text));
    }
    println!(
        "extraction over {} self-written posts ({} labelled mentions): ours {}; naive {}",
        posts.len(),
        ours.true_positives + ours.false_negatives,
        ours.summary(),
        naive.summary(),
    );
    assert!(ours.precision() >= 0.95, "precision {:.3}", ours.precision());
    assert!(ours.recall() >= 0.90, "recall {:.3}", ours.recall());
    assert!(ours.precision() > naive.precision());
    assert!(ours.f1() > naive.f1());
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

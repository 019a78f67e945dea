//! Extraction errors on the tuning sets only: `train.jsonl` and `dev.jsonl` of
//! `tests/data/reddit-real/` (never `heldout.jsonl`). Prints precision and recall per file, true
//! and false positives per mention kind, and, with `--show`, each false positive and false
//! negative with its text.
//!
//! `cargo run -p social --example extract_errors [-- --show]`

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use social::extract::SymbolUniverse;

/// The tuning files; `heldout.jsonl` is deliberately not among them.
const TUNING_FILES: &[&str] = &["train.jsonl", "dev.jsonl"];

#[derive(Deserialize)]
struct LabelledPost {
    text: String,
    symbols: Vec<String>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let show = std::env::args().any(|arg| arg == "--show");
    let universe = SymbolUniverse::bundled();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/reddit-real");
    for file in TUNING_FILES {
        let jsonl = std::fs::read_to_string(dir.join(file))?;
        let (mut n_tp, mut n_fp, mut n_fn) = (0usize, 0usize, 0usize);
        let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for line in jsonl.lines().filter(|line| !line.trim().is_empty()) {
            let post: LabelledPost = serde_json::from_str(line)?;
            let expected: BTreeSet<&str> = post.symbols.iter().map(String::as_str).collect();
            let mentions = universe.extract_mentions(&post.text);
            let found: BTreeSet<&str> = mentions.iter().map(|mention| mention.symbol).collect();
            for mention in &mentions {
                let counts = by_kind.entry(mention.kind.as_str()).or_default();
                if expected.contains(mention.symbol) {
                    counts.0 += 1;
                } else {
                    counts.1 += 1;
                    if show {
                        println!("FP {} ({}) in {:?}", mention.symbol, mention.kind.as_str(), post.text);
                    }
                }
            }
            for missed in expected.difference(&found) {
                if show {
                    println!("FN {missed} in {:?}", post.text);
                }
            }
            n_tp += found.intersection(&expected).count();
            n_fp += found.difference(&expected).count();
            n_fn += expected.difference(&found).count();
        }
        let precision = n_tp as f64 / (n_tp + n_fp).max(1) as f64;
        let recall = n_tp as f64 / (n_tp + n_fn).max(1) as f64;
        println!(
            "{file}: P {precision:.3} R {recall:.3} (tp {n_tp}, fp {n_fp}, fn {n_fn}); tp/fp by kind {by_kind:?}"
        );
    }
    Ok(())
}

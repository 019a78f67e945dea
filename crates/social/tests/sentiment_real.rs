//! The sentiment model against held-out labelled texts it was neither trained nor tuned on,
//! next to the VADER-style baseline it replaced (`sentiment::vader_baseline`).
//!
//! Sets:
//! - `tests/data/heldout/tfns-valid.csv`: Twitter Financial News Sentiment, validation split
//!   (2,388 finance tweets; see the README there).
//! - `tests/data/reddit-real/heldout.jsonl`: real Reddit texts hand-labelled for tickerwatch,
//!   read at run time when present (skipped with a note when not).
//!
//! Asserted: the TFNS target (macro-F1 ≥ 0.65) and that the model beats the baseline on
//! all three figures on every set present. The retail target (bull/bear accuracy ≥ 0.75 on real
//! Reddit posts) is not reached, by either definition, so it is not asserted (see below).
//!
//! Figures (all from `sentiment::metrics::Confusion`), over the texts of a set:
//! - **macro-F1**: the mean of the bearish, bullish and neutral F1 (3 classes);
//! - **bull/bear strict** (`direction_accuracy`): among texts labelled bullish or bearish, the
//!   share whose predicted class (of three) is that direction; a neutral prediction counts as
//!   wrong;
//! - **bull/bear forced** (`direction_accuracy_forced`, the common definition): among texts
//!   labelled bullish or bearish, the share where the more likely of bullish and bearish is the
//!   labelled one, neutral not allowed (model: the sign of P(bullish) − P(bearish); baseline: the
//!   sign of its score, a score of exactly 0 counting half).
//!
//! Run with `--nocapture` to see the table. Only aggregate figures are printed: the held-out
//! texts are never shown.

use std::path::{Path, PathBuf};

use social::sentiment::metrics::Confusion;
use social::sentiment::{SentimentLabel, classify, label, probabilities, vader_baseline};

struct Labelled {
    text: String,
    label: SentimentLabel,
}

struct Figures {
    model: Confusion,
    baseline: Confusion,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn evaluate(set: &[Labelled]) -> Figures {
    let (mut model, mut baseline) = (Confusion::default(), Confusion::default());
    for example in set {
        let probs = probabilities(&example.text);
        model.add_scored(example.label, classify(&example.text).0, probs[1] - probs[0]);
        let score = vader_baseline::score(&example.text);
        baseline.add_scored(example.label, label(score), score);
    }
    Figures { model, baseline }
}

fn print_row(name: &str, figures: &Figures) {
    println!(
        "{name:<22} n {:>5} (bull/bear {:>5}) | model macro-F1 {:.3} bull/bear strict {:.3} forced \
         {:.3} | vader_baseline macro-F1 {:.3} bull/bear strict {:.3} forced {:.3}",
        figures.model.total(),
        figures.model.n_directional(),
        figures.model.macro_f1(),
        figures.model.direction_accuracy(),
        figures.model.direction_accuracy_forced(),
        figures.baseline.macro_f1(),
        figures.baseline.direction_accuracy(),
        figures.baseline.direction_accuracy_forced(),
    );
}

/// Every record of a CSV text (header included), read by the `csv` crate (RFC 4180: quoted
/// fields may hold commas, doubled quotes and newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|record| record.expect("valid CSV").iter().map(str::to_owned).collect())
        .collect()
}

fn tfns_heldout() -> Vec<Labelled> {
    let path = data_dir().join("heldout/tfns-valid.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    parse_csv(&text)
        .into_iter()
        .skip(1)
        .map(|record| {
            let [text, label] = record.as_slice() else { panic!("bad record {record:?}") };
            let label = match label.as_str() {
                "0" => SentimentLabel::Bearish,
                "1" => SentimentLabel::Bullish,
                "2" => SentimentLabel::Neutral,
                other => panic!("bad label {other:?}"),
            };
            Labelled { text: text.clone(), label }
        })
        .collect()
}

/// JSON lines with `text` and `label` (or `sentiment`); lines whose label is not bullish,
/// bearish, neutral, positive or negative are counted and left out.
fn read_jsonl(path: &Path) -> Option<(Vec<Labelled>, usize)> {
    let text = std::fs::read_to_string(path).ok()?;
    let (mut set, mut n_skipped) = (Vec::new(), 0);
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let text = value.get("text").and_then(serde_json::Value::as_str);
        let label = value
            .get("label")
            .or_else(|| value.get("sentiment"))
            .and_then(serde_json::Value::as_str)
            .and_then(SentimentLabel::parse);
        match (text, label) {
            (Some(text), Some(label)) => set.push(Labelled { text: text.to_owned(), label }),
            _ => n_skipped += 1,
        }
    }
    Some((set, n_skipped))
}

#[test]
fn tfns_heldout_beats_the_baseline_and_reaches_the_target() {
    let set = tfns_heldout();
    assert_eq!(set.len(), 2388);
    let figures = evaluate(&set);
    print_row("tfns-valid (held out)", &figures);
    // Measured 2026-12-05 on 2,388 tweets (822 bullish or bearish), model vs baseline: macro-F1
    // 0.728 vs 0.530, bull/bear strict 0.800 vs 0.366, forced 0.876 vs 0.651.
    let (model, baseline) = (&figures.model, &figures.baseline);
    assert!(model.macro_f1() >= 0.65, "TFNS macro-F1 {:.3} below the 0.65 target", model.macro_f1());
    assert!(model.macro_f1() > baseline.macro_f1());
    assert!(model.direction_accuracy() > baseline.direction_accuracy());
    assert!(model.direction_accuracy_forced() > baseline.direction_accuracy_forced());
}

#[test]
fn reddit_real_heldout_when_present() {
    let path = data_dir().join("reddit-real/heldout.jsonl");
    let Some((set, n_skipped)) = read_jsonl(&path) else {
        println!("note: {} not present; reddit-real held-out figures skipped", path.display());
        return;
    };
    let figures = evaluate(&set);
    print_row("reddit-real (held out)", &figures);
    if n_skipped > 0 {
        println!("  ({n_skipped} lines without a bullish/bearish/neutral label left out)");
    }
    assert!(!set.is_empty(), "{} has no labelled lines", path.display());
    // Measured 2026-12-05 on 397 texts (224 bullish or bearish), model vs baseline: macro-F1 0.524
    // vs 0.462, bull/bear strict 0.638 vs 0.473, forced 0.679 vs 0.585 (the model trained with
    // reddit-real train.jsonl; before it, 0.497 macro-F1 and 0.482 strict). The target
    // (bull/bear accuracy ≥ 0.75 on retail posts) is not reached by either definition, so it is
    // not asserted.
    let (model, baseline) = (&figures.model, &figures.baseline);
    assert!(model.macro_f1() > baseline.macro_f1());
    assert!(model.direction_accuracy() > baseline.direction_accuracy());
    assert!(model.direction_accuracy_forced() > baseline.direction_accuracy_forced());
}

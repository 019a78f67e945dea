//! Regression check of the sentiment model on the hand-labelled sentences in
//! `data/labelled-sentiment.jsonl` (positive / negative / neutral). These sentences are part of the
//! model's training data, so this accuracy is not a measure of quality (the held-out figures are
//! in `sentiment_real.rs`); it only catches a retrained model that forgot them. Run with
//! `--nocapture` to see the misses.

use serde::Deserialize;
use social::sentiment::{SentimentLabel, label, score};

const LABELLED_SENTENCES: &str = include_str!("../data/labelled-sentiment.jsonl");

#[derive(Deserialize)]
struct LabelledSentence {
    text: String,
    label: String,
}

fn expected_label(name: &str) -> SentimentLabel {
    match name {
        "positive" => SentimentLabel::Bullish,
        "negative" => SentimentLabel::Bearish,
        "neutral" => SentimentLabel::Neutral,
        other => panic!("unknown label {other}"),
    }
}

#[test]
fn sentiment_accuracy_on_labelled_sentences() {
    let sentences: Vec<LabelledSentence> = LABELLED_SENTENCES
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect(line))
        .collect();
    assert!(sentences.len() >= 60, "only {} labelled sentences", sentences.len());

    let mut n_correct = 0;
    for sentence in &sentences {
        let value = score(&sentence.text);
        let got = label(value);
        if got == expected_label(&sentence.label) {
            n_correct += 1;
        } else {
            println!(
                "miss: {:?} expected {} got {} ({value:.3})",
                sentence.text,
                sentence.label,
                got.as_str()
            );
        }
    }
    let accuracy = f64::from(n_correct) / sentences.len() as f64;
    println!("sentiment accuracy {accuracy:.3} ({n_correct}/{})", sentences.len());
    assert!(accuracy >= 0.80, "accuracy {accuracy:.3}");
}

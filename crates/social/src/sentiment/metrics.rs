//! How well predicted labels match expected ones: the figures the trainer tunes on and
//! `tests/sentiment_real.rs` reports, computed in one place so both mean the same thing.

use crate::sentiment::SentimentLabel;

/// Counts of (expected, predicted) pairs over the three classes.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    /// `counts[expected][predicted]`, indexed by [`SentimentLabel::idx`].
    pub counts: [[u32; 3]; 3],
}

impl Confusion {
    /// Adds one prediction.
    pub fn add(&mut self, expected: SentimentLabel, predicted: SentimentLabel) {
        self.counts[expected.idx()][predicted.idx()] += 1;
    }

    /// How many predictions were added.
    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    /// Share of predictions equal to the expected label.
    pub fn accuracy(&self) -> f64 {
        let correct: u32 = (0..3).map(|idx| self.counts[idx][idx]).sum();
        ratio(correct, self.total())
    }

    /// F1 of one class (0 when the class never occurs and is never predicted).
    pub fn f1(&self, class: SentimentLabel) -> f64 {
        let idx = class.idx();
        let true_pos = self.counts[idx][idx];
        let predicted: u32 = (0..3).map(|expected| self.counts[expected][idx]).sum();
        let actual: u32 = self.counts[idx].iter().sum();
        let (precision, recall) = (ratio(true_pos, predicted), ratio(true_pos, actual));
        if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) }
    }

    /// Unweighted mean of the three classes' F1 (rare classes count as much as neutral).
    pub fn macro_f1(&self) -> f64 {
        SentimentLabel::ALL.iter().map(|class| self.f1(*class)).sum::<f64>() / 3.0
    }

    /// Bullish-vs-bearish accuracy: among texts labelled bullish or bearish, the share predicted
    /// with that same direction. A neutral prediction counts as wrong (it names no direction).
    pub fn direction_accuracy(&self) -> f64 {
        let (bear, bull) = (SentimentLabel::Bearish.idx(), SentimentLabel::Bullish.idx());
        let correct = self.counts[bear][bear] + self.counts[bull][bull];
        let total: u32 = self.counts[bear].iter().chain(&self.counts[bull]).sum();
        ratio(correct, total)
    }

    /// How many texts are labelled bullish or bearish.
    pub fn n_directional(&self) -> u32 {
        self.counts[0].iter().chain(&self.counts[1]).sum()
    }
}

fn ratio(numerator: u32, denominator: u32) -> f64 {
    if denominator == 0 { 0.0 } else { f64::from(numerator) / f64::from(denominator) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SentimentLabel::{Bearish, Bullish, Neutral};

    #[test]
    fn figures_on_a_small_table() {
        let mut confusion = Confusion::default();
        for (expected, predicted) in [
            (Bullish, Bullish),
            (Bullish, Neutral),
            (Bearish, Bearish),
            (Bearish, Bullish),
            (Neutral, Neutral),
        ] {
            confusion.add(expected, predicted);
        }
        assert!((confusion.direction_accuracy() - 0.5).abs() < 1e-9);
        assert!((confusion.accuracy() - 0.6).abs() < 1e-9);
        // bullish: p 1/2 r 1/2; bearish: p 1 r 1/2; neutral: p 1/2 r 1.
        let expected = (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0;
        assert!((confusion.macro_f1() - expected).abs() < 1e-9);
    }
}

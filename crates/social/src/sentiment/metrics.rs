//! How well predicted labels match expected ones: the figures the trainer tunes on and
//! `tests/sentiment_real.rs` reports, computed in one place so both mean the same thing.

use crate::sentiment::SentimentLabel;

/// Counts of (expected, predicted) pairs over the three classes, and the forced bullish-or-bearish
/// choices on the directional texts.
#[derive(Debug, Clone, Default)]
pub struct Confusion {
    /// `counts[expected][predicted]`, indexed by [`SentimentLabel::idx`].
    pub counts: [[u32; 3]; 3],
    /// Texts labelled bullish or bearish whose forced choice had the labelled direction.
    pub forced_correct: u32,
    /// Texts labelled bullish or bearish on which the forced choice was a tie (no lean at all).
    pub forced_ties: u32,
    /// [`Confusion::forced_correct`] and [`Confusion::forced_ties`] split by the labelled
    /// direction (`[bearish, bullish]`), for [`Confusion::direction_accuracy_forced_balanced`].
    pub forced_by_class: [(u32, u32); 2],
}

impl Confusion {
    /// Adds one prediction that has only a label: its forced choice is its own direction, a tie
    /// when it is neutral. Prefer [`Confusion::add_scored`] when a lean is known.
    pub fn add(&mut self, expected: SentimentLabel, predicted: SentimentLabel) {
        let lean = match predicted {
            SentimentLabel::Bullish => 1.0,
            SentimentLabel::Bearish => -1.0,
            SentimentLabel::Neutral => 0.0,
        };
        self.add_scored(expected, predicted, lean);
    }

    /// Adds one prediction with its lean: positive when bullish is more likely than bearish
    /// (for the model `P(bullish) − P(bearish)`, for a scorer its signed score), used by
    /// [`Confusion::direction_accuracy_forced`].
    pub fn add_scored(&mut self, expected: SentimentLabel, predicted: SentimentLabel, lean: f64) {
        self.counts[expected.idx()][predicted.idx()] += 1;
        let sign = match expected {
            SentimentLabel::Bullish => 1.0,
            SentimentLabel::Bearish => -1.0,
            SentimentLabel::Neutral => return,
        };
        let by_class = &mut self.forced_by_class[usize::from(sign > 0.0)];
        if lean == 0.0 {
            self.forced_ties += 1;
            by_class.1 += 1;
        } else if lean * sign > 0.0 {
            self.forced_correct += 1;
            by_class.0 += 1;
        }
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

    /// Bullish-vs-bearish accuracy, strict: among texts labelled bullish or bearish, the share
    /// predicted with that same direction. A neutral prediction counts as wrong (it names no
    /// direction).
    pub fn direction_accuracy(&self) -> f64 {
        let (bear, bull) = (SentimentLabel::Bearish.idx(), SentimentLabel::Bullish.idx());
        let correct = self.counts[bear][bear] + self.counts[bull][bull];
        let total: u32 = self.counts[bear].iter().chain(&self.counts[bull]).sum();
        ratio(correct, total)
    }

    /// Bullish-vs-bearish accuracy, forced choice (the common definition): among texts labelled
    /// bullish or bearish, the share whose more likely direction (bullish if the lean is
    /// positive, bearish if negative; neutral not allowed) is the labelled one. A text with no
    /// lean at all (a tie, e.g. a lexicon score of exactly 0) counts half, a coin flip's worth.
    pub fn direction_accuracy_forced(&self) -> f64 {
        let total = self.n_directional();
        if total == 0 {
            0.0
        } else {
            (f64::from(self.forced_correct) + 0.5 * f64::from(self.forced_ties)) / f64::from(total)
        }
    }

    /// Forced-choice accuracy with both directions weighted equally: the mean of the forced
    /// accuracy on the texts labelled bearish and on those labelled bullish. It does not depend
    /// on how many of each a set has, so a model tuned on it does not lean to the commoner one.
    pub fn direction_accuracy_forced_balanced(&self) -> f64 {
        let (bear, bull) = (SentimentLabel::Bearish.idx(), SentimentLabel::Bullish.idx());
        let per_class = [bear, bull].map(|class| {
            let total: u32 = self.counts[class].iter().sum();
            let (correct, ties) = self.forced_by_class[usize::from(class == bull)];
            if total == 0 { 0.0 } else { (f64::from(correct) + 0.5 * f64::from(ties)) / f64::from(total) }
        });
        (per_class[0] + per_class[1]) / 2.0
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
        // Forced: the bullish-read-as-neutral text is a tie (half), the bearish-read-as-bullish
        // one wrong: (1 + 0.5 + 1 + 0) / 4.
        assert!((confusion.direction_accuracy_forced() - 0.625).abs() < 1e-9);
        assert!((confusion.accuracy() - 0.6).abs() < 1e-9);
        // bullish: p 1/2 r 1/2; bearish: p 1 r 1/2; neutral: p 1/2 r 1.
        let expected = (0.5 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0;
        assert!((confusion.macro_f1() - expected).abs() < 1e-9);
    }

    #[test]
    fn forced_choice_uses_the_lean_of_a_neutral_prediction() {
        let mut confusion = Confusion::default();
        confusion.add_scored(Bullish, Neutral, 0.2);
        confusion.add_scored(Bearish, Neutral, 0.1);
        confusion.add_scored(Bearish, Bearish, -0.7);
        confusion.add_scored(Neutral, Neutral, 0.3);
        assert_eq!(confusion.n_directional(), 3);
        assert!((confusion.direction_accuracy() - 1.0 / 3.0).abs() < 1e-9);
        assert!((confusion.direction_accuracy_forced() - 2.0 / 3.0).abs() < 1e-9);
        // Bullish 1/1, bearish 1/2.
        assert!((confusion.direction_accuracy_forced_balanced() - 0.75).abs() < 1e-9);
    }
}

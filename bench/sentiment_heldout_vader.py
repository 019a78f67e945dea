"""Real VADER (vaderSentiment, compound score at the usual +-0.05) on the TFNS held-out split, with
the same figures tests/sentiment_real.rs prints for tickerwatch: 3-class macro-F1 and
bullish-vs-bearish accuracy (neutral predictions on bullish/bearish texts count as wrong).
Run through run-sentiment-compare.sh. Evaluation only: nothing here is tuned on this file.

Usage: sentiment_heldout_vader.py crates/social/tests/data/heldout/tfns-valid.csv
"""

import csv
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

NAMES = {"0": "bearish", "1": "bullish", "2": "neutral"}


def label(score):
    if score >= 0.05:
        return "bullish"
    if score <= -0.05:
        return "bearish"
    return "neutral"


def macro_f1(pairs):
    f1s = []
    for cls in ("bearish", "bullish", "neutral"):
        tp = sum(1 for e, p in pairs if e == cls and p == cls)
        predicted = sum(1 for _, p in pairs if p == cls)
        actual = sum(1 for e, _ in pairs if e == cls)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1s.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(f1s) / 3


def main():
    with open(sys.argv[1], encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    analyzer = SentimentIntensityAnalyzer()
    pairs = [(NAMES[row["label"]], label(analyzer.polarity_scores(row["text"])["compound"])) for row in rows]
    directional = [(e, p) for e, p in pairs if e != "neutral"]
    accuracy = sum(e == p for e, p in directional) / len(directional)
    print(f"vaderSentiment on tfns-valid (held out): n {len(pairs)} macro-F1 {macro_f1(pairs):.3f} "
          f"bull/bear acc {accuracy:.3f}")


if __name__ == "__main__":
    main()

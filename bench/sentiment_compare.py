"""Score the same posts as `extract_bench` with vaderSentiment and a regex ticker extractor, time
it, and compare with tickerwatch's scores (posts/s for both, the speed ratio, label agreement and
score correlation). Run through run-sentiment-compare.sh, which writes the texts and our scores.

Usage: sentiment_compare.py TEXTS.jsonl OURS.jsonl OURS_POSTS_PER_SECOND
"""

import json
import math
import re
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# The usual quick extractor: cashtags plus upper-case words of 1-5 letters.
TICKER = re.compile(r"\$?\b[A-Z]{1,5}(?:\.[A-Z])?\b")


def label(score):
    if score >= 0.05:
        return "bullish"
    if score <= -0.05:
        return "bearish"
    return "neutral"


def pearson(xs, ys):
    n = len(xs)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    var_x = sum((x - mean_x) ** 2 for x in xs)
    var_y = sum((y - mean_y) ** 2 for y in ys)
    return cov / math.sqrt(var_x * var_y) if var_x and var_y else float("nan")


def main():
    texts_path, ours_path, ours_rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(texts_path, encoding="utf-8") as f:
        texts = [json.loads(line) for line in f]
    with open(ours_path, encoding="utf-8") as f:
        ours = [json.loads(line)["score"] for line in f]

    analyzer = SentimentIntensityAnalyzer()
    started = time.perf_counter()
    vader = []
    n_mentions = 0
    for text in texts:
        n_mentions += len(set(TICKER.findall(text)))
        vader.append(analyzer.polarity_scores(text)["compound"])
    seconds = time.perf_counter() - started
    vader_rate = len(texts) / seconds

    agreement = sum(label(a) == label(b) for a, b in zip(ours, vader)) / len(texts)
    print(f"vaderSentiment + regex: {len(texts)} posts in {seconds:.1f} s = {vader_rate:,.0f} posts/s "
          f"({n_mentions} regex mentions)")
    print(f"tickerwatch:            {ours_rate:,.0f} posts/s")
    print(f"speed ratio (tickerwatch / vaderSentiment): {ours_rate / vader_rate:.1f}x")
    print(f"label agreement (bullish/bearish/neutral at +-0.05): {agreement:.3f}")
    print(f"score correlation (Pearson): {pearson(ours, vader):.3f}")


if __name__ == "__main__":
    main()

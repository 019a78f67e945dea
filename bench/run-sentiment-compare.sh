#!/usr/bin/env bash
# Extraction + sentiment over the same synthetic posts with tickerwatch (release build, one thread)
# and with vaderSentiment + a regex extractor (installed into bench/.venv from PyPI); prints posts/s
# for both, the speed ratio, and how often the two agree. Then accuracy on the held-out TFNS split:
# real VADER here, tickerwatch's model and its VADER-style baseline via tests/sentiment_real.rs.
# Usage: bench/run-sentiment-compare.sh [N_POSTS]   (default 1,000,000; at about 12,000 posts/s
# vaderSentiment takes a minute or two for that)
set -euo pipefail
cd "$(dirname "$0")/.."
n_posts="${1:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ ! -f bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
if ! bench/.venv/bin/python -c 'import vaderSentiment' 2>/dev/null; then
    bench/.venv/bin/pip install -q vaderSentiment
fi

out=$(cargo run --release -q -p social --example extract_bench -- --posts "$n_posts" \
    --write-texts "$work/texts.jsonl" --write-scores "$work/ours.jsonl")
echo "$out"
rate=$(sed -nE 's/.* = ([0-9]+) posts\/s.*/\1/p' <<< "$out")
bench/.venv/bin/python bench/sentiment_compare.py "$work/texts.jsonl" "$work/ours.jsonl" "$rate"
bench/.venv/bin/python bench/sentiment_heldout_vader.py crates/social/tests/data/heldout/tfns-valid.csv
cargo test -q -p social --test sentiment_real -- --nocapture 2>&1 | grep -E 'held out|note:'

//! Throughput of extraction + sentiment on one core.
//!
//! Builds 1,000,000 short posts from the labelled sets with variations (symbol swaps, prefixes,
//! suffixes, emoji), then runs `extract_mentions_into` + `sentiment::score` over all of them on
//! one thread and prints posts/s, and how much the symbol universe adds to the resident set.
//!
//! `cargo run --release -p social --example extract_bench [-- --posts N] [--write-texts PATH]`
//! `--write-texts` writes the posts (one JSON string per line) for `bench/sentiment_compare.py`,
//! and `--write-scores PATH` our symbols and scores for the same texts.

use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::time::Instant;

use social::extract::SymbolUniverse;
use social::sentiment;

const LABELLED_POSTS: &str = include_str!("../data/labelled-posts.jsonl");
const LABELLED_SENTENCES: &str = include_str!("../data/labelled-sentiment.jsonl");

const PREFIXES: &[&str] = &["", "", "", "Honestly ", "Update: ", "lol ", "IMO ", "Quick one: ", "Edit: "];
const SUFFIXES: &[&str] =
    &["", "", "", " 🚀", " 📉", "!!", " 💎🙌", " not financial advice", " thoughts?", " 🐻"];
const SWAPS: &[&str] = &["NVDA", "AAPL", "TSLA", "AMD", "PLTR", "GME", "MSFT", "SOFI", "HOOD", "COIN", "SPY"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut n_posts = 1_000_000usize;
    let mut texts_path = None;
    let mut scores_path = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--posts" => n_posts = args.next().ok_or("--posts needs a number")?.parse()?,
            "--write-texts" => texts_path = Some(args.next().ok_or("--write-texts needs a path")?),
            "--write-scores" => scores_path = Some(args.next().ok_or("--write-scores needs a path")?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }

    let posts = build_posts(n_posts)?;
    let n_bytes: usize = posts.iter().map(String::len).sum();
    if let Some(path) = &texts_path {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        for post in &posts {
            writeln!(out, "{}", serde_json::to_string(post)?)?;
        }
        out.flush()?;
        println!("wrote {} texts to {path}", posts.len());
    }

    let rss_before = resident_kib();
    let universe = SymbolUniverse::bundled();
    if let (Some(before), Some(after)) = (rss_before, resident_kib()) {
        println!(
            "symbol universe: {} symbols, RSS +{:.1} MB (VmRSS {before} -> {after} KiB)",
            universe.len(),
            after.saturating_sub(before) as f64 / 1024.0
        );
    }
    // Warm-up: build the lexicon and touch the code once.
    black_box(sentiment::score("warm up"));

    let mut mentions = Vec::new();
    let started = Instant::now();
    let mut n_mentions = 0usize;
    let mut score_sum = 0.0f64;
    for post in &posts {
        universe.extract_mentions_into(black_box(post), &mut mentions);
        n_mentions += mentions.len();
        score_sum += sentiment::score(black_box(post));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "extraction + sentiment: {} posts ({:.1} MB) in {elapsed:.3} s = {:.0} posts/s on one thread \
         ({n_mentions} mentions, mean score {:.3})",
        posts.len(),
        n_bytes as f64 / 1e6,
        posts.len() as f64 / elapsed,
        score_sum / posts.len() as f64,
    );

    if let Some(path) = &scores_path {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        for post in &posts {
            let symbols: Vec<&str> =
                universe.extract_mentions(post).iter().map(|mention| mention.symbol).collect();
            let line = serde_json::json!({ "symbols": symbols, "score": sentiment::score(post) });
            writeln!(out, "{line}")?;
        }
        out.flush()?;
        println!("wrote scores to {path}");
    }
    Ok(())
}

/// Resident set size in KiB from `/proc/self/status` (Linux; `None` elsewhere).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `n` posts cycling through the labelled texts with deterministic variations.
fn build_posts(n: usize) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut bases = Vec::new();
    for line in
        LABELLED_POSTS.lines().chain(LABELLED_SENTENCES.lines()).filter(|line| !line.trim().is_empty())
    {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if let Some(text) = value.get("text").and_then(serde_json::Value::as_str) {
            bases.push(text.to_owned());
        }
    }
    let mut posts = Vec::with_capacity(n);
    // A small linear congruential generator keeps the set reproducible without a dependency.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    for idx in 0..n {
        let base = &bases[idx % bases.len()];
        let mut text = String::with_capacity(base.len() + 24);
        text.push_str(PREFIXES[next() % PREFIXES.len()]);
        let swap = SWAPS[next() % SWAPS.len()];
        match SWAPS.iter().find(|symbol| base.contains(*symbol)) {
            Some(symbol) if next() % 2 == 0 => text.push_str(&base.replacen(symbol, swap, 1)),
            _ => text.push_str(base),
        }
        text.push_str(SUFFIXES[next() % SUFFIXES.len()]);
        posts.push(text);
    }
    Ok(posts)
}

//! Trains the sentiment model that `social::sentiment` embeds (`data/sentiment-model.tsv`).
//!
//! A three-class (bearish, bullish, neutral) multinomial logistic regression over
//! `sentiment::features`, fitted by AdaGrad SGD with L2 regularisation and class weights
//! (`--balance`: each class weighs `(n / (3·n_class))^balance`, so the rare bullish and bearish
//! classes are not drowned by neutral). Deterministic: the dev split and the example order come
//! from a fixed-seed generator, so the same data and flags give the same file.
//!
//! Data (never the held-out files under `tests/data/heldout` or `heldout.jsonl`):
//! - `--tfns PATH`: Twitter Financial News Sentiment, train split (CSV `text,label`); a
//!   `--dev-frac` share of it (default 0.15) is the dev split for tuning.
//! - `--jsonl PATH[@DEV_FRAC[@WEIGHT]]` (repeatable): JSON lines with `text` and `label`
//!   (bullish/bearish/neutral or positive/negative/neutral); optionally a dev share, and a weight
//!   for each example in the loss (retail posts are few next to 9,500 news tweets, so they get
//!   more than 1 to be heard).
//!
//! Without `--final` it trains on the train part, prints dev figures (with the VADER-style
//! baseline for comparison) and writes nothing unless `--out` is given. With `--final` it trains
//! on train + dev with the same settings and writes the model (default
//! `crates/social/data/sentiment-model.tsv`), the dev figures of the tuning run in its header.
//!
//! `cargo run --release -p social --example train_sentiment -- [--final] [--epochs N] [--lr X]
//! [--l2 X] [--balance X] [--min-count N] [--prune X] [--seed N] [--neutral-offset X] [--bear-offset X]
//! [--reddit-weight X] [--folds K] [--reddit-share PERCENT] [--show-misses]`; `-- --explain TEXT` prints the embedded
//! model's probabilities for TEXT and the weights of its features.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use social::sentiment::features::{feature_hash_of_name, for_each_feature};
use social::sentiment::metrics::Confusion;
use social::sentiment::{SentimentLabel, label, vader_baseline};

/// Sources used when no `--jsonl` is given: (path under the crate, dev share, weight, required).
/// The old hand-labelled regression set and the self-written retail set cover the cues news
/// tweets lack (positions, emoji, sarcasm, negation). The real r/wallstreetbets texts
/// (`tests/data/reddit-real/`: `dev.jsonl` labelled on branch issue14-label, `train.jsonl` on
/// issue14-label2) are the in-domain data: `dev.jsonl` is the Reddit dev split (all of it when
/// `train.jsonl` is present, else half), or with `--folds K` both are pooled for K-fold
/// cross-validation. Their weight is set with `--reddit-weight` (see `Settings`).
const DEFAULT_JSONL: [(&str, f64, f32, bool); 2] = [
    ("data/labelled-sentiment.jsonl", 0.0, 3.0, true),
    ("data/sentiment-train-retail.jsonl", 0.0, 3.0, true),
];
const REDDIT_DEV: &str = "tests/data/reddit-real/dev.jsonl";
const REDDIT_TRAIN: &str = "tests/data/reddit-real/train.jsonl";

struct Example {
    text: String,
    label: SentimentLabel,
    /// How much the example counts in the loss (its source's `@WEIGHT`).
    weight: f32,
}

struct Source {
    name: String,
    train: Vec<Example>,
    dev: Vec<Example>,
}

struct Settings {
    epochs: usize,
    learning_rate: f32,
    l2: f32,
    balance: f64,
    min_count: u32,
    prune: f32,
    seed: u64,
    /// Added to the neutral weight of `c:bias` after fitting: news tweets are two-thirds neutral,
    /// Reddit posts far less, and a lower neutral prior lets directional posts through. It trades
    /// macro-F1 for strict bull/bear accuracy (the forced figure does not move). Chosen on the
    /// 10-fold Reddit cross-validation by the mean of Reddit macro-F1 and strict bull/bear
    /// accuracy. With the first 1,300 texts of train.jsonl: 0 gave 0.574 / 0.550, -0.3
    /// 0.556 / 0.587, -0.5 0.543 / 0.612 (best mean), -0.6 0.531 / 0.616, -0.8 0.511 / 0.628.
    /// With all 1,460 the mean is flat from -0.3 to -0.8 (0.557, 0.559, 0.558, 0.564; seeds move
    /// it by ±0.01), so -0.5 was kept: TFNS dev macro-F1 is 0.714 there and 0.683 at -0.8.
    neutral_offset: f32,
    /// Added to the bearish weight of `c:bias` after fitting (`--bear-offset`): the training
    /// texts hold fewer bearish than bullish posts, so the fitted prior leans bullish on a forced
    /// choice. Judged on the Reddit cross-validation by the balanced forced accuracy (the mean
    /// over bearish and bullish texts), which does not depend on the class mix of a set. Mean
    /// over seeds 1, 2, 3 and 14: 0.694 at 0 and 0.1, 0.696 at 0.2 and 0.3 (seeds alone move it
    /// by ±0.005), while TFNS dev macro-F1 falls (0.709 → 0.695); so 0 is kept.
    ///
    /// Also tried on the same cross-validation and dropped, each within ±0.003 of the shipped
    /// model over the four seeds: a `dead` cue category ("worthless", "wiped out", "rip my")
    /// with position interactions; `long|own` / `short|own` for a position after "my", "i",
    /// "bought", "holding"; a bullish-vs-bearish model trained on directional texts only
    /// (forced 0.711); l2 0.003–0.03, 8 or 15 epochs, Reddit weight 3 or 6 (forced 0.704–0.718).
    bear_offset: f32,
    /// Loss weight of each real Reddit text (`--reddit-weight`). 3 on the 5-fold Reddit
    /// cross-validation: 1, 3, 6, 10 and 20 all gave forced bull/bear 0.70-0.71 and macro-F1
    /// 0.54-0.55; more weight only cost TFNS macro-F1 (0.748 at 1, 0.732 at 3, 0.695 at 20).
    reddit_weight: f32,
    /// Cross-validation folds over the pooled Reddit texts (`--folds`, default 10; 0 or 1: none),
    /// reported next to the fixed dev splits. With 1,646 Reddit texts the folds' figures are
    /// steadier than those of dev.jsonl alone (346 texts).
    folds: usize,
    /// Percent of the other folds' Reddit texts each fold model trains on (`--reddit-share`,
    /// default 100): a learning curve, to judge whether labelling more texts would pay.
    reddit_share: usize,
}

/// Feature vectors for training: the index of each kept feature name, and each example as
/// (feature index, value) pairs.
struct Dataset {
    names: Vec<String>,
    index: HashMap<u64, usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut tfns = manifest.join("../../../shared/data/sentiment-train/tfns-train.csv");
    let mut jsonl: Vec<(PathBuf, f64, f32)> = Vec::new();
    let mut dev_frac = 0.15;
    let mut out: Option<PathBuf> = None;
    let mut is_final = false;
    let mut show_misses = false;
    let mut settings = Settings {
        epochs: 8,
        learning_rate: 0.05,
        l2: 1e-2,
        balance: 1.0,
        min_count: 2,
        prune: 1e-3,
        seed: 14,
        neutral_offset: -0.5,
        bear_offset: 0.0,
        reddit_weight: 3.0,
        folds: 10,
        reddit_share: 100,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--tfns" => tfns = value()?.into(),
            "--jsonl" => {
                let spec = value()?;
                let mut parts = spec.split('@');
                let path = parts.next().unwrap_or_default();
                let frac = parts.next().map_or(Ok(0.0), str::parse)?;
                let weight = parts.next().map_or(Ok(1.0), str::parse)?;
                jsonl.push((path.into(), frac, weight));
            }
            "--dev-frac" => dev_frac = value()?.parse()?,
            "--out" => out = Some(value()?.into()),
            "--final" => is_final = true,
            "--epochs" => settings.epochs = value()?.parse()?,
            "--lr" => settings.learning_rate = value()?.parse()?,
            "--l2" => settings.l2 = value()?.parse()?,
            "--balance" => settings.balance = value()?.parse()?,
            "--min-count" => settings.min_count = value()?.parse()?,
            "--prune" => settings.prune = value()?.parse()?,
            "--seed" => settings.seed = value()?.parse()?,
            "--neutral-offset" => settings.neutral_offset = value()?.parse()?,
            "--bear-offset" => settings.bear_offset = value()?.parse()?,
            "--reddit-weight" => settings.reddit_weight = value()?.parse()?,
            "--folds" => settings.folds = value()?.parse()?,
            "--reddit-share" => settings.reddit_share = value()?.parse::<usize>()?.min(100),
            "--show-misses" => show_misses = true,
            "--explain" => {
                let text = value()?;
                let probs = social::sentiment::probabilities(&text);
                println!("{text:?}: bearish {:.2} bullish {:.2} neutral {:.2}", probs[0], probs[1], probs[2]);
                for (name, value, row) in social::sentiment::explain(&text) {
                    println!("  {name:<28} x{value:.2}  {:>7.3} {:>7.3} {:>7.3}", row[0], row[1], row[2]);
                }
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if tfns.components().any(|part| part.as_os_str() == "heldout")
        || jsonl.iter().any(|(path, _, _)| {
            path.components().any(|part| part.as_os_str() == "heldout")
                || path.file_name().is_some_and(|name| name.to_string_lossy().contains("heldout"))
        })
    {
        return Err("held-out data is for evaluation only".into());
    }

    if jsonl.is_empty() {
        for (file, frac, weight, required) in DEFAULT_JSONL {
            let path = manifest.join(file);
            if required || path.exists() {
                jsonl.push((path, frac, weight));
            }
        }
        let has_train = manifest.join(REDDIT_TRAIN).exists();
        let dev_share = if has_train { 1.0 } else { 0.5 };
        jsonl.push((manifest.join(REDDIT_DEV), dev_share, settings.reddit_weight));
        if has_train {
            jsonl.push((manifest.join(REDDIT_TRAIN), 0.0, settings.reddit_weight));
        } else {
            println!("note: {REDDIT_TRAIN} not present, trained without it");
        }
    }
    let mut rng = Lcg(settings.seed);
    let mut sources = vec![split("tfns-train", read_tfns(&tfns)?, dev_frac, &mut rng)];
    for (path, frac, weight) in &jsonl {
        // The file and its folder ("reddit-real/dev.jsonl"), never an absolute path.
        let mut parts = path.iter().rev().take(2).map(|part| part.to_string_lossy()).collect::<Vec<_>>();
        parts.reverse();
        let name = parts.join("/");
        sources.push(split(&name, read_jsonl(path, *weight)?, *frac, &mut rng));
    }

    let train: Vec<&Example> = sources.iter().flat_map(|source| &source.train).collect();
    let mut report = String::new();
    writeln!(report, "# settings: {}", settings.describe())?;
    for source in &sources {
        let weight = source.train.first().or(source.dev.first()).map_or(1.0, |example| example.weight);
        writeln!(
            report,
            "# data: {} train {} dev {} weight {weight}",
            source.name,
            source.train.len(),
            source.dev.len()
        )?;
    }
    let (dataset, weights) = fit(&train, &settings);
    for source in sources.iter().filter(|source| !source.dev.is_empty()) {
        let (mut model, mut baseline) = (Confusion::default(), Confusion::default());
        evaluate(&dataset, &weights, &source.dev, &mut model, &mut baseline);
        write_figures(&mut report, &source.name, source.dev.len(), &model, &baseline)?;
        if show_misses {
            print_misses(&source.name, &dataset, &weights, &source.dev);
        }
    }
    if settings.folds > 1 {
        cross_validate(&sources, &settings, &mut report)?;
    }
    print!("{report}");
    // A rough speed check of the embedded model (after a warm-up that builds it).
    let mut sum = social::sentiment::score("warm up");
    let started = std::time::Instant::now();
    for _ in 0..5 {
        for example in &train {
            sum += social::sentiment::score(std::hint::black_box(&example.text));
        }
    }
    println!(
        "(embedded model: {:.0} texts/s with sentiment::score, mean {:.3})",
        5.0 * train.len() as f64 / started.elapsed().as_secs_f64(),
        sum / (5.0 * train.len() as f64)
    );

    if is_final {
        let all: Vec<&Example> =
            sources.iter().flat_map(|source| source.train.iter().chain(&source.dev)).collect();
        let (dataset, weights) = fit(&all, &settings);
        let path = out.unwrap_or_else(|| manifest.join("data/sentiment-model.tsv"));
        write_model(&path, &dataset, &weights, &settings, &report, all.len())?;
    } else if let Some(path) = out {
        write_model(&path, &dataset, &weights, &settings, &report, train.len())?;
    }
    Ok(())
}

impl Settings {
    fn describe(&self) -> String {
        format!(
            "epochs {} lr {} l2 {} balance {} min-count {} prune {} seed {} neutral-offset {} \
             bear-offset {} reddit-weight {} folds {} reddit-share {}",
            self.epochs,
            self.learning_rate,
            self.l2,
            self.balance,
            self.min_count,
            self.prune,
            self.seed,
            self.neutral_offset,
            self.bear_offset,
            self.reddit_weight,
            self.folds,
            self.reddit_share
        )
    }
}

/// A 64-bit linear congruential generator: reproducible without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for idx in (1..items.len()).rev() {
            items.swap(idx, self.below(idx + 1));
        }
    }
}

fn split(name: &str, mut examples: Vec<Example>, dev_frac: f64, rng: &mut Lcg) -> Source {
    rng.shuffle(&mut examples);
    let n_dev = (examples.len() as f64 * dev_frac).round() as usize;
    let train = examples.split_off(n_dev);
    Source { name: name.to_owned(), train, dev: examples }
}

fn read_tfns(path: &Path) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut examples = Vec::new();
    for record in parse_csv(&text).into_iter().skip(1) {
        let [text, label] = record.as_slice() else { return Err(format!("bad record {record:?}").into()) };
        let label = match label.as_str() {
            "0" => SentimentLabel::Bearish,
            "1" => SentimentLabel::Bullish,
            "2" => SentimentLabel::Neutral,
            other => SentimentLabel::parse(other).ok_or_else(|| format!("bad label {other:?}"))?,
        };
        examples.push(Example { text: text.clone(), label, weight: 1.0 });
    }
    Ok(examples)
}

fn read_jsonl(path: &Path, weight: f32) -> Result<Vec<Example>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let mut examples = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line)?;
        let text = value.get("text").and_then(serde_json::Value::as_str).ok_or("no text")?;
        let label = value
            .get("label")
            .or_else(|| value.get("sentiment"))
            .and_then(serde_json::Value::as_str)
            .and_then(SentimentLabel::parse)
            .ok_or_else(|| format!("no usable label in {line}"))?;
        examples.push(Example { text: text.to_owned(), label, weight });
    }
    Ok(examples)
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

/// Sparse feature vector of a text over the dataset's kept features (duplicates summed).
fn vectorize(dataset: &Dataset, text: &str) -> Vec<(usize, f32)> {
    let mut vector: Vec<(usize, f32)> = Vec::new();
    for_each_feature(text, |feature, value| {
        if let Some(&idx) = dataset.index.get(&feature.hash) {
            match vector.iter_mut().find(|(known, _)| *known == idx) {
                Some(entry) => entry.1 += value,
                None => vector.push((idx, value)),
            }
        }
    });
    vector
}

fn fit(examples: &[&Example], settings: &Settings) -> (Dataset, Vec<[f32; 3]>) {
    // Keep features seen in at least `min_count` texts; cues always (they are few and shared).
    let mut counts: HashMap<u64, (String, u32)> = HashMap::new();
    for example in examples {
        let mut seen = Vec::new();
        for_each_feature(&example.text, |feature, _| {
            if !seen.contains(&feature.hash) {
                seen.push(feature.hash);
                counts.entry(feature.hash).or_insert_with(|| (feature.name_string(), 0)).1 += 1;
            }
        });
    }
    let mut kept: Vec<(u64, String)> = counts
        .into_iter()
        .filter(|(_, (name, count))| *count >= settings.min_count || name.starts_with("c:"))
        .map(|(hash, (name, _))| (hash, name))
        .collect();
    kept.sort_by(|a, b| a.1.cmp(&b.1));
    let index = kept.iter().enumerate().map(|(idx, (hash, _))| (*hash, idx)).collect();
    let dataset = Dataset { names: kept.into_iter().map(|(_, name)| name).collect(), index };

    let vectors: Vec<Vec<(usize, f32)>> =
        examples.iter().map(|example| vectorize(&dataset, &example.text)).collect();
    let mut class_counts = [0usize; 3];
    for example in examples {
        class_counts[example.label.idx()] += 1;
    }
    let class_weights = class_counts
        .map(|count| ((examples.len() as f64 / (3.0 * count.max(1) as f64)).powf(settings.balance)) as f32);

    let mut weights = vec![[0.0f32; 3]; dataset.names.len()];
    let mut squared = vec![[0.0f32; 3]; dataset.names.len()];
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut rng = Lcg(settings.seed ^ 0x5eed);
    for _ in 0..settings.epochs {
        rng.shuffle(&mut order);
        for &example_idx in &order {
            let vector = &vectors[example_idx];
            let target = examples[example_idx].label.idx();
            let probs = predict(&weights, vector);
            let class_weight = class_weights[target] * examples[example_idx].weight;
            for &(feature, value) in vector {
                for class in 0..3 {
                    let expected = if class == target { 1.0 } else { 0.0 };
                    let gradient = class_weight * (probs[class] - expected) * value
                        + settings.l2 * weights[feature][class];
                    squared[feature][class] += gradient * gradient;
                    weights[feature][class] -=
                        settings.learning_rate * gradient / (squared[feature][class].sqrt() + 1e-6);
                }
            }
        }
    }
    if let Some(&bias) = dataset.index.get(&feature_hash_of_name("c:bias").unwrap_or_default()) {
        weights[bias][2] += settings.neutral_offset;
        weights[bias][0] += settings.bear_offset;
    }
    // Pruned here, not only when writing, so the dev figures are those of the written model.
    for row in &mut weights {
        if row.iter().all(|weight| weight.abs() < settings.prune) {
            *row = [0.0; 3];
        }
    }
    (dataset, weights)
}

fn predict(weights: &[[f32; 3]], vector: &[(usize, f32)]) -> [f32; 3] {
    let mut logits = [0.0f32; 3];
    for &(feature, value) in vector {
        for class in 0..3 {
            logits[class] += weights[feature][class] * value;
        }
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps = logits.map(|logit| (logit - max).exp());
    let sum: f32 = exps.iter().sum();
    exps.map(|value| value / sum)
}

/// Whether a source is real Reddit text (pooled for cross-validation).
fn is_reddit(source: &Source) -> bool {
    source.name.starts_with("reddit-real/")
}

/// K-fold cross-validation over the pooled Reddit texts (train and dev parts of every Reddit
/// source): fold k is every K-th text from offset k of the shuffled pool; each fold's model is
/// trained on all other training data and the other folds. The Reddit figures add up over the
/// folds; the other sources' dev splits are scored by every fold's model and added up too.
fn cross_validate(
    sources: &[Source],
    settings: &Settings,
    report: &mut String,
) -> Result<(), Box<dyn std::error::Error>> {
    let pooled: Vec<&Example> = sources
        .iter()
        .filter(|source| is_reddit(source))
        .flat_map(|source| source.train.iter().chain(&source.dev))
        .collect();
    let others: Vec<&Source> = sources.iter().filter(|source| !is_reddit(source)).collect();
    let k = settings.folds;
    let mut reddit = (Confusion::default(), Confusion::default());
    let mut other_figures = vec![(Confusion::default(), Confusion::default()); others.len()];
    for fold in 0..k {
        let train: Vec<&Example> = others
            .iter()
            .flat_map(|source| &source.train)
            .chain(
                pooled
                    .iter()
                    .enumerate()
                    // A fixed pseudo-random subset of each fold, the same for every fold model.
                    .filter(|(idx, _)| idx % k != fold && (idx / k) * 7919 % 100 < settings.reddit_share)
                    .map(|(_, example)| *example),
            )
            .collect();
        let (dataset, weights) = fit(&train, settings);
        let held = pooled.iter().enumerate().filter(|(idx, _)| idx % k == fold).map(|(_, example)| *example);
        evaluate(&dataset, &weights, held, &mut reddit.0, &mut reddit.1);
        for (source, figures) in others.iter().zip(&mut other_figures) {
            evaluate(&dataset, &weights, &source.dev, &mut figures.0, &mut figures.1);
        }
    }
    write_figures(report, &format!("reddit-real {k}-fold CV"), pooled.len(), &reddit.0, &reddit.1)?;
    for (source, figures) in others.iter().zip(&other_figures).filter(|(source, _)| !source.dev.is_empty()) {
        let name = format!("{} (summed over the {k} fold models)", source.name);
        write_figures(report, &name, source.dev.len(), &figures.0, &figures.1)?;
    }
    Ok(())
}

fn write_figures(
    report: &mut String,
    name: &str,
    n: usize,
    model: &Confusion,
    baseline: &Confusion,
) -> std::fmt::Result {
    writeln!(
        report,
        "# dev {name}: n {n} | model macro-F1 {:.3} bull/bear strict {:.3} forced {:.3} \
         (balanced {:.3}) | vader_baseline macro-F1 {:.3} bull/bear strict {:.3} forced {:.3}",
        model.macro_f1(),
        model.direction_accuracy(),
        model.direction_accuracy_forced(),
        model.direction_accuracy_forced_balanced(),
        baseline.macro_f1(),
        baseline.direction_accuracy(),
        baseline.direction_accuracy_forced(),
    )?;
    writeln!(report, "#   confusion (rows expected bear/bull/neu, columns predicted): {:?}", model.counts)
}

fn print_misses(source: &str, dataset: &Dataset, weights: &[[f32; 3]], examples: &[Example]) {
    for example in examples {
        let probs = predict(weights, &vectorize(dataset, &example.text));
        let got = SentimentLabel::ALL[argmax(&probs)];
        if got != example.label {
            let text: String = example.text.chars().take(200).collect();
            println!(
                "miss {source} {} → {} ({:.2}): {text:?}",
                example.label.as_str(),
                got.as_str(),
                probs[1] - probs[0]
            );
        }
    }
}

fn evaluate<'e>(
    dataset: &Dataset,
    weights: &[[f32; 3]],
    examples: impl IntoIterator<Item = &'e Example>,
    model: &mut Confusion,
    baseline: &mut Confusion,
) {
    for example in examples {
        let probs = predict(weights, &vectorize(dataset, &example.text));
        model.add_scored(example.label, SentimentLabel::ALL[argmax(&probs)], f64::from(probs[1] - probs[0]));
        let score = vader_baseline::score(&example.text);
        baseline.add_scored(example.label, label(score), score);
    }
}

/// The most probable class, neutral on ties (as `sentiment::classify`).
fn argmax(probs: &[f32; 3]) -> usize {
    let mut best = 2;
    for class in 0..3 {
        if probs[class] > probs[best] {
            best = class;
        }
    }
    best
}

fn write_model(
    path: &Path,
    dataset: &Dataset,
    weights: &[[f32; 3]],
    settings: &Settings,
    report: &str,
    n_examples: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = String::new();
    writeln!(
        out,
        "# Sentiment model for social::sentiment: feature<TAB>bearish<TAB>bullish<TAB>neutral weights."
    )?;
    writeln!(
        out,
        "# Written by `cargo run --release -p social --example train_sentiment -- --final`; do not edit."
    )?;
    writeln!(out, "# Trained on {n_examples} labelled texts; features: see src/sentiment/features.rs.")?;
    out.push_str(report);
    let mut n_written = 0;
    for (name, row) in dataset.names.iter().zip(weights) {
        if row.iter().all(|weight| weight.abs() < settings.prune) {
            continue;
        }
        writeln!(out, "{name}\t{:.4}\t{:.4}\t{:.4}", row[0], row[1], row[2])?;
        n_written += 1;
    }
    std::fs::write(path, out)?;
    println!("wrote {n_written} of {} features to {}", dataset.names.len(), path.display());
    Ok(())
}

//! The VADER-style lexicon scorer tickerwatch used before the learned model; kept as the baseline
//! that `tests/sentiment_real.rs` compares the model against.
//!
//! Why it was a lexicon scorer: it is fast (hundreds of thousands of posts per second on one core),
//! needs no model files, and is explainable. This is our own implementation of the VADER algorithm
//! (Hutto & Gilbert, 2014): the valences of lexicon words are summed, each adjusted by
//! - boosters and dampeners among the three preceding words ("very", "slightly"; ±0.293, weaker
//!   the further away),
//! - negation among the three preceding words ("not", "never", "don't": ×-0.74),
//! - ALL-CAPS emphasis when the text mixes cases (±0.733),
//! - "but": words before the first "but" count half, words after it 1.5×,
//! - exclamation marks (up to 4, +0.292 each) and repeated question marks, in the direction of
//!   the sum,
//!
//! and the sum is normalised with `x / sqrt(x² + 15)`. The lexicon (`data/sentiment-lexicon.tsv`)
//! is written for tickerwatch: a few hundred common English words with VADER-like valences plus
//! market slang ("moon", "tendies", "bagholder", "puts", "calls", "drilling", "rug pull") and emoji
//! (🚀, 💎🙌, 🐻, 📉, 📈). Two-word phrases are matched before single words.
//!
//! Left out of VADER on purpose: its idiom list, the "least" and "kind of" special cases, and
//! emoji-to-text translation (emoji are lexicon entries here). Sarcasm ("oh great, another red
//! day") is scored literally, as VADER does.

use std::sync::LazyLock;

use crate::extract::FastMap;

pub(crate) const LEXICON_TSV: &str = include_str!("../../data/sentiment-lexicon.tsv");

const BOOST_INCREMENT: f32 = 0.293;
const BOOST_DECREMENT: f32 = -0.293;
const CAPS_INCREMENT: f32 = 0.733;
const NEGATION_SCALAR: f32 = -0.74;
const NORMALIZATION_ALPHA: f64 = 15.0;
const MAX_WORD_LEN: usize = 32;

const BOOSTERS: &[&str] = &[
    "absolutely",
    "amazingly",
    "completely",
    "considerably",
    "decidedly",
    "deeply",
    "enormously",
    "entirely",
    "especially",
    "exceptionally",
    "extremely",
    "fabulously",
    "fully",
    "greatly",
    "highly",
    "hugely",
    "incredibly",
    "intensely",
    "majorly",
    "more",
    "most",
    "particularly",
    "purely",
    "quite",
    "really",
    "remarkably",
    "so",
    "substantially",
    "thoroughly",
    "totally",
    "tremendously",
    "unbelievably",
    "unusually",
    "utterly",
    "very",
    "super",
    "mega",
    "hella",
    "fucking",
    "insanely",
    "ridiculously",
    "seriously",
    "way",
];
const DAMPENERS: &[&str] = &[
    "almost",
    "barely",
    "hardly",
    "kinda",
    "less",
    "little",
    "marginally",
    "occasionally",
    "partly",
    "scarcely",
    "slightly",
    "somewhat",
    "sorta",
];
const NEGATIONS: &[&str] = &[
    "not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "nowhere", "cannot", "without",
    "dont", "isnt", "wont", "cant", "wasnt", "didnt", "doesnt", "arent", "shouldnt", "wouldnt", "couldnt",
    "aint", "rarely", "seldom",
];

/// The sentiment of `text` in [-1, 1] (VADER's "compound" score with our lexicon).
pub fn score(text: &str) -> f64 {
    LEXICON.score(text)
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| Lexicon::parse(LEXICON_TSV));

#[derive(Debug, Clone, Copy, Default)]
struct WordInfo {
    valence: Option<f32>,
    booster: f32,
    negation: bool,
    is_but: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Token {
    info: WordInfo,
    upper: bool,
}

struct Lexicon {
    words: FastMap<Box<str>, WordInfo>,
    phrases: FastMap<Box<str>, f32>,
    max_phrase_len: usize,
}

impl Lexicon {
    fn parse(tsv: &str) -> Self {
        let mut words: FastMap<Box<str>, WordInfo> = FastMap::default();
        let mut phrases = FastMap::default();
        let mut max_phrase_len = 0;
        for line in tsv.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')) {
            let Some((word, valence)) = line.split_once('\t') else { continue };
            let Ok(valence) = valence.trim().parse::<f32>() else { continue };
            let word = word.trim().to_lowercase();
            if word.contains(' ') {
                max_phrase_len = max_phrase_len.max(word.len());
                phrases.insert(word.into_boxed_str(), valence);
            } else {
                words.entry(word.into_boxed_str()).or_default().valence = Some(valence);
            }
        }
        for (list, booster) in [(BOOSTERS, BOOST_INCREMENT), (DAMPENERS, BOOST_DECREMENT)] {
            for word in list {
                words.entry((*word).into()).or_default().booster = booster;
            }
        }
        for word in NEGATIONS {
            words.entry((*word).into()).or_default().negation = true;
        }
        words.entry("but".into()).or_default().is_but = true;
        Self { words, phrases, max_phrase_len }
    }

    fn lookup(&self, lower: &str) -> WordInfo {
        if let Some(info) = self.words.get(lower) {
            return *info;
        }
        // "don't", "isn't", "wouldn't": any "n't" word negates.
        WordInfo { negation: lower.ends_with("n't"), ..WordInfo::default() }
    }

    fn score(&self, text: &str) -> f64 {
        let mut tokens: Vec<Token> = Vec::with_capacity(32);
        let (mut any_upper, mut any_lower) = (false, false);
        let mut prev_lower = [0u8; MAX_WORD_LEN];
        let mut prev_len = 0usize;
        let mut phrase_buf = [0u8; 2 * MAX_WORD_LEN + 1];
        for raw in Tokens::new(text) {
            let mut lower_buf = [0u8; MAX_WORD_LEN];
            let Some(lower) = lower_token(raw, &mut lower_buf) else {
                tokens.push(Token::default());
                prev_len = 0;
                continue;
            };
            let upper = is_upper(raw);
            if raw.bytes().any(|b| b.is_ascii_alphabetic()) {
                any_upper |= upper;
                any_lower |= !upper;
            }
            // Two-word phrase with the previous token: the phrase's valence goes on the previous
            // token, and this one becomes neutral (but still counts as "in the lexicon").
            if prev_len > 0 && prev_len + 1 + lower.len() <= self.max_phrase_len {
                let total = prev_len + 1 + lower.len();
                phrase_buf[..prev_len].copy_from_slice(&prev_lower[..prev_len]);
                phrase_buf[prev_len] = b' ';
                phrase_buf[prev_len + 1..total].copy_from_slice(lower.as_bytes());
                if let Ok(phrase) = std::str::from_utf8(&phrase_buf[..total])
                    && let Some(&valence) = self.phrases.get(phrase)
                    && let Some(last) = tokens.last_mut()
                {
                    last.info = WordInfo { valence: Some(valence), ..WordInfo::default() };
                    tokens
                        .push(Token { info: WordInfo { valence: Some(0.0), ..WordInfo::default() }, upper });
                    prev_len = 0;
                    continue;
                }
            }
            tokens.push(Token { info: self.lookup(lower), upper });
            prev_len = lower.len();
            prev_lower[..prev_len].copy_from_slice(lower.as_bytes());
        }
        let caps_differ = any_upper && any_lower;

        let but_idx = tokens.iter().position(|token| token.info.is_but);
        let mut sum = 0.0f32;
        for (idx, token) in tokens.iter().enumerate() {
            let Some(mut valence) = token.info.valence else { continue };
            if valence == 0.0 {
                continue;
            }
            if token.upper && caps_differ {
                valence += CAPS_INCREMENT.copysign(valence);
            }
            for distance in 1..=3 {
                let Some(prev) = idx.checked_sub(distance).map(|i| tokens[i]) else { break };
                if prev.info.valence.is_some() {
                    continue;
                }
                let mut scalar = prev.info.booster;
                if scalar != 0.0 {
                    if valence < 0.0 {
                        scalar = -scalar;
                    }
                    if prev.upper && caps_differ {
                        scalar += CAPS_INCREMENT.copysign(valence);
                    }
                    scalar *= match distance {
                        2 => 0.95,
                        3 => 0.9,
                        _ => 1.0,
                    };
                    valence += scalar;
                }
                if prev.info.negation {
                    valence *= NEGATION_SCALAR;
                }
            }
            if let Some(but_idx) = but_idx {
                valence *= if idx < but_idx { 0.5 } else { 1.5 };
            }
            sum += valence;
        }

        let mut sum = f64::from(sum);
        if sum != 0.0 {
            let emphasis = punctuation_emphasis(text);
            sum += emphasis.copysign(sum);
        }
        (sum / (sum * sum + NORMALIZATION_ALPHA).sqrt()).clamp(-1.0, 1.0)
    }
}

/// VADER's punctuation amplifier: up to 4 `!` at 0.292 each; 2–3 `?` at 0.18 each, more → 0.96.
fn punctuation_emphasis(text: &str) -> f64 {
    let (mut n_exclamations, mut n_questions) = (0u32, 0u32);
    for byte in text.bytes() {
        n_exclamations += u32::from(byte == b'!');
        n_questions += u32::from(byte == b'?');
    }
    let exclamation = f64::from(n_exclamations.min(4)) * 0.292;
    let question = match n_questions {
        0 | 1 => 0.0,
        2 | 3 => f64::from(n_questions) * 0.18,
        _ => 0.96,
    };
    exclamation + question
}

fn is_upper(word: &str) -> bool {
    let mut any_letter = false;
    for byte in word.bytes() {
        if byte.is_ascii_lowercase() {
            return false;
        }
        any_letter |= byte.is_ascii_uppercase();
    }
    any_letter
}

/// Lower-cases `token` into `buf`, turning `’` into `'`; `None` when too long.
fn lower_token<'b>(token: &str, buf: &'b mut [u8; MAX_WORD_LEN]) -> Option<&'b str> {
    if token.is_ascii() {
        let target = buf.get_mut(..token.len())?;
        for (dst, src) in target.iter_mut().zip(token.bytes()) {
            *dst = src.to_ascii_lowercase();
        }
        return std::str::from_utf8(target).ok();
    }
    let mut len = 0;
    for ch in token.chars() {
        let ch = if ch == '\u{2019}' { '\'' } else { ch };
        for lower in ch.to_lowercase() {
            let end = len + lower.len_utf8();
            lower.encode_utf8(buf.get_mut(len..end)?);
            len = end;
        }
    }
    std::str::from_utf8(&buf[..len]).ok()
}

/// Words (letters, digits, apostrophes inside words) and emoji, one emoji per token; everything
/// else separates tokens and is dropped.
struct Tokens<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Tokens<'t> {
    fn new(text: &'t str) -> Self {
        Self { text, pos: 0 }
    }
}

fn is_word_char(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

fn is_emoji(ch: char) -> bool {
    let code = u32::from(ch);
    // Symbols and pictographs, minus joiners, variation selectors and skin-tone modifiers.
    code >= 0x2190 && !matches!(code, 0x200D | 0xFE00..=0xFE0F | 0x1F3FB..=0x1F3FF | 0xE0000..)
}

impl<'t> Iterator for Tokens<'t> {
    type Item = &'t str;

    fn next(&mut self) -> Option<&'t str> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() {
            let start = self.pos;
            let byte = bytes[start];
            if byte.is_ascii() {
                if byte.is_ascii_alphanumeric() || byte == b'_' {
                    let mut end = start + 1;
                    while end < bytes.len() {
                        let b = bytes[end];
                        if b.is_ascii_alphanumeric() || b == b'_' {
                            end += 1;
                        } else if (b == b'\'' || bytes[end..].starts_with("\u{2019}".as_bytes()))
                            && self.text[end..].chars().nth(1).is_some_and(is_word_char)
                        {
                            end += if b == b'\'' { 1 } else { 3 };
                        } else if b >= 0x80 && self.text[end..].chars().next().is_some_and(is_word_char) {
                            end += self.text[end..].chars().next().map_or(1, char::len_utf8);
                        } else {
                            break;
                        }
                    }
                    self.pos = end;
                    return Some(&self.text[start..end]);
                }
                self.pos += 1;
                continue;
            }
            let ch = self.text[start..].chars().next()?;
            let ch_end = start + ch.len_utf8();
            self.pos = ch_end;
            if is_word_char(ch) {
                let mut end = ch_end;
                for next in self.text[ch_end..].chars() {
                    if !is_word_char(next) {
                        break;
                    }
                    end += next.len_utf8();
                }
                self.pos = end;
                return Some(&self.text[start..end]);
            }
            if is_emoji(ch) {
                return Some(&self.text[start..ch_end]);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentiment::{SentimentLabel, label};

    #[test]
    fn lexicon_lines_all_parse() {
        let n_entries =
            LEXICON_TSV.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')).count();
        assert!(n_entries >= 300, "{n_entries}");
        for line in LEXICON_TSV.lines().filter(|line| !line.trim().is_empty() && !line.starts_with('#')) {
            let (_, valence) = line.split_once('\t').unwrap_or_else(|| panic!("no tab: {line}"));
            let valence: f32 = valence.trim().parse().unwrap_or_else(|_| panic!("bad valence: {line}"));
            assert!((-4.0..=4.0).contains(&valence), "{line}");
        }
    }

    #[test]
    fn negation_flips_and_boosters_amplify() {
        assert!(score("this is good") > 0.3);
        assert!(score("this is not good") < -0.05);
        assert!(score("this is very good") > score("this is good"));
        assert!(score("this is GOOD") > score("this is good"));
        assert!(score("this is good!!!") > score("this is good"));
        assert!(score("this isn't good") < 0.0);
    }

    #[test]
    fn but_shifts_weight_to_the_second_clause() {
        assert!(score("earnings were good but guidance is terrible") < 0.0);
    }

    #[test]
    fn slang_and_emoji() {
        assert_eq!(label(score("NVDA to the moon 🚀🚀")), SentimentLabel::Bullish);
        assert_eq!(label(score("💎🙌")), SentimentLabel::Bullish);
        assert_eq!(label(score("bought puts, this is drilling 📉")), SentimentLabel::Bearish);
        assert_eq!(label(score("classic rug pull")), SentimentLabel::Bearish);
        assert_eq!(label(score("earnings are on Thursday")), SentimentLabel::Neutral);
    }

    #[test]
    fn scores_stay_in_range() {
        let long = "great ".repeat(500);
        assert!(score(&long) <= 1.0);
        assert!(score(&"terrible ".repeat(500)) >= -1.0);
        assert!(score("").abs() < f64::EPSILON);
    }
}

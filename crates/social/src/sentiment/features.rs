//! The features the learned sentiment model sees, shared by the run-time scorer and the offline
//! trainer (`examples/train_sentiment.rs`) so that both compute exactly the same thing.
//!
//! A text becomes a sparse set of (feature, value) pairs:
//! - **words and word pairs**: lower-cased unigrams and bigrams (apostrophes dropped, so "don't"
//!   is "dont"; numbers become `<num>` or `<pct>`, option strikes `<call>` ("130c") or `<put>`
//!   ("370p"), cashtags `<tkr>`, links are dropped; each emoji is a word, and so is a Reddit
//!   emote, `emote|t5_2th52|4271`). Bigrams do not cross
//!   punctuation. In windows longer than 16 tokens they count less (see [`LENGTH_NORM`]).
//! - **cues** from the financial lexicon `data/sentiment-cues.tsv`: direction (`up`: beat, raises,
//!   upgrade; `down`: decreased, cuts, tumbles, lowered guidance), positions (`short`, `long`,
//!   `exit`: selling everything, bagholder; a `<call>` is `long`, a `<put>` `short`; "up 50%" /
//!   "down 80%" are `up` / `down`), emoji (`eup`, `edown`, `mock`, `laugh`) and sarcasm
//!   (`sarc`, also for mocking case: "WiLl CrUsH"). A cue under a negation ("not", "never", "didn't": the next three words) becomes
//!   `cue|neg`; a cue in the conceded part of a contrast becomes `cue|conc`. The conceded part is
//!   the sentence before "but"/"however"/"yet", or the clause after "despite"/"although"/
//!   "offsets"; its words also count only [`CONCEDED_WEIGHT`]. So in "stock tumbles as lowered
//!   guidance offsets profit beat" the beat is `up|conc`, not `up`.
//! - **general valence**: the summed valences of words in the VADER-style lexicon
//!   (`data/sentiment-lexicon.tsv`), positive and negative apart (`lexpos`, `lexneg`, and their
//!   `|neg` / `|conc` forms, and `|short` in a text about a short position), so words never seen
//!   in training still count.
//! - **negated words**: a word within a negation's reach is `n:word` instead of `w:word`, so
//!   "not a good quarter" does not add the weight of "good".
//! - **interactions**: each position or sarcasm cue with each direction signal in the same text
//!   (`short+lexpos` is "Short setups looking nice", `short+mock` is a clown aimed at shorts).
//! - **numbers**: a signed number (`-3.2%` → `num-`) and "from 50.0 to 31.6" / "to 31.6 from
//!   50.0" comparisons (`numdown`, `numup`).
//!
//! Why this shape: a linear model over these is fast (no allocation, a few dozen hash look-ups
//! per post) and its weights are learned, so the lexicon only says which words belong together;
//! how much a cue counts, and in which direction, comes from labelled data.
//!
//! Every feature is identified by a 64-bit hash of its name ("w:cut", "n:good", "b:cuts to",
//! "c:up|neg");
//! the model file stores names, and the loader hashes them with [`feature_hash_of_name`].

use std::sync::LazyLock;

use crate::extract::FastMap;
use crate::sentiment::vader_baseline::LEXICON_TSV;

const CUES_TSV: &str = include_str!("../../data/sentiment-cues.tsv");

/// How much the words of a conceded clause count. Chosen on the training set's dev split.
pub const CONCEDED_WEIGHT: f32 = 0.5;
/// Tokens per window; longer texts are featurised window by window (cues do not cross windows).
const MAX_TOKENS: usize = 48;
/// How many words after a negation it reaches (VADER uses three as well).
const NEGATION_SCOPE: usize = 3;
/// How many tokens after "from"/"to" a number may come and still be compared.
const NUMBER_WINDOW: usize = 4;
/// Words and bigrams of a window longer than this many tokens count `sqrt(LENGTH_NORM / n)`
/// each, so a long Reddit post is not decided by sheer word count (dev: Reddit +0.01 macro-F1).
const LENGTH_NORM: f32 = 16.0;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
const WORD_START: u64 = 0x9e37_79b9_7f4a_7c15;
const KIND_WORD: u64 = 0x2d35_8dcc_aa6c_78a5;
const KIND_BIGRAM: u64 = 0x8bb8_4b93_962e_acc9;
const KIND_CUE: u64 = 0x4b33_a62e_d433_d4a3;
const KIND_NEGATED: u64 = 0x1b87_3593_cc9e_2d51;

/// What a feature is called: the trainer writes these names, the model file stores them.
#[derive(Debug, Clone, Copy)]
pub enum FeatureName<'t> {
    /// A unigram, as it appears in the text (not yet lower-cased) or a placeholder (`<num>`).
    Word(&'t str),
    /// A unigram within a negation's reach ("good" in "not a good quarter").
    Negated(&'t str),
    /// Two adjacent words, as they appear in the text.
    Bigram(&'t str, &'t str),
    /// A cue, valence or interaction feature (`up|neg`, `short+lexpos`, `bias`).
    Cue(&'static str),
}

/// One feature of a text: its hash (what the model is keyed by) and its name.
#[derive(Debug, Clone, Copy)]
pub struct Feature<'t> {
    /// The key in the model; equal to [`feature_hash_of_name`] of [`Feature::name_string`].
    pub hash: u64,
    /// What the feature is, for the trainer's output.
    pub name: FeatureName<'t>,
}

impl Feature<'_> {
    /// The normalised name the model file uses: `w:word`, `b:word word`, `c:cue`.
    pub fn name_string(&self) -> String {
        match self.name {
            FeatureName::Word(word) => format!("w:{}", normalize_word(word)),
            FeatureName::Negated(word) => format!("n:{}", normalize_word(word)),
            FeatureName::Bigram(first, second) => {
                format!("b:{} {}", normalize_word(first), normalize_word(second))
            }
            FeatureName::Cue(name) => format!("c:{name}"),
        }
    }
}

/// The hash of a feature from its name as [`Feature::name_string`] writes it; `None` for a name
/// of unknown kind.
pub fn feature_hash_of_name(name: &str) -> Option<u64> {
    let (kind, rest) = name.split_once(':')?;
    match kind {
        "w" => Some(unigram_key(word_hash(rest))),
        "n" => Some(negated_key(word_hash(rest))),
        "b" => {
            let (first, second) = rest.split_once(' ')?;
            Some(bigram_key(word_hash(first), word_hash(second)))
        }
        "c" => Some(cue_key(rest)),
        _ => None,
    }
}

/// Lower-cases a word and drops apostrophes, as the hashes do.
pub fn normalize_word(word: &str) -> String {
    word.chars().filter(|ch| !is_apostrophe(*ch)).flat_map(char::to_lowercase).collect()
}

/// Calls `sink` with every feature of `text` and its value (a feature may come more than once;
/// values add up). Allocation-free.
pub fn for_each_feature<'t>(text: &'t str, mut sink: impl FnMut(Feature<'t>, f32)) {
    let cues = &*CUES;
    sink(cue_feature("bias"), 1.0);
    let mut tokens = [Token::default(); MAX_TOKENS];
    let mut pos = 0;
    while pos < text.len() {
        let n_tokens = tokenize_window(text, &mut pos, &mut tokens, cues);
        if n_tokens == 0 {
            break;
        }
        let window = &mut tokens[..n_tokens];
        mark_scopes(window);
        emit_window(text, window, &mut sink);
    }
}

// ---------------------------------------------------------------------------------------------
// Hashing

fn mix(hash: u64, value: u64) -> u64 {
    (hash.rotate_left(5) ^ value).wrapping_mul(SEED)
}

fn is_apostrophe(ch: char) -> bool {
    ch == '\'' || ch == '\u{2019}'
}

/// Hash of a word, lower-cased, apostrophes dropped; the ASCII path gives the same result as the
/// general one.
fn word_hash(word: &str) -> u64 {
    let mut hash = WORD_START;
    if word.is_ascii() {
        for byte in word.bytes() {
            if byte != b'\'' {
                hash = mix(hash, u64::from(byte.to_ascii_lowercase()));
            }
        }
    } else {
        for ch in word.chars().filter(|ch| !is_apostrophe(*ch)) {
            for lower in ch.to_lowercase() {
                hash = mix(hash, u64::from(lower));
            }
        }
    }
    hash
}

fn unigram_key(word: u64) -> u64 {
    mix(KIND_WORD, word)
}

fn negated_key(word: u64) -> u64 {
    mix(KIND_NEGATED, word)
}

fn bigram_key(first: u64, second: u64) -> u64 {
    mix(mix(KIND_BIGRAM, first), second)
}

fn cue_key(name: &str) -> u64 {
    mix(KIND_CUE, word_hash(name))
}

fn cue_feature(name: &'static str) -> Feature<'static> {
    Feature { hash: cue_key(name), name: FeatureName::Cue(name) }
}

// ---------------------------------------------------------------------------------------------
// The cue lexicon

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Cue {
    #[default]
    None,
    Up,
    Down,
    Short,
    Long,
    Exit,
    EmojiUp,
    EmojiDown,
    Mock,
    Laugh,
    Sarcasm,
    Negation,
    But,
    Concede,
    From,
    To,
}

/// Cues that carry a direction and become features, in the order of [`CUE_NAMES`].
const POLAR_CUES: [Cue; 10] = [
    Cue::Up,
    Cue::Down,
    Cue::Short,
    Cue::Long,
    Cue::Exit,
    Cue::EmojiUp,
    Cue::EmojiDown,
    Cue::Mock,
    Cue::Laugh,
    Cue::Sarcasm,
];
/// Plain, negated and conceded names of each polar cue.
const CUE_NAMES: [[&str; 3]; 10] = [
    ["up", "up|neg", "up|conc"],
    ["down", "down|neg", "down|conc"],
    ["short", "short|neg", "short|conc"],
    ["long", "long|neg", "long|conc"],
    ["exit", "exit|neg", "exit|conc"],
    ["eup", "eup|neg", "eup|conc"],
    ["edown", "edown|neg", "edown|conc"],
    ["mock", "mock|neg", "mock|conc"],
    ["laugh", "laugh|neg", "laugh|conc"],
    ["sarc", "sarc|neg", "sarc|conc"],
];
/// Summed lexicon valence: [plain, negated, conceded, plain in a text with a short position] ×
/// [positive, negative]. The fourth row replaces the first when the text holds a short cue:
/// feeling good about a short is bearish ("Short setups looking nice"), so those valences must
/// not inherit the plain ones' weights, which news text makes strongly bullish.
const LEX_NAMES: [[&str; 2]; 4] = [
    ["lexpos", "lexneg"],
    ["lexpos|neg", "lexneg|neg"],
    ["lexpos|conc", "lexneg|conc"],
    ["lexpos|short", "lexneg|short"],
];

/// Interaction rows (positions and sarcasm) × columns (direction signals).
const ROW_SHORT: usize = 0;
const ROW_LONG: usize = 1;
const ROW_EXIT: usize = 2;
const ROW_SARC: usize = 3;
const COL_UP: usize = 0;
const COL_DOWN: usize = 1;
const COL_LEXPOS: usize = 2;
const COL_LEXNEG: usize = 3;
const COL_EUP: usize = 4;
const COL_EDOWN: usize = 5;
const COL_MOCK: usize = 6;
const COL_LAUGH: usize = 7;
const INTERACTION_NAMES: [[&str; 8]; 4] = [
    [
        "short+up",
        "short+down",
        "short+lexpos",
        "short+lexneg",
        "short+eup",
        "short+edown",
        "short+mock",
        "short+laugh",
    ],
    [
        "long+up",
        "long+down",
        "long+lexpos",
        "long+lexneg",
        "long+eup",
        "long+edown",
        "long+mock",
        "long+laugh",
    ],
    [
        "exit+up",
        "exit+down",
        "exit+lexpos",
        "exit+lexneg",
        "exit+eup",
        "exit+edown",
        "exit+mock",
        "exit+laugh",
    ],
    [
        "sarc+up",
        "sarc+down",
        "sarc+lexpos",
        "sarc+lexneg",
        "sarc+eup",
        "sarc+edown",
        "sarc+mock",
        "sarc+laugh",
    ],
];

impl Cue {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "up" => Self::Up,
            "down" => Self::Down,
            "short" => Self::Short,
            "long" => Self::Long,
            "exit" => Self::Exit,
            "eup" => Self::EmojiUp,
            "edown" => Self::EmojiDown,
            "mock" => Self::Mock,
            "laugh" => Self::Laugh,
            "sarc" => Self::Sarcasm,
            "neg" => Self::Negation,
            "but" => Self::But,
            "concede" => Self::Concede,
            "from" => Self::From,
            "to" => Self::To,
            _ => return None,
        })
    }

    fn polar_idx(self) -> Option<usize> {
        POLAR_CUES.iter().position(|cue| *cue == self)
    }

    fn is_structural(self) -> bool {
        matches!(self, Self::Negation | Self::But | Self::Concede)
    }
}

/// What the lexicons know about a word or a two-word phrase.
#[derive(Debug, Clone, Copy, Default)]
struct CueInfo {
    cue: Cue,
    /// Whether some two-word phrase of the lexicons starts with this word: only then is the
    /// pair looked up (it saves a hash look-up on most words).
    starts_phrase: bool,
    valence: f32,
}

/// Keyed by the unigram or bigram key of the word or phrase.
static CUES: LazyLock<FastMap<u64, CueInfo>> = LazyLock::new(|| {
    let mut map: FastMap<u64, CueInfo> = FastMap::default();
    let lines = |tsv: &'static str| {
        tsv.lines()
            .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('\t'))
            .map(|(phrase, value)| (phrase.trim(), phrase_key(phrase.trim()), value.trim()))
    };
    for (phrase, key, value) in lines(CUES_TSV) {
        if let Some(cue) = Cue::parse(value) {
            map.entry(key).or_default().cue = cue;
            mark_phrase_start(&mut map, phrase);
        }
    }
    for (phrase, key, value) in lines(LEXICON_TSV) {
        if let Ok(valence) = value.parse::<f32>() {
            map.entry(key).or_default().valence = valence;
            mark_phrase_start(&mut map, phrase);
        }
    }
    map
});

fn mark_phrase_start(map: &mut FastMap<u64, CueInfo>, phrase: &str) {
    if let Some((first, _)) = phrase.split_once(' ') {
        map.entry(unigram_key(word_hash(first))).or_default().starts_phrase = true;
    }
}

fn phrase_key(phrase: &str) -> u64 {
    match phrase.split_once(' ') {
        Some((first, second)) => bigram_key(word_hash(first), word_hash(second)),
        None => unigram_key(word_hash(phrase)),
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// What separates a token from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Gap {
    #[default]
    None,
    /// A comma, colon, dash or bracket.
    Clause,
    /// A full stop, semicolon, `!`, `?` or newline (or the start of the text).
    Sentence,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Placeholder {
    #[default]
    None,
    Number,
    Percent,
    Cashtag,
    /// An option strike with a call or put suffix: "130c", "$83c".
    Call,
    /// "370p".
    Put,
}

impl Placeholder {
    fn name(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Number => Some("<num>"),
            Self::Percent => Some("<pct>"),
            Self::Cashtag => Some("<tkr>"),
            Self::Call => Some("<call>"),
            Self::Put => Some("<put>"),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Token {
    /// [`word_hash`] of the word or placeholder.
    hash: u64,
    start: u32,
    end: u32,
    placeholder: Placeholder,
    gap_before: Gap,
    cue: CueInfo,
    /// The cue of the phrase this token ends, with the token before it.
    pair_cue: CueInfo,
    /// For numbers: the value and its explicit sign (-1, 0, +1).
    number: f32,
    sign: i8,
    negated: bool,
    conceded: bool,
}

impl Token {
    fn text<'t>(&self, text: &'t str) -> &'t str {
        match self.placeholder.name() {
            Some(name) => name,
            None => &text[self.start as usize..self.end as usize],
        }
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

/// Reads tokens from `text[*pos..]` into `tokens` until the window is full or the text ends;
/// returns how many.
fn tokenize_window(
    text: &str,
    pos: &mut usize,
    tokens: &mut [Token; MAX_TOKENS],
    cues: &FastMap<u64, CueInfo>,
) -> usize {
    let bytes = text.as_bytes();
    let mut n_tokens = 0;
    let mut gap = Gap::Sentence;
    while *pos < bytes.len() && n_tokens < MAX_TOKENS {
        let start = *pos;
        let byte = bytes[start];
        let next = bytes.get(start + 1).copied().unwrap_or(b' ');
        let mut token = Token { start: start as u32, ..Token::default() };
        match byte {
            b'\n' | b'.' | b';' => {
                gap = Gap::Sentence;
                *pos += 1;
                continue;
            }
            b',' | b':' | b'(' | b')' | b'-' | b'"' => {
                if byte == b'-'
                    && next.is_ascii_digit()
                    && (start == 0 || bytes[start - 1].is_ascii_whitespace())
                {
                    read_number(text, pos, &mut token);
                } else {
                    gap = gap.max(Gap::Clause);
                    *pos += 1;
                    continue;
                }
            }
            b'!' if text[start..].starts_with("![img](emote|") => {
                // A Reddit emote: "![img](emote|t5_2th52|4271)" is one word, "emote|t5_2th52|4271".
                let Some(close) = text[start..].find(')') else { break };
                token.start = (start + 7) as u32;
                token.end = (start + close) as u32;
                *pos = start + close + 1;
            }
            b'!' | b'?' => {
                *pos += 1;
                token.end = *pos as u32;
            }
            b'+' if next.is_ascii_digit() => read_number(text, pos, &mut token),
            b'0'..=b'9' => read_number(text, pos, &mut token),
            b'$' if next.is_ascii_alphabetic() => {
                let mut end = start + 1;
                while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
                    end += 1;
                }
                *pos = end;
                token.end = end as u32;
                token.placeholder = Placeholder::Cashtag;
            }
            b'/' if next == b's' && !bytes.get(start + 2).is_some_and(u8::is_ascii_alphanumeric) => {
                *pos += 2;
                token.end = *pos as u32;
            }
            b'h' | b'w' if is_link(&text[start..]) => {
                while *pos < bytes.len() && !bytes[*pos].is_ascii_whitespace() {
                    *pos += 1;
                }
                continue;
            }
            _ if byte.is_ascii_alphanumeric() || byte == b'_' => read_word(text, pos, &mut token),
            _ if byte.is_ascii() => {
                *pos += 1;
                continue;
            }
            _ => {
                let Some(ch) = text[start..].chars().next() else { break };
                if is_word_char(ch) {
                    read_word(text, pos, &mut token);
                } else {
                    *pos += ch.len_utf8();
                    if !is_emoji(ch) {
                        continue;
                    }
                    token.end = *pos as u32;
                }
            }
        }
        token.hash = word_hash(token.text(text));
        token.gap_before = gap;
        match token.placeholder {
            Placeholder::Call => token.cue.cue = Cue::Long,
            Placeholder::Put => token.cue.cue = Cue::Short,
            Placeholder::Percent if gap == Gap::None && n_tokens > 0 => {
                // "down 80%", "up 50%": a move by a percentage ("up" and "down" alone are too
                // common to be cues).
                let prev = tokens[n_tokens - 1].hash;
                if prev == *UP_WORD {
                    token.pair_cue.cue = Cue::Up;
                } else if prev == *DOWN_WORD {
                    token.pair_cue.cue = Cue::Down;
                }
            }
            _ => {}
        }
        if token.placeholder == Placeholder::None {
            token.cue = cues.get(&unigram_key(token.hash)).copied().unwrap_or_default();
            if is_mocking_case(token.text(text)) {
                token.cue.cue = Cue::Sarcasm;
            }
            if gap == Gap::None && n_tokens > 0 {
                let prev = &tokens[n_tokens - 1];
                if prev.cue.starts_phrase {
                    token.pair_cue =
                        cues.get(&bigram_key(prev.hash, token.hash)).copied().unwrap_or_default();
                }
            }
        }
        tokens[n_tokens] = token;
        n_tokens += 1;
        gap = if matches!(byte, b'!' | b'?') { Gap::Sentence } else { Gap::None };
    }
    n_tokens
}

static UP_WORD: LazyLock<u64> = LazyLock::new(|| word_hash("up"));
static DOWN_WORD: LazyLock<u64> = LazyLock::new(|| word_hash("down"));

/// "WiLl", "CrUsH", "bUy": case flipping on most letters is Reddit's mocking voice. At least
/// three flips, and at least one per two letters, so "McDonald" or "iPhone" do not count.
fn is_mocking_case(word: &str) -> bool {
    if word.len() < 3 || !word.is_ascii() {
        return false;
    }
    let mut n_flips = 0;
    let mut n_letters = 0;
    let mut prev_upper: Option<bool> = None;
    for byte in word.bytes().filter(u8::is_ascii_alphabetic) {
        let upper = byte.is_ascii_uppercase();
        n_letters += 1;
        if prev_upper.is_some_and(|prev| prev != upper) {
            n_flips += 1;
        }
        prev_upper = Some(upper);
    }
    n_flips >= 3 && 2 * n_flips >= n_letters
}

fn is_link(rest: &str) -> bool {
    rest.starts_with("http://") || rest.starts_with("https://") || rest.starts_with("www.")
}

/// A word: letters, digits, `_`, and apostrophes between letters ("don't", "it’s").
fn read_word(text: &str, pos: &mut usize, token: &mut Token) {
    let mut end = *pos;
    let mut chars = text[end..].chars().peekable();
    while let Some(ch) = chars.next() {
        let inside_word =
            is_word_char(ch) || (is_apostrophe(ch) && chars.peek().is_some_and(|next| is_word_char(*next)));
        if inside_word {
            end += ch.len_utf8();
        } else {
            break;
        }
    }
    *pos = end;
    token.end = end as u32;
}

/// A number with an optional sign, thousands commas, decimals, a `%` or a unit suffix ("50mn").
fn read_number(text: &str, pos: &mut usize, token: &mut Token) {
    let bytes = text.as_bytes();
    let mut idx = *pos;
    token.sign = match bytes[idx] {
        b'-' => -1,
        b'+' => 1,
        _ => 0,
    };
    if token.sign != 0 {
        idx += 1;
    }
    let (mut value, mut scale, mut in_fraction) = (0.0f32, 1.0f32, false);
    while idx < bytes.len() {
        let byte = bytes[idx];
        if byte.is_ascii_digit() {
            if in_fraction {
                scale /= 10.0;
                value += f32::from(byte - b'0') * scale;
            } else {
                value = value * 10.0 + f32::from(byte - b'0');
            }
            idx += 1;
        } else if (byte == b'.' || byte == b',') && bytes.get(idx + 1).is_some_and(u8::is_ascii_digit) {
            in_fraction |= byte == b'.';
            idx += 1;
        } else {
            break;
        }
    }
    token.placeholder = Placeholder::Number;
    if bytes.get(idx) == Some(&b'%') {
        idx += 1;
        token.placeholder = Placeholder::Percent;
    }
    let suffix_start = idx;
    while idx < bytes.len() && bytes[idx].is_ascii_alphabetic() {
        idx += 1;
    }
    if token.placeholder == Placeholder::Number && idx == suffix_start + 1 {
        match bytes[suffix_start] {
            b'c' | b'C' => token.placeholder = Placeholder::Call,
            b'p' | b'P' => token.placeholder = Placeholder::Put,
            _ => {}
        }
    }
    token.number = value;
    *pos = idx;
    token.end = idx as u32;
}

// ---------------------------------------------------------------------------------------------
// Scopes and features

fn effective_structure(token: &Token) -> Cue {
    if token.pair_cue.cue.is_structural() { token.pair_cue.cue } else { token.cue.cue }
}

/// Marks negated tokens (the next [`NEGATION_SCOPE`] after a negation, within the clause) and
/// conceded ones (the sentence before "but", the clause after "despite").
fn mark_scopes(tokens: &mut [Token]) {
    for idx in 0..tokens.len() {
        match effective_structure(&tokens[idx]) {
            Cue::Negation => {
                for next in tokens.iter_mut().skip(idx + 1).take(NEGATION_SCOPE) {
                    if next.gap_before != Gap::None {
                        break;
                    }
                    next.negated = true;
                }
            }
            Cue::But => {
                let mut back = idx;
                while back > 0 && tokens[back].gap_before != Gap::Sentence {
                    back -= 1;
                    tokens[back].conceded = true;
                }
            }
            Cue::Concede => {
                for next in tokens.iter_mut().skip(idx + 1) {
                    if next.gap_before != Gap::None {
                        break;
                    }
                    next.conceded = true;
                }
            }
            _ => {}
        }
    }
}

fn emit_window<'t>(text: &'t str, tokens: &[Token], sink: &mut impl FnMut(Feature<'t>, f32)) {
    let mut lex = [[0.0f32; 2]; 4];
    let mut rows = [false; 4];
    let mut cols = [false; 8];
    let (mut from_number, mut to_number): (Option<f32>, Option<f32>) = (None, None);
    let mut pending: Option<(Cue, usize)> = None;
    let length_scale = (LENGTH_NORM / tokens.len() as f32).sqrt().min(1.0);
    for (idx, token) in tokens.iter().enumerate() {
        let value = if token.conceded { CONCEDED_WEIGHT } else { 1.0 } * length_scale;
        let word = token.text(text);
        if token.negated {
            sink(Feature { hash: negated_key(token.hash), name: FeatureName::Negated(word) }, value);
        } else {
            sink(Feature { hash: unigram_key(token.hash), name: FeatureName::Word(word) }, value);
        }
        if idx > 0 && token.gap_before == Gap::None {
            let prev = &tokens[idx - 1];
            sink(
                Feature {
                    hash: bigram_key(prev.hash, token.hash),
                    name: FeatureName::Bigram(prev.text(text), word),
                },
                value,
            );
        }
        let variant = if token.negated {
            1
        } else if token.conceded {
            2
        } else {
            0
        };
        for info in [token.cue, token.pair_cue] {
            if let Some(cue_idx) = info.cue.polar_idx() {
                sink(cue_feature(CUE_NAMES[cue_idx][variant]), 1.0);
                if variant == 0 {
                    mark_signal(info.cue, &mut rows, &mut cols);
                }
            }
            if info.valence != 0.0 {
                let polarity = usize::from(info.valence < 0.0);
                lex[variant][polarity] += info.valence.abs() / 4.0;
                if variant == 0 {
                    cols[if polarity == 0 { COL_LEXPOS } else { COL_LEXNEG }] = true;
                }
            }
        }
        if token.placeholder != Placeholder::None && token.placeholder != Placeholder::Cashtag {
            match token.sign {
                -1 => sink(cue_feature("num-"), 1.0),
                1 => sink(cue_feature("num+"), 1.0),
                _ => {}
            }
            match pending {
                Some((Cue::From, at)) if idx - at <= NUMBER_WINDOW && from_number.is_none() => {
                    from_number = Some(token.number);
                    pending = None;
                }
                Some((Cue::To, at)) if idx - at <= NUMBER_WINDOW && to_number.is_none() => {
                    to_number = Some(token.number);
                    pending = None;
                }
                _ => {}
            }
        }
        if matches!(token.cue.cue, Cue::From | Cue::To) {
            pending = Some((token.cue.cue, idx));
        }
    }
    if let (Some(from), Some(to)) = (from_number, to_number)
        && (to - from).abs() > 1e-3 * from.abs().max(to.abs())
    {
        sink(cue_feature(if to > from { "numup" } else { "numdown" }), 1.0);
    }
    if rows[ROW_SHORT] {
        lex[3] = lex[0];
        lex[0] = [0.0; 2];
    }
    for (variant, sums) in lex.iter().enumerate() {
        for (polarity, sum) in sums.iter().enumerate() {
            if *sum > 0.0 {
                sink(cue_feature(LEX_NAMES[variant][polarity]), sum.min(3.0));
            }
        }
    }
    for (row, present) in rows.iter().enumerate() {
        if !present {
            continue;
        }
        for (col, also) in cols.iter().enumerate() {
            if *also {
                sink(cue_feature(INTERACTION_NAMES[row][col]), 1.0);
            }
        }
    }
}

fn mark_signal(cue: Cue, rows: &mut [bool; 4], cols: &mut [bool; 8]) {
    match cue {
        Cue::Short => rows[ROW_SHORT] = true,
        Cue::Long => rows[ROW_LONG] = true,
        Cue::Exit => rows[ROW_EXIT] = true,
        Cue::Sarcasm => rows[ROW_SARC] = true,
        Cue::Up => cols[COL_UP] = true,
        Cue::Down => cols[COL_DOWN] = true,
        Cue::EmojiUp => cols[COL_EUP] = true,
        Cue::EmojiDown => cols[COL_EDOWN] = true,
        Cue::Mock => cols[COL_MOCK] = true,
        Cue::Laugh => cols[COL_LAUGH] = true,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, f32)> {
        let mut out = Vec::new();
        for_each_feature(text, |feature, value| {
            assert_eq!(feature_hash_of_name(&feature.name_string()), Some(feature.hash), "{feature:?}");
            out.push((feature.name_string(), value));
        });
        out
    }

    fn has(features: &[(String, f32)], name: &str) -> bool {
        features.iter().any(|(feature, _)| feature == name)
    }

    #[test]
    fn every_feature_hash_matches_its_name() {
        names("Don't SELL $TSLA, it’s up +5.2% 🚀🚀 https://t.co/x from 50.0 to 31.6 /s 🤡 naïve Café");
    }

    #[test]
    fn words_bigrams_and_placeholders() {
        let features = names("Barclays cuts $ESS to Equal Weight, down 5% https://t.co/abc");
        for name in ["w:barclays", "b:barclays cuts", "w:<tkr>", "b:equal weight", "w:<pct>", "c:down"] {
            assert!(has(&features, name), "{name} missing in {features:?}");
        }
        assert!(!has(&features, "b:weight down"), "bigram across a comma");
        assert!(!has(&features, "w:https"));
    }

    #[test]
    fn negation_and_contrast_change_the_cue() {
        let features = names("guidance was not raised");
        assert!(has(&features, "c:up|neg") && !has(&features, "c:up"), "{features:?}");
        let features = names("stock tumbles as lowered guidance offsets profit beat");
        assert!(has(&features, "c:down") && has(&features, "c:up|conc") && !has(&features, "c:up"));
        let features = names("revenue beat but guidance was cut");
        assert!(has(&features, "c:up|conc") && has(&features, "c:down"));
        let features = names("despite the beat, shares fell");
        assert!(has(&features, "c:up|conc") && has(&features, "c:down"));
    }

    #[test]
    fn reddit_emotes_and_mocking_case() {
        let features = names("Mu WiLl CrUsH EaRnInGs ![img](emote|t5_2th52|4271)");
        assert!(has(&features, "w:emote|t5_2th52|4271"), "{features:?}");
        assert!(has(&features, "c:sarc"), "{features:?}");
        assert!(!has(&names("McDonald iPhone NVDA"), "c:sarc"));
    }

    #[test]
    fn numbers_and_interactions() {
        let features = names("Profit before taxes decreased to EUR 31.6 mn from EUR 50.0 mn");
        assert!(has(&features, "c:numdown"), "{features:?}");
        assert!(has(&names("sales rose from 10 to 12"), "c:numup"));
        assert!(has(&names("AAPL -3.2% today"), "c:num-"));
        let features = names("Spy 370p, $83c and my calls are down 80%");
        for name in ["w:<put>", "w:<call>", "c:short", "c:long", "c:down", "b:down <pct>"] {
            assert!(has(&features, name), "{name} missing in {features:?}");
        }
        assert!(has(&names("up 50% on NVDA"), "c:up"));
        assert!(!has(&names("at 5pm, 10 cents"), "w:<put>"));
        assert!(has(&names("Short setups looking nice"), "c:short+lexpos"));
        assert!(has(&names("shorts are about to learn 🤡"), "c:short+mock"));
    }
}

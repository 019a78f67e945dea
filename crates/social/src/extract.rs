//! Ticker mentions in free text: cashtags, bare upper-case symbols and company names.
//!
//! Why this shape: a naive "every upper-case word that is a ticker" rule counts `IT`, `ON`, `ALL`,
//! `A` and `CEO` as stocks and misses "Nvidia". So a mention is one of
//! - a **cashtag** (`$NVDA`, `$nvda`, `$BRK.B`): counts when the symbol is in the universe or the
//!   extra symbols (watchlist, config list). An unknown cashtag (`$HELLO`, `$5`) does not count:
//!   on Reddit, `$` also prefixes prices and jokes, and a symbol we cannot price is no use downstream.
//!   A stoplisted word written as a cashtag (`$ON`, `$IT`) does count;
//! - a **bare** upper-case word of 2–5 letters that is in the universe and not in the stoplist
//!   (`data/stoplist.txt`). Single letters (`A`, `I`, `F`, `T`) count only as cashtags;
//! - an **alias**: a company name ("Nvidia", "Apple"), derived from the names in the universe by
//!   stripping suffixes (Inc., Corp., Holdings, …) when one word remains, plus a curated list
//!   (`data/aliases.tsv`). Names that are English words match only when capitalised.
//!
//! Words inside URLs (`https://…`, `www.…`), subreddit/user paths (`r/NVDA`), words with digits or
//! underscores and contraction fragments (`DON'T` → no `T`) never count. Each symbol is reported
//! once per text, with the kind of its first occurrence.
//!
//! Speed: one pass over the bytes, no regex, no allocation per token (words are upper- or
//! lower-cased into a stack buffer and looked up in hash maps with a cheap hasher).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

pub use domain::MentionKind;

const BUNDLED_SYMBOLS_CSV: &str = include_str!("../data/us-symbols.csv");
const EXTRA_SYMBOLS: &str = include_str!("../data/extra-symbols.txt");
const CURATED_ALIASES: &str = include_str!("../data/aliases.tsv");
const STOPLIST: &str = include_str!("../data/stoplist.txt");
const ALIAS_STOPLIST: &str = include_str!("../data/alias-stoplist.txt");

/// Longest word we look up; longer words are never symbols or aliases.
const MAX_WORD_LEN: usize = 24;
/// Longest symbol in a cashtag: 5 letters, a separator and a 2-letter class.
const MAX_CASHTAG_LEN: usize = 8;

/// One symbol mentioned in a text. `symbol` is spelled as in the universe (`BRK-B`, not `BRK.B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mention<'u> {
    /// The symbol, borrowed from the universe.
    pub symbol: &'u str,
    /// How it was first mentioned in the text.
    pub kind: MentionKind,
}

/// The set of symbols and names that mentions are validated against.
#[derive(Debug, Clone)]
pub struct SymbolUniverse {
    /// Symbols, upper-cased, as spelled in their source (`BRK-B`); other maps index into this.
    symbols: Vec<Box<str>>,
    /// Upper-case symbol with `.` replaced by `-` → index into `symbols`.
    by_symbol: FastMap<Box<str>, u32>,
    /// Lower-case alias → symbol index and whether any letter case matches.
    by_alias: FastMap<Box<str>, AliasEntry>,
    /// Lower-case phrases of two or three words ("home depot") → symbol index; they match when
    /// the first word is capitalised and the words are separated by single spaces.
    by_phrase: FastMap<Box<str>, u32>,
    /// Lower-case first words of the phrases, to try a phrase only where one can start.
    phrase_first_words: HashSet<Box<str>, FastBuildHasher>,
    /// Upper-case words that count only as cashtags.
    stoplist: HashSet<Box<str>, FastBuildHasher>,
}

#[derive(Debug, Clone, Copy)]
struct AliasEntry {
    symbol_idx: u32,
    any_case: bool,
}

impl SymbolUniverse {
    /// The bundled universe: `data/us-symbols.csv`, `data/extra-symbols.txt`, aliases derived from
    /// company names and the curated `data/aliases.tsv`.
    pub fn bundled() -> Self {
        let mut universe = Self::empty();
        for (symbol, name) in parse_symbol_csv(BUNDLED_SYMBOLS_CSV) {
            let idx = universe.insert_symbol(symbol);
            if let Some(alias) = alias_from_name(name)
                && !is_listed(ALIAS_STOPLIST, &alias)
            {
                if alias.contains(' ') {
                    universe.insert_phrase(&alias, idx);
                    continue;
                }
                // Several listings can share a name (Oracle and Oracle Corporation Japan): the
                // shortest symbol is the primary listing, not an OTC line.
                let symbols = &universe.symbols;
                let entry = universe
                    .by_alias
                    .entry(alias.into_boxed_str())
                    .or_insert(AliasEntry { symbol_idx: idx, any_case: false });
                if symbols[idx as usize].len() < symbols[entry.symbol_idx as usize].len() {
                    entry.symbol_idx = idx;
                }
            }
        }
        for symbol in data_lines(EXTRA_SYMBOLS) {
            universe.insert_symbol(symbol);
        }
        for line in data_lines(CURATED_ALIASES) {
            let mut fields = line.split('\t');
            let (Some(alias), Some(symbol)) = (fields.next(), fields.next()) else { continue };
            let any_case = fields.next().map(str::trim) == Some("any");
            let idx = universe.insert_symbol(symbol);
            if alias.contains(' ') {
                universe.insert_phrase(alias, idx);
                continue;
            }
            universe.by_alias.insert(
                alias.trim().to_ascii_lowercase().into_boxed_str(),
                AliasEntry { symbol_idx: idx, any_case },
            );
        }
        universe
    }

    /// A universe with no symbols, aliases or stoplist entries beyond the bundled stoplist.
    pub fn empty() -> Self {
        let stoplist = STOPLIST
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(str::split_whitespace)
            .map(|word| word.to_ascii_uppercase().into_boxed_str())
            .collect();
        Self {
            symbols: Vec::new(),
            by_symbol: FastMap::default(),
            by_alias: FastMap::default(),
            by_phrase: FastMap::default(),
            phrase_first_words: HashSet::default(),
            stoplist,
        }
    }

    /// Adds symbols (watchlist, config list). Entries that are empty or contain characters other
    /// than letters, digits, `.` and `-` are ignored.
    #[must_use]
    pub fn with_symbols<I, S>(mut self, symbols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for symbol in symbols {
            let symbol = symbol.as_ref().trim();
            if !symbol.is_empty()
                && symbol.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                self.insert_symbol(symbol);
            }
        }
        self
    }

    /// Adds a company-name alias for `symbol` (added to the universe if missing). With
    /// `any_case = false` the alias only matches when capitalised or all caps.
    #[must_use]
    pub fn with_alias(mut self, alias: &str, symbol: &str, any_case: bool) -> Self {
        let idx = self.insert_symbol(symbol);
        self.by_alias.insert(
            alias.trim().to_ascii_lowercase().into_boxed_str(),
            AliasEntry { symbol_idx: idx, any_case },
        );
        self
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when there are no symbols.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Whether `symbol` (any case, `.` or `-` class separator) is in the universe.
    pub fn contains(&self, symbol: &str) -> bool {
        let mut buf = [0u8; MAX_WORD_LEN];
        normalize_symbol(symbol.as_bytes(), &mut buf).is_some_and(|key| self.by_symbol.contains_key(key))
    }

    /// Whether `word` (any case) is in the stoplist.
    pub fn is_stopword(&self, word: &str) -> bool {
        let mut buf = [0u8; MAX_WORD_LEN];
        upper_into(word.as_bytes(), &mut buf).is_some_and(|key| self.stoplist.contains(key))
    }

    /// The symbols mentioned in `text`, once each, in order of first mention.
    pub fn extract_mentions(&self, text: &str) -> Vec<Mention<'_>> {
        let mut mentions = Vec::new();
        self.extract_mentions_into(text, &mut mentions);
        mentions
    }

    /// Like [`Self::extract_mentions`] but reuses `out` (cleared first), so a scanning loop does
    /// not allocate per text.
    pub fn extract_mentions_into<'u>(&'u self, text: &str, out: &mut Vec<Mention<'u>>) {
        out.clear();
        let bytes = text.as_bytes();
        let mut pos = 0;
        while pos < bytes.len() {
            let byte = bytes[pos];
            if byte == b'$' {
                pos = self.scan_cashtag(bytes, pos, out);
            } else if is_word_byte(byte) {
                if starts_url(bytes, pos) {
                    pos = skip_non_space(bytes, pos);
                } else {
                    pos = self.scan_word(bytes, pos, out);
                }
            } else {
                pos += 1;
            }
        }
    }

    /// Handles a `$` at `start`; returns the position to continue from.
    fn scan_cashtag<'u>(&'u self, bytes: &[u8], start: usize, out: &mut Vec<Mention<'u>>) -> usize {
        let letters_start = start + 1;
        // "US$5", "a$b": a `$` glued to a word is not a cashtag.
        if start > 0 && is_word_byte(bytes[start - 1]) {
            return letters_start;
        }
        let letters_end = scan_while(bytes, letters_start, |b| b.is_ascii_alphabetic());
        let n_letters = letters_end - letters_start;
        if n_letters == 0 {
            return letters_start;
        }
        let mut end = letters_end;
        if let Some(&sep) = bytes.get(letters_end)
            && (sep == b'.' || sep == b'-')
        {
            let class_end = scan_while(bytes, letters_end + 1, |b| b.is_ascii_alphabetic());
            let n_class = class_end - letters_end - 1;
            if (1..=2).contains(&n_class) && !bytes.get(class_end).is_some_and(|&b| is_word_byte(b)) {
                end = class_end;
            }
        }
        let after_end = scan_while(bytes, end, is_word_byte);
        if after_end != end || n_letters > 5 {
            // "$NVDA2", "$TOOLONG": not a cashtag.
            return after_end;
        }
        let mut buf = [0u8; MAX_CASHTAG_LEN];
        if let Some(key) = normalize_symbol(&bytes[letters_start..end], &mut buf)
            && let Some(&idx) = self.by_symbol.get(key)
        {
            self.push(out, idx, MentionKind::Cashtag);
        }
        end
    }

    /// Handles the word starting at `start`; returns the position after it.
    fn scan_word<'u>(&'u self, bytes: &[u8], start: usize, out: &mut Vec<Mention<'u>>) -> usize {
        let end = scan_while(bytes, start, is_word_byte);
        let word = &bytes[start..end];
        if word.len() > MAX_WORD_LEN || word.iter().any(|b| !b.is_ascii_alphabetic()) {
            return end;
        }
        let prev = start.checked_sub(1).map(|i| bytes[i]);
        let next = bytes.get(end).copied();
        // Handles and tags: "@NVDA", "#tag".
        if matches!(prev, Some(b'@' | b'#' | b'\\')) {
            return end;
        }
        // Domains and file names: "x.com", "apple.com", "chart.png".
        let next_next = bytes.get(end + 1).copied();
        if (prev == Some(b'.') && start >= 2 && is_word_byte(bytes[start - 2]))
            || (next == Some(b'.') && next_next.is_some_and(|b| b.is_ascii_lowercase()))
        {
            return end;
        }
        // Slashes: a link without a scheme ("bloomberg.com/news/NVDA-q3") is skipped whole, a
        // subreddit or user ("r/NVDA", "/u/AMD") is not a mention, a pair ("NVDA/AMD") is.
        if prev == Some(b'/') || next == Some(b'/') {
            let chunk_start = bytes[..start].iter().rposition(u8::is_ascii_whitespace).map_or(0, |i| i + 1);
            let chunk_end = skip_non_space(bytes, end);
            if is_link_like(&bytes[chunk_start..chunk_end]) {
                return chunk_end;
            }
            if prev == Some(b'/')
                && start >= 2
                && matches!(bytes[start - 2], b'r' | b'R' | b'u' | b'U')
                && (start < 3 || !is_word_byte(bytes[start - 3]))
            {
                return end;
            }
        }
        // Contractions: "DON'T" (the `T` after the apostrophe), "I'M" (the `I` before it). A
        // possessive `'s` keeps the word: "NVDA's".
        if prev == Some(b'\'') || ends_with_right_quote(&bytes[..start]) {
            return end;
        }
        let apostrophe_len = apostrophe_at(bytes, end);
        if apostrophe_len > 0 {
            let tail_start = end + apostrophe_len;
            let tail_end = scan_while(bytes, tail_start, is_word_byte);
            if !bytes[tail_start..tail_end].eq_ignore_ascii_case(b"s") {
                return end;
            }
        }

        let all_upper = word.iter().all(u8::is_ascii_uppercase);
        if all_upper && (2..=5).contains(&word.len()) {
            // "BRK-B" or "BRK.B" written bare.
            if matches!(next, Some(b'-' | b'.')) {
                let class_end = scan_while(bytes, end + 1, |b| b.is_ascii_uppercase());
                if (1..=2).contains(&(class_end - end - 1))
                    && !bytes.get(class_end).is_some_and(|&b| is_word_byte(b))
                {
                    let mut buf = [0u8; MAX_CASHTAG_LEN];
                    if let Some(key) = normalize_symbol(&bytes[start..class_end], &mut buf)
                        && let Some(&idx) = self.by_symbol.get(key)
                    {
                        self.push(out, idx, MentionKind::Bare);
                        return class_end;
                    }
                }
            }
            // Words are all ASCII letters here, so the word is valid UTF-8 and upper case already.
            let key = std::str::from_utf8(word).unwrap_or_default();
            if self.stoplist.contains(key) {
                return end;
            }
            if let Some(&idx) = self.by_symbol.get(key) {
                self.push(out, idx, MentionKind::Bare);
                return end;
            }
        }
        let mut buf = [0u8; MAX_WORD_LEN];
        let Some(key) = lower_into(word, &mut buf) else { return end };
        let capitalised = word[0].is_ascii_uppercase();
        if capitalised
            && self.phrase_first_words.contains(key)
            && let Some((idx, phrase_end)) = self.match_phrase(bytes, start)
        {
            self.push(out, idx, MentionKind::Alias);
            return phrase_end;
        }
        if word.len() >= 3
            && let Some(entry) = self.by_alias.get(key)
            && (entry.any_case || capitalised)
        {
            self.push(out, entry.symbol_idx, MentionKind::Alias);
        }
        end
    }

    /// The longest phrase alias of two or three words starting at `start`, with its end.
    fn match_phrase(&self, bytes: &[u8], start: usize) -> Option<(u32, usize)> {
        let mut buf = [0u8; 3 * MAX_WORD_LEN + 2];
        let mut len = 0;
        let mut pos = start;
        let mut best = None;
        for n_words in 1..=3 {
            let word_end = scan_while(bytes, pos, |b| b.is_ascii_alphabetic());
            let word = &bytes[pos..word_end];
            if word.is_empty()
                || word.len() > MAX_WORD_LEN
                || bytes.get(word_end).is_some_and(|&b| is_word_byte(b))
            {
                break;
            }
            // Every word of a name is capitalised ("Best Buy", not "Best buy I made"), apart from
            // connectors ("Bank of America").
            if n_words > 1 && word[0].is_ascii_lowercase() && !matches!(word, b"of" | b"and" | b"de" | b"the")
            {
                break;
            }
            if n_words > 1 {
                buf[len] = b' ';
                len += 1;
            }
            for (dst, src) in buf[len..len + word.len()].iter_mut().zip(word) {
                *dst = src.to_ascii_lowercase();
            }
            len += word.len();
            if n_words > 1
                && let Ok(phrase) = std::str::from_utf8(&buf[..len])
                && let Some(&idx) = self.by_phrase.get(phrase)
            {
                best = Some((idx, word_end));
            }
            // Words of a phrase are separated by exactly one space.
            if bytes.get(word_end) != Some(&b' ') {
                break;
            }
            pos = word_end + 1;
        }
        best
    }

    fn insert_phrase(&mut self, phrase: &str, idx: u32) {
        let phrase = phrase.trim().to_ascii_lowercase();
        if let Some(first) = phrase.split(' ').next() {
            self.phrase_first_words.insert(first.into());
        }
        self.by_phrase.entry(phrase.into_boxed_str()).or_insert(idx);
    }

    fn push<'u>(&'u self, out: &mut Vec<Mention<'u>>, idx: u32, kind: MentionKind) {
        let symbol: &str = &self.symbols[idx as usize];
        if !out.iter().any(|mention| std::ptr::eq(mention.symbol, symbol)) {
            out.push(Mention { symbol, kind });
        }
    }

    /// Inserts `symbol` if missing; returns its index.
    fn insert_symbol(&mut self, symbol: &str) -> u32 {
        let symbol = symbol.trim();
        let mut buf = [0u8; MAX_WORD_LEN];
        let Some(key) = normalize_symbol(symbol.as_bytes(), &mut buf) else {
            // Over-long symbols cannot be mentioned; keep them out of the index.
            return self.push_symbol(symbol);
        };
        if let Some(&idx) = self.by_symbol.get(key) {
            return idx;
        }
        let key: Box<str> = key.into();
        let idx = self.push_symbol(symbol);
        self.by_symbol.insert(key, idx);
        idx
    }

    fn push_symbol(&mut self, symbol: &str) -> u32 {
        let idx = u32::try_from(self.symbols.len()).unwrap_or(u32::MAX);
        self.symbols.push(symbol.to_ascii_uppercase().into_boxed_str());
        idx
    }
}

impl Default for SymbolUniverse {
    fn default() -> Self {
        Self::bundled()
    }
}

/// Derives an alias from a company name by dropping suffixes: one word ("Nvidia" → "nvidia",
/// "Apple Inc." → "apple", "Palantir Technologies" → "palantir") or a phrase of two or three
/// words ("Bank of America" → "bank of america", "The Walt Disney Company" → "walt disney");
/// `None` for longer names, names with digits or punctuation, and one-word names under 4 letters.
pub fn alias_from_name(name: &str) -> Option<String> {
    const SUFFIXES: &[&str] = &[
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "companies",
        "holdings",
        "holding",
        "group",
        "ltd",
        "limited",
        "plc",
        "sa",
        "s.a",
        "nv",
        "n.v",
        "ag",
        "se",
        "technologies",
        "technology",
        "platforms",
        "markets",
        "international",
        "worldwide",
        "the",
        "&",
    ];
    let words: Vec<&str> = name
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| !word.is_empty() && !SUFFIXES.iter().any(|suffix| word.eq_ignore_ascii_case(suffix)))
        .collect();
    let words = match words.as_slice() {
        // "Eli Lilly and Company" → "Eli Lilly".
        [rest @ .., last] if last.eq_ignore_ascii_case("and") => rest,
        all => all,
    };
    match words {
        [word] if word.len() >= 4 && word.bytes().all(|b| b.is_ascii_alphabetic()) => {
            // All-caps names ("AMD", "IBM") are tickers, not aliases.
            if word.bytes().all(|b| b.is_ascii_uppercase()) {
                return None;
            }
            Some(word.to_ascii_lowercase())
        }
        [first, ..]
            if (2..=3).contains(&words.len())
                && first.starts_with(|c: char| c.is_ascii_uppercase())
                && words.iter().all(|word| word.bytes().all(|b| b.is_ascii_alphabetic())) =>
        {
            Some(words.join(" ").to_ascii_lowercase())
        }
        _ => None,
    }
}

pub(crate) type FastBuildHasher = BuildHasherDefault<FastHasher>;
pub(crate) type FastMap<K, V> = HashMap<K, V, FastBuildHasher>;

/// An FxHash-style hasher: a multiply and rotate per 8 bytes. Keys are short words from our own
/// data files, so HashDoS resistance buys nothing here and SipHash would dominate the scan.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

impl FastHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

fn scan_while(bytes: &[u8], start: usize, keep: impl Fn(u8) -> bool) -> usize {
    let mut end = start;
    while end < bytes.len() && keep(bytes[end]) {
        end += 1;
    }
    end
}

fn skip_non_space(bytes: &[u8], start: usize) -> usize {
    scan_while(bytes, start, |b| !b.is_ascii_whitespace())
}

/// A whitespace-delimited chunk with a scheme, or with a domain (`.` then a letter) before its
/// first `/`.
fn is_link_like(chunk: &[u8]) -> bool {
    if chunk.windows(3).any(|window| window == b"://") {
        return true;
    }
    let before_slash = chunk.iter().position(|&b| b == b'/').map_or(chunk, |i| &chunk[..i]);
    before_slash.windows(2).any(|pair| pair[0] == b'.' && pair[1].is_ascii_alphabetic())
}

fn starts_url(bytes: &[u8], pos: usize) -> bool {
    let rest = &bytes[pos..];
    let starts =
        |prefix: &[u8]| rest.len() >= prefix.len() && rest[..prefix.len()].eq_ignore_ascii_case(prefix);
    starts(b"http://") || starts(b"https://") || starts(b"www.")
}

/// Length of an apostrophe (`'` or `’`) at `pos`, or 0.
fn apostrophe_at(bytes: &[u8], pos: usize) -> usize {
    match bytes.get(pos..pos + 3) {
        Some([0xE2, 0x80, 0x99]) => 3,
        _ if bytes.get(pos) == Some(&b'\'') => 1,
        _ => 0,
    }
}

fn ends_with_right_quote(bytes: &[u8]) -> bool {
    bytes.ends_with(&[0xE2, 0x80, 0x99])
}

/// Upper-cases `symbol` into `buf` and turns a `.` class separator into `-`.
fn normalize_symbol<'b>(symbol: &[u8], buf: &'b mut [u8]) -> Option<&'b str> {
    let target = buf.get_mut(..symbol.len())?;
    for (dst, src) in target.iter_mut().zip(symbol) {
        *dst = if *src == b'.' { b'-' } else { src.to_ascii_uppercase() };
    }
    std::str::from_utf8(target).ok()
}

fn upper_into<'b>(word: &[u8], buf: &'b mut [u8]) -> Option<&'b str> {
    let target = buf.get_mut(..word.len())?;
    for (dst, src) in target.iter_mut().zip(word) {
        *dst = src.to_ascii_uppercase();
    }
    std::str::from_utf8(target).ok()
}

fn lower_into<'b>(word: &[u8], buf: &'b mut [u8]) -> Option<&'b str> {
    let target = buf.get_mut(..word.len())?;
    for (dst, src) in target.iter_mut().zip(word) {
        *dst = src.to_ascii_lowercase();
    }
    std::str::from_utf8(target).ok()
}

/// Non-empty, non-comment lines of an embedded data file.
fn data_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
}

fn is_listed(list: &str, word: &str) -> bool {
    data_lines(list).flat_map(str::split_whitespace).any(|entry| entry.eq_ignore_ascii_case(word))
}

/// `symbol,name` rows of the bundled CSV (header skipped; names may be double-quoted).
fn parse_symbol_csv(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().skip(1).filter_map(|line| {
        let (symbol, name) = line.split_once(',')?;
        let name = name.trim().trim_matches('"');
        Some((symbol.trim(), name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbols(universe: &SymbolUniverse, text: &str) -> Vec<String> {
        universe.extract_mentions(text).iter().map(|m| m.symbol.to_owned()).collect()
    }

    #[test]
    fn every_bundled_symbol_is_a_valid_symbol() {
        // The scanner drops mentions whose name does not parse as a `Symbol`; none of the bundled
        // universe may be dropped that way.
        let universe = SymbolUniverse::bundled();
        assert!(universe.len() > 1000, "{}", universe.len());
        let invalid: Vec<&str> =
            universe.symbols.iter().map(|s| &**s).filter(|s| domain::Symbol::parse(s).is_err()).collect();
        assert!(invalid.is_empty(), "{invalid:?}");
    }

    #[test]
    fn cashtags_bare_and_aliases() {
        let universe = SymbolUniverse::bundled();
        assert_eq!(symbols(&universe, "$NVDA and AAPL, also Tesla"), ["NVDA", "AAPL", "TSLA"]);
        assert_eq!(symbols(&universe, "loaded $BRK.B today"), ["BRK-B"]);
        assert_eq!(universe.extract_mentions("$brk.b")[0].kind, MentionKind::Cashtag);
    }

    #[test]
    fn stoplisted_words_need_a_cashtag() {
        let universe = SymbolUniverse::bundled();
        assert!(symbols(&universe, "IT is ON, ALL IN. A CEO said I should").is_empty());
        assert_eq!(symbols(&universe, "$ON and $IT"), ["ON", "IT"]);
    }

    #[test]
    fn urls_contractions_and_duplicates() {
        let universe = SymbolUniverse::bundled();
        assert!(symbols(&universe, "see https://finance.yahoo.com/quote/NVDA/ and r/AMD").is_empty());
        assert!(symbols(&universe, "DON'T do it").is_empty());
        assert_eq!(symbols(&universe, "NVDA's run, NVDA again, $NVDA"), ["NVDA"]);
        assert_eq!(
            symbols(&universe, "NVDA/AMD pair trade, see bloomberg.com/news/TSLA-q3 or apple.com"),
            ["NVDA", "AMD"]
        );
        assert!(symbols(&universe, "ask in /r/NVDA or u/TSLA").is_empty());
        assert_eq!(symbols(&universe, "Bank of America and Home Depot"), ["BAC", "HD"]);
        assert!(symbols(&universe, "Best buy I made all year").is_empty());
    }

    #[test]
    fn aliases_from_names() {
        assert_eq!(alias_from_name("Apple Inc.").as_deref(), Some("apple"));
        assert_eq!(alias_from_name("Palantir Technologies").as_deref(), Some("palantir"));
        assert_eq!(alias_from_name("Bank of America").as_deref(), Some("bank of america"));
        assert_eq!(alias_from_name("Eli Lilly and Company").as_deref(), Some("eli lilly"));
        assert_eq!(alias_from_name("Lowe's"), None);
        assert_eq!(alias_from_name("AMD"), None);
    }

    #[test]
    fn extra_symbols_extend_the_universe() {
        let universe = SymbolUniverse::bundled().with_symbols(["ZZZQ"]);
        assert_eq!(symbols(&universe, "ZZZQ to the moon"), ["ZZZQ"]);
    }
}

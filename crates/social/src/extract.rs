//! Ticker mentions in free text: cashtags, symbols in any case when the context says so, and
//! company names.
//!
//! Why this shape: a naive "every upper-case word that is a ticker" rule counts `IT`, `ON`, `ALL`,
//! `A` and `CEO` as stocks, calls "50 day MA" Mastercard and misses "Nvidia", "gme" and "spy puts".
//! So a mention is one of
//! - a **cashtag** (`$NVDA`, `$nvda`, `$BRK.B`, `$FB`): counts when the symbol or a former symbol
//!   of it (`data/renames.tsv`: FB → META) is in the universe. Unknown cashtags (`$HELLO`, `$5`)
//!   do not count: on Reddit `$` also prefixes prices and jokes. Every other rule below is waived
//!   for a cashtag: `$ON`, `$IT`, `$MA` count;
//! - a **bare upper-case symbol** (`NVDA`, `PTON`, `FB`): counts as it stands unless it is
//!   - an index name or indicator (`data/not-companies.txt`: SPX, RSI, EMA; never as bare words),
//!   - a word-ticker (`data/stoplist.txt`: ON, IT, ALL, DD, CEO, MA, single letters): counts only
//!     with **tight context**: a position noun, strike or `$` amount right after ("ON calls",
//!     "F 12c"), or, unless it is an English word ("Buy NOW", "sell ALL"), a trading verb right
//!     before ("bought F"); `A` and `I` never; `MA` never after a number or "day" ("50 day MA"),
//!   - an English word (`data/english-words.txt`: CAT, HOOD, LOW) next to an all-caps word that
//!     is not a ticker ("HOLD THE LINE"), or in an all-caps line with two such words: shouting, so
//!     it needs a position noun right after it (near context for a popular one: "SPY AND QQQ
//!     ALL TIME HIGH"); after a determiner in ordinary text ("the PATH we are on") or between
//!     two lower-case words not after a preposition ("they absolutely KNOW that") it needs near
//!     context, unless it is on the popular list;
//!   - any other ticker in a shouted sentence needs near context unless it is on the popular
//!     list ("DAVE SAID THE BURGERS WERE SQUARE", "PRINTER GO BRRR"; "SOUN CALLS ARE PRINTING"
//!     counts);
//! - `AI` counts only before a position noun ("AI calls"); "selling AI" is the technology;
//! - a **lower- or mixed-case symbol** (`gme`, `Tsla`, `msft`, `pton`), unless it is a person's
//!   or place's name (`data/proper-names.txt`: "Ryan Cohen") and not on the popular list:
//!   - a ticker the forums use all the time (`data/popular-tickers.txt`: nvda, tsla, gme) that is
//!     not an English word counts as it stands; the few English words on that list ("hood",
//!     "mu") and 2-letter ones ("bb") count with near context,
//!   - another ticker that is not an English word counts with **near context**: a trading word,
//!     `$` amount, strike, `%` or a number of 2+ digits within [`NEAR_WINDOW`] words either side
//!     ("pton calls", "loaded up on asts"); a mention that counted is near context too, so the
//!     symbols of a list count together ("smci/nvda/dell", "calls on nvda, meta, mu"), but not
//!     for a capitalised ordinary-word name ("TSLA is on Reddit"); company words ("ceo",
//!     "revenue", "sales") are near context as well,
//!   - other English words ("cost", "size", "snap") and stoplisted words (`on`, `it`, `all`)
//!     never count as tickers in lower case;
//! - an **alias**: a company name ("Nvidia", "Coinbase", "Bank of America"), derived from the names
//!   of the listed stocks by stripping suffixes (Inc., Corp., Global, Holdings, …) or taken from the
//!   curated `data/aliases.tsv`, plus the first word of a longer name when no other stock's name
//!   starts with it and it is not a person's name ("Polestar"). Names that are not English words
//!   match in any case ("paypal"); names that are ordinary words ("Snap", "Southwest") need
//!   capitalisation and a trading or company word near (a number or `$` amount is not
//!   enough), or a position noun right after them in lower case ("apple shares"); `data/alias-stoplist.txt` drops names that are too common or are people and
//!   indices ("Target", "United", "Powell", "Nasdaq", "Dow"). A curated alias spelled like another
//!   ticker takes the bare word over ("RH" is Robinhood on Reddit; `$RH` stays RH). A curated
//!   `cap` name that is also a word counts in lower case with near context ("down 30% on
//!   intel"), other ordinary-word names only before a position noun. At the start
//!   of a sentence a capital says nothing, so an ordinary-word name there needs the position noun
//!   ("People paid $19" is not People Inc.; "Southwest shares" is LUV); nor does it in a
//!   Title Case sentence ("ATVI Calls Gain $1.8K Today"). A possessive name is
//!   stored without its apostrophe ("Wendy's" → `wendys`, also matching "Wendys") and needs
//!   capitalisation and near context: it is as often a place or a person ("behind Wendy's").
//!   A name followed by "ruling", "decision" or "doctrine" is a court case ("the Chevron
//!   ruling"). Any name right after a place preposition (`at`, `inside`, `near`…; not "look at")
//!   needs a trading or company word near it: "tests at Walmart" is the store. A `$` amount
//!   after an ordinary-word name is not a position noun ("Gain $10"). An ordinary-word name or a
//!   ticker that is not on the popular list, followed by a capitalised word the scanner does not
//!   know, is part of another name ("Apple Jacks", "TD Ameritrade") and needs a trading word near.
//!
//! `data/informal-words.txt` (slang and abbreviations: "bro", "meds", "pre") counts as English
//! words; in capitals such a ticker also needs tight context ("ALOT of", "BTO", "IMO"). A plural acronym ("GPUs", "CEOs", "EVs") is never a ticker, and a `#` that starts a
//! line is a Markdown heading ("#NVDA Gang"), not a tag. A lone `C` or `P` after a number is a
//! strike ("505 C leaps"), and a legal form after a capitalised non-symbol word is part of a name
//! ("DEUTZ AG").
//!
//! Context windows stop at sentence ends (`.`, `!`, `?`, `;` before a space, a new line), and a
//! comma, colon or parenthesis counts as a word in them ("mid, stock" is not "mid stock").
//! Words glued to a hyphen ("GLP-1", "F-150") are not tickers unless they form a class symbol
//! (`BRK-B`).
//! Words inside URLs (`https://…`, `www.…`), subreddit/user paths (`r/NVDA`), words with digits or
//! underscores, words glued to `&` (`S&P`, `P&L`) and contraction fragments (`DON'T` → no `T`)
//! never count. Each symbol is reported once per text, with the kind of its first occurrence, in
//! order of first mention.
//!
//! Speed: one pass over the bytes, no regex, no allocation per token: each word is lower-cased
//! into a stack buffer and looked up once in a hash map (cheap hasher) that holds everything known
//! about it (symbol, alias, word classes, context role). A candidate that waits for context
//! sits in a fixed-size array until a context word arrives or the window closes.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

pub use domain::MentionKind;

const BUNDLED_UNIVERSE_CSV: &str = include_str!("../data/universe.csv");
const RENAMES: &str = include_str!("../data/renames.tsv");
const EXTRA_SYMBOLS: &str = include_str!("../data/extra-symbols.txt");
const CURATED_ALIASES: &str = include_str!("../data/aliases.tsv");
const STOPLIST: &str = include_str!("../data/stoplist.txt");
const ALIAS_STOPLIST: &str = include_str!("../data/alias-stoplist.txt");
const NOT_COMPANIES: &str = include_str!("../data/not-companies.txt");
const ENGLISH_WORDS: &str = include_str!("../data/english-words.txt");
const PROPER_NAMES: &str = include_str!("../data/proper-names.txt");
const INFORMAL_WORDS: &str = include_str!("../data/informal-words.txt");
const POPULAR_TICKERS: &str = include_str!("../data/popular-tickers.txt");

/// Longest word we look up; longer words are never symbols or aliases.
const MAX_WORD_LEN: usize = 24;
/// Longest symbol in a cashtag: 5 letters, a separator and a 2-letter class.
const MAX_CASHTAG_LEN: usize = 8;
/// How many words apart a candidate and a near-context word may be ("tsla is up 5%").
pub const NEAR_WINDOW: u32 = 3;
/// How many words after a word-ticker a position noun, strike or amount may come: right after
/// ("ON calls", "F 12c"; a strike is itself a position word, so "ON 80c calls" works too).
const TIGHT_WINDOW: u32 = 1;
/// Candidates waiting for context at once; more in one window are dropped (never seen in posts).
const MAX_PENDING: usize = 8;

/// Trading verbs: near context, and tight context for the word right after ("bought ON").
const VERBS_BEFORE: &[&str] = &[
    "buy",
    "buying",
    "bought",
    "buys",
    "sell",
    "selling",
    "sold",
    "sells",
    "long",
    "short",
    "shorting",
    "shorted",
    "shorts",
    "hold",
    "holding",
    "holds",
    "held",
    "added",
    "adding",
    "loaded",
    "loading",
    "grabbed",
    "averaged",
    "averaging",
    "dca",
    "trimmed",
    "trimming",
    "yolo",
    "yoloed",
    "aped",
    "bagholding",
];
/// Position nouns: near context, and tight context for the one or two words before ("ON calls").
/// Not "stocks": after a word it is a category ("AI stocks", "cannabis stocks").
const NOUNS_AFTER: &[&str] = &[
    "call",
    "calls",
    "put",
    "puts",
    "share",
    "shares",
    "stock",
    "leap",
    "leaps",
    "options",
    "contracts",
    "earnings",
    "er",
    "strike",
    "strikes",
    "position",
    "positions",
    "bags",
    "fds",
    "weeklies",
    "spreads",
    "csp",
    "csps",
    "ticker",
    "fd",
    "pt",
];
/// Other trading words: near context only.
const NEAR_WORDS: &[&str] = &[
    "moon",
    "mooning",
    "tendies",
    "dip",
    "dipping",
    "rip",
    "ripping",
    "tank",
    "tanking",
    "tanked",
    "pump",
    "pumping",
    "pumped",
    "dump",
    "dumping",
    "dumped",
    "rally",
    "rallied",
    "rallying",
    "squeeze",
    "squeezing",
    "bagholder",
    "bagholders",
    "bag",
    "gains",
    "loss",
    "losses",
    "profit",
    "profits",
    "premium",
    "bullish",
    "bearish",
    "ath",
    "dividend",
    "dividends",
    "chart",
    "breakout",
    "support",
    "resistance",
    "undervalued",
    "overvalued",
    "valuation",
    "shorters",
    "hedge",
    "portfolio",
    "rocket",
    "stonk",
    "stonks",
    "price",
    "entry",
    "exit",
    "buyback",
    "guidance",
    "downgrade",
    "upgrade",
    "downgraded",
    "upgraded",
    "investing",
    "invested",
    "trade",
    "trading",
    "traded",
    "yolod",
    "otm",
    "itm",
    "iv",
    "dte",
    "expiry",
    "exp",
    "premarket",
    "afterhours",
    "ah",
    "pm",
    "green",
    "red",
    "crushed",
    "mooned",
    "rocketing",
    "soaring",
    "plunge",
    "plunged",
    "shareholders",
    "bull",
    "bear",
    "bulls",
    "bears",
    "up",
    "down",
    "bleeding",
    "cooked",
    "meme",
    "printing",
    "print",
    "squeezed",
    "diamond",
    "hands",
    "ceo",
    "cfo",
    "revenue",
    "revenues",
    "sales",
    "acquisition",
    "merger",
    "ipo",
    "stake",
];
/// Legal forms of company names; after a capitalised word that is not a symbol they are part of
/// the name ("DEUTZ AG"), not tickers (AG, SE, CO…).
const LEGAL_FORMS: &[&str] = &[
    "ag", "sa", "se", "nv", "plc", "llc", "lp", "inc", "corp", "co", "ltd", "gmbh", "spa", "ab", "asa", "bv",
];
/// Words that make a following company name a place ("at Walmart", "inside Wendy's"): the name
/// then needs a trading or company word near it. "into" is left out ("shoved it into nvidia"),
/// and so is "from": a company is as often the source ("switched from Robinhood", "a statement
/// from Boeing"). "at" after a look word is not a place ("look at Dollar General").
const PLACE_LEADS: &[&str] = &["at", "inside", "outside", "near", "behind"];
/// Words after which "at" points at something rather than a place.
const LOOK_WORDS: &[&str] = &["look", "looks", "looked", "looking", "glance", "stare", "staring"];
/// Determiners: an all-caps English word after one is emphasis ("the PATH we are on"), not a
/// ticker, unless a trading word or another ticker is near.
const DETERMINERS: &[&str] =
    &["the", "a", "an", "this", "that", "these", "those", "every", "no", "our", "their"];
/// Words that make a following `MA` an indicator ("50 day MA", "200 week MA", "moving MA").
const MA_LEADS: &[&str] = &["day", "week", "hour", "minute", "min", "d", "w", "h", "moving", "dma"];

/// One symbol mentioned in a text. `symbol` is spelled as in the universe (`BRK-B`, not `BRK.B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mention<'u> {
    /// The symbol, borrowed from the universe.
    pub symbol: &'u str,
    /// How it was first mentioned in the text.
    pub kind: MentionKind,
}

/// Whether a listing is a company's stock (common shares, ADRs, LP units) or an ETF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityType {
    /// Common stock of any class, an ADR or LP units.
    Stock,
    /// An exchange-traded fund or note.
    Etf,
}

impl SecurityType {
    /// `stock` or `etf`, as in `universe.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Etf => "etf",
        }
    }
}

/// What the universe knows about one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolInfo<'u> {
    /// The current symbol (`META`, `BRK-B`).
    pub symbol: &'u str,
    /// Company or fund name ("Meta Platforms, Inc."); empty for symbols added without one.
    pub name: &'u str,
    /// Listing exchange ("NASDAQ", "NYSE", "NYSE Arca", "Cboe BZX", "delisted"); empty if unknown.
    pub exchange: &'u str,
    /// Stock or ETF.
    pub security_type: SecurityType,
    /// Tickers it used to trade under (`FB` for `META`).
    pub former_symbols: &'u [Box<str>],
}

/// Why a universe file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum UniverseError {
    /// The first line is not a `symbol,name[,exchange,type,former_symbols]` header.
    #[error("universe header is {found:?}: expected symbol,name,exchange,type,former_symbols")]
    Header {
        /// The header line found.
        found: String,
    },
    /// A row that does not parse.
    #[error("universe line {line}: {reason}")]
    Row {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A header and nothing else.
    #[error("universe has no symbols")]
    Empty,
}

/// The set of symbols and names that mentions are validated against.
#[derive(Debug, Clone)]
pub struct SymbolUniverse {
    /// Symbols, upper-cased, as spelled in their source (`BRK-B`); other maps index into this.
    symbols: Vec<Box<str>>,
    /// Name, exchange, type and former symbols, parallel to `symbols`.
    listings: Vec<Listing>,
    /// Upper-case symbol or former symbol with `.` replaced by `-` → index into `symbols`.
    by_symbol: FastMap<Box<str>, u32>,
    /// Lower-case word → everything the scanner needs to know about it, in one lookup.
    words: FastMap<Box<str>, WordEntry>,
    /// Lower-case phrases of two or three words ("home depot") → symbol and case rule.
    by_phrase: FastMap<Box<str>, AliasEntry>,
    /// Upper-case words that are tickers only with context (kept for [`Self::is_stopword`]).
    stoplist: HashSet<Box<str>, FastBuildHasher>,
}

#[derive(Debug, Clone, Default)]
struct Listing {
    name: Box<str>,
    exchange: Box<str>,
    security_type: Option<SecurityType>,
    former_symbols: Vec<Box<str>>,
}

/// How an alias may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AliasCase {
    /// Any letter case: the name is not an English word ("nvidia").
    Any,
    /// Capitalised or all caps ("Apple", not "apple"); for phrases, every word.
    Cap,
    /// Capitalised and with near context: the name is an ordinary word ("Snap", "Southwest").
    CapContext,
    /// Phrases only: first word capitalised, the rest any case ("ON semi").
    First,
}

#[derive(Debug, Clone, Copy)]
struct AliasEntry {
    symbol_idx: u32,
    case: AliasCase,
}

const NO_SYMBOL: u32 = u32::MAX;

/// What one lower-case word can be. `symbol` and `alias` are indices into `symbols` or
/// [`NO_SYMBOL`]; `flags` are the `W_*` bits.
#[derive(Debug, Clone, Copy)]
struct WordEntry {
    symbol: u32,
    alias: u32,
    alias_case: AliasCase,
    flags: u16,
}

impl Default for WordEntry {
    fn default() -> Self {
        Self { symbol: NO_SYMBOL, alias: NO_SYMBOL, alias_case: AliasCase::Cap, flags: 0 }
    }
}

/// Word-ticker: as a bare word only with tight context; in lower case never.
const W_STOP: u16 = 1;
/// Index name or indicator: never a bare mention.
const W_NOT_COMPANY: u16 = 1 << 1;
/// An English word (or first name) in lower case.
const W_ENGLISH: u16 = 1 << 2;
/// A trading verb (tight context for the next word).
const W_VERB: u16 = 1 << 3;
/// A position noun (tight context for the words before).
const W_NOUN: u16 = 1 << 4;
/// Another trading word (near context).
const W_NEAR: u16 = 1 << 5;
/// A phrase alias starts with this word.
const W_PHRASE_START: u16 = 1 << 6;
/// A word that makes a following `MA` an indicator.
const W_MA_LEAD: u16 = 1 << 7;
/// A ticker that the forums talk about all the time (`data/popular-tickers.txt`).
const W_POPULAR: u16 = 1 << 8;
/// A preposition that makes a following name a place ([`PLACE_LEADS`]).
const W_PLACE_LEAD: u16 = 1 << 9;
/// A determiner ([`DETERMINERS`]).
const W_DETERMINER: u16 = 1 << 10;
/// A look word ([`LOOK_WORDS`]).
const W_LOOK: u16 = 1 << 11;
/// Slang, an abbreviation or a misspelling (`data/informal-words.txt`: ALOT, IMO, WTF, TBF).
const W_INFORMAL: u16 = 1 << 12;
/// A person's or a place's name (`data/proper-names.txt`): capitalised in mixed case it is that
/// name ("Ryan Cohen"), not a ticker.
const W_PROPER: u16 = 1 << 13;
const W_CONTEXT: u16 = W_VERB | W_NOUN | W_NEAR;

/// What a candidate needs before it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Nothing: counts where it stands.
    Nothing,
    /// Near context within [`NEAR_WINDOW`] words either side; another ticker counts too
    /// ("nvda, meta, mu").
    Near,
    /// Near context from a trading word, not from another ticker: a capitalised ordinary-word
    /// name ("Snap is down 4%"; "TSLA is on Reddit" is the site).
    NearWord,
    /// Near context from a trading or company word, not from a number or another ticker: a
    /// name after a place preposition ("at Walmart").
    TradeWord,
    /// A verb right before, or a position noun or strike within [`TIGHT_WINDOW`] words after.
    Tight,
    /// A position noun or strike within [`TIGHT_WINDOW`] words after.
    NounAfter,
}

/// The strength of a context word or token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    /// Near context only ("moon", "5%").
    Near,
    /// A trading verb ("bought").
    Verb,
    /// A number: a price, a count of two or more digits, a percentage or thousands ("444", "5%",
    /// "10k"); near context for tickers, not for a name that may be a place ("from Costco with 40
    /// pounds").
    Number,
    /// A position noun or a strike ("calls", "80c").
    Noun,
    /// A `$` amount ("$12"): a position noun for tickers ("F $12 calls"), not for names ("Gain
    /// $10" is not Gain Therapeutics).
    Amount,
    /// A ticker that counted: near context for other symbols only, not for names ("nvda, mu").
    Ticker,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    symbol_idx: u32,
    kind: MentionKind,
    word_idx: u32,
    /// Where in `out` the mention goes if it is confirmed, to keep the order of first mention.
    insert_at: usize,
    need: Need,
}

/// Per-text scanning state: word positions of the last context words and the waiting candidates.
struct Scan {
    /// Index of the next word; jumps at sentence ends so windows do not cross them.
    word_idx: u32,
    last_near: Option<u32>,
    /// Last trading or company word (near context that is not a number).
    last_trade_word: Option<u32>,
    /// Last ticker that counted (near context for symbols in a list).
    last_ticker: Option<u32>,
    last_verb: Option<u32>,
    last_number: Option<u32>,
    last_ma_lead: Option<u32>,
    /// Last place preposition ("at", "from") and determiner ("the").
    last_place_lead: Option<u32>,
    last_determiner: Option<u32>,
    last_look: Option<u32>,
    /// Last all-caps word that is not a ticker ("THE", "HOLD"): shouting around it.
    last_plain_caps: Option<u32>,
    /// Last capitalised word that is not a symbol ("DEUTZ" of "DEUTZ AG").
    last_name_word: Option<u32>,
    /// Index of the first word of the current sentence: its capital says nothing.
    sentence_start: u32,
    pending: [Pending; MAX_PENDING],
    n_pending: usize,
}

impl Scan {
    fn new() -> Self {
        let empty = Pending {
            symbol_idx: NO_SYMBOL,
            kind: MentionKind::Bare,
            word_idx: 0,
            insert_at: 0,
            need: Need::Nothing,
        };
        Self {
            word_idx: 0,
            last_near: None,
            last_trade_word: None,
            last_ticker: None,
            last_verb: None,
            last_number: None,
            last_ma_lead: None,
            last_place_lead: None,
            last_determiner: None,
            last_look: None,
            last_plain_caps: None,
            sentence_start: 0,
            last_name_word: None,
            pending: [empty; MAX_PENDING],
            n_pending: 0,
        }
    }

    /// Takes the index for the current word.
    fn next_word(&mut self) -> u32 {
        let idx = self.word_idx;
        self.word_idx += 1;
        idx
    }

    fn sentence_break(&mut self) {
        self.word_idx += NEAR_WINDOW + TIGHT_WINDOW + 1;
        self.sentence_start = self.word_idx;
        self.n_pending = 0;
    }
}

impl SymbolUniverse {
    /// The bundled universe: `data/universe.csv` (the Nasdaq Trader symbol directory snapshot,
    /// see `data/README.md`) with [`Self::with_curated_data`].
    pub fn bundled() -> Self {
        match Self::from_csv(BUNDLED_UNIVERSE_CSV) {
            Ok(universe) => universe.with_curated_data(),
            // The bundled file is checked by a test; an empty universe beats a panic in a server.
            Err(_) => Self::empty().with_curated_data(),
        }
    }

    /// A universe from a file in the format of `data/universe.csv`: a header
    /// `symbol,name,exchange,type,former_symbols` (only `symbol,name` are required, so a plain
    /// `symbol,name` list loads too), then one row per symbol; names may be double-quoted, `type`
    /// is `stock` or `etf` (empty means stock), `former_symbols` is `;`-separated. Aliases are
    /// derived from the stock names. Nothing curated is added: call [`Self::with_curated_data`]
    /// for the bundled renames, extra symbols and aliases (what `tickerwatch universe update`
    /// should do with a refreshed file).
    ///
    /// # Errors
    /// [`UniverseError`] for a missing header, a row without a valid symbol or with an unknown
    /// type, and a file without rows.
    pub fn from_csv(csv: &str) -> Result<Self, UniverseError> {
        let mut lines = csv.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
        let header = lines.next().map(|(_, line)| line.trim()).unwrap_or_default();
        let columns: Vec<&str> = header.split(',').map(str::trim).collect();
        if columns.len() < 2
            || !columns[0].eq_ignore_ascii_case("symbol")
            || !columns[1].eq_ignore_ascii_case("name")
        {
            return Err(UniverseError::Header { found: header.to_owned() });
        }
        let column = |name: &str| columns.iter().position(|column| column.eq_ignore_ascii_case(name));
        let (exchange_col, type_col, former_col) =
            (column("exchange"), column("type"), column("former_symbols"));

        let mut universe = Self::empty();
        let alias_stoplist: HashSet<String> =
            data_words(ALIAS_STOPLIST).map(str::to_ascii_lowercase).collect();
        let mut n_rows = 0;
        let mut stock_names = Vec::new();
        for (line_idx, line) in lines {
            let row_error = |reason: String| UniverseError::Row { line: line_idx + 1, reason };
            let fields = split_csv_row(line).map_err(|reason| row_error(reason.to_owned()))?;
            let field = |col: Option<usize>| col.and_then(|col| fields.get(col)).map_or("", |f| f.trim());
            let symbol = field(Some(0));
            if !is_valid_symbol(symbol) {
                return Err(row_error(format!("invalid symbol {symbol:?}")));
            }
            let security_type = match field(type_col) {
                "" | "stock" => SecurityType::Stock,
                "etf" => SecurityType::Etf,
                other => return Err(row_error(format!("unknown type {other:?}: expected stock or etf"))),
            };
            let name = field(Some(1));
            let idx = universe.insert_symbol(symbol);
            let listing = &mut universe.listings[idx as usize];
            listing.name = name.into();
            listing.exchange = field(exchange_col).into();
            listing.security_type = Some(security_type);
            for former in field(former_col).split(';').map(str::trim).filter(|s| !s.is_empty()) {
                universe.insert_former_symbol(former, idx);
            }
            if security_type == SecurityType::Stock {
                stock_names.push((idx, name.to_owned()));
            }
            n_rows += 1;
        }
        if n_rows == 0 {
            return Err(UniverseError::Empty);
        }
        // Short names: the first word of a longer name ("Polestar" of "Polestar Automotive
        // Holding UK") when no other stock's name starts with it.
        let proper_names: HashSet<&str> = data_words(PROPER_NAMES).collect();
        let mut first_words: HashMap<String, usize> = HashMap::new();
        let derived: Vec<(u32, Option<String>)> =
            stock_names.iter().map(|(idx, name)| (*idx, alias_from_name(name))).collect();
        for alias in derived.iter().filter_map(|(_, alias)| alias.as_deref()) {
            let first = alias.split(' ').next().unwrap_or(alias);
            *first_words.entry(first.to_owned()).or_default() += 1;
        }
        for (idx, alias) in derived {
            let Some(alias) = alias else { continue };
            if let Some((first, _)) = alias.split_once(' ')
                && first.len() >= 5
                && first_words.get(first) == Some(&1)
                && !is_english_word(&universe, first)
                && !alias_stoplist.contains(first)
                && !proper_names.contains(first)
            {
                let possessive = name_of(&universe, idx).contains(['\'', '’']);
                let case = if possessive { AliasCase::CapContext } else { AliasCase::Any };
                universe.insert_alias(first, idx, case, false);
            }
            // A possessive name ("Wendy's", "Dick's") is as often a place or a person as the
            // stock.
            let needs_context = name_of(&universe, idx).contains(['\'', '’']);
            universe.insert_derived_alias(&alias, idx, &alias_stoplist, needs_context);
        }
        Ok(universe)
    }

    /// Adds the bundled curated data: former tickers and delisted symbols (`data/renames.tsv`),
    /// extra symbols (`data/extra-symbols.txt`) and aliases (`data/aliases.tsv`).
    #[must_use]
    pub fn with_curated_data(self) -> Self {
        let mut universe = self.with_renames(RENAMES);
        for symbol in data_lines(EXTRA_SYMBOLS) {
            universe.insert_symbol(symbol);
        }
        for line in data_lines(CURATED_ALIASES) {
            let mut fields = line.split('\t');
            let (Some(alias), Some(symbol)) = (fields.next(), fields.next()) else { continue };
            let case = match fields.next().map(str::trim) {
                Some("any") => AliasCase::Any,
                Some("context") => AliasCase::CapContext,
                Some("first") => AliasCase::First,
                _ => AliasCase::Cap,
            };
            let idx = universe.insert_symbol(symbol);
            universe.insert_alias(alias, idx, case, true);
            // An alias spelled like another ticker takes the bare word over: on Reddit "RH" is
            // Robinhood, not RH (the cashtag `$RH` still is).
            let key = alias.trim().to_ascii_lowercase();
            if key.len() <= 5 && key.bytes().all(|b| b.is_ascii_alphabetic()) {
                let entry = universe.word_entry(&key);
                if entry.symbol != NO_SYMBOL && entry.symbol != idx {
                    entry.symbol = idx;
                }
            }
        }
        universe
    }

    /// Applies a renames file in the format of `data/renames.tsv`: `FORMER<TAB>renamed<TAB>CURRENT`
    /// makes the former ticker count as the current symbol (taking it from any listing that has
    /// it since), `SYMBOL<TAB>delisted<TAB>Name` adds a delisted symbol of its own. Malformed rows
    /// are skipped.
    #[must_use]
    pub fn with_renames(mut self, renames: &str) -> Self {
        for line in data_lines(renames) {
            let mut fields = line.split('\t').map(str::trim);
            let (Some(symbol), Some(kind), Some(value)) = (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            match kind {
                "renamed" if is_valid_symbol(value) && is_valid_symbol(symbol) => {
                    let idx = self.insert_symbol(value);
                    self.insert_former_symbol(symbol, idx);
                }
                "delisted" if is_valid_symbol(symbol) => {
                    let idx = self.insert_symbol(symbol);
                    let listing = &mut self.listings[idx as usize];
                    if listing.name.is_empty() {
                        listing.name = value.into();
                        listing.exchange = "delisted".into();
                        listing.security_type = Some(SecurityType::Stock);
                    }
                }
                _ => {}
            }
        }
        self
    }

    /// A universe with no symbols or aliases: only the word lists (stoplist, index names and
    /// indicators, English words, trading words).
    pub fn empty() -> Self {
        let mut universe = Self {
            symbols: Vec::new(),
            listings: Vec::new(),
            by_symbol: FastMap::default(),
            words: FastMap::default(),
            by_phrase: FastMap::default(),
            stoplist: HashSet::default(),
        };
        for word in data_words(STOPLIST) {
            universe.stoplist.insert(word.to_ascii_uppercase().into_boxed_str());
            universe.word_entry(word).flags |= W_STOP;
        }
        for word in data_words(NOT_COMPANIES) {
            universe.word_entry(word).flags |= W_NOT_COMPANY;
        }
        for word in data_words(ENGLISH_WORDS) {
            universe.word_entry(word).flags |= W_ENGLISH;
        }
        for word in data_words(INFORMAL_WORDS) {
            universe.word_entry(word).flags |= W_ENGLISH | W_INFORMAL;
        }
        for word in data_words(POPULAR_TICKERS) {
            universe.word_entry(word).flags |= W_POPULAR;
        }
        for word in data_words(PROPER_NAMES) {
            universe.word_entry(word).flags |= W_PROPER;
        }
        for (words, flag) in [
            (VERBS_BEFORE, W_VERB),
            (NOUNS_AFTER, W_NOUN),
            (NEAR_WORDS, W_NEAR),
            (MA_LEADS, W_MA_LEAD),
            (PLACE_LEADS, W_PLACE_LEAD),
            (DETERMINERS, W_DETERMINER),
            (LOOK_WORDS, W_LOOK),
        ] {
            for word in words {
                universe.word_entry(word).flags |= flag;
            }
        }
        universe
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
            if is_valid_symbol(symbol) {
                self.insert_symbol(symbol);
            }
        }
        self
    }

    /// Adds a company-name alias for `symbol` (added to the universe if missing). With
    /// `any_case = false` the alias only matches when capitalised or all caps. A phrase of two or
    /// three words ("home depot") matches when every word is capitalised.
    #[must_use]
    pub fn with_alias(mut self, alias: &str, symbol: &str, any_case: bool) -> Self {
        let idx = self.insert_symbol(symbol);
        let case = if any_case { AliasCase::Any } else { AliasCase::Cap };
        self.insert_alias(alias, idx, case, true);
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

    /// Whether `symbol` (any case, `.` or `-` class separator) is in the universe, as a current or
    /// a former symbol.
    pub fn contains(&self, symbol: &str) -> bool {
        self.symbol_idx(symbol).is_some()
    }

    /// What the universe knows about `symbol` (any case, `.` or `-`; a former symbol gives the
    /// current listing: `FB` → META).
    pub fn lookup(&self, symbol: &str) -> Option<SymbolInfo<'_>> {
        let idx = self.symbol_idx(symbol)? as usize;
        let listing = &self.listings[idx];
        Some(SymbolInfo {
            symbol: &self.symbols[idx],
            name: &listing.name,
            exchange: &listing.exchange,
            security_type: listing.security_type.unwrap_or(SecurityType::Stock),
            former_symbols: &listing.former_symbols,
        })
    }

    /// Whether `word` (any case) is in the stoplist: a word-ticker that counts only as a cashtag
    /// or with tight context.
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
        let mut scan = Scan::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let byte = bytes[pos];
            if byte == b'$' {
                pos = self.scan_cashtag(bytes, pos, &mut scan, out);
            } else if is_word_byte(byte) {
                if starts_url(bytes, pos) {
                    pos = skip_non_space(bytes, pos);
                } else {
                    pos = self.scan_word(bytes, pos, &mut scan, out);
                }
            } else {
                if byte == b'\n'
                    || (matches!(byte, b'.' | b'!' | b'?' | b';')
                        && bytes.get(pos + 1).is_none_or(|b| b.is_ascii_whitespace()))
                {
                    scan.sentence_break();
                } else if matches!(byte, b',' | b':' | b'(' | b')') {
                    // A clause break: "mid, stock" is not "mid stock".
                    scan.word_idx += 1;
                }
                pos += 1;
            }
        }
    }

    fn symbol_idx(&self, symbol: &str) -> Option<u32> {
        let mut buf = [0u8; MAX_WORD_LEN];
        normalize_symbol(symbol.trim().as_bytes(), &mut buf).and_then(|key| self.by_symbol.get(key).copied())
    }

    /// Handles a `$` at `start`; returns the position to continue from.
    fn scan_cashtag<'u>(
        &'u self,
        bytes: &[u8],
        start: usize,
        scan: &mut Scan,
        out: &mut Vec<Mention<'u>>,
    ) -> usize {
        let letters_start = start + 1;
        // "US$5", "a$b": a `$` glued to a word is not a cashtag.
        if start > 0 && is_word_byte(bytes[start - 1]) {
            return letters_start;
        }
        // "$12", "$4.5k": a dollar amount is context for the symbol before it ("F $12 calls").
        if bytes.get(letters_start).is_some_and(u8::is_ascii_digit) {
            let end = scan_while(bytes, letters_start, is_word_byte);
            let idx = scan.next_word();
            self.cue(scan, idx, Cue::Amount, out);
            return end;
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
        let word_idx = scan.next_word();
        if after_end != end || n_letters > 5 {
            // "$NVDA2", "$TOOLONG": not a cashtag.
            return after_end;
        }
        let mut buf = [0u8; MAX_CASHTAG_LEN];
        if let Some(key) = normalize_symbol(&bytes[letters_start..end], &mut buf)
            && let Some(&idx) = self.by_symbol.get(key)
        {
            self.candidate(scan, out, idx, MentionKind::Cashtag, word_idx, Need::Nothing);
        }
        end
    }

    /// Handles the word starting at `start`; returns the position after it.
    fn scan_word<'u>(
        &'u self,
        bytes: &[u8],
        start: usize,
        scan: &mut Scan,
        out: &mut Vec<Mention<'u>>,
    ) -> usize {
        let end = scan_while(bytes, start, is_word_byte);
        let word = &bytes[start..end];
        let word_idx = scan.next_word();
        let next = bytes.get(end).copied();
        if word[0].is_ascii_digit() {
            self.scan_number(word, next, word_idx, scan, out);
            return end;
        }
        if word.len() > MAX_WORD_LEN || word.iter().any(|b| !b.is_ascii_alphabetic()) {
            return end;
        }
        let prev = start.checked_sub(1).map(|i| bytes[i]);
        // Handles and tags: "@NVDA", "#tag". A `#` that starts a line is a Markdown heading
        // ("#NVDA Gang checking in", "# TSLA to the moon"), so the word after it is a word.
        if matches!(prev, Some(b'@' | b'\\')) || (prev == Some(b'#') && !is_line_start(bytes, start - 1)) {
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
        // Ampersand names: "S&P", "P&L", "M&A" are not tickers; "AT&T" is T.
        if prev == Some(b'&') || next == Some(b'&') {
            if word == b"AT"
                && bytes.get(end..end + 2) == Some(b"&T")
                && !bytes.get(end + 2).is_some_and(|&b| is_word_byte(b))
                && let Some(&idx) = self.by_symbol.get("T")
            {
                self.candidate(scan, out, idx, MentionKind::Alias, word_idx, Need::Nothing);
                return end + 2;
            }
            return end;
        }
        // Contractions: "DON'T" (the `T` after the apostrophe), "I'M" (the `I` before it). A
        // possessive `'s` keeps the word: "NVDA's".
        if prev == Some(b'\'') || ends_with_right_quote(&bytes[..start]) {
            return end;
        }
        let apostrophe_len = apostrophe_at(bytes, end);
        let mut possessive_end = None;
        if apostrophe_len > 0 {
            let tail_start = end + apostrophe_len;
            let tail_end = scan_while(bytes, tail_start, is_word_byte);
            if !bytes[tail_start..tail_end].eq_ignore_ascii_case(b"s") {
                // The tail of a contraction ("doesn't", "I'm") is not a word of its own, so it
                // does not widen the gap to a context word ("mu doesn't move up").
                return tail_end;
            }
            possessive_end = Some(tail_end);
        }

        let all_upper = word.iter().all(u8::is_ascii_uppercase);
        // Plural acronyms: "GPUs", "CEOs", "EVs", "ETFs" are not tickers (GPUS, EVS…).
        if let [head @ .., b's'] = word
            && head.len() >= 2
            && head.iter().all(u8::is_ascii_uppercase)
        {
            return end;
        }
        // "BRK-B" or "BRK.B" written bare.
        if all_upper && (2..=5).contains(&word.len()) && matches!(next, Some(b'-' | b'.')) {
            let class_end = scan_while(bytes, end + 1, |b| b.is_ascii_uppercase());
            if (1..=2).contains(&(class_end - end - 1))
                && !bytes.get(class_end).is_some_and(|&b| is_word_byte(b))
            {
                let mut buf = [0u8; MAX_CASHTAG_LEN];
                if let Some(key) = normalize_symbol(&bytes[start..class_end], &mut buf)
                    && let Some(&idx) = self.by_symbol.get(key)
                {
                    self.candidate(scan, out, idx, MentionKind::Bare, word_idx, Need::Nothing);
                    return class_end;
                }
            }
        }
        // Compounds: "GLP-1", "F-150", "X-ray", "pre-IPO" are not tickers.
        if (next == Some(b'-') && bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric))
            || (prev == Some(b'-') && start >= 2 && bytes[start - 2].is_ascii_alphanumeric())
        {
            return end;
        }
        let mut buf = [0u8; MAX_WORD_LEN + 1];
        let Some(key) = lower_into(word, &mut buf) else { return end };
        let entry = self.words.get(key).copied();
        // "at Walmart", "from Home Depot", "inside Wendy's": a name after a place preposition is
        // as often the store as the company, so it needs a trading or company word near it.
        let after_place = word_idx > 0 && scan.last_place_lead == Some(word_idx - 1);
        let after_determiner = word_idx > 0 && scan.last_determiner == Some(word_idx - 1);
        // A name with a possessive ("Wendy's", "Domino's", "McDonald's") is stored without its
        // apostrophe ("wendys"): the whole word is that company, not the person or word before.
        if let Some(tail_end) = possessive_end
            && let Some(name) = self.possessive_alias(word, &mut buf)
        {
            let need = match name.alias_case {
                AliasCase::CapContext => Need::NearWord,
                _ if after_place => Need::TradeWord,
                _ => Need::Nothing,
            };
            if name.alias_case == AliasCase::Any || word[0].is_ascii_uppercase() {
                self.candidate(scan, out, name.alias, MentionKind::Alias, word_idx, need);
                return tail_end;
            }
        }
        let after_plain_caps = word_idx > 0 && scan.last_plain_caps == Some(word_idx - 1);
        let after_name = word_idx > 0 && scan.last_name_word == Some(word_idx - 1);
        if word[0].is_ascii_uppercase() && entry.is_none_or(|entry| entry.symbol == NO_SYMBOL) {
            scan.last_name_word = Some(word_idx);
        }
        // A strike written apart ("505 C leaps", "120 P") is a position word, not Citigroup.
        if matches!(word, b"C" | b"P") && word_idx > 0 && scan.last_number == Some(word_idx - 1) {
            self.cue(scan, word_idx, Cue::Noun, out);
            return end;
        }
        // A legal form after a name ("DEUTZ AG", "Fiat SpA", "Acme PLC") is not a ticker.
        if after_name && LEGAL_FORMS.iter().any(|form| form.as_bytes().eq_ignore_ascii_case(word)) {
            return end;
        }
        if all_upper && word.len() >= 2 && entry.is_none_or(|entry| is_plain_word(&entry)) {
            scan.last_plain_caps = Some(word_idx);
        }
        let Some(entry) = entry else { return end };

        if entry.flags & W_CONTEXT != 0 {
            let cue = if entry.flags & W_NOUN != 0 {
                Cue::Noun
            } else if entry.flags & W_VERB != 0 {
                Cue::Verb
            } else {
                Cue::Near
            };
            self.cue(scan, word_idx, cue, out);
            return end;
        }
        if entry.flags & W_MA_LEAD != 0 {
            scan.last_ma_lead = Some(word_idx);
        }
        if entry.flags & W_LOOK != 0 {
            scan.last_look = Some(word_idx);
        }
        let after_look = word_idx > 0 && scan.last_look == Some(word_idx - 1);
        if entry.flags & W_PLACE_LEAD != 0 && !all_upper && !after_look {
            scan.last_place_lead = Some(word_idx);
        }
        if entry.flags & W_DETERMINER != 0 && !all_upper {
            scan.last_determiner = Some(word_idx);
        }
        let place_need = if after_place { Need::TradeWord } else { Need::Nothing };
        let capitalised = word[0].is_ascii_uppercase();
        if entry.flags & W_PHRASE_START != 0
            && let Some((alias, phrase_end)) = self.match_phrase(bytes, start)
        {
            self.candidate(scan, out, alias, MentionKind::Alias, word_idx, place_need);
            // The phrase's other words are words too.
            scan.word_idx += count_words(&bytes[end..phrase_end]);
            return phrase_end;
        }
        // An all-caps word is a ticker before it is a name ("SNAP"); otherwise a name first.
        if all_upper
            && let Some(need) = self.bare_need(bytes, end, word, &entry, word_idx, scan, after_plain_caps)
        {
            let need = if need == Need::Nothing
                && entry.flags & W_POPULAR == 0
                && self.next_is_unknown_name(bytes, end)
            {
                Need::NearWord
            } else {
                need
            };
            // "the PATH we are on", "the FUN part": an English word in capitals after a
            // determiner is emphasis unless a trading word or another ticker is near.
            // "they absolutely KNOW that": between two lower-case words, likewise.
            let need = if need == Need::Nothing
                && (after_determiner || between_lower_case_words(bytes, start, end))
                && entry.flags & W_ENGLISH != 0
                && entry.flags & W_POPULAR == 0
            {
                Need::Near
            } else {
                need
            };
            self.candidate(scan, out, entry.symbol, MentionKind::Bare, word_idx, need);
            return end;
        }
        if entry.alias != NO_SYMBOL && (word.len() >= 3 || all_upper) {
            // The capital of a sentence's first word says nothing: "People paid $19" is not
            // People Inc., "Gain $10" is not Gain Therapeutics.
            let sentence_start = word_idx == scan.sentence_start && !all_upper;
            // In a Title Case line ("ATVI Calls Gain $1.8K Today") every capital says nothing
            // either, so an ordinary-word name there needs the position noun too.
            let sentence_start = sentence_start
                || (entry.alias_case == AliasCase::CapContext
                    && capitalised
                    && !all_upper
                    && is_title_case_sentence(bytes, start));
            let need = match entry.alias_case {
                AliasCase::Any => Some(place_need),
                AliasCase::Cap if capitalised => Some(place_need),
                AliasCase::CapContext if capitalised && !sentence_start => Some(Need::TradeWord),
                _ => None,
            };
            // A lower-case name that is an ordinary word still counts as the company right
            // before a position noun: "apple position", "intel shares", "snap calls".
            let need = need.or(match entry.alias_case {
                // A curated name that is also a word ("intel", "micron", "amazon") in lower case
                // counts with near context: "down 30% on intel", "micron went up".
                AliasCase::Cap if !capitalised => Some(Need::Near),
                _ => (!capitalised || sentence_start).then_some(Need::NounAfter),
            });
            let need = match need {
                Some(Need::Nothing)
                    if entry.alias_case != AliasCase::Any && self.next_is_unknown_name(bytes, end) =>
                {
                    Some(Need::NearWord)
                }
                need => need,
            };
            // "the Chevron decision", "Chevron deference": a court case named after the company.
            if let Some(need) = need.filter(|_| !next_word_is_one_of(bytes, end, RULING_WORDS)) {
                self.candidate(scan, out, entry.alias, MentionKind::Alias, word_idx, need);
                return end;
            }
        }
        // A person's or place's name not in capitals is that name ("Ryan Cohen", "the wrong
        // ryan cohen company"), unless the forums use the ticker all the time.
        let proper_name = entry.flags & (W_PROPER | W_POPULAR) == W_PROPER;
        if !all_upper
            && !proper_name
            && entry.symbol != NO_SYMBOL
            && (2..=5).contains(&word.len())
            && entry.flags & (W_STOP | W_NOT_COMPANY) == 0
        {
            let english = entry.flags & W_ENGLISH != 0;
            let need = match (entry.flags & W_POPULAR != 0, english) {
                (true, false) if word.len() >= 3 => Some(Need::Nothing),
                (true, _) | (false, false) => Some(Need::Near),
                (false, true) => None,
            };
            if let Some(need) = need {
                self.candidate(scan, out, entry.symbol, MentionKind::Bare, word_idx, need);
            }
        }
        end
    }

    /// The alias entry of `word` + "s" ("wendy" → "wendys"), if there is one.
    fn possessive_alias(&self, word: &[u8], buf: &mut [u8; MAX_WORD_LEN + 1]) -> Option<WordEntry> {
        let len = word.len();
        if len >= MAX_WORD_LEN {
            return None;
        }
        for (dst, src) in buf[..len].iter_mut().zip(word) {
            *dst = src.to_ascii_lowercase();
        }
        buf[len] = b's';
        let key = std::str::from_utf8(&buf[..=len]).ok()?;
        self.words.get(key).copied().filter(|entry| entry.alias != NO_SYMBOL)
    }

    /// What an all-caps word that is a symbol needs to count, or `None` if it never counts bare.
    #[allow(clippy::too_many_arguments)]
    fn bare_need(
        &self,
        bytes: &[u8],
        end: usize,
        word: &[u8],
        entry: &WordEntry,
        word_idx: u32,
        scan: &Scan,
        after_plain_caps: bool,
    ) -> Option<Need> {
        if entry.symbol == NO_SYMBOL || word.len() > 5 || entry.flags & W_NOT_COMPANY != 0 {
            return None;
        }
        if word == b"A" || word == b"I" {
            return None;
        }
        // "50 day MA", "200 MA": the moving average, not Mastercard.
        if word == b"MA"
            && word_idx > 0
            && (scan.last_number == Some(word_idx - 1) || scan.last_ma_lead == Some(word_idx - 1))
        {
            return None;
        }
        if word.len() == 1 {
            return Some(Need::Tight);
        }
        // "selling AI", "using AI": the technology; C3.ai only before a position noun ("AI calls").
        if word == b"AI" {
            return Some(Need::NounAfter);
        }
        // "ALOT of", "IMO", "WTF", "TBF": slang and abbreviations in capitals are words unless a
        // verb or a position noun is right next to them ("bought MO", "LUV calls").
        if entry.flags & W_INFORMAL != 0 && entry.flags & W_POPULAR == 0 {
            return Some(Need::Tight);
        }
        if entry.flags & W_STOP != 0 {
            // "Buy NOW", "sell ALL", "bought IT": after a verb an English word is still a word.
            return Some(if entry.flags & W_ENGLISH != 0 { Need::NounAfter } else { Need::Tight });
        }
        // "HOLD THE LINE": an English word among other capitalised words is shouting and needs a
        // position noun ("BUY CAT CALLS"); "HD and LOW both reported" is a ticker.
        // A ticker the forums use all the time needs only near context there ("SPY AND QQQ ALL
        // TIME HIGH", "MU SURPRISINGLY down").
        if entry.flags & W_ENGLISH != 0
            && (after_plain_caps || self.next_is_plain_caps(bytes, end) || self.is_shouted_line(bytes, end))
        {
            return Some(if entry.flags & W_POPULAR != 0 { Need::Near } else { Need::NounAfter });
        }
        // "DAVE SAID THE BURGERS WERE SQUARE", "PRINTER GO BRRR": in a shouted sentence every
        // word is in capitals, so a ticker the forums do not use all the time needs context.
        if entry.flags & W_POPULAR == 0 && self.is_shouted_line(bytes, end) {
            return Some(Need::Near);
        }
        Some(Need::Nothing)
    }

    /// Whether the sentence or line around `pos` is written in capitals (no lower-case letter)
    /// with at least two ordinary words in it: a shouted title ("PTON PUTS AND PTON PAYS"), not a list of
    /// tickers ("NVDA 132; SPY 555").
    fn is_shouted_line(&self, bytes: &[u8], pos: usize) -> bool {
        let (start, end) = sentence_bounds(bytes, pos);
        let line = &bytes[start..end];
        if line.iter().any(u8::is_ascii_lowercase) {
            return false;
        }
        let mut buf = [0u8; MAX_WORD_LEN];
        let plain = line
            .split(|b| !b.is_ascii_alphabetic())
            .filter(|word| word.len() >= 2)
            .filter(|word| {
                lower_into(word, &mut buf).is_some_and(|key| self.words.get(key).is_none_or(is_plain_word))
            })
            .count();
        plain >= 2
    }

    /// Whether the word after `end` (one space away) is a capitalised word the scanner knows
    /// nothing about ("Jacks" of "Apple Jacks", "Ameritrade" of "TD Ameritrade"): the two are
    /// likely one name of something else.
    fn next_is_unknown_name(&self, bytes: &[u8], end: usize) -> bool {
        let Some((word, word_end)) = word_after(bytes, end) else { return false };
        if word.len() < 3
            || !word[0].is_ascii_uppercase()
            || !word[1..].iter().all(u8::is_ascii_lowercase)
            || bytes.get(word_end).is_some_and(|&b| is_word_byte(b) || b == b'\'' || b == b'&')
        {
            return false;
        }
        let mut buf = [0u8; MAX_WORD_LEN];
        lower_into(word, &mut buf).is_some_and(|key| !self.words.contains_key(key))
    }

    /// Whether the word after `end` (one space away) is an all-caps word that is not a ticker.
    fn next_is_plain_caps(&self, bytes: &[u8], end: usize) -> bool {
        let Some((word, word_end)) = word_after(bytes, end) else { return false };
        if word.len() < 2
            || !word.iter().all(u8::is_ascii_uppercase)
            || bytes.get(word_end).is_some_and(|&b| is_word_byte(b))
        {
            return false;
        }
        let mut buf = [0u8; MAX_WORD_LEN];
        lower_into(word, &mut buf).is_some_and(|key| self.words.get(key).is_none_or(is_plain_word))
    }

    /// A word starting with a digit: a strike ("80c", "12p") is tight context, a percentage
    /// ("5%") or an amount in thousands ("10k") near context; any number stops a following `MA`.
    fn scan_number<'u>(
        &'u self,
        word: &[u8],
        next: Option<u8>,
        word_idx: u32,
        scan: &mut Scan,
        out: &mut Vec<Mention<'u>>,
    ) {
        let digits = word.iter().take_while(|b| b.is_ascii_digit()).count();
        let rest = &word[digits..];
        if matches!(rest, b"c" | b"p" | b"C" | b"P") {
            self.cue(scan, word_idx, Cue::Noun, out);
        } else if next == Some(b'%') || matches!(rest, b"k" | b"K") {
            self.cue(scan, word_idx, Cue::Number, out);
        } else {
            scan.last_number = Some(word_idx);
            // A price or a count of two or more digits is near context ("spy hits 444",
            // "nvda is closing 130"); single digits are too common ("my 2 cats").
            if digits >= 2 && rest.is_empty() {
                self.cue(scan, word_idx, Cue::Number, out);
            }
        }
    }

    /// A candidate at `word_idx`: counts now, or waits for its context.
    fn candidate<'u>(
        &'u self,
        scan: &mut Scan,
        out: &mut Vec<Mention<'u>>,
        symbol_idx: u32,
        kind: MentionKind,
        word_idx: u32,
        need: Need,
    ) {
        let ready = match need {
            Need::Nothing => true,
            Need::NearWord => scan.last_near.is_some_and(|c| word_idx - c <= NEAR_WINDOW),
            Need::TradeWord => scan.last_trade_word.is_some_and(|c| word_idx - c <= NEAR_WINDOW),
            Need::Near => [scan.last_near, scan.last_ticker]
                .into_iter()
                .any(|cue| cue.is_some_and(|c| word_idx - c <= NEAR_WINDOW)),
            Need::Tight => word_idx > 0 && scan.last_verb == Some(word_idx - 1),
            Need::NounAfter => false,
        };
        if ready {
            self.insert(out, out.len(), symbol_idx, kind);
            // A mention is near context for its neighbours in a list ("smci/nvda/dell",
            // "nvda, amzn, meta, mu").
            self.cue(scan, word_idx, Cue::Ticker, out);
            return;
        }
        if scan.n_pending == MAX_PENDING {
            // Drop candidates whose window has closed; if none has, this one is dropped.
            let mut kept = 0;
            for i in 0..scan.n_pending {
                if word_idx - scan.pending[i].word_idx <= NEAR_WINDOW {
                    scan.pending[kept] = scan.pending[i];
                    kept += 1;
                }
            }
            scan.n_pending = kept;
            if kept == MAX_PENDING {
                return;
            }
        }
        scan.pending[scan.n_pending] = Pending { symbol_idx, kind, word_idx, insert_at: out.len(), need };
        scan.n_pending += 1;
    }

    /// A context word or token at `word_idx`: confirms the waiting candidates it reaches.
    fn cue<'u>(&'u self, scan: &mut Scan, word_idx: u32, cue: Cue, out: &mut Vec<Mention<'u>>) {
        if cue == Cue::Ticker {
            scan.last_ticker = Some(word_idx);
        } else {
            scan.last_near = Some(word_idx);
            if !matches!(cue, Cue::Number | Cue::Amount) {
                scan.last_trade_word = Some(word_idx);
            }
        }
        if cue == Cue::Verb {
            scan.last_verb = Some(word_idx);
        }
        let mut kept = 0;
        for i in 0..scan.n_pending {
            let pending = scan.pending[i];
            let distance = word_idx - pending.word_idx;
            let confirmed = match pending.need {
                Need::Near => distance <= NEAR_WINDOW,
                Need::NearWord => distance <= NEAR_WINDOW && cue != Cue::Ticker,
                Need::TradeWord => {
                    distance <= NEAR_WINDOW && !matches!(cue, Cue::Ticker | Cue::Number | Cue::Amount)
                }
                Need::Tight => matches!(cue, Cue::Noun | Cue::Amount) && distance <= TIGHT_WINDOW,
                // An English word needs the noun right after it ("spy puts"), or after a strike;
                // a `$` amount does for a ticker, not for a name ("Gain $10").
                Need::NounAfter => {
                    distance == 1
                        && (cue == Cue::Noun || (cue == Cue::Amount && pending.kind != MentionKind::Alias))
                }
                Need::Nothing => true,
            };
            if confirmed {
                scan.last_ticker = scan.last_ticker.max(Some(pending.word_idx));
                if self.insert(out, pending.insert_at, pending.symbol_idx, pending.kind) {
                    // Later candidates go after this one.
                    for later in &mut scan.pending[i + 1..scan.n_pending] {
                        later.insert_at += 1;
                    }
                }
            } else if distance <= NEAR_WINDOW {
                scan.pending[kept] = pending;
                kept += 1;
            }
        }
        scan.n_pending = kept;
    }

    /// Inserts a mention at `at` unless the symbol is already there; returns whether it did.
    fn insert<'u>(&'u self, out: &mut Vec<Mention<'u>>, at: usize, idx: u32, kind: MentionKind) -> bool {
        let symbol: &str = &self.symbols[idx as usize];
        if out.iter().any(|mention| std::ptr::eq(mention.symbol, symbol)) {
            return false;
        }
        out.insert(at.min(out.len()), Mention { symbol, kind });
        true
    }

    /// The longest phrase alias of two or three words starting at `start`, with its end.
    fn match_phrase(&self, bytes: &[u8], start: usize) -> Option<(u32, usize)> {
        let mut buf = [0u8; 3 * MAX_WORD_LEN + 2];
        let mut len = 0;
        let mut pos = start;
        let mut best = None;
        let first_capitalised = bytes[start].is_ascii_uppercase();
        let mut all_capitalised = first_capitalised;
        for n_words in 1..=3 {
            let word_end = scan_while(bytes, pos, |b| b.is_ascii_alphabetic());
            let word = &bytes[pos..word_end];
            if word.is_empty()
                || word.len() > MAX_WORD_LEN
                || bytes.get(word_end).is_some_and(|&b| is_word_byte(b))
            {
                break;
            }
            // Connectors stay lower case in names ("Bank of America").
            if n_words > 1 && word[0].is_ascii_lowercase() && !matches!(word, b"of" | b"and" | b"de" | b"the")
            {
                all_capitalised = false;
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
                && let Some(entry) = self.by_phrase.get(phrase)
            {
                let case_ok = match entry.case {
                    AliasCase::Any => true,
                    AliasCase::First => first_capitalised,
                    AliasCase::Cap | AliasCase::CapContext => all_capitalised,
                };
                if case_ok {
                    best = Some((entry.symbol_idx, word_end));
                }
            }
            // Words of a phrase are separated by exactly one space.
            if bytes.get(word_end) != Some(&b' ') {
                break;
            }
            pos = word_end + 1;
        }
        best
    }

    /// The entry of a lower-case word, created empty if missing.
    fn word_entry(&mut self, word: &str) -> &mut WordEntry {
        let key = word.trim().to_ascii_lowercase();
        self.words.entry(key.into_boxed_str()).or_default()
    }

    /// Adds an alias derived from a stock's name (see [`alias_from_name`]); an alias that is an
    /// English word needs context, one on the alias stoplist is dropped, and several listings with the
    /// same name keep the shortest symbol (the primary listing, not an OTC line).
    fn insert_derived_alias(
        &mut self,
        alias: &str,
        idx: u32,
        alias_stoplist: &HashSet<String>,
        needs_context: bool,
    ) {
        if alias_stoplist.contains(alias) {
            return;
        }
        let case = if alias.contains(' ') {
            AliasCase::Cap
        } else if needs_context || is_english_word(self, alias) {
            AliasCase::CapContext
        } else {
            // A name that is not an English word is the company in any case: "paypal", "nvidia".
            AliasCase::Any
        };
        self.insert_alias(alias, idx, case, false);
    }

    /// Adds an alias; `replace` overrides an existing one (curated data), otherwise the shorter
    /// symbol wins.
    fn insert_alias(&mut self, alias: &str, idx: u32, case: AliasCase, replace: bool) {
        let alias = alias.trim().to_ascii_lowercase();
        if alias.contains(' ') {
            let Some(first) = alias.split(' ').next() else { return };
            self.word_entry(first).flags |= W_PHRASE_START;
            let new = AliasEntry { symbol_idx: idx, case };
            let symbols = &self.symbols;
            self.by_phrase
                .entry(alias.into_boxed_str())
                .and_modify(|entry| {
                    if replace || symbols[idx as usize].len() < symbols[entry.symbol_idx as usize].len() {
                        *entry = new;
                    }
                })
                .or_insert(new);
            return;
        }
        let existing = self.words.get(alias.as_str()).map_or(NO_SYMBOL, |entry| entry.alias);
        if replace
            || existing == NO_SYMBOL
            || self.symbols[idx as usize].len() < self.symbols[existing as usize].len()
        {
            let entry = self.word_entry(&alias);
            entry.alias = idx;
            entry.alias_case = case;
        }
    }

    /// Makes `former` (FB) count as the symbol at `idx` (META), taking it from any listing.
    fn insert_former_symbol(&mut self, former: &str, idx: u32) {
        let mut buf = [0u8; MAX_WORD_LEN];
        let Some(key) = normalize_symbol(former.trim().as_bytes(), &mut buf) else { return };
        let key: Box<str> = key.into();
        if self.by_symbol.get(&key) == Some(&idx) {
            return;
        }
        if key.bytes().all(|b| b.is_ascii_alphabetic()) {
            self.word_entry(&key).symbol = idx;
        }
        let listing = &mut self.listings[idx as usize];
        if !listing.former_symbols.contains(&key) {
            listing.former_symbols.push(key.clone());
        }
        self.by_symbol.insert(key, idx);
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
        if key.bytes().all(|b| b.is_ascii_alphabetic()) {
            self.word_entry(&key).symbol = idx;
        }
        self.by_symbol.insert(key, idx);
        idx
    }

    fn push_symbol(&mut self, symbol: &str) -> u32 {
        let idx = u32::try_from(self.symbols.len()).unwrap_or(u32::MAX);
        self.symbols.push(symbol.replace('.', "-").to_ascii_uppercase().into_boxed_str());
        self.listings.push(Listing::default());
        idx
    }
}

impl Default for SymbolUniverse {
    fn default() -> Self {
        Self::bundled()
    }
}

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
        "global",
        "interactive",
        "industries",
        "enterprises",
        "brands",
        "systems",
        "communications",
        "entertainment",
        "therapeutics",
        "pharmaceuticals",
        "biosciences",
        "lp",
        "l.p",
        "llc",
        "the",
        "&",
    ];
    // A possessive loses its apostrophe: "Wendy's" → "wendys" (see `possessive_alias`).
    let words: Vec<String> = name
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|word| word.trim_end_matches('.').replace(['\'', '’'], ""))
        .filter(|word| !word.is_empty() && !SUFFIXES.iter().any(|suffix| word.eq_ignore_ascii_case(suffix)))
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let words = match words.as_slice() {
        // "Eli Lilly and Company" → "Eli Lilly".
        [rest @ .., last] if last.eq_ignore_ascii_case("and") => rest,
        all => all,
    };
    match words {
        [word] if word.len() >= 4 && word.bytes().all(|b| b.is_ascii_alphabetic()) => {
            // Short all-caps names ("AMD", "IBM", "ASML") are tickers or acronyms, not aliases;
            // longer ones are names written in capitals ("NVIDIA").
            if word.len() <= 5 && word.bytes().all(|b| b.is_ascii_uppercase()) {
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

/// Whether `pos` starts a line, after any `#` of a Markdown heading.
fn is_line_start(bytes: &[u8], pos: usize) -> bool {
    let before = &bytes[..pos];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    before[line_start..].iter().all(|&b| b == b'#')
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

/// The name of the listing at `idx`.
fn name_of(universe: &SymbolUniverse, idx: u32) -> &str {
    &universe.listings[idx as usize].name
}

/// Whether `word` (lower case) is on the English word list.
fn is_english_word(universe: &SymbolUniverse, word: &str) -> bool {
    universe.words.get(word).is_some_and(|entry| entry.flags & W_ENGLISH != 0)
}

/// Whether an all-caps word is an ordinary word rather than a ticker: unknown, not a symbol, an
/// English word, a stoplisted or a trading word.
fn is_plain_word(entry: &WordEntry) -> bool {
    entry.symbol == NO_SYMBOL || entry.flags & (W_ENGLISH | W_STOP | W_CONTEXT) != 0
}

/// Whether the sentence around `pos` is written in Title Case: at least four words of two or
/// more letters, and no lower-case word longer than four letters (short words such as "into",
/// "of", "the" stay lower case in titles).
fn is_title_case_sentence(bytes: &[u8], pos: usize) -> bool {
    let (start, end) = sentence_bounds(bytes, pos);
    let mut n_words = 0;
    for word in bytes[start..end].split(|b| !b.is_ascii_alphabetic()).filter(|word| word.len() >= 2) {
        if word[0].is_ascii_lowercase() && word.len() > 4 {
            return false;
        }
        n_words += 1;
    }
    n_words >= 3
}

/// Words after a company's name that make it a court case or a doctrine ("the Chevron ruling").
const RULING_WORDS: &[&[u8]] = &[b"decision", b"ruling", b"doctrine", b"deference", b"precedent"];

/// Whether the word after `end` (one space away) is one of `words` (lower case).
fn next_word_is_one_of(bytes: &[u8], end: usize, words: &[&[u8]]) -> bool {
    word_after(bytes, end)
        .is_some_and(|(word, _)| words.iter().any(|candidate| candidate.eq_ignore_ascii_case(word)))
}

/// The letters one space after `end` (possibly none) and where they end; `None` when `end` is
/// not followed by a space.
fn word_after(bytes: &[u8], end: usize) -> Option<(&[u8], usize)> {
    if bytes.get(end) != Some(&b' ') {
        return None;
    }
    let word_end = scan_while(bytes, end + 1, |b| b.is_ascii_alphabetic());
    Some((&bytes[end + 1..word_end], word_end))
}

/// Words after which a word in capitals is as often a ticker as not ("made a killing on HIMS",
/// "HD and LOW"): they do not make it emphasis.
const TICKER_LEADS: &[&[u8]] = &[
    b"on", b"in", b"into", b"of", b"for", b"with", b"from", b"about", b"than", b"like", b"to", b"at", b"and",
    b"or", b"vs",
];

/// Whether the word `bytes[start..end]` stands between two lower-case words, one space away on
/// each side, and not after a preposition or a conjunction: emphasis in ordinary text ("they
/// absolutely KNOW that").
fn between_lower_case_words(bytes: &[u8], start: usize, end: usize) -> bool {
    let is_lower_word = |word: &[u8]| !word.is_empty() && word.iter().all(u8::is_ascii_lowercase);
    if start < 2 || bytes[start - 1] != b' ' {
        return false;
    }
    let Some((after, _)) = word_after(bytes, end) else { return false };
    let before_start = (0..start - 1).rev().find(|&i| !bytes[i].is_ascii_alphabetic()).map_or(0, |i| i + 1);
    let before = &bytes[before_start..start - 1];
    is_lower_word(before) && !TICKER_LEADS.contains(&before) && is_lower_word(after)
}

/// The sentence around `pos`: a new line, or `.`, `!`, `?` before a space, ends it.
fn sentence_bounds(bytes: &[u8], pos: usize) -> (usize, usize) {
    let is_end = |i: usize| {
        bytes[i] == b'\n'
            || (matches!(bytes[i], b'.' | b'!' | b'?') && bytes.get(i + 1).is_none_or(|&b| b == b' '))
    };
    let start = (0..pos).rev().find(|&i| is_end(i)).map_or(0, |i| i + 1);
    let end = (pos..bytes.len()).find(|&i| is_end(i)).unwrap_or(bytes.len());
    (start, end)
}

/// Whitespace-separated words of the non-comment lines of a word list.
fn data_words(text: &str) -> impl Iterator<Item = &str> {
    data_lines(text).flat_map(str::split_whitespace)
}

/// Letters, digits, `.` and `-`, starting with a letter or digit, at most [`MAX_WORD_LEN`] bytes.
fn is_valid_symbol(symbol: &str) -> bool {
    !symbol.is_empty()
        && symbol.len() <= MAX_WORD_LEN
        && symbol.as_bytes()[0].is_ascii_alphanumeric()
        && symbol.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Words in the gap between a phrase's first word and its end: one per space.
fn count_words(bytes: &[u8]) -> u32 {
    u32::try_from(bytes.iter().filter(|&&b| b == b' ').count()).unwrap_or(u32::MAX)
}

/// The fields of one CSV row: comma-separated, a field may be double-quoted with `""` for a quote.
fn split_csv_row(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    let mut quoted = false;
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if at_field_start => quoted = true,
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_field_start = false;
    }
    if quoted {
        return Err("unterminated quote");
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn bundled() -> &'static SymbolUniverse {
        static UNIVERSE: OnceLock<SymbolUniverse> = OnceLock::new();
        UNIVERSE.get_or_init(SymbolUniverse::bundled)
    }

    fn symbols(text: &str) -> Vec<String> {
        bundled().extract_mentions(text).iter().map(|m| m.symbol.to_owned()).collect()
    }

    #[test]
    fn every_bundled_symbol_is_a_valid_symbol() {
        // The scanner drops mentions whose name does not parse as a `Symbol`; none of the bundled
        // universe may be dropped that way.
        let universe = bundled();
        assert!(universe.len() > 8000, "{}", universe.len());
        let invalid: Vec<&str> =
            universe.symbols.iter().map(|s| &**s).filter(|s| domain::Symbol::parse(s).is_err()).collect();
        assert!(invalid.is_empty(), "{invalid:?}");
    }

    #[test]
    fn the_bundled_csv_loads_without_errors() {
        let universe = SymbolUniverse::from_csv(BUNDLED_UNIVERSE_CSV).expect("bundled universe.csv");
        assert!(universe.len() >= 8000, "{}", universe.len());
    }

    #[test]
    fn cashtags_bare_and_aliases() {
        assert_eq!(symbols("$NVDA and AAPL, also Tesla"), ["NVDA", "AAPL", "TSLA"]);
        assert_eq!(symbols("loaded $BRK.B today"), ["BRK-B"]);
        assert_eq!(bundled().extract_mentions("$brk.b")[0].kind, MentionKind::Cashtag);
        // Small and mid caps outside the old index-member list.
        assert_eq!(symbols("PTON and ASTS are my only holdings"), ["PTON", "ASTS"]);
    }

    #[test]
    fn word_tickers_need_tight_context_or_a_cashtag() {
        assert!(symbols("IT is ON, ALL IN. A CEO said I should").is_empty());
        assert_eq!(symbols("$ON and $IT"), ["ON", "IT"]);
        assert_eq!(symbols("ON 80c, bought F at 12"), ["ON", "F"]);
        assert!(symbols("Buy NOW before it's too late, sell ALL of it").is_empty());
        assert_eq!(symbols("F 12c for friday"), ["F"]);
        assert_eq!(symbols("CAT calls printed"), ["CAT"]);
        assert_eq!(symbols("ALL calls, HOOD shares"), ["ALL", "HOOD"]);
        // A verb after the word is not tight context: the CEO is not a ticker here.
        assert!(symbols("the CEO sold shares last week").is_empty());
        assert!(symbols("bought A few puts").is_empty());
    }

    #[test]
    fn english_word_tickers_in_caps_need_near_context() {
        assert_eq!(symbols("HOLD THE LINE, MY CAT ATE THE HOOD"), Vec::<String>::new());
        assert_eq!(symbols("BUY CAT CALLS"), ["CAT"]);
        assert_eq!(symbols("HD and CAT both reported"), ["HD", "CAT"]);
        assert_eq!(symbols("CAT is up 5% today"), ["CAT"]);
        assert_eq!(symbols("COST to the moon"), ["COST"]);
    }

    #[test]
    fn lower_case_tickers_count_with_context() {
        assert_eq!(symbols("can't even buy spy puts anymore"), ["SPY"]);
        assert_eq!(symbols("pton to the moon"), ["PTON"]);
        assert_eq!(symbols("loaded up on asts and Pton calls"), ["ASTS", "PTON"]);
        assert_eq!(symbols("rdw 15c expiring friday"), ["RDW"]);
        // Without context a lower-case word is a word, ...
        assert!(symbols("pton is what I call my bike").is_empty());
        assert!(symbols("hood was a movie about thieves").is_empty());
        // ... except for the tickers the forums use all the time, when they are not words.
        assert_eq!(symbols("nvda is just a car company, gme too"), ["NVDA", "GME"]);
        assert_eq!(symbols("hood is down again"), ["HOOD"]);
        // A price of two or more digits is context too.
        assert_eq!(symbols("rdw hits 15 tomorrow"), ["RDW"]);
        // English words need a position noun right after, not just a verb before.
        assert!(symbols("i want to buy a cat").is_empty());
        assert!(symbols("guidance was mid, stock still up").is_empty());
        assert!(symbols("how do you size positions").is_empty());
        // Stoplisted words never count in lower case.
        assert!(symbols("all in on it, now buy calls").is_empty());
    }

    #[test]
    fn context_stops_at_sentence_ends() {
        assert!(symbols("pton. Sold my car today").is_empty());
        assert_eq!(symbols("pton calls. Sold my car"), ["PTON"]);
    }

    #[test]
    fn index_names_and_indicators_are_not_companies() {
        assert!(symbols("the Nasdaq fell 2% and the Dow followed").is_empty());
        assert!(symbols("SPX and NDX puts, RSI oversold, MACD crossing, EMA 20").is_empty());
        assert!(symbols("price broke the 50 day MA and the 200 MA").is_empty());
        assert!(symbols("S&P 500 calls and P&L screenshots").is_empty());
        assert!(symbols("GLP-1 drugs and the F-150").is_empty());
        assert_eq!(symbols("MA calls after the dip"), ["MA"]);
        assert_eq!(symbols("AT&T is cheap"), ["T"]);
    }

    #[test]
    fn former_tickers_count_as_the_current_symbol() {
        assert_eq!(symbols("$FB and SQ"), ["META", "XYZ"]);
        assert_eq!(symbols("remember TWTR and ATVI?"), ["TWTR", "ATVI"]);
        assert_eq!(symbols("GOOG or GOOGL"), ["GOOG", "GOOGL"]);
        let meta = bundled().lookup("fb").expect("FB is a former symbol of META");
        assert_eq!(meta.symbol, "META");
        assert_eq!(meta.security_type, SecurityType::Stock);
        assert!(meta.former_symbols.iter().any(|s| &**s == "FB"));
        assert_eq!(bundled().lookup("ATVI").map(|info| info.exchange), Some("delisted"));
        assert_eq!(bundled().lookup("SPY").map(|info| info.security_type), Some(SecurityType::Etf));
    }

    #[test]
    fn aliases_from_names_and_short_names() {
        assert_eq!(symbols("Coinbase and Peloton"), ["COIN", "PTON"]);
        assert_eq!(symbols("looks like Southwest is down 4% after earnings"), ["LUV"]);
        // At the start of a sentence the capital says nothing: an ordinary-word name needs a
        // position noun right after it there.
        assert!(symbols("Southwest is down 4% after earnings").is_empty());
        assert_eq!(symbols("Southwest shares are down 4%"), ["LUV"]);
        assert!(symbols("People paid $19 for it").is_empty());
        assert!(symbols("flying Southwest to Denver").is_empty());
        assert_eq!(symbols("Snap puts"), ["SNAP"]);
        assert!(symbols("Snap judgment from me").is_empty());
        assert_eq!(symbols("ON semi and TER"), ["ON", "TER"]);
        // Lower-case names that are words count right before a position noun.
        assert_eq!(symbols("sold my apple shares"), ["AAPL"]);
        assert!(symbols("an apple a day").is_empty());
        // Names that are not words count in any case; people are not companies.
        assert_eq!(symbols("nobody uses paypal"), ["PYPL"]);
        assert!(symbols("Powell spoke and the market tanked").is_empty());
        // On Reddit RH is Robinhood; the cashtag is still RH.
        assert_eq!(symbols("RH outage again"), ["HOOD"]);
        assert_eq!(symbols("$RH earnings"), ["RH"]);
    }

    #[test]
    fn urls_contractions_and_duplicates() {
        assert!(symbols("see https://finance.yahoo.com/quote/NVDA/ and r/AMD").is_empty());
        assert!(symbols("DON'T do it").is_empty());
        assert_eq!(symbols("NVDA's run, NVDA again, $NVDA"), ["NVDA"]);
        assert_eq!(
            symbols("NVDA/AMD pair trade, see bloomberg.com/news/TSLA-q3 or apple.com"),
            ["NVDA", "AMD"]
        );
        assert!(symbols("ask in /r/NVDA or u/TSLA").is_empty());
        assert_eq!(symbols("Bank of America and Home Depot"), ["BAC", "HD"]);
        assert!(symbols("Best buy I made all year").is_empty());
    }

    #[test]
    fn mentions_keep_the_order_of_first_mention() {
        // `pton` waits for its context and is confirmed after NVDA was found.
        assert_eq!(symbols("pton and NVDA calls"), ["PTON", "NVDA"]);
    }

    #[test]
    fn alias_from_name_strips_suffixes() {
        assert_eq!(alias_from_name("Apple Inc.").as_deref(), Some("apple"));
        assert_eq!(alias_from_name("Palantir Technologies").as_deref(), Some("palantir"));
        assert_eq!(alias_from_name("Coinbase Global, Inc.").as_deref(), Some("coinbase"));
        assert_eq!(alias_from_name("Peloton Interactive, Inc.").as_deref(), Some("peloton"));
        assert_eq!(alias_from_name("Snap Inc.").as_deref(), Some("snap"));
        assert_eq!(alias_from_name("NVIDIA Corporation").as_deref(), Some("nvidia"));
        assert_eq!(alias_from_name("Bank of America").as_deref(), Some("bank of america"));
        assert_eq!(alias_from_name("Eli Lilly and Company").as_deref(), Some("eli lilly"));
        // A possessive loses its apostrophe ("Lowe's" → "lowes", matched as "Lowe's" or "Lowes").
        assert_eq!(alias_from_name("Lowe's").as_deref(), Some("lowes"));
        assert_eq!(alias_from_name("Wendy's Company").as_deref(), Some("wendys"));
        assert_eq!(alias_from_name("AMD"), None);
    }

    #[test]
    fn from_csv_reads_the_universe_format() {
        let csv = "symbol,name,exchange,type,former_symbols\n\
                   ZZZQ,\"Zed Widgets, Inc.\",NASDAQ,stock,ZZQ;ZQQ\n\
                   ZYXW,Zyxwidge Automotive Holding,NYSE,stock,\n\
                   ZETF,Zed ETF,NYSE Arca,etf,\n";
        let universe = SymbolUniverse::from_csv(csv).expect("valid csv");
        assert_eq!(universe.len(), 3);
        // Derived aliases: "Zed" is too short for a name of its own, "Zyxwidge" is unique.
        let names: Vec<&str> =
            universe.extract_mentions("zed widgets and Zyxwidge").iter().map(|m| m.symbol).collect();
        assert_eq!(names, ["ZYXW"]);
        let info = universe.lookup("ZQQ").expect("former symbol");
        assert_eq!((info.symbol, info.name, info.exchange), ("ZZZQ", "Zed Widgets, Inc.", "NASDAQ"));
        assert_eq!(universe.lookup("zetf").map(|info| info.security_type), Some(SecurityType::Etf));
        let found: Vec<&str> = universe.extract_mentions("$ZZQ and ZETF").iter().map(|m| m.symbol).collect();
        assert_eq!(found, ["ZZZQ", "ZETF"]);
        // A two-column list loads too.
        assert!(SymbolUniverse::from_csv("symbol,name\nABC,Abc Corp\n").is_ok());
    }

    #[test]
    fn from_csv_rejects_bad_files() {
        assert!(matches!(
            SymbolUniverse::from_csv("ticker,company\nA,B\n"),
            Err(UniverseError::Header { .. })
        ));
        assert!(matches!(SymbolUniverse::from_csv("symbol,name\n"), Err(UniverseError::Empty)));
        let bad_type = SymbolUniverse::from_csv("symbol,name,exchange,type\nABC,Abc,NYSE,bond\n");
        assert!(matches!(bad_type, Err(UniverseError::Row { line: 2, .. })), "{bad_type:?}");
        assert!(SymbolUniverse::from_csv("symbol,name\nA B,x\n").is_err());
        assert!(SymbolUniverse::from_csv("symbol,name\nABC,\"open\n").is_err());
    }

    #[test]
    fn extra_symbols_extend_the_universe() {
        let universe = SymbolUniverse::bundled().with_symbols(["ZZZQ"]);
        let found: Vec<&str> =
            universe.extract_mentions("ZZZQ to the moon").iter().map(|m| m.symbol).collect();
        assert_eq!(found, ["ZZZQ"]);
    }

    #[test]
    fn plural_acronyms_are_not_tickers() {
        assert!(symbols("the new GPUs with massive gains").is_empty());
        assert!(symbols("CEOs and EVs are up 5%").is_empty());
        assert_eq!(symbols("bought GPUS shares"), ["GPUS"]);
    }

    #[test]
    fn a_hash_that_starts_a_line_is_a_heading() {
        assert_eq!(symbols("#NVDA Gang members checking in"), ["NVDA"]);
        assert_eq!(symbols("gm\n#TSLA to the moon"), ["TSLA"]);
        assert!(symbols("love this #TSLA").is_empty());
    }

    #[test]
    fn possessive_names_need_context() {
        assert_eq!(symbols("Long puts on Wendy's to hit $0.69"), ["WEN"]);
        assert_eq!(symbols("McDonald's earnings beat, calls printing"), ["MCD"]);
        assert!(symbols("Sir, this is Wendy's").is_empty());
        assert!(symbols("meet me behind the Wendy's dumpster").is_empty());
        assert!(symbols("Dominos is trash pizza").is_empty());
    }

    #[test]
    fn informal_words_are_not_tickers_in_lower_case() {
        assert!(symbols("Should've held them calls bro!!").is_empty());
        assert!(symbols("pre market price action looking good").is_empty());
        assert!(symbols("meds cost 25-50% more there").is_empty());
        assert!(symbols("they see alot more upside, up 10%").is_empty());
    }

    #[test]
    fn curated_word_names_count_in_lower_case_with_near_context() {
        assert_eq!(symbols("I'm down 30% on intel wtf"), ["INTC"]);
        assert_eq!(symbols("when micron went up after earnings"), ["MU"]);
        assert!(symbols("got some intel from a friend about the party").is_empty());
        assert!(symbols("an apple a day").is_empty());
    }

    #[test]
    fn a_contraction_tail_is_not_a_word() {
        assert_eq!(symbols("If mu doesn't move up at least 5 dollars"), ["MU"]);
        assert_eq!(symbols("If mu doesn’t move up at least 5 dollars"), ["MU"]);
        assert!(symbols("DON'T do it").is_empty());
    }

    #[test]
    fn a_ticker_is_context_for_its_neighbours_in_a_list() {
        assert_eq!(symbols("the collab with smci/nvda/dell"), ["SMCI", "NVDA", "DELL"]);
        assert_eq!(symbols("calls on nvda, amzn, meta, mu"), ["NVDA", "AMZN", "META", "MU"]);
        // Not for a capitalised ordinary-word name: "on Reddit" is the site.
        assert_eq!(symbols("how bearish TSLA is on Reddit"), ["TSLA"]);
    }

    #[test]
    fn company_words_are_near_context() {
        assert_eq!(symbols("Former Wendy's CEO joins Dutch Bros"), ["WEN", "BROS"]);
    }

    #[test]
    fn strikes_written_apart_and_legal_forms_are_not_tickers() {
        assert_eq!(symbols("~77k 505 C leaps on $COIN"), ["COIN"]);
        assert!(symbols("DEUTZ AG: DEUTZ acquires GenSet").is_empty());
        assert_eq!(symbols("bought AG calls"), ["AG"]);
    }

    #[test]
    fn an_english_word_ticker_in_a_shouted_line_needs_a_position_noun() {
        assert_eq!(symbols("PTON PUTS AND PTON PAYS"), ["PTON"]);
        assert_eq!(symbols("Tomorrow:\n\nNVDA 132; SPY 555; AMZN 195"), ["NVDA", "SPY", "AMZN"]);
        assert_eq!(symbols("WHY I BOUGHT CAT CALLS"), ["CAT"]);
    }

    #[test]
    fn a_name_glued_to_an_unknown_capitalised_word_is_another_name() {
        assert!(symbols("my TD Ameritrade login broke").is_empty());
        assert!(symbols("eating Apple Jacks for breakfast").is_empty());
        assert_eq!(symbols("Apple Jacks aside, Apple shares look cheap"), ["AAPL"]);
        assert_eq!(symbols("NVDA Gang checking in"), ["NVDA"]);
    }

    #[test]
    fn a_word_name_in_a_title_case_sentence_needs_a_position_noun() {
        assert_eq!(symbols("ATVI Calls Gain ~$1.8K into over $63K Today"), ["ATVI"]);
        assert_eq!(symbols("Snap Shares Jump After Earnings"), ["SNAP"]);
    }

    #[test]
    fn a_word_name_needs_a_trading_word_not_a_number() {
        assert!(symbols("my $400K Leveraged Smart Beta account").is_empty());
        assert_eq!(symbols("the selloff hit Snap hard, down 20%"), ["SNAP"]);
    }

    #[test]
    fn slang_and_abbreviations_in_capitals_need_tight_context() {
        assert!(symbols("there have been ALOT of changes at the company").is_empty());
        assert_eq!(symbols("BTO 10 NVDA 130c, STC at 2x, TP hit"), ["NVDA"]);
        assert_eq!(symbols("bought ALOT calls"), ["ALOT"]);
        assert_eq!(symbols("next stock I'm going into is $UI"), ["UI"]);
    }

    #[test]
    fn a_ticker_in_a_shouted_sentence_needs_near_context_unless_popular() {
        assert!(symbols("# DAVE SAID THE BURGERS WERE SQUARE").is_empty());
        assert_eq!(symbols("DAVE CALLS ARE PRINTING"), ["DAVE"]);
        assert_eq!(symbols("NVDA IS THE BEST COMPANY EVER"), ["NVDA"]);
        assert_eq!(symbols("DAVE is up again"), ["DAVE"]);
        assert_eq!(symbols("SOUN CALLS ARE PRINTING"), ["SOUN"]);
        assert!(symbols("PRINTER GO BRRR").is_empty());
        assert!(symbols("Sold everything today. DAVE SAID THE BURGERS WERE SQUARE").is_empty());
    }

    #[test]
    fn a_name_after_a_place_preposition_needs_context() {
        assert!(symbols("ran into my old boss at Walmart yesterday").is_empty());
        assert!(symbols("got a new drill at Home Depot").is_empty());
        assert_eq!(symbols("Switched from Robinhood to Fidelity, best decision ever"), ["HOOD"]);
        assert_eq!(symbols("lines at Walmart are long, shares will rip on earnings"), ["WMT"]);
        assert_eq!(symbols("look at Walmart today"), ["WMT"]);
        assert_eq!(symbols("loaded up on Walmart"), ["WMT"]);
        assert!(symbols("spent 40 minutes at Costco with the kids").is_empty());
    }

    #[test]
    fn a_dollar_amount_is_not_a_position_noun_for_a_name() {
        assert!(symbols("Gain $10 and feel like a genius").is_empty());
        assert_eq!(symbols("bought F $12 calls"), ["F"]);
    }

    #[test]
    fn an_english_word_in_capitals_after_a_determiner_is_emphasis() {
        assert!(symbols("it's the PATH we are on that worries me").is_empty());
        assert_eq!(symbols("the PATH calls printed"), ["PATH"]);
        assert_eq!(symbols("PATH is up again"), ["PATH"]);
    }

    // The cases below come from r/wallstreetbets texts outside the labelled files (2026-12-06).
    #[test]
    fn an_english_word_in_capitals_between_lower_case_words_is_emphasis() {
        assert!(
            symbols("why do people apply logic when they absolutely KNOW that logic does not apply")
                .is_empty()
        );
        assert_eq!(
            symbols("made a killing on HIMS last week"),
            ["HIMS"],
            "after a preposition it is a ticker"
        );
        assert_eq!(symbols("they absolutely KNOW calls are cheap"), ["KNOW"], "with a trading word near");
    }

    #[test]
    fn a_persons_name_is_not_a_ticker_or_a_company() {
        assert!(symbols("You know Keith Gill and Ryan Cohen are having that deep talk").is_empty());
        assert!(symbols("Yall bought the wrong ryan cohen company.").is_empty());
        assert!(symbols("RC reaching for the dilute button?").is_empty());
    }

    #[test]
    fn a_popular_english_word_ticker_in_a_shouted_line_needs_only_near_context() {
        assert_eq!(symbols("# SPY AND QQQ ALL TIME HIGH!!!!!!!"), ["SPY", "QQQ"]);
        assert_eq!(symbols("FDX up, MU SURPRISINGLY down"), ["FDX", "MU"]);
        assert!(symbols("HOLD THE LINE").is_empty());
    }

    #[test]
    fn abbreviations_and_ordinary_words_are_not_companies() {
        for text in [
            "Reddit is just a bunch of low IQ communists",
            "Other fish to fry I believe, but GL!",
            "Rumors spread through VC firms quickly",
            "Going to do a DNA test",
            "earnings thursday, bmo, 37 days from now",
            "There's still lots of money to make selling AI",
            "TIL stocks always go up",
            "Earnings Report: $125k Gain",
            "take a nice gain & call it a day",
            "this is a forum where people call each other names",
            "Could the Chevron decision expedite the process of rescheduling?",
            "The Japanese will fix their currency tomorrow, DX plummets",
            "Bought EOD yesterday. Sold at market open.",
            "the DEA is going to reschedule it",
        ] {
            assert!(symbols(text).is_empty(), "{text}: {:?}", symbols(text));
        }
        assert_eq!(symbols("C3 is the play: AI calls"), ["AI"], "C3.ai before a position noun");
        assert_eq!(symbols("Calls on Chevron before earnings"), ["CVX"]);
    }
}

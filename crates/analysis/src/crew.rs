//! The default crew, equity research: market researcher → technical analyst → sentiment analyst
//! → report writer. Config may define more crews in the same shape (`[[analysis.crews]]`).

use agents::{Agent, Crew, MemoryConfig, Process, RunLimits, Task};
use serde_json::{Value, json};

use crate::tools::{GET_INDICATORS, GET_MENTIONS, GET_NEWS, GET_QUOTE, GET_RESEARCH_NOTES, GET_TRENDING};

/// The default crew's name.
pub const EQUITY_RESEARCH: &str = "equity-research";

/// The JSON schema of a research note, as the writer must answer.
pub fn note_schema() -> Value {
    json!({
        "type": "object",
        "required": ["rating", "confidence", "horizon", "thesis", "risks", "key_figures", "sources"],
        "properties": {
            "rating": {"type": "string", "enum": ["buy", "hold", "sell"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "horizon": {"type": "string", "description": "e.g. 3-6 months"},
            "thesis": {"type": "string"},
            "risks": {"type": "array", "items": {"type": "string"}},
            "key_figures": {"type": "object", "description": "figure name → number or text"},
            "sources": {"type": "array", "items": {"type": "string"}}
        }
    })
}

/// Tasks that work from their tools alone.
const NO_CONTEXT: [&str; 0] = [];

/// The equity-research crew.
pub fn equity_research() -> Crew {
    let agents = vec![
        Agent::new(
            "Market Researcher",
            "Establish the facts on {symbol}: where it trades, what the news says, what we concluded before",
            "A meticulous markets researcher who reports figures with their sources and never guesses.",
        )
        .with_tools([GET_QUOTE, GET_NEWS, GET_RESEARCH_NOTES]),
        Agent::new(
            "Technical Analyst",
            "Read trend, momentum and volatility of {symbol} from its indicators",
            "A chartist who trusts moving averages, RSI and MACD, and says when the data is thin.",
        )
        .with_tools([GET_INDICATORS]),
        Agent::new(
            "Sentiment Analyst",
            "Judge retail sentiment on {symbol} from Reddit mentions and trending data",
            "A social-media analyst who separates a real spike from noise.",
        )
        .with_tools([GET_MENTIONS, GET_TRENDING]),
        Agent::new(
            "Report Writer",
            "Write a balanced research note on {symbol} with a rating, confidence, thesis and risks",
            "A sell-side writer who states a view, sizes confidence honestly and cites every figure.",
        ),
    ];
    let tasks = vec![
        Task::new(
            "market_research",
            "Market Researcher",
            "Symbol: {symbol}. Get the latest price, recent news and earlier research notes on {symbol}. \
             Report each figure with its provider and date.",
            "A short factual summary with figures and sources.",
        )
        .with_context(NO_CONTEXT),
        Task::new(
            "technical_analysis",
            "Technical Analyst",
            "Symbol: {symbol}. Analyse trend (price against SMA20/SMA50), momentum (RSI14, MACD) and volatility \
             of {symbol}.",
            "Key figures as '- name: value' lines and a one-paragraph reading.",
        )
        .with_context(NO_CONTEXT),
        Task::new(
            "sentiment_analysis",
            "Sentiment Analyst",
            "Symbol: {symbol}. Assess Reddit sentiment on {symbol}: mentions, unique authors, mean sentiment and \
             whether it is trending.",
            "Key figures as '- name: value' lines and a one-paragraph reading.",
        )
        .with_context(NO_CONTEXT),
        Task::new(
            "research_note",
            "Report Writer",
            "Symbol: {symbol}. Write the research note on {symbol} from your colleagues' findings: a rating \
             (buy, hold or sell), confidence from 0 to 1, horizon, thesis, risks, key figures and sources.",
            "A JSON object matching the schema.",
        )
        .with_context(["market_research", "technical_analysis", "sentiment_analysis"])
        .with_output_schema(note_schema()),
    ];
    Crew {
        name: EQUITY_RESEARCH.into(),
        agents,
        tasks,
        process: Process::Sequential,
        limits: RunLimits::default(),
        memory: MemoryConfig::default(),
    }
}

//! The crew's tools, over our own data: stored bars and indicators, quotes, news, Reddit
//! mentions and trending, and earlier research notes.
//!
//! Tools read what the store holds (the caller fetches bars first, see `jobs::ingest`); a quote
//! falls back to the provider chain, then to the last stored close, so the answer always says
//! where the number came from. Results are compact JSON: the model reads them, and the offline
//! model parses them.

use std::sync::Arc;

use agents::{Tool, ToolBox, ToolError};
use async_trait::async_trait;
use chrono::{Days, Duration as ChronoDuration, Utc};
use domain::{Interval, Symbol};
use llm::ToolSpec;
use providers::ProviderChain;
use serde_json::{Value, json};
use storage::{BarQuery, Storage};

/// Daily bars read for indicators: a year and a bit, enough for SMA50 and 52-week ranges.
const INDICATOR_LOOKBACK_DAYS: u64 = 400;

pub const GET_QUOTE: &str = "get_quote";
pub const GET_INDICATORS: &str = "get_indicators";
pub const GET_NEWS: &str = "get_news";
pub const GET_MENTIONS: &str = "get_mentions";
pub const GET_TRENDING: &str = "get_trending";
pub const GET_RESEARCH_NOTES: &str = "get_research_notes";

/// Every tool, ready for a crew.
pub fn toolbox(storage: &Storage, chain: Option<Arc<ProviderChain>>) -> ToolBox {
    let mut tools = ToolBox::new();
    tools
        .register(Arc::new(QuoteTool { storage: storage.clone(), chain }))
        .register(Arc::new(IndicatorsTool { storage: storage.clone() }))
        .register(Arc::new(NewsTool { storage: storage.clone() }))
        .register(Arc::new(MentionsTool { storage: storage.clone() }))
        .register(Arc::new(TrendingTool { storage: storage.clone() }))
        .register(Arc::new(NotesTool { storage: storage.clone() }));
    tools
}

fn symbol_schema(extra: Value) -> Value {
    let mut properties = json!({"symbol": {"type": "string", "description": "Ticker, e.g. AAPL"}});
    if let (Some(properties), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        properties.extend(extra.clone());
    }
    json!({"type": "object", "properties": properties, "required": ["symbol"]})
}

fn symbol_argument(arguments: &Value) -> Result<Symbol, ToolError> {
    let raw = arguments
        .get("symbol")
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::InvalidArguments("\"symbol\" (a ticker string) is required".into()))?;
    Symbol::parse(raw).map_err(|error| ToolError::InvalidArguments(error.to_string()))
}

fn count_argument(arguments: &Value, name: &str, default: u64, max: u64) -> u64 {
    arguments.get(name).and_then(Value::as_u64).unwrap_or(default).clamp(1, max)
}

fn failed(error: impl std::fmt::Display) -> ToolError {
    ToolError::Failed(error.to_string())
}

/// Rounds for the model's eyes: four significant decimals are plenty.
fn round(value: Option<f64>) -> Value {
    value.filter(|v| v.is_finite()).map_or(Value::Null, |v| json!((v * 10_000.0).round() / 10_000.0))
}

struct QuoteTool {
    storage: Storage,
    chain: Option<Arc<ProviderChain>>,
}

#[async_trait]
impl Tool for QuoteTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_QUOTE.into(),
            description: "Latest price of a stock with its change, time and data provider.".into(),
            parameters: symbol_schema(json!({})),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = symbol_argument(&arguments)?;
        let mut quote = self.storage.latest_quote(&symbol).await.map_err(failed)?;
        if quote.is_none()
            && let Some(chain) = &self.chain
            && let Ok(served) = chain.quote(&symbol).await
        {
            quote = Some(served.value);
        }
        if let Some(quote) = quote {
            return Ok(json!({
                "symbol": symbol.as_str(), "price": round(Some(quote.price)),
                "change_percent": round(quote.change_percent), "as_of": quote.ts.to_rfc3339(),
                "provider": quote.provider.as_str(), "source": "quote"
            })
            .to_string());
        }
        let Some(last) = self.storage.last_bar_ts(&symbol, Interval::Day1).await.map_err(failed)? else {
            return Err(failed(format!("no quote and no stored prices for {symbol}")));
        };
        let query = BarQuery { from: Some(last), ..BarQuery::new(symbol.clone(), Interval::Day1) };
        let bar = self.storage.bars(&query).await.map_err(failed)?.into_iter().next();
        let bar = bar.ok_or_else(|| failed(format!("no stored prices for {symbol}")))?;
        Ok(json!({
            "symbol": symbol.as_str(), "price": round(bar.close), "as_of": bar.ts.to_rfc3339(),
            "provider": bar.provider.as_str(), "source": "last daily close"
        })
        .to_string())
    }
}

struct IndicatorsTool {
    storage: Storage,
}

#[async_trait]
impl Tool for IndicatorsTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_INDICATORS.into(),
            description:
                "Technical indicators from stored daily bars: SMA20/50, EMA20, RSI14, MACD, Bollinger \
                          bands, ATR14, volatility, 1- and 3-month change, 52-week range."
                    .into(),
            parameters: symbol_schema(json!({})),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = symbol_argument(&arguments)?;
        let Some(last) = self.storage.last_bar_ts(&symbol, Interval::Day1).await.map_err(failed)? else {
            return Err(failed(format!("no daily bars stored for {symbol}; fetch them first")));
        };
        let query = BarQuery {
            from: last.checked_sub_days(Days::new(INDICATOR_LOOKBACK_DAYS)),
            ..BarQuery::new(symbol.clone(), Interval::Day1)
        };
        let mut bars = self.storage.bars(&query).await.map_err(failed)?;
        // One bar per day: rows come ordered by (ts, provider).
        bars.dedup_by_key(|bar| bar.ts);
        let snapshot = domain::indicators::latest(&bars);
        let close_days_before = |days: i64| {
            let cutoff = last - ChronoDuration::days(days);
            bars.iter().rev().find(|bar| bar.ts <= cutoff).and_then(|bar| bar.close)
        };
        let change = |then: Option<f64>| match (snapshot.last_close, then) {
            (Some(now), Some(then)) if then > 0.0 => Some((now / then - 1.0) * 100.0),
            _ => None,
        };
        let year: Vec<f64> = bars
            .iter()
            .filter(|bar| bar.ts > last - ChronoDuration::days(365))
            .filter_map(|bar| bar.close)
            .collect();
        let providers: std::collections::BTreeSet<&str> =
            bars.iter().map(|bar| bar.provider.as_str()).collect();
        Ok(json!({
            "symbol": symbol.as_str(),
            "as_of": snapshot.as_of.map(|ts| ts.date_naive().to_string()),
            "last_close": round(snapshot.last_close),
            "sma20": round(snapshot.sma20), "sma50": round(snapshot.sma50), "ema20": round(snapshot.ema20),
            "rsi14": round(snapshot.rsi14),
            "macd": round(snapshot.macd), "macd_signal": round(snapshot.macd_signal), "macd_hist": round(snapshot.macd_hist),
            "bb_upper": round(snapshot.bb_upper), "bb_lower": round(snapshot.bb_lower),
            "atr14": round(snapshot.atr14), "volatility20": round(snapshot.volatility20),
            "change_1m_pct": round(change(close_days_before(30))),
            "change_3m_pct": round(change(close_days_before(91))),
            "high_52w": round(year.iter().copied().reduce(f64::max)),
            "low_52w": round(year.iter().copied().reduce(f64::min)),
            "bars_used": snapshot.bars_used,
            "provider": providers.into_iter().collect::<Vec<_>>().join(","),
        })
        .to_string())
    }
}

struct NewsTool {
    storage: Storage,
}

#[async_trait]
impl Tool for NewsTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_NEWS.into(),
            description: "Recent stored news headlines for a stock (from providers that have news).".into(),
            parameters: symbol_schema(json!({"limit": {"type": "integer", "minimum": 1, "maximum": 20}})),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = symbol_argument(&arguments)?;
        let limit = count_argument(&arguments, "limit", 5, 20);
        let items = self.storage.news(&symbol, limit).await.map_err(failed)?;
        let items: Vec<Value> = items
            .iter()
            .map(|item| {
                json!({
                    "headline": agents::truncate(&item.headline, 200), "published_at": item.published_at.to_rfc3339(),
                    "source": item.source, "sentiment": round(item.sentiment), "url": item.url,
                    "provider": item.provider.as_str()
                })
            })
            .collect();
        Ok(json!({"symbol": symbol.as_str(), "news_count": items.len(), "news": items}).to_string())
    }
}

struct MentionsTool {
    storage: Storage,
}

#[async_trait]
impl Tool for MentionsTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_MENTIONS.into(),
            description:
                "Reddit mentions of a stock over recent days: count, unique authors, mean sentiment \
                          (-1..1), bullish and bearish posts, subreddits."
                    .into(),
            parameters: symbol_schema(json!({"days": {"type": "integer", "minimum": 1, "maximum": 30}})),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = symbol_argument(&arguments)?;
        let days = count_argument(&arguments, "days", 7, 30);
        let since = Utc::now() - ChronoDuration::days(i64::try_from(days).unwrap_or(7));
        let mentions = self.storage.mentions(Some(&symbol), since, Some(5000)).await.map_err(failed)?;
        let count = mentions.len();
        let authors: std::collections::BTreeSet<&str> = mentions.iter().map(|m| m.author.as_str()).collect();
        let subreddits: std::collections::BTreeSet<&str> =
            mentions.iter().map(|m| m.subreddit.as_str()).collect();
        let mean = (count > 0).then(|| mentions.iter().map(|m| m.sentiment).sum::<f64>() / count as f64);
        let bullish = mentions.iter().filter(|m| m.sentiment >= 0.05).count();
        let bearish = mentions.iter().filter(|m| m.sentiment <= -0.05).count();
        Ok(json!({
            "symbol": symbol.as_str(), "days": days, "mentions": count, "unique_authors": authors.len(),
            "mean_sentiment": round(mean), "bullish": bullish, "bearish": bearish,
            "subreddits": subreddits.into_iter().take(10).collect::<Vec<_>>(), "provider": "reddit"
        })
        .to_string())
    }
}

struct TrendingTool {
    storage: Storage,
}

#[async_trait]
impl Tool for TrendingTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_TRENDING.into(),
            description:
                "The most mentioned stocks on Reddit in the last hours, with spike scores (z-score of \
                          the last hour against the week before)."
                    .into(),
            parameters: json!({"type": "object", "properties": {
                "hours": {"type": "integer", "minimum": 1, "maximum": 168},
                "limit": {"type": "integer", "minimum": 1, "maximum": 25}
            }}),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let hours = count_argument(&arguments, "hours", 24, 168);
        let limit = count_argument(&arguments, "limit", 10, 25);
        let until = Utc::now();
        let since = until - ChronoDuration::hours(i64::try_from(hours).unwrap_or(24));
        let rows = self.storage.trending(since, until, Some(limit)).await.map_err(failed)?;
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| {
                json!({"symbol": row.symbol, "mentions": row.mentions, "mean_sentiment": round(Some(row.mean_sentiment)),
                       "spike_score": round(Some(row.spike_score))})
            })
            .collect();
        Ok(json!({"hours": hours, "trending": rows, "provider": "reddit"}).to_string())
    }
}

struct NotesTool {
    storage: Storage,
}

#[async_trait]
impl Tool for NotesTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: GET_RESEARCH_NOTES.into(),
            description:
                "Earlier research notes on a stock (rating, confidence, thesis, date), newest first.".into(),
            parameters: symbol_schema(json!({"limit": {"type": "integer", "minimum": 1, "maximum": 10}})),
        }
    }

    async fn call(&self, arguments: Value) -> Result<String, ToolError> {
        let symbol = symbol_argument(&arguments)?;
        let limit = count_argument(&arguments, "limit", 3, 10);
        let limit = u32::try_from(limit).unwrap_or(3);
        let notes = self.storage.research_notes(Some(&symbol), limit).await.map_err(failed)?;
        let notes: Vec<Value> = notes
            .iter()
            .map(|note| {
                json!({"created_at": note.created_at.to_rfc3339(), "rating": note.rating, "confidence": note.confidence,
                       "horizon": note.horizon, "thesis": agents::truncate(&note.thesis, 400), "model": note.model})
            })
            .collect();
        Ok(json!({"symbol": symbol.as_str(), "notes": notes}).to_string())
    }
}

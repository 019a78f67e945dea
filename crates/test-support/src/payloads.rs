//! Vendor-shaped JSON bodies for mock servers (see `provider-apis.md`).

use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// The chart path for a symbol: `/v8/finance/chart/{SYM}`.
pub fn yahoo_chart_path(symbol: &str) -> String {
    format!("/v8/finance/chart/{symbol}")
}

/// A Yahoo chart v8 success body with `n_bars` daily bars, one day apart from `start_ts` (unix
/// seconds, stamped at the open like the real API). Prices are deterministic and carry float32
/// noise; `adjclose` is present as for `interval >= 1d`. With zero bars the body has no
/// `timestamp` and empty arrays, as Yahoo sends for an empty window.
pub fn yahoo_chart_json(symbol: &str, n_bars: usize, start_ts: i64) -> String {
    let timestamps: Vec<i64> = (0..n_bars as i64).map(|i| start_ts + i * DAY).collect();
    let close: Vec<f64> = (0..n_bars).map(|i| f64::from(100.0_f32 + i as f32 * 0.37)).collect();
    let open: Vec<f64> = close.iter().map(|c| c - 0.5).collect();
    let high: Vec<f64> = close.iter().map(|c| c + 1.25).collect();
    let low: Vec<f64> = close.iter().map(|c| c - 1.75).collect();
    let adjclose: Vec<f64> = close.iter().map(|c| c * 0.98).collect();
    let volume: Vec<u64> = (0..n_bars as u64).map(|i| 1_000_000 + i * 1_000).collect();
    let last_ts = timestamps.last().copied().unwrap_or(start_ts);
    let mut result = json!({
        "meta": {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "NMS",
            "fullExchangeName": "NasdaqGS",
            "instrumentType": "EQUITY",
            "firstTradeDate": 345_479_400,
            "regularMarketTime": last_ts + 23_400,
            "hasPrePostMarketData": true,
            "gmtoffset": -14_400,
            "timezone": "EDT",
            "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": close.last().copied().unwrap_or(100.0),
            "chartPreviousClose": 99.5,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": {"timezone": "EDT", "start": last_ts - 19_800, "end": last_ts, "gmtoffset": -14_400},
                "regular": {"timezone": "EDT", "start": last_ts, "end": last_ts + 23_400, "gmtoffset": -14_400},
                "post": {"timezone": "EDT", "start": last_ts + 23_400, "end": last_ts + 37_800, "gmtoffset": -14_400}
            },
            "dataGranularity": "1d",
            "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
        },
        "indicators": {
            "quote": [{"open": open, "high": high, "low": low, "close": close, "volume": volume}],
            "adjclose": [{"adjclose": adjclose}]
        }
    });
    if n_bars > 0 {
        result["timestamp"] = Value::from(timestamps);
    }
    json!({"chart": {"result": [result], "error": null}}).to_string()
}

/// Yahoo's unknown-symbol body (sent with HTTP 404).
pub fn yahoo_chart_not_found_json() -> String {
    json!({"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}})
        .to_string()
}

/// A Polygon aggregates body with `n_bars` daily bars from `start_ms` (unix milliseconds).
pub fn polygon_aggs_json(ticker: &str, n_bars: usize, start_ms: i64) -> String {
    let results: Vec<Value> = (0..n_bars)
        .map(|i| {
            let c = 100.0 + i as f64 * 0.37;
            json!({"v": 1_000_000 + i * 1_000, "vw": c - 0.1, "o": c - 0.5, "c": c, "h": c + 1.25, "l": c - 1.75,
                   "t": start_ms + i as i64 * DAY * 1_000, "n": 1_000 + i})
        })
        .collect();
    let mut body = json!({
        "ticker": ticker,
        "queryCount": n_bars,
        "resultsCount": n_bars,
        "adjusted": true,
        "status": "OK",
        "request_id": "6a7e466379af0a71039d60cc78e72282"
    });
    if n_bars > 0 {
        body["results"] = Value::from(results);
    }
    body.to_string()
}

/// Polygon's plan-entitlement body (sent with HTTP 403).
pub fn polygon_not_authorized_json() -> String {
    json!({"status": "NOT_AUTHORIZED", "request_id": "b1c2d3", "message": "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing"})
        .to_string()
}

/// A Reddit listing page (`/r/{sub}/new.json`) with `n_posts` self posts and no next page.
pub fn reddit_listing_json(subreddit: &str, n_posts: usize) -> String {
    let children: Vec<Value> = (0..n_posts)
        .map(|i| {
            let id = format!("lc{i:05}");
            json!({"kind": "t3", "data": {
                "id": id, "name": format!("t3_{id}"), "subreddit": subreddit,
                "title": format!("Post {i} about $NVDA"), "selftext": "Earnings next week.",
                "author": "user_42", "created_utc": 1_714_760_000.0 + i as f64, "score": 10 + i,
                "num_comments": i, "permalink": format!("/r/{subreddit}/comments/{id}/post/"),
                "url": format!("https://www.reddit.com/r/{subreddit}/comments/{id}/"), "is_self": true
            }})
        })
        .collect();
    json!({"kind": "Listing", "data": {"after": null, "dist": n_posts, "children": children}}).to_string()
}

/// An OpenAI chat completion whose answer is `n_words` words (`w0000 w0001 …`).
pub fn chat_completion_json(n_words: usize) -> String {
    let content = (0..n_words).map(|i| format!("w{i:04}")).collect::<Vec<_>>().join(" ");
    json!({
        "id": "chatcmpl-lifecycle", "object": "chat.completion", "created": 1_714_760_000, "model": "mock",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": n_words, "total_tokens": 5 + n_words}
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yahoo_chart_has_aligned_arrays() {
        let body: Value = serde_json::from_str(&yahoo_chart_json("AAPL", 3, 1_714_656_600)).unwrap();
        let result = &body["chart"]["result"][0];
        assert_eq!(result["meta"]["symbol"], "AAPL");
        assert_eq!(result["timestamp"].as_array().unwrap().len(), 3);
        assert_eq!(result["timestamp"][1], 1_714_656_600 + DAY);
        let quote = &result["indicators"]["quote"][0];
        for key in ["open", "high", "low", "close", "volume"] {
            assert_eq!(quote[key].as_array().unwrap().len(), 3, "{key}");
        }
        assert_eq!(result["indicators"]["adjclose"][0]["adjclose"].as_array().unwrap().len(), 3);
        assert!(body["chart"]["error"].is_null());
    }

    #[test]
    fn empty_yahoo_chart_drops_timestamps() {
        let body: Value = serde_json::from_str(&yahoo_chart_json("AAPL", 0, 0)).unwrap();
        assert!(body["chart"]["result"][0].get("timestamp").is_none());
    }

    #[test]
    fn reddit_and_chat_bodies_have_the_asked_sizes() {
        let listing: Value = serde_json::from_str(&reddit_listing_json("stocks", 4)).unwrap();
        assert_eq!(listing["data"]["children"].as_array().unwrap().len(), 4);
        assert!(listing["data"]["after"].is_null());
        let chat: Value = serde_json::from_str(&chat_completion_json(3)).unwrap();
        assert_eq!(chat["choices"][0]["message"]["content"], "w0000 w0001 w0002");
    }

    #[test]
    fn polygon_bodies_parse() {
        let body: Value = serde_json::from_str(&polygon_aggs_json("AAPL", 2, 1_577_941_200_000)).unwrap();
        assert_eq!(body["results"].as_array().unwrap().len(), 2);
        assert!(
            serde_json::from_str::<Value>(&polygon_aggs_json("AAPL", 0, 0)).unwrap().get("results").is_none()
        );
        let denied: Value = serde_json::from_str(&polygon_not_authorized_json()).unwrap();
        assert_eq!(denied["status"], "NOT_AUTHORIZED");
    }
}

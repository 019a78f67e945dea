//! Vendors' lists of every listed US stock and ETF, for refreshing the Reddit scanner's symbol
//! universe (`tickerwatch universe update`).
//!
//! Each vendor names things its own way; the parsers here map them onto one [`Listing`] and keep
//! only what the universe holds: common stocks (any class), ADRs and ETFs. Warrants, units,
//! rights, preferreds, notes, funds that are not exchange-traded and test issues are dropped.
//! The parsers are pure functions over the body, tested on vendors' documented and recorded
//! responses.

use serde::Deserialize;

/// One listed security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// As the universe spells it: upper case, share classes with `-` (`BRK-B`).
    pub symbol: String,
    pub name: String,
    /// The listing venue as the vendor names it (`NASDAQ`, `NYSE`, `XNAS`, `ARCX`…).
    pub exchange: String,
    pub kind: ListingKind,
}

/// What kind of security a listing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingKind {
    /// Common stock of any class, an ADR.
    Stock,
    /// An exchange-traded fund or note.
    Etf,
}

impl ListingKind {
    /// `stock` or `etf`, as the universe file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stock => "stock",
            Self::Etf => "etf",
        }
    }
}

/// A vendor symbol as the universe spells it, or `None` when it is not a plain ticker (1–5
/// letters, optionally a `.`/`-`/`/` and a 1–2 letter class; digits, `^`, `=` and longer forms
/// are other instruments).
fn universe_symbol(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (base, class) = match raw.find(['.', '-', '/']) {
        Some(at) => (&raw[..at], Some(&raw[at + 1..])),
        None => (raw, None),
    };
    let letters = |text: &str, max: usize| {
        !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_alphabetic())
    };
    if !letters(base, 5) || class.is_some_and(|class| !letters(class, 2)) {
        return None;
    }
    let mut symbol = base.to_ascii_uppercase();
    if let Some(class) = class {
        symbol.push('-');
        symbol.push_str(&class.to_ascii_uppercase());
    }
    Some(symbol)
}

/// Alpha Vantage `LISTING_STATUS` (CSV: `symbol,name,exchange,assetType,ipoDate,delistingDate,
/// status`). `assetType` is `Stock` or `ETF`; only `Active` rows are kept.
///
/// # Errors
/// A message when the header is not the documented one.
pub fn parse_alpha_vantage_csv(body: &str) -> Result<Vec<Listing>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(body.as_bytes());
    let headers = reader.headers().map_err(|e| format!("not CSV: {e}"))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(symbol_col), Some(name_col), Some(exchange_col), Some(type_col)) =
        (column("symbol"), column("name"), column("exchange"), column("assetType"))
    else {
        let found: Vec<&str> = headers.iter().collect();
        return Err(format!("expected symbol,name,exchange,assetType columns, found {}", found.join(",")));
    };
    let status_col = column("status");
    let mut listings = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("bad CSV row: {e}"))?;
        let field = |col: usize| record.get(col).unwrap_or("").trim();
        if status_col.is_some_and(|col| !field(col).eq_ignore_ascii_case("active")) {
            continue;
        }
        let kind = match field(type_col) {
            "Stock" => ListingKind::Stock,
            "ETF" => ListingKind::Etf,
            _ => continue,
        };
        let name = field(name_col);
        if is_not_common_stock(name) && kind == ListingKind::Stock {
            continue;
        }
        let Some(symbol) = universe_symbol(field(symbol_col)) else { continue };
        listings.push(Listing {
            symbol,
            name: name.to_owned(),
            exchange: field(exchange_col).to_owned(),
            kind,
        });
    }
    Ok(listings)
}

/// Whether a security's name says it is an exchange-traded fund or note.
fn is_fund_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [" ETF", " ETN", " FUND"].iter().any(|marker| upper.contains(marker))
}

/// Names of instruments Alpha Vantage files as `Stock` that the universe leaves out.
fn is_not_common_stock(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "warrant",
        " unit",
        "units",
        " right",
        "rights",
        "preferred",
        "% notes",
        " notes due",
        "depositary shares representing",
    ]
    .iter()
    .any(|marker| lower.contains(marker))
}

/// One entry of Finnhub's `/stock/symbol?exchange=US`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FinnhubSymbol {
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    display_symbol: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    mic: String,
    #[serde(default, rename = "type")]
    security_type: String,
}

/// Finnhub `/stock/symbol`: keeps `Common Stock`, `ADR` and `ETP` (Finnhub's name for ETFs
/// and ETNs).
pub(crate) fn from_finnhub(entries: Vec<FinnhubSymbol>) -> Vec<Listing> {
    entries
        .into_iter()
        .filter_map(|entry| {
            let kind = match entry.security_type.as_str() {
                "Common Stock" | "ADR" => ListingKind::Stock,
                "ETP" => ListingKind::Etf,
                // Older answers have no `type` (recorded in 2020): the name tells funds apart.
                "" if is_fund_name(&entry.description) => ListingKind::Etf,
                "" if !is_not_common_stock(&entry.description) => ListingKind::Stock,
                _ => return None,
            };
            let raw = if entry.display_symbol.is_empty() { &entry.symbol } else { &entry.display_symbol };
            Some(Listing {
                symbol: universe_symbol(raw)?,
                name: entry.description,
                exchange: entry.mic,
                kind,
            })
        })
        .collect()
}

/// One row of Polygon's `/v3/reference/tickers`.
#[derive(Debug, Deserialize)]
pub(crate) struct PolygonTicker {
    ticker: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    primary_exchange: String,
    #[serde(default, rename = "type")]
    security_type: String,
    #[serde(default = "default_true")]
    active: bool,
}

fn default_true() -> bool {
    true
}

/// A page of Polygon's `/v3/reference/tickers`.
#[derive(Debug, Deserialize)]
pub(crate) struct PolygonTickersPage {
    #[serde(default)]
    pub(crate) results: Vec<PolygonTicker>,
    #[serde(default)]
    pub(crate) next_url: Option<String>,
}

/// Polygon ticker types kept: `CS` (common stock), `ADRC` (ADR, common), `ETF`, `ETN`.
pub(crate) fn from_polygon(rows: Vec<PolygonTicker>) -> Vec<Listing> {
    rows.into_iter()
        .filter(|row| row.active)
        .filter_map(|row| {
            let kind = match row.security_type.as_str() {
                "CS" | "ADRC" => ListingKind::Stock,
                "ETF" | "ETN" => ListingKind::Etf,
                _ => return None,
            };
            Some(Listing {
                symbol: universe_symbol(&row.ticker)?,
                name: row.name,
                exchange: row.primary_exchange,
                kind,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_symbols_are_spelled_as_the_universe_spells_them() {
        assert_eq!(universe_symbol("AAPL").as_deref(), Some("AAPL"));
        assert_eq!(universe_symbol("BRK.B").as_deref(), Some("BRK-B"));
        assert_eq!(universe_symbol("BRK-B").as_deref(), Some("BRK-B"));
        assert_eq!(universe_symbol("BF/A").as_deref(), Some("BF-A"));
        for other in ["", "ABCDEF", "AAPL.WSX", "^GSPC", "ES=F", "1234", "AB CD"] {
            assert_eq!(universe_symbol(other), None, "{other}");
        }
    }

    /// The documented columns and values of `LISTING_STATUS` (Alpha Vantage's documentation
    /// shows the header; these rows follow it).
    #[test]
    fn alpha_vantage_listing_status_keeps_active_stocks_and_etfs() {
        let body = "symbol,name,exchange,assetType,ipoDate,delistingDate,status\r\n\
                    A,Agilent Technologies Inc,NYSE,Stock,1999-11-18,null,Active\r\n\
                    AAA,Alternative Access First Priority CLO Bond ETF,NYSE ARCA,ETF,2020-09-09,null,Active\r\n\
                    AACT-WS,Ares Acquisition Corporation II - Warrants,NYSE,Stock,2023-04-21,null,Active\r\n\
                    BRK-B,Berkshire Hathaway Inc,NYSE,Stock,1996-05-09,null,Active\r\n\
                    ZZZ,\"Old Co, Inc\",NASDAQ,Stock,2001-01-01,2020-01-01,Delisted\r\n";
        let listings = parse_alpha_vantage_csv(body).unwrap();
        let symbols: Vec<&str> = listings.iter().map(|l| l.symbol.as_str()).collect();
        assert_eq!(symbols, ["A", "AAA", "BRK-B"]);
        assert_eq!(listings[1].kind, ListingKind::Etf);
        assert_eq!(listings[0].exchange, "NYSE");
        assert!(parse_alpha_vantage_csv("{\"Information\": \"rate limit\"}").is_err());
    }
}

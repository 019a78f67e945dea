//! The symbol universe the Reddit scanner validates mentions against: the one stored by
//! `tickerwatch universe update` when there is one, else the snapshot bundled in the binary.
//!
//! Why stored rows are turned into the universe's CSV format and parsed: `universe.csv` is the
//! one format the extractor reads (and derives aliases from), so a vendor's refresh and the
//! bundled snapshot go through the same code and the same checks.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use domain::Symbol;

use providers::{Listing, ListingKind};
use social::extract::{SymbolUniverse, UniverseError};
use storage::{Storage, UniverseRow, UniverseVersion};

/// Fewer rows than this from a vendor is not a US listing (the full one has over 8,000): the
/// stored universe is kept rather than replaced by a truncated answer.
pub const MIN_LISTINGS: usize = 1_000;

/// The universe in use: the stored one while there is one (loaded again only when its version
/// changes), else the fallback (normally [`SymbolUniverse::bundled`], built on first use).
/// Holds at most two universes (the fallback and the latest stored one), a few MB each, and
/// hands out shared references: scoring a text never copies one.
pub struct CurrentUniverse {
    /// Set at construction, or to the bundled universe on first use.
    fallback: OnceLock<Arc<SymbolUniverse>>,
    extra_symbols: Vec<String>,
    stored: tokio::sync::Mutex<Option<(UniverseVersion, Arc<SymbolUniverse>)>>,
}

impl std::fmt::Debug for CurrentUniverse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUniverse").finish_non_exhaustive()
    }
}

impl Default for CurrentUniverse {
    /// Falls back to the bundled universe.
    fn default() -> Self {
        Self { fallback: OnceLock::new(), extra_symbols: Vec::new(), stored: tokio::sync::Mutex::new(None) }
    }
}

impl CurrentUniverse {
    /// Falls back to `fallback`; `extra_symbols` are added to a stored universe too.
    pub fn with_extra_symbols(fallback: SymbolUniverse, extra_symbols: Vec<String>) -> Self {
        Self { fallback: OnceLock::from(Arc::new(fallback)), extra_symbols, ..Self::default() }
    }

    fn fallback(&self) -> Arc<SymbolUniverse> {
        Arc::clone(self.fallback.get_or_init(|| Arc::new(SymbolUniverse::bundled())))
    }

    /// The universe to use now. A stored universe that cannot be read is logged and the
    /// fallback used: scoring text never fails for it.
    pub async fn get(&self, storage: &Storage) -> Arc<SymbolUniverse> {
        let version = match storage.universe_version().await {
            Ok(Some(version)) => version,
            Ok(None) => return self.fallback(),
            Err(error) => {
                tracing::warn!(%error, "Cannot read the stored symbol universe's version; using the bundled one.");
                return self.fallback();
            }
        };
        let mut cached = self.stored.lock().await;
        if let Some((loaded_version, universe)) = cached.as_ref()
            && *loaded_version == version
        {
            return Arc::clone(universe);
        }
        let loaded = match storage.universe().await {
            Ok(Some(stored)) => from_rows(&stored.rows).map_err(|e| e.to_string()),
            Ok(None) => return self.fallback(),
            Err(error) => Err(error.to_string()),
        };
        match loaded {
            Ok(universe) => {
                let extra = self.extra_symbols.iter().filter_map(|s| Symbol::parse(s).ok()).map(String::from);
                let universe = Arc::new(universe.with_symbols(extra));
                tracing::info!(symbols = universe.len(), "Loaded the stored symbol universe.");
                *cached = Some((version, Arc::clone(&universe)));
                universe
            }
            Err(error) => {
                tracing::warn!(%error, "Cannot load the stored symbol universe; using the bundled one.");
                self.fallback()
            }
        }
    }
}

/// The stored rows of a vendor's listing.
pub fn rows_of(listings: &[Listing]) -> Vec<UniverseRow> {
    listings
        .iter()
        .map(|listing| UniverseRow {
            symbol: listing.symbol.clone(),
            name: listing.name.clone(),
            exchange: listing.exchange.clone(),
            security_type: match listing.kind {
                ListingKind::Stock => "stock",
                ListingKind::Etf => "etf",
            }
            .to_owned(),
        })
        .collect()
}

/// The universe of stored rows, with the bundled curated data (renames, extra symbols, aliases).
///
/// # Errors
/// [`UniverseError`] when a row cannot be read (a symbol that is not one, an unknown type).
pub fn from_rows(rows: &[UniverseRow]) -> Result<SymbolUniverse, UniverseError> {
    let mut csv = String::with_capacity(rows.len() * 64 + 64);
    csv.push_str("symbol,name,exchange,type,former_symbols\n");
    for row in rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},",
            row.symbol,
            quoted(&row.name),
            quoted(&row.exchange),
            row.security_type
        );
    }
    Ok(SymbolUniverse::from_csv(&csv)?.with_curated_data())
}

/// A CSV field in double quotes, quotes doubled; line breaks (never in a name) become spaces.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\"").replace(['\r', '\n'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(symbol: &str, name: &str, security_type: &str) -> UniverseRow {
        UniverseRow {
            symbol: symbol.to_owned(),
            name: name.to_owned(),
            exchange: "NYSE".to_owned(),
            security_type: security_type.to_owned(),
        }
    }

    #[tokio::test]
    async fn the_universe_in_use_is_shared_not_copied_and_follows_updates() {
        let storage = Storage::connect("sqlite::memory:", &storage::DatabaseConfig::default()).await.unwrap();
        storage.migrate().await.unwrap();
        let current =
            CurrentUniverse::with_extra_symbols(SymbolUniverse::empty().with_symbols(["AAA"]), vec![]);
        let (one, two) = (current.get(&storage).await, current.get(&storage).await);
        assert!(Arc::ptr_eq(&one, &two), "the fallback is shared");
        assert!(one.contains("AAA"));

        storage.replace_universe("polygon", &[row("ZZZP", "Zeta Pax Inc.", "stock")]).await.unwrap();
        let (one, two) = (current.get(&storage).await, current.get(&storage).await);
        assert!(Arc::ptr_eq(&one, &two), "the stored one is loaded once and shared");
        assert!(one.contains("ZZZP") && !one.contains("AAA"));
        // Same second, same size: still a new version.
        storage.replace_universe("polygon", &[row("ZZZQ", "Zeta Quux Inc.", "stock")]).await.unwrap();
        let updated = current.get(&storage).await;
        assert!(updated.contains("ZZZQ") && !updated.contains("ZZZP"), "a new version is loaded");
    }

    #[test]
    fn stored_rows_become_a_universe_with_names_as_aliases() {
        let universe = from_rows(&[
            row("PTON", "Peloton Interactive, Inc. Class A", "stock"),
            row("XQQQ", "Some \"Quoted\" Fund, ETF", "etf"),
            row("BRK-B", "Berkshire Hathaway Inc.", "stock"),
        ])
        .unwrap();
        assert!(universe.contains("PTON") && universe.contains("XQQQ") && universe.contains("BRK-B"));
        assert_eq!(universe.lookup("XQQQ").unwrap().name, "Some \"Quoted\" Fund, ETF");
        let found: Vec<&str> =
            universe.extract_mentions("Peloton puts and $PTON calls").iter().map(|m| m.symbol).collect();
        assert_eq!(found, ["PTON"]);
        // The curated renames come along: FB is Meta.
        assert!(universe.extract_mentions("$FB calls").iter().any(|m| m.symbol == "META"));
        assert!(from_rows(&[row("NOT A SYMBOL", "x", "stock")]).is_err());
    }
}

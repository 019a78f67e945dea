//! The stored symbol universe: empty before the first update, replaced whole by each update
//! (never half), bad rows refused with the old universe kept, on both backends.

use storage::{Storage, StorageError, UniverseRow};

#[macro_use]
mod common;

backend_tests!(check_updates_replace_the_universe_whole);

fn row(symbol: &str, security_type: &str) -> UniverseRow {
    UniverseRow {
        symbol: symbol.to_owned(),
        name: format!("{symbol} Inc."),
        exchange: "NASDAQ".to_owned(),
        security_type: security_type.to_owned(),
    }
}

async fn check_updates_replace_the_universe_whole(storage: Storage) {
    assert_eq!(storage.universe().await.unwrap(), None, "nothing before the first update");
    assert_eq!(storage.universe_size().await.unwrap(), 0);

    let first = [row("AAPL", "stock"), row("SPY", "etf"), row("BRK-B", "stock")];
    assert_eq!(storage.replace_universe("polygon", &first).await.unwrap(), 3);
    let stored = storage.universe().await.unwrap().unwrap();
    assert_eq!(stored.provider, "polygon");
    let symbols: Vec<&str> = stored.rows.iter().map(|r| r.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAPL", "BRK-B", "SPY"], "by symbol");
    assert_eq!(stored.rows[2].security_type, "etf");

    // The next update replaces everything (MSFT new, SPY and BRK-B gone); a repeated symbol
    // counts once.
    let second = [row("MSFT", "stock"), row("AAPL", "stock"), row("AAPL", "stock")];
    assert_eq!(storage.replace_universe("finnhub", &second).await.unwrap(), 2);
    let stored = storage.universe().await.unwrap().unwrap();
    assert_eq!(stored.provider, "finnhub");
    let version = storage.universe_version().await.unwrap().unwrap();
    assert_eq!((version.generation, version.size), (2, 2), "each update is a new generation");
    assert_eq!(version.provider, "finnhub");
    assert_eq!(stored.rows.iter().map(|r| r.symbol.as_str()).collect::<Vec<_>>(), ["AAPL", "MSFT"]);

    // Refused without touching what is stored.
    for bad in [vec![], vec![row("XYZ", "stock"), row("BND", "bond")]] {
        let error = storage.replace_universe("finnhub", &bad).await.unwrap_err();
        assert!(matches!(error, StorageError::Invalid { .. }), "{error}");
    }
    assert_eq!(storage.universe_size().await.unwrap(), 2);
}

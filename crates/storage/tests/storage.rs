//! The storage test suite. Every `check_*` body is written once and run against SQLite (a file in
//! a temporary directory, always) and against PostgreSQL when `TEST_DATABASE_URL` is set, e.g.
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p storage`.
//!
//! PostgreSQL isolation: each test gets its own schema `tw_test_<unix secs>_<pid>_<n>`, selected
//! through the connection's `search_path`, so tests run in parallel without seeing each other's
//! rows and the migrations run into an empty schema. The schema is dropped when the test ends,
//! pass or fail; schemas older than an hour (left by a killed run) are dropped on startup.

use std::ops::ControlFlow;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use domain::reconcile::{BarField, ProviderPreference};
use domain::{
    Bar, CompanyProfile, CorporateAction, CorporateActionKind, Interval, NewsItem, ProviderId, QualityReport,
    Quote, QuoteSource, Symbol, check_bars,
};
use futures::TryStreamExt;
use sqlx::{Connection, SqliteConnection};
use storage::{
    Backend, BarQuery, BarRow, DatabaseConfig, DisagreementQuery, QualityAction, Storage, StorageError,
    UpsertStats, WatchlistEntry,
};

#[macro_use]
mod common;

use common::config;

backend_tests!(
    check_ping,
    check_migrations_are_idempotent,
    check_watchlist,
    check_upsert_is_idempotent,
    check_upsert_mixed_insert_and_update,
    check_duplicates_in_one_batch,
    check_null_stays_null,
    check_range_queries,
    check_multiple_providers,
    check_partial_bar_is_replaced_by_the_final_one,
    check_corporate_actions,
    check_stream_matches_bars,
    check_visit_bars_matches_bars,
    check_quotes,
    check_profiles,
    check_news_round_trip_and_dedupe,
    check_quality_events,
    check_failed_upsert_rolls_back,
    check_non_finite_is_refused,
    check_concurrent_writers,
);

unmigrated_backend_tests!(check_migration_0005_keeps_one_bar_per_trading_day);

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn sym(s: &str) -> Symbol {
    Symbol::parse(s).expect("valid symbol")
}

fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(n)
}

fn bar(n: i64, close: f64, provider: ProviderId) -> Bar {
    Bar {
        ts: day(n),
        open: Some(close - 0.5),
        high: Some(close + 1.0),
        low: Some(close - 1.0),
        close: Some(close),
        adj_close: Some(close * 0.99),
        volume: Some(1000 + n),
        provider,
        partial: false,
        flag: None,
    }
}

/// The default preference: yahoo, alpha_vantage, polygon, finnhub, sample.
fn pref() -> ProviderPreference {
    ProviderPreference::default()
}

fn bars(range: std::ops::Range<i64>, provider: ProviderId) -> Vec<Bar> {
    range.map(|n| bar(n, 100.0 + n as f64, provider)).collect()
}

fn query(symbol: &str) -> BarQuery {
    BarQuery::new(sym(symbol), Interval::Day1)
}

// ---------------------------------------------------------------------------------------------
// Checks, each run on both backends
// ---------------------------------------------------------------------------------------------

async fn check_ping(storage: Storage) {
    storage.ping().await.unwrap();
    let clone = storage.clone();
    clone.ping().await.unwrap();
    // Clones share one pool, bounded by `max_connections` (4 in these tests).
    assert!((1..=4).contains(&clone.open_connections()), "{}", clone.open_connections());
}

async fn check_migrations_are_idempotent(storage: Storage) {
    let aapl = sym("AAPL");
    storage.upsert_bars(&aapl, Interval::Day1, &bars(0..3, ProviderId::Sample), &pref()).await.unwrap();
    storage.migrate().await.unwrap();
    storage.migrate().await.unwrap();
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 3, "data survives re-migration");
}

async fn check_watchlist(storage: Storage) {
    let (aapl, msft) = (sym("AAPL"), sym("MSFT"));
    assert!(storage.watchlist().await.unwrap().is_empty());
    let before = Utc::now() - chrono::Duration::seconds(1);

    assert!(storage.add_to_watchlist(&msft).await.unwrap(), "newly added");
    assert!(storage.add_to_watchlist(&aapl).await.unwrap());
    assert!(!storage.add_to_watchlist(&aapl).await.unwrap(), "already there");

    let list = storage.watchlist().await.unwrap();
    let symbols: Vec<&str> = list.iter().map(|e| e.symbol.as_str()).collect();
    assert_eq!(symbols, ["AAPL", "MSFT"], "sorted by symbol");
    let after = Utc::now() + chrono::Duration::seconds(1);
    assert!(list.iter().all(|e| e.added_at >= before && e.added_at <= after), "{list:?}");

    assert!(storage.remove_from_watchlist(&aapl).await.unwrap());
    assert!(!storage.remove_from_watchlist(&aapl).await.unwrap(), "already removed");
    assert!(!storage.remove_from_watchlist(&sym("NEVER")).await.unwrap());
    let list = storage.watchlist().await.unwrap();
    assert_eq!(list.iter().map(|e: &WatchlistEntry| e.symbol.as_str()).collect::<Vec<_>>(), ["MSFT"]);

    // Removing from the watchlist keeps the symbol's data.
    storage.upsert_bars(&aapl, Interval::Day1, &bars(0..2, ProviderId::Sample), &pref()).await.unwrap();
    assert!(storage.add_to_watchlist(&aapl).await.unwrap());
    assert!(storage.remove_from_watchlist(&aapl).await.unwrap());
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 2);
}

async fn check_upsert_is_idempotent(storage: Storage) {
    let aapl = sym("AAPL");
    // More than one full statement on both backends, plus a ragged remainder.
    let batch = bars(0..9_000, ProviderId::Yahoo);

    let first = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap();
    assert_eq!(first, UpsertStats { inserted: 9_000, ..UpsertStats::default() });
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 9_000);

    let again = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap();
    assert_eq!(again, UpsertStats { updated: 9_000, ..UpsertStats::default() });
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 9_000, "no duplicates");

    assert_eq!(storage.bars(&query("AAPL")).await.unwrap(), batch);
    assert_eq!(
        storage.upsert_bars(&aapl, Interval::Day1, &[], &pref()).await.unwrap(),
        UpsertStats::default()
    );
}

async fn check_upsert_mixed_insert_and_update(storage: Storage) {
    let aapl = sym("AAPL");
    storage.upsert_bars(&aapl, Interval::Day1, &bars(0..10, ProviderId::Yahoo), &pref()).await.unwrap();

    // 5..15: five existing (with a revised close), five new.
    let mut revised: Vec<Bar> = bars(5..15, ProviderId::Yahoo);
    for b in &mut revised[..5] {
        b.close = Some(b.close.unwrap() + 0.25);
        b.flag = Some("revised".to_owned());
    }
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &revised, &pref()).await.unwrap();
    assert_eq!(stats, UpsertStats { inserted: 5, updated: 5, ..UpsertStats::default() });
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 15);

    let stored = storage.bars(&query("AAPL")).await.unwrap();
    assert_eq!(stored[..5], bars(0..5, ProviderId::Yahoo)[..], "untouched");
    assert_eq!(stored[5..], revised[..], "overwritten, flag included");
}

async fn check_duplicates_in_one_batch(storage: Storage) {
    let aapl = sym("AAPL");
    // Unsorted, and day 1 twice: the later occurrence wins, as if written one by one.
    let batch = [
        bar(2, 102.0, ProviderId::Yahoo),
        bar(1, 101.0, ProviderId::Yahoo),
        bar(0, 100.0, ProviderId::Yahoo),
        bar(1, 555.0, ProviderId::Yahoo),
    ];
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap();
    assert_eq!(stats, UpsertStats { inserted: 3, ..UpsertStats::default() });
    let stored = storage.bars(&query("AAPL")).await.unwrap();
    assert_eq!(stored, [batch[2].clone(), batch[3].clone(), batch[0].clone()]);
}

async fn check_null_stays_null(storage: Storage) {
    let aapl = sym("AAPL");
    let sparse = Bar {
        ts: day(0),
        open: None,
        high: Some(11.0),
        low: None,
        close: Some(10.0),
        adj_close: None,
        volume: None,
        provider: ProviderId::Yahoo,
        partial: false,
        flag: None,
    };
    let zeros = Bar {
        ts: day(1),
        open: Some(0.0),
        high: Some(0.0),
        low: Some(0.0),
        close: Some(0.0),
        adj_close: Some(0.0),
        volume: Some(0),
        provider: ProviderId::Yahoo,
        partial: false,
        flag: None,
    };
    storage.upsert_bars(&aapl, Interval::Day1, &[sparse.clone(), zeros.clone()], &pref()).await.unwrap();
    let stored = storage.bars(&query("AAPL")).await.unwrap();
    assert_eq!(stored, vec![sparse, zeros], "None stays None and 0 stays 0");
    assert_eq!(stored[0].open, None);
    assert_eq!(stored[0].volume, None);
}

async fn check_range_queries(storage: Storage) {
    let aapl = sym("AAPL");
    let all = bars(0..10, ProviderId::Yahoo);
    storage.upsert_bars(&aapl, Interval::Day1, &all, &pref()).await.unwrap();
    // Another interval and another symbol must not leak into the results.
    storage.upsert_bars(&aapl, Interval::Hour1, &bars(0..4, ProviderId::Yahoo), &pref()).await.unwrap();
    storage.upsert_bars(&sym("MSFT"), Interval::Day1, &bars(0..6, ProviderId::Yahoo), &pref()).await.unwrap();

    assert_eq!(storage.bars(&query("AAPL")).await.unwrap(), all);

    let mut q = query("AAPL");
    q.from = Some(day(3));
    q.to = Some(day(6));
    assert_eq!(storage.bars(&q).await.unwrap(), all[3..=6], "from and to are inclusive");

    q.limit = Some(2);
    assert_eq!(storage.bars(&q).await.unwrap(), all[3..5], "limit counts from the earliest");

    let mut q = query("AAPL");
    q.from = Some(day(8));
    assert_eq!(storage.bars(&q).await.unwrap(), all[8..]);
    let mut q = query("AAPL");
    q.to = Some(day(1) + chrono::Duration::hours(12));
    assert_eq!(storage.bars(&q).await.unwrap(), all[..2]);
    let mut q = query("AAPL");
    q.from = Some(day(20));
    assert!(storage.bars(&q).await.unwrap().is_empty());
    let mut q = query("AAPL");
    q.limit = Some(0);
    assert!(storage.bars(&q).await.unwrap().is_empty());
    let mut q = query("AAPL");
    q.limit = Some(u64::MAX);
    assert_eq!(storage.bars(&q).await.unwrap().len(), 10);

    assert_eq!(storage.last_bar_ts(&aapl, Interval::Day1).await.unwrap(), Some(day(9)));
    assert_eq!(storage.last_bar_ts(&aapl, Interval::Hour1).await.unwrap(), Some(day(3)));
    assert_eq!(storage.bar_count(&aapl, Interval::Hour1).await.unwrap(), 4);
    let nobody = sym("NOBODY");
    assert_eq!(storage.last_bar_ts(&nobody, Interval::Day1).await.unwrap(), None);
    assert_eq!(storage.bar_count(&nobody, Interval::Day1).await.unwrap(), 0);
    assert!(storage.bars(&query("NOBODY")).await.unwrap().is_empty());
}

async fn check_multiple_providers(storage: Storage) {
    let aapl = sym("AAPL");
    let yahoo = bars(0..3, ProviderId::Yahoo);
    // Polygon's days 1 and 2 are far off Yahoo's (closes 201/202 against 101/102), day 3 is new.
    let polygon: Vec<Bar> = (1..4).map(|n| bar(n, 200.0 + n as f64, ProviderId::Polygon)).collect();
    storage.upsert_bars(&aapl, Interval::Day1, &yahoo, &pref()).await.unwrap();
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &polygon, &pref()).await.unwrap();
    // Open, high, low and close differ on each shared day; the volumes agree.
    assert_eq!(stats, UpsertStats { inserted: 1, updated: 0, kept: 2, disagreements: 8 });
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 4, "one bar per day");

    let stored = storage.bars(&query("AAPL")).await.unwrap();
    let keys: Vec<(DateTime<Utc>, ProviderId)> = stored.iter().map(|b| (b.ts, b.provider)).collect();
    assert_eq!(
        keys,
        [
            (day(0), ProviderId::Yahoo),
            (day(1), ProviderId::Yahoo),
            (day(2), ProviderId::Yahoo),
            (day(3), ProviderId::Polygon),
        ]
    );
    let disagreements = storage.disagreements(&DisagreementQuery::new(aapl.clone())).await.unwrap();
    assert_eq!(disagreements.len(), 8);
    let close = disagreements.iter().find(|d| d.ts == day(1) && d.field == BarField::Close).unwrap();
    assert_eq!((close.kept_provider, close.kept_value), (ProviderId::Yahoo, 101.0));
    assert_eq!((close.other_provider, close.other_value), (ProviderId::Polygon, 201.0));
    assert_eq!(storage.count_disagreements(&aapl, Interval::Day1, Some(day(2)), None).await.unwrap(), 4);

    let mut q = query("AAPL");
    q.provider = Some(ProviderId::Polygon);
    assert_eq!(storage.bars(&q).await.unwrap(), polygon[2..]);
    q.provider = Some(ProviderId::Finnhub);
    assert!(storage.bars(&q).await.unwrap().is_empty());
    assert_eq!(storage.last_bar_ts(&aapl, Interval::Day1).await.unwrap(), Some(day(3)));

    // With Polygon preferred, its bars replace Yahoo's and the comparisons turn around.
    let polygon_first = ProviderPreference::new([ProviderId::Polygon, ProviderId::Yahoo]);
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &polygon, &polygon_first).await.unwrap();
    assert_eq!(stats, UpsertStats { inserted: 0, updated: 3, kept: 0, disagreements: 8 });
    let disagreements = storage.disagreements(&DisagreementQuery::new(aapl.clone())).await.unwrap();
    assert_eq!(disagreements.len(), 8, "{disagreements:?}");
    assert!(disagreements.iter().all(|d| d.kept_provider == ProviderId::Polygon));
    // A Yahoo refetch that agrees with Polygon's stored day 1 clears that day's disagreements.
    let mut agreeing = polygon[0].clone();
    agreeing.provider = ProviderId::Yahoo;
    storage.upsert_bars(&aapl, Interval::Day1, &[agreeing], &polygon_first).await.unwrap();
    let left = storage.disagreements(&DisagreementQuery::new(aapl.clone())).await.unwrap();
    assert_eq!(left.len(), 4);
    assert!(left.iter().all(|d| d.ts == day(2)));
}

async fn check_partial_bar_is_replaced_by_the_final_one(storage: Storage) {
    let aapl = sym("AAPL");
    let mut live = bar(5, 100.0, ProviderId::Yahoo);
    live.partial = true;
    live.volume = Some(10);
    storage.upsert_bars(&aapl, Interval::Day1, &[live.clone()], &pref()).await.unwrap();
    // A partial bar from a less preferred provider does not replace another partial one, and a
    // final bar of any provider replaces it, without a disagreement.
    let mut other_live = bar(5, 150.0, ProviderId::Finnhub);
    other_live.partial = true;
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &[other_live], &pref()).await.unwrap();
    assert_eq!(stats.kept, 1);
    let final_bar = bar(5, 101.0, ProviderId::AlphaVantage);
    let stats =
        storage.upsert_bars(&aapl, Interval::Day1, std::slice::from_ref(&final_bar), &pref()).await.unwrap();
    assert_eq!(stats, UpsertStats { updated: 1, ..UpsertStats::default() });
    assert_eq!(storage.bars(&query("AAPL")).await.unwrap(), vec![final_bar.clone()]);
    // A later partial refetch never replaces the final bar.
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &[live], &pref()).await.unwrap();
    assert_eq!(stats.kept, 1);
    assert_eq!(storage.bars(&query("AAPL")).await.unwrap(), vec![final_bar]);
    assert!(storage.disagreements(&DisagreementQuery::new(aapl)).await.unwrap().is_empty());
}

async fn check_corporate_actions(storage: Storage) {
    let aapl = sym("AAPL");
    let date = |text: &str| text.parse::<NaiveDate>().unwrap();
    let split = CorporateAction {
        date: date("2020-08-31"),
        kind: CorporateActionKind::Split { numerator: 4.0, denominator: 1.0 },
        provider: ProviderId::Yahoo,
    };
    let dividend = CorporateAction {
        date: date("2020-08-07"),
        kind: CorporateActionKind::Dividend { amount: 0.82 },
        provider: ProviderId::Yahoo,
    };
    storage.save_corporate_actions(&aapl, &[split.clone(), dividend.clone()]).await.unwrap();
    storage.save_corporate_actions(&aapl, std::slice::from_ref(&split)).await.unwrap();
    assert_eq!(storage.corporate_actions(&aapl, None).await.unwrap(), vec![dividend, split.clone()]);
    assert_eq!(storage.corporate_actions(&aapl, Some(date("2020-08-10"))).await.unwrap(), vec![split]);
    let bad = CorporateAction {
        date: date("2021-01-04"),
        kind: CorporateActionKind::Split { numerator: 0.0, denominator: 1.0 },
        provider: ProviderId::Polygon,
    };
    assert!(storage.save_corporate_actions(&aapl, &[bad]).await.is_err(), "a zero ratio is refused");
    assert_eq!(storage.corporate_actions(&aapl, None).await.unwrap().len(), 2);
}

async fn check_stream_matches_bars(storage: Storage) {
    let aapl = sym("AAPL");
    storage.upsert_bars(&aapl, Interval::Day1, &bars(0..3_000, ProviderId::Yahoo), &pref()).await.unwrap();
    // Days Yahoo does not have, so the provider filter has rows to return.
    storage
        .upsert_bars(&aapl, Interval::Day1, &bars(3_000..3_100, ProviderId::Polygon), &pref())
        .await
        .unwrap();

    let mut ranged = query("AAPL");
    ranged.from = Some(day(50));
    ranged.to = Some(day(250));
    let mut limited = ranged.clone();
    limited.limit = Some(77);
    let mut by_provider = query("AAPL");
    by_provider.provider = Some(ProviderId::Polygon);

    for q in [query("AAPL"), ranged, limited, by_provider] {
        let streamed: Vec<Bar> = storage.stream_bars(&q).try_collect().await.unwrap();
        let collected = storage.bars(&q).await.unwrap();
        assert_eq!(streamed, collected, "{q:?}");
        assert!(!streamed.is_empty());
    }

    // Dropping a stream half-way returns its connection: the pool keeps working.
    for _ in 0..10 {
        let mut stream = storage.stream_bars(&query("AAPL"));
        assert!(stream.try_next().await.unwrap().is_some());
    }
    storage.ping().await.unwrap();
}

/// Every bar `visit_bars` hands over, copied; stops after `stop_after` when given (the API asks
/// for one more than it serves, and stops there).
async fn visited(storage: &Storage, query: &BarQuery, stop_after: Option<usize>) -> Vec<Bar> {
    storage
        .visit_bars(query, Vec::new(), move |seen: &mut Vec<Bar>, bar: BarRow<'_>| {
            seen.push(bar.to_bar());
            if stop_after.is_some_and(|n| seen.len() >= n) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await
        .unwrap()
}

/// The API's read path (`visit_bars`: pooled rusqlite connections on a SQLite file, sqlx on
/// PostgreSQL) returns exactly what the sqlx path (`bars`) returns, for every kind of query.
async fn check_visit_bars_matches_bars(storage: Storage) {
    let aapl = sym("AAPL");
    let mut daily = bars(0..600, ProviderId::Yahoo);
    daily[3].flag = Some("split-sized step without a recorded split".to_owned());
    daily[4].open = None;
    daily[4].volume = None;
    daily[5] = Bar { adj_close: None, high: None, low: None, close: None, ..daily[5].clone() };
    daily[599].partial = true;
    storage.upsert_bars(&aapl, Interval::Day1, &daily, &pref()).await.unwrap();
    // Days Yahoo does not have, so the provider filter has rows to return and to leave out.
    storage.upsert_bars(&aapl, Interval::Day1, &bars(600..650, ProviderId::Polygon), &pref()).await.unwrap();
    storage
        .upsert_bars(&sym("MSFT"), Interval::Day1, &bars(0..20, ProviderId::Sample), &pref())
        .await
        .unwrap();
    // Intraday: five-minute bars with exact instants, a partial last one and a flag.
    let start = Utc.with_ymd_and_hms(2024, 3, 4, 14, 30, 0).unwrap();
    let mut intraday: Vec<Bar> = (0..78)
        .map(|i| Bar {
            ts: start + chrono::Duration::minutes(5 * i),
            ..bar(0, 50.0 + i as f64 / 8.0, ProviderId::Polygon)
        })
        .collect();
    intraday[10].flag = Some("jump".to_owned());
    intraday[77].partial = true;
    storage.upsert_bars(&aapl, Interval::Min5, &intraday, &pref()).await.unwrap();

    let mut queries = vec![query("AAPL"), query("MSFT"), query("NOBODY")];
    let mut ranged = query("AAPL");
    ranged.from = Some(day(50));
    ranged.to = Some(day(250));
    queries.push(ranged.clone());
    queries.push(BarQuery { limit: Some(77), ..ranged.clone() });
    queries.push(BarQuery { limit: Some(0), ..ranged.clone() });
    queries.push(BarQuery { limit: Some(u64::MAX), ..query("AAPL") });
    queries.push(BarQuery {
        from: Some(day(2) + chrono::Duration::hours(1)),
        to: Some(day(6)),
        ..query("AAPL")
    });
    queries.push(BarQuery { from: Some(day(700)), ..query("AAPL") });
    queries.push(BarQuery { from: Some(day(10)), to: Some(day(5)), ..query("AAPL") });
    queries.push(BarQuery { provider: Some(ProviderId::Polygon), ..query("AAPL") });
    queries.push(BarQuery { provider: Some(ProviderId::Polygon), limit: Some(7), ..ranged.clone() });
    queries.push(BarQuery { provider: Some(ProviderId::AlphaVantage), ..query("AAPL") });
    let five = BarQuery::new(aapl.clone(), Interval::Min5);
    queries.push(five.clone());
    queries.push(BarQuery {
        from: Some(start + chrono::Duration::minutes(30)),
        to: Some(start + chrono::Duration::minutes(90) - chrono::Duration::seconds(1)),
        ..five.clone()
    });
    queries.push(BarQuery { limit: Some(11), provider: Some(ProviderId::Polygon), ..five.clone() });
    queries.push(BarQuery::new(aapl.clone(), Interval::Hour1));

    for q in &queries {
        let expected = storage.bars(q).await.unwrap();
        assert_eq!(visited(&storage, q, None).await, expected, "{q:?}");
        // Stopping early (as the API does at limit + 1) gives the same first rows.
        let stopped = visited(&storage, q, Some(3)).await;
        assert_eq!(stopped, expected[..expected.len().min(3)], "{q:?}");
    }
    let all = storage.bars(&queries[0]).await.unwrap();
    assert_eq!(all.len(), 650);
    assert_eq!(all[3].flag.as_deref(), Some("split-sized step without a recorded split"));
    assert_eq!((all[4].open, all[4].volume, all[5].close), (None, None, None));
    assert!(all[599].partial);
    assert_eq!(storage.bars(&five).await.unwrap(), intraday);

    // Which path served: a SQLite file's read pool, nothing for PostgreSQL.
    match storage.backend() {
        Backend::Sqlite => {
            let stats = storage.read_pool_stats().expect("a SQLite file has a read pool");
            assert!(stats.open >= 1 && stats.open <= stats.max, "{stats:?}");
        }
        Backend::Postgres => assert_eq!(storage.read_pool_stats(), None),
    }
}

fn quote(price: f64, ts: DateTime<Utc>, provider: ProviderId, source: QuoteSource) -> Quote {
    Quote {
        symbol: sym("AAPL"),
        price,
        previous_close: Some(price - 1.0),
        change: Some(1.0),
        change_percent: None,
        open: Some(price - 2.0),
        high: None,
        low: Some(price - 3.0),
        volume: Some(12_345),
        ts,
        provider,
        source,
    }
}

async fn check_quotes(storage: Storage) {
    let aapl = sym("AAPL");
    assert_eq!(storage.latest_quote(&aapl).await.unwrap(), None);

    let old_close = quote(150.0, day(0), ProviderId::Sample, QuoteSource::LastBarClose);
    storage.save_quote(&old_close).await.unwrap();
    assert_eq!(storage.latest_quote(&aapl).await.unwrap(), Some(old_close.clone()));

    let live = quote(190.5, day(5), ProviderId::Yahoo, QuoteSource::Live);
    storage.save_quote(&live).await.unwrap();
    assert_eq!(storage.latest_quote(&aapl).await.unwrap(), Some(live.clone()), "newest across providers");

    // A stale response from the same provider does not overwrite a newer quote…
    storage.save_quote(&quote(180.0, day(4), ProviderId::Yahoo, QuoteSource::Live)).await.unwrap();
    assert_eq!(storage.latest_quote(&aapl).await.unwrap(), Some(live));
    // …a newer one does.
    let newer = quote(191.0, day(6), ProviderId::Yahoo, QuoteSource::Live);
    storage.save_quote(&newer).await.unwrap();
    assert_eq!(storage.latest_quote(&aapl).await.unwrap(), Some(newer));
    assert_eq!(storage.latest_quote(&sym("MSFT")).await.unwrap(), None);
}

async fn check_profiles(storage: Storage) {
    let aapl = sym("AAPL");
    assert_eq!(storage.profile(&aapl).await.unwrap(), None);
    assert_eq!(storage.profile_fetched_at(&aapl).await.unwrap(), None);
    let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
    let profile = CompanyProfile {
        symbol: Some(aapl.clone()),
        name: Some("Apple Inc.".to_owned()),
        exchange: Some("NASDAQ".to_owned()),
        currency: Some("USD".to_owned()),
        country: None,
        sector: Some("Technology".to_owned()),
        industry: None,
        market_cap: Some(3.5e12),
        description: Some("Makes phones; «ünïcödé» and 'quotes' survive.".to_owned()),
        website: None,
        provider: Some(ProviderId::Finnhub),
    };
    storage.save_profile(&profile).await.unwrap();
    assert_eq!(storage.profile(&aapl).await.unwrap(), Some(profile.clone()));
    let fetched_at = storage.profile_fetched_at(&aapl).await.unwrap().expect("stored just now");
    assert!(fetched_at >= before && fetched_at <= chrono::Utc::now(), "{fetched_at}");

    let updated = CompanyProfile { market_cap: None, country: Some("US".to_owned()), ..profile };
    storage.save_profile(&updated).await.unwrap();
    assert_eq!(storage.profile(&aapl).await.unwrap(), Some(updated), "replaced, None included");

    let anonymous = CompanyProfile { provider: Some(ProviderId::Yahoo), ..CompanyProfile::default() };
    let err = storage.save_profile(&anonymous).await.unwrap_err();
    assert!(matches!(err, StorageError::MissingField { field: "symbol", .. }), "{err}");
    let unsourced = CompanyProfile { symbol: Some(aapl), ..CompanyProfile::default() };
    let err = storage.save_profile(&unsourced).await.unwrap_err();
    assert!(matches!(err, StorageError::MissingField { field: "provider", .. }), "{err}");
}

fn news_item(symbol: &str, n: i64, provider: ProviderId) -> NewsItem {
    NewsItem {
        symbol: sym(symbol),
        headline: format!("Headline {n}"),
        url: format!("https://news.example/{n}"),
        source: Some("Example Wire".to_owned()),
        summary: if n % 2 == 0 { None } else { Some(format!("Summary {n}")) },
        published_at: day(n),
        sentiment: if n % 2 == 0 { Some(0.25) } else { None },
        provider,
    }
}

async fn check_news_round_trip_and_dedupe(storage: Storage) {
    let aapl = sym("AAPL");
    let items = vec![
        news_item("AAPL", 1, ProviderId::Finnhub),
        news_item("AAPL", 2, ProviderId::Finnhub),
        news_item("AAPL", 1, ProviderId::Finnhub), // duplicate within the batch
        news_item("AAPL", 3, ProviderId::Finnhub),
        news_item("MSFT", 3, ProviderId::Finnhub), // same article, another symbol: kept
        news_item("AAPL", 3, ProviderId::AlphaVantage), // same article, another provider: kept
    ];
    assert_eq!(storage.save_news(&items).await.unwrap(), 5);
    assert_eq!(storage.save_news(&items).await.unwrap(), 0, "re-polling stores nothing new");
    assert_eq!(storage.save_news(&[]).await.unwrap(), 0);

    let stored = storage.news(&aapl, 10).await.unwrap();
    assert_eq!(stored.len(), 4);
    assert_eq!(stored[0], items[5], "newest first, then provider");
    assert_eq!(stored[1], items[3]);
    assert_eq!(stored[2], items[1]);
    assert_eq!(stored[3], items[0]);
    assert_eq!(storage.news(&aapl, 2).await.unwrap(), stored[..2]);
    assert_eq!(storage.news(&sym("MSFT"), 10).await.unwrap(), [items[4].clone()]);
    assert!(storage.news(&sym("NOBODY"), 10).await.unwrap().is_empty());
}

async fn check_quality_events(storage: Storage) {
    let aapl = sym("AAPL");
    let mut batch = bars(0..4, ProviderId::Yahoo);
    batch[1].high = Some(1.0); // high below low: rejected
    batch[3].close = Some(20_000.0); // ~200x the previous close: kept but flagged
    batch[3].high = Some(20_001.0);
    batch[3].open = Some(20_000.0);
    let report = check_bars(&mut batch, &[]);
    assert_eq!((report.rejected.len(), report.flagged.len()), (1, 1), "{report:?}");

    storage.record_quality(&aapl, Interval::Day1, ProviderId::Yahoo, &report).await.unwrap();
    storage
        .record_quality(&aapl, Interval::Day1, ProviderId::Yahoo, &QualityReport::default())
        .await
        .unwrap();

    let events = storage.quality_events(&aapl, 10).await.unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    let rejected = events.iter().find(|e| e.action == QualityAction::Rejected).unwrap();
    assert_eq!(rejected.ts, day(1));
    assert!(rejected.reason.contains("below low"), "{}", rejected.reason);
    assert_eq!((rejected.interval, rejected.provider), (Interval::Day1, ProviderId::Yahoo));
    let flagged = events.iter().find(|e| e.action == QualityAction::Flagged).unwrap();
    assert_eq!(flagged.ts, day(3));
    assert!(flagged.reason.contains("jumped"), "{}", flagged.reason);
    assert!((Utc::now() - flagged.recorded_at).num_seconds().abs() < 60);
    assert_eq!(storage.quality_events(&aapl, 1).await.unwrap().len(), 1);
    assert!(storage.quality_events(&sym("MSFT"), 10).await.unwrap().is_empty());
}

async fn check_failed_upsert_rolls_back(storage: Storage) {
    let aapl = sym("AAPL");
    let original = bars(0..100, ProviderId::Yahoo);
    storage.upsert_bars(&aapl, Interval::Day1, &original, &pref()).await.unwrap();

    // Overwrite the 100 stored bars and add 9 900 new ones (several statements), but the very
    // last bar breaks a schema CHECK (negative volume), so its statement fails after earlier
    // statements already ran inside the transaction.
    let mut batch: Vec<Bar> = (0..10_000).map(|n| bar(n, 500.0 + n as f64, ProviderId::Yahoo)).collect();
    if let Some(last) = batch.last_mut() {
        last.volume = Some(-1);
    }
    let err = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap_err();
    assert!(matches!(err, StorageError::Query(_)), "{err}");

    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 100, "no new rows kept");
    assert_eq!(storage.bars(&query("AAPL")).await.unwrap(), original, "no overwrite kept");

    // A failed batch leaves the connection usable.
    batch.pop();
    let stats = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap();
    assert_eq!(stats, UpsertStats { inserted: 9_899, updated: 100, ..UpsertStats::default() });
}

async fn check_non_finite_is_refused(storage: Storage) {
    let aapl = sym("AAPL");
    for poison in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut batch = bars(0..10, ProviderId::Yahoo);
        batch[7].adj_close = Some(poison);
        let err = storage.upsert_bars(&aapl, Interval::Day1, &batch, &pref()).await.unwrap_err();
        assert!(matches!(err, StorageError::NonFinite { field: "adj_close", .. }), "{err}");
        assert!(err.to_string().contains("AAPL"), "{err}");
    }
    assert_eq!(storage.bar_count(&aapl, Interval::Day1).await.unwrap(), 0);
}

async fn check_concurrent_writers(storage: Storage) {
    // Several tasks upserting at once (on SQLite: queued by BEGIN IMMEDIATE + busy timeout).
    let tasks: Vec<_> = ["AAA", "BBB", "CCC", "DDD"]
        .into_iter()
        .map(|s| {
            let storage = storage.clone();
            async move {
                let symbol = sym(s);
                for round in 0..5 {
                    let stats = storage
                        .upsert_bars(&symbol, Interval::Day1, &bars(0..500, ProviderId::Sample), &pref())
                        .await
                        .unwrap();
                    assert_eq!(stats.inserted + stats.updated, 500);
                    assert_eq!(stats.inserted, if round == 0 { 500 } else { 0 });
                    storage.add_to_watchlist(&symbol).await.unwrap();
                }
            }
        })
        .collect();
    futures::future::join_all(tasks).await;
    assert_eq!(storage.watchlist().await.unwrap().len(), 4);
    for s in ["AAA", "BBB", "CCC", "DDD"] {
        assert_eq!(storage.bar_count(&sym(s), Interval::Day1).await.unwrap(), 500);
    }
}

// ---------------------------------------------------------------------------------------------
// Connection behaviour (no schema needed)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unsupported_scheme_is_a_clear_error_without_the_password() {
    let err = Storage::connect("mysql://tw:hunter2@db.example/tw", &config()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StorageError::UnsupportedUrl { .. }), "{message}");
    assert!(message.contains("mysql://tw:***@db.example/tw"), "{message}");
    assert!(message.contains("postgres://"), "says what is supported: {message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{err:?}").contains("hunter2"));

    let err = Storage::connect("data/tickerwatch.db", &config()).await.unwrap_err();
    assert!(matches!(err, StorageError::UnsupportedUrl { .. }), "{err}");
}

#[tokio::test]
async fn postgres_connect_failure_does_not_print_the_password() {
    let config = DatabaseConfig { acquire_timeout_secs: 2, ..config() };
    // Port 1 on localhost: nothing listens, the connection is refused.
    let url = "postgres://tw:hunter2@127.0.0.1:1/tw?password=hunter2";
    let err = Storage::connect(url, &config).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StorageError::Connect { .. }), "{message}");
    assert!(message.contains("tw:***@127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{err:?}").contains("hunter2"));
}

#[tokio::test]
async fn invalid_config_is_refused() {
    let zero_pool = DatabaseConfig { max_connections: Some(0), ..config() };
    let err = Storage::connect("sqlite::memory:", &zero_pool).await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidConfig(_)), "{err}");
    let zero_timeout = DatabaseConfig { acquire_timeout_secs: 0, ..config() };
    let err = Storage::connect("sqlite::memory:", &zero_timeout).await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidConfig(_)), "{err}");
    let err = Storage::connect("sqlite://x.db?mode=bogus", &config()).await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidUrl { .. }), "{err}");
}

#[tokio::test]
async fn sqlite_file_is_created_in_missing_directories_with_wal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not").join("yet").join("there.db");
    let url = format!("sqlite://{}", file.display());

    let storage = Storage::connect(&url, &config()).await.unwrap();
    assert_eq!(storage.backend(), Backend::Sqlite);
    storage.migrate().await.unwrap();
    storage.migrate().await.unwrap();
    assert!(file.exists(), "database file created");
    storage
        .upsert_bars(&sym("AAPL"), Interval::Day1, &bars(0..5, ProviderId::Sample), &pref())
        .await
        .unwrap();

    // The journal mode is stored in the file, so a plain connection sees it.
    let mut plain = SqliteConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut plain).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&mut plain).await.unwrap();
    assert_eq!(fk, 1);
    plain.close().await.unwrap();
    storage.close().await;

    // Reopening finds the data and re-migrating is a no-op.
    let storage = Storage::connect(&url, &config()).await.unwrap();
    storage.migrate().await.unwrap();
    assert_eq!(storage.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap(), 5);
    storage.close().await;
    assert!(storage.ping().await.is_err(), "closed pool refuses work");
}

#[tokio::test]
async fn sqlite_in_memory_is_shared_by_the_pool() {
    let storage = Storage::connect("sqlite::memory:", &config()).await.unwrap();
    storage.migrate().await.unwrap();
    storage
        .upsert_bars(&sym("AAPL"), Interval::Day1, &bars(0..50, ProviderId::Sample), &pref())
        .await
        .unwrap();
    // Hold one connection with an open stream while others read: all see the same database.
    let mut stream = storage.stream_bars(&query("AAPL"));
    assert!(stream.try_next().await.unwrap().is_some());
    let (aapl, all) = (sym("AAPL"), query("AAPL"));
    let (a, b) = tokio::join!(storage.bar_count(&aapl, Interval::Day1), storage.bars(&all));
    assert_eq!(a.unwrap(), 50);
    assert_eq!(b.unwrap().len(), 50);
    drop(stream);
    // No file, so no read pool: the API's reads go through the sqlx pool and agree with it.
    assert_eq!(storage.read_pool_stats(), None);
    let mut ranged = query("AAPL");
    ranged.from = Some(day(10));
    ranged.limit = Some(20);
    assert_eq!(visited(&storage, &ranged, None).await, storage.bars(&ranged).await.unwrap());
    assert_eq!(visited(&storage, &ranged, Some(2)).await.len(), 2);
    // Two in-memory storages are independent databases.
    let other = Storage::connect("sqlite::memory:", &config()).await.unwrap();
    other.migrate().await.unwrap();
    assert_eq!(other.bar_count(&sym("AAPL"), Interval::Day1).await.unwrap(), 0);
}

#[test]
fn config_deserialises_with_defaults_and_rejects_unknown_fields() {
    let config: DatabaseConfig = serde_json::from_str(r#"{"url": "postgres://h/db"}"#).unwrap();
    assert_eq!(config.url, "postgres://h/db");
    assert_eq!(config.max_connections, None);
    assert_eq!(config.acquire_timeout_secs, DatabaseConfig::default().acquire_timeout_secs);
    let config: DatabaseConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, DatabaseConfig::default());
    let err = serde_json::from_str::<DatabaseConfig>(r#"{"uri": "x"}"#).unwrap_err();
    assert!(err.to_string().contains("uri"), "{err}");
}

/// A database written by the previous release (schema 4: bars keyed by vendor stamp and
/// provider) is converted in place: one bar per trading day (the preferred provider's), the
/// others recorded as disagreements where they differ, nothing else lost.
async fn check_migration_0005_keeps_one_bar_per_trading_day(storage: Storage, url: String) {
    storage.migrate_up_to(4).await.unwrap();
    // 2024-05-01..03 from Yahoo (stamped at the New York open), Polygon and Alpha Vantage
    // (midnight UTC, as the old code stored them); Polygon's close of 2 May is 2 % off and
    // Alpha Vantage's volume is fractional. BHP.AX was stamped at the Sydney open, 23:00 UTC on
    // the previous day. A 5-minute bar, a quote and a quality event must survive as they are.
    let statements = [
        "INSERT INTO symbols (symbol, added_at) VALUES ('AAPL', 1), ('BHP.AX', 1)",
        "INSERT INTO bars (symbol, interval, ts, provider, open, high, low, close, adj_close, volume, flag, fetched_at) VALUES \
         ('AAPL', '1d', 1714570200, 'yahoo', 169.0, 170.0, 168.0, 169.3, 169.1, 50000000, NULL, 1), \
         ('AAPL', '1d', 1714656600, 'yahoo', 172.5, 173.4, 170.9, 173.0, 172.8, 94214900, NULL, 1), \
         ('AAPL', '1d', 1714743000, 'yahoo', 186.6, 187.0, 182.7, 183.4, 183.2, 163224109, 'checked', 1), \
         ('AAPL', '1d', 1714521600, 'polygon', 169.0, 170.0, 168.0, 169.3, NULL, 50000000, NULL, 1), \
         ('AAPL', '1d', 1714608000, 'polygon', 172.5, 173.4, 170.9, 176.46, NULL, 94214900, NULL, 1), \
         ('AAPL', '1d', 1714694400, 'alpha_vantage', 186.6, 187.0, 182.7, 183.4, NULL, 163224109.6, NULL, 1), \
         ('AAPL', '5m', 1714743300, 'yahoo', 186.6, 186.9, 186.5, 186.8, NULL, 1200.0, NULL, 1), \
         ('BHP.AX', '1d', 1704754800, 'yahoo', 44.0, 44.5, 43.8, 44.2, 44.2, 7000000, NULL, 1)",
        "INSERT INTO quotes (symbol, provider, price, volume, ts, source, fetched_at) \
         VALUES ('AAPL', 'yahoo', 183.38, 12345.6, 1714766401, 'live', 1)",
        "INSERT INTO quality_events (symbol, interval, provider, ts, action, reason, recorded_at) \
         VALUES ('AAPL', '1d', 'yahoo', 1714743000, 'flagged', 'checked', 1)",
    ];
    match storage.backend() {
        Backend::Sqlite => {
            let mut connection = SqliteConnection::connect(&url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
            connection.close().await.unwrap();
        }
        Backend::Postgres => {
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            for sql in statements {
                sqlx::query(sql).execute(&mut connection).await.unwrap();
            }
            connection.close().await.unwrap();
        }
    }

    storage.migrate().await.expect("migration 5 converts the old bars");
    storage.migrate().await.expect("and is idempotent");

    let aapl = sym("AAPL");
    let date = |text: &str| domain::calendar::date_stamp(text.parse::<NaiveDate>().unwrap());
    let stored = storage.bars(&query("AAPL")).await.unwrap();
    let keys: Vec<(DateTime<Utc>, ProviderId)> = stored.iter().map(|b| (b.ts, b.provider)).collect();
    assert_eq!(
        keys,
        [
            (date("2024-05-01"), ProviderId::Yahoo),
            (date("2024-05-02"), ProviderId::Yahoo),
            (date("2024-05-03"), ProviderId::Yahoo),
        ],
        "one bar per trading day, the preferred provider's"
    );
    assert_eq!(stored[2].flag.as_deref(), Some("checked"));
    assert_eq!(stored[2].volume, Some(163_224_109));
    assert!(stored.iter().all(|b| !b.partial));

    let disagreements = storage.disagreements(&DisagreementQuery::new(aapl.clone())).await.unwrap();
    assert_eq!(disagreements.len(), 1, "{disagreements:?}");
    let close = &disagreements[0];
    assert_eq!((close.ts, close.field), (date("2024-05-02"), BarField::Close));
    assert_eq!((close.kept_provider, close.kept_value), (ProviderId::Yahoo, 173.0));
    assert_eq!((close.other_provider, close.other_value), (ProviderId::Polygon, 176.46));

    let bhp = storage.bars(&query("BHP.AX")).await.unwrap();
    assert_eq!(bhp.iter().map(|b| b.ts).collect::<Vec<_>>(), [date("2024-01-09")], "the Sydney session date");
    assert_eq!(storage.bar_count(&aapl, Interval::Min5).await.unwrap(), 1);
    assert_eq!(storage.latest_quote(&aapl).await.unwrap().unwrap().volume, Some(12_346));
    let events = storage.quality_events(&aapl, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    // The converted schema takes new data as usual.
    storage.upsert_bars(&aapl, Interval::Day1, &bars(0..2, ProviderId::Sample), &pref()).await.unwrap();
}

//! Social posts, mentions, scans and aggregates, against SQLite always and PostgreSQL when
//! `TEST_DATABASE_URL` is set, e.g.
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p storage --test social`.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::{Mention, MentionKind, PostSource, ScanStatus, SocialPost, SocialScan, Symbol};
use storage::{MentionBucketSize, SocialSaveStats, Storage};

#[macro_use]
mod common;

backend_tests!(
    check_save_is_idempotent,
    check_mentions_query,
    check_scans,
    check_trending_and_spike,
    check_buckets,
    check_non_finite_sentiment_is_refused,
);

/// 2026-11-20 12:00:00 UTC, on an hour boundary.
fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap()
}

fn post(id: &str, author: &str, at: DateTime<Utc>, sentiment: f64) -> SocialPost {
    SocialPost {
        source: PostSource::Sample,
        post_id: id.to_owned(),
        subreddit: "stocks".to_owned(),
        author: author.to_owned(),
        created_at: at,
        title: format!("post {id}"),
        permalink: Some(format!("/r/stocks/comments/{id}/")),
        sentiment,
    }
}

fn sym(symbol: &str) -> Symbol {
    Symbol::parse(symbol).unwrap()
}

fn mention(post: &SocialPost, symbol: &str) -> Mention {
    Mention {
        source: post.source,
        post_id: post.post_id.clone(),
        symbol: sym(symbol),
        kind: MentionKind::Cashtag,
        author: post.author.clone(),
        subreddit: post.subreddit.clone(),
        created_at: post.created_at,
        sentiment: post.sentiment,
    }
}

async fn save(storage: &Storage, posts: &[SocialPost], symbols: &[&[&str]]) -> SocialSaveStats {
    let mentions: Vec<Mention> =
        posts.iter().zip(symbols).flat_map(|(p, syms)| syms.iter().map(|s| mention(p, s))).collect();
    storage.save_social_posts(posts, &mentions).await.expect("save")
}

async fn check_save_is_idempotent(storage: Storage) {
    let t = anchor();
    let posts = vec![post("a", "alice", t, 0.5), post("b", "bob", t, -0.3)];
    let stats = save(&storage, &posts, &[&["NVDA", "AMD"], &["TSLA"]]).await;
    assert_eq!(stats, SocialSaveStats { posts_inserted: 2, mentions_inserted: 3 });

    // Re-scan: same posts plus one new one; only the new rows count.
    let mut again = posts.clone();
    again.push(post("c", "carol", t, 0.0));
    let stats = save(&storage, &again, &[&["NVDA", "AMD"], &["TSLA"], &["NVDA"]]).await;
    assert_eq!(stats, SocialSaveStats { posts_inserted: 1, mentions_inserted: 1 });

    // A duplicate symbol in one batch is stored once.
    let p = post("d", "dave", t, 0.1);
    let stats = storage
        .save_social_posts(std::slice::from_ref(&p), &[mention(&p, "GME"), mention(&p, "GME")])
        .await
        .unwrap();
    assert_eq!(stats, SocialSaveStats { posts_inserted: 1, mentions_inserted: 1 });

    assert_eq!(storage.mentions(None, t - Duration::days(1), None).await.unwrap().len(), 5);
    assert_eq!(storage.save_social_posts(&[], &[]).await.unwrap(), SocialSaveStats::default());
}

async fn check_mentions_query(storage: Storage) {
    let t = anchor();
    let posts = vec![
        post("old", "alice", t - Duration::days(3), 0.5),
        post("mid", "bob", t - Duration::hours(2), -0.5),
        post("new", "carol", t, 0.25),
    ];
    save(&storage, &posts, &[&["NVDA"], &["NVDA", "TSLA"], &["NVDA"]]).await;

    let all = storage.mentions(None, t - Duration::days(1), None).await.unwrap();
    let ids: Vec<(&str, &str)> = all.iter().map(|m| (m.post_id.as_str(), m.symbol.as_str())).collect();
    assert_eq!(ids, vec![("new", "NVDA"), ("mid", "NVDA"), ("mid", "TSLA")]);
    assert_eq!(all[0], mention(&posts[2], "NVDA"));

    let nvda = storage.mentions(Some(&sym("NVDA")), t - Duration::days(7), Some(2)).await.unwrap();
    assert_eq!(nvda.iter().map(|m| m.post_id.as_str()).collect::<Vec<_>>(), vec!["new", "mid"]);
    assert!(storage.mentions(Some(&sym("AAPL")), t - Duration::days(7), None).await.unwrap().is_empty());
}

async fn check_scans(storage: Storage) {
    assert_eq!(storage.latest_social_scan().await.unwrap(), None);
    let t = anchor();
    let first = SocialScan {
        started_at: t,
        finished_at: t + Duration::seconds(3),
        source: PostSource::Reddit,
        subreddits: vec!["wallstreetbets".to_owned(), "stocks".to_owned()],
        posts_read: 0,
        mentions_found: 0,
        status: ScanStatus::Blocked,
        error: Some("r/wallstreetbets: blocked (HTML block page)".to_owned()),
    };
    let recorded = storage.record_social_scan(&first).await.unwrap();
    assert_eq!(recorded.subreddits, first.subreddits);
    assert_eq!(recorded.status, ScanStatus::Blocked);
    assert_eq!(recorded.error, first.error);
    assert_eq!(recorded.started_at, t);
    assert_eq!(recorded.value, first, "read back as written");
    assert_eq!(recorded.created_at, first.finished_at, "a scan is recorded when it has finished");

    let second = SocialScan {
        status: ScanStatus::Complete,
        posts_read: 150,
        mentions_found: 210,
        error: None,
        source: PostSource::Sample,
        ..first.clone()
    };
    let recorded2 = storage.record_social_scan(&second).await.unwrap();
    assert!(recorded2.id > recorded.id);
    let latest = storage.latest_social_scan().await.unwrap().unwrap();
    assert_eq!(latest, recorded2);
    assert_eq!((latest.posts_read, latest.mentions_found), (150, 210));
}

async fn check_trending_and_spike(storage: Storage) {
    let until = anchor();
    let mut posts = Vec::new();
    let mut symbols: Vec<&[&str]> = Vec::new();
    // AAPL: one mention in every hour of the 168-hour baseline and one in the current hour: flat,
    // so spike 0. NVDA: nothing before, 4 mentions in the current hour: spike 4 (std 0).
    // TSLA: baseline alternating 0/2 (mean 1, std 1), 4 in the current hour: spike 3.
    for h in 1..=168 {
        let at = until - Duration::hours(h) - Duration::minutes(30);
        posts.push(post(&format!("aapl{h}"), &format!("u{}", h % 5), at, 0.4));
        symbols.push(&["AAPL"]);
        if h % 2 == 0 {
            for k in 0..2 {
                posts.push(post(&format!("tsla{h}_{k}"), "tsla_fan", at, -0.4));
                symbols.push(&["TSLA"]);
            }
        }
    }
    let now = until - Duration::minutes(10);
    posts.push(post("aapl_now", "alice", now, 0.0));
    symbols.push(&["AAPL"]);
    for k in 0..4 {
        posts.push(post(
            &format!("nvda_now{k}"),
            &format!("n{}", k % 3),
            now,
            if k == 0 { -0.6 } else { 0.7 },
        ));
        symbols.push(&["NVDA"]);
        posts.push(post(&format!("tsla_now{k}"), "tsla_fan", now, 0.0));
        symbols.push(&["TSLA"]);
    }
    // Outside the window (at `until`, which is exclusive): ignored.
    posts.push(post("future", "zed", until, 0.9));
    symbols.push(&["NVDA"]);
    save(&storage, &posts, &symbols).await;

    let day = storage.trending(until - Duration::hours(24), until, None).await.unwrap();
    let names: Vec<&str> = day.iter().map(|r| r.symbol.as_str()).collect();
    // Posts sit at h hours and 30 minutes before `until`, so the 24 h window holds h = 1..=23:
    // TSLA 11 * 2 + 4 = 26, AAPL 23 + 1 = 24, NVDA 4.
    assert_eq!(names, vec!["TSLA", "AAPL", "NVDA"]);
    let by = |s: &str| day.iter().find(|r| r.symbol == s).unwrap().clone();
    let (tsla, aapl, nvda) = (by("TSLA"), by("AAPL"), by("NVDA"));
    assert_eq!((tsla.mentions, tsla.unique_authors, tsla.bullish, tsla.bearish), (26, 1, 0, 22));
    assert_eq!((aapl.mentions, aapl.unique_authors, aapl.bullish, aapl.bearish), (24, 6, 23, 0));
    assert_eq!((nvda.mentions, nvda.unique_authors, nvda.bullish, nvda.bearish), (4, 3, 3, 1));
    assert!((nvda.mean_sentiment - (0.7 * 3.0 - 0.6) / 4.0).abs() < 1e-9);
    assert!((nvda.spike_score - 4.0).abs() < 1e-9, "nvda spike {}", nvda.spike_score);
    assert!((tsla.spike_score - 3.0).abs() < 1e-9, "tsla spike {}", tsla.spike_score);
    assert!(aapl.spike_score.abs() < 1e-9, "aapl spike {}", aapl.spike_score);

    let top = storage.trending(until - Duration::hours(24), until, Some(1)).await.unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!(top[0].symbol, "TSLA");
    assert!(
        storage
            .trending(until + Duration::hours(1), until + Duration::hours(2), None)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn check_buckets(storage: Storage) {
    let t = anchor(); // 12:00
    let posts = vec![
        post("a", "alice", t + Duration::minutes(5), 0.5),
        post("b", "bob", t + Duration::minutes(50), -0.5),
        post("c", "alice", t + Duration::minutes(65), 0.0),
        post("d", "dave", t + Duration::days(1), 0.3),
        post("e", "erin", t + Duration::minutes(20), 0.9),
    ];
    save(&storage, &posts, &[&["NVDA"], &["NVDA"], &["NVDA"], &["NVDA"], &["AMD"]]).await;

    let hours = storage.mention_buckets(&sym("NVDA"), MentionBucketSize::Hour, t).await.unwrap();
    assert_eq!(hours.len(), 3);
    assert_eq!(hours[0].start, t);
    assert_eq!(
        (hours[0].mentions, hours[0].unique_authors, hours[0].bullish, hours[0].bearish),
        (2, 2, 1, 1)
    );
    assert!(hours[0].mean_sentiment.abs() < 1e-9);
    assert_eq!(hours[1].start, t + Duration::hours(1));
    assert_eq!(hours[2].start, t + Duration::days(1));

    let days =
        storage.mention_buckets(&sym("NVDA"), MentionBucketSize::Day, t - Duration::days(2)).await.unwrap();
    let midnight = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    assert_eq!(
        days.iter().map(|b| (b.start, b.mentions)).collect::<Vec<_>>(),
        vec![(midnight, 3), (midnight + Duration::days(1), 1)]
    );
    assert_eq!(days[0].unique_authors, 2);

    let late =
        storage.mention_buckets(&sym("NVDA"), MentionBucketSize::Hour, t + Duration::hours(2)).await.unwrap();
    assert_eq!(late.len(), 1);
}

async fn check_non_finite_sentiment_is_refused(storage: Storage) {
    let good = post("ok", "alice", anchor(), 0.1);
    let bad = post("bad", "bob", anchor(), f64::NAN);
    assert!(storage.save_social_posts(&[good.clone(), bad], &[mention(&good, "NVDA")]).await.is_err());
    assert!(storage.mentions(None, anchor() - Duration::days(1), None).await.unwrap().is_empty());
}

//! A small, bounded cache of serialized `GET …/bars` responses.
//!
//! Why it exists: reading a year of daily bars through sqlx's SQLite driver costs about 2 µs per
//! row (each row crosses from the driver's worker thread), so one response takes ~0.5 ms of CPU
//! and a 2-core machine tops out near 2,000 responses/s; the target is 20,000. Serving the same
//! bytes again for a moment costs a hash lookup and a reference-count increment.
//!
//! Why it is safe to be stale for a moment: entries live [`TTL`] (one second). Bars change when a
//! job or the CLI stores new ones, at most once a minute even for intraday data, so a reader sees
//! new bars at most a second later than without the cache — and this holds for writes from other
//! processes too, which an in-process invalidation signal would miss.
//!
//! Why memory stays flat: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes in total;
//! responses larger than [`MAX_ENTRY_BYTES`] are not cached. Expired entries are dropped on every
//! insert, and when the cache is still full the oldest entries go first.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{Interval, Symbol};

/// How long an entry is served.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// Most entries held.
pub(crate) const MAX_ENTRIES: usize = 256;
/// Most bytes held across entries (bodies only; keys and bookkeeping are a few dozen bytes each).
pub(crate) const MAX_BYTES: usize = 8 * 1024 * 1024;
/// Larger responses (years of intraday bars) are not cached: they are rare and would evict many
/// small ones.
pub(crate) const MAX_ENTRY_BYTES: usize = 512 * 1024;

/// What identifies a bars response: every input of the query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BarsKey {
    pub(crate) symbol: Symbol,
    pub(crate) interval: Interval,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
    pub(crate) limit: u64,
}

struct Entry {
    body: Bytes,
    stored_at: Instant,
}

#[derive(Default)]
struct Entries {
    map: HashMap<BarsKey, Entry>,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &BarsKey) {
        if let Some(entry) = self.map.remove(key) {
            self.bytes -= entry.body.len();
        }
    }
}

/// The cache; one per [`crate::AppState`], shared by its clones.
#[derive(Default)]
pub(crate) struct BarsCache {
    entries: Mutex<Entries>,
}

impl BarsCache {
    /// The body stored under `key`, if it is younger than [`TTL`].
    pub(crate) fn get(&self, key: &BarsKey) -> Option<Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.map.get(key)?;
        if entry.stored_at.elapsed() < TTL {
            return Some(entry.body.clone());
        }
        entries.remove(key);
        None
    }

    /// Stores `body` under `key`, evicting expired then oldest entries to stay within bounds.
    pub(crate) fn insert(&self, key: BarsKey, body: Bytes) {
        if body.len() > MAX_ENTRY_BYTES {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&key);
        let now = Instant::now();
        if entries.map.len() >= MAX_ENTRIES || entries.bytes + body.len() > MAX_BYTES {
            let before = entries.map.len();
            entries.map.retain(|_, entry| now.duration_since(entry.stored_at) < TTL);
            if entries.map.len() != before {
                entries.bytes = entries.map.values().map(|entry| entry.body.len()).sum();
            }
        }
        while entries.map.len() >= MAX_ENTRIES || entries.bytes + body.len() > MAX_BYTES {
            let Some(oldest) =
                entries.map.iter().min_by_key(|(_, entry)| entry.stored_at).map(|(key, _)| key.clone())
            else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.bytes += body.len();
        entries.map.insert(key, Entry { body, stored_at: now });
    }

    /// Entries and bytes held, for tests.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        (entries.map.len(), entries.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> BarsKey {
        BarsKey {
            symbol: Symbol::parse("AAPL").unwrap(),
            interval: Interval::Day1,
            from: None,
            to: None,
            limit: n,
        }
    }

    #[test]
    fn serves_fresh_entries() {
        let cache = BarsCache::default();
        assert!(cache.get(&key(1)).is_none());
        cache.insert(key(1), Bytes::from_static(b"one"));
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"one"[..]));
        assert!(cache.get(&key(2)).is_none());
        cache.insert(key(1), Bytes::from_static(b"uno"));
        assert_eq!(cache.get(&key(1)).as_deref(), Some(&b"uno"[..]));
        assert_eq!(cache.usage(), (1, 3));
    }

    #[test]
    fn stays_within_its_bounds() {
        let cache = BarsCache::default();
        for n in 0..(MAX_ENTRIES as u64 * 3) {
            cache.insert(key(n), Bytes::from(vec![0_u8; 100]));
        }
        assert_eq!(cache.usage(), (MAX_ENTRIES, MAX_ENTRIES * 100));
        // The newest survive.
        assert!(cache.get(&key(MAX_ENTRIES as u64 * 3 - 1)).is_some());

        let big = MAX_ENTRY_BYTES;
        for n in 0..(MAX_BYTES / big * 2) as u64 {
            cache.insert(key(10_000 + n), Bytes::from(vec![0_u8; big]));
        }
        assert!(cache.usage().1 <= MAX_BYTES);
        cache.insert(key(99_999), Bytes::from(vec![0_u8; MAX_ENTRY_BYTES + 1]));
        assert!(cache.get(&key(99_999)).is_none(), "oversized responses are not cached");
    }
}

//! A small, bounded cache of serialized `GET …/bars` responses.
//!
//! Why it exists: a response read from the database costs CPU for every bar (through the read
//! pool, `Storage::visit_bars`, about 0.2 ms for a year of daily bars), while serving the same bytes
//! again for a moment costs a hash lookup and a reference-count increment. Dashboards that poll
//! the same few charts get the latter.
//!
//! Why it is safe to be stale for a moment: entries live `server.bars_cache_ttl_ms` ([`DEFAULT_TTL`],
//! one second, by default; 0 turns the cache off). Bars change when a job or the CLI stores new
//! ones, at most once a minute even for intraday data, so a reader sees new bars at most a TTL
//! later than without the cache — and this holds for writes from other processes too, which an
//! in-process invalidation signal would miss.
//!
//! Why memory stays flat: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes in total;
//! responses larger than [`MAX_ENTRY_BYTES`] are not cached. Expired entries are dropped on every
//! insert, and when the cache is still full the oldest entries go first.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::{Interval, Symbol};

/// How long an entry is served unless `server.bars_cache_ttl_ms` says otherwise.
pub(crate) const DEFAULT_TTL: Duration = Duration::from_secs(1);
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
    /// Set when one request has started to rebuild this expired entry; until it is done (or
    /// gives up for a TTL) other requests get the expired body instead of piling onto the
    /// database at the same moment.
    refresh_started: Option<Instant>,
}

/// What [`BarsCache::lookup`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Younger than the TTL.
    Fresh(Bytes),
    /// Expired, but another request is rebuilding it right now; at most two TTLs old.
    Stale(Bytes),
    /// Not usable: the caller builds the response and inserts it.
    Miss,
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
pub(crate) struct BarsCache {
    /// Zero: the cache is off.
    ttl: Duration,
    entries: Mutex<Entries>,
}

impl Default for BarsCache {
    fn default() -> Self {
        Self::new(DEFAULT_TTL)
    }
}

impl BarsCache {
    /// A cache whose entries are served for `ttl`; a zero `ttl` turns it off (every lookup
    /// misses, nothing is stored).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(Entries::default()) }
    }

    /// False when the TTL is zero: callers can skip building keys.
    pub(crate) fn is_enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Looks `key` up. When an entry has just expired, the first caller gets [`Lookup::Miss`]
    /// and rebuilds it while the others keep getting the expired body ([`Lookup::Stale`]), so the
    /// end of a TTL costs one database read, not one per concurrent request (that burst was the
    /// p99 under load). Nothing older than two TTLs is ever served.
    pub(crate) fn lookup(&self, key: &BarsKey) -> Lookup {
        if !self.is_enabled() {
            return Lookup::Miss;
        }
        let ttl = self.ttl;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = entries.map.get_mut(key) else { return Lookup::Miss };
        let age = entry.stored_at.elapsed();
        if age < ttl {
            return Lookup::Fresh(entry.body.clone());
        }
        if age < 2 * ttl {
            match entry.refresh_started {
                Some(started) if started.elapsed() < ttl => return Lookup::Stale(entry.body.clone()),
                _ => {
                    entry.refresh_started = Some(Instant::now());
                    return Lookup::Miss;
                }
            }
        }
        entries.remove(key);
        Lookup::Miss
    }

    /// The body stored under `key`, if it is younger than the TTL.
    #[cfg(test)]
    fn get(&self, key: &BarsKey) -> Option<Bytes> {
        match self.lookup(key) {
            Lookup::Fresh(body) => Some(body),
            Lookup::Stale(_) | Lookup::Miss => None,
        }
    }

    /// Stores `body` under `key`, evicting expired then oldest entries to stay within bounds.
    pub(crate) fn insert(&self, key: BarsKey, body: Bytes) {
        if body.len() > MAX_ENTRY_BYTES || !self.is_enabled() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&key);
        let now = Instant::now();
        if entries.map.len() >= MAX_ENTRIES || entries.bytes + body.len() > MAX_BYTES {
            let before = entries.map.len();
            entries.map.retain(|_, entry| now.duration_since(entry.stored_at) < self.ttl);
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
        entries.map.insert(key, Entry { body, stored_at: now, refresh_started: None });
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
    fn one_request_refreshes_an_expired_entry_while_others_get_it_stale() {
        let cache = BarsCache::default();
        cache.insert(key(1), Bytes::from_static(b"old"));
        {
            let mut entries = cache.entries.lock().unwrap();
            entries.map.get_mut(&key(1)).unwrap().stored_at -= DEFAULT_TTL + Duration::from_millis(10);
        }
        assert_eq!(cache.lookup(&key(1)), Lookup::Miss, "the first caller refreshes");
        assert_eq!(cache.lookup(&key(1)), Lookup::Stale(Bytes::from_static(b"old")));
        cache.insert(key(1), Bytes::from_static(b"new"));
        assert_eq!(cache.lookup(&key(1)), Lookup::Fresh(Bytes::from_static(b"new")));
        // Too old to serve even while refreshing.
        {
            let mut entries = cache.entries.lock().unwrap();
            entries.map.get_mut(&key(1)).unwrap().stored_at -= 3 * DEFAULT_TTL;
        }
        assert_eq!(cache.lookup(&key(1)), Lookup::Miss);
        assert_eq!(cache.lookup(&key(1)), Lookup::Miss);
    }

    #[test]
    fn a_zero_ttl_turns_it_off_and_a_ttl_is_honoured() {
        let off = BarsCache::new(Duration::ZERO);
        assert!(!off.is_enabled());
        off.insert(key(1), Bytes::from_static(b"one"));
        assert_eq!(off.lookup(&key(1)), Lookup::Miss);
        assert_eq!(off.usage(), (0, 0));

        let short = BarsCache::new(Duration::from_millis(50));
        short.insert(key(1), Bytes::from_static(b"one"));
        assert!(short.get(&key(1)).is_some());
        {
            let mut entries = short.entries.lock().unwrap();
            entries.map.get_mut(&key(1)).unwrap().stored_at -= Duration::from_millis(60);
        }
        assert!(short.get(&key(1)).is_none(), "older than its 50 ms TTL");
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

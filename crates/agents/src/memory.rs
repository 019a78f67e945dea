//! Agent memory, bounded by construction.
//!
//! The system this replaces gave every run a memory store that grew without bound. Here memory is
//! off unless a crew asks for it; the short-term store lives inside one run (capacity in entries
//! and bytes, oldest evicted) and is dropped with it; long-term memory is whatever
//! [`LongTermMemory`] the caller provides (ours lives in the database with a size cap and a TTL).

use std::collections::VecDeque;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Whether and how much a crew remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Short-term memory across the tasks of one run: task results are kept and shown to later
    /// tasks that do not already get them as context.
    pub enabled: bool,
    pub max_entries: usize,
    pub max_bytes: usize,
    /// Also recall notes of earlier runs (same crew and subject) and store this run's result.
    pub long_term: bool,
    /// How many long-term entries a run recalls.
    pub recall_limit: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self { enabled: false, max_entries: 16, max_bytes: 32 * 1024, long_term: false, recall_limit: 3 }
    }
}

/// One remembered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEntry {
    /// Where it came from: a task name, or `long-term`.
    pub source: String,
    pub text: String,
}

/// The run-scoped store: a ring buffer bounded in entries and bytes.
#[derive(Debug)]
pub struct RunMemory {
    entries: VecDeque<MemoryEntry>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
    evicted: u64,
}

impl RunMemory {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self { entries: VecDeque::new(), bytes: 0, max_entries, max_bytes, evicted: 0 }
    }

    /// Stores an entry (cut to `max_bytes` on a character boundary), evicting the oldest entries
    /// until both caps hold.
    pub fn remember(&mut self, source: impl Into<String>, text: &str) {
        if self.max_entries == 0 || self.max_bytes == 0 {
            return;
        }
        let text = crate::text::truncate(text, self.max_bytes).into_owned();
        self.bytes += text.len();
        self.entries.push_back(MemoryEntry { source: source.into(), text });
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(oldest) = self.entries.pop_front() else { break };
            self.bytes -= oldest.text.len();
            self.evicted += 1;
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = &MemoryEntry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries dropped to keep the caps.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// Memory that outlives a run. Implementations own their bound (size cap, TTL); errors are text
/// because a memory failure degrades a run, it does not fail it.
#[async_trait]
pub trait LongTermMemory: Send + Sync {
    async fn recall(&self, scope: &str, limit: usize) -> Result<Vec<String>, String>;
    async fn remember(&self, scope: &str, content: &str) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_beyond_entry_cap() {
        let mut memory = RunMemory::new(2, 1024);
        memory.remember("a", "one");
        memory.remember("b", "two");
        memory.remember("c", "three");
        let sources: Vec<_> = memory.entries().map(|e| e.source.as_str()).collect();
        assert_eq!(sources, ["b", "c"]);
        assert_eq!(memory.evicted(), 1);
        assert_eq!(memory.bytes(), "twothree".len());
    }

    #[test]
    fn evicts_oldest_beyond_byte_cap_and_cuts_oversized_entries() {
        let mut memory = RunMemory::new(10, 8);
        memory.remember("a", "12345");
        memory.remember("b", "6789");
        assert_eq!(memory.entries().map(|e| e.source.as_str()).collect::<Vec<_>>(), ["b"]);
        memory.remember("c", "an entry longer than the whole store");
        assert_eq!(memory.len(), 1);
        assert!(memory.bytes() <= 8);
    }

    #[test]
    fn zero_capacity_keeps_nothing() {
        let mut memory = RunMemory::new(0, 100);
        memory.remember("a", "x");
        assert!(memory.is_empty());
    }
}

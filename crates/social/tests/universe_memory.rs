//! The bundled symbol universe (11,500 symbols, their names, aliases and word lists) must add less
//! than 10 MB to the resident set: every scanning process holds one. A test binary of its own, so
//! no other test allocates while it measures.

use social::extract::SymbolUniverse;

/// Resident set size in KiB from `/proc/self/status` (Linux; `None` elsewhere).
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn the_bundled_universe_adds_less_than_10_mb_to_rss() {
    let before = resident_kib();
    let universe = SymbolUniverse::bundled();
    let after = resident_kib();
    let (Some(before), Some(after)) = (before, after) else {
        println!("note: no /proc/self/status here; RSS not measured");
        return;
    };
    let added_mb = after.saturating_sub(before) as f64 / 1024.0;
    println!("bundled universe: {} symbols, RSS +{added_mb:.1} MB", universe.len());
    assert!(universe.len() >= 8000, "{}", universe.len());
    assert!(added_mb < 10.0, "the universe adds {added_mb:.1} MB");
}

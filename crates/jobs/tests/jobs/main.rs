//! The jobs crate's integration tests, built into one binary (one link of the heavy dependency
//! tree instead of one per file). Every test gets its own SQLite file and export directory in a
//! temporary directory; vendors are the offline `sample` provider or a wiremock Yahoo.

mod analysis;
mod claims;
mod config;
mod download_tracker;
mod engine;
mod exports;
mod helpers;
mod ingest;
mod lanes;
mod monitor;
mod monitor_script;
mod ownership;
mod reddit_scan;
mod s3;

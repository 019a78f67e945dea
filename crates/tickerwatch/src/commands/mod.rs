//! One module per CLI command.

pub mod alerts;
pub mod analyze;
pub mod bars;
pub mod bench;
pub mod bench_cluster;
pub mod export;
pub mod fetch;
pub mod jobs;
pub mod news;
pub mod providers;
pub mod quote;
pub mod serve;
pub mod soak;
pub mod social;
pub mod token;
pub mod universe;
pub mod watchlist;

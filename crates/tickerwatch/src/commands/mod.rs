//! One module per CLI command.

pub mod bars;
pub mod bench;
pub mod fetch;
pub mod quote;
pub mod watchlist;

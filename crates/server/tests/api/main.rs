//! API tests: the real router over a real SQLite file, the real job engine running the real
//! download-tracker over the offline `sample` provider, and the real export service on a temp
//! dir. Most tests drive the router with `oneshot`; one serves it over TCP on port 0.
//!
//! One test binary (one link, one process) with a module per resource; `helpers` builds the app.

mod alert_stream;
mod alerts;
mod analysis;
mod auth;
mod connections;
mod exports;
mod helpers;
mod jobs;
mod ops;
mod providers;
mod s3;
mod social;
mod spec;
mod symbols;
mod ui;
mod watchlist;

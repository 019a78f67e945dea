//! One module per resource. Each handler carries `#[utoipa::path]`, and [`crate::router`]
//! registers it with `utoipa_axum::routes!`, so a route cannot exist without its spec entry.

pub(crate) mod alert_stream;
pub(crate) mod alerts;
pub(crate) mod analysis;
mod bars_json;
pub(crate) mod exports;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod providers;
pub(crate) mod social;
pub(crate) mod symbols;
pub(crate) mod watchlist;

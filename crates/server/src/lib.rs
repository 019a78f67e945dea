//! The HTTP API of tickerwatch: axum routes over `storage`, the job engine, the export service
//! and the provider chain, with bearer-token auth, Prometheus metrics and an OpenAPI 3 spec.
//!
//! Entry points: [`router`] builds the whole app (tests drive it with `oneshot`), [`Server`]
//! binds a listener and serves it until a shutdown future completes.
//!
//! Design decisions, and why:
//! - **The spec is generated from the routes.** Every handler has a `#[utoipa::path]`, and routes
//!   are registered through `utoipa_axum::routes!`, which adds the handler to the router and its
//!   operation to the document in one step; a route without a spec entry cannot be written.
//! - **One error shape everywhere.** Handlers return [`ApiError`]; extractors are wrapped
//!   ([`ApiJson`], [`ApiQuery`], [`ApiPath`]) so axum's rejections use it too; and a middleware
//!   rewrites what other layers produce (404, 405, 408, 413, a caught panic) into it. Internal
//!   errors show a generic message and their cause is logged once, inside the request's span.
//! - **The hot path reads like the export does.** `GET /api/symbols/{symbol}/bars` asks
//!   `Storage::visit_bars`, which on a SQLite file runs the query on one of a few reader threads,
//!   each with its read-only rusqlite connection, and writes each row as JSON straight into one
//!   buffer (`routes/bars_json.rs`: no `Vec<Bar>`, no allocation per bar); sqlx's driver, at
//!   ~2 µs a row, capped this route near 1,000 uncached responses/s. The bytes are kept for a moment in a bounded cache
//!   (`cache.rs`; `server.bars_cache_ttl_ms`, 0 turns it off). Handlers extract only the state
//!   they use (a pool handle), not a clone of the whole [`AppState`].
//! - **Nothing unbounded.** Request bodies are capped, handlers time out, list endpoints cap
//!   `limit`, metric labels use route templates. Connections are capped (`max_connections`;
//!   more wait in the listen backlog), a request head must arrive within
//!   `header_read_timeout_secs` and an idle kept-alive connection closes after
//!   `idle_timeout_secs`, so silent clients cannot pile up file descriptors. The drain at
//!   shutdown has a deadline, after which open connections are dropped; every task the server
//!   starts (one per connection, metrics upkeep) is joined when it stops.
//! - **The spec is the contract, both ways.** A parameter's schema (range, pattern, format, enum)
//!   and its check are built from the same constants (`params.rs`); the server accepts exactly
//!   what the spec allows (a `limit` past its maximum is a 400, not clamped; whitespace around a
//!   symbol is refused, not trimmed) and every status a handler can answer is documented with
//!   the body it sends. `tests/api/spec.rs` and `scripts/schemathesis.sh` hold it to that.
//! - **This crate only knows JSON shapes.** Response types are DTOs defined here (`ToSchema`);
//!   domain and storage types never get serde or utoipa attributes for the API's sake.

mod auth;
mod cache;
mod config;
mod connection;
mod error;
mod extract;
pub mod metrics;
mod middleware;
mod openapi;
mod params;
mod routes;
mod server;
mod session;
mod state;
mod ui;

use axum::Router;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{TOKEN_PREFIX, generate_token, hash_token};
pub use config::{ApiToken, AuthConfig, ServerConfig};
pub use error::{ApiError, ErrorDetail, ErrorResponse};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use openapi::{DOCS_PATH, SPEC_PATH};
pub use routes::providers::{Budget, ProviderFailure, ProviderHealth, provider_health};
pub use server::{BoundListener, Server, ServerError, Surface};
pub use state::AppState;

/// What a worker instance serves: `/healthz`, `/readyz` and `/metrics` only (it runs jobs; the
/// API and the pages are the API instances'), inside the same middleware stack.
pub fn ops_router(state: AppState) -> Router {
    let (app, _spec) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
        .routes(routes!(routes::health::metrics))
        .split_for_parts();
    let config = std::sync::Arc::clone(&state.config);
    middleware::apply(app.with_state(state), &config)
}

/// The whole application: `/api` routes (behind the auth check), `/healthz`, `/readyz`,
/// `/metrics`, the spec at [`SPEC_PATH`], the docs UI at [`DOCS_PATH`] and the web UI's pages
/// (`/`, `/symbols/{symbol}`), all inside the
/// middleware stack (request id, tracing, metrics, error format, panic catcher, CORS, body limit,
/// timeout).
pub fn router(state: AppState) -> Router {
    let auth = auth::AuthState::new(&state);
    let (app, spec) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::watchlist::list, routes::watchlist::add))
        .routes(routes!(routes::watchlist::remove))
        .routes(routes!(routes::symbols::bars))
        .routes(routes!(routes::symbols::quote))
        .routes(routes!(routes::symbols::indicators))
        .routes(routes!(routes::symbols::disagreements))
        .routes(routes!(routes::symbols::news))
        .routes(routes!(routes::symbols::profile))
        .routes(routes!(routes::jobs::list))
        .routes(routes!(routes::jobs::trigger))
        .routes(routes!(routes::jobs::runs))
        .routes(routes!(routes::jobs::run))
        .routes(routes!(routes::exports::list))
        .routes(routes!(routes::exports::get, routes::exports::delete))
        .routes(routes!(routes::exports::download))
        .routes(routes!(routes::social::mentions))
        .routes(routes!(routes::social::trending))
        .routes(routes!(routes::social::buckets))
        .routes(routes!(routes::social::analyze))
        .routes(routes!(routes::analysis::analyze, routes::analysis::notes))
        .routes(routes!(routes::analysis::crew_run))
        .routes(routes!(routes::alerts::list_rules, routes::alerts::create_rule))
        .routes(routes!(routes::alerts::get_rule, routes::alerts::update_rule, routes::alerts::delete_rule))
        .routes(routes!(routes::alerts::list_alerts))
        .routes(routes!(routes::alerts::acknowledge))
        .routes(routes!(routes::providers::list))
        .routes(routes!(routes::alert_stream::stream))
        .routes(routes!(routes::alerts::deliveries))
        // Everything registered so far is the API proper and needs the token check.
        .route_layer(axum::middleware::from_fn_with_state(auth, auth::require_token))
        .routes(routes!(routes::health::healthz))
        .routes(routes!(routes::health::readyz))
        .routes(routes!(routes::health::metrics))
        .split_for_parts();
    let config = std::sync::Arc::clone(&state.config);
    let app = app.merge(openapi::docs_router(spec)).merge(ui::routes()).with_state(state);
    middleware::apply(app, &config)
}

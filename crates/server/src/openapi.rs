//! The OpenAPI 3 document and the docs UI.
//!
//! The document is generated from the handlers' `#[utoipa::path]` attributes as they are
//! registered (see [`crate::router`]), so it cannot drift from the routes. The UI is Swagger UI
//! from `utoipa-swagger-ui` with its `vendored` feature: its files are compiled into the binary,
//! nothing is fetched at build or run time.

use axum::Router;
use utoipa::openapi::OpenApi as OpenApiDoc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;

/// Where the spec is served.
pub const SPEC_PATH: &str = "/api/openapi.json";
/// Where the docs UI is served.
pub const DOCS_PATH: &str = "/api/docs";

/// The document's fixed parts; paths and schemas are added as routes are registered.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "tickerwatch",
        description = "Self-hosted stock-market data: watchlist, stored bars, quotes, indicators, jobs, exports, social mentions and AI research notes.\n\n\
            Errors are always `{\"error\": {\"code\", \"message\"}}`. Mutating requests need \
            `Authorization: Bearer <token>`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "symbols", description = "Stored market data per symbol"),
        (name = "watchlist", description = "The symbols the download-tracker job refreshes"),
        (name = "jobs", description = "Background jobs and their runs"),
        (name = "exports", description = "Export files written by jobs"),
        (name = "social", description = "Ticker mentions in social posts and trending symbols"),
        (name = "analysis", description = "Research notes written by the agent crew, and its runs' traces"),
        (name = "alerts", description = "The stock monitor: alert rules and the alerts they fired"),
        (name = "ops", description = "Health, readiness and metrics"),
    )
)]
pub(crate) struct ApiDoc;

/// Declares the `bearer` security scheme the mutating endpoints refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Routes serving `spec` at [`SPEC_PATH`] and the UI at [`DOCS_PATH`].
pub(crate) fn docs_router(spec: OpenApiDoc) -> Router<AppState> {
    SwaggerUi::new(DOCS_PATH).url(SPEC_PATH, spec).into()
}

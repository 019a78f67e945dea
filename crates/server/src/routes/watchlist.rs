//! The watchlist: the symbols the download-tracker job refreshes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use storage::Storage;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiJson, ApiPath};
use crate::params;
use crate::routes::symbols::SymbolPath;

/// A watched symbol.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WatchlistItem {
    #[schema(example = "AAPL")]
    symbol: String,
    /// When it was put on the watchlist.
    added_at: DateTime<Utc>,
}

/// The body of `POST /api/watchlist`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddSymbol {
    /// Case-insensitive; stored upper-case.
    #[schema(schema_with = params::symbol_schema)]
    symbol: String,
}

/// What `POST /api/watchlist` did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Added {
    symbol: String,
    /// False when the symbol was already on the watchlist.
    added: bool,
}

/// The watchlist, sorted by symbol.
#[utoipa::path(
    get,
    path = "/api/watchlist",
    operation_id = "list_watchlist",
    tag = "watchlist",
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<WatchlistItem>),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list(State(storage): State<Storage>) -> Result<Json<Vec<WatchlistItem>>, ApiError> {
    let entries = storage.watchlist().await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|entry| WatchlistItem { symbol: entry.symbol.into(), added_at: entry.added_at })
            .collect(),
    ))
}

/// Puts a symbol on the watchlist: 201 when added, 200 when it was already there.
#[utoipa::path(
    post,
    path = "/api/watchlist",
    operation_id = "add_to_watchlist",
    tag = "watchlist",
    request_body = AddSymbol,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = Added),
        (status = 200, description = "Already on the watchlist", body = Added),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 413, description = "Body over `server.request_body_limit_bytes` (`payload_too_large`)", body = ErrorResponse),
        (status = 415, description = "Body without `Content-Type: application/json` (`unsupported_media_type`)", body = ErrorResponse),
        (status = 422, description = "Body that is not JSON or not this shape (`invalid_json`)", body = ErrorResponse),
    )
)]
pub(crate) async fn add(
    State(storage): State<Storage>,
    ApiJson(body): ApiJson<AddSymbol>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let symbol = params::symbol(&body.symbol, "body")?;
    let added = storage.add_to_watchlist(&symbol).await?;
    let status = if added { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Added { symbol: symbol.into(), added })))
}

/// Takes a symbol off the watchlist (its stored data is kept).
#[utoipa::path(
    delete,
    path = "/api/watchlist/{symbol}",
    operation_id = "remove_from_watchlist",
    tag = "watchlist",
    params(SymbolPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "Not on the watchlist (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn remove(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<SymbolPath>,
) -> Result<StatusCode, ApiError> {
    let symbol = path.parse()?;
    if storage.remove_from_watchlist(&symbol).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("{symbol} is not on the watchlist")))
    }
}

//! The watchlist: the symbols the download-tracker job refreshes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use storage::Storage;
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiJson, ApiPath, parse_symbol};

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
    #[schema(example = "AAPL")]
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
    responses((status = 200, body = Vec<WatchlistItem>))
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
        (status = 400, description = "Invalid symbol", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 422, description = "Malformed JSON body", body = ErrorResponse),
    )
)]
pub(crate) async fn add(
    State(storage): State<Storage>,
    ApiJson(body): ApiJson<AddSymbol>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let symbol =
        domain::Symbol::parse(&body.symbol).map_err(|error| ApiError::InvalidSymbol(error.to_string()))?;
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
    params(("symbol" = String, Path, description = "Ticker symbol", example = "AAPL")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid symbol", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 404, description = "Not on the watchlist", body = ErrorResponse),
    )
)]
pub(crate) async fn remove(
    State(storage): State<Storage>,
    ApiPath(symbol): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let symbol = parse_symbol(&symbol)?;
    if storage.remove_from_watchlist(&symbol).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("{symbol} is not on the watchlist")))
    }
}

//! Extractors that wrap axum's own so their rejections come out in our error format (axum's
//! answer plain text). Parameters are parsed into domain types by `params`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// `axum::Json` for request bodies: a body that is not JSON or not the expected shape is a 422
/// `invalid_json`, an oversized one a 413, a missing content type a 415, all in our format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = request.extensions().get::<BodyLimit>().map(|limit| limit.0);
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection, limit)),
        }
    }
}

/// Parses a body taken as a JSON value into `T` after checking that every field named in
/// `tags` is a string wherever it occurs. Why: serde's internally tagged enums (`{"kind":
/// "price", …}`) also accept the variant's *index* as the tag (`{"kind": 0, …}`), which the spec
/// (an enum of strings) does not allow; refusing it keeps the server as strict as its spec.
///
/// # Errors
/// [`ApiError::InvalidJson`] naming the field, or saying why the body is not a `T`.
pub(crate) fn tagged_body<T: DeserializeOwned>(
    value: serde_json::Value,
    tags: &[&str],
) -> Result<T, ApiError> {
    fn check(value: &serde_json::Value, tags: &[&str], path: &str) -> Result<(), ApiError> {
        match value {
            serde_json::Value::Object(map) => {
                for (key, field) in map {
                    let at = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    if tags.contains(&key.as_str()) && !field.is_string() {
                        return Err(ApiError::InvalidJson(format!("{at}: expected a string, got {field}")));
                    }
                    check(field, tags, &at)?;
                }
                Ok(())
            }
            serde_json::Value::Array(items) => {
                items.iter().enumerate().try_for_each(|(i, item)| check(item, tags, &format!("{path}[{i}]")))
            }
            _ => Ok(()),
        }
    }
    check(&value, tags, "")?;
    serde_json::from_value(value).map_err(|error| {
        ApiError::InvalidJson(format!("Failed to deserialize the JSON body into the target type: {error}"))
    })
}

/// The configured body limit, put in the request extensions by [`crate::middleware`] so a 413
/// can say what the limit is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

fn json_rejection(rejection: &JsonRejection, limit: Option<usize>) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
            "expected a request body with Content-Type: application/json".to_owned(),
        ),
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit },
        JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
            ApiError::InvalidJson(rejection.body_text())
        }
        _ if rejection.status().is_server_error() => {
            ApiError::internal(std::io::Error::other(rejection.body_text()))
        }
        _ => ApiError::InvalidJson(rejection.body_text()),
    }
}

/// `axum::extract::Query` with a 400 `bad_request` in our format on a bad parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

/// `axum::extract::Path` with a 400 `bad_request` in our format on a segment that does not parse
/// (e.g. a non-numeric id).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

fn path_rejection(rejection: &PathRejection) -> ApiError {
    if rejection.status().is_server_error() {
        ApiError::internal(std::io::Error::other(rejection.body_text()))
    } else {
        ApiError::BadRequest(rejection.body_text())
    }
}

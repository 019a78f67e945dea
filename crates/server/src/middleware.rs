//! The middleware stack every route runs in, and the error normaliser.
//!
//! Order (outermost first, as `ServiceBuilder` runs them): request id → trace span (with the
//! matched route and the request id) → request-id echo → metrics → error normaliser/logger →
//! panic catcher → CORS → body-size limit → timeout → the route (and, on `/api`, the auth
//! check). The stack is applied with `Router::layer`, i.e. after routing, so the metrics and the
//! span see the matched route template.

use std::any::Any;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::ServerConfig;
use crate::error::{ApiError, ErrorCause, RenderedError, error_response};
use crate::extract::BodyLimit;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps every route of `router` in the stack described in the module doc.
pub(crate) fn apply(router: Router, config: &ServerConfig) -> Router {
    let limit = config.request_body_limit_bytes;
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                // Failures are logged once, with their cause, by `normalise_errors`.
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(middleware::from_fn(crate::metrics::record_http))
        .layer(middleware::from_fn_with_state(BodyLimit(limit), normalise_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors(&config.cors_allowed_origins))
        .layer(axum::Extension(BodyLimit(limit)))
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout()));
    router.layer(stack)
}

/// The request's span: method, matched route template (not the raw path, which may carry
/// anything a client sends) and request id.
fn make_span(request: &Request) -> tracing::Span {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    let request_id = request.headers().get(&REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", method = %request.method(), route, request_id)
}

/// CORS closed unless origins are listed: with an empty list no `Access-Control-Allow-Origin`
/// header is ever sent, so browsers refuse cross-origin calls. Config validation has checked
/// that every origin is a valid header value; an invalid one is skipped here all the same.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|origin| origin.parse().ok()).collect();
    let layer = CorsLayer::new();
    if origins.is_empty() {
        return layer;
    }
    layer
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(3600))
}

/// A caught panic becomes a 500 like any other internal error (its message is logged by
/// [`normalise_errors`], not shown).
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_owned());
    ApiError::internal(std::io::Error::other(format!("handler panicked: {message}"))).into_response()
}

/// Logs the cause of a 500 once, inside the request span, and rewrites any error response not
/// produced by [`ApiError`] (axum's 404 and 405, tower-http's 408 and 413) into our format, so
/// clients see one error shape whatever layer refused them.
async fn normalise_errors(State(limit): State<BodyLimit>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(ErrorCause(cause)) = response.extensions_mut().remove::<ErrorCause>() {
        tracing::error!(error = %cause, "Request failed.");
    }
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<RenderedError>().is_some()
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route".to_owned())
        }
        StatusCode::REQUEST_TIMEOUT => {
            ("request_timeout", "the request took too long and was cancelled".to_owned())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", ApiError::PayloadTooLarge { limit: Some(limit.0) }.to_string())
        }
        StatusCode::UNAUTHORIZED => ("unauthorized", ApiError::Unauthorized.to_string()),
        status if status.is_server_error() => ("internal", "internal error".to_owned()),
        status => ("bad_request", status.canonical_reason().unwrap_or("bad request").to_ascii_lowercase()),
    };
    if status.is_server_error() {
        tracing::error!(%status, "Request failed outside a handler.");
    }
    let mut normalised = error_response(status, code, message, None);
    if let Some(allow) = response.headers().get(header::ALLOW) {
        normalised.headers_mut().insert(header::ALLOW, allow.clone());
    }
    normalised
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn call(router: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let response = router.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    fn app(config: &ServerConfig) -> Router {
        let router = Router::new()
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "done"
                }),
            )
            .route("/panic", get(|| async { panic!("boom") as &'static str }));
        apply(router, config)
    }

    #[tokio::test]
    async fn slow_handlers_time_out_with_408_in_our_format() {
        let config = ServerConfig { request_timeout_secs: 1, ..ServerConfig::default() };
        let (status, body) = call(app(&config), "/slow").await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["error"]["code"], "request_timeout");
    }

    #[tokio::test]
    async fn panics_become_500_without_details() {
        let (status, body) = call(app(&ServerConfig::default()), "/panic").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error");
    }

    #[tokio::test]
    async fn unmatched_paths_are_404_in_our_format() {
        let (status, body) = call(app(&ServerConfig::default()), "/nowhere").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["code"], "not_found");
    }
}

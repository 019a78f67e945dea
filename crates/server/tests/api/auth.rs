//! Bearer tokens: mutations need one, revoked tokens are refused, `protect_reads` closes reads.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;
use server::ServerConfig;

use crate::helpers::{CONFIG_TOKEN, TestApp};

#[tokio::test]
async fn mutations_need_a_valid_token() {
    let app = TestApp::new().await;
    let post = |auth: Option<String>| {
        let mut request = Request::post("/api/jobs/gate/trigger");
        if let Some(auth) = auth {
            request = request.header(header::AUTHORIZATION, auth);
        }
        request.body(Body::empty()).unwrap()
    };
    let response = app.send(post(None)).await;
    response.error(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(response.headers[header::WWW_AUTHENTICATE], "Bearer");
    app.send(post(Some("Bearer tw_not_a_real_token".into())))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.send(post(Some(format!("Basic {}", app.token))))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.send(post(Some(format!("Bearer {CONFIG_TOKEN}")))).await.ok();
    // Reads are open by default.
    app.get("/api/watchlist").await.ok();
    app.gate.add_permits(1);
}

#[tokio::test]
async fn revoked_tokens_are_forbidden() {
    let app = TestApp::new().await;
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "AAPL"}))).await.ok();
    assert!(app.storage.revoke_token("tests").await.unwrap());
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "MSFT"})))
        .await
        .error(StatusCode::FORBIDDEN, "forbidden");
    app.authed(Method::DELETE, "/api/watchlist/AAPL", None).await.error(StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn protect_reads_closes_get_requests() {
    let mut config = ServerConfig::default();
    config.auth.protect_reads = true;
    let app = TestApp::with_config(config).await;
    app.get("/api/watchlist").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.authed(Method::GET, "/api/watchlist", None).await.ok();
    // Probes and docs stay open.
    app.get("/healthz").await.ok();
    app.get("/api/openapi.json").await.ok();
}

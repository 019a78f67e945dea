//! `/api/watchlist`: add, list, remove.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn watchlist_crud() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/api/watchlist").await.ok(), json!([]));

    let response = app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "msft"}))).await;
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.json(), json!({"symbol": "MSFT", "added": true}));
    let again = app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "MSFT"}))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["added"], false);
    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "AAPL"}))).await.ok();

    let list = app.get("/api/watchlist").await.ok();
    let symbols: Vec<&str> = list.as_array().unwrap().iter().map(|e| e["symbol"].as_str().unwrap()).collect();
    assert_eq!(symbols, ["AAPL", "MSFT"]);
    assert!(list[0]["added_at"].as_str().unwrap().contains('T'));

    let deleted = app.authed(Method::DELETE, "/api/watchlist/msft", None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    app.authed(Method::DELETE, "/api/watchlist/MSFT", None).await.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get("/api/watchlist").await.ok().as_array().unwrap().len(), 1);

    app.authed(Method::POST, "/api/watchlist", Some(json!({"symbol": "A;DROP"})))
        .await
        .error(StatusCode::BAD_REQUEST, "invalid_symbol");
}

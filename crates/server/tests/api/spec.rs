//! The spec tells the truth: what `/api/openapi.json` declares about parameters and responses is
//! what the server does. Data-driven over the spec itself, so a new route is covered without a
//! new test; `scripts/schemathesis.sh` fuzzes the same promises from outside.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;

use crate::helpers::TestApp;

/// Every operation of the spec: (method, path template, operation object).
fn operations(spec: &Value) -> Vec<(Method, String, Value)> {
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            operations.push((method, path.clone(), operation.clone()));
        }
    }
    operations
}

/// A valid value of a parameter for the request that probes another one.
fn valid_value(parameter: &Value) -> String {
    let schema = &parameter["schema"];
    if let Some(example) = schema["examples"].get(0).or(parameter.get("example")) {
        return example.as_str().map_or_else(|| example.to_string(), str::to_owned);
    }
    match schema["type"].as_str() {
        Some("integer") => schema["minimum"].as_i64().unwrap_or(1).to_string(),
        _ => "AAPL".to_owned(),
    }
}

/// A request probing one parameter: the URI, and the parameter as a header when it is one.
struct Probe {
    uri: String,
    header: Option<(String, String)>,
}

/// The request of `path` with every path parameter valid, except `probe` set to `value` (a path
/// parameter is substituted, a query parameter appended, a header parameter sent as a header).
fn uri(path: &str, parameters: &[Value], probe: &str, value: &str) -> Probe {
    let mut uri = path.to_owned();
    let mut query = String::new();
    let mut header = None;
    for parameter in parameters {
        let name = parameter["name"].as_str().unwrap();
        let is_path = parameter["in"] == "path";
        if name == probe {
            if is_path {
                uri = uri.replace(&format!("{{{name}}}"), value);
            } else if parameter["in"] == "header" {
                header = Some((name.to_owned(), value.to_owned()));
            } else {
                query = format!("?{name}={value}");
            }
        } else if is_path {
            uri = uri.replace(&format!("{{{name}}}"), &valid_value(parameter));
        }
    }
    Probe { uri: uri + &query, header }
}

async fn call(app: &TestApp, method: &Method, probe: Probe) -> crate::helpers::Response {
    let mut request = Request::builder().method(method.clone()).uri(&probe.uri);
    if method != Method::GET {
        request = request.header(header::AUTHORIZATION, format!("Bearer {}", app.token));
    }
    if let Some((name, value)) = probe.header {
        request = request.header(name, value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

/// Every integer parameter with a declared range (ids, `limit`): one past either bound is a 400
/// that names the parameter; the bounds themselves are not a 400. This is the regression test
/// of `limit=9223372036854775808` (inside `u64`, outside the declared int64) being accepted, and
/// of an export id above `i64::MAX` being an undocumented 400.
#[tokio::test]
async fn integer_parameters_are_accepted_exactly_within_their_declared_range() {
    let app = TestApp::new().await;
    let spec = app.get("/api/openapi.json").await.ok();
    let mut n_checked = 0;
    for (method, path, operation) in operations(&spec) {
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        for parameter in &parameters {
            let schema = &parameter["schema"];
            if schema["type"] != "integer" {
                continue;
            }
            let name = parameter["name"].as_str().unwrap();
            let (Some(min), Some(max)) = (schema["minimum"].as_i64(), schema["maximum"].as_i64()) else {
                panic!("{method} {path}: integer parameter {name} without a declared range: {schema}");
            };
            assert_eq!(schema["format"], "int64", "{method} {path} {name}");
            for outside in [i128::from(min) - 1, i128::from(max) + 1] {
                let response = call(&app, &method, uri(&path, &parameters, name, &outside.to_string())).await;
                let body = response.error(StatusCode::BAD_REQUEST, "bad_request");
                let message = body["error"]["message"].as_str().unwrap();
                assert!(message.contains(name), "{method} {path} {name}={outside}: {message}");
                assert!(
                    operation["responses"]["400"].is_object(),
                    "{method} {path} answers 400 without documenting it"
                );
            }
            for inside in [min, max] {
                let response = call(&app, &method, uri(&path, &parameters, name, &inside.to_string())).await;
                assert_ne!(
                    response.status,
                    StatusCode::BAD_REQUEST,
                    "{method} {path} {name}={inside}: {}",
                    String::from_utf8_lossy(&response.body)
                );
            }
            n_checked += 1;
        }
    }
    // An id in ten operations (runs, exports ×3, crew runs, alert rules ×3, alert ack, alert
    // deliveries), a limit in nine (news included), an alert cursor in two (the stream's
    // `since_id` and `Last-Event-ID`).
    assert_eq!(n_checked, 21);
}

/// A symbol outside `^[.^=-]*[A-Za-z0-9][A-Za-z0-9.^=-]*$` (at most 15 characters) is a 400
/// `invalid_symbol` wherever a symbol is a parameter; one inside is accepted, whatever its case.
#[tokio::test]
async fn symbol_parameters_are_accepted_exactly_as_their_pattern_says() {
    let app = TestApp::new().await;
    let spec = app.get("/api/openapi.json").await.ok();
    let mut n_checked = 0;
    for (method, path, operation) in operations(&spec) {
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        let Some(parameter) = parameters.iter().find(|p| p["name"] == "symbol") else { continue };
        let schema = &parameter["schema"];
        assert!(schema["pattern"].is_string(), "{method} {path}: symbol without a pattern");
        assert_eq!(schema["maxLength"], 15, "{method} {path}");
        // Percent-encoded: a space before, a `;`, no letter or digit, 16 characters.
        for outside in ["%20AAPL", "AAPL%20", "A%3BB", "..-", "ABCDEFGHIJKLMNOP"] {
            let response = call(&app, &method, uri(&path, &parameters, "symbol", outside)).await;
            response.error(StatusCode::BAD_REQUEST, "invalid_symbol");
        }
        // GETs only: a POST would queue an analysis.
        if method == Method::GET {
            for inside in ["aapl", "^GSPC", "EURUSD=X", "BRK.B", "-A"] {
                let response = call(&app, &method, uri(&path, &parameters, "symbol", inside)).await;
                assert_ne!(response.status, StatusCode::BAD_REQUEST, "{method} {path} {inside}");
            }
        }
        n_checked += 1;
    }
    // Watchlist delete, bars, quote, indicators, disagreements, news, profile, mentions, buckets,
    // analysis ×2, alerts, the alert stream.
    assert_eq!(n_checked, 13);
}

/// What every operation documents: a 400 where it has parameters, 401 and 403 under `/api`
/// (always for mutations, with `protect_reads` for reads), 413/415/422 where it takes a JSON body,
/// each with the error body the server really sends.
#[tokio::test]
async fn every_operation_documents_the_errors_it_can_answer() {
    let app = TestApp::new().await;
    let spec = app.get("/api/openapi.json").await.ok();
    let error_body = "#/components/schemas/ErrorResponse";
    for (method, path, operation) in operations(&spec) {
        let responses = &operation["responses"];
        let mut expected = Vec::new();
        if operation["parameters"].as_array().is_some_and(|p| !p.is_empty()) && !path.ends_with("/trigger") {
            expected.push("400");
        }
        if path.starts_with("/api/") {
            expected.extend(["401", "403"]);
        }
        if operation["requestBody"].is_object() {
            expected.extend(["413", "415", "422"]);
        }
        for status in expected {
            let schema = &responses[status]["content"]["application/json"]["schema"]["$ref"];
            assert_eq!(
                schema, error_body,
                "{method} {path}: {status} undocumented or without the error body"
            );
        }
    }
}

/// The download's 200 lists the content type of every export format.
#[tokio::test]
async fn download_documents_every_export_content_type() {
    let app = TestApp::new().await;
    let spec = app.get("/api/openapi.json").await.ok();
    let content = &spec["paths"]["/api/exports/{id}/download"]["get"]["responses"]["200"]["content"];
    for format in export::ExportFormat::ALL {
        let essence = format.content_type().split(';').next().unwrap();
        assert!(content[essence].is_object(), "{essence} missing from {content}");
    }
}

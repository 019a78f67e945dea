//! The stock monitor's rules and the alerts they fired. Rules are evaluated by the `monitor`
//! job and after every download-tracker run (see `jobs::AlertMonitor`); here they are created,
//! changed, paused, re-armed and deleted, and alerts listed and acknowledged.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use domain::Symbol;
use monitor::{Condition, Frequency, Rule};
use serde::{Deserialize, Serialize};
use storage::{Alert, AlertDelivery, AlertRule, Storage, Stored};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorResponse};
use crate::extract::{ApiJson, ApiPath, ApiQuery, tagged_body};
use crate::params::{self, LimitParam};

/// Alerts listed when no `limit` is given, and the most one request may ask for.
const ALERTS_LIMIT: LimitParam = LimitParam { default: 100, max: 1000 };

fn alerts_limit_schema() -> Object {
    ALERTS_LIMIT.schema()
}

/// The tags of the rule's tagged unions (condition and frequency `kind`, cross `line`).
const RULE_TAGS: &[&str] = &["kind", "line"];

/// The frequency of a rule created without one: once per trading day while it holds.
const DEFAULT_FREQUENCY: Frequency = Frequency::OncePerDay;

/// An alert rule.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RuleDto {
    id: i64,
    created_at: DateTime<Utc>,
    /// The symbol watched; `null` for every symbol on the watchlist.
    #[schema(example = "AAPL")]
    symbol: Option<String>,
    name: Option<String>,
    condition: Condition,
    frequency: Frequency,
    /// How far the value must move back past the threshold before the rule can fire again.
    hysteresis: f64,
    expires_at: Option<DateTime<Utc>>,
    paused: bool,
    /// Delivery targets, as given.
    #[schema(value_type = Vec<Object>)]
    targets: Vec<serde_json::Value>,
}

impl From<Stored<AlertRule>> for RuleDto {
    fn from(stored: Stored<AlertRule>) -> Self {
        let Stored { id, created_at, value } = stored;
        Self {
            id,
            created_at,
            symbol: value.symbol.map(String::from),
            name: value.name,
            condition: value.rule.condition,
            frequency: value.rule.frequency,
            hysteresis: value.rule.hysteresis,
            expires_at: value.rule.expires_at,
            paused: value.rule.paused,
            targets: value.targets,
        }
    }
}

/// The body of `POST /api/alerts/rules`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewRuleBody {
    /// The symbol to watch; leave out (not `null`) for every symbol on the watchlist.
    #[schema(schema_with = params::symbol_schema)]
    #[serde(default, deserialize_with = "present_symbol")]
    symbol: Option<String>,
    name: Option<String>,
    condition: Condition,
    /// Default: once per trading day.
    frequency: Option<Frequency>,
    /// Default 0.
    #[schema(minimum = 0)]
    hysteresis: Option<f64>,
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    paused: bool,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    targets: Vec<serde_json::Value>,
}

/// An optional symbol field: absent is none, but `null` is refused, as the spec (a string, not
/// nullable) says.
fn present_symbol<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

/// The body of `PATCH /api/alerts/rules/{id}`: the fields to change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulePatch {
    name: Option<String>,
    condition: Option<Condition>,
    frequency: Option<Frequency>,
    #[schema(minimum = 0)]
    hysteresis: Option<f64>,
    expires_at: Option<DateTime<Utc>>,
    /// Remove the expiry.
    #[serde(default)]
    clear_expiry: bool,
    paused: Option<bool>,
    #[schema(value_type = Option<Vec<Object>>)]
    targets: Option<Vec<serde_json::Value>>,
    /// Arm the rule afresh from today (a `once` rule that fired, or after a change of mind).
    #[serde(default)]
    rearm: bool,
}

/// An alert: one firing of a rule, with the values that made it fire.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertDto {
    id: i64,
    /// The rule; `null` once the rule was deleted.
    rule_id: Option<i64>,
    #[schema(example = "AAPL")]
    symbol: String,
    /// The rule's condition kind, e.g. `price`.
    #[schema(example = "price")]
    kind: String,
    /// The rule's name or description when it fired.
    #[schema(example = "price above 200")]
    rule: String,
    fired_at: DateTime<Utc>,
    /// The trading day of the bar or quote that fired it.
    day: NaiveDate,
    /// The value that crossed.
    observed: f64,
    threshold: f64,
    previous: Option<f64>,
    /// The provider of the bar or quote.
    provider: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
}

impl From<Stored<Alert>> for AlertDto {
    fn from(stored: Stored<Alert>) -> Self {
        let Stored { id, value, .. } = stored;
        Self {
            id,
            rule_id: value.rule_id,
            symbol: value.symbol.into(),
            kind: value.kind,
            rule: value.rule,
            fired_at: value.fired_at,
            day: value.day,
            observed: value.observed,
            threshold: value.threshold,
            previous: value.previous,
            provider: value.provider,
            acknowledged_at: value.acknowledged_at,
        }
    }
}

/// Path of the routes under `/api/alerts/rules/{id}` and `/api/alerts/{id}`. The id is checked
/// while the path is extracted, before a request body is read, so a bad id is a 400 whatever
/// the body.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct IdPath {
    /// Rule or alert id.
    #[param(schema_with = params::id_schema)]
    #[serde(deserialize_with = "checked_id")]
    id: i64,
}

fn checked_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let raw = String::deserialize(deserializer)?;
    params::id(&raw, "id").map_err(|error| serde::de::Error::custom(error.to_string()))
}

/// Query of `GET /api/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlertsParams {
    /// Only alerts fired at or after this date or instant.
    #[param(schema_with = params::since_schema)]
    since: Option<String>,
    /// Only alerts of this symbol.
    #[param(schema_with = params::symbol_schema)]
    symbol: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    #[param(schema_with = alerts_limit_schema)]
    limit: Option<u64>,
}

/// A rule's symbol: well-formed and known (stored bars or on the watchlist), else a 422 naming
/// `symbol`, so a typo does not become a rule that never fires.
async fn known_symbol(storage: &Storage, raw: &str) -> Result<Symbol, ApiError> {
    let symbol = params::symbol(raw, "body")?;
    if storage.is_known_symbol(&symbol).await? {
        Ok(symbol)
    } else {
        Err(ApiError::InvalidRule(format!(
            "symbol: {symbol} has no stored bars and is not on the watchlist; fetch or watch it first"
        )))
    }
}

/// Validates a rule's condition and frequency: 422 naming the field. (A duplicate is refused by
/// storage: 409, see [`rule_error`].)
fn check_rule(rule: &AlertRule) -> Result<(), ApiError> {
    rule.rule.validate().map_err(|e| ApiError::InvalidRule(format!("{}: {}", e.field, e.message)))
}

/// Validates targets as they are saved: shape, and a host written as an IP address against the
/// address policy deliveries run under (a name is checked after DNS at each delivery).
fn check_targets(targets: &[serde_json::Value], policy: &notify::TargetPolicy) -> Result<(), ApiError> {
    for (i, target) in targets.iter().enumerate() {
        notify::Target::from_json(target, policy)
            .map_err(|reason| ApiError::InvalidRule(format!("targets[{i}]: {reason}")))?;
    }
    Ok(())
}

/// A duplicate rule is a 409 naming the rule it duplicates; other storage errors as usual.
fn rule_error(error: storage::StorageError) -> ApiError {
    match error {
        storage::StorageError::DuplicateAlertRule { .. } => {
            ApiError::Conflict { message: error.to_string(), run_id: None }
        }
        other => other.into(),
    }
}

/// Every alert rule, oldest first.
#[utoipa::path(
    get,
    path = "/api/alerts/rules",
    operation_id = "list_alert_rules",
    tag = "alerts",
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<RuleDto>),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list_rules(State(storage): State<Storage>) -> Result<Json<Vec<RuleDto>>, ApiError> {
    Ok(Json(storage.alert_rules().await?.into_iter().map(RuleDto::from).collect()))
}

/// Creates a rule. It is armed at its first evaluation: bars from before it never fire it.
#[utoipa::path(
    post,
    path = "/api/alerts/rules",
    operation_id = "create_alert_rule",
    tag = "alerts",
    request_body = NewRuleBody,
    security(("bearer" = [])),
    responses(
        (status = 201, body = RuleDto),
        (status = 400, description = "Invalid symbol (`invalid_symbol`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 409, description = "A rule with the same symbol and condition exists (`conflict`)", body = ErrorResponse),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorResponse),
        (status = 415, description = "Body without `Content-Type: application/json` (`unsupported_media_type`)", body = ErrorResponse),
        (status = 422, description = "Body that is not this shape (`invalid_json`), or a rule that cannot be watched, naming the field (`invalid_rule`)", body = ErrorResponse),
    )
)]
pub(crate) async fn create_rule(
    State(storage): State<Storage>,
    State(policy): State<Arc<notify::TargetPolicy>>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RuleDto>), ApiError> {
    let body: NewRuleBody = tagged_body(body, RULE_TAGS)?;
    let symbol = match &body.symbol {
        Some(raw) => Some(known_symbol(&storage, raw).await?),
        None => None,
    };
    let rule = AlertRule {
        symbol,
        name: body.name,
        rule: Rule {
            condition: body.condition,
            frequency: body.frequency.unwrap_or(DEFAULT_FREQUENCY),
            hysteresis: body.hysteresis.unwrap_or(0.0),
            expires_at: body.expires_at,
            paused: body.paused,
        },
        targets: body.targets,
    };
    check_rule(&rule)?;
    check_targets(&rule.targets, &policy)?;
    let stored = storage.create_alert_rule(&rule).await.map_err(rule_error)?;
    tracing::info!(rule_id = stored.id, "Alert rule created.");
    Ok((StatusCode::CREATED, Json(RuleDto::from(stored))))
}

/// One rule.
#[utoipa::path(
    get,
    path = "/api/alerts/rules/{id}",
    operation_id = "get_alert_rule",
    tag = "alerts",
    params(IdPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = RuleDto),
        (status = 400, description = "Not a rule id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No such rule (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn get_rule(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<IdPath>,
) -> Result<Json<RuleDto>, ApiError> {
    let id = path.id;
    let rule = storage
        .alert_rule(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("alert rule {id} not found")))?;
    Ok(Json(RuleDto::from(rule)))
}

/// Changes a rule: pause or resume it, re-arm it, change its threshold, frequency, band,
/// expiry, name or targets. A changed condition re-arms it.
#[utoipa::path(
    patch,
    path = "/api/alerts/rules/{id}",
    operation_id = "update_alert_rule",
    tag = "alerts",
    params(IdPath),
    request_body = RulePatch,
    security(("bearer" = [])),
    responses(
        (status = 200, body = RuleDto),
        (status = 400, description = "Not a rule id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "No such rule (`not_found`)", body = ErrorResponse),
        (status = 409, description = "The change would duplicate another rule (`conflict`)", body = ErrorResponse),
        (status = 413, description = "Body too large (`payload_too_large`)", body = ErrorResponse),
        (status = 415, description = "Body without `Content-Type: application/json` (`unsupported_media_type`)", body = ErrorResponse),
        (status = 422, description = "Body that is not this shape (`invalid_json`), or a rule that cannot be watched, naming the field (`invalid_rule`)", body = ErrorResponse),
    )
)]
pub(crate) async fn update_rule(
    State(storage): State<Storage>,
    State(policy): State<Arc<notify::TargetPolicy>>,
    ApiPath(path): ApiPath<IdPath>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> Result<Json<RuleDto>, ApiError> {
    let patch: RulePatch = tagged_body(patch, RULE_TAGS)?;
    let id = path.id;
    let not_found = || ApiError::NotFound(format!("alert rule {id} not found"));
    let mut rule = storage.alert_rule(id).await?.ok_or_else(not_found)?.value;
    if let Some(name) = patch.name {
        rule.name = Some(name);
    }
    if let Some(condition) = patch.condition {
        rule.rule.condition = condition;
    }
    if let Some(frequency) = patch.frequency {
        rule.rule.frequency = frequency;
    }
    if let Some(hysteresis) = patch.hysteresis {
        rule.rule.hysteresis = hysteresis;
    }
    if patch.clear_expiry {
        rule.rule.expires_at = None;
    }
    if let Some(expires_at) = patch.expires_at {
        rule.rule.expires_at = Some(expires_at);
    }
    if let Some(paused) = patch.paused {
        rule.rule.paused = paused;
    }
    // Only new targets are checked: pausing a rule must not fail because the policy was
    // tightened after its targets were saved (their deliveries are refused anyway).
    if let Some(targets) = patch.targets {
        check_targets(&targets, &policy)?;
        rule.targets = targets;
    }
    check_rule(&rule)?;
    let updated = storage.update_alert_rule(id, &rule).await.map_err(rule_error)?.ok_or_else(not_found)?;
    if patch.rearm {
        storage.reset_rule_states(id).await?;
    }
    Ok(Json(RuleDto::from(updated)))
}

/// Deletes a rule; the alerts it fired stay (with `rule_id` null).
#[utoipa::path(
    delete,
    path = "/api/alerts/rules/{id}",
    operation_id = "delete_alert_rule",
    tag = "alerts",
    params(IdPath),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Not a rule id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "No such rule (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn delete_rule(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<IdPath>,
) -> Result<StatusCode, ApiError> {
    let id = path.id;
    if storage.delete_alert_rule(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("alert rule {id} not found")))
    }
}

/// Alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    params(AlertsParams),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<AlertDto>),
        (status = 400, description = "Invalid `since`, symbol (`invalid_symbol`) or limit, or an unknown parameter (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
    )
)]
pub(crate) async fn list_alerts(
    State(storage): State<Storage>,
    ApiQuery(query): ApiQuery<AlertsParams>,
) -> Result<Json<Vec<AlertDto>>, ApiError> {
    let limit = ALERTS_LIMIT.check(query.limit)?;
    let since = query.since.as_deref().map(params::since).transpose()?;
    let symbol = query.symbol.as_deref().map(|raw| params::symbol(raw, "query")).transpose()?;
    let alerts = storage.alerts(since, symbol.as_ref(), limit).await?;
    Ok(Json(alerts.into_iter().map(AlertDto::from).collect()))
}

/// Acknowledges an alert (the first acknowledgement's time is kept).
#[utoipa::path(
    post,
    path = "/api/alerts/{id}/ack",
    operation_id = "acknowledge_alert",
    tag = "alerts",
    params(IdPath),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AlertDto),
        (status = 400, description = "Not an alert id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token", body = ErrorResponse),
        (status = 403, description = "Revoked token", body = ErrorResponse),
        (status = 404, description = "No such alert (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn acknowledge(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<IdPath>,
) -> Result<Json<AlertDto>, ApiError> {
    let id = path.id;
    let alert = storage
        .acknowledge_alert(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("alert {id} not found")))?;
    Ok(Json(AlertDto::from(alert)))
}

/// One attempt to deliver an alert to one of its rule's targets.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryDto {
    id: i64,
    /// The target, masked: a webhook's kind, scheme and host (its path and query, which carry
    /// chat tokens, show as `***`), or the e-mail recipients.
    #[schema(example = "webhook (slack) https://hooks.slack.com/***")]
    target: String,
    /// `delivered` or `failed`.
    #[schema(example = "delivered")]
    status: &'static str,
    /// HTTP requests (or SMTP sessions) made, retries included; 0 when the target was refused
    /// before sending.
    attempts: u32,
    /// The last HTTP status the target answered, if it answered.
    http_status: Option<u16>,
    /// Time from the first attempt to the outcome.
    latency_ms: u64,
    /// Why it failed, with any URL masked.
    error: Option<String>,
    attempted_at: DateTime<Utc>,
}

impl From<Stored<AlertDelivery>> for DeliveryDto {
    fn from(stored: Stored<AlertDelivery>) -> Self {
        let Stored { id, value, .. } = stored;
        Self {
            id,
            target: mask_urls(&value.target),
            status: if value.delivered { "delivered" } else { "failed" },
            attempts: value.attempts,
            http_status: value.http_status,
            latency_ms: value.latency_ms,
            error: value.error.as_deref().map(mask_urls),
            attempted_at: value.attempted_at,
        }
    }
}

/// `text` with every URL in it reduced to scheme, host and port (`notify::mask_url`). The
/// monitor stores targets and errors masked already; masking again where they leave the server
/// means a record written by an older version, or an error a library quoted a URL in, cannot
/// show a webhook's token either.
fn mask_urls(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let Some(scheme_end) = word.find("://") else { return word.to_owned() };
            let start = word[..scheme_end]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
                .map_or(0, |i| i + 1);
            let end = word.trim_end_matches(['"', '\'', ')', ']', ',', ';', '>', '.']).len().max(start);
            format!("{}{}{}", &word[..start], notify::mask_url(&word[start..end]), &word[end..])
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The delivery attempts of an alert, oldest first: one per target of its rule.
#[utoipa::path(
    get,
    path = "/api/alerts/{id}/deliveries",
    operation_id = "list_alert_deliveries",
    tag = "alerts",
    params(IdPath),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Vec<DeliveryDto>),
        (status = 400, description = "Not an alert id: an integer from 1 to 2^63-1 (`bad_request`)", body = ErrorResponse),
        (status = 401, description = "No valid token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 403, description = "Revoked token, when `server.auth.protect_reads` is set", body = ErrorResponse),
        (status = 404, description = "No such alert (`not_found`)", body = ErrorResponse),
    )
)]
pub(crate) async fn deliveries(
    State(storage): State<Storage>,
    ApiPath(path): ApiPath<IdPath>,
) -> Result<Json<Vec<DeliveryDto>>, ApiError> {
    let id = path.id;
    if storage.alert(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("alert {id} not found")));
    }
    let deliveries = storage.alert_deliveries(id).await?;
    Ok(Json(deliveries.into_iter().map(DeliveryDto::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_targets_and_errors_are_masked() {
        assert_eq!(
            mask_urls("webhook (json) https://hooks.example.com/services/T0/SECRET?token=abc"),
            "webhook (json) https://hooks.example.com/***"
        );
        assert_eq!(
            mask_urls("POST (https://user:pw@example.com:8443/x/SECRET), then gave up"),
            "POST (https://example.com:8443/***), then gave up"
        );
        // Masked text stays as it is.
        let masked = "webhook (slack) https://hooks.slack.com/***";
        assert_eq!(mask_urls(masked), masked);
        assert_eq!(
            mask_urls("e-mail to a@example.com, b@example.com"),
            "e-mail to a@example.com, b@example.com"
        );
    }
}

//! The alerts page: the rules (a form that makes or edits a rule of any kind; pause, resume,
//! delete) and the history of what fired (acknowledge).

use chrono::{DateTime, Utc};
use maud::{Markup, html};

use crate::format::money;
use crate::layout::{LIVE_SCRIPT_PATH, Nav, Viewer, document};
use crate::pages::FieldError;

/// One alert rule.
#[derive(Debug, Clone)]
pub struct RuleRow {
    pub id: i64,
    pub name: Option<String>,
    /// `None`: every watched symbol.
    pub symbol: Option<String>,
    /// The condition in words.
    pub condition: String,
    /// The frequency in words.
    pub frequency: String,
    pub paused: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub targets: usize,
}

/// One alert that fired.
#[derive(Debug, Clone)]
pub struct AlertRow {
    pub id: i64,
    pub symbol: String,
    pub rule: String,
    pub fired_at: DateTime<Utc>,
    pub observed: f64,
    pub threshold: f64,
    pub previous: Option<f64>,
    pub provider: Option<String>,
    pub acknowledged: bool,
}

/// The kinds of rule the form offers: value, name, what the threshold is, what the window is
/// (empty: the kind has none).
pub const RULE_KINDS: [(&str, &str, &str, &str); 10] = [
    ("price", "Price crosses a level", "price", ""),
    ("change_percent", "Change in percent", "percent", "trading days (0: today)"),
    ("gap", "Opening gap in percent", "percent", ""),
    ("volume_spike", "Volume spike", "× the average volume", "days averaged"),
    ("rsi", "RSI crosses a level", "RSI level, 0–100", "RSI period"),
    ("cross", "SMA 50 crosses SMA 200 (golden/death cross)", "", ""),
    ("new_extreme", "New 52-week high (above) or low (below)", "", ""),
    ("mention_spike", "Reddit mention spike", "spike score", ""),
    ("sentiment_shift", "Reddit sentiment shift", "change of the score", ""),
    ("rating_change", "Research-note rating changes", "", ""),
];

/// The rule form as filled in (or as the stored rule being edited), with its errors.
#[derive(Debug, Clone, Default)]
pub struct RuleForm {
    /// The rule being edited; `None` for a new one.
    pub editing: Option<i64>,
    pub name: String,
    pub symbol: String,
    /// One of [`RULE_KINDS`] (empty: `price`).
    pub kind: String,
    /// `above` or `below`.
    pub direction: String,
    /// The threshold (a price, percent, level, multiple or score, by kind).
    pub level: String,
    /// Days or sessions, for the kinds that look back.
    pub window: String,
    /// `once`, `once_per_day`, `every`.
    pub frequency: String,
    pub cooldown_minutes: String,
    pub errors: Vec<(&'static str, FieldError)>,
}

impl RuleForm {
    fn error(&self, field: &str) -> Option<&FieldError> {
        self.errors.iter().find(|(name, _)| *name == field).map(|(_, error)| error)
    }
}

fn rule_form(viewer: &Viewer, form: &RuleForm) -> Markup {
    let text = |label: &str, name: &'static str, value: &str, hint: &str, mode: &str| {
        let error = form.error(name);
        let id = format!("rule-{name}");
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) name=(name) value=(error.map_or(value, |e| e.value.as_str())) placeholder=(hint)
                    inputmode=(mode) aria-invalid=[error.map(|_| "true")];
                @if let Some(error) = error { p.field-error { (error.message) } }
            }
        }
    };
    let kind = if form.kind.is_empty() { "price" } else { form.kind.as_str() };
    let action = match form.editing {
        Some(id) => format!("/alerts/rules/{id}"),
        None => "/alerts/rules".to_owned(),
    };
    html! {
        @if let Some(id) = form.editing { h3 #edit-rule { "Edit rule #" (id) } }
        form.panel.grid-form method="post" action=(action) {
            (viewer.csrf_field())
            (text("Symbol (empty: the whole watchlist)", "symbol", &form.symbol, "AAPL", "text"))
            div.field {
                label for="rule-kind" { "When" }
                select #rule-kind name="kind" {
                    @for (value, label, _, _) in RULE_KINDS {
                        option value=(value) selected[kind == value] { (label) }
                    }
                }
                @if let Some(error) = form.error("kind") { p.field-error { (error.message) } }
            }
            div.field {
                label for="rule-direction" { "Direction" }
                select #rule-direction name="direction" {
                    option value="above" selected[form.direction != "below"] { "above / up" }
                    option value="below" selected[form.direction == "below"] { "below / down" }
                }
            }
            (text("Threshold", "level", &form.level, "250", "decimal"))
            (text("Window (days or period)", "window", &form.window, "14", "numeric"))
            div.field {
                label for="rule-frequency" { "Fire" }
                select #rule-frequency name="frequency" {
                    option value="once" selected[form.frequency == "once"] { "once, then disarm" }
                    option value="once_per_day" selected[form.frequency == "once_per_day"] { "once per trading day" }
                    option value="every" selected[form.frequency == "every" || form.frequency.is_empty()] { "on every crossing" }
                }
            }
            (text("Cooldown, minutes (every crossing)", "cooldown_minutes", &form.cooldown_minutes, "60", "numeric"))
            (text("Name (optional)", "name", &form.name, "earnings watch", "text"))
            div.field {
                button type="submit" { @if form.editing.is_some() { "Save rule" } @else { "Add rule" } }
                @if form.editing.is_some() { " " a href="/alerts" { "Cancel" } }
            }
        }
        details.muted {
            summary { "What threshold and window mean for each kind" }
            ul {
                @for (_, label, threshold, window) in RULE_KINDS {
                    li {
                        strong { (label) } ": "
                        @if threshold.is_empty() { "no threshold" } @else { "threshold = " (threshold) }
                        @if !window.is_empty() { "; window = " (window) }
                    }
                }
            }
        }
    }
}

/// The alerts page.
pub fn alerts_page(rules: &[RuleRow], alerts: &[AlertRow], viewer: &Viewer, form: &RuleForm) -> Markup {
    let body = html! {
        h1 { "Alerts" }
        h2 { "Rules" }
        @if viewer.signed_in() { (rule_form(viewer, form)) } @else {
            p.muted { a href="/signin?next=/alerts" { "Sign in" } " to add, pause or delete rules." }
        }
        p.muted { "Webhook and e-mail targets, hysteresis and expiry through " code { "tickerwatch alerts add" } " or " code { "POST /api/alerts/rules" } "; editing here keeps them." }
        @if rules.is_empty() { p.muted { "No rules yet." } } @else {
            div.panel.table-wrap {
                table {
                    thead { tr {
                        th scope="col" { "Rule" } th scope="col" class="text" { "Symbol" } th scope="col" class="text" { "Condition" }
                        th scope="col" class="text hide-narrow" { "Fires" } th scope="col" class="text" { "State" }
                        th scope="col" class="hide-narrow" { "Targets" } th scope="col" class="text" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for rule in rules {
                            tr {
                                td { "#" (rule.id) }
                                td.text { (rule.symbol.as_deref().unwrap_or("watchlist")) }
                                td.text { @if let Some(name) = &rule.name { strong { (name) } br; } (rule.condition) }
                                td class="text hide-narrow" { (rule.frequency) }
                                td class=(if rule.paused { "text warn" } else { "text up" }) {
                                    (if rule.paused { "paused" } else { "active" })
                                    @if let Some(expiry) = rule.expires_at { br; span.muted { "until " (expiry.format("%Y-%m-%d")) } }
                                }
                                td class="hide-narrow" { (rule.targets) }
                                td.text.actions {
                                    @if viewer.signed_in() {
                                        a href=(format!("/alerts/rules/{}/edit#edit-rule", rule.id)) { "Edit" }
                                        form method="post" action=(format!("/alerts/rules/{}/{}", rule.id, if rule.paused { "resume" } else { "pause" })) {
                                            (viewer.csrf_field())
                                            button.link type="submit" { (if rule.paused { "Resume" } else { "Pause" }) }
                                        }
                                        form method="post" action=(format!("/alerts/rules/{}/delete", rule.id)) {
                                            (viewer.csrf_field())
                                            button.link type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "History" }
        p #no-alerts .muted hidden[!alerts.is_empty()] { "Nothing has fired yet." }
        div.panel.table-wrap hidden[alerts.is_empty()] {
            table data-live-alerts data-last-id=(alerts.iter().map(|a| a.id).max().unwrap_or(0)) {
                thead { tr {
                    th scope="col" { "Fired (UTC)" } th scope="col" class="text" { "Symbol" } th scope="col" class="text" { "Rule" }
                    th scope="col" { "Value" } th scope="col" class="hide-narrow" { "Threshold" } th scope="col" class="hide-narrow" { "Before" }
                    th scope="col" class="text hide-narrow" { "Source" } th scope="col" class="text" { span.visually-hidden { "Acknowledge" } }
                } }
                tbody {
                    @for alert in alerts {
                        tr class=[(!alert.acknowledged).then_some("unread")] data-alert-id=(alert.id) {
                            td { (alert.fired_at.format("%Y-%m-%d %H:%M")) }
                            td.text { a href=(format!("/symbols/{}", alert.symbol.replace('^', "%5E"))) { (alert.symbol) } }
                            td.text { (alert.rule) }
                            td { (money(Some(alert.observed))) }
                            td class="hide-narrow" { (money(Some(alert.threshold))) }
                            td class="hide-narrow" { (money(alert.previous)) }
                            td class="text hide-narrow" { (alert.provider.as_deref().unwrap_or("—")) }
                            td.text {
                                @if alert.acknowledged { span.muted { "seen" } } @else if viewer.signed_in() {
                                    form method="post" action=(format!("/alerts/{}/ack", alert.id)) {
                                        (viewer.csrf_field())
                                        button.link type="submit" { "Acknowledge" }
                                    }
                                } @else { span.warn { "new" } }
                            }
                        }
                    }
                }
            }
        }
        script src=(LIVE_SCRIPT_PATH) defer {}
    };
    document("Alerts", Nav::Alerts, viewer, body)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn rules_and_history_show_their_actions_to_signed_in_viewers_only() {
        let rules = [RuleRow {
            id: 3,
            name: Some("<b>target</b>".to_owned()),
            symbol: None,
            condition: "price above 250".to_owned(),
            frequency: "once".to_owned(),
            paused: true,
            expires_at: None,
            targets: 1,
        }];
        let alerts = [AlertRow {
            id: 9,
            symbol: "AAPL".to_owned(),
            rule: "price above 250".to_owned(),
            fired_at: Utc.with_ymd_and_hms(2024, 5, 10, 15, 0, 0).unwrap(),
            observed: 251.5,
            threshold: 250.0,
            previous: Some(249.0),
            provider: Some("finnhub".to_owned()),
            acknowledged: false,
        }];
        let viewer = Viewer { csrf_token: Some("beef".to_owned()) };
        let html = alerts_page(&rules, &alerts, &viewer, &RuleForm::default()).into_string();
        for action in [
            r#"action="/alerts/rules/3/resume""#,
            r#"action="/alerts/rules/3/delete""#,
            r#"action="/alerts/9/ack""#,
            r#"href="/alerts/rules/3/edit#edit-rule""#,
            r#"<option value="rsi">RSI crosses a level</option>"#,
        ] {
            assert!(html.contains(action), "{action}");
        }
        assert!(
            html.contains("&lt;b&gt;target&lt;/b&gt;")
                && html.contains("watchlist")
                && html.contains("251.50")
        );
        let anonymous = alerts_page(&rules, &alerts, &Viewer::default(), &RuleForm::default()).into_string();
        assert!(!anonymous.contains("csrf") && anonymous.contains(">new<") && !anonymous.contains("/edit"));
        let editing = RuleForm { editing: Some(3), kind: "rsi".to_owned(), ..RuleForm::default() };
        let html = alerts_page(&rules, &alerts, &viewer, &editing).into_string();
        assert!(html.contains(r#"action="/alerts/rules/3""#) && html.contains("Save rule"), "{html}");
        assert!(html.contains(r#"<option value="rsi" selected>"#), "{html}");
    }
}

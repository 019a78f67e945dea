//! Webhook bodies, one per [`WebhookFormat`].

use serde::Serialize;
use serde_json::{Value, json};

use crate::alert::Alert;
use crate::target::WebhookFormat;
use crate::template::{Template, truncate_chars};

/// Discord refuses a `content` longer than this many characters.
pub const DISCORD_MAX_CHARS: usize = 2000;

/// Slack cuts a `text` longer than this; we cut first, so the cut is ours and visible (`…`).
pub const SLACK_MAX_CHARS: usize = 40_000;

#[derive(Serialize)]
struct JsonBody<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    message: &'a str,
}

/// The body for `format`:
/// - `Json`: every field of the alert, then `message`;
/// - `Slack`: `{"text": message}`, with `&`, `<`, `>` in values escaped so a rule text cannot
///   become a link or an `@channel` mention;
/// - `Discord`: `{"content": message, "allowed_mentions": {"parse": []}}`, the message cut to
///   2000 characters, mentions in it not pinging anyone.
pub fn webhook_body(format: WebhookFormat, template: &Template, alert: &Alert) -> Value {
    match format {
        WebhookFormat::Json => {
            let message = template.render(alert);
            serde_json::to_value(JsonBody { alert, message: &message })
                .unwrap_or_else(|_| json!({ "message": message }))
        }
        WebhookFormat::Slack => {
            json!({ "text": truncate_chars(&template.render_with(alert, slack_escape), SLACK_MAX_CHARS) })
        }
        WebhookFormat::Discord => json!({
            "content": truncate_chars(&template.render(alert), DISCORD_MAX_CHARS),
            "allowed_mentions": { "parse": [] },
        }),
    }
}

/// Slack's three control characters in message text.
fn slack_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

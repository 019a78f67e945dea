//! Delivery of alerts: one [`Alert`] to one [`Target`] (a webhook in JSON, Slack or Discord
//! form, or e-mail over SMTP), reported as a [`DeliveryAttempt`]. The monitor job decides what
//! fires and stores the attempts; this crate knows nothing of storage, jobs or the server.
//!
//! Targets are typed in by users, so every delivery goes through the SSRF guard ([`guard`]):
//! http/https only, the host resolved and refused if any address is not public (loopback,
//! RFC 1918, CGNAT, link-local and cloud metadata, ULA, multicast, IPv4 inside IPv6 …) unless
//! the [`TargetPolicy`] allows it, the connection pinned to the addresses checked, no redirects
//! followed. Webhook URLs are secrets (chat webhooks carry their token in the path): they are
//! masked in every `Debug`, `Display`, error and log line.
//!
//! Design decision: webhooks go through the one `outbound::Client` (retries, `Retry-After`,
//! body cap, redaction are written once, there) with the guard as its DNS resolver, rather than
//! a client per target pinned with `resolve_to_addrs`: one pool for every webhook, and the
//! check sits where the address is chosen.

mod alert;
mod email;
pub mod guard;
mod notifier;
mod payload;
mod target;
pub mod template;

pub use alert::Alert;
pub use email::{MAX_SMTP_TIMEOUT_SECS, MAX_SUBJECT_CHARS, SmtpConfig, SmtpConfigError, SmtpTls};
pub use guard::{AddressKind, TargetPolicy};
pub use notifier::{
    DeliveryAttempt, DeliveryStatus, Notifier, NotifierConfig, NotifierError, webhook_client_config,
};
pub use payload::{DISCORD_MAX_CHARS, SLACK_MAX_CHARS, webhook_body};
pub use target::{
    DEFAULT_DISCORD_TEMPLATE, DEFAULT_EMAIL_TEMPLATE, DEFAULT_JSON_TEMPLATE, DEFAULT_SLACK_TEMPLATE,
    MAX_RECIPIENTS, Target, TargetError, WebhookFormat, WebhookUrl, mask_url, redact_url_parts,
};
pub use template::{Template, TemplateError};

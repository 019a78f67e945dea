//! Where an alert goes, and the checks a target passes before anything is sent.

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;
use serde::{Deserialize, Serialize};

use crate::guard::{AddressKind, TargetPolicy, check_address, ip_literal, resolve_checked};
use crate::template::{Template, TemplateError};

/// The most recipients one e-mail target may name: an alert is not a mailing list.
pub const MAX_RECIPIENTS: usize = 20;

/// A webhook URL. Chat webhook URLs carry their token in the path (Slack's
/// `/services/T…/B…/…`, Discord's `/api/webhooks/…/…`), so the URL is a secret: `Debug` and
/// `Display` show only scheme, host and port ([`mask_url`]); [`expose`](Self::expose) gives it
/// for sending. It serializes as written, because storage must keep it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for the one place that sends to it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", mask_url(&self.0))
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_url(&self.0))
    }
}

/// `url` with only scheme, host and port left: `https://hooks.slack.com/***`. User info, path,
/// query and fragment go. Text that is not a URL is shown as `<invalid URL>`: it may still hold
/// a token.
pub fn mask_url(url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else { return "<invalid URL>".to_owned() };
    let Some(host) = parsed.host_str() else { return format!("{}:***", parsed.scheme()) };
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let has_secret_part = parsed.path() != "/"
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some();
    let rest = if has_secret_part { "/***" } else { "/" };
    format!("{}://{host}{port}{rest}", parsed.scheme())
}

/// Removes what [`mask_url`] hides from `text` (an error message, a response excerpt), wherever
/// it occurs.
pub fn redact_url_parts(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &mask_url(url));
    if let Ok(parsed) = Url::parse(url) {
        let mut parts = vec![parsed.path().to_owned(), parsed.username().to_owned()];
        parts.extend(parsed.query().map(str::to_owned));
        parts.extend(parsed.fragment().map(str::to_owned));
        parts.extend(parsed.password().map(str::to_owned));
        // Path segments one by one too: a server may quote only the token.
        parts.extend(parsed.path().split('/').filter(|s| s.len() >= 8).map(str::to_owned));
        for part in parts.iter().filter(|p| p.len() > 1) {
            out = out.replace(part.as_str(), "***");
        }
    }
    out
}

/// The body a webhook gets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The whole [`crate::Alert`] plus the rendered `message`.
    #[default]
    Json,
    /// `{"text": message}` (an incoming webhook).
    Slack,
    /// `{"content": message, "allowed_mentions": {"parse": []}}`, the message cut to 2000
    /// characters.
    Discord,
}

/// Where one alert is delivered. Serializes tagged by `type` (`webhook`, `email`), so the
/// monitor can store it as JSON.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    Webhook {
        url: WebhookUrl,
        #[serde(default)]
        format: WebhookFormat,
        /// Overrides the format's default template.
        #[serde(default)]
        template: Option<String>,
    },
    Email {
        to: Vec<String>,
        /// Overrides the default e-mail template; the subject is the message's first line.
        #[serde(default)]
        template: Option<String>,
    },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Webhook { url, format, template } => f
                .debug_struct("Webhook")
                .field("url", url)
                .field("format", format)
                .field("template", template)
                .finish(),
            Self::Email { to, template } => {
                f.debug_struct("Email").field("to", to).field("template", template).finish()
            }
        }
    }
}

/// `webhook (slack) https://hooks.slack.com/***`, `e-mail to a@example.com, b@example.com`.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Webhook { url, format, .. } => {
                let format = match format {
                    WebhookFormat::Json => "json",
                    WebhookFormat::Slack => "slack",
                    WebhookFormat::Discord => "discord",
                };
                write!(f, "webhook ({format}) {url}")
            }
            Self::Email { to, .. } => write!(f, "e-mail to {}", to.join(", ")),
        }
    }
}

/// Why a target (or the notifier's SMTP host) was refused. Each message starts with the field
/// at fault (`url`, `template`, `to`, `smtp.host`); [`field`](Self::field) gives it alone.
/// No message quotes a webhook URL's path or query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("url: not a valid URL ({reason})")]
    InvalidUrl { reason: String },
    #[error("url: scheme {scheme:?} is not allowed (http or https only)")]
    Scheme { scheme: String },
    #[error("url: has no host")]
    NoHost,
    #[error(
        "{field}: {}, a {kind} address; refused (allow it with allowed_hosts or allow_private)",
        where_it_points(host, *addr)
    )]
    Blocked { field: &'static str, host: String, addr: IpAddr, kind: AddressKind },
    #[error("{field}: cannot resolve {host}: {message}")]
    Resolve { field: &'static str, host: String, message: String },
    #[error("{field}: {host} resolves to no address")]
    NoAddress { field: &'static str, host: String },
    #[error("template: {0}")]
    Template(#[from] TemplateError),
    #[error("to: at least one recipient is needed")]
    NoRecipients,
    #[error("to: at most {MAX_RECIPIENTS} recipients")]
    TooManyRecipients,
    #[error("to[{index}]: {address:?} is not an e-mail address ({reason})")]
    Recipient { index: usize, address: String, reason: String },
}

/// "10.0.0.5 is 10.0.0.5" says nothing: an IP literal is named once, a name with its address.
fn where_it_points(host: &str, addr: IpAddr) -> String {
    if ip_literal(host) == Some(addr) { host.to_owned() } else { format!("{host} resolves to {addr}") }
}

impl TargetError {
    /// The field at fault, as the message starts with it.
    pub fn field(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } | Self::Scheme { .. } | Self::NoHost => "url",
            Self::Blocked { field, .. } | Self::Resolve { field, .. } | Self::NoAddress { field, .. } => {
                field
            }
            Self::Template(_) => "template",
            Self::NoRecipients | Self::TooManyRecipients | Self::Recipient { .. } => "to",
        }
    }
}

impl Target {
    /// Checks everything that needs no network: the URL is http(s) with a host, a host written
    /// as an IP address is allowed by `policy`, the template parses, recipients are addresses.
    /// Names are checked against `policy` only once resolved: [`validate_resolved`]
    /// (Self::validate_resolved), and again by every delivery.
    ///
    /// # Errors
    /// The first problem found, naming its field.
    pub fn validate(&self, policy: &TargetPolicy) -> Result<(), TargetError> {
        match self {
            Self::Webhook { url, .. } => {
                let url = parse_webhook_url(url)?;
                if let Some(host) = url.host_str()
                    && let Some(ip) = ip_literal(host)
                {
                    check_address("url", host, ip, policy)?;
                }
                self.template()?;
            }
            Self::Email { to, .. } => {
                check_recipients(to)?;
                self.template()?;
            }
        }
        Ok(())
    }

    /// A target as stored with a rule (JSON), checked as far as it can be without the network:
    /// type, scheme, host, template, recipients, and a host written as an IP address against
    /// `policy`, so `http://10.0.0.5/hook` is refused when the rule is saved rather than at every
    /// delivery. A name is checked after DNS resolution at each delivery (where it points may
    /// change), so a rule can be saved before its host resolves.
    ///
    /// # Errors
    /// Why the value is not a target, or the first [`TargetError`].
    pub fn from_json(value: &serde_json::Value, policy: &TargetPolicy) -> Result<Self, String> {
        let target: Self = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        target.validate(policy).map_err(|e| e.to_string())?;
        Ok(target)
    }

    /// [`validate`](Self::validate), then resolves a webhook's host and refuses it if any of
    /// its addresses is not allowed: what an API should run before saving a target.
    ///
    /// # Errors
    /// As `validate`, and [`TargetError::Blocked`]/`Resolve`/`NoAddress` for the host.
    pub async fn validate_resolved(&self, policy: &TargetPolicy) -> Result<(), TargetError> {
        self.validate(policy)?;
        if let Self::Webhook { url, .. } = self {
            let url = parse_webhook_url(url)?;
            let host = url.host_str().ok_or(TargetError::NoHost)?;
            resolve_checked("url", host, policy).await?;
        }
        Ok(())
    }

    /// The template to render: the target's own, or the default of its format.
    ///
    /// # Errors
    /// [`TargetError::Template`] when the target's own template does not parse.
    pub fn template(&self) -> Result<Template, TargetError> {
        let own = match self {
            Self::Webhook { template, .. } | Self::Email { template, .. } => template.as_deref(),
        };
        let text = own.unwrap_or(match self {
            Self::Webhook { format: WebhookFormat::Json, .. } => DEFAULT_JSON_TEMPLATE,
            Self::Webhook { format: WebhookFormat::Slack, .. } => DEFAULT_SLACK_TEMPLATE,
            Self::Webhook { format: WebhookFormat::Discord, .. } => DEFAULT_DISCORD_TEMPLATE,
            Self::Email { .. } => DEFAULT_EMAIL_TEMPLATE,
        });
        Ok(Template::parse(text)?)
    }
}

/// The JSON webhook's default `message`.
pub const DEFAULT_JSON_TEMPLATE: &str = "{symbol}: {rule} ({kind} {value}, threshold {threshold}, previous {previous}; price {price}, {provider}, {fired_at})";
/// Slack's default: the symbol in bold (Slack mrkdwn).
pub const DEFAULT_SLACK_TEMPLATE: &str = "*{symbol}* {rule}\n{kind} {value} (threshold {threshold}, previous {previous}) · price {price} · {provider} · {fired_at}";
/// Discord's default: the symbol in bold (Discord markdown).
pub const DEFAULT_DISCORD_TEMPLATE: &str = "**{symbol}** {rule}\n{kind} {value} (threshold {threshold}, previous {previous}) · price {price} · {provider} · {fired_at}";
/// The e-mail's default; its first line is the subject.
pub const DEFAULT_EMAIL_TEMPLATE: &str = "{symbol}: {rule}\n\nValue: {value} ({kind})\nThreshold: {threshold}\nPrevious: {previous}\nPrice: {price}\nProvider: {provider}\nFired at: {fired_at}\nAlert: {id}\n";

/// Parses a webhook URL: http or https, with a host. Errors never quote the URL.
pub(crate) fn parse_webhook_url(url: &WebhookUrl) -> Result<Url, TargetError> {
    let parsed = Url::parse(url.expose()).map_err(|e| TargetError::InvalidUrl { reason: e.to_string() })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme { scheme: parsed.scheme().to_owned() });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::NoHost);
    }
    Ok(parsed)
}

fn check_recipients(to: &[String]) -> Result<(), TargetError> {
    if to.is_empty() {
        return Err(TargetError::NoRecipients);
    }
    if to.len() > MAX_RECIPIENTS {
        return Err(TargetError::TooManyRecipients);
    }
    for (index, address) in to.iter().enumerate() {
        address.parse::<lettre::Address>().map_err(|e| TargetError::Recipient {
            index,
            address: address.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_to_scheme_host_and_port() {
        let slack = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        assert_eq!(mask_url(slack), "https://hooks.slack.com/***");
        assert_eq!(mask_url("http://example.com:8080/"), "http://example.com:8080/");
        assert_eq!(mask_url("https://u:p@example.com/"), "https://example.com/***");
        assert_eq!(mask_url("https://example.com/?token=abc"), "https://example.com/***");
        assert_eq!(mask_url("not a url /SECRET"), "<invalid URL>");
        let text = format!("failed for {slack}: XXXXSECRET rejected");
        let redacted = redact_url_parts(&text, slack);
        assert!(!redacted.contains("XXXXSECRET") && !redacted.contains("T000"), "{redacted}");
    }

    #[test]
    fn targets_print_without_secrets() {
        let target = Target::Webhook {
            url: WebhookUrl::new("https://discord.com/api/webhooks/123/TOKEN"),
            format: WebhookFormat::Discord,
            template: None,
        };
        assert_eq!(target.to_string(), "webhook (discord) https://discord.com/***");
        let debug = format!("{target:?}");
        assert!(!debug.contains("TOKEN") && debug.contains("https://discord.com/***"), "{debug}");
        let json = serde_json::to_value(&target).unwrap();
        assert_eq!(json["url"], "https://discord.com/api/webhooks/123/TOKEN", "stored as written");
        assert_eq!(serde_json::from_value::<Target>(json).unwrap(), target);
    }

    #[test]
    fn validation_names_the_field() {
        let strict = TargetPolicy::default();
        let webhook = |url: &str, template: Option<&str>| Target::Webhook {
            url: WebhookUrl::new(url),
            format: WebhookFormat::Json,
            template: template.map(str::to_owned),
        };
        assert!(webhook("https://example.com/hook", None).validate(&strict).is_ok());
        let err = webhook("ftp://example.com", None).validate(&strict).unwrap_err();
        assert_eq!(err.to_string(), "url: scheme \"ftp\" is not allowed (http or https only)");
        assert_eq!(err.field(), "url");
        assert!(matches!(
            webhook("file:///etc/passwd", None).validate(&strict),
            Err(TargetError::Scheme { .. })
        ));
        assert!(matches!(
            webhook("https://", None).validate(&strict),
            Err(TargetError::NoHost | TargetError::InvalidUrl { .. })
        ));
        for url in [
            "http://127.0.0.1:9/x",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let err = webhook(url, None).validate(&strict).unwrap_err();
            assert!(matches!(err, TargetError::Blocked { kind: AddressKind::Loopback, .. }), "{url}: {err}");
        }
        let err = webhook("https://example.com", Some("{symbl} fired")).validate(&strict).unwrap_err();
        assert_eq!(err.field(), "template");
        assert!(err.to_string().starts_with("template: unknown placeholder {symbl}"), "{err}");

        let email =
            |to: &[&str]| Target::Email { to: to.iter().map(|s| (*s).to_owned()).collect(), template: None };
        assert!(email(&["a@example.com"]).validate(&strict).is_ok());
        assert_eq!(email(&[]).validate(&strict).unwrap_err(), TargetError::NoRecipients);
        let err = email(&["a@example.com", "not-an-address"]).validate(&strict).unwrap_err();
        assert!(err.to_string().starts_with("to[1]: \"not-an-address\" is not an e-mail address"), "{err}");
        let many: Vec<&str> = std::iter::repeat_n("a@example.com", MAX_RECIPIENTS + 1).collect();
        assert_eq!(email(&many).validate(&strict).unwrap_err(), TargetError::TooManyRecipients);
    }

    #[test]
    fn stored_targets_are_refused_at_once_for_an_ip_the_policy_forbids_but_not_for_a_name() {
        let strict = TargetPolicy::default();
        let hook = |url: &str| serde_json::json!({"type": "webhook", "url": url, "format": "json"});
        let err = Target::from_json(&hook("http://10.0.0.5/hooks/SECRET-PATH"), &strict).unwrap_err();
        assert_eq!(
            err,
            "url: 10.0.0.5, a private (RFC 1918) address; refused (allow it with allowed_hosts or allow_private)"
        );
        // Names are resolved at each delivery, where they point then.
        assert!(Target::from_json(&hook("http://localhost:9/hook"), &strict).is_ok());
        let lan = TargetPolicy { allow_private: false, allowed_hosts: vec!["10.0.0.5".to_owned()] };
        assert!(Target::from_json(&hook("http://10.0.0.5/hook"), &lan).is_ok());
        let open = TargetPolicy { allow_private: true, allowed_hosts: Vec::new() };
        assert!(Target::from_json(&hook("http://127.0.0.1:9/hook"), &open).is_ok());
        let err = Target::from_json(&serde_json::json!({"type": "pigeon"}), &open).unwrap_err();
        assert!(err.contains("pigeon"), "{err}");
    }
}

//! [`Notifier`]: delivers one alert to one target and says how it went.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use outbound::{BuildError, Client, ClientConfig, Plain, Redactor, Resolver};
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::email::{Email, SmtpConfig, SmtpConfigError, send_once};
use crate::guard::{GuardedResolver, TargetPolicy, resolve_checked};
use crate::payload::webhook_body;
use crate::target::{Target, WebhookFormat, WebhookUrl, parse_webhook_url, redact_url_parts};

/// How a [`Notifier`] is built.
#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// Where deliveries may connect.
    pub policy: TargetPolicy,
    /// The webhook client's timeouts, retries and bounds. Its `resolver` and
    /// `follow_redirects` are overridden: the guard's resolver, no redirects.
    /// `max_retries` and the backoff also pace SMTP retries.
    pub http: ClientConfig,
    /// The SMTP server; without it e-mail targets fail with a clear error.
    pub smtp: Option<SmtpConfig>,
}

impl NotifierConfig {
    /// Webhook defaults ([`webhook_client_config`]) and no SMTP.
    pub fn new(policy: TargetPolicy) -> Self {
        Self { policy, http: webhook_client_config(), smtp: None }
    }
}

/// The webhook client's defaults: 5 s to connect, 10 s an attempt, 3 retries from 500 ms to
/// 8 s, a `Retry-After` of up to 30 s honoured, 60 s for a whole delivery, answers up to 64 KiB
/// (nobody reads a webhook's answer beyond an error excerpt), metrics `outbound_*{vendor=webhook}`.
pub fn webhook_client_config() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(10),
        call_budget: Some(Duration::from_secs(60)),
        max_body_bytes: 64 * 1024,
        ..ClientConfig::new("webhook")
    }
}

/// The notifier could not be built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Client(#[from] BuildError),
    #[error(transparent)]
    Smtp(#[from] SmtpConfigError),
}

/// Whether an alert reached its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Delivered,
    Failed,
}

/// How one delivery went: what the monitor stores per alert and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub status: DeliveryStatus,
    /// Requests (or SMTP sessions) made; 0 when the target was refused before any.
    pub attempts: u32,
    /// The whole delivery, retries and waits included.
    pub latency_ms: u64,
    /// The last HTTP status a webhook answered with.
    pub http_status: Option<u16>,
    /// Why it failed; never holds a webhook URL's path or query, nor the SMTP password.
    pub error: Option<String>,
}

struct Outcome {
    attempts: u32,
    http_status: Option<u16>,
    error: Option<String>,
}

impl Outcome {
    fn refused(error: impl ToString) -> Self {
        Self { attempts: 0, http_status: None, error: Some(error.to_string()) }
    }
}

/// Delivers alerts. Holds one webhook client (one connection pool, shared by every webhook
/// target; see `outbound`) whose DNS resolver is the SSRF guard, and the SMTP settings.
/// Build it once and share it.
pub struct Notifier {
    client: Client<Plain>,
    resolver: Arc<GuardedResolver>,
    policy: TargetPolicy,
    smtp: Option<(SmtpConfig, Mailbox)>,
    smtp_redactor: Redactor,
    max_retries: u32,
    backoff_base: Duration,
    backoff_max: Duration,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("policy", &self.policy)
            .field("smtp", &self.smtp.as_ref().map(|(config, _)| config))
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Builds the webhook client (redirects off, the guard as its resolver, no proxy) and checks
    /// the SMTP settings.
    ///
    /// # Errors
    /// The client cannot be built, or an SMTP setting is bad.
    pub fn new(config: NotifierConfig) -> Result<Self, NotifierError> {
        let resolver = Arc::new(GuardedResolver::new(config.policy.clone()));
        let mut http = config.http;
        // A redirect would lead the request to a URL nobody checked (an IP literal bypasses any
        // resolver), so none is followed: a 3xx answer is a failed delivery.
        http.follow_redirects = false;
        http.resolver = Some(Resolver(resolver.clone()));
        let (max_retries, backoff_base, backoff_max) =
            (http.max_retries, http.backoff_base, http.backoff_max);
        let client = Client::plain(http)?;
        let smtp = match config.smtp {
            Some(smtp) => {
                let from = smtp.validate()?;
                Some((smtp, from))
            }
            None => None,
        };
        let smtp_redactor = Redactor::new(smtp.as_ref().and_then(|(smtp, _)| smtp.password.clone()));
        Ok(Self {
            client,
            resolver,
            policy: config.policy,
            smtp,
            smtp_redactor,
            max_retries,
            backoff_base,
            backoff_max,
        })
    }

    /// Delivers `alert` to `target`: validates the target, resolves and checks its host,
    /// renders the message, sends it with retries. Never panics; every failure is in the
    /// returned attempt, redacted.
    #[tracing::instrument(skip_all, fields(alert_id = alert.id, symbol = %alert.symbol, target = %target))]
    pub async fn deliver(&self, alert: &Alert, target: &Target) -> DeliveryAttempt {
        let started = Instant::now();
        let outcome = match target.validate(&self.policy) {
            Err(error) => Outcome::refused(error),
            Ok(()) => match target {
                Target::Webhook { url, format, .. } => {
                    self.deliver_webhook(alert, target, url, *format).await
                }
                Target::Email { to, .. } => self.deliver_email(alert, target, to).await,
            },
        };
        let attempt = DeliveryAttempt {
            status: if outcome.error.is_none() { DeliveryStatus::Delivered } else { DeliveryStatus::Failed },
            attempts: outcome.attempts,
            latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            http_status: outcome.http_status,
            error: outcome.error,
        };
        match &attempt.error {
            None => tracing::info!(
                attempts = attempt.attempts,
                latency_ms = attempt.latency_ms,
                "Alert delivered."
            ),
            Some(error) => {
                tracing::warn!(%error, attempts = attempt.attempts, latency_ms = attempt.latency_ms, "Alert not delivered.");
            }
        }
        attempt
    }

    async fn deliver_webhook(
        &self,
        alert: &Alert,
        target: &Target,
        url: &WebhookUrl,
        format: WebhookFormat,
    ) -> Outcome {
        let checked = async {
            let parsed = parse_webhook_url(url)?;
            let host = parsed.host_str().unwrap_or_default().to_owned();
            let ips = resolve_checked("url", &host, &self.policy).await?;
            Ok::<_, crate::TargetError>((host, ips, target.template()?))
        };
        let (host, ips, template) = match checked.await {
            Ok(checked) => checked,
            Err(error) => return Outcome::refused(error),
        };
        // The connection asks the resolver for this host and gets exactly these addresses.
        self.resolver.pin(&host, ips);
        let body = webhook_body(format, &template, alert);
        let counted = self.client.post_json_counted("webhook", url.expose(), &body).await;
        match counted.result {
            Ok(response) => Outcome {
                attempts: counted.attempts,
                http_status: Some(response.status.as_u16()),
                error: None,
            },
            Err(error) => {
                let http_status = match &error {
                    outbound::Error::Status { status, .. } => Some(*status),
                    outbound::Error::RateLimited { .. } => Some(429),
                    _ => None,
                };
                let message = match http_status {
                    Some(status @ 300..=399) => {
                        format!(
                            "webhook: HTTP {status}: a redirect; redirects are not followed (use the final URL)"
                        )
                    }
                    _ => error.to_string(),
                };
                Outcome {
                    attempts: counted.attempts,
                    http_status,
                    error: Some(redact_url_parts(&message, url.expose())),
                }
            }
        }
    }

    async fn deliver_email(&self, alert: &Alert, target: &Target, to: &[String]) -> Outcome {
        let Some((smtp, from)) = &self.smtp else {
            return Outcome::refused("e-mail delivery is not configured (no SMTP server)");
        };
        let template = match target.template() {
            Ok(template) => template,
            Err(error) => return Outcome::refused(error),
        };
        let ips = match resolve_checked("smtp.host", &smtp.host, &self.policy).await {
            Ok(ips) => ips,
            Err(error) => return Outcome::refused(error),
        };
        let message = template.render(alert);
        let email = Email { from, to, message: &message };
        let mut attempts = 0;
        loop {
            // Only checked addresses, the next one on each retry: the session goes where the guard looked.
            let ip = ips[usize::try_from(attempts).unwrap_or(0) % ips.len()];
            attempts += 1;
            match send_once(smtp, ip, &email).await {
                Ok(()) => return Outcome { attempts, http_status: None, error: None },
                Err(failure) if failure.retryable && attempts <= self.max_retries => {
                    let wait =
                        self.backoff_base.saturating_mul(1 << (attempts - 1).min(16)).min(self.backoff_max);
                    tracing::warn!(error = %self.smtp_redactor.redact(&failure.message), attempt = attempts, ?wait, "Retrying e-mail.");
                    tokio::time::sleep(wait).await;
                }
                Err(failure) => {
                    let error = format!("smtp: {}", self.smtp_redactor.redact(&failure.message));
                    return Outcome { attempts, http_status: None, error: Some(error) };
                }
            }
        }
    }
}

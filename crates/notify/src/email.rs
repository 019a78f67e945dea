//! E-mail over SMTP (lettre), to the address the guard checked.

use std::net::IpAddr;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use outbound::Secret;
use serde::{Deserialize, Serialize};

use crate::template::truncate_chars;

/// The longest SMTP session allowed (`timeout_secs`): ten minutes. A delivery holds the
/// monitor's pass, so a longer wait protects nothing.
pub const MAX_SMTP_TIMEOUT_SECS: u64 = 600;

/// The longest subject line, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test server.
    None,
    /// STARTTLS, required (port 587): a server that does not offer it is an error, never a
    /// silent downgrade. Spelled `starttls` (`start_tls` is accepted too).
    #[default]
    #[serde(rename = "starttls", alias = "start_tls")]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// The SMTP server alerts are sent through. The host goes through the same guard as webhooks:
/// a relay on localhost or in the LAN is named in the policy's `allowed_hosts`.
///
/// Serializes for the effective config (`tickerwatch config show`) with the password as `***`
/// ([`Secret`]); `Debug` masks it too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// 587 for STARTTLS, 465 for TLS, 25 for a plain relay.
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// The sender, `Alerts <alerts@example.com>` or a bare address.
    pub from: String,
    /// One SMTP session, connect to QUIT.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_timeout_secs() -> u64 {
    30
}

/// Equal settings: the passwords are compared by value (config reloads and tests compare
/// configs; nothing compares a password a client sent).
impl PartialEq for SmtpConfig {
    fn eq(&self, other: &Self) -> bool {
        self.host == other.host
            && self.port == other.port
            && self.tls == other.tls
            && self.username == other.username
            && self.password.as_ref().map(Secret::expose) == other.password.as_ref().map(Secret::expose)
            && self.from == other.from
            && self.timeout_secs == other.timeout_secs
    }
}

impl Eq for SmtpConfig {}

/// Why the SMTP settings are unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("smtp.host: must not be empty")]
    NoHost,
    #[error("smtp.port: must be from 1 to 65535")]
    NoPort,
    #[error("smtp.timeout_secs: must be from 1 to {MAX_SMTP_TIMEOUT_SECS}")]
    Timeout,
    #[error("smtp.from: {from:?} is not a mailbox ({reason})")]
    From { from: String, reason: String },
    #[error("smtp.password: a username needs a password")]
    NoPassword,
}

impl SmtpConfigError {
    /// The key at fault, inside the SMTP table: `host`, `port`, `timeout_secs`, `from`,
    /// `password`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::NoHost => "host",
            Self::NoPort => "port",
            Self::Timeout => "timeout_secs",
            Self::From { .. } => "from",
            Self::NoPassword => "password",
        }
    }
}

impl SmtpConfig {
    /// Checks the settings and parses the sender.
    ///
    /// # Errors
    /// The first bad field.
    pub fn validate(&self) -> Result<Mailbox, SmtpConfigError> {
        if self.host.trim().is_empty() {
            return Err(SmtpConfigError::NoHost);
        }
        if self.port == 0 {
            return Err(SmtpConfigError::NoPort);
        }
        if !(1..=MAX_SMTP_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(SmtpConfigError::Timeout);
        }
        if self.username.is_some() && self.password.is_none() {
            return Err(SmtpConfigError::NoPassword);
        }
        self.from.parse().map_err(|e: lettre::address::AddressError| SmtpConfigError::From {
            from: self.from.clone(),
            reason: e.to_string(),
        })
    }
}

/// An e-mail ready to send.
pub(crate) struct Email<'a> {
    pub(crate) from: &'a Mailbox,
    pub(crate) to: &'a [String],
    pub(crate) message: &'a str,
}

/// The subject: the message's first non-blank line, without control characters, cut to
/// [`MAX_SUBJECT_CHARS`].
pub(crate) fn subject(message: &str) -> String {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("tickerwatch alert");
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    truncate_chars(&clean, MAX_SUBJECT_CHARS)
}

/// Why one SMTP attempt failed, and whether another may succeed.
pub(crate) struct SendFailure {
    pub(crate) message: String,
    pub(crate) retryable: bool,
}

/// Sends `email` once through `config`'s server at `ip` (already checked), presenting
/// `config.host` for TLS.
pub(crate) async fn send_once(config: &SmtpConfig, ip: IpAddr, email: &Email<'_>) -> Result<(), SendFailure> {
    let permanent = |message: String| SendFailure { message, retryable: false };
    let mut builder = Message::builder().from(email.from.clone()).subject(subject(email.message));
    for to in email.to {
        let mailbox: Mailbox = to.parse().map_err(|e| permanent(format!("to: {to:?}: {e}")))?;
        builder = builder.to(mailbox);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(email.message.to_owned())
        .map_err(|e| permanent(format!("cannot build the message: {e}")))?;
    let tls_parameters =
        || TlsParameters::new(config.host.clone()).map_err(|e| permanent(format!("smtp.tls: {e}")));
    let tls = match config.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls => Tls::Required(tls_parameters()?),
        SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ip.to_string())
        .port(config.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
    if let (Some(username), Some(password)) = (&config.username, &config.password) {
        transport = transport.credentials(Credentials::new(username.clone(), password.expose().to_owned()));
    }
    let transport = transport.build();
    transport.send(message).await.map(|_| ()).map_err(|e| SendFailure {
        // 4xx answers, timeouts and connection failures may pass on a later try; 5xx answers,
        // TLS and our own mistakes will not.
        retryable: e.is_transient()
            || e.is_timeout()
            || !(e.is_permanent() || e.is_tls() || e.is_client() || e.is_response()),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("alerts".into()),
            password: Some(Secret::new("hunter2-smtp")),
            from: "tickerwatch <alerts@example.com>".into(),
            timeout_secs: 30,
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(config().validate().is_ok());
        type Change = fn(&mut SmtpConfig);
        let cases: [(Change, &str); 5] = [
            (|c| c.host = " ".into(), "smtp.host"),
            (|c| c.port = 0, "smtp.port"),
            (|c| c.timeout_secs = 0, "smtp.timeout_secs"),
            (|c| c.password = None, "smtp.password"),
            (|c| c.from = "not a mailbox".into(), "smtp.from"),
        ];
        for (change, field) in cases {
            let mut bad = config();
            change(&mut bad);
            let message = bad.validate().unwrap_err().to_string();
            assert!(message.starts_with(field), "{field}: {message}");
        }
    }

    #[test]
    fn tls_modes_are_spelled_as_documented() {
        for (text, tls) in [("none", SmtpTls::None), ("starttls", SmtpTls::StartTls), ("tls", SmtpTls::Tls)] {
            assert_eq!(serde_json::from_str::<SmtpTls>(&format!("\"{text}\"")).unwrap(), tls);
            assert_eq!(serde_json::to_string(&tls).unwrap(), format!("\"{text}\""));
        }
        assert_eq!(serde_json::from_str::<SmtpTls>("\"start_tls\"").unwrap(), SmtpTls::StartTls);
    }

    #[test]
    fn the_password_never_shows() {
        let config = config();
        let json = serde_json::to_string(&config).unwrap();
        assert!(!json.contains("hunter2") && json.contains("\"password\":\"***\""), "{json}");
        assert!(!format!("{config:?}").contains("hunter2"));
        let error = SmtpConfig { from: "x".into(), ..config }.validate().unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}

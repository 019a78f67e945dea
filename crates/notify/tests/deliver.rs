//! Deliveries end to end: webhooks against wiremock on loopback (allowed by the policy), the
//! SSRF guard with a strict policy (nothing reaches the server), e-mail to an SMTP sink the
//! test runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{
    Alert, DeliveryAttempt, DeliveryStatus, Notifier, NotifierConfig, SmtpConfig, SmtpTls, Target,
    TargetPolicy, WebhookFormat, WebhookUrl,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn alert() -> Alert {
    Alert {
        id: 42,
        symbol: "NVDA".into(),
        rule: "price above 900".into(),
        kind: "price_above".into(),
        value: 901.25,
        threshold: 900.0,
        previous: Some(899.5),
        price: Some(901.25),
        provider: Some("yahoo".into()),
        fired_at: "2024-05-01T14:30:00Z".parse().unwrap(),
    }
}

fn open() -> TargetPolicy {
    TargetPolicy { allow_private: true, allowed_hosts: vec![] }
}

fn notifier_with(policy: TargetPolicy, smtp: Option<SmtpConfig>) -> Notifier {
    let mut config = NotifierConfig::new(policy);
    config.http.max_retries = 2;
    config.http.backoff_base = Duration::from_millis(1);
    config.http.backoff_max = Duration::from_millis(5);
    config.http.max_retry_wait = Duration::from_secs(5);
    config.smtp = smtp;
    Notifier::new(config).expect("a notifier")
}

fn notifier(policy: TargetPolicy) -> Notifier {
    notifier_with(policy, None)
}

fn webhook(url: impl Into<String>, format: WebhookFormat, template: Option<&str>) -> Target {
    Target::Webhook { url: WebhookUrl::new(url), format, template: template.map(str::to_owned) }
}

fn assert_delivered(attempt: &DeliveryAttempt, attempts: u32) {
    assert_eq!(attempt.status, DeliveryStatus::Delivered, "{attempt:?}");
    assert_eq!(attempt.attempts, attempts, "{attempt:?}");
    assert_eq!(attempt.error, None);
}

async fn hook_server(body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn json_is_the_whole_alert_plus_the_message() {
    let server = hook_server(json!({
        "id": 42,
        "symbol": "NVDA",
        "rule": "price above 900",
        "kind": "price_above",
        "value": 901.25,
        "threshold": 900.0,
        "previous": 899.5,
        "price": 901.25,
        "provider": "yahoo",
        "fired_at": "2024-05-01T14:30:00Z",
        "message": "NVDA: price above 900 (price_above 901.25, threshold 900, previous 899.5; price 901.25, yahoo, 2024-05-01T14:30:00Z)",
    }))
    .await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Json, None);
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_delivered(&attempt, 1);
    assert_eq!(attempt.http_status, Some(204));
}

#[tokio::test]
async fn slack_gets_text_with_values_escaped() {
    let mut alert = alert();
    alert.rule = "<!channel> & above 900".into();
    let server = hook_server(json!({
        "text": "*NVDA* &lt;!channel&gt; &amp; above 900\nprice_above 901.25 (threshold 900, previous 899.5) · price 901.25 · yahoo · 2024-05-01T14:30:00Z",
    }))
    .await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Slack, None);
    assert_delivered(&notifier(open()).deliver(&alert, &target).await, 1);
}

#[tokio::test]
async fn discord_gets_content_cut_to_2000_characters_and_no_pings() {
    let server = hook_server(json!({
        "content": "**NVDA** price above 900\nprice_above 901.25 (threshold 900, previous 899.5) · price 901.25 · yahoo · 2024-05-01T14:30:00Z",
        "allowed_mentions": { "parse": [] },
    }))
    .await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Discord, None);
    assert_delivered(&notifier(open()).deliver(&alert(), &target).await, 1);

    let server = MockServer::start().await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    let mut long = alert();
    long.rule = "é".repeat(3000);
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Discord, Some("{rule}"));
    assert_delivered(&notifier(open()).deliver(&long, &target).await, 1);
    let requests = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    let content = body["content"].as_str().unwrap();
    assert_eq!(content.chars().count(), 2000);
    assert!(content.ends_with("é…"), "cut on a character boundary");
}

#[tokio::test]
async fn own_templates_render_and_unknown_placeholders_are_refused() {
    let server = hook_server(json!({ "text": "NVDA at 901.25 (was n/a) #42 {x}" })).await;
    let mut alert = alert();
    alert.previous = None;
    let target = webhook(
        format!("{}/hook", server.uri()),
        WebhookFormat::Slack,
        Some("{symbol} at {price} (was {previous}) #{id} {{x}}"),
    );
    assert_delivered(&notifier(open()).deliver(&alert, &target).await, 1);

    let server = MockServer::start().await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Slack, Some("{symbol} {colour}"));
    let attempt = notifier(open()).deliver(&alert, &target).await;
    assert_eq!(attempt.status, DeliveryStatus::Failed);
    assert_eq!(attempt.attempts, 0);
    let error = attempt.error.unwrap();
    assert!(error.starts_with("template: unknown placeholder {colour}"), "{error}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_target_that_is_down_is_retried_then_failed_without_its_secret() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/services/T0AAA/B0BBB/SECRETTOKEN123?token=QUERYSECRET");
    let target = webhook(url, WebhookFormat::Slack, None);
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_eq!(attempt.status, DeliveryStatus::Failed);
    assert_eq!(attempt.attempts, 3, "one attempt and two retries");
    assert_eq!(attempt.http_status, None);
    let error = attempt.error.unwrap();
    for secret in ["SECRETTOKEN123", "T0AAA", "QUERYSECRET", "/services"] {
        assert!(!error.contains(secret), "{secret} in {error}");
    }
}

#[tokio::test]
async fn a_server_error_then_success_is_delivered_on_the_second_attempt() {
    let server = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Json, None);
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_delivered(&attempt, 2);
    assert_eq!(attempt.http_status, Some(200));
}

#[tokio::test]
async fn a_4xx_is_not_retried_and_its_excerpt_loses_the_secret() {
    let server = MockServer::start().await;
    Mock::given(path("/hook/SECRETTOKEN123"))
        .respond_with(ResponseTemplate::new(404).set_body_string("no webhook SECRETTOKEN123"))
        .expect(1)
        .mount(&server)
        .await;
    let target = webhook(format!("{}/hook/SECRETTOKEN123", server.uri()), WebhookFormat::Json, None);
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_eq!(
        (attempt.status, attempt.attempts, attempt.http_status),
        (DeliveryStatus::Failed, 1, Some(404))
    );
    let error = attempt.error.unwrap();
    assert!(error.contains("HTTP 404") && !error.contains("SECRETTOKEN123"), "{error}");
}

#[tokio::test]
async fn retry_after_is_waited_for_within_a_bound() {
    let server = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Json, None);
    let started = Instant::now();
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_delivered(&attempt, 2);
    assert!(started.elapsed() >= Duration::from_millis(950), "waited only {:?}", started.elapsed());

    // A wait beyond max_retry_wait (5 s here) is not slept through.
    let server = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let target = webhook(format!("{}/hook", server.uri()), WebhookFormat::Json, None);
    let started = Instant::now();
    let attempt = notifier(open()).deliver(&alert(), &target).await;
    assert_eq!(
        (attempt.status, attempt.attempts, attempt.http_status),
        (DeliveryStatus::Failed, 1, Some(429))
    );
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn private_and_odd_targets_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(path("/hook")).respond_with(ResponseTemplate::new(204)).expect(0).mount(&server).await;
    let port = server.address().port();
    let strict = notifier(TargetPolicy::default());
    let cases = [
        (format!("http://127.0.0.1:{port}/hook"), "loopback"),
        (format!("http://localhost:{port}/hook"), "loopback"),
        (format!("http://[::1]:{port}/hook"), "loopback"),
        (format!("http://[::ffff:127.0.0.1]:{port}/hook"), "loopback"),
        ("http://169.254.169.254/latest/meta-data".to_owned(), "link-local (incl. cloud metadata)"),
        ("http://10.0.0.5/hook".to_owned(), "private (RFC 1918)"),
        ("http://100.64.1.1/hook".to_owned(), "carrier-grade NAT"),
        ("http://[fd00::1]/hook".to_owned(), "unique local"),
        ("ftp://example.com/hook".to_owned(), "scheme \"ftp\" is not allowed"),
        ("file:///etc/passwd".to_owned(), "scheme \"file\" is not allowed"),
    ];
    for (url, why) in cases {
        let attempt = strict.deliver(&alert(), &webhook(url.clone(), WebhookFormat::Json, None)).await;
        assert_eq!((attempt.status, attempt.attempts), (DeliveryStatus::Failed, 0), "{url}");
        let error = attempt.error.unwrap();
        assert!(error.starts_with("url: ") && error.contains(why), "{url}: {error}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_to_loopback_is_not_followed() {
    let inside = MockServer::start().await;
    Mock::given(path("/admin")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&inside).await;
    let outside = MockServer::start().await;
    Mock::given(path("/hook"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", format!("{}/admin", inside.uri())))
        .expect(1)
        .mount(&outside)
        .await;
    // Only `localhost` may be private: the allowed host, standing in for a public one.
    let policy = TargetPolicy { allow_private: false, allowed_hosts: vec!["localhost".into()] };
    let url = format!("http://localhost:{}/hook", outside.address().port());
    let attempt = notifier(policy).deliver(&alert(), &webhook(url, WebhookFormat::Json, None)).await;
    assert_eq!(
        (attempt.status, attempt.attempts, attempt.http_status),
        (DeliveryStatus::Failed, 1, Some(302))
    );
    assert!(attempt.error.unwrap().contains("redirects are not followed"));
    assert!(inside.received_requests().await.unwrap().is_empty());
}

/// One message the SMTP sink accepted.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A line-based SMTP server on loopback that accepts everything and records what it got.
struct SmtpSink {
    addr: SocketAddr,
    messages: Arc<Mutex<Vec<Received>>>,
    sessions: Arc<Mutex<usize>>,
}

impl SmtpSink {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(Mutex::new(0));
        let (messages_in, sessions_in) = (messages.clone(), sessions.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                *sessions_in.lock().unwrap() += 1;
                let messages = messages_in.clone();
                tokio::spawn(async move {
                    let _ = session(stream, messages).await;
                });
            }
        });
        Self { addr, messages, sessions }
    }

    fn messages(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

async fn session(stream: tokio::net::TcpStream, messages: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if let Some(rest) = upper.strip_prefix("MAIL FROM:") {
            from = line[line.len() - rest.len()..].trim().to_owned();
            b"250 OK\r\n"
        } else if let Some(rest) = upper.strip_prefix("RCPT TO:") {
            to.push(line[line.len() - rest.len()..].trim().to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            messages.lock().unwrap().push(Received { from: from.clone(), to: std::mem::take(&mut to), data });
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

fn smtp_config(sink: &SmtpSink) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: sink.addr.port(),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "tickerwatch <alerts@example.com>".into(),
        timeout_secs: 5,
    }
}

fn email_target() -> Target {
    Target::Email { to: vec!["ops@example.com".into(), "me@example.org".into()], template: None }
}

#[tokio::test]
async fn email_reaches_the_smtp_server_with_subject_and_body() {
    let sink = SmtpSink::start().await;
    let notifier = notifier_with(open(), Some(smtp_config(&sink)));
    let attempt = notifier.deliver(&alert(), &email_target()).await;
    assert_delivered(&attempt, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.from, "<alerts@example.com>");
    assert_eq!(message.to, ["<ops@example.com>", "<me@example.org>"]);
    assert!(message.data.contains("Subject: NVDA: price above 900\n"), "{}", message.data);
    for line in ["Value: 901.25 (price_above)", "Threshold: 900", "Previous: 899.5", "Alert: 42"] {
        assert!(message.data.contains(line), "{line} in {}", message.data);
    }
}

#[tokio::test]
async fn email_to_a_private_smtp_host_is_refused_unless_allowed_by_name() {
    let sink = SmtpSink::start().await;
    let strict = notifier_with(TargetPolicy::default(), Some(smtp_config(&sink)));
    let attempt = strict.deliver(&alert(), &email_target()).await;
    assert_eq!((attempt.status, attempt.attempts), (DeliveryStatus::Failed, 0));
    assert!(attempt.error.unwrap().starts_with("smtp.host: 127.0.0.1, a loopback address"));
    assert_eq!(*sink.sessions.lock().unwrap(), 0, "no connection made");

    let relay = TargetPolicy { allow_private: false, allowed_hosts: vec!["127.0.0.1".into()] };
    let attempt = notifier_with(relay, Some(smtp_config(&sink))).deliver(&alert(), &email_target()).await;
    assert_delivered(&attempt, 1);

    let attempt = notifier(open()).deliver(&alert(), &email_target()).await;
    assert_eq!(attempt.error.as_deref(), Some("e-mail delivery is not configured (no SMTP server)"));
}

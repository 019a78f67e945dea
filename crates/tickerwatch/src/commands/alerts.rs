//! `tickerwatch alerts add|list|pause|resume|rearm|remove|history|test`: the stock monitor's
//! rules and alerts from the command line, checked as the API checks them.

use anyhow::{Context as _, bail};
use domain::Symbol;
use monitor::{Condition, Direction, Frequency, Rule};
use storage::{AlertRule, Stored};

use crate::app::App;
use crate::cli::{AlertAddArgs, AlertsCommand};
use crate::output;

/// Runs an alerts subcommand; false when a test delivery failed.
///
/// # Errors
/// A bad rule (naming the field), an unknown rule id, or a database failure.
pub async fn run(app: &App, command: AlertsCommand) -> anyhow::Result<bool> {
    match command {
        AlertsCommand::Add(args) => {
            let rule = rule_from_args(app, args).await?;
            let stored = app.storage.create_alert_rule(&rule).await?;
            println!("Rule {} added: {}", stored.id, describe(&stored));
        }
        AlertsCommand::List => {
            let rules = app.storage.alert_rules().await?;
            let mut table = output::table(&["id", "symbol", "rule", "frequency", "state", "targets"]);
            for rule in &rules {
                table.add_row(vec![
                    rule.id.to_string(),
                    rule.symbol.as_ref().map_or_else(|| "(watchlist)".to_owned(), ToString::to_string),
                    describe(rule),
                    Frequency::describe(rule.rule.frequency),
                    if rule.rule.paused { "paused".to_owned() } else { "active".to_owned() },
                    rule.targets.len().to_string(),
                ]);
            }
            println!("{table}");
            println!("{} rule(s)", rules.len());
        }
        AlertsCommand::Pause { id } => change(app, id, "paused", |rule| rule.rule.paused = true).await?,
        AlertsCommand::Resume { id } => change(app, id, "resumed", |rule| rule.rule.paused = false).await?,
        AlertsCommand::Rearm { id } => {
            existing(app, id).await?;
            app.storage.reset_rule_states(id).await?;
            println!("Rule {id} re-armed.");
        }
        AlertsCommand::Remove { id } => {
            if !app.storage.delete_alert_rule(id).await? {
                bail!("alert rule {id} not found");
            }
            println!("Rule {id} removed (its alerts are kept).");
        }
        AlertsCommand::History { symbol, since, limit } => {
            let since = since.map(domain::calendar::date_stamp);
            let alerts = app.storage.alerts(since, symbol.as_ref(), limit).await?;
            let mut table =
                output::table(&["id", "fired", "symbol", "rule", "value", "threshold", "provider", "ack"]);
            for alert in &alerts {
                table.add_row(vec![
                    alert.id.to_string(),
                    alert.fired_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    alert.symbol.to_string(),
                    alert.rule.clone(),
                    format!("{:.4}", alert.observed),
                    format!("{:.4}", alert.threshold),
                    alert.provider.clone().unwrap_or_default(),
                    if alert.acknowledged_at.is_some() { "yes".to_owned() } else { String::new() },
                ]);
            }
            println!("{table}");
            println!("{} alert(s)", alerts.len());
        }
        AlertsCommand::Test { id } => return test(app, id).await,
    }
    Ok(true)
}

async fn existing(app: &App, id: i64) -> anyhow::Result<Stored<AlertRule>> {
    app.storage.alert_rule(id).await?.with_context(|| format!("alert rule {id} not found"))
}

async fn change(app: &App, id: i64, done: &str, edit: impl FnOnce(&mut AlertRule)) -> anyhow::Result<()> {
    let mut rule = existing(app, id).await?.value;
    edit(&mut rule);
    app.storage.update_alert_rule(id, &rule).await?;
    println!("Rule {id} {done}.");
    Ok(())
}

async fn rule_from_args(app: &App, args: AlertAddArgs) -> anyhow::Result<AlertRule> {
    let condition = match (args.above, args.below, &args.condition) {
        (Some(level), None, None) => Condition::Price { direction: Direction::Above, level },
        (None, Some(level), None) => Condition::Price { direction: Direction::Below, level },
        (None, None, Some(json)) => {
            serde_json::from_str(json).with_context(|| format!("--condition is not a condition: {json}"))?
        }
        _ => bail!("give one of --above, --below or --condition"),
    };
    let frequency = match args.frequency.as_str() {
        "once" => Frequency::Once,
        "once-per-day" => Frequency::OncePerDay,
        "every" => Frequency::Every { cooldown_secs: args.cooldown },
        other => bail!("--frequency {other:?}: expected once, once-per-day or every"),
    };
    let symbol = match (args.symbol, args.watchlist) {
        (Some(symbol), false) => Some(known(app, symbol).await?),
        _ => None,
    };
    let mut targets = Vec::with_capacity(args.webhook.len());
    for webhook in &args.webhook {
        let (format, url) = match webhook.split_once(':') {
            Some((format @ ("slack" | "discord"), url)) => (format, url),
            _ => ("json", webhook.as_str()),
        };
        let target = serde_json::json!({"type": "webhook", "url": url, "format": format});
        // An IP address the delivery policy refuses is refused now; names at each delivery.
        notify::Target::from_json(&target, &app.config.jobs.monitor.targets)
            .map_err(|e| anyhow::anyhow!("--webhook: {e}"))?;
        targets.push(target);
    }
    let rule = Rule { condition, frequency, hysteresis: args.hysteresis, expires_at: None, paused: false };
    rule.validate().map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    Ok(AlertRule { symbol, name: args.name, rule, targets })
}

/// A symbol with stored bars or on the watchlist, so a typo is not a rule that never fires.
async fn known(app: &App, symbol: Symbol) -> anyhow::Result<Symbol> {
    if !app.storage.is_known_symbol(&symbol).await? {
        bail!("{symbol} has no stored bars and is not on the watchlist; fetch or watch it first");
    }
    Ok(symbol)
}

fn describe(rule: &AlertRule) -> String {
    let condition = rule.rule.condition.describe();
    match &rule.name {
        Some(name) => format!("{name}: {condition}"),
        None => condition,
    }
}

/// Delivers a sample alert to each target of rule `id`, with the address policy of the
/// config; prints each outcome. False when one failed.
async fn test(app: &App, id: i64) -> anyhow::Result<bool> {
    let rule = existing(app, id).await?;
    if rule.targets.is_empty() {
        println!("Rule {id} has no targets; its alerts are only stored (and shown by the API).");
        return Ok(true);
    }
    let config = app.config.jobs.monitor.notifier_config();
    let notifier = notify::Notifier::new(config).context("cannot set up alert delivery")?;
    let sample = notify::Alert {
        id: 0,
        symbol: rule.symbol.as_ref().map_or_else(|| "TEST".to_owned(), ToString::to_string),
        rule: format!("test of rule {id}: {}", describe(&rule)),
        kind: "test".to_owned(),
        value: 0.0,
        threshold: 0.0,
        previous: None,
        price: None,
        provider: None,
        fired_at: chrono::Utc::now(),
    };
    let mut all_delivered = true;
    for target in &rule.targets {
        let (shown, attempt) = match serde_json::from_value::<notify::Target>(target.clone()) {
            Ok(target) => (target.to_string(), notifier.deliver(&sample, &target).await),
            Err(error) => {
                println!("(invalid target): failed: {error}");
                all_delivered = false;
                continue;
            }
        };
        let delivered = attempt.status == notify::DeliveryStatus::Delivered;
        all_delivered &= delivered;
        println!(
            "{shown}: {} after {} attempt(s) in {} ms{}",
            if delivered { "delivered" } else { "failed" },
            attempt.attempts,
            attempt.latency_ms,
            attempt.error.map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    Ok(all_delivered)
}

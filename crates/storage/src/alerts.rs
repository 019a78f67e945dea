//! The stock monitor's rules, their per-symbol state and the alerts they fired (migration 0007).
//!
//! The firing semantics live in the `monitor` crate; this module keeps its values. A firing and
//! the rule state that records it are written in one transaction, and an alert is unique per
//! rule, symbol, day and instant: evaluating the same bar again (a restart, a second poll)
//! stores nothing twice and re-fires nothing.

use chrono::{DateTime, NaiveDate, Utc};
use domain::Symbol;
use monitor::{Rule, RuleState};
use serde::{Deserialize, Serialize};

use crate::rows::{RowExt, from_unix, now_unix, sql_limit, symbol_col, to_unix};
use crate::{Backend, Storage, StorageError, Stored};

/// A rule as the user defines it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRule {
    /// The symbol watched; none for every symbol on the watchlist.
    pub symbol: Option<Symbol>,
    /// A name for messages and lists.
    pub name: Option<String>,
    #[serde(flatten)]
    pub rule: Rule,
    /// Where alerts go besides the API (webhooks, e-mail); kept as given, validated by the
    /// delivery side.
    #[serde(default)]
    pub targets: Vec<serde_json::Value>,
}

impl AlertRule {
    /// What makes two rules the same: the symbol (or every symbol) and the condition (as
    /// [`Rule::duplicates`] says); the unique index on it holds against races.
    fn dedupe_key(&self) -> Result<String, StorageError> {
        let condition = serde_json::to_string(&self.rule.condition)
            .map_err(|e| StorageError::invalid("alert rule", e.to_string()))?;
        Ok(format!("{}|{condition}", self.symbol.as_ref().map_or("*", Symbol::as_str)))
    }
}

/// One firing of a rule, with the values that made it fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The rule; none once the rule was deleted.
    pub rule_id: Option<i64>,
    pub symbol: Symbol,
    /// The condition's kind, e.g. `price` or `cross`.
    pub kind: String,
    /// The rule's name or description at the time it fired.
    pub rule: String,
    pub fired_at: DateTime<Utc>,
    /// The trading day of the bar or quote that fired it.
    pub day: NaiveDate,
    /// The value that crossed (a price, a percent, an RSI…). (Not `value`: `Stored` has one.)
    pub observed: f64,
    /// What it crossed.
    pub threshold: f64,
    /// The value before (the previous close, the previous score…).
    pub previous: Option<f64>,
    /// The provider of the bar or quote.
    pub provider: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// Key of the PostgreSQL advisory lock a transaction that stores alerts holds until it commits
/// (the bytes of `twalerts`). Why: ids come from a sequence, so two concurrent transactions can
/// commit out of id order, and a reader that had seen id 11 would skip id 10 committed after it.
/// Under the lock the writers commit one after the other, so a committed id is never lower than
/// one already visible. SQLite needs nothing: `BEGIN IMMEDIATE` already serialises writers.
const ALERT_ORDER_LOCK: i64 = 0x7477_616c_6572_7473;
const ALERT_ORDER_LOCK_SQL: &str = "SELECT pg_advisory_xact_lock($1)";

const RULE_COLUMNS: &str = "id, created_at, symbol, name, rule, targets";
const ALERT_COLUMNS: &str =
    "id, rule_id, symbol, kind, rule, fired_at, day, value, threshold, previous, provider, acknowledged_at";

fn json_col<T: serde::de::DeserializeOwned>(
    row: &impl RowExt,
    column: &'static str,
) -> Result<T, StorageError> {
    let text = row.text(column)?;
    serde_json::from_str(&text).map_err(|e| StorageError::corrupt(column, &text, e))
}

fn to_json(what: &'static str, value: &impl Serialize) -> Result<String, StorageError> {
    serde_json::to_string(value).map_err(|e| StorageError::invalid(what, e.to_string()))
}

fn rule_from_row(row: &impl RowExt) -> Result<Stored<AlertRule>, StorageError> {
    let symbol = row
        .text_opt("symbol")?
        .map(|s| Symbol::parse(&s).map_err(|e| StorageError::corrupt("symbol", &s, e)));
    Ok(Stored {
        id: row.int("id")?,
        created_at: from_unix("created_at", row.int("created_at")?)?,
        value: AlertRule {
            symbol: symbol.transpose()?,
            name: row.text_opt("name")?,
            rule: json_col(row, "rule")?,
            targets: json_col(row, "targets")?,
        },
    })
}

fn alert_from_row(row: &impl RowExt) -> Result<Stored<Alert>, StorageError> {
    let fired_at = from_unix("fired_at", row.int("fired_at")?)?;
    let day = row.text("day")?;
    Ok(Stored {
        id: row.int("id")?,
        created_at: fired_at,
        value: Alert {
            rule_id: row.int_opt("rule_id")?,
            symbol: symbol_col(row, "symbol")?,
            kind: row.text("kind")?,
            rule: row.text("rule")?,
            fired_at,
            day: day.parse().map_err(|e| StorageError::corrupt("day", &day, e))?,
            observed: row.real("value")?,
            threshold: row.real("threshold")?,
            previous: row.real_opt("previous")?,
            provider: row.text_opt("provider")?,
            acknowledged_at: row
                .int_opt("acknowledged_at")?
                .map(|secs| from_unix("acknowledged_at", secs))
                .transpose()?,
        },
    })
}

impl Storage {
    /// Stores a new rule (validated by the `monitor` crate first).
    ///
    /// # Errors
    /// [`StorageError::Invalid`] for an invalid rule, [`StorageError::DuplicateAlertRule`] for a
    /// duplicate of an existing one (same symbol and condition), [`StorageError::Query`] if the
    /// database fails.
    pub async fn create_alert_rule(&self, rule: &AlertRule) -> Result<Stored<AlertRule>, StorageError> {
        let key = self.checked_key(rule, None).await?;
        let sql = format!(
            "INSERT INTO alert_rules (created_at, symbol, name, rule, targets, dedupe_key) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {RULE_COLUMNS}"
        );
        self.write_alert_rule(sql, now_unix(), rule, &key)
            .await?
            .ok_or_else(|| StorageError::corrupt("alert_rules", &key, "INSERT returned no row"))
    }

    /// Validates `rule` and returns its dedupe key, refusing a duplicate of a rule other than
    /// `except`.
    async fn checked_key(&self, rule: &AlertRule, except: Option<i64>) -> Result<String, StorageError> {
        rule.rule.validate().map_err(|e| StorageError::invalid("alert rule", e.to_string()))?;
        let key = rule.dedupe_key()?;
        if let Some(existing) =
            self.alert_rule_by_key(&key).await?.filter(|existing| Some(*existing) != except)
        {
            return Err(StorageError::DuplicateAlertRule { existing });
        }
        Ok(key)
    }

    /// Runs the INSERT or UPDATE `sql` of a rule: `$1` is the creation time or the id, `$2`–`$6`
    /// the rule's columns.
    async fn write_alert_rule(
        &self,
        sql: String,
        first: i64,
        rule: &AlertRule,
        key: &str,
    ) -> Result<Option<Stored<AlertRule>>, StorageError> {
        let rule_json = to_json("alert rule", &rule.rule)?;
        let targets = to_json("alert rule targets", &rule.targets)?;
        Ok(with_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(first)
                .bind(rule.symbol.as_ref().map(Symbol::as_str))
                .bind(rule.name.as_deref())
                .bind(&rule_json)
                .bind(&targets)
                .bind(key)
                .fetch_all(pool)
                .await?;
            match rows.first() {
                Some(row) => Some(rule_from_row(row)?),
                None => None,
            }
        }))
    }

    async fn alert_rule_by_key(&self, key: &str) -> Result<Option<i64>, StorageError> {
        const SQL: &str = "SELECT id FROM alert_rules WHERE dedupe_key = $1";
        Ok(with_pool!(self, pool => {
            match sqlx::query(SQL).bind(key).fetch_optional(pool).await? {
                Some(row) => Some(row.int("id")?),
                None => None,
            }
        }))
    }

    /// Every rule, oldest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alert_rules(&self) -> Result<Vec<Stored<AlertRule>>, StorageError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id");
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?.iter().map(rule_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// One rule.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alert_rule(&self, id: i64) -> Result<Option<Stored<AlertRule>>, StorageError> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(rule_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Replaces a rule (pause, resume, a new expiry, threshold or targets); `None` when there is
    /// no such rule. A changed condition starts its state afresh (re-armed at the next
    /// evaluation).
    ///
    /// # Errors
    /// As [`create_alert_rule`](Self::create_alert_rule).
    pub async fn update_alert_rule(
        &self,
        id: i64,
        rule: &AlertRule,
    ) -> Result<Option<Stored<AlertRule>>, StorageError> {
        let Some(before) = self.alert_rule(id).await? else { return Ok(None) };
        let key = self.checked_key(rule, Some(id)).await?;
        let sql = format!(
            "UPDATE alert_rules SET symbol = $2, name = $3, rule = $4, targets = $5, dedupe_key = $6 \
             WHERE id = $1 RETURNING {RULE_COLUMNS}"
        );
        let updated = self.write_alert_rule(sql, id, rule, &key).await?;
        if before.rule.condition != rule.rule.condition || before.symbol != rule.symbol {
            self.reset_rule_states(id).await?;
        }
        Ok(updated)
    }

    /// Deletes a rule and its state; its alerts stay (without the rule id). False when there was
    /// no such rule.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn delete_alert_rule(&self, id: i64) -> Result<bool, StorageError> {
        const SQL: &str = "DELETE FROM alert_rules WHERE id = $1";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(id).execute(pool).await?.rows_affected() > 0
        }))
    }

    /// Forgets a rule's state for every symbol: it is armed afresh at its next evaluation (a
    /// changed condition, or the user re-arming it).
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn reset_rule_states(&self, rule_id: i64) -> Result<(), StorageError> {
        const SQL: &str = "DELETE FROM alert_rule_states WHERE rule_id = $1";
        with_pool!(self, pool => {
            sqlx::query(SQL).bind(rule_id).execute(pool).await?;
        });
        Ok(())
    }

    /// A rule's state for one symbol; none before its first evaluation.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn rule_state(&self, rule_id: i64, symbol: &Symbol) -> Result<Option<RuleState>, StorageError> {
        const SQL: &str = "SELECT state FROM alert_rule_states WHERE rule_id = $1 AND symbol = $2";
        Ok(with_pool!(self, pool => {
            match sqlx::query(SQL).bind(rule_id).bind(symbol.as_str()).fetch_optional(pool).await? {
                Some(row) => Some(json_col(&row, "state")?),
                None => None,
            }
        }))
    }

    /// Every rule's state, by rule and symbol: one query for a whole evaluation pass.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails, [`StorageError::Corrupt`] for an
    /// unreadable state.
    pub async fn rule_states(
        &self,
    ) -> Result<std::collections::HashMap<(i64, Symbol), RuleState>, StorageError> {
        const SQL: &str = "SELECT rule_id, symbol, state FROM alert_rule_states";
        Ok(with_pool!(self, pool => {
            let mut states = std::collections::HashMap::new();
            for row in sqlx::query(SQL).fetch_all(pool).await? {
                states.insert((row.int("rule_id")?, symbol_col(&row, "symbol")?), json_col(&row, "state")?);
            }
            states
        }))
    }

    /// Saves a rule's state for one symbol together with the alerts it fired, in one
    /// transaction. Returns the alerts stored: one already stored (same rule, symbol, day and
    /// instant) is not stored again.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails (nothing is stored then).
    pub async fn record_rule_evaluation(
        &self,
        rule_id: i64,
        symbol: &Symbol,
        state: &RuleState,
        fired: &[Alert],
    ) -> Result<Vec<Stored<Alert>>, StorageError> {
        const STATE: &str = "INSERT INTO alert_rule_states (rule_id, symbol, state) VALUES ($1, $2, $3) \
                             ON CONFLICT (rule_id, symbol) DO UPDATE SET state = excluded.state";
        let insert = format!(
            "INSERT INTO alerts (rule_id, symbol, kind, rule, fired_at, day, value, threshold, previous, provider) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING {ALERT_COLUMNS}"
        );
        let state_json = to_json("rule state", state)?;
        let backend = self.backend();
        let stored = with_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            if backend == Backend::Postgres && !fired.is_empty() {
                // Held to the commit: alerts become visible in id order (see `ALERT_ORDER_LOCK`).
                sqlx::query(ALERT_ORDER_LOCK_SQL).bind(ALERT_ORDER_LOCK).execute(&mut *tx).await?;
            }
            sqlx::query(STATE).bind(rule_id).bind(symbol.as_str()).bind(&state_json).execute(&mut *tx).await?;
            let mut stored = Vec::with_capacity(fired.len());
            for alert in fired {
                let rows = sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                    .bind(rule_id)
                    .bind(alert.symbol.as_str())
                    .bind(&alert.kind)
                    .bind(&alert.rule)
                    .bind(to_unix(alert.fired_at))
                    .bind(alert.day.to_string())
                    .bind(alert.observed)
                    .bind(alert.threshold)
                    .bind(alert.previous)
                    .bind(alert.provider.as_deref())
                    .fetch_all(&mut *tx)
                    .await?;
                if let Some(row) = rows.first() {
                    stored.push(alert_from_row(row)?);
                }
            }
            tx.commit().await?;
            stored
        });
        if let Some(newest) = stored.iter().map(|alert| alert.id).max() {
            self.announce(crate::events::Event::Alert(newest)).await;
        }
        Ok(stored)
    }

    /// Alerts with an id greater than `after_id`, oldest (lowest id) first: of one symbol when
    /// given, at most `limit`. The cursor read of a live stream: ids become visible in increasing
    /// order (see [`record_rule_evaluation`](Self::record_rule_evaluation)), so a reader that
    /// remembers the last id it saw misses none and sees none twice.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alerts_after(
        &self,
        after_id: i64,
        symbol: Option<&Symbol>,
        limit: u64,
    ) -> Result<Vec<Stored<Alert>>, StorageError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE id > $1 AND ($2 IS NULL OR symbol = $2) \
             ORDER BY id LIMIT $3"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(after_id)
                .bind(symbol.map(Symbol::as_str))
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(alert_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// The id of the newest stored alert; 0 when there is none.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn last_alert_id(&self) -> Result<i64, StorageError> {
        const SQL: &str = "SELECT COALESCE(MAX(id), 0) AS id FROM alerts";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).fetch_one(pool).await?.int("id")?
        }))
    }

    /// One alert; none when there is no such alert.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alert(&self, id: i64) -> Result<Option<Stored<Alert>>, StorageError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(alert_from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Changes whenever this process stores a new alert (its value: the newest id stored), and,
    /// after [`listen`](Self::listen) on PostgreSQL, whenever any instance does: a live reader
    /// waits on it rather than polling. A reader still polls
    /// [`alerts_after`](Self::alerts_after) now and then (SQLite's other processes, a lost
    /// notification).
    pub fn alert_stored(&self) -> tokio::sync::watch::Receiver<i64> {
        self.events.signals.alert.subscribe()
    }

    /// Alerts, newest first: since an instant and of one symbol when given, at most `limit`.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alerts(
        &self,
        since: Option<DateTime<Utc>>,
        symbol: Option<&Symbol>,
        limit: u64,
    ) -> Result<Vec<Stored<Alert>>, StorageError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE fired_at >= $1 AND ($2 IS NULL OR symbol = $2) \
             ORDER BY fired_at DESC, id DESC LIMIT $3"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(since.map_or(i64::MIN, to_unix))
                .bind(symbol.map(Symbol::as_str))
                .bind(sql_limit(Some(limit)))
                .fetch_all(pool)
                .await?
                .iter()
                .map(alert_from_row)
                .collect::<Result<Vec<_>, _>>()?
        }))
    }

    /// Marks an alert acknowledged (the first time only) and returns it; none when there is no
    /// such alert.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn acknowledge_alert(&self, id: i64) -> Result<Option<Stored<Alert>>, StorageError> {
        const SQL: &str = "UPDATE alerts SET acknowledged_at = $2 WHERE id = $1 AND acknowledged_at IS NULL";
        let select = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(id).bind(now_unix()).execute(pool).await?;
            match sqlx::query(sqlx::AssertSqlSafe(select)).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(alert_from_row(&row)?),
                None => None,
            }
        }))
    }
}

/// One attempt to deliver an alert to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertDelivery {
    pub alert_id: i64,
    /// The target as shown to users: a webhook's scheme and host, e-mail recipients; never a
    /// secret.
    pub target: String,
    pub delivered: bool,
    pub attempts: u32,
    pub latency_ms: u64,
    pub http_status: Option<u16>,
    pub error: Option<String>,
    pub attempted_at: DateTime<Utc>,
}

fn delivery_from_row(row: &impl RowExt) -> Result<Stored<AlertDelivery>, StorageError> {
    let attempted_at = from_unix("attempted_at", row.int("attempted_at")?)?;
    Ok(Stored {
        id: row.int("id")?,
        created_at: attempted_at,
        value: AlertDelivery {
            alert_id: row.int("alert_id")?,
            target: row.text("target")?,
            delivered: row.text("status")? == "delivered",
            attempts: u32::try_from(row.int("attempts")?).unwrap_or(u32::MAX),
            latency_ms: u64::try_from(row.int("latency_ms")?).unwrap_or_default(),
            http_status: row.int_opt("http_status")?.and_then(|s| u16::try_from(s).ok()),
            error: row.text_opt("error")?,
            attempted_at,
        },
    })
}

impl Storage {
    /// Records one delivery attempt.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails (e.g. the alert was deleted meanwhile).
    pub async fn record_alert_delivery(&self, delivery: &AlertDelivery) -> Result<(), StorageError> {
        const SQL: &str = "INSERT INTO alert_deliveries \
                           (alert_id, target, status, attempts, latency_ms, http_status, error, attempted_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        with_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(delivery.alert_id)
                .bind(&delivery.target)
                .bind(if delivery.delivered { "delivered" } else { "failed" })
                .bind(i64::from(delivery.attempts))
                .bind(i64::try_from(delivery.latency_ms).unwrap_or(i64::MAX))
                .bind(delivery.http_status.map(i64::from))
                .bind(delivery.error.as_deref())
                .bind(to_unix(delivery.attempted_at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The delivery attempts of an alert, oldest first.
    ///
    /// # Errors
    /// [`StorageError::Query`] if the database fails.
    pub async fn alert_deliveries(&self, alert_id: i64) -> Result<Vec<Stored<AlertDelivery>>, StorageError> {
        const SQL: &str = "SELECT id, alert_id, target, status, attempts, latency_ms, http_status, error, attempted_at \
                           FROM alert_deliveries WHERE alert_id = $1 ORDER BY id";
        Ok(with_pool!(self, pool => {
            sqlx::query(SQL).bind(alert_id).fetch_all(pool).await?.iter().map(delivery_from_row).collect::<Result<Vec<_>, _>>()?
        }))
    }
}

-- The stock monitor's rules, their per-symbol state and the alerts they fired. Keep in step with
-- ../postgres/0007_alerts.sql.
--
-- A rule is JSON as the `monitor` crate defines it (condition, frequency, hysteresis, expiry,
-- pause), plus its symbol (NULL: every watched symbol) and delivery targets. `dedupe_key`
-- (symbol or '*', and the condition) refuses a second rule that would fire on the same events.
CREATE TABLE alert_rules (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    symbol     TEXT,
    name       TEXT,
    rule       TEXT    NOT NULL,
    targets    TEXT    NOT NULL DEFAULT '[]',
    dedupe_key TEXT    NOT NULL UNIQUE
) STRICT;

-- What the monitor remembers per rule and symbol (armed day, latch, last firing, last bar
-- evaluated), so a restart neither re-fires nor forgets.
CREATE TABLE alert_rule_states (
    rule_id INTEGER NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    symbol  TEXT    NOT NULL,
    state   TEXT    NOT NULL,
    PRIMARY KEY (rule_id, symbol)
) STRICT;

-- Every firing with the values that triggered it. A rule fires at most once per instant and
-- symbol: evaluating the same bar twice cannot store it twice.
CREATE TABLE alerts (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    rule_id         INTEGER REFERENCES alert_rules (id) ON DELETE SET NULL,
    symbol          TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    rule            TEXT    NOT NULL,
    fired_at        INTEGER NOT NULL,
    day             TEXT    NOT NULL,
    value           REAL    NOT NULL,
    threshold       REAL    NOT NULL,
    previous        REAL,
    provider        TEXT,
    acknowledged_at INTEGER,
    UNIQUE (rule_id, symbol, day, fired_at)
) STRICT;
CREATE INDEX alerts_by_time ON alerts (fired_at);

-- Every attempt to deliver an alert to one of its rule's targets (webhook, e-mail): the target
-- as shown to users (secrets masked), the outcome, attempts, latency and the last HTTP status.
CREATE TABLE alert_deliveries (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    alert_id     INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    target       TEXT    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('delivered', 'failed')),
    attempts     INTEGER NOT NULL,
    latency_ms   INTEGER NOT NULL,
    http_status  INTEGER,
    error        TEXT,
    attempted_at INTEGER NOT NULL
) STRICT;
CREATE INDEX alert_deliveries_by_alert ON alert_deliveries (alert_id);

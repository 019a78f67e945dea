-- One bar per trading day, whatever the provider (see ../../src/bars.rs and ARCHITECTURE.md).
--
-- Daily (and longer) bars were keyed by the vendor's own stamp plus the provider, so one day from
-- three providers was three rows. The new `bars` is keyed by (symbol, interval, ts) with `ts` the
-- session date at midnight UTC for daily bars; `provider` stays on the row as provenance.
-- Volumes become whole shares and bars carry a `partial` flag for sessions not yet closed.
--
-- The old rows are kept as `bars_legacy` here; the storage crate converts them right after this
-- migration (it needs the exchange calendar and the reconciliation rule, which live in Rust) and
-- drops `bars_legacy` in the same transaction, so a conversion that fails is retried at the next
-- start with nothing lost.

ALTER TABLE bars RENAME TO bars_legacy;

CREATE TABLE bars (
    symbol     TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval   TEXT    NOT NULL,
    ts         INTEGER NOT NULL,
    provider   TEXT    NOT NULL,
    open       REAL,
    high       REAL,
    low        REAL,
    close      REAL,
    adj_close  REAL,
    volume     INTEGER,
    partial    INTEGER NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
    flag       TEXT,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (symbol, interval, ts),
    CHECK (volume IS NULL OR volume >= 0),
    CHECK (high IS NULL OR low IS NULL OR high >= low)
) STRICT, WITHOUT ROWID;

-- Where two providers' final bars of the same key differ beyond the tolerance (0.5 % on prices,
-- 5 % on volume): one row per key, field and non-stored provider.
CREATE TABLE bar_disagreements (
    symbol         TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval       TEXT    NOT NULL,
    ts             INTEGER NOT NULL,
    field          TEXT    NOT NULL CHECK (field IN ('open', 'high', 'low', 'close', 'volume')),
    other_provider TEXT    NOT NULL,
    kept_provider  TEXT    NOT NULL,
    kept_value     REAL    NOT NULL,
    other_value    REAL    NOT NULL,
    recorded_at    INTEGER NOT NULL,
    PRIMARY KEY (symbol, interval, ts, field, other_provider)
) STRICT, WITHOUT ROWID;

-- Splits and dividends by ex-date (midnight UTC of the date), as each vendor reported them.
CREATE TABLE corporate_actions (
    symbol      TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    date        INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('split', 'dividend')),
    provider    TEXT    NOT NULL,
    numerator   REAL,
    denominator REAL,
    amount      REAL,
    fetched_at  INTEGER NOT NULL,
    PRIMARY KEY (symbol, date, kind, provider),
    CHECK (kind <> 'split' OR (numerator > 0 AND denominator > 0)),
    CHECK (kind <> 'dividend' OR amount >= 0)
) STRICT;

-- Quality events gain 'explained' (a close-to-close step that a recorded split accounts for).
-- SQLite cannot alter a CHECK, so the table is rebuilt with its rows and ids.
CREATE TABLE quality_events_new (
    id          INTEGER NOT NULL PRIMARY KEY,
    symbol      TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval    TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('rejected', 'flagged', 'explained')),
    reason      TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
) STRICT;
INSERT INTO quality_events_new SELECT id, symbol, interval, provider, ts, action, reason, recorded_at FROM quality_events;
DROP TABLE quality_events;
ALTER TABLE quality_events_new RENAME TO quality_events;
CREATE INDEX quality_events_by_symbol ON quality_events (symbol, recorded_at, id);

-- Quote volumes become whole shares too.
CREATE TABLE quotes_new (
    symbol         TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    provider       TEXT    NOT NULL,
    price          REAL    NOT NULL,
    previous_close REAL,
    change         REAL,
    change_percent REAL,
    open           REAL,
    high           REAL,
    low            REAL,
    volume         INTEGER,
    ts             INTEGER NOT NULL,
    source         TEXT    NOT NULL CHECK (source IN ('live', 'last_bar_close')),
    fetched_at     INTEGER NOT NULL,
    PRIMARY KEY (symbol, provider)
) STRICT;
INSERT INTO quotes_new
    SELECT symbol, provider, price, previous_close, change, change_percent, open, high, low,
           CAST(round(volume) AS INTEGER), ts, source, fetched_at
    FROM quotes;
DROP TABLE quotes;
ALTER TABLE quotes_new RENAME TO quotes;

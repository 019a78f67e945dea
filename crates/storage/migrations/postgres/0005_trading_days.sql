-- One bar per trading day, whatever the provider. Keep in step with ../sqlite/0005_trading_days.sql
-- (the comments there explain each table); only type names and ALTER forms differ.
--
-- The old rows are kept as `bars_legacy`; the storage crate converts them right after this
-- migration and drops `bars_legacy` in the same transaction.

ALTER TABLE bars RENAME TO bars_legacy;
ALTER TABLE bars_legacy RENAME CONSTRAINT bars_pkey TO bars_legacy_pkey;

CREATE TABLE bars (
    symbol     TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval   TEXT    NOT NULL,
    ts         BIGINT  NOT NULL,
    provider   TEXT    NOT NULL,
    open       DOUBLE PRECISION,
    high       DOUBLE PRECISION,
    low        DOUBLE PRECISION,
    close      DOUBLE PRECISION,
    adj_close  DOUBLE PRECISION,
    volume     BIGINT,
    partial    BIGINT  NOT NULL DEFAULT 0 CHECK (partial IN (0, 1)),
    flag       TEXT,
    fetched_at BIGINT  NOT NULL,
    PRIMARY KEY (symbol, interval, ts),
    CHECK (volume IS NULL OR volume >= 0),
    CHECK (high IS NULL OR low IS NULL OR high >= low)
);

CREATE TABLE bar_disagreements (
    symbol         TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval       TEXT    NOT NULL,
    ts             BIGINT  NOT NULL,
    field          TEXT    NOT NULL CHECK (field IN ('open', 'high', 'low', 'close', 'volume')),
    other_provider TEXT    NOT NULL,
    kept_provider  TEXT    NOT NULL,
    kept_value     DOUBLE PRECISION NOT NULL,
    other_value    DOUBLE PRECISION NOT NULL,
    recorded_at    BIGINT  NOT NULL,
    PRIMARY KEY (symbol, interval, ts, field, other_provider)
);

CREATE TABLE corporate_actions (
    symbol      TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    date        BIGINT  NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('split', 'dividend')),
    provider    TEXT    NOT NULL,
    numerator   DOUBLE PRECISION,
    denominator DOUBLE PRECISION,
    amount      DOUBLE PRECISION,
    fetched_at  BIGINT  NOT NULL,
    PRIMARY KEY (symbol, date, kind, provider),
    CHECK (kind <> 'split' OR (numerator > 0 AND denominator > 0)),
    CHECK (kind <> 'dividend' OR amount >= 0)
);

ALTER TABLE quality_events DROP CONSTRAINT quality_events_action_check;
ALTER TABLE quality_events ADD CONSTRAINT quality_events_action_check
    CHECK (action IN ('rejected', 'flagged', 'explained'));

ALTER TABLE quotes ALTER COLUMN volume TYPE BIGINT USING round(volume)::BIGINT;

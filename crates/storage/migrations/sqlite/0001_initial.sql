-- tickerwatch schema, SQLite flavour. Keep in step with ../postgres/0001_initial.sql: the same
-- tables, columns and constraints; only the type names and table options differ.
--
-- Every timestamp is INTEGER unix seconds (UTC): integer range scans on the primary key are fast
-- and the SQL in src/ is identical for both backends. Prices are nullable REAL so a value the
-- vendor did not send is NULL, never 0. STRICT makes SQLite reject a value of the wrong type
-- instead of silently storing it.

-- Every symbol we hold any data for. Rows are never deleted by the API; watchlist membership
-- lives in its own table so that un-watching a symbol keeps its history.
CREATE TABLE symbols (
    symbol   TEXT    NOT NULL PRIMARY KEY,
    name     TEXT,
    added_at INTEGER NOT NULL
) STRICT;

CREATE TABLE watchlist (
    symbol   TEXT    NOT NULL PRIMARY KEY REFERENCES symbols (symbol) ON DELETE CASCADE,
    added_at INTEGER NOT NULL
) STRICT;

-- One row per (symbol, interval, bar start, provider): re-fetching a range overwrites instead of
-- duplicating, and two providers' bars for the same time coexist. WITHOUT ROWID clusters the
-- table on that key, so range reads are sequential and an insert touches one b-tree, not two.
-- The CHECKs are a last line of defence behind the domain quality gate: impossible bars never
-- reach disk even if a caller skips the gate.
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
    volume     REAL,
    flag       TEXT,
    fetched_at INTEGER NOT NULL,
    PRIMARY KEY (symbol, interval, ts, provider),
    CHECK (volume IS NULL OR volume >= 0),
    CHECK (high IS NULL OR low IS NULL OR high >= low)
) STRICT, WITHOUT ROWID;

-- The latest quote per symbol and provider; older snapshots are not kept.
CREATE TABLE quotes (
    symbol         TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    provider       TEXT    NOT NULL,
    price          REAL    NOT NULL,
    previous_close REAL,
    change         REAL,
    change_percent REAL,
    open           REAL,
    high           REAL,
    low            REAL,
    volume         REAL,
    ts             INTEGER NOT NULL,
    source         TEXT    NOT NULL CHECK (source IN ('live', 'last_bar_close')),
    fetched_at     INTEGER NOT NULL,
    PRIMARY KEY (symbol, provider)
) STRICT;

CREATE TABLE profiles (
    symbol      TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    provider    TEXT    NOT NULL,
    name        TEXT,
    exchange    TEXT,
    currency    TEXT,
    country     TEXT,
    sector      TEXT,
    industry    TEXT,
    market_cap  REAL,
    description TEXT,
    website     TEXT,
    fetched_at  INTEGER NOT NULL,
    PRIMARY KEY (symbol, provider)
) STRICT;

-- The symbol is part of the key because one article can be about several symbols.
CREATE TABLE news (
    provider     TEXT    NOT NULL,
    symbol       TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    url          TEXT    NOT NULL,
    headline     TEXT    NOT NULL,
    source       TEXT,
    summary      TEXT,
    published_at INTEGER NOT NULL,
    sentiment    REAL,
    fetched_at   INTEGER NOT NULL,
    PRIMARY KEY (provider, symbol, url)
) STRICT;

CREATE INDEX news_by_symbol_time ON news (symbol, published_at);

-- An append-only log of what the quality gate rejected or flagged, so a user can see why a bar
-- is missing or marked.
CREATE TABLE quality_events (
    id          INTEGER NOT NULL PRIMARY KEY,
    symbol      TEXT    NOT NULL REFERENCES symbols (symbol) ON DELETE CASCADE,
    interval    TEXT    NOT NULL,
    provider    TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('rejected', 'flagged')),
    reason      TEXT    NOT NULL,
    recorded_at INTEGER NOT NULL
) STRICT;

CREATE INDEX quality_events_by_symbol ON quality_events (symbol, recorded_at, id);

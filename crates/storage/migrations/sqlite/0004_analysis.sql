-- Research analysis: run subjects, agent crew runs, research notes and the agents' long-term
-- memory. Keep in step with ../postgres/0004_analysis.sql.

-- What a run is about: a symbol for the `analysis` job, '' for whole-watchlist jobs.
-- Single-flight becomes per (job, subject): AAPL and MSFT can be queued together, AAPL twice not.
ALTER TABLE job_runs ADD COLUMN subject TEXT NOT NULL DEFAULT '';
DROP INDEX job_runs_single_flight;
CREATE UNIQUE INDEX job_runs_single_flight ON job_runs (job, subject) WHERE status IN ('queued', 'running');

-- One row per run of an agent crew, with the trace of every step (a JSON array whose size the
-- caller bounds).
CREATE TABLE crew_runs (
    id                INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    job_run_id        INTEGER REFERENCES job_runs (id) ON DELETE SET NULL,
    crew              TEXT    NOT NULL,
    subject           TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    status            TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'limit_reached', 'failed', 'cancelled')),
    started_at        INTEGER NOT NULL,
    finished_at       INTEGER,
    llm_calls         INTEGER NOT NULL DEFAULT 0,
    tool_calls        INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    trace             TEXT    NOT NULL DEFAULT '[]'
) STRICT;
CREATE INDEX crew_runs_by_subject ON crew_runs (subject, id);
CREATE INDEX crew_runs_by_started ON crew_runs (started_at);

-- The research notes the crews write. risks and sources are JSON arrays of strings,
-- key_figures a JSON object.
CREATE TABLE research_notes (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    crew_run_id INTEGER REFERENCES crew_runs (id) ON DELETE SET NULL,
    symbol      TEXT    NOT NULL,
    rating      TEXT    NOT NULL CHECK (rating IN ('buy', 'hold', 'sell')),
    confidence  REAL    NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
    horizon     TEXT    NOT NULL,
    thesis      TEXT    NOT NULL,
    risks       TEXT    NOT NULL,
    key_figures TEXT    NOT NULL,
    sources     TEXT    NOT NULL,
    markdown    TEXT    NOT NULL,
    model       TEXT    NOT NULL,
    crew        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX research_notes_by_symbol ON research_notes (symbol, created_at DESC, id DESC);
CREATE INDEX research_notes_by_created ON research_notes (created_at);

-- The agents' long-term memory: short texts per scope (e.g. crew + symbol), capped per scope
-- and expiring.
CREATE TABLE agent_memory (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    scope      TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    bytes      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX agent_memory_by_scope ON agent_memory (scope, id);
CREATE INDEX agent_memory_by_expiry ON agent_memory (expires_at);

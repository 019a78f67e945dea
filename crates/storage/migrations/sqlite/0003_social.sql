-- Social posts, ticker mentions and scan coverage. Keep in step with ../postgres/0003_social.sql.

-- One row per scanned post. `source` is where it came from (`reddit`, `sample`); re-scanning the
-- same post is a no-op thanks to the unique key.
CREATE TABLE social_posts (
    source     TEXT    NOT NULL,
    post_id    TEXT    NOT NULL,
    subreddit  TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    title      TEXT    NOT NULL,
    permalink  TEXT,
    sentiment  REAL    NOT NULL,
    PRIMARY KEY (source, post_id)
) STRICT;
CREATE INDEX social_posts_by_created ON social_posts (created_at);

-- One mention per symbol per post, denormalised (author, subreddit, time, sentiment) so the
-- aggregates are single-table GROUP BYs.
CREATE TABLE mentions (
    source     TEXT    NOT NULL,
    post_id    TEXT    NOT NULL,
    symbol     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    author     TEXT    NOT NULL,
    subreddit  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    sentiment  REAL    NOT NULL,
    PRIMARY KEY (source, post_id, symbol)
) STRICT;
CREATE INDEX mentions_by_created ON mentions (created_at);
CREATE INDEX mentions_by_symbol ON mentions (symbol, created_at);

-- One row per scan: what was read and whether the source let us read it.
CREATE TABLE social_scans (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    started_at     INTEGER NOT NULL,
    finished_at    INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    subreddits     TEXT    NOT NULL,
    posts_read     INTEGER NOT NULL,
    mentions_found INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('complete', 'blocked', 'failed')),
    error          TEXT
) STRICT;

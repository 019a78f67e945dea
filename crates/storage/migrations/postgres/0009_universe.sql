-- The Reddit scanner's symbol universe as last refreshed from a vendor's listing. Keep in step
-- with ../sqlite/0009_universe.sql, which says why.
CREATE TABLE universe_listings (
    symbol        TEXT   NOT NULL PRIMARY KEY,
    name          TEXT   NOT NULL,
    exchange      TEXT   NOT NULL,
    security_type TEXT   NOT NULL CHECK (security_type IN ('stock', 'etf')),
    provider      TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL,
    generation    BIGINT NOT NULL
);

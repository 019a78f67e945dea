-- The Reddit scanner's symbol universe as last refreshed from a vendor's listing
-- (`tickerwatch universe update`). Keep in step with ../postgres/0009_universe.sql.
--
-- In the database rather than a file so that every instance on it scans against the same
-- universe. Empty until the first update: the scanner then uses the snapshot bundled in the
-- binary. An update replaces every row in one transaction.
CREATE TABLE universe_listings (
    symbol        TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    exchange      TEXT    NOT NULL,
    security_type TEXT    NOT NULL CHECK (security_type IN ('stock', 'etf')),
    provider      TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- One more than the previous update's: tells readers a new universe was stored even when
    -- two updates fall in the same second with the same number of rows.
    generation    INTEGER NOT NULL
) STRICT;

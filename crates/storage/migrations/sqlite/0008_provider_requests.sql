-- Requests sent to each provider per UTC day. Keep in step with
-- ../postgres/0008_provider_requests.sql.
--
-- Daily budgets (Alpha Vantage's free key: 25 requests a day) must survive a restart, and every
-- process on the database spends the same budget: each process adds its requests in batches
-- and reads the total back. `day` is the unix time of the day's 00:00 UTC. Rows older than a
-- few weeks are pruned on write, so the table stays a few hundred rows.
CREATE TABLE provider_requests (
    provider TEXT    NOT NULL,
    day      INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (provider, day)
) STRICT;

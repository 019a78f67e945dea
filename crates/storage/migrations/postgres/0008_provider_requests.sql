-- Requests sent to each provider per UTC day. Keep in step with
-- ../sqlite/0008_provider_requests.sql, which says why.
CREATE TABLE provider_requests (
    provider TEXT   NOT NULL,
    day      BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (provider, day)
);

-- Operations. The audit log: token issuance and failures, management operations (times in
-- milliseconds).
-- The sequence number is the event's log_id and its order; writes here do not bump
-- state_version (they change nothing the token endpoint reads).
CREATE TABLE audit_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    date_ms      BIGINT NOT NULL,
    type         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    client_id    TEXT,
    audience     TEXT,
    scope        TEXT,
    ip           TEXT,
    user_agent   TEXT,
    jti          TEXT
);
CREATE INDEX audit_events_by_date ON audit_events (date_ms);
CREATE INDEX audit_events_by_client ON audit_events (client_id, seq);
CREATE INDEX audit_events_by_type ON audit_events (type, seq);

-- Token quotas: a client's own ({"per_hour": N, "per_day": M}), else the deployment default.
ALTER TABLE applications ADD COLUMN token_quota TEXT;

-- Tokens issued per client and window, summed over every instance (each adds its own count
-- about once a second). Windows older than two days are pruned.
CREATE TABLE token_usage (
    client_id     TEXT NOT NULL,
    period        TEXT NOT NULL CHECK (period IN ('hour', 'day')),
    window_start  BIGINT NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (client_id, period, window_start)
);

-- The dashboard: its administrators (argon2id password hashes in PHC form) and their
-- server-side sessions (several instances share them). A session is looked up by the SHA-256
-- of its cookie, so the table alone cannot be replayed as cookies. Times in seconds.
-- Writes here do not bump state_version (they change nothing the token endpoint reads).
CREATE TABLE operators (
    username       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);

CREATE TABLE operator_sessions (
    id_hash     TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES operators (username) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX operator_sessions_by_expiry ON operator_sessions (expires_at);

-- Token requests counted per 5-minute bucket, application, API, outcome (1 issued, 0 refused)
-- and reason (refusals, with echoed input replaced by "…"): what the Activity page draws, kept
-- up to date by the audit writer in the transaction that stores the events, and pruned with
-- them by age. Unknown client IDs and audiences are stored as ''.
CREATE TABLE token_activity (
    bucket_ms  BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    audience   TEXT NOT NULL,
    issued     INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (bucket_ms, client_id, audience, issued, reason)
);

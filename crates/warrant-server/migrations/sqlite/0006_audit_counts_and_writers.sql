-- Refused requests are written aggregated: one event per source and reason per interval, with
-- how many requests it stands for.
ALTER TABLE audit_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;

-- Each audit writer (one per server process, a random ID) keeps activity counts of its own,
-- summed when read: writers of several instances never wait for each other's row locks.
-- SQLite cannot change a primary key: the table is rebuilt.
CREATE TABLE token_activity_by_writer (
    bucket_ms  BIGINT NOT NULL,
    client_id  TEXT NOT NULL,
    audience   TEXT NOT NULL,
    issued     INTEGER NOT NULL,
    reason     TEXT NOT NULL,
    writer     TEXT NOT NULL DEFAULT '',
    count      BIGINT NOT NULL,
    PRIMARY KEY (bucket_ms, client_id, audience, issued, reason, writer)
);
INSERT INTO token_activity_by_writer (bucket_ms, client_id, audience, issued, reason, count)
    SELECT bucket_ms, client_id, audience, issued, reason, count FROM token_activity;
DROP TABLE token_activity;
ALTER TABLE token_activity_by_writer RENAME TO token_activity;

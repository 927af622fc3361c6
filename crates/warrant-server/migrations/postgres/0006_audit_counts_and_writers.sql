-- Refused requests are written aggregated: one event per source and reason per interval, with
-- how many requests it stands for.
ALTER TABLE audit_events ADD COLUMN count BIGINT NOT NULL DEFAULT 1;

-- Each audit writer (one per server process, a random ID) keeps activity counts of its own,
-- summed when read: writers of several instances never wait for each other's row locks.
ALTER TABLE token_activity ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE token_activity DROP CONSTRAINT token_activity_pkey;
ALTER TABLE token_activity
    ADD PRIMARY KEY (bucket_ms, client_id, audience, issued, reason, writer);

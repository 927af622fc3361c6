-- Which client each write touched, by version, so that running servers evict exactly those
-- clients from their bounded in-memory cache instead of reloading every application. Rows older
-- than the retention window are pruned by the writes themselves; a server that fell further
-- behind than that empties its cache instead.
CREATE TABLE client_changes (
    version    INTEGER NOT NULL,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (version, client_id)
);

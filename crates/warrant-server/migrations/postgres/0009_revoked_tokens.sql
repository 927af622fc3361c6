-- Access tokens revoked before they expire (RFC 7009), by `jti`: every instance loads them into
-- memory with the catalog, and introspection answers them inactive. A row is deleted once its
-- token has expired (at the next revocation).
CREATE TABLE revoked_tokens (
    jti TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_client ON revoked_tokens (client_id);

-- Clients without shared secrets. An application's public keys (Auth0's credential_type
-- "public_key"), each bound to one algorithm, named by its RFC 7638 thumbprint (kid); the
-- application lists those it authenticates with (Auth0's
-- client_authentication_methods.private_key_jwt.credentials, a JSON array of credential IDs;
-- NULL: none).
CREATE TABLE client_credentials (
    id               TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES applications (client_id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    credential_type  TEXT NOT NULL,
    alg              TEXT NOT NULL,
    kid              TEXT NOT NULL,
    public_key       BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    expires_at       BIGINT
);
CREATE INDEX client_credentials_by_client ON client_credentials (client_id);

ALTER TABLE applications ADD COLUMN client_authentication_methods TEXT;

-- The IDs (jti) of client assertions already used, each until the assertion expires: a
-- replay is refused by every instance on the database (the insert is the check).
CREATE TABLE client_assertion_jtis (
    client_id   TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_by_expiry ON client_assertion_jtis (expires_at);

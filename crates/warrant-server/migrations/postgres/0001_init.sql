-- Warrant's first schema (PostgreSQL). Times are Unix seconds; scope lists are JSON arrays.

CREATE TABLE resource_servers (
    id              TEXT PRIMARY KEY,
    identifier      TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    token_lifetime  BIGINT NOT NULL,
    signing_alg     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE applications (
    client_id    TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE client_secrets (
    id           TEXT PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES applications (client_id) ON DELETE CASCADE,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX client_secrets_by_client ON client_secrets (client_id);

CREATE TABLE client_grants (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES applications (client_id) ON DELETE CASCADE,
    audience    TEXT NOT NULL REFERENCES resource_servers (identifier) ON DELETE CASCADE,
    scopes      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (client_id, audience)
);
CREATE INDEX client_grants_by_audience ON client_grants (audience);

CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY,
    alg                 TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('next', 'current', 'previous', 'revoked')),
    public_jwk          TEXT NOT NULL,
    sealed_private_key  BYTEA NOT NULL,
    created_at          BIGINT NOT NULL,
    current_since       BIGINT,
    current_until       BIGINT,
    revoked_at          BIGINT
);
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (status) WHERE status = 'current';

-- Bumped by every write, so that running servers notice changes made by other instances.
CREATE TABLE state_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO state_version (id, version) VALUES (1, 0);

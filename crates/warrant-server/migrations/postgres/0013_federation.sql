-- Workload identity federation. The external issuers Warrant trusts (issuer URL or SPIFFE
-- trust domain; keys by discovery, a JWKS URL, or inline; algorithms allowed; the longest
-- assertion lifetime), and the federated credentials binding an application to workloads of
-- one of them (subject or subject pattern, audience (NULL: Warrant's issuer URL), claim
-- conditions as a JSON object). A trusted issuer that credentials use cannot be deleted.
CREATE TABLE trusted_issuers (
    id                      TEXT PRIMARY KEY,
    issuer                  TEXT NOT NULL UNIQUE,
    name                    TEXT NOT NULL,
    key_source              TEXT NOT NULL,
    jwks_uri                TEXT,
    jwks                    TEXT,
    bearer_token_file       TEXT,
    ca_file                 TEXT,
    algorithms              TEXT NOT NULL,
    max_assertion_lifetime  BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE federated_credentials (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES applications (client_id) ON DELETE CASCADE,
    issuer_id   TEXT NOT NULL REFERENCES trusted_issuers (id),
    name        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    audience    TEXT,
    conditions  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX federated_credentials_by_client ON federated_credentials (client_id);
CREATE INDEX federated_credentials_by_issuer ON federated_credentials (issuer_id);

-- How a client authenticated for a token (method, credential, and for federation the external
-- issuer and subject), as JSON; NULL for other events.
ALTER TABLE audit_events ADD COLUMN auth TEXT;

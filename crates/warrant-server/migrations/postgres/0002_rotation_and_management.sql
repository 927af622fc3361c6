-- Key rotation (one next key at a time), Auth0 client fields, and deployment settings.

CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (status) WHERE status = 'next';

ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_post';
ALTER TABLE applications ADD COLUMN client_metadata TEXT NOT NULL DEFAULT '{}';

CREATE TABLE deployment (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Each signing key's self-signed X.509 certificate (DER), as Auth0 gives one per key: the
-- management API shows it (cert, pkcs7, fingerprint, thumbprint) and the JWKS publishes it as
-- x5c/x5t. Keys stored before this get theirs, signed by themselves, when a server next opens
-- the store (signing needs the private key, which only the server can unseal).
ALTER TABLE signing_keys ADD COLUMN certificate BYTEA;

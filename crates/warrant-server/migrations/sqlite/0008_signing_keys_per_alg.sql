-- Signing keys per algorithm (RS256, PS256, ES256, EdDSA): each algorithm has its own current
-- and next key, so the uniqueness of current and next is per alg. Existing keys are RS256 (the
-- alg column has always said so).
DROP INDEX signing_keys_one_current;
DROP INDEX signing_keys_one_next;
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (alg) WHERE status = 'current';
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (alg) WHERE status = 'next';

-- An API's proof_of_possession (Auth0's shape): JSON {"mechanism": "dpop", "required": bool};
-- NULL: tokens are bound to a DPoP key only when the client sends a proof.
ALTER TABLE resource_servers ADD COLUMN proof_of_possession TEXT;

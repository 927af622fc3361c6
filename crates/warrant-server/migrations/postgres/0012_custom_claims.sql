-- Custom claims (Warrant's extension): a JSON object of claim names and values on an
-- application and on a client grant; the grant's values override the application's.
ALTER TABLE applications ADD COLUMN custom_claims TEXT NOT NULL DEFAULT '{}';
ALTER TABLE client_grants ADD COLUMN custom_claims TEXT NOT NULL DEFAULT '{}';

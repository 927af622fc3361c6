-- Declarative configuration: an application's stable key (`key = "…"` in the file), so that a
-- file can rename an application and still describe the same one. Set only by `warrant
-- apply`; NULL for applications no file keyed. Unique where set (NULLs never collide).
ALTER TABLE applications ADD COLUMN config_key TEXT;
CREATE UNIQUE INDEX applications_by_config_key ON applications (config_key);

-- Every transaction of a report connection is read-only: a report query that tries to
-- write fails instead of touching the application's data.
SET SESSION TRANSACTION READ ONLY

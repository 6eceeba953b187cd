-- The tables of the current schema, sorted.
SELECT table_name::text FROM information_schema.tables
WHERE table_schema = current_schema()
ORDER BY table_name

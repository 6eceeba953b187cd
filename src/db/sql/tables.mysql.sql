-- The tables of the connection's database, sorted.
SELECT CAST(table_name AS CHAR) FROM information_schema.tables
WHERE table_schema = DATABASE()
ORDER BY table_name

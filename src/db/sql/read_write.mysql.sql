-- quire's own connections read committed data, as PostgreSQL's do by default: the store's
-- statements are written for that, and REPEATABLE READ's gap locks would let an enqueue
-- (an insert into the unique index on active runs) deadlock with a run ending (an update
-- of that index).
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED

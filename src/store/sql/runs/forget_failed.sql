-- Sets a failed run aside for good: an operator forgot it. It keeps its history and
-- leaves the failed list; it can no longer be retried.
-- $1: run id
UPDATE quire_runs
SET status = 'discarded', error_code = 'forgotten',
    error_message = 'an operator set the failed run aside'
WHERE id = $1 AND status = 'failed'

-- KEYS[1] the job key (the prelude's other keys and arguments are not needed).
-- Returns {job fields, step id, step fields, step id, step fields, ...} (fields flat, as
-- HGETALL gives them) for the steps the job has written, or {} if there is no such job.
return job_state({})

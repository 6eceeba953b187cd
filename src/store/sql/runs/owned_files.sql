-- Every file a run still owns, for the storage sweep.
SELECT file_path FROM quire_runs WHERE file_path IS NOT NULL

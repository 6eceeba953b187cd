-- Every file a run still owns, for the storage sweep.
SELECT file_path FROM runs WHERE file_path IS NOT NULL

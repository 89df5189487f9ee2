-- Run by the postgres image's entrypoint once, in $POSTGRES_DB, when the data
-- directory is first initialised.
CREATE EXTENSION IF NOT EXISTS jsruntime;

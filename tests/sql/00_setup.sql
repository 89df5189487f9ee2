-- Fresh extension; a helper that shows an error's SQLSTATE and message on one line.
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
CREATE FUNCTION public.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN sqlstate || ': ' || sqlerrm;
END $$;
SELECT extname, extversion FROM pg_extension WHERE extname = 'jsruntime';
SELECT count(*) AS tables FROM pg_tables WHERE schemaname = 'jsrt';
SELECT count(*) AS dumped_tables FROM pg_extension e, unnest(e.extconfig) WHERE e.extname = 'jsruntime';

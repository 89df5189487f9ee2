-- /metrics of the HTTP workers, in Prometheus's text format (one text value).
-- Counts cover the history jsrt keeps (jsrt.execution_retention).
WITH runs AS (
    SELECT trigger_type, status, (metrics->>'duration_ms')::float8 / 1000 AS seconds
      FROM jsrt.script_executions
), buckets(le) AS (
    VALUES (0.001), (0.005), (0.01), (0.025), (0.05), (0.1), (0.25), (0.5), (1), (2.5), (5), (10), (30), (60)
)
SELECT concat_ws(E'\n',
    '# HELP jsrt_executions Runs in the history, by trigger and status.',
    '# TYPE jsrt_executions gauge',
    (SELECT string_agg(format('jsrt_executions{trigger="%s",status="%s"} %s', trigger_type, status, n), E'\n' ORDER BY trigger_type, status)
       FROM (SELECT trigger_type, status, count(*) AS n FROM runs GROUP BY 1, 2) x),
    '# HELP jsrt_execution_duration_seconds How long finished runs in the history took.',
    '# TYPE jsrt_execution_duration_seconds histogram',
    (SELECT string_agg(format('jsrt_execution_duration_seconds_bucket{le="%s"} %s', le, n), E'\n' ORDER BY le)
       FROM (SELECT b.le, count(r.seconds) FILTER (WHERE r.seconds <= b.le) AS n
               FROM buckets b LEFT JOIN runs r ON r.seconds IS NOT NULL GROUP BY b.le) x),
    (SELECT format(E'jsrt_execution_duration_seconds_bucket{le="+Inf"} %s\njsrt_execution_duration_seconds_sum %s\njsrt_execution_duration_seconds_count %s',
                   count(seconds), coalesce(sum(seconds), 0), count(seconds)) FROM runs),
    '# HELP jsrt_queue_depth Queued runs waiting for an executor.',
    '# TYPE jsrt_queue_depth gauge',
    (SELECT format('jsrt_queue_depth %s', count(*)) FROM jsrt.script_executions WHERE status = 'pending'),
    '# HELP jsrt_workers jsrt background workers, by kind and state.',
    '# TYPE jsrt_workers gauge',
    (SELECT string_agg(format('jsrt_workers{kind="%s",state="%s"} %s', replace(backend_type, 'jsrt ', ''), coalesce(state, 'running'), n), E'\n' ORDER BY 1)
       FROM (SELECT backend_type, state, count(*) AS n FROM pg_stat_activity WHERE backend_type LIKE 'jsrt %' GROUP BY 1, 2) x)
) || E'\n'

#!/usr/bin/env bash
# Scheduling lateness: an every-second and an every-minute jsruntime script,
# and pg_cron (postgresql-15-cron 1.4, minutes only) running an equivalent
# every-minute job on the same cluster, for MINUTES minutes (default 3).
# Lateness is the run's start minus its scheduled time. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-cron; PORT=28821; DB=jsrt_cron; MINUTES=${MINUTES:-3}
dpkg -s postgresql-15-cron >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-cron >/dev/null
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
PRELOAD=jsruntime,pg_cron scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION jsruntime;
CREATE EXTENSION pg_cron;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
SELECT jsrt.create_script('every-second', 'export default () => 1', 'scheduled', '{"status": "active", "cron_expression": "* * * * * *"}');
SELECT jsrt.create_script('every-minute', 'export default () => 1', 'scheduled', '{"status": "active", "cron_expression": "* * * * *"}');
CREATE TABLE pg_cron_runs (started_at timestamptz DEFAULT clock_timestamp());
SELECT cron.schedule('pg-cron-peer', '* * * * *', 'INSERT INTO pg_cron_runs DEFAULT VALUES');
SQL
echo "running for $MINUTES minutes..."
sleep $((MINUTES * 60 + 5))
stats() { # sql giving lateness in ms per row
  "${PSQL[@]}" -c "SELECT count(*) || ' runs: p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1)
                          || ' ms, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1)
                          || ' ms, max ' || round(max(l)::numeric, 1) || ' ms' FROM ($1) x(l)"
}
late="SELECT extract(epoch FROM e.started_at - (e.trigger_data->>'scheduled_for')::timestamptz) * 1000
        FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE e.status = 'completed' AND s.name ="
echo "jsruntime every second:  $(stats "$late 'every-second'")"
echo "jsruntime every minute:  $(stats "$late 'every-minute'")"
echo "pg_cron every minute:    $(stats "SELECT extract(epoch FROM started_at - date_trunc('minute', started_at)) * 1000 FROM pg_cron_runs")"
echo "every-second runs missed: $("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions WHERE trigger_type = 'cron' AND status <> 'completed'")"

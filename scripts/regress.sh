#!/usr/bin/env bash
# The pg_regress suite (tests/sql, tests/expected) and the multi-session
# tests (tests/integration) against a fresh cluster
# with jsruntime preloaded. pg_regress runs as postgres: initdb refuses root.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-regress; PORT=28816; DB=jsrt_regress; OUT=/tmp/jsrt-regress-out
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR" "$OUT"; mkdir -p "$OUT"
# pg_regress runs as postgres, who may not be able to read this checkout.
cp -r tests "$OUT/in"; chown -R postgres "$OUT"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
tests=$(cd tests/sql && ls *.sql | sed 's/\.sql$//' | sort)
rc=0
runuser -u postgres -- /usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress \
  --inputdir="$OUT/in" --outputdir="$OUT" --host=/tmp --port="$PORT" --user=postgres \
  --dbname="$DB" --use-existing $tests || rc=$?
if [ $rc -ne 0 ]; then cat "$OUT/regression.diffs" 2>/dev/null | head -200; exit $rc; fi
# Concurrency specs under pg_isolation_regress, in a database of their own.
tests/isolation/run.sh "$PORT" "$OUT/isolation"
# The short fuzz campaign (make fuzz: the long one), in a database of its own:
# sqlsmith, the ctx host API and the SQL API; no crash, no restart, clear errors.
psql -X -q -h /tmp -p "$PORT" -U postgres -d postgres -c "DROP DATABASE IF EXISTS jsrt_fuzz" -c "CREATE DATABASE jsrt_fuzz"
psql -X -q -h /tmp -p "$PORT" -U postgres -d jsrt_fuzz -c "CREATE EXTENSION jsruntime"
tests/fuzz/run.sh "$PORT" jsrt_fuzz "$DIR" 2 400 3 150 1 300
# Values of each type through ctx.db, typed functions and triggers, against psql's text.
tests/integration/conversions.sh "$PORT" "$DB"
# Sessions, signals, crashes and restarts, on the same cluster.
tests/integration/sessions.sh "$PORT" "$DB"
tests/integration/queue.sh "$PORT" "$DB" "$DIR"
# kill -9 of executors over 400 short runs of 5 tenants (the long campaign: make crash)
tests/integration/crash.sh "$PORT" "$DB"
tests/integration/http_client.sh "$PORT" "$DB"
tests/integration/fetch.sh "$PORT" "$DB"
tests/integration/intl.sh "$PORT" "$DB"
tests/integration/trust.sh "$PORT" "$DB" "$DIR"
tests/integration/live.sh "$PORT" "$DB"
tests/integration/commit.sh "$PORT" "$DB"
tests/integration/front.sh "$PORT" "$DB"
# request framing against h11, one corpus file per connection
tests/integration/http_conformance.sh "$PORT" "$DB"
# next run times against croniter, around daylight-saving changes
tests/integration/cron_differential.sh "$PORT" "$DB"
# WPT's URL parsing and setter cases, against the recorded passes (and Node's counts)
tests/integration/wpt_url.sh "$PORT" "$DB"
# console.log's formatting against Node's util.format, case by case
tests/integration/console_differential.sh "$PORT" "$DB"
# scheduled runs with the scheduler and executors: the jobs table, retries
tests/integration/schedule.sh "$PORT" "$DB"
# the management API: every resource and role, over the front door
tests/integration/api.sh "$PORT" "$DB"
# the web console in a real browser (chromium through playwright-core)
tests/integration/console.sh "$PORT" "$DB"
# requests generated from the API's OpenAPI document: no 5xx
tests/integration/schemathesis.sh "$PORT" "$DB"
# last on this cluster: it ends with kill -9 of an HTTP runner
tests/integration/endpoints.sh "$PORT" "$DB"
# A cluster without preload, driven by jsrt.run_pending and pg_cron.
tests/integration/nopreload.sh
# Two clusters of their own: one tenant moved from one to the other (docs/scale-out.md).
tests/integration/tenant_move.sh
# docker/: hadolint, and what the Dockerfile and compose.yaml name exists (no container engine here)
tests/docker/check.sh
# A primary and a streaming standby of its own: no workers and no runs on the
# standby, then the primary stopped hard mid-queue and the standby promoted.
tests/integration/replica.sh
# 0.1.0 (built from its release commit) filled, the 0.2.0 library swapped in,
# ALTER EXTENSION jsruntime UPDATE: rows, queued runs, the catalog against a
# fresh 0.2.0 (two clusters of its own; last: it swaps the installed library)
tests/integration/upgrade.sh

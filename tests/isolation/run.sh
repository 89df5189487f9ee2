#!/usr/bin/env bash
# The concurrency specs (tests/isolation/specs, expected outputs in
# tests/isolation/expected) under pg_isolation_regress, in a database of
# their own on the test cluster: the executors serve jsrt.database only, so
# no background worker takes the specs' runs; each session claims them
# itself with jsrt.run_pending, which runs the executors' claim.
#   tests/isolation/run.sh PORT OUTDIR
set -euo pipefail
PORT=${1:?port}; OUT=${2:?output directory}
DB=jsrt_isolation
cd "$(dirname "$0")"
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
psql_pg() { as_pg psql -X -q -v ON_ERROR_STOP=1 -h /tmp -p "$PORT" -U postgres "$@"; }
psql_pg -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql_pg -d "$DB" -c "CREATE EXTENSION jsruntime"
rm -rf "$OUT"; mkdir -p "$OUT"; cp -r specs expected "$OUT/"; chown -R postgres "$OUT"
specs=$(cd specs && ls *.spec | sed 's/\.spec$//' | sort)
rc=0
as_pg /usr/lib/postgresql/15/lib/pgxs/src/test/isolation/pg_isolation_regress \
  --inputdir="$OUT" --outputdir="$OUT" --host=/tmp --port="$PORT" --user=postgres \
  --dbname="$DB" --use-existing $specs || rc=$?
if [ $rc -ne 0 ]; then head -300 "$OUT/output_iso/regression.diffs" 2>/dev/null || true; fi
psql_pg -d postgres -c "DROP DATABASE IF EXISTS $DB" || true
exit $rc

#!/usr/bin/env bash
# `make fuzz`: the long fuzz campaign on a cluster of its own, whose database
# is jsrt.database (the executors and HTTP workers serve it): sqlsmith,
# LOOPS (10) loops of QUERIES (2,000) queries; the ctx host API, JS_SEEDS (20)
# runs of JS_CALLS (400) calls; the SQL API, SQL_SEEDS (10) chunks of
# SQL_CALLS (1,000) calls as a developer and as a superuser. tests/fuzz/run.sh
# says what is checked. SEED=n starts the seeds elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-fuzz; PORT=28818; DB=jsrt_fuzz
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
psql -X -q -h /tmp -p "$PORT" -U postgres "$DB" -c "CREATE EXTENSION jsruntime" >/dev/null
tests/fuzz/run.sh "$PORT" "$DB" "$DIR" "${LOOPS:-10}" "${QUERIES:-2000}" "${JS_SEEDS:-20}" "${JS_CALLS:-400}" \
  "${SQL_SEEDS:-10}" "${SQL_CALLS:-1000}"

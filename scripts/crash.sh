#!/usr/bin/env bash
# `make crash`: the crash campaign on a cluster of its own: RUNS queued event
# runs (10,000) over TENANTS tenants (50), each busy WORK_MS ms (30), and an
# executor killed with kill -9 every EVERY s (5) for DURATION s (120), with
# the cluster's 2 executors. tests/integration/crash.sh says what is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-crash; PORT=28817; DB=jsrt_crash
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
psql -X -q -h /tmp -p "$PORT" -U postgres "$DB" -c "CREATE EXTENSION jsruntime" >/dev/null
tests/integration/crash.sh "$PORT" "$DB" "${RUNS:-10000}" "${TENANTS:-50}" "${DURATION:-120}" "${EVERY:-5}" "${WORK_MS:-30}"

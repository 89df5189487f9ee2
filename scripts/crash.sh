#!/usr/bin/env bash
# `make crash`: the crash campaign on a cluster of its own: 2,000 queued runs
# (RUNS), an executor killed with kill -9 every 5 s (EVERY) while they drain
# (KILLS times). tests/integration/crash.sh says what is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-crash; PORT=28817; DB=jsrt_crash
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
psql -X -q -h /tmp -p "$PORT" -U postgres "$DB" -c "CREATE EXTENSION jsruntime" >/dev/null
tests/integration/crash.sh "$PORT" "$DB" "${RUNS:-2000}" "${KILLS:-8}" "${EVERY:-5}"

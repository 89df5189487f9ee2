#!/usr/bin/env bash
# Next run times of jsrt._cron_next against croniter, an independent
# implementation, on a few thousand generated cases around daylight-saving
# changes (tests/integration/cron_differential.py).
#   tests/integration/cron_differential.sh PORT DB
# croniter comes from the venv scripts/setup.sh makes (target/test-venv).
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
here=$(dirname "$0")
source "$here/peers.sh"
peer_python croniter
"$PY" "$here/cron_differential.py" "$PORT" "$DB"

#!/usr/bin/env bash
# Next run times of jsrt._cron_next against croniter, an independent
# implementation, on a few thousand generated cases around daylight-saving
# changes (tests/integration/cron_differential.py).
#   tests/integration/cron_differential.sh PORT DB
# croniter comes from the venv scripts/setup.sh makes (target/h11-venv).
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
here=$(dirname "$0")
PY="$here/../../target/h11-venv/bin/python"
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import croniter' 2>/dev/null; then
  echo "FAIL cron differential: no croniter (run scripts/setup.sh)"
  echo "integration: 0 passed, 1 failed"
  exit 1
fi
"$PY" "$here/cron_differential.py" "$PORT" "$DB"

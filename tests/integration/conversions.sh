#!/usr/bin/env bash
# Values of each common type through ctx.db, typed functions and a trigger,
# compared with psql's own text (tests/integration/conversions.py).
#   tests/integration/conversions.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
python3 "$(dirname "$0")/conversions.py" "$PORT" "$DB"

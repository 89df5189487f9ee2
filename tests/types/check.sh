#!/usr/bin/env bash
# types/jsrt.d.ts against example scripts: ok/ must type-check, and every
# line of bad/mistakes.ts must be an error.
set -uo pipefail
cd "$(dirname "$0")"
[ -x node_modules/.bin/tsc ] || npm install --no-audit --no-fund --silent >/dev/null
passed=0; failed=0
tsc() { node_modules/.bin/tsc --strict --noEmit --target es2023 --lib es2023 --module es2022 ../../types/jsrt.d.ts "$@"; }
if out=$(tsc ok/*.ts 2>&1); then
  passed=$((passed + 1)); echo "ok   examples type-check against jsrt.d.ts"
else
  failed=$((failed + 1)); echo "FAIL examples type-check against jsrt.d.ts"; echo "$out"
fi
# every mistake (an indented line of bad/mistakes.ts) must be reported on its own line
errors=$(tsc bad/mistakes.ts 2>&1)
missed=$(grep -n '^  ' bad/mistakes.ts | cut -d: -f1 | while read -r n; do
  echo "$errors" | grep -q "mistakes.ts($n," || echo "$n"; done)
if [ -z "$missed" ]; then passed=$((passed + 1)); echo "ok   each mistake in bad/mistakes.ts is a type error"
else failed=$((failed + 1)); echo "FAIL no type error on lines: $missed"; fi
echo "types: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

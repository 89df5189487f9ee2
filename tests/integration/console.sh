#!/usr/bin/env bash
# The web console in a real browser against the front door: console.mjs.
#   tests/integration/console.sh PORT DB      (the front listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=console_t
source "$(dirname "$0")/lib.sh"
"${PSQL[@]}" -c "SELECT jsrt.create_tenant('console_t')" >/dev/null
sql "SELECT jsrt.create_script('greet', 'export default (ctx) => \"hello \" + (ctx.input.name ?? \"world\")', 'oneoff', '{\"status\": \"active\", \"input_schema\": {\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}}}}')" >/dev/null
sql "SELECT jsrt.create_script('weekdays', 'export default () => 1', 'scheduled', '{\"cron_expression\": \"0 9 * * 1-5\", \"timezone\": \"Europe/Berlin\"}')" >/dev/null
# a script whose last run failed at line 3
sql "SELECT jsrt.create_script('broken', E'export default (ctx) => {\\n  const a = 1;\\n  throw new Error(\"broken here\");\\n}', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
id=$(sql "SELECT jsrt.execute_async('broken')" | tail -1)
wait_for "SELECT status = 'failed' FROM jsrt.script_executions WHERE id = '$id'" 20
dev=$(sql "SELECT jsrt.create_api_key('console_dev', 'jsrt_developer')" | tail -1)
viewer=$(sql "SELECT jsrt.create_api_key('console_viewer', 'jsrt_viewer')" | tail -1)
# The files themselves: hashed assets immutable and precompressed, the page revalidated.
asset=$(curl -s "http://127.0.0.1:$HTTP_PORT/_jsrt/console/" | grep -o 'assets/app-[A-Z0-9]*\.js' | head -1)
headers=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip, br' "http://127.0.0.1:$HTTP_PORT/_jsrt/console/$asset" | tr -d '\r')
grep -qi '^content-encoding: br' <<<"$headers" && grep -qi '^cache-control: public, max-age=31536000, immutable' <<<"$headers"
check "hashed assets are served brotli-compressed and immutable ($asset)" $?
etag=$(curl -s -o /dev/null -D - "http://127.0.0.1:$HTTP_PORT/_jsrt/console/" | tr -d '\r' | grep -i '^etag:' | cut -d' ' -f2)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "http://127.0.0.1:$HTTP_PORT/_jsrt/console/")
[ -n "$etag" ] && [ "$code" = 304 ]
check "the page has an ETag and revalidates with 304" $?
node "$(dirname "$0")/console.mjs" "http://127.0.0.1:$HTTP_PORT" "$dev" "$viewer"
check "the console in a browser (console.mjs)" $?
finish

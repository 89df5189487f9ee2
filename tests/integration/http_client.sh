#!/usr/bin/env bash
# ctx.http against real servers on 127.0.0.x: the SSRF rules (loopback in
# every disguise, a redirect inward, a name that /etc/hosts maps to a private
# address), a CSV upload received byte for byte, caps, and a cancel while a
# request waits.
#   tests/integration/http_client.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=web
# the test server is opened by the allow list; loopback 127.0.0.1 stays refused
export PGOPTIONS="-c jsrt.http_allow=127.0.0.2 -c jsrt.http_max_response_bytes=1000000"
source "$(dirname "$0")/lib.sh"
OK_PORT=28830; GUARD_PORT=28831
work=$(mktemp -d); chmod 755 "$work"
here=$(dirname "$0")
pids=()
HOSTS_MARK="# jsruntime http_client test"
cleanup() {
  kill "${pids[@]}" 2>/dev/null
  sed -i "/$HOSTS_MARK/d" /etc/hosts
}
trap cleanup EXIT

python3 "$here/http_server.py" 127.0.0.2 $OK_PORT "$work" & pids+=($!)
mkdir -p "$work/guard"
python3 "$here/http_server.py" 127.0.0.1 $GUARD_PORT "$work/guard" & pids+=($!)
if ip -6 addr show lo 2>/dev/null | grep -q '::1'; then
  python3 "$here/http_server.py" ::1 $GUARD_PORT "$work/guard" & pids+=($!)
fi
# a name that resolves to a private address, as a split-horizon DNS would give
echo "10.20.30.40 intranet.jsrt.test $HOSTS_MARK" >> /etc/hosts
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for _ in $(seq 1 50); do up 127.0.0.2 $OK_PORT && up 127.0.0.1 $GUARD_PORT && break; sleep 0.1; done
# The servers log the probes' connections as they handle them, which can be
# after the probe returned: wait for those lines, then start with empty logs.
for _ in $(seq 1 50); do [ -s "$work/guard/connections.log" ] && [ -s "$work/connections.log" ] && break; sleep 0.1; done
sleep 0.2
rm -f "$work/guard/connections.log" "$work/connections.log"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('web')" >/dev/null
# Scripts are written to files and read with pg_read_file: no shell quoting inside JS.
script() { cat > "$work/$1.js"; sql "SELECT jsrt.create_script('$1', pg_read_file('$work/$1.js'))" >/dev/null; }
# fetch(url, options) and report what came back or what was thrown
script fetch <<'JS'
export default async (ctx) => {
  try {
    const r = await ctx.http.fetch(ctx.input.url, ctx.input.options);
    return {status: r.status, ok: r.ok, body: r.body.slice(0, 100), type: r.headers['content-type'] ?? null};
  } catch (e) {
    return {error: e.name, kind: e.kind, rule: e.rule ?? null, code: e.code, message: e.message};
  }
}
JS
fetch() {
  local options=${2:-'{}'}
  sql "SELECT jsrt.execute('fetch', jsonb_build_object('url', '$1', 'options', '$options'::jsonb))" | tail -1
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1]).get('$2'))" "$1"; }

# 1. The allowed server answers, JSON and headers included.
out=$(fetch "http://127.0.0.2:$OK_PORT/json")
check "an allowed server answers" "$([ "$(field "$out" status)" = 200 ] && [ "$(field "$out" type)" = application/json ] && echo 0 || echo 1)"

# 2. Loopback in every disguise is refused before connecting.
all=0
for host in localhost 127.1 0x7f000001 2130706433 0177.0.0.1 "[::1]" "[::ffff:127.0.0.1]" "[::ffff:7f00:1]" 127.0.0.1; do
  out=$(fetch "http://$host:$GUARD_PORT/json")
  if [ "$(field "$out" kind)" != refused ] || [ "$(field "$out" rule)" != loopback ] || [ "$(field "$out" code)" != 42501 ]; then
    echo "  $host: $out"; all=1
  fi
done
check "loopback refused as localhost, 127.1, 0x7f000001, 2130706433, octal, [::1], [::ffff:127.0.0.1]" $all

# 3. Other refused classes.
all=0
for want in "http://169.254.169.254/latest/meta-data/|cloud metadata" "http://[fd00:ec2::254]/|cloud metadata" \
            "http://10.0.0.1/|private network" "http://192.168.1.1/|private network" "http://100.64.0.1/|carrier-grade NAT" \
            "http://[fe80::1]/|link-local" "http://224.0.0.1/|multicast" "http://0.0.0.0:$GUARD_PORT/|unspecified" "http://[::]:$GUARD_PORT/|unspecified"; do
  out=$(fetch "${want%%|*}")
  [ "$(field "$out" rule)" = "${want##*|}" ] || { echo "  ${want%%|*}: $out"; all=1; }
done
check "metadata, private, CGNAT, link-local, multicast and unspecified addresses refused" $all

# 4. A host name that /etc/hosts maps to 10.20.30.40.
out=$(fetch "http://intranet.jsrt.test:$OK_PORT/")
check "a name resolving to a private address is refused" \
  "$([ "$(field "$out" rule)" = "private network" ] && echo "$out" | grep -q 'intranet.jsrt.test is 10.20.30.40' && echo 0 || echo 1)"

# 5. A redirect from the allowed server to loopback is checked again and refused.
out=$(fetch "http://127.0.0.2:$OK_PORT/redirect?to=http://127.0.0.1:$GUARD_PORT/json")
check "a redirect to loopback is refused" "$([ "$(field "$out" rule)" = loopback ] && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/redirect?to=/json")
check "a redirect within the allowed server is followed" "$([ "$(field "$out" status)" = 200 ] && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/loop")
check "redirect loops stop at jsrt.http_max_redirects" "$([ "$(field "$out" kind)" = too_many_redirects ] && echo 0 || echo 1)"

check "no refused request ever connected" "$([ ! -s "$work/guard/connections.log" ] && echo 0 || echo 1)"

# 6. Other schemes, bad URLs, caps, timeouts, HTTP errors.
out=$(fetch "file:///etc/passwd")
check "file: is refused" "$([ "$(field "$out" kind)" = bad_url ] && field "$out" message | grep -q 'scheme "file" is not allowed' && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/big?n=2000000")
check "a response over jsrt.http_max_response_bytes fails" "$([ "$(field "$out" kind)" = too_large ] && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/slow" '{"timeoutMs": 300}')
check "timeoutMs ends a slow request" "$([ "$(field "$out" kind)" = timeout ] && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/status/404")
check "a 404 is a response, not an error" "$([ "$(field "$out" status)" = 404 ] && [ "$(field "$out" ok)" = False ] && echo 0 || echo 1)"
out=$(fetch "http://127.0.0.2:$OK_PORT/json" '{"method": "TRACE"}')
check "a bad method is a TypeError naming the field" "$([ "$(field "$out" error)" = TypeError ] && field "$out" message | grep -q '"method" must be one of' && echo 0 || echo 1)"
for h in Content-Length Transfer-Encoding Host Connection Proxy-Authorization; do
  out=$(fetch "http://127.0.0.2:$OK_PORT/json" "{\"method\": \"POST\", \"body\": \"x\", \"headers\": {\"$h\": \"5\"}}")
  [ "$(field "$out" error)" = TypeError ] && field "$out" message | grep -qi "$h" || { echo "  $h: $out"; bad_header=1; }
done
check "scripts cannot set framing or routing headers (Content-Length, Transfer-Encoding, Host, Connection, Proxy-*)" "${bad_header:-0}"

# 7. Refusals are in the run's logs.
logs=$(sql "SELECT e.logs::text FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
             WHERE s.name = 'fetch' AND e.logs::text LIKE '%intranet.jsrt.test%' LIMIT 1" | tail -1)
check "a refusal is recorded in the run's logs" "$(echo "$logs" | grep -q 'refused by the SSRF rules' && echo 0 || echo 1)"

# 8. A CSV built from table rows is POSTed with a key from the secrets; the server gets exactly these bytes.
sql "SELECT jsrt.set_secret('accounting_key', 'acct-key-4f9a1c')" >/dev/null
script export_csv <<'JS'
export default async (ctx) => {
  const rows = ctx.db.query(`SELECT * FROM (VALUES (1, 'Müller, Anna', 12.50), (2, 'O''Brien "Bob"', 7.25)) t(id, name, amount)`);
  const quote = (v) => (/[",\r\n]/.test(String(v)) ? '"' + String(v).replaceAll('"', '""') + '"' : String(v));
  const csv = ['id,name,amount', ...rows.map((r) => [r.id, r.name, r.amount].map(quote).join(','))].join('\r\n') + '\r\n';
  const key = ctx.secrets.get('accounting_key');
  const r = await ctx.http.post(ctx.input.url, csv, {headers: {'Content-Type': 'text/csv; charset=utf-8', Authorization: 'Bearer ' + key}});
  console.log('posted', csv.length, 'chars with key', key);
  return {status: r.status, received: r.json().bytes};
}
JS
out=$(sql "SELECT jsrt.execute('export_csv', jsonb_build_object('url', 'http://127.0.0.2:$OK_PORT/upload'))" | tail -1)
printf 'id,name,amount\r\n1,"M\xc3\xbcller, Anna",12.50\r\n2,"O'"'"'Brien ""Bob""",7.25\r\n' > "$work/expected.csv"
check "the CSV arrives byte for byte" "$(cmp -s "$work/upload.bin" "$work/expected.csv" && [ "$(field "$out" status)" = 201 ] && echo 0 || { echo "  $out"; od -c "$work/upload.bin" | head; echo 1; })"
check "the key went in the Authorization header" "$(grep -q 'Bearer acct-key-4f9a1c' "$work/upload.headers" && echo 0 || echo 1)"
logs=$(sql "SELECT e.logs::text FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'export_csv'" | tail -1)
check "the key is redacted from the run's logs" "$(echo "$logs" | grep -q 'with key \[REDACTED\]' && ! echo "$logs" | grep -q acct-key && echo 0 || echo 1)"

# 9. pg_cancel_backend while a script waits on a server that answers in 5 s.
"${PSQL[@]}" -c "SELECT jsrt.set_tenant('web')" -c "SELECT jsrt.execute('fetch', jsonb_build_object('url', 'http://127.0.0.2:$OK_PORT/slow?cancel'))" > "$work/cancel.out" 2>&1 &
cpid=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%slow?cancel%' AND pid <> pg_backend_pid())" 10
sleep 0.3
"${PSQL[@]}" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%slow?cancel%' AND pid <> pg_backend_pid()" >/dev/null
wait $cpid
answered=$(grep -c 'slow?cancel' "$work/slow.log" 2>/dev/null)
check "a cancel ends a run waiting on HTTP before the server answers" \
  "$(grep -q 'canceling statement due to user request' "$work/cancel.out" && [ "${answered:-0}" -eq 0 ] && echo 0 || { cat "$work/cancel.out"; echo 1; })"

finish

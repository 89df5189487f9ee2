#!/usr/bin/env bash
# ctx.http and crypto, side by side with peers in the same run, on a fresh cluster:
#   GET of a small JSON document from a local Node.js server: ctx.http.get
#   against PL/PerlU with HTTP::Tiny (Perl's core client), per request;
#   HMAC-SHA256 of 1 KiB: crypto.hmacSha256 against pgcrypto's hmac().
# Not tests: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-http; PORT=28822; DB=jsrt_bench; TARGET=127.0.0.2:28832
dpkg -s postgresql-plperl-15 >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-plperl-15 >/dev/null
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
node -e "
  const body = JSON.stringify({id: 42, name: 'widget', price: '12.50'});
  require('http').createServer((req, res) => { res.writeHead(200, {'Content-Type': 'application/json'}); res.end(body); })
    .listen(${TARGET##*:}, '${TARGET%:*}');" &
server=$!
trap 'kill $server; scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
export PGOPTIONS="-c jsrt.http_allow=${TARGET%:*}"
N=2000
"${PSQL[@]}" >/dev/null <<SQL
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
CREATE EXTENSION IF NOT EXISTS plperlu;
CREATE EXTENSION IF NOT EXISTS pgcrypto;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
SELECT jsrt.create_script('get', \$js\$
export default async (ctx) => {
  let bytes = 0;
  for (let i = 0; i < ctx.input.n; i++) bytes += (await ctx.http.get(ctx.input.url)).json().name.length;
  return bytes;
}\$js\$, 'oneoff', '{"resource_limits": {"max_api_calls": 1000000, "max_api_calls_per_minute": 100000000, "max_execution_time_ms": 600000}}');
SELECT jsrt.create_script('hmac', \$js\$
export default (ctx) => {
  const data = 'x'.repeat(1024);
  let last;
  for (let i = 0; i < ctx.input.n; i++) last = crypto.hmacSha256('key-' + i, data);
  return last;
}\$js\$, 'oneoff', '{"resource_limits": {"max_execution_time_ms": 600000}}');
CREATE OR REPLACE FUNCTION perl_get(url text, n int, keep_alive boolean) RETURNS int LANGUAGE plperlu AS \$\$
  use HTTP::Tiny; use JSON::PP;
  my (\$url, \$n, \$keep) = @_;
  my \$http = HTTP::Tiny->new(keep_alive => \$keep eq 't' ? 1 : 0);
  my \$bytes = 0;
  for (1 .. \$n) {
    my \$r = \$http->get(\$url);
    die "HTTP \$r->{status}" unless \$r->{success};
    \$bytes += length(decode_json(\$r->{content})->{name});
  }
  return \$bytes;
\$\$;
SQL
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/${TARGET%:*}/${TARGET##*:}") 2>/dev/null && break; sleep 0.1; done
# mean microseconds per operation of a statement doing $2 of them
per() { "${PSQL[@]}" -c '\timing on' -c "SELECT jsrt.set_tenant('bench')" -c "$1" | grep -Eo 'Time: [0-9.]+' | tail -1 | awk -v n="$2" '{printf "%.1f", $2 * 1000 / n}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
url="http://$TARGET/item"

echo "1. GET of a small JSON document from a local server, parsed (mean of $N in one statement)"
per "SELECT jsrt.execute('get', jsonb_build_object('url', '$url', 'n', 50))" 50 >/dev/null
js=$(per "SELECT jsrt.execute('get', jsonb_build_object('url', '$url', 'n', $N))" $N)
pk=$(per "SELECT perl_get('$url', $N, true)" $N)
pn=$(per "SELECT perl_get('$url', $N, false)" $N)
printf "   %-52s %8s us\n" "ctx.http.get (connections kept open)" "$js" \
  "PL/PerlU HTTP::Tiny, keep-alive" "$pk" "PL/PerlU HTTP::Tiny, a new connection per request" "$pn"
echo "   ratio ctx.http / HTTP::Tiny keep-alive: $(ratio "$js" "$pk"); / new connection: $(ratio "$js" "$pn")"

echo "2. HMAC-SHA256 of 1 KiB (mean of 20000)"
a=$(per "SELECT jsrt.execute('hmac', '{\"n\": 20000}')" 20000)
b=$(per "SELECT count(hmac(repeat('x', 1024), 'key-' || g, 'sha256')) FROM generate_series(1, 20000) g" 20000)
printf "   %-52s %8s us\n" "crypto.hmacSha256 in a script" "$a" "pgcrypto hmac() in SQL" "$b"
echo "   ratio: $(ratio "$a" "$b")"

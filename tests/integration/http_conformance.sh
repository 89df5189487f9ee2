#!/usr/bin/env bash
# Request framing of the HTTP workers against h11, over real sockets
# (tests/integration/http_conformance.py on tests/http/corpus/).
#   tests/integration/http_conformance.sh PORT DB      (the workers listen on PORT + 1000)
# h11 comes from the venv scripts/setup.sh makes (target/test-venv).
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
here=$(dirname "$0")
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
source "$here/peers.sh"
peer_python h11

# A public endpoint answering with what it got: the body's length tells how the server framed it.
work=$(mktemp -d); chmod 755 "$work"
cat > "$work/echo.js" <<'JS'
export default (ctx) => ({len: ctx.request.body == null ? 0 : ctx.request.body.length, method: ctx.request.method});
JS
"${PSQL[@]}" -v ON_ERROR_STOP=1 >/dev/null <<SQL || { echo "integration: 0 passed, 1 failed"; exit 1; }
SELECT jsrt.create_tenant('conformance') WHERE NOT EXISTS (SELECT FROM jsrt.tenants WHERE name = 'conformance');
SELECT jsrt.set_tenant('conformance');
SELECT jsrt.create_script('echo', pg_read_file('$work/echo.js'), 'http',
  '{"status": "active", "http_path": "/echo", "http_auth": "public",
    "http_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"]}');
SQL
rm -rf "$work"
"$PY" "$here/http_conformance.py" "$HTTP_PORT" "$here/../http/corpus"

#!/usr/bin/env bash
# fetch, Request, Response, Headers, AbortController, AbortSignal and
# FormData against real servers on 127.0.0.x: bodies read every way,
# headers as the Fetch standard orders them, redirect modes, aborts and
# timeouts, errors as the standard throws them, and the same SSRF rules,
# caps and API-call quotas as ctx.http, since both send through one path.
#   tests/integration/fetch.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=fetcher
export PGOPTIONS="-c jsrt.http_allow=127.0.0.2 -c jsrt.http_max_response_bytes=1000000"
source "$(dirname "$0")/lib.sh"
OK_PORT=28840; GUARD_PORT=28841
work=$(mktemp -d); chmod 755 "$work"
here=$(dirname "$0")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
python3 "$here/http_server.py" 127.0.0.2 $OK_PORT "$work" & pids+=($!)
mkdir -p "$work/guard"
python3 "$here/http_server.py" 127.0.0.1 $GUARD_PORT "$work/guard" & pids+=($!)
up() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for _ in $(seq 1 50); do up 127.0.0.2 $OK_PORT && up 127.0.0.1 $GUARD_PORT && break; sleep 0.1; done
for _ in $(seq 1 50); do [ -s "$work/guard/connections.log" ] && break; sleep 0.1; done
sleep 0.2
rm -f "$work/guard/connections.log"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('$TENANT')" >/dev/null
script() { cat > "$work/$1.js"; sql "SELECT jsrt.create_script('$1', pg_read_file('$work/$1.js')${2:+, 'oneoff', '$2'})" >/dev/null; }
field() { python3 -c "import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v.get('$2')) if isinstance(v, dict) else v)" "$1"; }

# 1. Every feature in one run: each entry is true, or what came out instead.
script features <<'JS'
export default async (ctx) => {
  const base = ctx.input.base, out = {};
  const t = async (name, f) => {
    try { const v = await f(); out[name] = v === true ? true : {got: v}; }
    catch (e) { out[name] = {threw: `${e.name}: ${e.message}`}; }
  };
  await t('text', async () => (await (await fetch(base + '/json')).text()).includes('"hello"'));
  await t('json', async () => { const r = await fetch(base + '/json'); const j = await r.json(); return j.hello === 'world' && r.ok && r.status === 200 && r.statusText === 'OK'; });
  await t('arrayBuffer', async () => { const b = await (await fetch(base + '/big?n=5')).arrayBuffer(); return b instanceof ArrayBuffer && b.byteLength === 5 && new Uint8Array(b)[0] === 120; });
  await t('bytes', async () => { const b = await (await fetch(base + '/big?n=3')).bytes(); return b instanceof Uint8Array && b.length === 3; });
  await t('blob', async () => { const b = await (await fetch(base + '/json')).blob(); return b.type === 'application/json' && (await b.text()).includes('hello'); });
  await t('formData', async () => {
    const f = await (await fetch(base + '/form')).formData();
    return f instanceof FormData && f.getAll('a').join() === '1,2' && f.get('b') === 'x y' && f.get('c') === 'é';
  });
  await t('formData of JSON is a TypeError', async () => { try { await (await fetch(base + '/json')).formData(); return 'no error'; } catch (e) { return e instanceof TypeError; } });
  await t('bodyUsed and a second read', async () => {
    const r = await fetch(base + '/json');
    if (r.bodyUsed) return 'used before';
    await r.text();
    if (!r.bodyUsed) return 'not used after';
    try { await r.text(); return 'read twice'; } catch (e) { return e instanceof TypeError; }
  });
  await t('clone', async () => { const r = await fetch(base + '/json'); const c = r.clone(); return (await r.json()).hello === (await c.json()).hello; });
  await t('a clone of a fetched response follows its signal', async () => {
    const c = new AbortController();
    const k = (await fetch(base + '/json', {signal: c.signal})).clone();
    c.abort();
    try { await k.text(); return 'read'; } catch (e) { return e.name === 'AbortError' || e.name; }
  });
  await t('a used Request can still be the input when a new body is given', async () => {
    const a = new Request(base + '/echo', {method: 'POST', body: 'one'});
    await a.text();
    try { new Request(a); return 'no error'; } catch (e) { if (!(e instanceof TypeError)) return e.name; }
    const e = await (await fetch(new Request(a, {body: 'two'}))).json();
    return e.body === 'two' || e;
  });
  await t('clone after read throws', async () => { const r = await fetch(base + '/json'); await r.text(); try { r.clone(); return 'cloned'; } catch (e) { return e instanceof TypeError; } });
  await t('404 is a response', async () => { const r = await fetch(base + '/status/404'); return r.status === 404 && !r.ok; });
  await t('headers: case-insensitive, combined, getSetCookie', async () => {
    const h = (await fetch(base + '/json')).headers;
    return h.get('Content-Type') === 'application/json' && h.get('set-cookie') === 'a=1, b=2' && h.getSetCookie().join('|') === 'a=1|b=2' && h.has('CONTENT-TYPE');
  });
  await t('response headers are immutable', async () => { const h = (await fetch(base + '/json')).headers; try { h.set('x', '1'); return 'set'; } catch (e) { return e instanceof TypeError; } });
  await t('Headers iteration is sorted and combined', async () => {
    const h = new Headers([['B', '1'], ['a', '2'], ['set-cookie', 'x=1'], ['b', '3'], ['Set-Cookie', 'y=2']]);
    const got = JSON.stringify([...h]);
    return got === JSON.stringify([['a', '2'], ['b', '1, 3'], ['set-cookie', 'x=1'], ['set-cookie', 'y=2']]) || got;
  });
  await t('Headers append/set/delete', async () => {
    const h = new Headers({'X-A': ' 1 '});
    h.append('x-a', '2'); h.set('X-B', '3'); h.delete('x-b');
    const seen = []; h.forEach((v, k) => seen.push(k + '=' + v));
    return h.get('x-a') === '1, 2' && !h.has('x-b') && seen.join() === 'x-a=1, 2' && [...h.keys()].join() === 'x-a';
  });
  await t('Headers refuse bad names and values', async () => {
    let n = 0;
    for (const f of [() => new Headers({'a b': '1'}), () => new Headers({a: 'x\r\ny'}), () => new Headers([['a']])]) { try { f(); } catch (e) { if (e instanceof TypeError) n++; } }
    return n === 3 || n;
  });
  await t('POST a string, headers sent', async () => {
    const r = await fetch(base + '/echo', {method: 'post', body: 'hi é', headers: {'X-Custom': 'v'}});
    const e = await r.json();
    return (e.method === 'POST' && e.body === 'hi é' && e.headers['x-custom'] === 'v' && e.headers['content-type'] === 'text/plain;charset=UTF-8' && e.headers.accept === '*/*') || e;
  });
  await t('POST URLSearchParams', async () => {
    const e = await (await fetch(base + '/echo', {method: 'POST', body: new URLSearchParams({q: 'a b', r: 'é'})})).json();
    return (e.body === 'q=a+b&r=%C3%A9' && e.headers['content-type'] === 'application/x-www-form-urlencoded;charset=UTF-8') || e;
  });
  await t('POST FormData as multipart', async () => {
    const f = new FormData(); f.append('name', 'Anna'); f.append('file', new Blob(['abc'], {type: 'text/csv'}), 'a.csv');
    const e = await (await fetch(base + '/echo', {method: 'POST', body: f})).json();
    const boundary = (e.headers['content-type'].match(/boundary=(.*)$/) || [])[1];
    const want = `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nAnna\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\nContent-Type: text/csv\r\n\r\nabc\r\n--${boundary}--\r\n`;
    return e.body === want || e;
  });
  await t('POST bytes', async () => { const e = await (await fetch(base + '/echo', {method: 'PUT', body: new TextEncoder().encode('raw')})).json(); return (e.body === 'raw' && e.method === 'PUT' && !e.headers['content-type']) || e; });
  await t('a Request as input', async () => {
    const req = new Request(base + '/echo', {method: 'POST', body: 'from request', headers: {'X-R': '1'}});
    const e = await (await fetch(req)).json();
    return (e.body === 'from request' && e.headers['x-r'] === '1' && req.bodyUsed) || e;
  });
  await t('GET with a body is a TypeError', async () => { try { await fetch(base + '/echo', {body: 'x'}); return 'sent'; } catch (e) { return e instanceof TypeError; } });
  await t('a relative URL is a TypeError', async () => { try { await fetch('/json'); return 'sent'; } catch (e) { return e instanceof TypeError; } });
  await t('redirect follow: redirected and url', async () => {
    const r = await fetch(base + '/redirect?to=/json');
    return (r.redirected && r.url === base + '/json' && r.status === 200) || [r.redirected, r.url, r.status];
  });
  await t('303 turns POST into GET', async () => {
    const e = await (await fetch(base + '/redirect?status=303&to=/echo', {method: 'POST', body: 'x'})).json();
    return (e.method === 'GET' && e.body === '') || e;
  });
  await t('307 keeps POST and body', async () => {
    const e = await (await fetch(base + '/redirect?status=307&to=/echo', {method: 'POST', body: 'kept'})).json();
    return (e.method === 'POST' && e.body === 'kept') || e;
  });
  await t('redirect manual', async () => {
    const r = await fetch(base + '/redirect?to=/json', {redirect: 'manual'});
    return (r.status === 302 && r.headers.get('location') === '/json' && !r.redirected && r.url === base + '/redirect?to=/json') || [r.status, r.url];
  });
  await t('redirect error', async () => {
    try { await fetch(base + '/redirect?to=/json', {redirect: 'error'}); return 'followed'; }
    catch (e) { return (e instanceof TypeError && e.cause?.kind === 'redirected') || `${e.name} ${e.message} ${e.cause?.kind}`; }
  });
  await t('bad redirect mode', async () => { try { await fetch(base + '/json', {redirect: 'sometimes'}); return 'sent'; } catch (e) { return e instanceof TypeError; } });
  await t('abort before sending', async () => {
    const c = new AbortController(); c.abort();
    try { await fetch(base + '/json', {signal: c.signal}); return 'sent'; }
    catch (e) { return (e instanceof DOMException && e.name === 'AbortError' && e.code === 20) || `${e.name}`; }
  });
  await t('abort with a reason', async () => {
    const c = new AbortController(); const why = new Error('changed my mind'); c.abort(why);
    try { await fetch(base + '/json', {signal: c.signal}); return 'sent'; } catch (e) { return e === why; }
  });
  await t('abort after the response fails the body read', async () => {
    const c = new AbortController();
    const r = await fetch(base + '/json', {signal: c.signal});
    c.abort();
    try { await r.text(); return 'read'; } catch (e) { return e.name === 'AbortError' || e.name; }
  });
  await t('abort event and reason', async () => {
    const c = new AbortController(); let heard = 0;
    c.signal.addEventListener('abort', () => heard++); c.signal.onabort = () => heard++;
    c.abort('why'); c.abort('again');
    return (heard === 2 && c.signal.aborted && c.signal.reason === 'why') || heard;
  });
  await t('AbortSignal.timeout ends a slow request with a TimeoutError', async () => {
    const started = Date.now(); const signal = AbortSignal.timeout(300);
    try { await fetch(base + '/slow', {signal}); return 'answered'; }
    catch (e) { const took = Date.now() - started; return (e instanceof DOMException && e.name === 'TimeoutError' && e.code === 23 && signal.aborted && took >= 250 && took < 3000) || `${e.name} ${e.message} ${took}`; }
  });
  await t('AbortSignal.abort and any', async () => {
    const a = AbortSignal.abort(); const c = new AbortController(); const any = AbortSignal.any([c.signal, AbortSignal.timeout(100000)]);
    if (!a.aborted || a.reason.name !== 'AbortError' || any.aborted) return 'wrong start';
    c.abort('x'); return (any.aborted && any.reason === 'x') || any.reason;
  });
  await t('a refused address is a TypeError with the HttpError as cause', async () => {
    try { await fetch(ctx.input.inside); return 'sent'; }
    catch (e) { return (e instanceof TypeError && e.cause.name === 'HttpError' && e.cause.kind === 'refused' && e.cause.rule === 'loopback' && e.cause.code === '42501') || `${e.name} ${e.message}`; }
  });
  await t('a redirect inward is refused', async () => {
    try { await fetch(base + '/redirect?to=' + encodeURIComponent(ctx.input.inside)); return 'followed'; }
    catch (e) { return (e instanceof TypeError && e.cause.rule === 'loopback') || `${e.name} ${e.message}`; }
  });
  await t('a too large response is a TypeError', async () => {
    try { await fetch(base + '/big?n=2000000'); return 'read'; } catch (e) { return (e instanceof TypeError && e.cause.kind === 'too_large') || e.message; }
  });
  await t('a framing header is a TypeError', async () => {
    try { await fetch(base + '/echo', {method: 'POST', body: 'x', headers: {'Content-Length': '5'}}); return 'sent'; } catch (e) { return (e instanceof TypeError && /Content-Length/.test(e.message)) || e.message; }
  });
  await t('file: is a TypeError', async () => { try { await fetch('file:///etc/passwd'); return 'read'; } catch (e) { return (e instanceof TypeError && e.cause.kind === 'bad_url') || e.message; } });
  await t('Response constructor and statics', async () => {
    const r = new Response('body', {status: 201, statusText: 'Made', headers: {'X-A': '1'}});
    const j = Response.json({a: 1}, {status: 202});
    const e = Response.error(); const d = Response.redirect('https://example.com/x', 301);
    return (r.status === 201 && r.statusText === 'Made' && (await r.text()) === 'body' && r.headers.get('content-type') === 'text/plain;charset=UTF-8' &&
      j.status === 202 && j.headers.get('content-type') === 'application/json' && (await j.json()).a === 1 &&
      e.type === 'error' && e.status === 0 && d.status === 301 && d.headers.get('location') === 'https://example.com/x' &&
      new Response(null, {status: 204}).body === undefined) || 'mismatch';
  });
  await t('Response refuses bad status', async () => { let n = 0; for (const f of [() => new Response('', {status: 99}), () => Response.redirect('https://a.b/', 200)]) { try { f(); } catch (e) { if (e instanceof RangeError) n++; } } try { new Response('x', {status: 204}); } catch (e) { if (e instanceof TypeError) n++; } return n === 3 || n; });
  await t('Request properties', async () => {
    const c = new AbortController();
    const r = new Request('https://example.com/a#frag', {method: 'patch', headers: {a: '1'}, redirect: 'manual', signal: c.signal});
    const k = r.clone();
    return (r.method === 'patch' && new Request('https://x.y/', {method: 'delete'}).method === 'DELETE' && r.url === 'https://example.com/a#frag' && r.redirect === 'manual' && r.signal === c.signal && k.headers.get('a') === '1') || [r.method, r.url];
  });
  await t('toStringTag', async () => Object.prototype.toString.call(new Headers()) === '[object Headers]');
  return out;
};
JS
out=$(sql "SELECT jsrt.execute('features', jsonb_build_object('base', 'http://127.0.0.2:$OK_PORT', 'inside', 'http://127.0.0.1:$GUARD_PORT/json'))" | tail -1)
echo "$out" | python3 -c '
import json, sys
try:
    out = json.loads(sys.stdin.read())
except Exception as e:
    print("FAIL the features run did not return JSON"); sys.exit(0)
for name, v in out.items():
    print(("ok   " if v is True else "FAIL ") + "fetch: " + name + ("" if v is True else "  " + json.dumps(v)))
' > "$work/features.txt"
cat "$work/features.txt"
passed=$((passed + $(grep -c '^ok ' "$work/features.txt")))
failed=$((failed + $(grep -c '^FAIL' "$work/features.txt")))
check "no refused request ever connected" "$([ ! -s "$work/guard/connections.log" ] && echo 0 || echo 1)"

# 2. A refusal through fetch is in the run's logs, as one through ctx.http is.
logs=$(sql "SELECT e.logs::text FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'features' ORDER BY e.started_at DESC LIMIT 1" | tail -1)
check "a refusal through fetch is recorded in the run's logs" "$(echo "$logs" | grep -q 'fetch: GET http://127.0.0.1:.*refused by the SSRF rules' && echo 0 || echo 1)"

# 3. fetch counts against the run's API calls, as ctx.http does; both share one count.
script quota '{"status": "active", "resource_limits": {"max_api_calls": 3}}' <<'JS'
export default async (ctx) => {
  const base = ctx.input.base, got = [];
  for (const send of [() => fetch(base + '/json'), () => ctx.http.get(base + '/json'), () => fetch(base + '/json'), () => fetch(base + '/json')]) {
    try { const r = await send(); got.push(r.status); } catch (e) { got.push(`${e.name}: ${e.message}`); }
  }
  return got;
};
JS
out=$(sql "SELECT jsrt.execute('quota', jsonb_build_object('base', 'http://127.0.0.2:$OK_PORT'))" | tail -1)
check "fetch and ctx.http share the run's API call limit" "$(echo "$out" | grep -q '^\[200, 200, 200, "RangeError: fetch: the run reached its limit of 3 API calls' && echo 0 || { echo "  $out"; echo 1; })"
metrics=$(sql "SELECT e.metrics->>'http_request_count' FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'quota' ORDER BY e.started_at DESC LIMIT 1" | tail -1)
check "fetch requests are counted in the run's http_request_count" "$([ "$metrics" = 3 ] && echo 0 || { echo "  $metrics"; echo 1; })"
script perminute '{"status": "active", "resource_limits": {"max_api_calls_per_minute": 2}}' <<'JS'
export default async (ctx) => { try { await fetch(ctx.input.base + '/json'); return 'sent'; } catch (e) { return e.message; } };
JS
for i in 1 2 3; do out=$(sql "SELECT jsrt.execute('perminute', jsonb_build_object('base', 'http://127.0.0.2:$OK_PORT'))" | tail -1); done
check "fetch counts against the per-minute quota" "$(echo "$out" | grep -q 'reached its limit of 2 API calls this minute' && echo 0 || { echo "  $out"; echo 1; })"

# 4. The request-size cap applies to fetch bodies.
script bigbody <<'JS'
export default async (ctx) => { try { await fetch(ctx.input.base + '/echo', {method: 'POST', body: 'x'.repeat(2000)}); return 'sent'; } catch (e) { return `${e.name}: ${e.message}`; } };
JS
out=$(PGOPTIONS="$PGOPTIONS -c jsrt.http_max_request_bytes=1000" sql "SELECT jsrt.execute('bigbody', jsonb_build_object('base', 'http://127.0.0.2:$OK_PORT'))" | tail -1)
check "jsrt.http_max_request_bytes caps fetch bodies" "$(echo "$out" | grep -q 'RangeError: fetch: the body is 2000 bytes, over jsrt.http_max_request_bytes' && echo 0 || { echo "  $out"; echo 1; })"

# 5. A script that never touches fetch does not load it.
script untouched <<'JS'
export default () => typeof globalThis.__jsrt_native + ' ' + Object.getOwnPropertyDescriptor(globalThis, 'fetch').get?.name;
JS
out=$(sql "SELECT jsrt.execute('untouched')" | tail -1)
check "fetch stays unloaded until touched" "$(echo "$out" | grep -q '^"undefined ' && ! echo "$out" | grep -q 'undefined"$' && echo 0 || { echo "  $out"; echo 1; })"

finish

-- The standard library: URL, URLSearchParams, TextEncoder/Decoder, atob/btoa,
-- crypto (random, SHA-256, HMAC, subtle) and structuredClone.
SELECT jsrt.set_tenant('acme');
-- Creates script `name` from `src` (the body of the default export) and runs it.
CREATE FUNCTION public.run_js(name text, body text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsrt.execute(jsrt.create_script(name, 'export default async (ctx) => {' || body || '}', 'oneoff')::text)
$$;

-- the globals exist and are not enumerable, like the built-ins
SELECT run_js('std_globals', $$
  const names = ['URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'crypto', 'structuredClone'];
  return {types: names.map((n) => typeof globalThis[n]), enumerable: Object.keys(globalThis).filter((k) => names.includes(k)), native: typeof globalThis.__jsrt_native};
$$);

-- URL: WHATWG parsing, relative URLs, setters, searchParams kept in step
SELECT jsonb_pretty(run_js('std_url', $$
  const u = new URL('../c/d?x=1&y=two%20words#top', 'https://user:pw@Example.COM:8443/a/b/');
  const parts = {href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password,
    host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search, hash: u.hash};
  u.searchParams.append('z', 'ä & ö');
  u.searchParams.delete('x');
  const afterParams = u.href;
  u.search = '?q=1';
  const q = u.searchParams.get('q');
  u.pathname = '/new path';
  u.port = '443';
  u.hash = '';
  const ipv4 = ['http://127.1/', 'http://0x7f000001/', 'http://2130706433/', 'http://[::ffff:127.0.0.1]/'].map((s) => new URL(s).host);
  let badBase;
  try { new URL('/x', 'not a base'); } catch (e) { badBase = e.name; }
  let bad;
  try { new URL('not a url'); } catch (e) { bad = e.name + ': ' + e.message; }
  return {parts, afterParams, q, after: String(u), json: JSON.stringify({u}), ipv4, bad, badBase,
    canParse: [URL.canParse('https://x'), URL.canParse('x'), URL.canParse('x', 'https://b/')], parse: URL.parse('nope')};
$$));

-- URLSearchParams: from strings, objects and pairs; the form encoding
SELECT run_js('std_params', $$
  const p = new URLSearchParams('?a=1&b=x+y&a=2&c=%E2%82%AC&bad=%zz');
  const o = new URLSearchParams({k: 'v w', n: 1});
  const pairs = new URLSearchParams([['z', '1'], ['a', '2']]);
  pairs.sort();
  o.set('k', 'new');
  let thrown;
  try { new URLSearchParams([['only one']]); } catch (e) { thrown = e.message; }
  return {getAll: p.getAll('a'), b: p.get('b'), euro: p.get('c'), bad: p.get('bad'), none: p.get('none'), has: [p.has('a'), p.has('a', '3')],
    size: p.size, o: o.toString(), sorted: [...pairs].join(';'), keys: [...p.keys()], thrown};
$$);

-- TextEncoder / TextDecoder, atob / btoa
SELECT run_js('std_text', $$
  const bytes = new TextEncoder().encode('héllo €');
  const into = new Uint8Array(4);
  const r = new TextEncoder().encodeInto('aé€', into);
  const errors = [];
  try { new TextDecoder('utf-8', {fatal: true}).decode(new Uint8Array([0xff, 0x41])); } catch (e) { errors.push(e.name); }
  try { new TextDecoder('latin1'); } catch (e) { errors.push(e.name + ': ' + e.message); }
  try { btoa('€'); } catch (e) { errors.push(e.name); }
  try { atob('a'); } catch (e) { errors.push(e.name); }
  return {bytes: Array.from(bytes), back: new TextDecoder().decode(bytes), buffer: new TextDecoder().decode(bytes.buffer),
    lossy: new TextDecoder().decode(new Uint8Array([0x41, 0xff])), into: [r.read, r.written, Array.from(into)],
    btoa: btoa('hello\u00ff'), atob: atob(' aGVs bG8= '), noPad: atob('aGk'), errors};
$$);

-- crypto: RFC 4231 test case 2, SHA-256 of "" and "abc", encodings, random values
SELECT run_js('std_crypto', $$
  const u = crypto.randomUUID();
  const ints = crypto.getRandomValues(new Uint32Array(8));
  const errors = [];
  try { crypto.getRandomValues(new Uint8Array(70000)); } catch (e) { errors.push(e.name); }
  try { crypto.getRandomValues(new Float64Array(2)); } catch (e) { errors.push(e.name); }
  try { crypto.sha256('x', 'latin1'); } catch (e) { errors.push(e.message); }
  return {
    hmac: crypto.hmacSha256('Jefe', 'what do ya want for nothing?'),
    sha_empty_b64: crypto.sha256('', 'base64'),
    sha_abc: crypto.sha256(new TextEncoder().encode('abc')),
    b64url: crypto.sha256('', 'base64url'),
    bytes: crypto.sha256('abc', 'bytes').length,
    uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u),
    uuids_differ: crypto.randomUUID() !== u,
    random_filled: ints.some((x) => x !== 0),
    equal: [crypto.timingSafeEqual('abc', 'abc'), crypto.timingSafeEqual('abc', 'abd'), crypto.timingSafeEqual('abc', 'ab')],
    errors,
  };
$$);

-- A Stripe-style webhook: "t=<ts>,v1=<hex HMAC-SHA256 of '<ts>.<body>'>"; the vector was computed with Python's hmac module
SELECT jsrt.create_script('stripe_verify', $$
export default async function (ctx) {
  const {header, body, secret} = ctx.input;
  const parts = Object.fromEntries(header.split(',').map((kv) => kv.split('=')));
  const expected = crypto.hmacSha256(secret, `${parts.t}.${body}`);
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign', 'verify']);
  const sig = new Uint8Array(parts.v1.match(/../g).map((h) => parseInt(h, 16)));
  const subtleOk = await crypto.subtle.verify('HMAC', key, sig, new TextEncoder().encode(`${parts.t}.${body}`));
  return {valid: crypto.timingSafeEqual(expected, parts.v1), subtleOk, event: JSON.parse(body).type};
}
$$) IS NOT NULL AS ok;
SELECT jsrt.execute('stripe_verify', jsonb_build_object(
  'header', 't=1700000000,v1=432a7ca5b02c3ec392465dca8b43b41f3ac1e4f49f1da0cabcd172b5c2beebcc',
  'body', '{"id":"evt_1","type":"invoice.paid","amount":4200}',
  'secret', 'whsec_test_secret'));
-- one byte of the body changed: refused
SELECT jsrt.execute('stripe_verify', jsonb_build_object(
  'header', 't=1700000000,v1=432a7ca5b02c3ec392465dca8b43b41f3ac1e4f49f1da0cabcd172b5c2beebcc',
  'body', '{"id":"evt_1","type":"invoice.paid","amount":4201}',
  'secret', 'whsec_test_secret'));

-- crypto.subtle: digest and sign give what the synchronous helpers give
SELECT run_js('std_subtle', $$
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('Jefe'), {name: 'HMAC', hash: {name: 'SHA-256'}}, false, ['sign']);
  const errors = [];
  for (const f of [() => crypto.subtle.digest('SHA-1', 'x'), () => crypto.subtle.verify('HMAC', key, new Uint8Array(32), 'x'), () => crypto.subtle.sign('HMAC', {}, 'x')]) {
    try { await f(); } catch (e) { errors.push(e.message); }
  }
  return {digest: hex(await crypto.subtle.digest('SHA-256', 'abc')) === crypto.sha256('abc'),
    sign: hex(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('what do ya want for nothing?'))), errors};
$$);

-- structuredClone: deep, cycles kept, types kept; functions refused
SELECT run_js('std_clone', $$
  const a = {d: new Date(86400000), m: new Map([['k', {x: 1}]]), s: new Set([1, 2]), u8: new Uint8Array([1, 2, 3]), re: /a+/gi, nested: [{y: 2}]};
  a.self = a;
  const c = structuredClone(a);
  c.nested[0].y = 99;
  const errors = [];
  for (const v of [() => 1, {f() {}}, Symbol('s')]) {
    try { structuredClone(v); } catch (e) { errors.push(e.name); }
  }
  return {date: c.d.toISOString(), map: c.m.get('k').x, set: [...c.s], u8: Array.from(c.u8), re: String(c.re), cycle: c.self === c,
    distinct: c !== a && c.m !== a.m, original_untouched: a.nested[0].y, errors};
$$);

-- a script may replace a global before the library loads, and the others still work
SELECT run_js('std_replace', $$
  globalThis.URL = 'mine';
  return [URL, typeof crypto.randomUUID, typeof URLSearchParams, URL];
$$);

-- USVString: a lone surrogate becomes U+FFFD in every API that takes a string
SELECT run_js('std_usv', $$
  const lone = 'a\uD800b', low = '\uDC00';
  const params = new URLSearchParams({[lone]: low});
  params.append('x', lone);
  const errors = [];
  try { btoa(lone); } catch (e) { errors.push(e.name); }
  try { atob(lone); } catch (e) { errors.push(e.name); }
  const into = new Uint8Array(8);
  return {encode: Array.from(new TextEncoder().encode(lone)), into: new TextEncoder().encodeInto(low + 'z', into), intoBytes: Array.from(into.subarray(0, 4)),
    sha: crypto.sha256(lone) === crypto.sha256('a\uFFFDb'), hmac: crypto.hmacSha256(lone, low) === crypto.hmacSha256('a\uFFFDb', '\uFFFD'),
    url: new URL('https://x/' + lone + '?q=' + low + '#' + lone).href, params: params.toString(), get: params.get('a\uFFFDb'), errors,
    db: ctx.db.query('SELECT $1::text AS t, $1::text = $2 AS same', [lone, 'a\uFFFDb'])[0]};
$$);

-- TextEncoder.encodeInto counts UTF-16 units read; TextDecoder's ignoreBOM and stream
SELECT run_js('std_text_more', $$
  const dest = new Uint8Array(4);
  const bom = new TextEncoder().encodeInto('\uFEFFab', dest);
  const part = new TextEncoder().encodeInto('a😀b', new Uint8Array(3));
  const withBom = new Uint8Array([0xef, 0xbb, 0xbf, 0x41]);
  const euro = new TextEncoder().encode('€😀x');
  const s = new TextDecoder();
  const streamed = [s.decode(euro.subarray(0, 1), {stream: true}), s.decode(euro.subarray(1, 5), {stream: true}), s.decode(euro.subarray(5))];
  // a BOM split over chunks is dropped once, at the start of the stream only
  const b = new TextDecoder();
  const boms = [b.decode(withBom.subarray(0, 2), {stream: true}), b.decode(withBom.subarray(2), {stream: true}), b.decode(withBom)];
  const cut = new TextDecoder().decode(euro.subarray(0, 2));
  let fatal;
  try { new TextDecoder('utf-8', {fatal: true}).decode(euro.subarray(0, 2)); } catch (e) { fatal = e.name; }
  const fs = new TextDecoder('utf-8', {fatal: true});
  const fatalStream = fs.decode(euro.subarray(0, 2), {stream: true}) + fs.decode(euro.subarray(2, 3));
  return {bom: [bom.read, bom.written], part: [part.read, part.written],
    dropped: new TextDecoder().decode(withBom), kept: new TextDecoder('utf-8', {ignoreBOM: true}).decode(withBom).codePointAt(0),
    ignoreBOM: [new TextDecoder().ignoreBOM, new TextDecoder('UTF8', {ignoreBOM: 1}).ignoreBOM], streamed, boms, cut, fatal, fatalStream};
$$);

-- structuredClone as the HTML standard says
SELECT run_js('std_clone_spec', $$
  const name = (f) => { try { f(); return 'cloned'; } catch (e) { return e.name; } };
  const big = structuredClone(Object(12n));
  const agg = structuredClone(new AggregateError([new RangeError('r'), 1], 'many', {cause: 'why'}));
  const err = new TypeError('t', {cause: {n: 1}});
  err.cause.self = err;
  const e2 = structuredClone(err);
  const buf = new Uint8Array([1, 2, 3]).buffer;
  const moved = structuredClone({b: buf, v: new Uint8Array(buf, 1)}, {transfer: [buf]});
  const kept = new ArrayBuffer(2);
  const refused = name(() => structuredClone({f: () => 1, kept}, {transfer: [kept]}));
  function args() { return arguments; }
  function* gen() {}
  return {
    bigint: [typeof big, big.valueOf() === 12n],
    agg: [agg instanceof AggregateError, agg.name, agg.message, agg.errors.length, agg.errors[0] instanceof RangeError, agg.errors[0].message, agg.cause],
    cause: [e2 instanceof TypeError, e2.message, e2.cause.n, e2.cause.self === e2, typeof e2.stack],
    transfer: [buf.byteLength, buf.detached, moved.b.byteLength, Array.from(moved.v), moved.v.buffer === moved.b],
    notDetachedOnFailure: [refused, kept.detached],
    refuse: [name(() => structuredClone(new Proxy({}, {}))), name(() => structuredClone(args(1))), name(() => structuredClone(gen())),
      name(() => structuredClone(Object(Symbol('s')))), name(() => structuredClone(Promise.resolve())),
      name(() => structuredClone(1, {transfer: [buf]})), name(() => structuredClone(1, {transfer: [kept, kept]}))],
    fake: [JSON.stringify(structuredClone(Object.create(Error.prototype))), structuredClone(Object.create(Date.prototype)) instanceof Date],
    noArgument: name(() => structuredClone()),
    undef: structuredClone(undefined) === undefined,
  };
$$);

-- URL: blob: origins, live URLSearchParams iteration, arguments required
SELECT run_js('std_url_more', $$
  const name = (f) => { try { return f(); } catch (e) { return e.name; } };
  const p = new URLSearchParams('a=1&b=2&c=3');
  const seen = [];
  for (const [k] of p) { seen.push(k); if (k === 'a') p.delete('b'); if (k === 'c') p.append('d', '4'); }
  const u = new URL('https://h/?x=1');
  const it = u.searchParams.keys();
  u.search = '?y=2&z=3';
  return {
    blob: ['blob:https://a.example:8443/uuid', 'blob:http://x/y', 'blob:d3958f5c-0777-0845-9dcf-2cb28783acaf', 'blob:ftp://x/y', 'blob:blob:https://x/'].map((s) => new URL(s).origin),
    live: seen, afterSearch: [...it],
    canParse: [name(() => URL.canParse()), URL.canParse(undefined), URL.canParse('https://x', undefined)],
    noArgs: [name(() => new URL()), name(() => URL.parse()), name(() => btoa())],
    ipv6: new URL('http://[0:0::1]:80/').host, idn: new URL('https://Bücher.example/').hostname,
  };
$$);

-- timers: order by due time, then by when they were set; microtasks before
-- the next timer; clearTimeout; setInterval until cleared; arguments passed
SELECT run_js('std_timers', $$
  const seen = [];
  setTimeout(() => seen.push('t3'), 3);
  setTimeout((a, b) => seen.push(`t0 ${a} ${b}`), 0, 'x', 'y');
  setTimeout(() => { seen.push('t1'); queueMicrotask(() => seen.push('micro after t1')); }, 1);
  const gone = setTimeout(() => seen.push('cleared'), 5);
  clearTimeout(gone);
  queueMicrotask(() => seen.push('micro'));
  let n = 0;
  await new Promise((resolve) => {
    const id = setInterval(() => { seen.push(`interval ${++n}`); if (n === 3) { clearInterval(id); resolve(); } }, 5);
  });
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // a backoff between retries
  const waited = performance.now() - t0;
  const errors = [];
  for (const f of [() => setTimeout('code', 1), () => queueMicrotask(1)]) {
    try { f(); } catch (e) { errors.push(e.name); }
  }
  return {seen, waitedAtLeast50: waited >= 49, waitedUnder1s: waited < 1000, now: typeof performance.now(),
    ids: typeof setTimeout(() => {}, 1), errors};
$$);

-- a run ends when no timer is left, even after its promise settled
SELECT jsrt.create_script('std_timer_after', $$
export default (ctx) => {
  setTimeout(() => console.log('after return'), 30);
  return 'returned';
}$$, 'oneoff') IS NOT NULL AS ok;
SELECT jsrt.execute('std_timer_after');
SELECT e.logs->0->>'message' AS log, (e.metrics->>'duration_ms')::float >= 29 AS waited
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'std_timer_after';

-- timers never outlive the deadline; an error a timer throws fails the run
SELECT jsrt.create_script('std_timer_forever', $$
export default () => { setInterval(() => {}, 10); return 'never done'; }$$, 'oneoff',
  '{"resource_limits": {"max_execution_time_ms": 300}}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('std_timer_forever')$$);
SELECT jsrt.create_script('std_timer_throws', $$
export default () => { setTimeout(() => { throw new RangeError('from a timer'); }, 5); return 1; }$$, 'oneoff') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('std_timer_throws')$$);
SELECT jsrt.create_script('std_timer_late', $$
export default () => new Promise((r) => setTimeout(r, 60000))$$, 'oneoff',
  '{"resource_limits": {"max_execution_time_ms": 200}}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('std_timer_late')$$);
-- performance.now() counts from the start of each run, also in a loaded script's next run
SELECT jsrt.create_script('std_now', $$
export default async () => { const t = performance.now(); await new Promise((r) => setTimeout(r, 40)); return [t < 40, performance.now() >= 40]; }$$, 'oneoff') IS NOT NULL AS ok;
SELECT jsrt.execute('std_now') AS first, jsrt.execute('std_now') AS second;

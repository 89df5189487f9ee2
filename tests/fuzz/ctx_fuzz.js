// The ctx host API under hostile arguments: a jsrt script (tests/fuzz/run.sh
// creates it) that calls every ctx function with random argument types,
// sizes and orders, from a seeded PRNG so that a failure repeats with its
// seed. Every call must return or throw an Error with a clear message: not
// "undefined", not a Rust panic's text or an internal error. The output
// lists the calls that broke that rule (none expected).
//   input: {seed, calls}

// xorshift32: seeded, so `seed` replays the same calls
function rng(seed) {
  let s = (seed >>> 0) || 0x9e3779b9;
  const next = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n), pick: (a) => a[Math.floor(next() * a.length)] };
}

const hostile = (what) => new Error("hostile " + what);

function deep(n, leaf) {
  let v = leaf;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { d: v };
  return v;
}

// [value, description]: descriptions are made here, never by reading the
// values (which may throw, or be proxies)
function values(r) {
  const big = (n) => "x".repeat(n);
  const cyclic = { a: 1 }; cyclic.self = cyclic;
  const cyclicArr = [1]; cyclicArr.push(cyclicArr);
  const getter = {}; Object.defineProperty(getter, "x", { enumerable: true, get() { throw hostile("getter"); } });
  const toStr = { toString() { throw hostile("toString"); }, valueOf() { throw hostile("valueOf"); } };
  const toJson = { toJSON() { throw hostile("toJSON"); } };
  const prim = { [Symbol.toPrimitive]() { throw hostile("toPrimitive"); } };
  const throwing = new Proxy({}, {
    get() { throw hostile("proxy get"); }, has() { throw hostile("proxy has"); },
    ownKeys() { throw hostile("proxy ownKeys"); }, getOwnPropertyDescriptor() { throw hostile("proxy gopd"); },
    getPrototypeOf() { throw hostile("proxy getPrototypeOf"); },
  });
  const arrProxy = new Proxy([1, 2, 3], { get(t, k) { if (k === "length") throw hostile("proxy length"); return t[k]; } });
  const revocable = Proxy.revocable({}, {}); revocable.revoke();
  const liar = new Proxy([], { get(t, k) { return k === "length" ? 2 ** 20 + 1 : undefined; } });
  const manyKeys = {}; for (let i = 0; i < 5000; i++) manyKeys["k" + i] = i;
  const nullProto = Object.create(null); nullProto.a = 1;
  const frozen = Object.freeze({ a: [1, 2] });
  const sparse = []; sparse[100000] = 1;
  const f64 = new Float64Array([NaN, -0, Infinity, 1e308]);
  const detached = new ArrayBuffer(8);
  return [
    [undefined, "undefined"], [null, "null"], [true, "true"], [false, "false"],
    [0, "0"], [-0, "-0"], [NaN, "NaN"], [Infinity, "Infinity"], [-Infinity, "-Infinity"],
    [1.5, "1.5"], [-1, "-1"], [2 ** 31, "2^31"], [2 ** 53 + 2, "2^53+2"], [1e308, "1e308"],
    [Number.MIN_VALUE, "MIN_VALUE"], [0x7fffffff, "int max"],
    [12n, "12n"], [-(2n ** 200n), "-2^200n"], [2n ** 64n, "2^64n"],
    ["", "empty string"], ["x", "'x'"], ["fuzz_rows", "'fuzz_rows'"], ["public.fuzz_rows", "'public.fuzz_rows'"],
    ["jsrt.secrets", "'jsrt.secrets'"], ["pg_catalog.pg_authid", "'pg_authid'"], ['"', "quote"],
    ["\u0000", "NUL"], ["a\u0000b", "inner NUL"], ["\ud800", "lone high surrogate"], ["\udfff", "lone low surrogate"],
    ["a\ud800b\udc00\udc00", "mixed surrogates"], ["\u{1F600}", "emoji"], ["é", "é"],
    [big(1 << 16), "64 KiB string"], [big(1 << 21), "2 MiB string"], ["\ud800".repeat(1 << 16), "64 Ki lone surrogates"],
    ["SELECT 1", "'SELECT 1'"], ["SELECT $1", "'SELECT $1'"], ["SELECT $1::text, $2::int", "two params"],
    ["select * from jsrt.secrets", "secrets query"], ["; DROP TABLE fuzz_rows; --", "injection"],
    ["SET ROLE postgres", "set role"], ["COMMIT", "COMMIT"], ["DO $$BEGIN END$$", "DO"], ["COPY fuzz_rows TO STDOUT", "COPY"],
    ["SELECT pg_sleep(0.01)", "pg_sleep"], ["SELECT repeat('x', 10000000)", "10 MB result"],
    ["SELECT generate_series(1, 100000)", "100k rows"], ["SELECT 1/0", "division by zero"],
    ["http://127.0.0.1:1/", "loopback url"], ["http://169.254.169.254/latest", "metadata url"],
    ["http://[::1]/", "v6 loopback"], ["https://example.invalid/", "invalid host"], ["ftp://x/", "ftp"],
    ["javascript:alert(1)", "js url"], ["http://a b/", "space in host"], ["http://" + big(5000) + "/", "long host"],
    ["id desc", "'id desc'"], ["id; drop", "bad orderBy"], ["x".repeat(64), "64-char name"],
    [Symbol("s"), "symbol"], [Symbol.iterator, "Symbol.iterator"],
    [{}, "{}"], [[], "[]"], [[1, "a", null], "mixed array"], [{ id: 1 }, "{id: 1}"], [{ data: { a: 1 } }, "{data}"],
    [{ tenant_id: "00000000-0000-0000-0000-000000000000" }, "{tenant_id}"], [{ "": 1 }, "empty key"],
    [{ "a\"b": 1 }, "quote key"], [{ id: [1, 2, 3] }, "{id: [..]}"], [{ id: null }, "{id: null}"],
    [{ t: "x", data: 1 }, "row"], [[{ t: "a" }, { t: "b" }], "rows"], [[{}, 1], "bad rows"],
    [{ method: "POST", body: { a: 1 }, headers: { "x-a": "b" }, timeoutMs: 10 }, "http options"],
    [{ headers: { "bad\r\nname": "v" } }, "header injection"], [{ headers: { a: "x\r\ny: z" } }, "value injection"],
    [{ method: "CONNECT" }, "CONNECT"], [{ timeoutMs: -1 }, "timeout -1"], [{ timeoutMs: NaN }, "timeout NaN"],
    [{ where: { id: 1 }, orderBy: ["id desc"], limit: 5 }, "select options"], [{ limit: -1 }, "limit -1"],
    [{ limit: 2 ** 53 }, "huge limit"], [{ where: getter }, "where getter"],
    [cyclic, "cyclic object"], [cyclicArr, "cyclic array"], [getter, "throwing getter"],
    [toStr, "throwing toString"], [toJson, "throwing toJSON"], [prim, "throwing toPrimitive"],
    [throwing, "throwing proxy"], [arrProxy, "array proxy"], [revocable.proxy, "revoked proxy"],
    [liar, "proxy with length 2^20+1"], [manyKeys, "5000 keys"], [nullProto, "null prototype"], [frozen, "frozen"],
    [sparse, "sparse array"], [new Array(5), "holes"],
    [deep(64, 1), "depth 64"], [deep(2000, 1), "depth 2000"], [deep(100000, 1), "depth 100000"],
    [new Uint8Array(0), "empty Uint8Array"], [new Uint8Array(1 << 20), "1 MiB Uint8Array"], [f64, "Float64Array"],
    [new BigInt64Array([-1n]), "BigInt64Array"], [new DataView(new ArrayBuffer(4)), "DataView"], [detached, "ArrayBuffer"],
    [() => 1, "arrow"], [async () => 1, "async fn"], [function* g() { yield 1; }, "generator"], [class A {}, "class"],
    [new Date(0), "epoch"], [new Date(NaN), "invalid date"], [new Date(8.64e15), "max date"], [/x/g, "regexp"],
    [new Map([[1, 2]]), "Map"], [new Set([1]), "Set"], [new WeakMap(), "WeakMap"], [Promise.resolve(1), "promise"],
    [new Error("e"), "an Error"], [new URLSearchParams("a=1"), "URLSearchParams"], [new Number(1), "boxed number"],
    [new String("s"), "boxed string"], [Object(Symbol("b")), "boxed symbol"], [globalThis, "globalThis"],
    [ctx_placeholder, "ctx"],
  ].concat([[r ? r.int(1 << 30) : 7, "random int"]]);
}
// (ctx itself, set before the values are made)
let ctx_placeholder = null;

// The functions under test: name -> how to call it with args.
function targets(ctx) {
  const m = (o, k) => (args) => o[k](...args);
  return {
    "db.query": m(ctx.db, "query"), "db.one": m(ctx.db, "one"), "db.exec": m(ctx.db, "exec"),
    "db.select": m(ctx.db, "select"), "db.insert": m(ctx.db, "insert"), "db.update": m(ctx.db, "update"),
    "db.delete": m(ctx.db, "delete"),
    "db.query typed": (a) => ctx.db.query(pickTyped(a), [a[0], a[1]]),
    "db.query params": (a) => ctx.db.query("SELECT $1 AS v", a),
    "db.insert row": (a) => ctx.db.insert("fuzz_rows", { t: a[0], data: a[1] }),
    "db.update row": (a) => ctx.db.update("fuzz_rows", { id: a[0] }, { t: a[1] }),
    "db.select where": (a) => ctx.db.select("fuzz_rows", { where: { t: a[0] }, orderBy: a[1], limit: a[2] }),
    "http.fetch": m(ctx.http, "fetch"), "http.get": m(ctx.http, "get"), "http.post": m(ctx.http, "post"),
    "http.put": m(ctx.http, "put"), "http.delete": m(ctx.http, "delete"),
    "cache.get": m(ctx.cache, "get"), "cache.set": m(ctx.cache, "set"), "cache.delete": m(ctx.cache, "delete"),
    "cache.set value": (a) => ctx.cache.set("fuzz", a[0], a[1]),
    "secrets.get": m(ctx.secrets, "get"),
    "events.publish": m(ctx.events, "publish"),
    "events.publish payload": (a) => ctx.events.publish("fuzz.event", a[0]),
    "log.info": m(ctx.log, "info"), "log.warn": m(ctx.log, "warn"), "log.error": m(ctx.log, "error"),
    "log.debug": m(ctx.log, "debug"), "console.log": (a) => console.log(...a),
    "progress": (a) => ctx.progress(...a), "commit": (a) => ctx.commit(...a),
    // called detached from its object, and as a constructor
    "db.query detached": (a) => { const f = ctx.db.query; return f(...a); },
    "cache.get as constructor": (a) => new ctx.cache.get(...a),
    "events.publish with this": (a) => ctx.events.publish.call(a[0], a[1], a[2]),
    "reads": () => [ctx.input, ctx.tenant.id, ctx.tenant.name, ctx.script.version, ctx.execution.id, ctx.execution.attempt],
  };
}

let typedSql = [];
function pickTyped(a) {
  return typedSql[(typeof a[2] === "number" && a[2] >= 0 ? a[2] : 0) % typedSql.length];
}

// Why a thrown value breaks the rule, or null when it is a clear Error.
function judge(e) {
  if (!(e instanceof Error)) {
    return "threw a non-Error (" + typeof e + ")";
  }
  let m;
  try {
    m = e.message;
  } catch (x) {
    return "its message cannot be read";
  }
  if (typeof m !== "string" || m.trim() === "" || m === "undefined" || m === "null" || m === "[object Object]") {
    return "an unclear message: " + String(m);
  }
  if (/panick|unwrap\(|RUST_BACKTRACE|called `(Option|Result)|internal error|jsruntime internal|\bXX000\b/i.test(m)) {
    return "an internal message: " + m.slice(0, 300);
  }
  return null;
}

export default async (ctx) => {
  ctx_placeholder = ctx;
  const seed = Number(ctx.input.seed) || 1;
  const calls = Math.min(Number(ctx.input.calls) || 100, 100000);
  const r = rng(seed);
  const vals = values(r);
  typedSql = ["SELECT $1::text AS v", "SELECT $1::int4 AS v", "SELECT $1::int8 AS v", "SELECT $1::numeric AS v",
    "SELECT $1::float8 AS v", "SELECT $1::bool AS v", "SELECT $1::jsonb AS v", "SELECT $1::json AS v",
    "SELECT $1::bytea AS v", "SELECT $1::timestamptz AS v", "SELECT $1::date AS v", "SELECT $1::uuid AS v",
    "SELECT $1::text[] AS v", "SELECT $1::int[] AS v", "SELECT $1::jsonb[] AS v", "SELECT $1::interval AS v",
    "SELECT $1, $2", "SELECT $2::text AS v"];
  const fns = targets(ctx);
  // (input.filter: a regular expression on the names, to narrow a failure down)
  const names = Object.keys(fns).filter((n) => ctx.input.filter === undefined || new RegExp(ctx.input.filter).test(n));
  const bad = [];
  const tally = { ok: 0, threw: 0 };
  for (let i = 0; i < calls; i++) {
    const name = r.pick(names);
    const n = r.int(5);
    const picked = [];
    for (let k = 0; k < n; k++) picked.push(r.pick(vals));
    const args = picked.map((p) => p[0]);
    const shown = name + "(" + picked.map((p) => p[1]).join(", ") + ")";
    // (input.only = i: run call i alone, to replay one; input.show = i: say what it is)
    if (ctx.input.show === i) return shown;
    if (ctx.input.only !== undefined && i !== ctx.input.only) continue;
    if (ctx.input.only !== undefined) ctx.log.info("call " + i + ": " + shown);
    try {
      let out = fns[name](args);
      if (out && typeof out.then === "function") {
        out = await out;
      }
      tally.ok++;
    } catch (e) {
      tally.threw++;
      const why = judge(e);
      if (why !== null) {
        if (bad.length < 20) bad.push({ call: i, what: shown, why });
      }
    }
  }
  return { seed, calls, ok: tally.ok, threw: tally.threw, bad };
};

-- Hostile scripts. After each one the same backend runs the next script normally.
SELECT jsrt.set_tenant('acme');
SELECT jsrt.create_script('ok', 'export default (ctx) => ({ok: true, proto: ({}).polluted ?? null, n: ctx.input.n ?? 0})') IS NOT NULL AS ok;
SELECT jsrt.create_script('ctxcheck', 'export default (ctx) => [typeof ctx.log.info, ctx.input.x ?? null, Object.isFrozen(ctx.log), typeof globalThis.leak, ({}).polluted ?? null]') IS NOT NULL AS ok;
CREATE FUNCTION public.run_hostile(name text, src text, limits jsonb DEFAULT '{}') RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    outcome text;
BEGIN
    PERFORM jsrt.create_script(name, src, 'oneoff', jsonb_build_object('resource_limits', limits));
    outcome := err(format('SELECT jsrt.execute(%L)', name));
    -- the next run in this backend works
    IF jsrt.execute('ok') <> '{"ok": true, "proto": null, "n": 0}' THEN
        RETURN outcome || ' / BROKEN AFTERWARDS: ' || jsrt.execute('ok')::text;
    END IF;
    RETURN outcome;
END $$;

SELECT run_hostile('spin', 'export default () => { for (;;) {} }', '{"max_execution_time_ms": 200}');
SELECT run_hostile('spin_catch', 'export default () => { for (;;) { try { for (;;) {} } catch (e) {} finally { } } }', '{"max_execution_time_ms": 200}');
SELECT run_hostile('spin_finally', 'export default () => { try { for (;;) {} } finally { for (;;) {} } }', '{"max_execution_time_ms": 200}');
SELECT run_hostile('async_spin', 'export default async () => { for (;;) { await null; } }', '{"max_execution_time_ms": 200}');
SELECT run_hostile('array_bomb', 'export default () => { const a = []; for (;;) a.push(new Array(100000).fill(1)); }', '{"max_memory_bytes": 16777216}');
SELECT run_hostile('string_bomb', 'export default () => { let s = "x"; for (;;) s += s; }', '{"max_memory_bytes": 16777216}');
SELECT run_hostile('object_bomb', 'export default () => { const o = {}; for (let i = 0; ; i++) o["k" + i] = {i}; }', '{"max_memory_bytes": 16777216}');
SELECT run_hostile('oom_caught', 'export default () => { const keep = []; for (;;) { try { keep.push(new Array(1000000).fill(0)); } catch (e) {} } }', '{"max_memory_bytes": 16777216}');
SELECT run_hostile('recursion', 'function f(n) { return f(n + 1) + 1 } export default () => f(0)');
SELECT run_hostile('big_output', 'export default () => "x".repeat(2000)', '{"max_output_size_bytes": 1000}');
SELECT run_hostile('eval', 'export default () => eval("1 + 1")');
SELECT run_hostile('new_function', 'export default () => new Function("return 1")()');
SELECT run_hostile('ctor_chain', 'export default () => (function () {}).constructor("return 1")()');
SELECT run_hostile('async_ctor', 'export default () => (async function () {}).constructor("return 1")()');
SELECT run_hostile('dyn_import', 'export default async () => await import("fs")');
SELECT run_hostile('globals', 'export default () => [typeof process, typeof require, typeof fs, typeof eval].join()');

-- a failure too big for one record slot is recorded all the same, shortened
SELECT run_hostile('huge_error', 'export default (ctx) => { console.log("x".repeat(60000)); throw new Error("e".repeat(100000)); }', '{"max_log_bytes": 1048576}') LIKE '%script "huge_error" failed: Error: eee%' AS raised;

-- a flood of console lines completes, with its logs capped
SELECT jsrt.create_script('flood', 'export default () => { for (let i = 0; i < 200000; i++) console.log("line", i); return "done"; }',
       'oneoff', '{"resource_limits": {"max_log_bytes": 4096}}') IS NOT NULL AS ok;
SELECT jsrt.execute('flood');
SELECT jsonb_array_length(logs) < 200 AS capped, logs->-1->>'message' AS last_line
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'flood';

-- pollution stays in its own script: other scripts and other tenants see clean intrinsics
SELECT jsrt.create_script('polluter', 'export default (ctx) => { Object.prototype.polluted = "yes"; globalThis.leak = 1; ctx.input.x = 1; const tries = [() => { ctx.log = null }, () => { ctx.log.info = null }, () => { ctx.tenant.id = "other" }, () => { Object.defineProperty(ctx, "input", {value: 2}) }]; return [({}).polluted, tries.filter(t => { try { t(); return true } catch (e) { return false } }).length, typeof ctx.log.info, ctx.tenant.name]; }') IS NOT NULL AS ok;
SELECT jsrt.execute('polluter');
-- The runs of a statement may be passed the same frozen ctx with its input and execution replaced,
-- but never one the script kept: each kept ctx keeps its own run's input and execution.
SELECT jsrt.create_script('keeps_ctx', $js$
const kept = [];
export default (ctx) => {
  if (ctx.input.keep) kept.push(ctx);
  const tries = [() => { ctx.input = 1; }, () => { Object.defineProperty(ctx, 'execution', {value: 2}); }, () => { delete ctx.input; }];
  return {frozen: Object.isFrozen(ctx), keys: Object.keys(ctx).length, refused: tries.filter((t) => { try { t(); return false; } catch (e) { return true; } }).length,
          kept: kept.map((c) => [c.input.n, c.execution.id === kept[0].execution.id])};
}$js$) IS NOT NULL AS ok;
SELECT g, jsrt.execute('keeps_ctx', jsonb_build_object('n', g, 'keep', g % 2 = 0)) AS result FROM generate_series(1, 5) g;
-- A run's execution is made when the script first reads it: a kept ctx that never read it
-- during its run still has its own run's, the id its history record has.
SELECT jsrt.create_script('keeps_ids', $js$
const kept = [];
export default (ctx) => {
  if (ctx.input.keep) kept.push(ctx);
  if (ctx.input.read) return [ctx.execution.id, ...kept.map((c) => c.execution.id)];
}$js$) IS NOT NULL AS ok;
SELECT count(jsrt.execute('keeps_ids', jsonb_build_object('keep', g % 2 = 0)) IS NULL) AS runs FROM generate_series(1, 4) g;
SELECT jsrt.execute('keeps_ids', '{"read": true}') AS ids \gset
SELECT jsrt.flush_history();
SELECT (SELECT jsonb_agg(e.id ORDER BY e.started_at) FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
         WHERE s.name = 'keeps_ids' AND (e.input->>'keep' = 'true' OR e.input ? 'read'))
       = (:'ids'::jsonb - 0) || jsonb_build_array(:'ids'::jsonb->0) AS own_runs_ids,
       jsonb_array_length(:'ids'::jsonb) AS ids;
-- The slot a plain run's ctx reads its input and execution from has no prototype: a
-- script's getters and setters on Array.prototype neither see what it holds nor stand
-- in for it, and a kept ctx keeps its own run's input and execution.
SELECT jsrt.create_script('poisons_arrays', $js$
let k, kid, seen = null;
export default (ctx) => {
  const id = ctx.execution.id;
  const out = {n: ctx.input.n, own_id: /^[0-9a-f]{8}-/.test(id), kept: k ? [k.input.n, k.execution.id === kid] : null, seen};
  if (ctx.input.poison) {
    for (const i of ['0', '1']) {
      Object.defineProperty(Array.prototype, i, {
        get() { return {n: 'fake', id: 'fake'}; },
        set(v) { if (v && v.secret) seen = v.secret; },
        configurable: true});
    }
  }
  k = ctx;
  kid = id;
  return out;
}$js$) IS NOT NULL AS ok;
SELECT g, jsrt.execute('poisons_arrays', jsonb_build_object('n', g, 'poison', g = 1, 'secret', 's' || g)) AS result FROM generate_series(1, 3) g;
-- A small input stays in the slot until the next run replaces it, and so counts in that
-- run's starting memory: the room it leaves when replaced is not that run's, whose
-- max_memory_bytes holds as it does after a run that kept nothing.
SELECT jsrt.create_script('fills_memory', $js$
export default (ctx) => {
  if (Array.isArray(ctx.input)) return ctx.input.length;
  const keep = [];
  for (let i = 0; i < ctx.input.k; i++) keep.push(new Array(1000).fill(0));
  return keep.length;
}$js$, 'oneoff', '{"resource_limits": {"max_memory_bytes": 4000000}}') IS NOT NULL AS ok;
SELECT jsrt.execute('fills_memory', jsonb_build_object('k', 150)) AS within;
SELECT err($$SELECT jsrt.execute('fills_memory', jsonb_build_object('k', 300))$$) AS over;
SELECT jsrt.execute('fills_memory', (SELECT jsonb_agg('[]'::jsonb) FROM generate_series(1, 16000))) AS small_input;
SELECT err($$SELECT jsrt.execute('fills_memory', jsonb_build_object('k', 300))$$) AS still_over;
-- The getter of a plain run's ctx.execution, kept by a script without its ctx, makes none
-- of another run once its own is over: read in a typed call, it is undefined.
CREATE SCHEMA sandbox_fn;
SELECT jsrt.create_script('keeps_getter', $js$
let g;
export default function (ctx, x) {
  if (x === undefined) {
    g = Object.getOwnPropertyDescriptor(ctx, 'execution').get;
    return ctx.input.read ? ctx.execution.trigger : null;
  }
  return JSON.stringify({kept: g ? g() ?? 'undefined' : 'none', trigger: ctx.execution.trigger});
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.create_function('keeps_getter', 'sandbox_fn.kept_getter(x int) returns text');
SELECT jsrt.execute('keeps_getter', '{}') AS unread;
SELECT sandbox_fn.kept_getter(1) AS first, sandbox_fn.kept_getter(2) AS second;
SELECT jsrt.execute('keeps_getter', '{"read": true}') AS read;
SELECT sandbox_fn.kept_getter(3) AS after_read;
DROP SCHEMA sandbox_fn CASCADE;
SELECT jsrt.execute('ok');
SELECT jsrt.execute('ctxcheck');
SELECT jsrt.set_tenant('globex');
SELECT jsrt.create_script('ok', 'export default () => ({proto: ({}).polluted ?? null, leak: typeof leak})') IS NOT NULL AS ok;
SELECT jsrt.execute('ok');
SELECT jsrt.set_tenant('acme');

-- statement_timeout stops a running script, which is recorded as a timeout
SELECT jsrt.create_script('long', 'export default () => { for (;;) {} }') IS NOT NULL AS ok;
SET statement_timeout = '300ms';
SELECT err($$SELECT jsrt.execute('long')$$);
RESET statement_timeout;
SELECT jsrt.flush_history();
SELECT s.name, e.status, e.error FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name IN ('spin', 'spin_catch', 'async_spin', 'array_bomb', 'oom_caught', 'recursion', 'big_output', 'long')
 ORDER BY s.name;
SELECT length(e.error) < 5000 AS error_shortened, e.error LIKE '%[truncated]' AS marked, e.logs->0->>'message' AS logs
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'huge_error';

-- with one runtime per backend, tenants take turns: each switch drops the other's heap
SET jsrt.max_runtimes = 1;
SELECT jsrt.set_tenant('acme');
SELECT jsrt.execute('ok', '{"n": 1}') AS acme;
SELECT jsrt.set_tenant('globex');
SELECT jsrt.execute('ok') AS globex;
SELECT jsrt.set_tenant('acme');
SELECT jsrt.execute('ok', '{"n": 2}') AS acme_again;
RESET jsrt.max_runtimes;

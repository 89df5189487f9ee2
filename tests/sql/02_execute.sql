-- Synchronous execution: ctx, async, output, records, rollback, history modes.
SELECT jsrt.set_tenant('acme');
SELECT jsrt.create_script('ctxinfo', $js$
export default async function (ctx) {
  await null;
  console.log('input is', ctx.input);
  ctx.log.warn('careful');
  let frozen = true;
  try { ctx.tenant = 'x'; frozen = false; } catch (e) {}
  return {
    input: ctx.input, tenant: ctx.tenant.name, script: ctx.script.name, version: ctx.script.version,
    trigger: ctx.execution.trigger, attempt: ctx.execution.attempt,
    ids: [ctx.tenant.id.length, ctx.script.id.length, ctx.execution.id.length],
    frozen: Object.isFrozen(ctx) && frozen, keys: Object.keys(ctx).sort(),
  };
}$js$) IS NOT NULL AS ok;
SELECT jsonb_pretty(jsrt.execute('ctxinfo', '{"a": [1, 2, {"b": null}]}'));
SELECT status, trigger_type, version_number, attempt, output->>'tenant' AS tenant, logs->0->>'message' AS log0,
       logs->1->>'level' AS level1, (metrics ? 'duration_ms') AND (metrics ? 'memory_used_bytes') AS has_metrics
  FROM jsrt.script_executions ORDER BY started_at DESC LIMIT 1;

-- returning nothing gives NULL; non-JSON results are refused
SELECT jsrt.create_script('nothing', 'export default function () {}') IS NOT NULL AS ok;
SELECT jsrt.execute('nothing') IS NULL AS is_null;
SELECT jsrt.create_script('fnresult', 'export default () => () => 1') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('fnresult')$$);
SELECT jsrt.create_script('cyclic', 'export default () => { const a = {}; a.a = a; return a; }') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('cyclic')$$);
SELECT jsrt.create_script('noexport', 'export const x = 1;') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('noexport')$$);
SELECT err($$SELECT jsrt.execute('missing')$$);
SELECT err($$SELECT jsrt.execute(NULL)$$);
SELECT jsrt.create_script('echo', 'export default (ctx) => ctx.input') IS NOT NULL AS ok;
SELECT jsrt.execute('echo', NULL) AS null_input_is_empty_object, jsrt.execute('echo', '[1, "two"]') AS any_json_input;
SELECT jsrt.create_script('nul', 'export default () => "a\u0000b"') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('nul')$$);

-- a script error names the script, the JS error and line:column
SELECT jsrt.create_script('thrower', E'function inner(x) {\n  return x.y.z;\n}\nexport default function (ctx) { return inner({}); }') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('thrower')$$);
SELECT jsrt.create_script('rejects', E'export default async function () {\n  throw new RangeError("too far");\n}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('rejects')$$);

-- the failed run's record survives the caller's rollback
BEGIN;
SELECT err($$SELECT jsrt.execute('thrower')$$);
ROLLBACK;
BEGIN;
SELECT jsrt.execute('thrower');
ROLLBACK;
SELECT jsrt.flush_history();
SELECT s.name, e.status, e.error, e.error_detail->>'line' AS line, e.error_detail->>'column' AS col
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE e.status <> 'completed' ORDER BY s.name, e.started_at;

-- scripts see the caller's uncommitted work: embedded use inside a transaction
BEGIN;
SELECT jsrt.update_script('ctxinfo', 'export default (ctx) => ({v: 2})');
SELECT jsrt.execute('ctxinfo');
ROLLBACK;
SELECT jsrt.execute('ctxinfo')->>'script' AS back_to_version_1;

-- draft and active run; paused, disabled and archived do not
SELECT jsrt.set_status('nothing', 'active');
SELECT jsrt.set_status('nothing', 'paused');
SELECT err($$SELECT jsrt.execute('nothing')$$);

-- history modes: errors keeps no successful runs, sampled keeps one in jsrt.history_sample_every
SELECT jsrt.create_script('quiet', 'export default (ctx) => ctx.input.n * 2', 'embedded', '{"history": "errors"}') IS NOT NULL AS ok;
SELECT sum((jsrt.execute('quiet', jsonb_build_object('n', g)))::int) FROM generate_series(1, 100) g;
SELECT count(*) AS quiet_rows FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'quiet';
SET jsrt.history_sample_every = 10;
SELECT jsrt.update_script('quiet', options => '{"history": "sampled"}');
SELECT sum((jsrt.execute('quiet', jsonb_build_object('n', g)))::int) FROM generate_series(1, 100) g;
SELECT count(*) AS sampled_rows, min(trigger_type) AS trigger, min((metrics->>'sample_every')::int) AS sample_every
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'quiet';
RESET jsrt.history_sample_every;

-- jsrt.execute(script, jsonb_build_object(...)) is planned as jsrt._execute_object, which
-- makes ctx.input straight from the values; the script must see exactly what the jsonb gives
SELECT jsrt.create_script('seen', $js$
export default (ctx) => ({
  json: JSON.stringify(ctx.input),
  types: Object.values(ctx.input).map((v) => v === null ? 'null' : typeof v).join(' '),
  proto: Object.getPrototypeOf(ctx.input) === Object.prototype,
})$js$) IS NOT NULL AS ok;
CREATE TABLE obj_values (i int, b bool, s smallint, n int, l bigint, num numeric, t text, v varchar(5));
INSERT INTO obj_values VALUES
  (1, true, 1, 0, 0, 0, '', ''),
  (2, false, -32768, -2147483648, -9223372036854775808, 'NaN', 'quote " backslash \ tab	é😀', 'abc'),
  (3, NULL, 32767, 2147483647, 9223372036854775807, 'Infinity', 'line
break', NULL),
  (4, true, NULL, NULL, 9007199254740993, '-Infinity', NULL, 'x'),
  (5, false, 7, 2147483647, -9007199254740993, 0.1, 'null', 'ab'),
  (6, true, 0, -1, 1, 123.4500, '{"a": 1}', '1'),
  (7, true, 0, 0, 2, '1e-40', 'x', 'y'),
  (8, true, 0, 0, 3, '-0.0', 'x', 'y'),
  (9, true, 0, 0, 4, repeat('9', 400)::numeric, 'x', 'y'),
  (10, true, 0, 0, 5, '123456789012345678901234567890.000000000000000000001', 'x', 'y'),
  (11, true, 0, 0, 6, NULL, 'x', 'y');
EXPLAIN (VERBOSE, COSTS OFF) SELECT jsrt.execute('seen', jsonb_build_object('b', b, 'n', n, 't', t)) FROM obj_values;
-- every value, every key order: the same as through the jsonb (jsrt._execute takes its text)
SELECT count(*) AS rows, count(*) FILTER (WHERE direct IS DISTINCT FROM via_jsonb) AS different
  FROM (SELECT jsrt.execute('seen', jsonb_build_object('b', b, 's', s, 'n', n, 'l', l, 'num', num, 't', t, 'v', v,
                                                       'lit', 'literal', 'zz', NULL, '', 1, 'é', 2, '__proto__', 3,
                                                       '10', 4, '2', 5, 'b', 'again')) AS direct,
               jsrt._execute('seen', jsonb_build_object('b', b, 's', s, 'n', n, 'l', l, 'num', num, 't', t, 'v', v,
                                                        'lit', 'literal', 'zz', NULL, '', 1, 'é', 2, '__proto__', 3,
                                                        '10', 4, '2', 5, 'b', 'again')::text)::jsonb AS via_jsonb
          FROM obj_values) x;
-- numerics of many sizes and scales (most read from their digits, the rest from their text)
SELECT count(*) AS numerics, count(*) FILTER (WHERE direct IS DISTINCT FROM via_jsonb) AS different
  FROM (SELECT jsrt.execute('seen', jsonb_build_object('x', x, 'y', -x)) AS direct,
               jsrt._execute('seen', jsonb_build_object('x', x, 'y', -x)::text)::jsonb AS via_jsonb
          FROM (SELECT round((((g * 7919) % 1000003) - 500000)::numeric * power(10::numeric, (g % 41) - 20), g % 30) AS x
                  FROM generate_series(1, 3000) g
                UNION ALL SELECT g::numeric * 9007199254740993 / 7 FROM generate_series(1, 500) g
                UNION ALL SELECT (g::numeric / 3)::numeric(40, 30) FROM generate_series(1, 500) g
                UNION ALL SELECT (2::numeric ^ g) + g % 2 FROM generate_series(40, 70) g) v) c;
SELECT i, jsrt.execute('seen', jsonb_build_object('num', num, 'l', l, 't', t)) FROM obj_values ORDER BY i;
SELECT jsrt.execute('seen', jsonb_build_object('a', 1, 'a', 2, 'A', 3)) AS last_of_a_key, jsrt.execute('seen', jsonb_build_object()) AS empty;
-- what is not rewritten: other value types, keys not constant, a VARIADIC array
EXPLAIN (VERBOSE, COSTS OFF) SELECT jsrt.execute('seen', jsonb_build_object('f', 1.5::float8)), jsrt.execute('seen', jsonb_build_object(t, 1)),
       jsrt.execute('seen', jsonb_build_object(VARIADIC ARRAY['a', 'b'])) FROM obj_values;
-- the script's input schema, its history of failures and a null script name, as before
SELECT jsrt.create_script('schema_obj', 'export default (ctx) => ctx.input.n', 'embedded',
       '{"input_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}') IS NOT NULL AS ok;
SELECT jsrt.execute('schema_obj', jsonb_build_object('n', n)) FROM obj_values WHERE i = 6;
SELECT err($$SELECT jsrt.execute('schema_obj', jsonb_build_object('n', t)) FROM obj_values WHERE i = 6$$);
SELECT jsrt.create_script('fails_obj', 'export default (ctx) => { throw new Error("no " + ctx.input.t); }') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('fails_obj', jsonb_build_object('t', t, 'num', num)) FROM obj_values WHERE i = 6$$);
SELECT jsrt.flush_history();
SELECT e.input, e.error FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'fails_obj';
SELECT err($$SELECT jsrt.execute(NULL, jsonb_build_object('n', 1))$$);
SELECT err($$SELECT jsrt._execute_object('seen', 'n', 1.5::float8)$$);
-- 50 pairs are jsonb_build_object's most (100 arguments): _execute_object would take 101, so the call stays
SELECT format('SELECT jsrt.execute(''seen'', jsonb_build_object(%s))->>''types'' = repeat(''number '', 49) || ''number'' AS fifty_pairs',
              string_agg(format('''k%s'', %s', g, g), ', ')) FROM generate_series(1, 50) g \gexec
-- an input past jsonb's limits is refused before the script runs, as the jsonb argument is (here the run
-- would succeed: no history record needs the jsonb)
SET jsrt.max_memory_bytes = 1073741824;
SELECT jsrt.create_script('big_in', 'export default (ctx) => ctx.input.a.length + ctx.input.b.length', 'embedded',
       '{"history": "errors", "resource_limits": {"max_memory_bytes": 1073741824}}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('big_in', jsonb_build_object('a', repeat('x', 135000000), 'b', repeat('y', 135000000)))$$);
SELECT err($$SELECT jsrt.execute('big_in', jsonb_build_object('a', repeat('x', 268435456), 'b', ''))$$);
SELECT jsrt.execute('big_in', jsonb_build_object('a', repeat('x', 1000), 'b', 'y')) AS small_runs;
RESET jsrt.max_memory_bytes;
DROP TABLE obj_values;

-- a number result is written without JSON.stringify where it has no exponent: the same text
SELECT jsrt.create_script('nth', f || 'export default (ctx) => nth(ctx.input.i);') IS NOT NULL AS ok,
       jsrt.create_script('nth_text', f || 'export default (ctx) => JSON.stringify(nth(ctx.input.i));') IS NOT NULL AS ok2
  FROM (SELECT $js$
const nth = (i) => {
  const x = (i * 2654435761) % 4294967296, y = (i * 40503 + 12345) % 65536;
  const d = new DataView(new ArrayBuffer(8));
  d.setUint32(0, x); d.setUint32(4, (x * 69069 + y) % 4294967296);
  switch (i % 6) {
    case 0: return d.getFloat64(0);                         // any double
    case 1: return (x % 2000000) / 10 ** (i % 12);          // short decimals, big and small
    case 2: return (x * 4294967296 + y) * (i % 2 ? 1 : -1); // integers past 2^53
    case 3: return x / 7 / 10 ** (i % 25);                  // long fractions down to 1e-25
    case 4: return (x - 2147483648) | 0;                    // int32
    // halfway between two shortest texts (…647.25: .2 or .3): the even one
    default: return (2 ** 49 * (1 + i % 3) + x * 64 + [0.25, 0.75][i % 2]) * (i % 4 < 2 ? 1 : -1);
  }
};
$js$ AS f) s;
SELECT count(*) AS numbers, count(*) FILTER (WHERE direct IS DISTINCT FROM stringified) AS different
  FROM generate_series(1, 10000) g,
       LATERAL (SELECT jsrt._execute('nth', format('{"i": %s}', g)) AS direct,
                       jsrt._execute('nth_text', format('{"i": %s}', g))::jsonb #>> '{}' AS stringified) x;

-- a role that may run jsrt.execute but not jsrt._execute_object keeps the call as written (as inlining checks)
DROP ROLE IF EXISTS exec_only;
CREATE ROLE exec_only;
GRANT USAGE ON SCHEMA jsrt TO exec_only;
GRANT EXECUTE ON FUNCTION jsrt.execute(text, jsonb), jsrt._execute(text, text) TO exec_only;
-- a plan made for a role that may is made again for one that may not (a prepared statement, a PL/pgSQL function)
SET plan_cache_mode = force_generic_plan;
PREPARE planned_by_owner AS SELECT jsrt.execute('seen', jsonb_build_object('n', 1));
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE planned_by_owner;
SET ROLE exec_only;
EXPLAIN (VERBOSE, COSTS OFF) SELECT jsrt.execute('seen', jsonb_build_object('n', 1));
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE planned_by_owner;
RESET ROLE;
DEALLOCATE planned_by_owner;
RESET plan_cache_mode;
DROP OWNED BY exec_only;
DROP ROLE exec_only;
-- script SQL cannot start a run, planned or not
SELECT jsrt.create_script('nests', $js$
export default (ctx) => ctx.db.query("select jsrt.execute('seen', jsonb_build_object('n', 1)) as r")$js$) IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('nests')$$);
SELECT err($$SELECT jsrt.execute('nests', jsonb_build_object('n', 1))$$);
-- a planned jsrt.execute makes a number result's jsonb numeric itself: the same jsonb as jsonb_in's, byte for byte in size
SELECT count(*) AS numbers, count(*) FILTER (WHERE a::text IS DISTINCT FROM b::text OR pg_column_size(a) <> pg_column_size(b)
                                             OR a IS DISTINCT FROM b) AS different
  FROM generate_series(1, 10000) g,
       LATERAL (SELECT jsrt.execute('nth', jsonb_build_object('i', g)) AS a,
                       jsrt._execute('nth', format('{"i": %s}', g))::jsonb AS b) x;

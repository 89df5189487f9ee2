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

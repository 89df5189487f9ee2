-- What the fuzzers (tests/fuzz, make fuzz) found, kept as cases: NULL
-- arguments of functions that are not STRICT are refused with 22023 and a
-- message (not pgrx's internal XX000), and a NUL in a log line or a progress
-- message no longer fails the run's record (jsonb cannot hold one: U+FFFD).
SELECT jsrt.create_tenant('fuzzfound') IS NOT NULL AS created;
SELECT jsrt.set_tenant('fuzzfound');
SELECT err($$SELECT jsrt.http_dispatch(NULL, '/x')$$) AS null_method;
SELECT err($$SELECT jsrt.http_dispatch('GET', NULL)$$) AS null_path;
SELECT err($$SELECT jsrt.http_dispatch('GET', '/x', draft => NULL)$$) AS null_draft;
SELECT err($$SELECT jsrt.dry_run(NULL)$$) AS null_script;
SELECT err($$SELECT jsrt.dry_run('nope', allow_http => NULL)$$) AS null_allow_http;
SELECT jsrt.create_script('nul_lines', $js$export default (ctx) => {
  ctx.log.info("a\u0000b");
  console.log("c\u0000d");
  ctx.progress(1, 2, "e\u0000f");
  return "done";
}$js$, 'oneoff', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.execute('nul_lines') AS output;
SELECT e.status, e.logs->0->>'message' AS log0, e.logs->1->>'message' AS log1,
       e.metrics->'progress'->>'message' AS progress
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'nul_lines';
-- jsonb arguments serde_json cannot read (nested past 127, a number past a double):
-- 22023 with a message, where pgrx's own reading panicked (XX000)
SELECT err($$SELECT jsrt.dry_run('nope', NULL, (repeat('[', 200) || repeat(']', 200))::jsonb)$$) AS deep_input;
SELECT err($$SELECT jsrt.create_script('deep', 'export default () => 1', 'oneoff',
  jsonb_build_object('input_schema', (repeat('[', 200) || repeat(']', 200))::jsonb))$$) AS deep_schema;
SELECT err($$SELECT jsrt.http_dispatch('GET', '/x', '{"a": 1e400}')$$) AS huge_number;
SELECT err($$SELECT jsrt.create_script('deep', 'export default () => 1', 'oneoff',
  '{"resource_limits": {"max_memory_bytes": 1e400}}')$$) AS huge_limit;

-- Secrets (jsrt.set_secret, ctx.secrets.get, redaction) and ctx.cache.
SELECT jsrt.set_tenant('shop_a');

-- bad input
SELECT err($$SELECT jsrt.set_secret('1bad', 'x')$$);
SELECT err($$SELECT jsrt.set_secret('has space', 'x')$$);
SELECT err($$SELECT jsrt.set_secret('ok_name', '')$$);
SELECT err($$SELECT jsrt.set_secret('big', repeat('x', 65537))$$);
SELECT err($$SELECT jsrt.delete_secret('')$$);
RESET jsrt.tenant;
SELECT err($$SELECT jsrt.set_secret('k', 'v')$$);
SELECT jsrt.set_tenant('shop_a');

-- set, replace, delete
SELECT jsrt.set_secret('stripe.key', 'sk_test_first');
SELECT jsrt.set_secret('stripe.key', 'sk_live_51Hx9secret');
SELECT jsrt.set_secret('to_delete', 'doomed-value');
SELECT jsrt.delete_secret('to_delete') AS deleted, jsrt.delete_secret('to_delete') AS again;
SELECT name, updated_by FROM jsrt.secrets ORDER BY name;

-- who may do what: everyone with the tenant sees names, nobody reads values back, only admins write
SELECT jsrt.grant_tenant('shop_a', 'r_viewer');
SELECT as_role('r_viewer', 'shop_a', $$SELECT string_agg(name, ',') FROM jsrt.secrets$$) AS viewer_names;
SELECT as_role('r_viewer', 'shop_a', $$SELECT value FROM jsrt.secrets$$) AS viewer_values;
SELECT as_role('r_dev', 'shop_a', $$SELECT value FROM jsrt.secrets$$) AS dev_values;
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.set_secret('x', 'dev-wrote-this')$$) AS dev_sets;
SELECT as_role('r_admin', 'shop_a', $$SELECT value FROM jsrt.secrets$$) AS admin_values;
SELECT as_role('r_admin', 'shop_a', $$SELECT jsrt.set_secret('admin_made', 'admin-value-1')$$) AS admin_sets;
SELECT as_role('r_admin', 'shop_a', $$SELECT jsrt.delete_secret('admin_made')::text$$) AS admin_deletes;
SELECT jsrt.set_tenant('shop_a');

-- a script reads it; its logs, its error and its output show [REDACTED]
SELECT jsrt.create_script('uses_secret', $$
export default (ctx) => {
  const key = ctx.secrets.get('stripe.key');
  console.log('calling with', key, 'and', {auth: 'Bearer ' + key});
  if (ctx.input.fail) throw new Error('rejected key ' + key);
  return {key, prefix: key.slice(0, 7), missing: ctx.secrets.get('nope'), [key]: 1};
}
$$) IS NOT NULL AS ok;
SELECT jsrt.execute('uses_secret');
SELECT err($$SELECT jsrt.execute('uses_secret', '{"fail": true}')$$);
SELECT jsrt.flush_history();
SELECT e.status, e.output, e.error, e.logs->0->>'message' AS log
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name = 'uses_secret' ORDER BY e.started_at;
SELECT count(*) AS rows_with_the_value FROM jsrt.script_executions
 WHERE concat(output::text, error, error_detail::text, logs::text) LIKE '%sk_live_51Hx9secret%';
-- the script role cannot read the table itself, and another tenant's script gets null
SELECT jsrt.create_script('steal_secret', $$
export default (ctx) => { try { return ctx.db.query('SELECT value FROM jsrt.secrets'); } catch (e) { return e.code + ' ' + e.message; } }
$$) IS NOT NULL AS ok;
SELECT jsrt.execute('steal_secret');
SELECT jsrt.set_tenant('shop_b');
SELECT jsrt.create_script('other_tenant', 'export default (ctx) => ctx.secrets.get(''stripe.key'')') IS NOT NULL AS ok;
SELECT jsrt.execute('other_tenant');

-- ctx.cache: values of any JSON type, per tenant
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_script('cache', $$
export default (ctx) => {
  const {op, key, value, ttl} = ctx.input;
  if (op === 'set') return ctx.cache.set(key, value, ttl);
  if (op === 'get') return ctx.cache.get(key);
  if (op === 'delete') return ctx.cache.delete(key);
  if (op === 'bad') {
    const out = [];
    for (const f of [() => ctx.cache.get(''), () => ctx.cache.get(1), () => ctx.cache.set('k', undefined), () => ctx.cache.set('k', () => 1),
                     () => ctx.cache.set('k', 1, 0), () => ctx.cache.set('k', 1, -5), () => ctx.cache.set('k', 1, 'x'), () => ctx.cache.set('k'.repeat(600), 1)]) {
      try { f(); out.push('no error'); } catch (e) { out.push(e.name + ' ' + e.code + ': ' + e.message); }
    }
    return out;
  }
}
$$) IS NOT NULL AS ok;
SELECT jsrt.execute('cache', '{"op": "set", "key": "obj", "value": {"a": [1, "two", null]}}');
SELECT jsrt.execute('cache', '{"op": "set", "key": "num", "value": 42}');
SELECT jsrt.execute('cache', '{"op": "get", "key": "obj"}') AS obj, jsrt.execute('cache', '{"op": "get", "key": "num"}') AS num,
       jsrt.execute('cache', '{"op": "get", "key": "absent"}') AS absent;
SELECT jsrt.execute('cache', '{"op": "bad"}');
-- another tenant has its own cache
SELECT jsrt.set_tenant('shop_b');
SELECT jsrt.create_script('cache_b', 'export default (ctx) => [ctx.cache.get(''obj''), ctx.cache.set(''obj'', ''b''), ctx.cache.get(''obj'')]') IS NOT NULL AS ok;
SELECT jsrt.execute('cache_b');
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('cache', '{"op": "get", "key": "obj"}') AS still_a;
-- delete, expiry
SELECT jsrt.execute('cache', '{"op": "delete", "key": "num"}') AS deleted, jsrt.execute('cache', '{"op": "delete", "key": "num"}') AS again;
SELECT jsrt.execute('cache', '{"op": "set", "key": "short", "value": 1, "ttl": 0.2}');
SELECT pg_sleep(0.5);
SELECT jsrt.execute('cache', '{"op": "get", "key": "short"}') AS expired;
SELECT jsrt.cleanup_history() >= 1 AS cleaned;
SELECT count(*) AS short_rows FROM jsrt.cache WHERE key = 'short';
-- caps: per value and per tenant
SET jsrt.cache_max_value_bytes = 100;
SELECT err($$SELECT jsrt.execute('cache', jsonb_build_object('op', 'set', 'key', 'big', 'value', repeat('x', 200)))$$);
SET jsrt.cache_max_tenant_bytes = 200;
SELECT jsrt.execute('cache', jsonb_build_object('op', 'set', 'key', 'fill1', 'value', repeat('x', 90)));
SELECT err($$SELECT jsrt.execute('cache', jsonb_build_object('op', 'set', 'key', 'fill2', 'value', repeat('x', 90)))$$);
-- replacing a key counts its new size, not both
SELECT jsrt.execute('cache', jsonb_build_object('op', 'set', 'key', 'fill1', 'value', repeat('y', 95)));
RESET jsrt.cache_max_value_bytes;
RESET jsrt.cache_max_tenant_bytes;
-- a cache write belongs to the run's transaction
BEGIN;
SELECT jsrt.execute('cache', '{"op": "set", "key": "txn", "value": "rolled back"}');
ROLLBACK;
SELECT jsrt.execute('cache', '{"op": "get", "key": "txn"}') AS after_rollback;

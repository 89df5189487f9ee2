-- HTTP endpoint scripts through jsrt.http_dispatch: API keys, routing,
-- ctx.request, responses and their status codes, and the history rows.
SELECT jsrt.set_tenant('shop_a');
-- bad input
SELECT err($$SELECT jsrt.create_api_key('', 'jsrt_developer')$$);
SELECT err($$SELECT jsrt.create_api_key('k', 'postgres')$$);
SELECT err($$SELECT jsrt.create_script('bad_auth', 'export default () => 1', 'http', '{"http_path": "/x", "http_auth": "none"}')$$);
SELECT jsrt.create_api_key('app') AS key \gset
SELECT jsrt.create_api_key('reader', 'jsrt_viewer') AS viewer_key \gset
SELECT err($$SELECT jsrt.create_api_key('app')$$);
SELECT length(:'key') AS key_length, name, role, revoked_at IS NULL AS live FROM jsrt.api_keys ORDER BY name;
-- only the hash is stored, and roles cannot read it
SELECT count(*) AS stored_in_clear FROM jsrt.api_keys WHERE key_hash = :'key';
SELECT as_role('r_admin', 'shop_a', $$SELECT key_hash FROM jsrt.api_keys$$) AS admin_reads_hash;
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.create_api_key('x')$$) AS dev_makes_key;
SELECT jsrt.set_tenant('shop_a');

SELECT jsrt.create_script('get_order', $$
export default (ctx) => {
  const r = ctx.request;
  if (r.params.id === 'missing') return {status: 404, body: {error: 'no such order'}};
  return {id: r.params.id, q: r.query, ua: r.headers['user-agent'] ?? null, method: r.method};
}$$, 'http', '{"status": "active", "http_path": "/orders/:id", "http_methods": ["GET", "PUT"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('post_order', $$
export default (ctx) => ({status: 201, headers: {Location: '/orders/9', 'X-Body-Type': typeof ctx.request.body}, body: {got: ctx.request.body}})
$$, 'http', '{"status": "active", "http_path": "/orders", "http_methods": ["POST"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('public_ping', 'export default (ctx) => "pong " + ctx.request.path',
       'http', '{"status": "active", "http_path": "/ping", "http_methods": ["GET"], "http_auth": "public"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('fails', 'export default () => { throw new Error("secret internals") }',
       'http', '{"status": "active", "http_path": "/fails", "http_methods": ["GET"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('slow', 'export default () => { for (;;) {} }',
       'http', '{"status": "active", "http_path": "/slow", "http_methods": ["GET"], "resource_limits": {"max_execution_time_ms": 100}}') IS NOT NULL AS ok;
SELECT jsrt.create_script('bad_response', 'export default () => ({status: 700})',
       'http', '{"status": "active", "http_path": "/bad", "http_methods": ["GET"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('limited', 'export default (ctx) => [1, 2, 3].map(() => ctx.db.one(''select 1 as one''))',
       'http', '{"status": "active", "http_path": "/limited", "http_methods": ["GET"], "resource_limits": {"max_api_calls_per_minute": 1}}') IS NOT NULL AS ok;
SELECT jsrt.create_script('draft_endpoint', 'export default () => 1', 'http', '{"http_path": "/draft"}') IS NOT NULL AS ok;
RESET jsrt.tenant;

-- the calls, as a gateway would make them, with no tenant set
CREATE FUNCTION public.call(method text, path text, headers jsonb DEFAULT '{}', body text DEFAULT NULL)
RETURNS text LANGUAGE sql AS $$
    SELECT r->>'status' || ' ' || coalesce((r->'headers')::text, '') || ' ' || coalesce(r->>'body', '')
      FROM jsrt.http_dispatch(method, path, headers, body) r
$$;
SELECT call('GET', '/orders/42?x=1&x=2', jsonb_build_object('X-API-Key', :'key', 'User-Agent', 'curl'));
SELECT call('GET', '/orders/42', jsonb_build_object('Authorization', 'Bearer ' || :'key'));
SELECT call('GET', '/orders/missing', jsonb_build_object('X-API-Key', :'key'));
SELECT call('HEAD', '/orders/42', jsonb_build_object('X-API-Key', :'key'));
SELECT call('POST', '/orders', jsonb_build_object('X-API-Key', :'key', 'Content-Type', 'application/json'), '{"qty": 2}');
SELECT call('POST', '/orders', jsonb_build_object('X-API-Key', :'key', 'Content-Type', 'application/x-www-form-urlencoded'), 'qty=2&note=a+b');
SELECT call('POST', '/orders', jsonb_build_object('X-API-Key', :'key', 'Content-Type', 'text/plain'), 'hello');
SELECT call('POST', '/orders', jsonb_build_object('X-API-Key', :'key', 'Content-Type', 'application/json'), '{"qty": 2,');
SELECT call('DELETE', '/orders/42', jsonb_build_object('X-API-Key', :'key'));
SELECT call('OPTIONS', '/orders/42', jsonb_build_object('X-API-Key', :'key'));
SELECT call('GET', '/nowhere', jsonb_build_object('X-API-Key', :'key'));
SELECT call('GET', '/draft', jsonb_build_object('X-API-Key', :'key'));
SELECT call('GET', '/orders/42');
SELECT call('GET', '/orders/42', jsonb_build_object('X-API-Key', 'jsrt_000000000000_' || repeat('0', 48)));
SELECT call('GET', '/orders/42', jsonb_build_object('X-API-Key', 'nonsense'));
SELECT call('GET', '/orders/42', jsonb_build_object('X-API-Key', :'viewer_key'));
-- public endpoints by tenant prefix; an api_key endpoint there still needs a key
SELECT call('GET', '/t/shop_a/ping');
SELECT call('GET', '/t/shop_a/orders/42');
SELECT call('GET', '/t/shop_a/orders/42', jsonb_build_object('X-API-Key', :'key'));
SELECT call('GET', '/t/nobody/ping');
SELECT call('GET', '/t/shop_b/ping', jsonb_build_object('X-API-Key', :'key'));
-- failures: a generic 500 with the execution id (never the script's message), 504, 429
SELECT r->>'status' AS status, r->>'body' LIKE '{"error":"the script failed","execution_id":"%"}' AS generic,
       r->>'body' LIKE '%secret internals%' AS leaks, r->>'execution_id' = (r->>'body')::jsonb->>'execution_id' AS same_id
  FROM jsrt.http_dispatch('GET', '/fails', jsonb_build_object('X-API-Key', :'key')) r;
SELECT (jsrt.http_dispatch('GET', '/slow', jsonb_build_object('X-API-Key', :'key')))->>'status' AS timeout;
SELECT regexp_replace((jsrt.http_dispatch('GET', '/bad', jsonb_build_object('X-API-Key', :'key')))->>'body',
                      '"execution_id":"[^"]+"', '"execution_id":"..."') AS invalid_response;
-- three API calls against a limit of one a minute: the rate limit
SELECT r->>'status' AS status, r->'headers'->>'retry-after' AS retry_after
  FROM jsrt.http_dispatch('GET', '/limited', jsonb_build_object('X-API-Key', :'key')) r;
-- revoked keys stop working
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.revoke_api_key('app') AS revoked, jsrt.revoke_api_key('app') AS again;
SELECT call('GET', '/orders/42', jsonb_build_object('X-API-Key', :'key'));
-- every request that ran a script is recorded with trigger http
SELECT jsrt.flush_history();
SELECT s.name, e.status, e.trigger_data->>'method' AS method, e.trigger_data->>'path' AS path, e.trigger_data->>'status' AS http_status
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE e.trigger_type = 'http' ORDER BY e.started_at, s.name;

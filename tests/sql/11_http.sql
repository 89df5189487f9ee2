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

-- ---------------------------------------------------------------- webhooks, responses, routes, rate limits
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_api_key('app2') AS key2 \gset
-- ctx.request.text(), json(), bytes() and form() read the bytes as sent; body is as before
SELECT jsrt.create_script('raw_body', $$
export default (ctx) => {
  const r = ctx.request;
  const out = {text: r.text(), length: r.bytes().length, isBytes: r.bytes() instanceof Uint8Array,
               enumerable: Object.keys(r).includes('text')};
  if (r.headers['content-type'] === 'application/json') {
    out.keys = Object.keys(r.json());
    out.bodyKeys = Object.keys(r.body);
  }
  if (r.headers['content-type'] === 'application/x-www-form-urlencoded') out.form = r.form();
  if (r.headers['x-parse'] === 'json') {
    try { r.json(); } catch (e) { out.error = e.name + ': ' + e.message; }
  }
  return out;
}$$, 'http', '{"status": "active", "http_path": "/raw", "http_methods": ["POST"]}') IS NOT NULL AS ok;
RESET jsrt.tenant;
SELECT call('POST', '/raw', jsonb_build_object('X-API-Key', :'key2', 'Content-Type', 'application/json'),
            E'{\n  "zeta": 1.50,\n  "alpha": 1e3\n}');
SELECT call('POST', '/raw', jsonb_build_object('X-API-Key', :'key2', 'Content-Type', 'application/x-www-form-urlencoded'), 'a=1&b=x+y&a=2');
SELECT call('POST', '/raw', jsonb_build_object('X-API-Key', :'key2', 'Content-Type', 'text/plain', 'X-Parse', 'json'), E'{"a":\n  nope}');
SELECT call('POST', '/raw', jsonb_build_object('X-API-Key', :'key2', 'Content-Type', 'text/plain', 'X-Parse', 'json'), '');

-- responses: repeated headers, header lists, bytes, and headers that would split the response
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_script('respond', $$
export default (ctx) => {
  switch (ctx.request.query.kind) {
    case 'cookies': return {status: 200, headers: {'Set-Cookie': ['a=1', 'b=2'], 'X-One': 'x'}, body: 'ok'};
    case 'pairs': return {status: 200, headers: [['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2']], body: {ok: true}};
    case 'bytes': return {status: 200, body: new Uint8Array([0, 255, 10])};
    case 'buffer': return {status: 201, headers: {'Content-Type': 'image/png'}, body: new Uint8Array([104, 105]).buffer};
    case 'bare': return new Uint8Array([1, 255]);
    case 'split': return {status: 200, headers: {'X-Evil': 'a\r\nSet-Cookie: admin=1'}, body: 'no'};
    case 'name': return {status: 200, headers: [['Bad Name', '1']], body: 'no'};
  }
}$$, 'http', '{"status": "active", "http_path": "/respond", "http_methods": ["GET"]}') IS NOT NULL AS ok;
RESET jsrt.tenant;
SELECT call('GET', '/respond?kind=cookies', jsonb_build_object('X-API-Key', :'key2'));
SELECT call('GET', '/respond?kind=pairs', jsonb_build_object('X-API-Key', :'key2'));
SELECT r->>'status' AS status, r->'headers' AS headers, r->>'body' AS body, r->>'bodyEncoding' AS encoding
  FROM jsrt.http_dispatch('GET', '/respond?kind=bytes', jsonb_build_object('X-API-Key', :'key2')) r;
SELECT call('GET', '/respond?kind=buffer', jsonb_build_object('X-API-Key', :'key2'));
SELECT r->>'status' AS status, r->'headers' AS headers, r->>'body' AS body, r->>'bodyEncoding' AS encoding
  FROM jsrt.http_dispatch('GET', '/respond?kind=bare', jsonb_build_object('X-API-Key', :'key2')) r;
SELECT regexp_replace(call('GET', '/respond?kind=split', jsonb_build_object('X-API-Key', :'key2')),
                      '"execution_id":"[^"]+"', '"execution_id":"..."') AS split;
SELECT regexp_replace(call('GET', '/respond?kind=name', jsonb_build_object('X-API-Key', :'key2')),
                      '"execution_id":"[^"]+"', '"execution_id":"..."') AS bad_name;

-- routes: a clash with another endpoint of the tenant is refused at save, naming it
SELECT jsrt.set_tenant('shop_a');
SELECT err($$SELECT jsrt.create_script('orders_by_oid', 'export default () => 1', 'http', '{"http_path": "/orders/:oid", "http_methods": ["GET"]}')$$);
SELECT err($$SELECT jsrt.create_script('ping2', 'export default () => 1', 'http', '{"http_path": "/ping/", "http_methods": ["GET", "POST"]}')$$);
SELECT err($$SELECT jsrt.create_script('any_order', 'export default () => 1', 'http', '{"http_path": "/orders/:x", "http_methods": []}')$$);
-- other methods, or a literal beside a parameter, do not clash
SELECT jsrt.create_script('delete_order', 'export default (ctx) => "deleted " + ctx.request.params.oid', 'http',
       '{"status": "active", "http_path": "/orders/:oid", "http_methods": ["DELETE"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('new_order_form', 'export default () => "form"', 'http',
       '{"status": "active", "http_path": "/orders/new", "http_methods": ["GET"]}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.update_script('delete_order', options => '{"http_methods": ["DELETE", "PUT"]}')$$);
SELECT err($$UPDATE jsrt.scripts SET http_path = '/orders/:id' WHERE name = 'new_order_form'$$);
-- drafts hold their route; archived scripts do not, until they come back as drafts
SELECT err($$SELECT jsrt.create_script('draft2', 'export default () => 2', 'http', '{"http_path": "/draft"}')$$);
SELECT jsrt.set_status('draft_endpoint', 'archived');
SELECT jsrt.create_script('draft2', 'export default () => 2', 'http', '{"http_path": "/draft"}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.set_status('draft_endpoint', 'draft')$$);
SELECT jsrt.update_script('draft2', options => '{"http_methods": ["PATCH"]}') AS version;
SELECT jsrt.set_status('draft_endpoint', 'draft');
-- the server's own paths are refused
SELECT err($$SELECT jsrt.create_script('hz', 'export default () => 1', 'http', '{"http_path": "/healthz"}')$$);
SELECT err($$SELECT jsrt.create_script('mx', 'export default () => 1', 'http', '{"http_path": "/metrics"}')$$);
SELECT err($$SELECT jsrt.create_script('mg', 'export default () => 1', 'http', '{"http_path": "/_jsrt/scripts/:id"}')$$);
SELECT err($$SELECT jsrt.create_script('tp', 'export default () => 1', 'http', '{"http_path": "/t/shop_a/x"}')$$);
SELECT err($$SELECT jsrt.update_script('draft2', options => '{"http_path": "/_jsrt"}')$$);
RESET jsrt.tenant;
SELECT call('DELETE', '/orders/7', jsonb_build_object('X-API-Key', :'key2'));
SELECT call('GET', '/orders/new', jsonb_build_object('X-API-Key', :'key2'));

-- drafts through http_dispatch(draft => true): developers only, in the session's tenant
SELECT call('GET', '/draft', jsonb_build_object('X-API-Key', :'key2'));
SELECT jsrt.grant_tenant('shop_a', 'r_viewer');
SELECT as_role('r_dev', 'shop_a', $$SELECT (jsrt.http_dispatch('GET', '/draft', draft => true) - 'execution_id')::text$$) AS dev_draft;
SELECT as_role('r_dev', 'shop_a', $$SELECT (jsrt.http_dispatch('PATCH', '/t/shop_a/draft', draft => true) - 'execution_id')::text$$) AS dev_prefixed;
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.http_dispatch('GET', '/t/shop_b/draft', draft => true)->>'status'$$) AS other_tenant;
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.http_dispatch('GET', '/ping', draft => true)->>'body'$$) AS active_too;
SELECT as_role('r_viewer', 'shop_a', $$SELECT jsrt.http_dispatch('GET', '/draft', draft => true)::text$$) AS viewer_draft;
SELECT err($$SELECT jsrt.http_dispatch('GET', '/draft', draft => true)$$) AS no_tenant;
SELECT jsrt.revoke_tenant('shop_a', 'r_viewer');

-- a request rate limit per endpoint: validated at save, checked before the script runs
SELECT jsrt.set_tenant('shop_a');
SELECT err($$SELECT jsrt.create_script('rl_bad', 'export default () => 1', 'http', '{"http_path": "/rl_bad", "resource_limits": {"http_rate_limit_per_minute": 0}}')$$);
SELECT err($$SELECT jsrt.create_script('rl_bad', 'export default () => 1', 'http', '{"http_path": "/rl_bad", "resource_limits": {"http_rate_limit_per_minute": "2"}}')$$);
SELECT jsrt.create_script('rate_limited', 'export default () => "ran"', 'http',
       '{"status": "active", "http_path": "/rate", "http_methods": ["GET"], "resource_limits": {"http_rate_limit_per_minute": 2}}') IS NOT NULL AS ok;
SELECT resource_limits->'http_rate_limit_per_minute' AS stored FROM jsrt.scripts WHERE name = 'rate_limited';
RESET jsrt.tenant;
-- the three requests fall in one clock minute
SELECT count(*) >= 0 AS ready FROM (SELECT pg_sleep(61 - extract(second FROM clock_timestamp())::float8)
                                     WHERE extract(second FROM clock_timestamp()) > 57) s;
SELECT r->>'status' AS status, (r->'headers'->>'retry-after')::int BETWEEN 1 AND 60 AS retry_after, r->>'body' AS body
  FROM generate_series(1, 3) i, LATERAL jsrt.http_dispatch('GET', '/rate?i=' || i, jsonb_build_object('X-API-Key', :'key2')) r
 ORDER BY i;
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.flush_history();
SELECT count(*) AS runs_recorded FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'rate_limited';
SELECT s.name, e.trigger_data->>'draft' AS draft, e.trigger_data->>'status' AS http_status
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name IN ('draft_endpoint', 'draft2') ORDER BY e.started_at;
RESET jsrt.tenant;

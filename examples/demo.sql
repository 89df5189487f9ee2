-- The demo: one tenant, example scripts for the seed use cases.
\set ON_ERROR_STOP on
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
SELECT jsrt.create_tenant('demo') \gset
SELECT jsrt.set_tenant('demo');

-- Embedded business logic: dynamic pricing, called once per row.
SELECT jsrt.create_script('price', $js$
export default function (ctx) {
  const { qty, unit_price, tier } = ctx.input;
  let total = qty * unit_price;
  if (tier === 'gold') total *= 0.9;
  if (qty >= 100) total *= 0.95;
  return Math.round(total * 100) / 100;
}$js$, 'embedded', '{"status": "active", "history": "sampled", "description": "Order pricing rules"}') \gset
SELECT id, qty, tier, jsrt.execute('price', jsonb_build_object('qty', qty, 'unit_price', 9.99, 'tier', tier)) AS price
  FROM (VALUES (1, 2, 'basic'), (2, 150, 'gold'), (3, 10, 'gold')) AS orders(id, qty, tier);

-- Custom validation rule, in the caller's transaction.
SELECT jsrt.create_script('validate-customer', $js$
export default function (ctx) {
  const errors = [];
  if (!/^[^@\s]+@[^@\s]+$/.test(ctx.input.email ?? '')) errors.push('email is invalid');
  if ((ctx.input.name ?? '').trim().length === 0) errors.push('name is required');
  ctx.log.info('validated', ctx.input.email, errors.length ? 'with errors' : 'ok');
  return { valid: errors.length === 0, errors };
}$js$, 'embedded', '{"status": "active"}') \gset
SELECT jsrt.execute('validate-customer', '{"email": "ann@example.com", "name": "Ann"}') AS good,
       jsrt.execute('validate-customer', '{"email": "nope", "name": ""}') AS bad;

-- One-off data task: async code, logs and a report.
SELECT jsrt.create_script('monthly-report', $js$
export default async function (ctx) {
  const days = ctx.input.days ?? [];
  const total = await Promise.resolve(days.reduce((s, d) => s + d.amount, 0));
  console.log(`summed ${days.length} days`);
  return { month: ctx.input.month, total, average: days.length ? total / days.length : 0 };
}$js$, 'oneoff') \gset
SELECT jsrt.execute('monthly-report', '{"month": "2026-10", "days": [{"amount": 120}, {"amount": 80}, {"amount": 100}]}') AS report;

-- Reading and writing the tenant's own rows: a table exposed to scripts.
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.demo_orders;
RESET client_min_messages;
CREATE TABLE public.demo_orders (id serial PRIMARY KEY, tenant_id uuid NOT NULL, customer text, total numeric, paid boolean DEFAULT false);
SELECT jsrt.expose_table('public.demo_orders');
SELECT jsrt.create_script('close-day', $js$
export default function (ctx) {
  ctx.db.insert('demo_orders', [{customer: 'ann', total: '20.00'}, {customer: 'bob', total: '35.50', paid: true}]);
  const open = ctx.db.select('demo_orders', {where: {paid: false}, orderBy: 'id'});
  const { sum } = ctx.db.one('select sum(total)::text as sum from demo_orders where paid');
  try {
    ctx.db.query('select * from jsrt.tenants');   // scripts cannot see other tenants
  } catch (e) {
    ctx.log.warn(e.code, e.message);
  }
  return { open: open.map(o => o.customer), paid_total: sum };
}$js$, 'oneoff', '{"status": "active"}') \gset
SELECT jsrt.execute('close-day') AS close_day;

-- Events: a welcome script runs after the transaction that emits user.created commits.
SELECT jsrt.create_script('welcome', $js$
export default function (ctx) {
  ctx.log.info('welcoming', ctx.input.email);
  return { sent_to: ctx.input.email, event: ctx.event.type };
}$js$, 'event', '{"status": "active", "event_types": ["user.created"]}') \gset
SELECT jsrt.emit('user.created', '{"email": "ann@example.com"}') AS event_id \gset
SELECT wait_for_event.result AS welcome_run FROM (
  SELECT jsrt.wait(e.id, 5000) -> 'output' AS result
    FROM jsrt.script_executions e WHERE e.trigger_data->>'event_id' = :'event_id') wait_for_event;

-- A queued one-off run (it starts once its transaction commits), waited for; and a schedule in a time zone.
SELECT jsrt.execute_async('monthly-report', '{"month": "2026-11", "days": [{"amount": 50}]}') AS run_id \gset
SELECT jsrt.wait(:'run_id', 5000) -> 'output' AS queued_report;
SELECT jsrt.create_script('nightly-cleanup', 'export default (ctx) => ctx.db.exec(''delete from demo_orders where paid'')',
                          'scheduled', '{"status": "active", "cron_expression": "0 3 * * *", "timezone": "Europe/Berlin"}') \gset
SELECT s.name, j.cron_expression, j.timezone, j.next_run_at AT TIME ZONE 'Europe/Berlin' AS next_run_berlin_time
  FROM jsrt.script_scheduled_jobs j JOIN jsrt.scripts s ON s.id = j.script_id;

-- Failure alerts: a queued run that fails for good becomes a jsrt.run.failed event (a dead letter,
-- jsrt.dead_letter.created). This alert script keeps each alert in a table and, once a
-- chat_webhook secret is set, posts it to the chat.
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.demo_alerts;
RESET client_min_messages;
CREATE TABLE public.demo_alerts (id serial PRIMARY KEY, tenant_id uuid NOT NULL, text text, posted integer);
SELECT jsrt.expose_table('public.demo_alerts');
SELECT jsrt.create_script('alert-to-chat', $js$
export default async function (ctx) {
  const a = ctx.input;
  const text = `${ctx.event.type}: script ${a.script.name} (run ${a.execution_id}), attempt ${a.attempt}: ${a.error}`;
  const hook = ctx.secrets.get('chat_webhook');
  let posted = null;
  if (hook) {
    const r = await ctx.http.post(hook, {text});
    if (!r.ok) throw new Error(`the chat webhook answered ${r.status}`);
    posted = r.status;
  }
  ctx.db.insert('demo_alerts', {text, posted});
  return {text, posted};
}$js$, 'event', '{"status": "active", "event_types": ["jsrt.run.failed", "jsrt.dead_letter.created"]}') \gset
SELECT jsrt.create_script('import-prices', 'export default () => { throw new Error("the price feed is down"); }',
                          'oneoff', '{"status": "active"}') \gset
SELECT jsrt.execute_async('import-prices') AS failing_run \gset
SELECT jsrt.wait(:'failing_run', 5000) ->> 'status' AS import_status;
SELECT jsrt.wait(e.id, 5000) ->> 'status' AS alert_run
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'alert-to-chat';
SELECT regexp_replace(text, '\(run [0-9a-f-]+\)', '(run …)') AS alert, posted FROM demo_alerts;

-- A new version, and a rollback to the first.
SELECT jsrt.update_script('monthly-report', replace(source, 'summed', 'added up'), change_description => 'wording') AS version
  FROM jsrt.scripts WHERE name = 'monthly-report';
SELECT jsrt.rollback_script('monthly-report', 1) AS version_after_rollback;

-- What was recorded.
SELECT s.name, e.status, e.trigger_type, e.metrics->>'duration_ms' AS ms, jsonb_array_length(e.logs) AS log_lines
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id ORDER BY e.started_at;

-- A webhook check with a secret: HMAC-SHA256 over "<timestamp>.<body>", compared in constant
-- time (the signature was made with Python's hmac); the secret shows as [REDACTED] in the run's logs. ctx.cache remembers the last event.
SELECT jsrt.set_secret('webhook_secret', 'whsec_demo_1234');
SELECT jsrt.create_script('verify-webhook', $js$
export default function (ctx) {
  const secret = ctx.secrets.get('webhook_secret');
  const { t, v1 } = Object.fromEntries(ctx.input.signature.split(',').map((kv) => kv.split('=')));
  const valid = crypto.timingSafeEqual(crypto.hmacSha256(secret, `${t}.${ctx.input.body}`), v1);
  ctx.log.info('checked with', secret, valid ? 'valid' : 'INVALID');
  if (valid) ctx.cache.set('last_event', JSON.parse(ctx.input.body), 3600);
  return { valid, last_event: ctx.cache.get('last_event')?.id ?? null };
}$js$, 'oneoff') \gset
SELECT jsrt.execute('verify-webhook', jsonb_build_object(
         'body', '{"id":"evt_1"}',
         'signature', 't=1700000000,v1=91a061b6418513aaf7ae0a2c83a8c5a129ca1adbe75b15d6821a9753bfda1c96')) AS webhook;

-- An HTTP endpoint with path parameters and an API key. The HTTP workers serve it on port 29815
-- (curl -H "X-API-Key: <key>" http://127.0.0.1:29815/orders/1); jsrt.http_dispatch runs the same router from SQL.
SELECT jsrt.create_script('get-order', $js$
export default (ctx) => {
  const row = ctx.db.one('select id, customer, total::text from demo_orders where id = $1', [Number(ctx.request.params.id)]);
  return row ?? { status: 404, body: { error: 'no such order' } };
}$js$, 'http', '{"status": "active", "http_path": "/orders/:id", "http_methods": ["GET"]}') \gset
SELECT jsrt.create_api_key('demo-app') AS api_key \gset
\echo API key for the demo endpoint: :api_key
SELECT r->>'status' AS status, r->>'body' AS body
  FROM jsrt.http_dispatch('GET', '/orders/1', jsonb_build_object('X-API-Key', :'api_key')) r;
SELECT r->>'status' AS status, r->>'body' AS body
  FROM jsrt.http_dispatch('GET', '/orders/999', jsonb_build_object('X-API-Key', :'api_key')) r;
-- The web console signs in with an API key too (a developer's: it may edit and run).
SELECT jsrt.create_api_key('demo-console', 'jsrt_developer') AS console_key \gset
\echo Web console: http://127.0.0.1:29815/_jsrt/console/  (sign in with :console_key)

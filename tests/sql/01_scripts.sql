-- Tenants and script management: validation, versions, rollback, listing.
SELECT err($$SELECT jsrt.create_script('x', 'export default () => 1')$$);
SELECT jsrt.create_tenant('acme') IS NOT NULL AS created;
SELECT err($$SELECT jsrt.create_tenant('acme')$$);
SELECT err($$SELECT jsrt.set_tenant('nobody')$$);
SELECT jsrt.set_tenant('acme');

-- validation names the field
SELECT err($$SELECT jsrt.create_script('1bad', 'export default () => 1')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'nightly')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "0 0 *"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "0 0 * * *", "timezone": "Mars/Base"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'http')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'http', '{"http_path": "/a/../b"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'event')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'event', '{"event_types": ["bad type"]}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"colour": "red"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"resource_limits": {"max_cpu": 1}}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"resource_limits": {"max_execution_time_ms": 0}}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"resource_limits": {"max_memory_bytes": "lots"}}')$$);
SELECT err(format('SELECT jsrt.create_script(%L, %L)', 'big', 'export default () => 1; //' || repeat('x', 102400)));
SELECT err($$SELECT jsrt.create_script('syntax', E'export default function (ctx) {\n  return 1 +;\n}')$$);
SELECT err($$SELECT jsrt.create_script('imports', 'import fs from "fs"; export default () => 1')$$);
-- As psql shows such an error: the message with its line and column, the
-- detail, and one line of context, the call (not the 20 lines of the statement
-- the call runs inside); the same for update_script.
SELECT jsrt.create_script('syntax', E'export default function (ctx) {\n  return 1 +;\n}');
SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"history": "some"}');
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'oneoff', '{"catch_up_window_s": 0}')$$);
SELECT count(*) AS nothing_half_written FROM jsrt.scripts;

-- type-specific scripts are accepted when complete
SELECT jsrt.create_script('nightly', 'export default () => 1', 'scheduled',
       '{"cron_expression": "0 0 * * *", "timezone": "Europe/Berlin", "tags": ["exports"], "description": "Nightly finance export"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('webhook', 'export default () => 1', 'http', '{"http_path": "/hooks/crm", "metadata": {"team": "sales"}}') IS NOT NULL AS ok;
SELECT jsrt.create_script('on-payment', 'export default () => 1', 'event', '{"event_types": ["payment.processed"]}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.create_script('webhook', 'export default () => 2')$$);
SELECT name, type, status, version, resource_limits->>'max_execution_time_ms' AS timeout, http_methods
  FROM jsrt.scripts ORDER BY name;

-- versions: each source change writes the next; rollback makes a new one
SELECT jsrt.create_script('price', 'export default (ctx) => ctx.input.qty * 10') IS NOT NULL AS ok;
SELECT jsrt.update_script('price', 'export default (ctx) => ctx.input.qty * 12', change_description => 'raise prices');
SELECT jsrt.update_script('price', options => '{"description": "the price list"}');
SELECT jsrt.update_script('price', 'export default (ctx) => ctx.input.qty * 15');
SELECT err($$SELECT jsrt.update_script('price', 'export default (ctx) => {')$$);
SELECT jsrt.update_script('price', 'export default (ctx) => {');
SELECT jsrt.rollback_script('price', 1);
SELECT err($$SELECT jsrt.rollback_script('price', 42)$$);
SELECT version_number, v.source, change_description FROM jsrt.script_versions v
  JOIN jsrt.scripts s ON s.id = v.script_id WHERE s.name = 'price' ORDER BY version_number;
SELECT err($$UPDATE jsrt.script_versions SET source = 'x'$$);
SELECT version, source FROM jsrt.scripts WHERE name = 'price';

-- status transitions
SELECT jsrt.set_status('price', 'active');
SELECT jsrt.set_status('price', 'paused');
SELECT err($$SELECT jsrt.set_status('price', 'draft')$$);
SELECT jsrt.set_status('price', 'archived');
SELECT err($$SELECT jsrt.set_status('price', 'active')$$);
SELECT jsrt.set_status('price', 'draft');
SELECT err($$SELECT jsrt.set_status('price', 'gone')$$);

-- listing and search, newest first
SELECT name FROM jsrt.list_scripts();
SELECT name FROM jsrt.list_scripts(script_type => 'http');
SELECT name FROM jsrt.list_scripts(tag => 'exports');
SELECT name FROM jsrt.list_scripts(metadata_key => 'team');
SELECT name FROM jsrt.list_scripts(search => 'finance');
SELECT name FROM jsrt.list_scripts(script_status => 'draft', page_size => 2, page => 2);
SELECT err($$SELECT * FROM jsrt.list_scripts(page_size => 0)$$);

-- tenants do not see each other's scripts
SELECT jsrt.create_tenant('globex') IS NOT NULL AS created;
SELECT jsrt.set_tenant('globex');
SELECT count(*) AS visible FROM jsrt.list_scripts();
SELECT err($$SELECT jsrt.update_script('price', 'export default () => 0')$$);
SELECT jsrt.create_script('price', 'export default () => 0') IS NOT NULL AS same_name_other_tenant;
SELECT jsrt.set_tenant('acme');

-- delete cascades to versions
SELECT jsrt.delete_script('on-payment');
SELECT count(*) FROM jsrt.script_versions v WHERE NOT EXISTS (SELECT 1 FROM jsrt.scripts s WHERE s.id = v.script_id);
SELECT err($$SELECT jsrt.delete_script('on-payment')$$);

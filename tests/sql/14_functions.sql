-- Scripts as typed SQL functions and row triggers (LANGUAGE jsrt): creation,
-- \df and comments, conversions both ways, errors with line:column, the
-- current version per call, tenant isolation, SECURITY DEFINER refused,
-- scripts in use, history errors-only, and a statement timeout.
RESET jsrt.tenant;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fn_dev') THEN
        EXECUTE 'DROP OWNED BY fn_dev CASCADE';
        DROP ROLE fn_dev;
    END IF;
END $$;
DROP SCHEMA IF EXISTS fn_s CASCADE;
CREATE ROLE fn_dev;
GRANT jsrt_developer TO fn_dev;
CREATE SCHEMA fn_s;
GRANT USAGE, CREATE ON SCHEMA fn_s TO fn_dev;
SELECT jsrt.create_tenant('fn_a') IS NOT NULL AS a, jsrt.create_tenant('fn_b') IS NOT NULL AS b;
SELECT jsrt.grant_tenant('fn_a', 'fn_dev'), jsrt.grant_tenant('fn_b', 'fn_dev');
-- uuids vary from run to run
CREATE FUNCTION public.masked(t text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(t, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
$$;

SET ROLE fn_dev;
SELECT jsrt.set_tenant('fn_a');
SELECT jsrt.create_script('pricing', $js$
export default function (ctx, qty, unitPrice, tier) {
  let total = qty * Number(unitPrice);
  if (tier === 'gold') total *= 0.9;
  return Math.round(total * 100) / 100;
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('pricing', 'fn_s.price(qty int, unit_price numeric, tier text) returns numeric');
\df fn_s.price
SELECT masked(obj_description('fn_s.price'::regproc, 'pg_proc')) AS comment,
       (SELECT lanname FROM pg_language l JOIN pg_proc p ON p.prolang = l.oid WHERE p.oid = 'fn_s.price'::regproc) AS language,
       (SELECT prosecdef FROM pg_proc WHERE oid = 'fn_s.price'::regproc) AS security_definer;
SELECT fn_s.price(3, 9.99, 'gold') AS gold, fn_s.price(2, '1.25', NULL) AS plain, fn_s.price(NULL, 1, 'x') AS null_qty;
SELECT sum(fn_s.price(g, 0.5, CASE WHEN g % 2 = 0 THEN 'gold' END)) AS total FROM generate_series(1, 1000) g;
-- where the caller may not create, nor with an unqualified name, a set or a pseudo-type
SELECT err($$SELECT jsrt.create_function('pricing', 'public.price2(q int) returns int')$$);
SELECT err($$SELECT jsrt.create_function('pricing', 'price2(q int) returns int')$$);
SELECT err($$SELECT jsrt.create_function('pricing', 'fn_s.price2(q int) returns setof int')$$);
SELECT err($$SELECT jsrt.create_function('pricing', 'fn_s.price2(q anyelement) returns int')$$);
SELECT err($$SELECT jsrt.create_function('pricing', 'fn_s.price2 q int')$$);
SELECT err($$SELECT jsrt.create_function('nope', 'fn_s.price2(q int) returns int')$$);
-- the language refuses what the handler cannot call
SELECT err($$CREATE FUNCTION fn_s.evil() RETURNS int LANGUAGE jsrt SECURITY DEFINER AS '00000000-0000-4000-8000-000000000000'$$);
SELECT err($$CREATE FUNCTION fn_s.evil() RETURNS int LANGUAGE jsrt AS 'select 1'$$);

-- ---------------------------------------------------------------- values both ways
SELECT jsrt.create_script('ident', 'export default (ctx, x) => x', 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_script('kind', $js$
export default (ctx, x) => x === null ? 'null' : typeof x === 'object'
  ? (x instanceof Date ? 'Date ' + x.toISOString() : x instanceof Uint8Array ? 'Uint8Array ' + x.length
     : Array.isArray(x) ? 'array ' + JSON.stringify(x) : 'object ' + JSON.stringify(x))
  : typeof x + ' ' + String(x)$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('ident', format('fn_s.id_%s(x %s) returns %s', replace(t, '[]', '_arr'), t, t))::text AS fn
  FROM unnest(ARRAY['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'bool', 'text', 'bytea', 'date',
                    'timestamptz', 'interval', 'uuid', 'jsonb', 'int[]', 'text[]']) t;
SELECT jsrt.create_function('kind', format('fn_s.kind_%s(x %s) returns text', replace(t, '[]', '_arr'), t, t))::text AS fn
  FROM unnest(ARRAY['int4', 'int8', 'numeric', 'float8', 'bool', 'text', 'bytea', 'date', 'timestamptz', 'jsonb', 'int[]']) t;
SELECT fn_s.kind_int4(7) AS int4, fn_s.kind_int8(9007199254740993) AS int8_big, fn_s.kind_int8(-9223372036854775808) AS int8_min,
       fn_s.kind_int8(12) AS int8_small, fn_s.kind_numeric(1.50) AS numeric;
SELECT fn_s.kind_float8('NaN') AS nan, fn_s.kind_bool(true) AS bool, fn_s.kind_text('héllo ✓') AS text,
       fn_s.kind_bytea('\x00ff') AS bytea, fn_s.kind_date('0044-03-15 BC') AS date;
SELECT fn_s.kind_timestamptz('2024-02-29 12:30:00.123+00') AS ts, fn_s.kind_jsonb('{"a": [1, null]}') AS jsonb,
       fn_s.kind_int_arr('{1,2,NULL}') AS arr, fn_s.kind_int4(NULL) AS sql_null;
SELECT fn_s.id_int2('-32768') AS i2, fn_s.id_int4(2147483647) AS i4, fn_s.id_int8(-9223372036854775808) AS i8min,
       fn_s.id_int8(9223372036854775807) AS i8max, fn_s.id_numeric(-123456789012345678901234567890.123456789) AS num;
SELECT fn_s.id_float4(-3.4028235e38) AS f4, fn_s.id_float8('-Infinity') AS f8, fn_s.id_bool(false) AS b,
       fn_s.id_text('a "b" \ ✓') AS t, fn_s.id_bytea('\xdeadbeef') AS bytes;
SELECT fn_s.id_date('10000-01-01') AS date5, fn_s.id_interval('1 day 02:03:04.5') AS iv,
       fn_s.id_uuid('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') AS u, fn_s.id_jsonb('{"k": [1, "x", null]}') AS j,
       fn_s.id_int_arr('{{1,2},{3,4}}') AS matrix, fn_s.id_text_arr('{"a b",NULL,"c\"d"}') AS texts;
-- a timestamp keeps its milliseconds through a Date (microseconds are cut: README)
SELECT fn_s.id_timestamptz('2024-02-29 12:30:00.123456+00') AT TIME ZONE 'UTC' AS ts;
-- options: timestamps as exact text, json and jsonb as JSON text (jsonb null is "null", SQL NULL null)
SELECT jsrt.create_function('kind', 'fn_s.kind_exact(x timestamptz) returns text', '{"exactTimestamps": true}');
SELECT jsrt.create_function('kind', 'fn_s.kind_jtext(x jsonb) returns text', '{"jsonText": true}');
SELECT jsrt.create_function('ident', 'fn_s.id_jtext(x jsonb) returns jsonb', '{"jsonText": true}');
SELECT fn_s.kind_exact('2024-02-29 12:30:00.123456+00') AS exact_ts, fn_s.kind_exact('294276-12-31 23:59:59.999999+00') AS far_ts;
SELECT fn_s.kind_jtext('null') AS jsonb_null, fn_s.kind_jtext(NULL) AS sql_null, fn_s.kind_jsonb('null') AS default_jsonb_null;
SELECT fn_s.id_jtext('null') IS NULL AS jtext_null_is_sql_null, fn_s.id_jtext('null')::text AS jtext_null,
       fn_s.id_jsonb('null') IS NULL AS default_null_is_sql_null;
SELECT err($$SELECT fn_s.kind_timestamptz('294276-12-31 23:59:59+00')$$);
SELECT err($$SELECT jsrt.create_function('kind', 'fn_s.kind_bad(x int) returns text', '{"exact": true}')$$);
SELECT prosrc ~ '^[0-9a-f-]{36} \{"jsonText": true\}$' AS body_holds_options FROM pg_proc WHERE oid = 'fn_s.id_jtext'::regproc;

-- a result the declared type cannot take is an error, not a changed value
SELECT jsrt.create_script('returns', $js$
export default (ctx, what) => ({big: 2 ** 40, frac: 1.5, text: 'abc', bigint: 2n ** 64n, map: new Map(),
  bytes: new Uint16Array([1, 2]), list: [1, 2], nested: {m: new Set([1])}})[what]$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('returns', format('fn_s.ret_%s(what text) returns %s', t, t))::text AS fn
  FROM unnest(ARRAY['int4', 'int8', 'numeric', 'bytea', 'jsonb', 'text']) t;
SELECT err($$SELECT fn_s.ret_int4('big')$$);
SELECT err($$SELECT fn_s.ret_int4('frac')$$);
SELECT err($$SELECT fn_s.ret_int4('text')$$);
SELECT err($$SELECT fn_s.ret_int8('bigint')$$);
SELECT fn_s.ret_numeric('bigint') AS exact_numeric, fn_s.ret_bytea('bytes') AS uint16_bytes;
SELECT err($$SELECT fn_s.ret_bytea('list')$$);
SELECT err($$SELECT fn_s.ret_text('map')$$);
SELECT err($$SELECT fn_s.ret_jsonb('nested')$$);

-- ---------------------------------------------------------------- errors, versions, history
SELECT jsrt.create_script('boom', $js$export default (ctx, x) => {
  if (x > 2) throw new RangeError('too big: ' + x);
  return x * 10;
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('boom', 'fn_s.boom(x int) returns int');
SELECT err($$SELECT fn_s.boom(g) FROM generate_series(1, 5) g$$);
SELECT fn_s.boom(1) AS v1;
SELECT jsrt.update_script('boom', source => 'export default (ctx, x) => x * 100') AS version;
SELECT fn_s.boom(5) AS v2;
-- successes leave no history (errors-only by default); the failure was recorded with its arguments
SELECT jsrt.flush_history(10000);
SELECT e.trigger_type, e.status, e.input, e.error
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'boom';
SELECT count(*) AS pricing_history FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'pricing';
-- a script that backs a function can be neither deleted nor renamed
RESET ROLE;
SELECT err($$SELECT jsrt.delete_script('boom')$$);
SELECT err($$UPDATE jsrt.scripts SET name = 'boom2' WHERE name = 'boom'$$);
SET ROLE fn_dev;
-- also a function made with CREATE FUNCTION ... LANGUAGE jsrt, its body spelled loosely
SELECT jsrt.create_script('lonely', 'export default (ctx, x) => x + 1', 'embedded', '{"status": "active"}') IS NOT NULL AS created;
DO $$ BEGIN
    EXECUTE format('CREATE FUNCTION fn_s.direct(x int) RETURNS int LANGUAGE jsrt AS %L',
                   E'\n ' || upper((SELECT id::text FROM jsrt.scripts WHERE name = 'lonely')) || ' ');
END $$;
SELECT fn_s.direct(41) AS direct;
RESET ROLE;
SELECT err($$SELECT jsrt.delete_script('lonely')$$);
SET ROLE fn_dev;
-- the script's SQL runs as jsrt_script in the script's tenant, whoever calls
SELECT jsrt.create_script('who', $js$export default (ctx) => ctx.db.one('select current_user::text as u').u + ' ' + ctx.tenant.name$js$,
                          'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('who', 'fn_s.who() returns text');
SELECT fn_s.who() AS as_developer;
RESET ROLE;
SELECT fn_s.who() AS as_superuser;
-- another tenant's session, or none, cannot run it
SELECT jsrt.set_tenant('fn_b');
SELECT masked(err($$SELECT fn_s.who()$$));
RESET jsrt.tenant;
SELECT err($$SELECT fn_s.who()$$);
-- one call site (PL/pgSQL keeps a simple expression's for the transaction) follows the
-- session's tenant from call to call: set again to the same, then to one the script is not of
DO $$ DECLARE got text := ''; t text; BEGIN
  FOREACH t IN ARRAY ARRAY['fn_a', 'fn_a', 'fn_b', 'fn_a'] LOOP
    PERFORM jsrt.set_tenant(t);
    BEGIN
      got := got || fn_s.who() || '; ';
    EXCEPTION WHEN insufficient_privilege THEN
      got := got || 'refused; ';
    END;
  END LOOP;
  RAISE NOTICE '%', got;
END $$;
-- within one statement, whose call sites live for the statement: the tenant set per row (a
-- superuser's set_config) is followed by a typed function and a planned jsrt.execute alike
SELECT fn_s.who() AS same_tenant FROM unnest(ARRAY['fn_a', 'fn_a']) t
 WHERE set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = t), false) IS NOT NULL;
SELECT masked(err($$SELECT fn_s.who() FROM unnest(ARRAY['fn_a', 'fn_a', 'fn_b']) t
 WHERE set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = t), false) IS NOT NULL$$));
SELECT jsrt.execute('who', jsonb_build_object('n', 1)) AS planned_same_tenant FROM unnest(ARRAY['fn_a', 'fn_a']) t
 WHERE set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = t), false) IS NOT NULL;
SELECT masked(err($$SELECT jsrt.execute('who', jsonb_build_object('n', 1)) FROM unnest(ARRAY['fn_a', 'fn_a', 'fn_b']) t
 WHERE set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = t), false) IS NOT NULL$$));
RESET jsrt.tenant;
SET ROLE fn_dev;
SELECT jsrt.set_tenant('fn_a');
-- short texts are passed as the strings made of the same bytes lately: each comes back exactly
SELECT jsrt.create_script('echo_text', 'export default (ctx, t) => t', 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('echo_text', 'fn_s.echo_text(t text) returns text');
SELECT count(*) AS texts, count(*) FILTER (WHERE fn_s.echo_text(t) IS DISTINCT FROM t) AS changed
  FROM (SELECT (ARRAY['gold', 'silver', 'basic', '', 'é', 'Gold', 'silver2', repeat('x', 24), repeat('x', 25), NULL,
                      'ü€😀', repeat('ab', 5000)])[1 + g % 12] || CASE WHEN g % 7 = 0 THEN g::text ELSE '' END AS t
          FROM generate_series(1, 5000) g) s;
-- a typed call's history: a completed call is recorded only for a sampled script (one in
-- jsrt.history_sample_every, 100), never otherwise (the 5,000 calls above left none)
SELECT count(*) AS echo_rows FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name = 'echo_text';
SELECT jsrt.update_script('echo_text', options => '{"history": "sampled"}') IS NOT NULL AS updated;
SELECT count(fn_s.echo_text(g::text)) AS calls FROM generate_series(1, 250) g;
SELECT count(*) AS sampled_rows, min(e.trigger_type) AS trigger, min(e.status::text) AS status,
       min((e.metrics->>'sample_every')::int) AS sample_every
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'echo_text';
-- a statement timeout stops a long call
SELECT jsrt.create_script('spin', 'export default (ctx, n) => { let x = 0; for (;;) x++; }', 'embedded',
                          '{"status": "active", "resource_limits": {"max_execution_time_ms": 600000}}') IS NOT NULL AS created;
SELECT jsrt.create_function('spin', 'fn_s.spin(n int) returns int');
SET statement_timeout = '300ms';
SELECT fn_s.spin(1);
RESET statement_timeout;

-- ---------------------------------------------------------------- triggers
CREATE TABLE fn_s.orders (id serial PRIMARY KEY, sku text, qty int, price numeric, note text);
SELECT jsrt.create_script('validate', $js$
export default function (ctx, tg) {
  const row = tg.new;
  if (row.qty < 0) throw new RangeError(`qty must not be negative, got ${row.qty}`);
  if (row.sku === 'skip') return null;
  return {...row, sku: row.sku.toUpperCase(), note: `${tg.op} ${tg.when} ${tg.schema}.${tg.table} ${tg.level} ${tg.args.length}`};
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_trigger('validate', 'fn_s.orders', 'insert or update', 'before');
\df fn_s.orders*
SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE tgrelid = 'fn_s.orders'::regclass;
INSERT INTO fn_s.orders (sku, qty, price) VALUES ('ab-1', 1, 9.99), ('skip', 2, 1), ('cd-2', 3, 0.5);
SELECT err($$INSERT INTO fn_s.orders (sku, qty, price) VALUES ('bad', -1, 1)$$);
UPDATE fn_s.orders SET qty = qty + 10 WHERE sku = 'AB-1';
SELECT id, sku, qty, price, note FROM fn_s.orders ORDER BY id;
-- a trigger's call site lives for its statement too: a row under another tenant (set per
-- row by a superuser's set_config) is refused, and the statement with it
RESET ROLE;
SELECT masked(err($$INSERT INTO fn_s.orders (sku, qty, price)
  SELECT 'tn-' || t, 1, 1 FROM unnest(ARRAY['fn_a', 'fn_a', 'fn_b']) t
   WHERE set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = t), false) IS NOT NULL$$));
SELECT count(*) AS tn_rows FROM fn_s.orders WHERE sku LIKE 'TN-%';
SET ROLE fn_dev;
SELECT jsrt.set_tenant('fn_a');
-- AFTER triggers see OLD; what they return is ignored
SELECT jsrt.create_script('audit', $js$
export default function (ctx, tg) {
  ctx.log.info(`${tg.op} ${JSON.stringify(tg.old)} -> ${JSON.stringify(tg.new)}`);
  if (tg.op === 'DELETE' && tg.old.qty > 100) throw new Error('cannot delete big orders');
  return null;
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_trigger('audit', 'fn_s.orders', 'delete', 'after');
DELETE FROM fn_s.orders WHERE sku = 'CD-2';
UPDATE fn_s.orders SET qty = 500 WHERE sku = 'AB-1';
SELECT err($$DELETE FROM fn_s.orders WHERE sku = 'AB-1'$$);
SELECT sku, qty FROM fn_s.orders ORDER BY id;
-- a BEFORE trigger's unchanged columns keep their stored values exactly (microseconds, jsonb null)
CREATE TABLE fn_s.exact (id int, at timestamptz, doc jsonb, raw json, n numeric, tags text[]);
SELECT jsrt.create_script('touch', 'export default (ctx, tg) => ({...tg.new, n: tg.new.n})', 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_trigger('touch', 'fn_s.exact', 'insert', 'before');
INSERT INTO fn_s.exact VALUES (1, '2024-02-29 12:30:00.123456+00', 'null', '{"b": 1,  "a": 2}', 1.50, '[0:1]={x,y}'),
                              (2, NULL, NULL, NULL, NULL, NULL);
SELECT id, at AT TIME ZONE 'UTC' AS at, doc, doc IS NULL AS doc_is_null, raw, n, tags FROM fn_s.exact ORDER BY id;
-- tg's rows are plain objects with own, writable properties, whatever the column names
-- (a column named __proto__ is a property, not the prototype); a dropped column is not one
CREATE TABLE fn_s.odd ("__proto__" text, "constructor" int, "0" int, gone int, "ünï" text);
ALTER TABLE fn_s.odd DROP COLUMN gone;
SELECT jsrt.create_script('shape', $js$
export default function (ctx, tg) {
  const r = tg.new;
  r["0"] += 1;
  return {...r, "ünï": JSON.stringify({
    tg: Object.keys(tg), new: Object.keys(r), args: tg.args, name: tg.name,
    proto: Object.getPrototypeOf(r) === Object.prototype, own: Object.hasOwn(r, '__proto__'),
    frozen: Object.isFrozen(tg) || Object.isFrozen(r), words: [tg.op, tg.when, tg.level].join(' ')})};
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('shape', 'fn_s.odd_shape() returns trigger');
CREATE TRIGGER odd_a BEFORE INSERT ON fn_s.odd FOR EACH ROW EXECUTE FUNCTION fn_s.odd_shape('x', 'y');
INSERT INTO fn_s.odd VALUES ('p', 1, 41, NULL), ('q', 2, 1, NULL);
SELECT "__proto__", "constructor", "0", "ünï" FROM fn_s.odd ORDER BY 2;
-- rows of a table wider than the row shapes a loaded script keeps (64 columns) are the same
SELECT format('CREATE TABLE fn_s.wide (%s)', string_agg(format('c%s int', g), ', ')) FROM generate_series(1, 70) g \gexec
SELECT jsrt.create_script('wide', $js$
export default (ctx, tg) => ({...tg.new, c69: Object.keys(tg.new).length, c70: Object.keys(tg.new).indexOf('c70')})
$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_trigger('wide', 'fn_s.wide', 'insert', 'before');
INSERT INTO fn_s.wide (c1, c2) VALUES (1, 2), (3, 4);
SELECT c1, c2, c68, c69, c70 FROM fn_s.wide ORDER BY c1;
-- tg is read-only but for new and old, and tg.args is frozen: what a script tries on it throws. A
-- statement may pass the same tg for each row with new and old replaced, but never one a script
-- kept (each kept tg keeps its own row), nor one it froze (the next row still gets its own)
CREATE TABLE fn_s.kept (id int, note text);
SELECT jsrt.create_script('keeper', $js$
const kept = [];
export default function (ctx, tg) {
  const tries = {op: () => { tg.op = 'x'; }, add: () => { tg.extra = 1; }, args: () => { tg.args.push('z'); },
                 drop: () => { delete tg.new; }};
  const refused = Object.entries(tries).map(([k, f]) => { try { f(); return `${k} allowed`; } catch (e) { return `${k} ${e.name}`; } });
  if (tg.new.id % 2) kept.push(tg);
  if (tg.new.id === 4) Object.freeze(tg);
  return {...tg.new, note: JSON.stringify({refused, sealed: Object.isSealed(tg), kept: kept.map((t) => t.new.id), op: tg.op})};
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_trigger('keeper', 'fn_s.kept', 'insert', 'before');
INSERT INTO fn_s.kept SELECT g FROM generate_series(1, 6) g;
SELECT id, note FROM fn_s.kept ORDER BY id;
-- (Attacks on that reuse, which held.) Two triggers of one script on one table, one statement
-- alternating between them, and INSERT ... ON CONFLICT DO UPDATE firing both events: each call
-- sees its own trigger's name, args and op with its own row (the reused tg is the same object,
-- as a WeakMap keyed by it shows, only for the same trigger); a tg kept by a promise or a Proxy
-- keeps its own row.
CREATE TABLE fn_s.twice (id int PRIMARY KEY, v text, note text DEFAULT '');
SELECT jsrt.create_script('twice', $js$
const seen = new WeakMap(), kept = [];
export default function (ctx, tg) {
  const before = seen.get(tg) ?? '-';
  seen.set(tg, `${tg.name}/${tg.op}/${tg.new.id}`);
  if (tg.new.id === 1 && tg.op === 'INSERT') kept.push(Promise.resolve(tg), new Proxy(tg, {}));
  const held = kept.length ? ` held ${kept[1].new.id}/${kept[1].op}` : '';
  return {...tg.new, note: `${tg.new.note} ${tg.name}(${tg.args}) ${tg.op} ${tg.new.id}/${tg.old?.id ?? '-'} after ${before}${held};`};
}$js$, 'embedded', '{"status": "active"}') IS NOT NULL AS created;
SELECT jsrt.create_function('twice', 'fn_s.twice_fn() returns trigger');
CREATE TRIGGER a BEFORE INSERT OR UPDATE ON fn_s.twice FOR EACH ROW EXECUTE FUNCTION fn_s.twice_fn('A');
CREATE TRIGGER b BEFORE INSERT OR UPDATE ON fn_s.twice FOR EACH ROW EXECUTE FUNCTION fn_s.twice_fn('B', 'b');
INSERT INTO fn_s.twice SELECT g, 'x' FROM generate_series(1, 3) g;
INSERT INTO fn_s.twice VALUES (2, 'y'), (4, 'y') ON CONFLICT (id) DO UPDATE SET v = 'z', note = '';
SELECT id, v, note FROM fn_s.twice ORDER BY id;
DROP TRIGGER a ON fn_s.twice;
UPDATE fn_s.twice SET note = '' WHERE id <= 2;
SELECT id, note FROM fn_s.twice WHERE id <= 2 ORDER BY id;
SELECT err($$SELECT jsrt.create_trigger('audit', 'fn_s.orders', 'truncate', 'after')$$);
SELECT err($$SELECT jsrt.create_trigger('audit', 'fn_s.orders', 'insert', 'instead')$$);
-- a row trigger on a table a running script writes to would run a script inside a script: refused
SELECT jsrt.create_script('writer', $js$export default (ctx) => ctx.db.exec(`insert into fn_s.orders (sku, qty) values ('w', 1)`)$js$,
                          'oneoff', '{"status": "active"}') IS NOT NULL AS created;
RESET ROLE;
GRANT USAGE ON SCHEMA fn_s TO jsrt_script;
GRANT INSERT ON fn_s.orders TO jsrt_script;
GRANT USAGE ON SEQUENCE fn_s.orders_id_seq TO jsrt_script;
-- fn_dev does not own fn_s: the guard refuses its trigger function first, as planted
SELECT err($$SELECT jsrt.execute('writer')$$);
-- owned by the schema's owner, it is refused as a run inside a run
ALTER FUNCTION fn_s.orders_validate_jsrt() OWNER TO CURRENT_USER;
SELECT err($$SELECT jsrt.execute('writer')$$);
ALTER FUNCTION fn_s.orders_validate_jsrt() OWNER TO fn_dev;
SET ROLE fn_dev;
DROP FUNCTION fn_s.orders_validate_jsrt() CASCADE;
DROP FUNCTION fn_s.orders_audit_jsrt() CASCADE;
DROP FUNCTION fn_s.exact_touch_jsrt() CASCADE;
DROP FUNCTION fn_s.odd_shape() CASCADE;
DROP FUNCTION fn_s.twice_fn() CASCADE;
RESET ROLE;
RESET jsrt.tenant;

-- Objects the benchmarks use: the same logic as a jsruntime script and as its peers.
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
CREATE EXTENSION IF NOT EXISTS plperl;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
SELECT jsrt.create_script('trivial', 'export default (ctx) => ({ok: true, n: ctx.input.n ?? 0})', 'oneoff');
SELECT jsrt.create_script('trivial-nohistory', 'export default (ctx) => ({ok: true, n: ctx.input.n ?? 0})', 'oneoff', '{"history": "errors"}');

-- The peer of a recorded run: a PL/pgSQL function that computes the same and writes
-- a history row into a table with the same columns, checks, indexes and foreign keys.
DROP TABLE IF EXISTS bench_log;
CREATE TABLE bench_log (LIKE jsrt.script_executions INCLUDING ALL,
    FOREIGN KEY (script_id) REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id) REFERENCES jsrt.tenants(id) ON DELETE CASCADE);
CREATE OR REPLACE FUNCTION bench_trivial(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    out jsonb := jsonb_build_object('ok', true, 'n', coalesce((input->>'n')::int, 0));
    s jsrt.scripts;
BEGIN
    SELECT * INTO s FROM jsrt.scripts WHERE name = 'trivial';
    INSERT INTO bench_log(script_id, tenant_id, status, trigger_type, input, output, version_number, completed_at)
    VALUES (s.id, s.tenant_id, 'completed', 'manual', input, out, s.version, clock_timestamp());
    RETURN out;
END $$;

-- Pricing: the same rules three ways.
SELECT jsrt.create_script('price', $js$
export default function (ctx) {
  const { qty, unit_price, tier } = ctx.input;
  let total = qty * unit_price;
  if (tier === 'gold') total *= 0.9;
  else if (tier === 'silver') total *= 0.95;
  if (qty >= 100) total *= 0.95;
  return Math.round(total * 100) / 100;
}$js$, 'embedded', '{"status": "active", "history": "errors"}');
-- Doubles, as in JS, so that all three compute the same numbers.
CREATE OR REPLACE FUNCTION price_plpgsql(qty int, unit_price float8, tier text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE total float8 := qty * unit_price;
BEGIN
    IF tier = 'gold' THEN total := total * 0.9;
    ELSIF tier = 'silver' THEN total := total * 0.95;
    END IF;
    IF qty >= 100 THEN total := total * 0.95; END IF;
    RETURN floor(total * 100 + 0.5) / 100;
END $$;
CREATE OR REPLACE FUNCTION price_plperl(integer, float8, text) RETURNS float8 LANGUAGE plperl AS $$
    my ($qty, $unit_price, $tier) = @_;
    my $total = $qty * $unit_price;
    if ($tier eq 'gold') { $total *= 0.9; } elsif ($tier eq 'silver') { $total *= 0.95; }
    if ($qty >= 100) { $total *= 0.95; }
    return int($total * 100 + 0.5) / 100;
$$;
DROP TABLE IF EXISTS orders;
CREATE TABLE orders AS
SELECT g AS id, (1 + (g::bigint * 7919) % 200)::int AS qty, round((1 + (g::bigint * 104729) % 10000) / 100.0, 2) AS unit_price,
       (ARRAY['basic', 'silver', 'gold'])[1 + g % 3] AS tier
  FROM generate_series(1, 100000) g;
ANALYZE orders;

-- ctx.db round trips: the same queries from a script, PL/pgSQL and PL/Perl.
DROP TABLE IF EXISTS bench_items;
CREATE TABLE bench_items (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text, price numeric);
INSERT INTO bench_items SELECT g, jsrt.current_tenant(), 'item ' || g, g / 100.0 FROM generate_series(1, 10000) g;
ANALYZE bench_items;
SELECT jsrt.expose_table('bench_items');
SELECT jsrt.create_script('db_select1', $js$
export default function (ctx) {
  for (let i = 0; i < ctx.input.n; i++) ctx.db.query('select 1');
  return ctx.input.n;
}$js$, 'oneoff', '{"status": "active", "history": "errors", "resource_limits": {"max_api_calls": 100000000, "max_api_calls_per_minute": 100000000}}');
SELECT jsrt.create_script('db_lookup', $js$
export default function (ctx) {
  let sum = 0;
  for (let i = 0; i < ctx.input.n; i++) sum += ctx.db.one('select id, name, price from bench_items where id = $1', [1 + i % 10000]).id;
  return sum;
}$js$, 'oneoff', '{"status": "active", "history": "errors", "resource_limits": {"max_api_calls": 100000000, "max_api_calls_per_minute": 100000000}}');
CREATE OR REPLACE FUNCTION db_select1_plpgsql(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE x int;
BEGIN
    FOR i IN 1..n LOOP SELECT 1 INTO x; END LOOP;
    RETURN n;
END $$;
CREATE OR REPLACE FUNCTION db_lookup_plpgsql(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r record; total bigint := 0;
BEGIN
    FOR i IN 0..n - 1 LOOP
        SELECT id, name, price INTO r FROM bench_items WHERE id = 1 + i % 10000;
        total := total + r.id;
    END LOOP;
    RETURN total;
END $$;
CREATE OR REPLACE FUNCTION db_select1_plperl(int) RETURNS int LANGUAGE plperl AS $$
    my $plan = spi_prepare('select 1');
    spi_exec_prepared($plan) for 1 .. $_[0];
    spi_freeplan($plan);
    return $_[0];
$$;
CREATE OR REPLACE FUNCTION db_lookup_plperl(int) RETURNS bigint LANGUAGE plperl AS $$
    my $plan = spi_prepare('select id, name, price from bench_items where id = $1', 'int4');
    my $total = 0;
    for my $i (0 .. $_[0] - 1) { $total += spi_exec_prepared($plan, 1 + $i % 10000)->{rows}[0]{id}; }
    spi_freeplan($plan);
    return $total;
$$;
-- The same with the guarantee ctx.db gives: each statement in a subtransaction
-- whose error the caller can catch.
CREATE OR REPLACE FUNCTION db_select1_plpgsql_subxact(n int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE x int;
BEGIN
    FOR i IN 1..n LOOP
        BEGIN SELECT 1 INTO x; EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', sqlerrm; END;
    END LOOP;
    RETURN n;
END $$;
CREATE OR REPLACE FUNCTION db_lookup_plpgsql_subxact(n int) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE r record; total bigint := 0;
BEGIN
    FOR i IN 0..n - 1 LOOP
        BEGIN
            SELECT id, name, price INTO r FROM bench_items WHERE id = 1 + i % 10000;
            total := total + r.id;
        EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%', sqlerrm;
        END;
    END LOOP;
    RETURN total;
END $$;

-- Pricing as a typed SQL function (LANGUAGE jsrt): the same rules, arguments and
-- result converted straight from and to the Datums.
SELECT jsrt.create_script('price_typed', $js$
export default function (ctx, qty, unit_price, tier) {
  let total = qty * unit_price;
  if (tier === 'gold') total *= 0.9;
  else if (tier === 'silver') total *= 0.95;
  if (qty >= 100) total *= 0.95;
  return Math.round(total * 100) / 100;
}$js$, 'embedded', '{"status": "active", "history": "errors"}');
SELECT jsrt.create_function('price_typed', 'public.price_js(qty int, unit_price float8, tier text) returns float8');

-- A BEFORE INSERT row trigger validating order lines, in JS and in PL/pgSQL.
DROP TABLE IF EXISTS bench_lines_js, bench_lines_pl, bench_lines_none;
CREATE TABLE bench_lines_js (id int, sku text, qty int, price float8, note text);
CREATE TABLE bench_lines_pl (LIKE bench_lines_js);
CREATE TABLE bench_lines_none (LIKE bench_lines_js);
SELECT jsrt.create_script('validate_line', $js$
export default function (ctx, tg) {
  const r = tg.new;
  if (!(r.qty > 0)) throw new RangeError(`line ${r.id}: qty must be positive`);
  if (!(r.price >= 0)) throw new RangeError(`line ${r.id}: price must not be negative`);
  if (!r.sku) throw new TypeError(`line ${r.id}: sku is required`);
}$js$, 'embedded', '{"status": "active", "history": "errors"}');
SELECT jsrt.create_trigger('validate_line', 'bench_lines_js', 'insert', 'before');
CREATE OR REPLACE FUNCTION validate_line_plpgsql() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.qty > 0) THEN RAISE EXCEPTION 'line %: qty must be positive', NEW.id; END IF;
    IF NOT (NEW.price >= 0) THEN RAISE EXCEPTION 'line %: price must not be negative', NEW.id; END IF;
    IF NEW.sku IS NULL OR NEW.sku = '' THEN RAISE EXCEPTION 'line %: sku is required', NEW.id; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER validate_line BEFORE INSERT ON bench_lines_pl FOR EACH ROW EXECUTE FUNCTION validate_line_plpgsql();

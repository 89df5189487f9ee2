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

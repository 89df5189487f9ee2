-- Objects the benchmarks use: the same logic as a jsruntime script and as its peers.
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
CREATE EXTENSION IF NOT EXISTS plperl;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
SELECT jsrt.create_script('trivial', 'export default (ctx) => ({ok: true, n: ctx.input.n ?? 0})', 'oneoff');
SELECT jsrt.create_script('trivial-nohistory', 'export default (ctx) => ({ok: true, n: ctx.input.n ?? 0})', 'oneoff', '{"history": "errors"}');

-- The peer of a recorded run: a PL/pgSQL function that computes the same and writes a history row.
DROP TABLE IF EXISTS bench_log;
CREATE TABLE bench_log (id uuid DEFAULT gen_random_uuid() PRIMARY KEY, input jsonb, output jsonb, at timestamptz DEFAULT now());
CREATE OR REPLACE FUNCTION bench_trivial(input jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE out jsonb := jsonb_build_object('ok', true, 'n', coalesce((input->>'n')::int, 0));
BEGIN
    INSERT INTO bench_log(input, output) VALUES (input, out);
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
CREATE OR REPLACE FUNCTION price_plpgsql(qty int, unit_price numeric, tier text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE total numeric := qty * unit_price;
BEGIN
    IF tier = 'gold' THEN total := total * 0.9;
    ELSIF tier = 'silver' THEN total := total * 0.95;
    END IF;
    IF qty >= 100 THEN total := total * 0.95; END IF;
    RETURN round(total, 2);
END $$;
CREATE OR REPLACE FUNCTION price_plperl(integer, numeric, text) RETURNS numeric LANGUAGE plperl AS $$
    my ($qty, $unit_price, $tier) = @_;
    my $total = $qty * $unit_price;
    if ($tier eq 'gold') { $total *= 0.9; } elsif ($tier eq 'silver') { $total *= 0.95; }
    if ($qty >= 100) { $total *= 0.95; }
    return sprintf('%.2f', $total);
$$;
DROP TABLE IF EXISTS orders;
CREATE TABLE orders AS
SELECT g AS id, (1 + (g::bigint * 7919) % 200)::int AS qty, round((1 + (g::bigint * 104729) % 10000) / 100.0, 2) AS unit_price,
       (ARRAY['basic', 'silver', 'gold'])[1 + g % 3] AS tier
  FROM generate_series(1, 100000) g;
ANALYZE orders;

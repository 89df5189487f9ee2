#!/usr/bin/env bash
# Benchmarks, each side by side with a peer in the same run, on a fresh cluster.
# Figures are medians; ratios are jsruntime / peer. Not tests: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench; PORT=28817; DB=jsrt_bench
dpkg -s postgresql-plperl-15 >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-plperl-15 >/dev/null
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
"${PSQL[@]}" -f bench/setup.sql >/dev/null
work=$(mktemp -d); chmod 777 "$work"

# Median per-transaction latency in microseconds, from pgbench's log.
pgb() { # name, sql, extra pgbench flags...
  local name=$1 sql=$2; shift 2
  echo "$sql" > "$work/$name.sql"
  (cd "$work" && runuser -u postgres -- pgbench -n -h /tmp -p "$PORT" -U postgres -f "$work/$name.sql" \
     -l --log-prefix="$work/$name" "$@" "$DB" >/dev/null 2>&1)
  cat "$work/$name".* | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "1. warm call, with its history row (median of 20000 transactions, one connection, round trip included)"
"${PSQL[@]}" -c "ALTER DATABASE $DB SET jsrt.tenant = '$("${PSQL[@]}" -c "SELECT id FROM jsrt.tenants WHERE name = 'bench'")'"
js=$(pgb warm "SELECT jsrt.execute('trivial', '{\"n\": 1}');" -t 20000)
jsq=$(pgb warm_quiet "SELECT jsrt.execute('trivial-nohistory', '{\"n\": 1}');" -t 20000)
pl=$(pgb warm_plpgsql "SELECT bench_trivial('{\"n\": 1}');" -t 20000)
one=$(pgb select1 "SELECT 1;" -t 20000)
printf "   %-44s %8s us\n" "jsrt.execute, history row" "$js" "jsrt.execute, history 'errors'" "$jsq" \
  "PL/pgSQL peer, history row" "$pl" "SELECT 1" "$one"
echo "   ratio jsrt.execute / PL/pgSQL peer: $(ratio "$js" "$pl")"
echo "   the same with synchronous_commit = off (no fsync per commit):"
export PGOPTIONS='-c synchronous_commit=off'
js=$(pgb warm_async "SELECT jsrt.execute('trivial', '{\"n\": 1}');" -t 20000)
pl=$(pgb warm_plpgsql_async "SELECT bench_trivial('{\"n\": 1}');" -t 20000)
unset PGOPTIONS
printf "   %-44s %8s us\n" "jsrt.execute, history row" "$js" "PL/pgSQL peer, history row" "$pl"
echo "   ratio jsrt.execute / PL/pgSQL peer: $(ratio "$js" "$pl")"
echo "   in-server cost per call, 10000 calls in one statement (mean):"
per_call() { "${PSQL[@]}" -c '\timing on' -c "$1" | grep -Eo 'Time: [0-9.]+' | awk '{printf "%.1f", $2 * 1000 / 10000}'; }
"${PSQL[@]}" -c "SELECT count(jsrt.execute('trivial', jsonb_build_object('n', g))) FROM generate_series(1, 100) g" >/dev/null
a=$(per_call "SELECT count(jsrt.execute('trivial', jsonb_build_object('n', g))) FROM generate_series(1, 10000) g")
b=$(per_call "SELECT count(bench_trivial(jsonb_build_object('n', g))) FROM generate_series(1, 10000) g")
printf "   %-44s %8s us\n" "jsrt.execute, history row" "$a" "PL/pgSQL peer, history row" "$b"
echo "   ratio: $(ratio "$a" "$b")"

echo "2. first call in a new connection (median of 300 connections)"
c1=$(pgb conn_select1 "SELECT 1;" -C -t 300)
cj=$(pgb conn_js "SELECT jsrt.execute('trivial', '{\"n\": 1}');" -C -t 300)
cp=$(pgb conn_plpgsql "SELECT bench_trivial('{\"n\": 1}');" -C -t 300)
printf "   %-44s %8s us\n" "new connection + SELECT 1" "$c1" "new connection + first jsrt.execute" "$cj" \
  "new connection + PL/pgSQL peer, history row" "$cp"
echo "   jsrt.execute over SELECT 1: $((cj - c1)) us   over the PL/pgSQL peer: $((cj - cp)) us"

echo "3. pricing over 100000 rows (median of 7 rounds, ms; each round runs all four, in a new connection each)"
# Interleaved: a slow spell of the machine falls on all four, not on one of them.
rounds() { # rounds N sql... -> one median (ms) per sql, in order (of a sql's lines, the last is timed)
  local n=$1; shift
  local i=0 q
  for _ in $(seq "$n"); do
    i=0
    for q in "$@"; do
      i=$((i + 1))
      local first=()
      if [[ $q == *$'\n'* ]]; then first=(-c "${q%$'\n'*}"); fi
      "${PSQL[@]}" "${first[@]}" -c '\timing on' -c "${q##*$'\n'}" | grep -Eo 'Time: [0-9.]+' | tail -1 | awk '{print $2}' >> "$work/round.$i"
    done
  done
  for i in $(seq "$#"); do
    sort -n "$work/round.$i" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
    rm -f "$work/round.$i"
  done
}
"${PSQL[@]}" -c "SELECT sum((jsrt.execute('price', jsonb_build_object('qty', qty, 'unit_price', unit_price, 'tier', tier)))::numeric) FROM orders" > "$work/sum_js"
"${PSQL[@]}" -c "SELECT sum(price_plpgsql(qty, unit_price, tier)::numeric) FROM orders" > "$work/sum_pl"
"${PSQL[@]}" -c "SELECT sum(price_js(qty, unit_price, tier)) FROM orders" > "$work/sum_typed"
"${PSQL[@]}" -c "SELECT sum(price_plpgsql(qty, unit_price, tier)) FROM orders" > "$work/sum_pl8"
read -r pty pjs ppl ppe <<< "$(rounds 7 \
  "SELECT sum(price_js(qty, unit_price, tier)) FROM orders" \
  "SELECT sum((jsrt.execute('price', jsonb_build_object('qty', qty, 'unit_price', unit_price, 'tier', tier)))::numeric) FROM orders" \
  "SELECT sum(price_plpgsql(qty, unit_price, tier)) FROM orders" \
  "SELECT sum(price_plperl(qty, unit_price, tier)) FROM orders" | tr '\n' ' ')"
printf "   %-44s %8s ms\n" "jsruntime typed function (LANGUAGE jsrt)" "$pty" "jsruntime embedded script, jsrt.execute + jsonb" "$pjs" \
  "PL/pgSQL" "$ppl" "PL/Perl" "$ppe"
echo "   typed function / PL/pgSQL: $(ratio "$pty" "$ppl")   / PL/Perl: $(ratio "$pty" "$ppe")"
echo "   jsrt.execute + jsonb / PL/pgSQL: $(ratio "$pjs" "$ppl")   / PL/Perl: $(ratio "$pjs" "$ppe")"
echo "   same totals: jsonb $([ "$(cat "$work/sum_js")" = "$(cat "$work/sum_pl")" ] && echo yes || echo "no ($(cat "$work/sum_js") vs $(cat "$work/sum_pl"))"), typed $([ "$(cat "$work/sum_typed")" = "$(cat "$work/sum_pl8")" ] && echo yes || echo "no ($(cat "$work/sum_typed") vs $(cat "$work/sum_pl8"))")"

echo "4. BEFORE INSERT trigger validating 100000 rows (median of 7 rounds of the three, ms)"
lines="SELECT g, 'SKU-' || g, 1 + g % 50, (g % 1000) / 10.0 FROM generate_series(1, 100000) g"
insert() { printf 'TRUNCATE %s\nINSERT INTO %s (id, sku, qty, price) %s' "$1" "$1" "$lines"; }
read -r tjs tpl tno <<< "$(rounds 7 "$(insert bench_lines_js)" "$(insert bench_lines_pl)" "$(insert bench_lines_none)" | tr '\n' ' ')"
printf "   %-44s %8s ms\n" "jsruntime trigger (LANGUAGE jsrt)" "$tjs" "PL/pgSQL trigger" "$tpl" "no trigger" "$tno"
echo "   ratio jsruntime / PL/pgSQL: $(ratio "$tjs" "$tpl")   trigger cost alone (over no trigger): $(ratio "$(awk -v a="$tjs" -v n="$tno" 'BEGIN {print a - n}')" "$(awk -v a="$tpl" -v n="$tno" 'BEGIN {print a - n}')")"

echo "5. ctx.db round trip (20000 queries in one call, mean per query, median of 7 rounds of the four)"
per_query() { awk '{printf "%.2f\n", $1 * 1000 / 20000}'; }
for q in select1 lookup; do
  "${PSQL[@]}" -c "SELECT jsrt.execute('db_$q', '{\"n\": 100}')" >/dev/null
  read -r js pl ps pe <<< "$(rounds 7 "SELECT jsrt.execute('db_$q', '{\"n\": 20000}')" "SELECT db_${q}_plpgsql(20000)" \
    "SELECT db_${q}_plpgsql_subxact(20000)" "SELECT db_${q}_plperl(20000)" | per_query | tr '\n' ' ')"
  [ $q = select1 ] && label="select 1" || label="primary-key lookup"
  printf "   %-50s %8s us\n" "ctx.db, $label" "$js" "PL/pgSQL, $label" "$pl" \
    "PL/pgSQL, $label, in BEGIN/EXCEPTION" "$ps" "PL/Perl (prepared), $label" "$pe"
  echo "   ratio ctx.db / PL/pgSQL: $(ratio "$js" "$pl")   / PL/pgSQL with EXCEPTION: $(ratio "$js" "$ps")   / PL/Perl: $(ratio "$js" "$pe")"
done
rm -rf "$work"

# Shared by the integration tests: psql on the test cluster, checks that
# count, and waiting for a condition. Needs PORT, DB and TENANT (sql() acts
# on tenant ${T:-$TENANT}).
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
passed=0; failed=0
check() { # name, condition result (0 = ok)
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"; else failed=$((failed + 1)); echo "FAIL $1"; fi
}
sql() { "${PSQL[@]}" -c "SELECT jsrt.set_tenant('${T:-$TENANT}')" -c "$1" 2>&1 | sed '1{/^$/d}'; }
wait_for() { # condition SQL returning t, timeout seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    [ "$("${PSQL[@]}" -c "$1" 2>/dev/null)" = t ] && return 0; sleep 0.1
  done; return 1
}
finish() {
  echo "integration: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

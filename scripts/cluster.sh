#!/usr/bin/env bash
# A local PostgreSQL 15 cluster with jsruntime preloaded, owned by the postgres user.
#   scripts/cluster.sh start DIR PORT DB   initialise (once) and start; create DB
#   scripts/cluster.sh stop DIR
# PRELOAD (default jsruntime) is shared_preload_libraries, for a cluster without
# jsruntime's workers. The HTTP workers listen on PORT + 1000.
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
cmd=${1:?start or stop}; dir=${2:?data directory}
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

case "$cmd" in
start)
  port=${3:?port}; db=${4:?database}
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; chown postgres:postgres "$dir"; chmod 700 "$dir"
    as_pg "$BIN/initdb" -D "$dir" -A trust -U postgres >/dev/null
    cat >> "$dir/postgresql.conf" <<CONF
shared_preload_libraries = '${PRELOAD:-jsruntime}'
jsrt.database = '$db'
cron.database_name = '$db'
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
max_worker_processes = 16
CONF
  fi
  # (also for clusters made before the HTTP workers existed)
  grep -q '^jsrt.http_listen' "$dir/postgresql.conf" \
    || echo "jsrt.http_listen = '127.0.0.1:$((port + 1000))'" >> "$dir/postgresql.conf"
  if ! as_pg "$BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    # a Rust backtrace in every ERROR detail is noise for users
    as_pg env -u RUST_BACKTRACE "$BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w start >/dev/null
  fi
  as_pg psql -h /tmp -p "$port" -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || as_pg createdb -h /tmp -p "$port" -U postgres "$db"
  # The recorder worker retries every second until its database exists.
  if [ "${PRELOAD:-jsruntime}" = jsruntime ]; then for _ in $(seq 1 50); do
    as_pg psql -h /tmp -p "$port" -U postgres -d postgres -qAtc \
      "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jsrt recorder'" | grep -q '^1$' && break
    sleep 0.1
  done; fi
  ;;
stop)
  if [ -f "$dir/PG_VERSION" ]; then as_pg "$BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true; fi
  ;;
*) echo "usage: $0 start DIR PORT DB | stop DIR" >&2; exit 2 ;;
esac

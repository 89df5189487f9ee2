#!/usr/bin/env bash
# Installs what building and testing jsruntime needs, when it is missing. Quick when all is there.
set -euo pipefail
need=()
for p in postgresql-15 postgresql-server-dev-15 postgresql-15-cron clang libclang-dev sudo curl; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
# the tests' HTTP servers (python3) and the type-declaration check (npm)
command -v python3 >/dev/null || need+=(python3)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian starts its own cluster on 5432; ours use their own ports, so leave it be.
if ! command -v cargo-pgrx >/dev/null || ! cargo pgrx --version 2>/dev/null | grep -q '0.18.0'; then
  cargo install cargo-pgrx --version 0.18.0 --locked
fi
if [ ! -f "$HOME/.pgrx/config.toml" ] || ! grep -q pg15 "$HOME/.pgrx/config.toml"; then
  cargo pgrx init --pg15=/usr/lib/postgresql/15/bin/pg_config
fi

#!/usr/bin/env bash
# Installs what building and testing jsruntime needs, when it is missing. Quick when all is there.
set -euo pipefail
need=()
# (chromium: the console's tests drive it through playwright-core; sqlsmith: make fuzz)
for p in postgresql-15 postgresql-server-dev-15 postgresql-15-cron clang libclang-dev sudo curl chromium sqlsmith; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
# the tests' HTTP servers (python3) and the type-declaration check (npm)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
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
# The independent implementations the integration tests compare against, pinned, in a venv
# of their own (Debian's pip refuses system installs): h11, the HTTP/1.1 parser
# tests/integration/http_conformance.py checks the server's framing against, and croniter,
# the cron library tests/integration/cron_differential.py checks next run times against,
# openapi-spec-validator, which tests/integration/api.py checks the management API's
# OpenAPI document with, and schemathesis, which tests/integration/schemathesis.sh
# generates requests from that document with.
venv="$(cd "$(dirname "$0")/.." && pwd)/target/test-venv"
if ! "$venv/bin/python" -c '
import h11, importlib.metadata as m
assert h11.__version__ == "0.16.0" and m.version("croniter") == "7.0.0"
assert m.version("openapi-spec-validator") == "0.9.0" and m.version("schemathesis") == "4.32.5"' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check h11==0.16.0 croniter==7.0.0 openapi-spec-validator==0.9.0 \
    schemathesis==4.32.5
fi

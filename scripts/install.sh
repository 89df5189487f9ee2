#!/usr/bin/env bash
# Builds the extension (release) and installs it without overwriting in place
# a library that a running server has mapped: that would crash the server.
# Each file is written beside its target and renamed over it (an atomic
# replace: running backends keep the old file, new ones load the new one).
#   scripts/install.sh [--features pg_test] [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
stage=target/stage
rm -rf "$stage"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage" "$@" >/dev/null
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
put() { # put FILE DIR: copy FILE into DIR under a temporary name, then rename it into place
  local tmp
  tmp="$2/.$(basename "$1").$$"
  cp "$1" "$tmp"
  mv -f "$tmp" "$2/$(basename "$1")"
}
for f in "$stage$libdir"/*.so; do put "$f" "$libdir"; done
for f in "$stage$sharedir"/extension/*; do put "$f" "$sharedir/extension"; done
echo "installed jsruntime into $libdir and $sharedir/extension"

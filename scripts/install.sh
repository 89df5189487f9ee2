#!/usr/bin/env bash
# Builds the extension (release) and installs it without overwriting in place
# a library that a running server has mapped: that would crash the server.
# Each file is written beside its target and renamed over it (an atomic
# replace: running backends keep the old file, new ones load the new one).
#   scripts/install.sh           build and install
#   scripts/install.sh detach    give the installed library a new inode, for a
#                                tool that then overwrites it in place (cargo pgrx test)
set -euo pipefail
cd "$(dirname "$0")/.."
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
put() { # put FILE DIR: copy FILE into DIR under a temporary name, then rename it into place
  local tmp
  tmp="$2/.$(basename "$1").$$"
  cp "$1" "$tmp"
  mv -f "$tmp" "$2/$(basename "$1")"
}
if [ "${1:-}" = detach ]; then
  # Running servers keep the old inode; what is overwritten next is a copy nobody has mapped.
  if [ -f "$libdir/jsruntime.so" ]; then put "$libdir/jsruntime.so" "$libdir"; fi
  exit 0
fi
stage=target/stage
rm -rf "$stage"
cargo pgrx package --pg-config "$PG_CONFIG" --out-dir "$stage" >/dev/null
for f in "$stage$libdir"/*.so; do put "$f" "$libdir"; done
for f in "$stage$sharedir"/extension/*; do put "$f" "$sharedir/extension"; done
# The released install scripts (CREATE EXTENSION jsruntime VERSION '0.1.0'), and the
# upgrade scripts (pgrx copies those too): README "Upgrading".
for f in sql/jsruntime--*.sql; do put "$f" "$sharedir/extension"; done
# The web console, which the front door reads at its start: a new directory swapped in.
if [ -f console/dist/index.html ]; then
  mkdir -p "$sharedir/jsruntime"
  rm -rf "$sharedir/jsruntime/.console.new" "$sharedir/jsruntime/.console.old"
  cp -r console/dist "$sharedir/jsruntime/.console.new"
  [ -d "$sharedir/jsruntime/console" ] && mv "$sharedir/jsruntime/console" "$sharedir/jsruntime/.console.old"
  mv "$sharedir/jsruntime/.console.new" "$sharedir/jsruntime/console"
  rm -rf "$sharedir/jsruntime/.console.old"
fi
echo "installed jsruntime into $libdir and $sharedir/extension"

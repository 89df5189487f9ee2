#!/usr/bin/env bash
# Released SQL never changes: a DBA's catalog was made by the file as it
# shipped, and upgrade scripts start from it. sql/released.sha256 lists every
# released file with its SHA-256 (a release adds its lines; none is ever
# changed or removed). Fails when
#   - a listed file differs from its checksum,
#   - a listed file was modified by a commit after the one that added it,
#   - a line of the list was changed or removed (in a commit, or in the work tree),
#   - a released version has no chain of upgrade scripts to Cargo.toml's version.
set -euo pipefail
cd "$(dirname "$0")/.."
list=sql/released.sha256
fail=0
bad() { echo "check-released: $*" >&2; fail=1; }

sha256sum --quiet -c "$list" || bad "a released file changed (see above): released SQL is never edited; write an upgrade script instead"

if git rev-parse --git-dir >/dev/null 2>&1 && [ "$(git rev-parse --is-shallow-repository)" = false ]; then
  while read -r _ f; do
    # commits that changed the file after adding it
    changed=$(git log --format='%h %s' --diff-filter=M -- "$f")
    [ -z "$changed" ] || bad "$f was modified after its release by: $changed"
  done < "$list"
  removed=$(git log -p --format= -- "$list" | grep -E '^-[0-9a-f]{64}' || true)
  [ -z "$removed" ] || bad "lines of $list were changed or removed in its history: $removed"
  if git cat-file -e "HEAD:$list" 2>/dev/null; then
    missing=$(git show "HEAD:$list" | grep -vxFf "$list" || true)
    [ -z "$missing" ] || bad "lines of $list were changed or removed since the last commit: $missing"
  fi
else
  echo "check-released: no full git history here: checksums only" >&2
fi

# Every released version reaches the version being built through upgrade scripts.
current=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
while read -r _ f; do
  v=$(basename "$f" .sql); v=${v#jsruntime--}
  case "$v" in *--*) continue ;; esac   # an upgrade script
  steps=0
  while [ "$v" != "$current" ] && [ $steps -lt 50 ]; do
    next=$(ls sql/jsruntime--"$v"--*.sql 2>/dev/null | head -1)
    [ -n "$next" ] || { bad "no upgrade script from $v (sql/jsruntime--$v--*.sql) towards $current"; break; }
    v=$(basename "$next" .sql); v=${v##*--}; steps=$((steps + 1))
  done
done < "$list"

[ $fail = 0 ] && echo "check-released: $(wc -l < "$list") released SQL files unchanged, upgrade paths to $current present"
exit $fail

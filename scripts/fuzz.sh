#!/usr/bin/env bash
# Runs every Fuzz target briefly (default 8s each) so CI exercises them.
set -euo pipefail
t=${1:-8s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
  dir=$(dirname "$f")
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r fn; do
    echo "fuzz $dir $fn ($t)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "./$dir" >/dev/null
  done
done

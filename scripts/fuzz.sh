#!/usr/bin/env bash
# Runs every Fuzz target briefly (default 8s each) so CI exercises them;
# on a failure it prints the fuzzer's report.
set -euo pipefail
t=${1:-8s}
fail=0
while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $fn ($t)"
    if ! out=$(go test -tags nodynamic -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "./$dir" 2>&1); then
      echo "$out" | tail -30
      fail=1
    fi
  done
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | sort)
exit $fail

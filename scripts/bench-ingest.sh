#!/usr/bin/env bash
# Whole-process performance figures for docs/PERFORMANCE.md: builds the
# static binary, then runs cmd/pvingest (1 GiB streamed upload and its
# decrypting download, peak RSS from /proc, idle RSS, and the derivative
# pool on 24 MP JPEGs with 1 and 2 workers), then the Go benchmarks of the
# derive path next to vipsthumbnail. Linux only; needs a few GB free in
# ${TMPDIR:-/tmp} (put it on a real disk, not tmpfs: fsync is the point).
#
#   scripts/bench-ingest.sh            # everything (about 2 minutes)
#   RUNS=5 DERIVE=0 scripts/bench-ingest.sh   # ingest/download only, 5 runs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DERIVE=${DERIVE:-8}
SIZE=${SIZE:-1073741824}
bin=$(mktemp -d)/photovault
CGO_ENABLED=0 go build -trimpath -o "$bin" .
echo "== whole process ($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
go run ./cmd/pvingest -bin "$bin" -size "$SIZE" -runs "$RUNS" -derive "$DERIVE" -workers 1,2
echo "== reference: dd 1 GiB with fsync into the same filesystem"
dd if=/dev/zero of="${TMPDIR:-/tmp}/pv-dd-test" bs=1M count=1024 conv=fsync 2>&1 | tail -1
rm -f "${TMPDIR:-/tmp}/pv-dd-test"
if [ "${GOBENCH:-1}" = 1 ]; then
  echo "== go test -bench (derive vs vipsthumbnail, ingest/download in process)"
  go test -run '^$' -bench 'Derive24MP|Vipsthumbnail24MP|DeriveJob24MP|Ingest256MiB|UploadHTTP256MiB|DownloadHTTP256MiB|ServeOriginal256MiB' -benchtime=3x ./server/
fi
rm -rf "$(dirname "$bin")"

#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (Chromium for UI
# tests, exiftool for EXIF fixtures, vipsthumbnail for performance comparison,
# file for the static-binary check). Without root or apt it only reports.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v exiftool >/dev/null || need+=(libimage-exiftool-perl)
command -v vipsthumbnail >/dev/null || need+=(libvips-tools)
command -v file >/dev/null || need+=(file)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v gcc >/dev/null || need+=(gcc)   # go test -race needs cgo
if [ ${#need[@]} -eq 0 ]; then echo "deps: all present"; exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "deps: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "deps: missing ${need[*]} (not root: tests that need them will skip)"
fi

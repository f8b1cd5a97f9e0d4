#!/usr/bin/env bash
# Vendors the console's charting library (uPlot) from the npm registry into vendor/.
#   ./vendor.sh          fetch the pinned version and (re)write vendor/ (the files, VERSION, SHA256SUMS)
#   ./vendor.sh --check  fetch it again and fail if the files in vendor/ differ
# Needs npm, tar and sha256sum. Nothing is fetched at run time: the gateway compiles these
# files into its binary.
set -euo pipefail

VERSION=1.6.32
FILES=(uPlot.iife.min.js uPlot.min.css LICENSE)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vendor="$here/vendor"
mode="${1:-write}"
case "$mode" in write|--check) ;; *) echo "usage: $0 [--check]" >&2; exit 2 ;; esac

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "uplot@$VERSION" >/dev/null)
tar -xzf "$tmp/uplot-$VERSION.tgz" -C "$tmp"
mkdir -p "$tmp/out"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$tmp/out/"
(cd "$tmp/out" && sha256sum "${FILES[@]}" > SHA256SUMS)
echo "uplot $VERSION" > "$tmp/out/VERSION"

if [ "$mode" = "--check" ]; then
  status=0
  for f in "${FILES[@]}" SHA256SUMS VERSION; do
    if ! cmp -s "$tmp/out/$f" "$vendor/$f"; then
      echo "vendor/$f differs from uplot@$VERSION (run ./vendor.sh)" >&2
      status=1
    fi
  done
  [ "$status" -eq 0 ] && echo "vendor/ matches uplot@$VERSION"
  exit "$status"
fi

mkdir -p "$vendor"
for f in "${FILES[@]}" SHA256SUMS VERSION; do cp "$tmp/out/$f" "$vendor/$f"; done
echo "vendored uplot@$VERSION into $vendor"
cat "$vendor/SHA256SUMS"

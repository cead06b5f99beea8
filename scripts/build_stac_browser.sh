#!/usr/bin/env bash
# Build STAC Browser (pinned) from the npm registry into a cache folder; idempotent.
#   scripts/build_stac_browser.sh [OUT_DIR]   (default: .stac-browser/ at the repository root)
# The build is catalogue-agnostic: open  OUT_DIR/dist/index.html#/external/<host:port/path/catalog.json>
# (hash history works on any static server).
set -euo pipefail
VERSION=4.0.1
OL_STAC=1.2.0  # ol-stac ^1.1.0 now resolves to a release needing a newer ol: pin it
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/.stac-browser}
stamp="$out/dist/.sen2val-build"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$VERSION/$OL_STAC" ]; then
  echo "STAC Browser $VERSION already built in $out/dist"
  exit 0
fi
command -v npm >/dev/null || { echo "npm not found: install nodejs and npm" >&2; exit 2; }
mkdir -p "$out"
work=$(mktemp -d "$out/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@radiantearth/stac-browser@$VERSION" >/dev/null
tar -xzf radiantearth-stac-browser-$VERSION.tgz
cd package
npm install --no-audit --no-fund --loglevel=error "ol-stac@$OL_STAC" >/dev/null
npm install --no-audit --no-fund --loglevel=error >/dev/null
npx vue-cli-service build --historyMode hash >build.log 2>&1 || { tail -40 build.log >&2; exit 1; }
rm -rf "$out/dist"
mv dist "$out/dist"
echo "$VERSION/$OL_STAC" > "$stamp"
echo "STAC Browser $VERSION built in $out/dist"

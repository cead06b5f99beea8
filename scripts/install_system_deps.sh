#!/usr/bin/env bash
# System packages some tests use: Debian's Chromium (STAC Browser end-to-end test) and gdal-bin
# (`ogrinfo` reads the footprint shapefiles back). Node.js/npm build STAC Browser.
# Idempotent; needs root (apt-get). Tests that need a missing tool are skipped with the reason.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "system dependencies present: chromium $(command -v chromium), ogrinfo $(command -v ogrinfo), npm $(command -v npm)"

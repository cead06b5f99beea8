#!/usr/bin/env bash
# System packages some tests use: Debian's Chromium (STAC Browser end-to-end test) and gdal-bin
# (`ogrinfo` reads the footprint shapefiles back). Node.js/npm build STAC Browser.
# Idempotent; needs root (apt-get). Tests that need a missing tool are skipped with the reason.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v ogrinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
# geoflow's V8 (unpacked by ../shared/geoflow/install.sh) links Debian's libc-ares2.
dpkg -s libc-ares2 >/dev/null 2>&1 || need+=(libc-ares2)
# nginx runs the user guide's documented server block for real (tests/test_downstream.py).
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
# PostgreSQL 15 + PostGIS 3: the pgstac tests start a throw-away cluster (tests/pg_server.py).
ls /usr/lib/postgresql/15/bin/initdb >/dev/null 2>&1 || need+=(postgresql-15)
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "system dependencies present: chromium $(command -v chromium), ogrinfo $(command -v ogrinfo), npm $(command -v npm), nginx $(command -v nginx || echo /usr/sbin/nginx)"

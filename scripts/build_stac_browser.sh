#!/usr/bin/env bash
# Build STAC Browser (https://github.com/radiantearth/stac-browser) from the npm registry, for browsing a
# sen2val-stac catalogue served by `sen2val-stac serve`.
#
#   scripts/build_stac_browser.sh [OUT_DIR]        (default: .stac-browser/ at the repository root)
#
# Result: OUT_DIR/dist/, a static single-page app, catalogue-agnostic. Idempotent: nothing is done when
# OUT_DIR/dist/index.html exists and OUT_DIR/build-stamp matches this script's stamp (version + options).
# Needs node + npm and the npm registry: about a minute to install the packages, a minute to build.
# Concurrent runs are serialised (flock on OUT_DIR/.lock); dist/ is replaced only by a complete build.
#
# How the build is configured (STAC Browser's build-time options, in a config file given with --CONFIG):
#   - historyMode "hash": the page route lives after '#', so any static file server can host dist/
#     (no URL rewriting), and pathPrefix "./" lets dist/ sit under any sub-path;
#   - no catalogUrl at build time. Either open  dist/index.html#/external/http:/HOST:PORT/path/catalog.json
#     (allowExternalAccess; without the "http:/" part it is https), or set options at RUNTIME: index.html loads ./config.js (enabled here), which
#     assigns window.STAC_BROWSER_CONFIG, e.g. {catalogUrl: "http://127.0.0.1:8000/catalog/catalog.json"};
#     edit dist/config.js or let the server answer /config.js itself (tests/browser_helpers.py does);
#   - basemaps: basemaps.config.js is replaced by one reading `basemaps` from that runtime config: an array of
#     STAC Browser basemap options, [] for no background layer (offline: no tile server is asked);
#     without it, OpenStreetMap as shipped;
#   - English, no locale detection or storage (the same pages everywhere);
#   - the item map draws the item's COG client-side (ol-stac + geotiff.js, HTTP byte ranges): displayOverview on,
#     no tile server (buildTileUrlTemplate null), only cloud-optimised GeoTIFFs (displayGeoTiffByDefault off), so
#     `sen2val-stac cog`'s asset `visual` (roles overview + visual, COG media type) is the one chosen; without a COG
#     the PNG thumbnail is drawn instead (displayPreview);
#   - crossOriginMedia "anonymous": images (thumbnails, the map's preview image) are fetched with CORS, as the
#     catalogue itself must be, so a preview drawn on the map does not taint its canvas (pixels stay readable).
#     STAC Browser 4.0.1 hands it to ol-stac as `crossOriginMedia`, an option ol-stac does not know (its name is
#     `crossOrigin`): src/components/maps/MapMixin.js is patched to pass both.
# ol-stac: the npm package ships no lockfile, and its `ol-stac ^1.1.0` now resolves to a release needing a newer
# `ol` than its `ol ~10.6.0`. ol-stac is pinned (dependency and npm override) to 1.1.0, the release STAC Browser
# 4.0.1 was made with: it uses stac-js ~0.1.8, the same copy as STAC Browser's (~0.1.9), so the item object STAC
# Browser hands over (with its absolute URL, against which relative asset hrefs resolve) is used as is. Not 1.2.0:
# it asks for `stac-js >=0.3.0`, which now resolves to 0.5.x, where STAC.getDefaultGeoTIFF was renamed
# getDefaultGeoFile; its layer update then throws "getDefaultGeoTIFF is not a function" (a console warning) and the
# map shows the footprint outline only, never the raster. The build checks that ol-stac has no stac-js of its own.
set -euo pipefail

VERSION=4.0.1
OL_STAC=1.1.0
PATCH_REV=4 # bump when the configuration below changes
STAMP="stac-browser=$VERSION ol-stac=$OL_STAC sen2val-patch=$PATCH_REV"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$REPO/.stac-browser}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

is_built() { [ -f "$OUT/dist/index.html" ] && [ "$(cat "$OUT/build-stamp" 2>/dev/null)" = "$STAMP" ]; }

if is_built; then
  echo "STAC Browser $VERSION already built in $OUT/dist"
  exit 0
fi
for tool in node npm tar flock; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool not found (scripts/install_system_deps.sh)" >&2; exit 2; }
done

exec 9>"$OUT/.lock"
flock 9
if is_built; then # another run built it while this one waited
  echo "STAC Browser $VERSION already built in $OUT/dist"
  exit 0
fi

# replace_once FILE WHAT OLD NEW: the first OLD in FILE becomes NEW; fails naming WHAT when OLD is not there.
replace_once() {
  node - "$@" <<'EOF'
const fs = require('fs');
const path = require('path');
const [file, what, from, to] = process.argv.slice(2);
const text = fs.readFileSync(file, 'utf8');
const replaced = text.replace(from, () => to);
if (replaced === text) { console.error(`${path.basename(file)}: ${what} was not found`); process.exit(1); }
fs.writeFileSync(file, replaced);
EOF
}

WORK=$(mktemp -d "$OUT/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
start=$SECONDS

echo "[1/4] fetching @radiantearth/stac-browser@$VERSION"
(cd "$WORK" && npm pack --silent "@radiantearth/stac-browser@$VERSION" >/dev/null)
tar -xzf "$WORK/radiantearth-stac-browser-$VERSION.tgz" -C "$WORK"
SRC="$WORK/package"

echo "[2/4] configuring: hash history, runtime config.js, runtime basemaps, ol-stac $OL_STAC"
node - "$SRC/package.json" "$OL_STAC" <<'EOF'
const fs = require('fs');
const [file, olStac] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
pkg.dependencies['ol-stac'] = olStac;
pkg.overrides = Object.assign({}, pkg.overrides, {'ol-stac': olStac});
fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + '\n');
EOF

# Build-time options: the shipped defaults (config.js) with a few overridden.
cat >"$SRC/sen2val.config.js" <<'EOF'
module.exports = Object.assign({}, require('./config.js'), {
  catalogUrl: null,
  catalogTitle: "Sen2Chain STAC",
  allowExternalAccess: true,
  historyMode: "hash",
  pathPrefix: "./",
  detectLocaleFromBrowser: false,
  storeLocale: false,
  locale: "en",
  displayOverview: true,
  displayPreview: true,
  displayGeoTiffByDefault: false,
  buildTileUrlTemplate: null,
  useTileLayerAsFallback: false,
  crossOriginMedia: "anonymous",
  noSourceMaps: true
});
EOF

cat >"$SRC/basemaps.config.js" <<'EOF'
// sen2val-stac: the basemaps come from the runtime config (dist/config.js, window.STAC_BROWSER_CONFIG.basemaps):
// [] shows no background layer (offline use); an array of STAC Browser basemap options replaces the default.
const OSM = [
  {
    url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png',
    is: 'XYZ',
    title: 'OpenStreetMap',
    attributions: '&copy; <a href="https://www.openstreetmap.org/copyright" target="_blank">OpenStreetMap</a> contributors.',
    projection: "EPSG:3857"
  }
];

export default function configureBasemap(stac, i18n) { // eslint-disable-line no-unused-vars
  const runtime = (typeof window !== 'undefined' && window.STAC_BROWSER_CONFIG) || {};
  return Array.isArray(runtime.basemaps) ? runtime.basemaps : OSM;
}
EOF

# index.html ships the runtime config script commented out (and absolute): enable it, relative to index.html.
replace_once "$SRC/public/index.html" 'the config.js script tag' \
  '<!-- <script defer="defer" src="/config.js"></script> -->' '<script defer="defer" src="./config.js"></script>'
# The map's layer options: ol-stac calls the crossorigin attribute of its images `crossOrigin`.
replace_once "$SRC/src/components/maps/MapMixin.js" 'the crossOriginMedia option' \
  'crossOriginMedia: this.crossOriginMedia,' $'crossOriginMedia: this.crossOriginMedia,\n        crossOrigin: this.crossOriginMedia,'
cat >"$SRC/public/config.js" <<'EOF'
// STAC Browser runtime options, merged over the build-time ones. For example:
// window.STAC_BROWSER_CONFIG = {catalogUrl: "http://127.0.0.1:8000/catalog/catalog.json", basemaps: []};
window.STAC_BROWSER_CONFIG = {};
EOF

echo "[3/4] npm install (about a minute)"
(cd "$SRC" && npm install --no-audit --no-fund --loglevel=error >"$WORK/install.log" 2>&1) \
  || { tail -40 "$WORK/install.log" >&2; exit 1; }
installed=$(node -p "require('$SRC/node_modules/ol-stac/package.json').version")
[ "$installed" = "$OL_STAC" ] || { echo "error: ol-stac $installed installed, expected $OL_STAC" >&2; exit 1; }
# ol-stac must share STAC Browser's stac-js: a nested copy of another version breaks the map (see above).
shared=$(cd "$SRC" && node -p "require.resolve('stac-js/package.json', {paths: [require('path').dirname(require.resolve('ol-stac/package.json'))]}) === require.resolve('stac-js/package.json')")
[ "$shared" = "true" ] || { echo "error: ol-stac $OL_STAC brought its own stac-js, not STAC Browser's" >&2; exit 1; }

echo "[4/4] vue-cli-service build (about a minute)"
(cd "$SRC" && npx --no-install vue-cli-service build --CONFIG=./sen2val.config.js >"$WORK/build.log" 2>&1) \
  || { tail -40 "$WORK/build.log" >&2; exit 1; }
[ -f "$SRC/dist/index.html" ] || { echo "error: the build wrote no index.html" >&2; exit 1; }
grep -q 'src="./config.js"' "$SRC/dist/index.html" || { echo "error: dist/index.html does not load config.js" >&2; exit 1; }

rm -rf "$OUT/dist" "$OUT/build-stamp"
mv "$SRC/dist" "$OUT/dist"
echo "$STAMP" >"$OUT/build-stamp"
echo "STAC Browser $VERSION built in $OUT/dist in $((SECONDS - start)) s"

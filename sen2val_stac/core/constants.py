"""STAC versions, extension schema URLs, media types and catalogue file names."""

from __future__ import annotations

STAC_VERSION = "1.1.0"

PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
FILE = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
SAT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
GRID = "https://stac-extensions.github.io/grid/v1.1.0/schema.json"
MGRS = "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json"
PROCESSING = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
SCIENTIFIC = "https://stac-extensions.github.io/scientific/v1.0.0/schema.json"

ITEM_EXTENSIONS = [EO, FILE, GRID, MGRS, PROCESSING, PROJECTION, RASTER, SAT]
COLLECTION_EXTENSIONS = [EO, PROJECTION, RASTER, SAT]

MEDIA_TYPES = {
    ".jp2": "image/jp2",
    ".tif": "image/tiff; application=geotiff",
    ".tiff": "image/tiff; application=geotiff",
    ".png": "image/png",
    ".nc": "application/netcdf",
    ".json": "application/json",
    ".parquet": "application/vnd.apache.parquet",
}

CONSTELLATION = "sentinel-2"
INSTRUMENTS = ["msi"]
PROCESSING_LEVEL = "L2A"

CATALOG_FILE = "catalog.json"
COLLECTION_FILE = "collection.json"
STATE_DIR = ".sen2val"
STATE_FILE = "state.json"
REPORT_FILE = "index-report.json"
PARQUET_FILE = "items.parquet"

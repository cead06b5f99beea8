"""STAC versions, extension schema URLs, media types and catalogue file names."""

from __future__ import annotations

from sen2val_stac.core import media_types

STAC_VERSION = "1.1.0"
"""The version pystac writes (``pystac.get_stac_version()``); for the few objects written as plain dicts."""

# Extension schema URIs come from pystac's extension classes (``ProjectionExtension.get_schema_uri()``...)
# and from sen2val_stac.catalog.sen2chain_extension; only extensions that pystac has no class for are here.
PROCESSING = "https://stac-extensions.github.io/processing/v1.2.0/schema.json"
# The NetCDF cube items are still written as plain dicts (derive/netcdf/catalogue.py); these equal
# FileExtension / ProjectionExtension.get_schema_uri() (tests/test_sen2chain_extension.py checks).
FILE = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"

MEDIA_TYPES = media_types.BY_SUFFIX
"""Media type by file suffix: the one table, :mod:`sen2val_stac.core.media_types`."""

CONSTELLATION = "sentinel-2"
INSTRUMENTS = ["msi"]
PROCESSING_LEVEL = "L2A"

CATALOG_FILE = "catalog.json"
COLLECTION_FILE = "collection.json"
STATE_DIR = ".sen2val"
STATE_FILE = "state.sqlite"
LEGACY_STATE_FILE = "state.json"  # the state of earlier versions: imported into STATE_FILE, then removed
REPORT_FILE = "index-report.json"
PARQUET_FILE = "items.parquet"

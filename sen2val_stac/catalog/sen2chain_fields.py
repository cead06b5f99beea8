"""The vocabulary of the ``sen2chain`` STAC extension: its field names and schema URL, without pystac.

Modules that only read catalogue JSON (item properties, parquet columns) import the names from here,
so they start without importing pystac; :mod:`sen2val_stac.catalog.sen2chain_extension` (the pystac
class) re-exports them. The JSON Schema is ``catalog_templates/schemas/sen2chain/v1.0.0/schema.json``,
published at :data:`SCHEMA_URI`; :func:`local_schemas` maps that URL to the file for offline validation.
"""

from __future__ import annotations

from pathlib import Path

from sen2val_stac.core.templates import templates_dir

SCHEMA_URI = "https://sen2chain.github.io/sen2val-stac/extensions/sen2chain/v1.0.0/schema.json"
SCHEMA_FILE = "schemas/sen2chain/v1.0.0/schema.json"
"""The schema of :data:`SCHEMA_URI`, relative to ``catalog_templates/``."""
PREFIX = "sen2chain:"

# Item properties:
INDEX = PREFIX + "index"  # also a Collection field
TILE = PREFIX + "tile"
PRODUCT_ID = PREFIX + "product_id"
MASKS = PREFIX + "masks"  # also summarised by Collections
ASSET = PREFIX + "asset"  # NetCDF cube items: the item asset the cube was built from
# Asset field:
MASK = PREFIX + "mask"
# Collection fields:
FORMULA = PREFIX + "formula"
BANDS = PREFIX + "bands"

FIELDS = (INDEX, TILE, PRODUCT_ID, MASKS, ASSET, MASK, FORMULA, BANDS)
"""Every ``sen2chain:`` field; the schema allows no other."""


def local_schemas() -> dict[str, Path]:
    """Schema URLs this project publishes, mapped to their files (for offline validation)."""
    return {SCHEMA_URI: templates_dir() / SCHEMA_FILE}


__all__ = ["ASSET", "BANDS", "FIELDS", "FORMULA", "INDEX", "MASK", "MASKS", "PREFIX", "PRODUCT_ID", "SCHEMA_FILE",
           "SCHEMA_URI", "TILE", "local_schemas"]

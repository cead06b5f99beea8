"""Footprint layer formats: OGR driver and file extension per ``--format`` name (light: no GIS imports)."""

from __future__ import annotations

DRIVERS: dict[str, tuple[str | None, str]] = {
    "shp": ("ESRI Shapefile", ".shp"),
    "gpkg": ("GPKG", ".gpkg"),
    "parquet": (None, ".parquet"),
}

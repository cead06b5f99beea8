"""The one media-type table: the ``type`` of STAC assets and links, and the Content-Type of served files.

Values are those of ``pystac.MediaType`` where it has one (tests/test_media_types.py checks), written out
here so that importing the table costs nothing. NetCDF is ``application/netcdf`` (``pystac.MediaType.NETCDF``,
what STAC catalogues and tools such as xpystac/odc-stac recognise); ``application/x-netcdf`` is the older,
unregistered Unidata type and is not used.
"""

from __future__ import annotations

import posixpath

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA_JSON = "application/schema+json"
JPEG2000 = "image/jp2"
GEOTIFF = "image/tiff; application=geotiff"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
TIFF = "image/tiff"
PNG = "image/png"
JPEG = "image/jpeg"
NETCDF = "application/netcdf"
PARQUET = "application/vnd.apache.parquet"
GEOPACKAGE = "application/geopackage+sqlite3"
XML = "application/xml"
HTML = "text/html"
TEXT = "text/plain"
CSV = "text/csv"
ZIP = "application/zip"
OCTET_STREAM = "application/octet-stream"
"""Anything not in :data:`BY_SUFFIX`."""

BY_SUFFIX: dict[str, str] = {
    ".json": JSON,
    ".geojson": GEOJSON,
    ".jp2": JPEG2000,
    ".tif": GEOTIFF,
    ".tiff": GEOTIFF,
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".nc": NETCDF,
    ".parquet": PARQUET,
    ".gpkg": GEOPACKAGE,
    ".xml": XML,
    ".csv": CSV,
    ".txt": TEXT,
    ".zip": ZIP,
    ".html": HTML,
    # the files of STAC Browser, served beside the catalogue
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".map": JSON,
}
"""Media type of a file by its lower-case suffix."""


def of_file(name: str) -> str:
    """Media type of the file ``name`` (a path or URL) from its suffix; :data:`OCTET_STREAM` if unknown."""
    return BY_SUFFIX.get(posixpath.splitext(name)[1].lower(), OCTET_STREAM)


def content_type(name: str) -> str:
    """HTTP Content-Type of the file ``name``: its media type without parameters (``image/tiff``, not the
    STAC asset type ``image/tiff; application=geotiff``, which says what the TIFF holds)."""
    return of_file(name).split(";", 1)[0]


__all__ = [
    "BY_SUFFIX",
    "COG",
    "CSV",
    "GEOJSON",
    "GEOPACKAGE",
    "GEOTIFF",
    "HTML",
    "JPEG",
    "JPEG2000",
    "JSON",
    "NETCDF",
    "OCTET_STREAM",
    "PARQUET",
    "PNG",
    "SCHEMA_JSON",
    "TEXT",
    "TIFF",
    "XML",
    "ZIP",
    "content_type",
    "of_file",
]

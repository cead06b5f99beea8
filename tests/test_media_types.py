"""The one media-type table: pystac's values, used by the catalogue writers and the HTTP server alike."""

from __future__ import annotations

from pathlib import Path

import pystac

from sen2val_stac.core import constants as C
from sen2val_stac.core import media_types as MT

PACKAGE = Path(MT.__file__).resolve().parents[1]


def test_values_are_pystac_media_types() -> None:
    pystac_values = {m.value for m in pystac.MediaType}
    for name in ("JSON", "GEOJSON", "JPEG2000", "GEOTIFF", "TIFF", "PNG", "JPEG", "NETCDF", "GEOPACKAGE", "XML",
                 "HTML", "TEXT"):
        assert getattr(MT, name) == getattr(pystac.MediaType, name).value, name
    assert pystac.MediaType.VND_APACHE_PARQUET.value == MT.PARQUET
    assert MT.NETCDF == "application/netcdf" and "application/x-netcdf" not in MT.BY_SUFFIX.values()
    stac_suffixes = (".json", ".geojson", ".jp2", ".tif", ".png", ".nc", ".parquet", ".gpkg", ".xml")
    assert {MT.BY_SUFFIX[s] for s in stac_suffixes} <= pystac_values


def test_one_table_for_files() -> None:
    assert C.MEDIA_TYPES is MT.BY_SUFFIX
    assert MT.of_file("cubes/NDVI_40KCB.NC") == MT.NETCDF
    assert MT.of_file("https://example.org/x/ql.tif") == MT.GEOTIFF
    assert MT.of_file("README") == MT.OCTET_STREAM
    assert MT.content_type("ql.TIF") == MT.TIFF and MT.content_type("c.nc") == MT.NETCDF  # HTTP: no parameters


def test_no_second_table_in_the_modules_that_used_one() -> None:
    """serve/static.py, core/constants.py and derive/netcdf/catalogue.py spell no media type themselves."""
    for module in ("serve/static.py", "core/constants.py", "derive/netcdf/catalogue.py"):
        text = (PACKAGE / module).read_text(encoding="utf-8")
        assert not [v for v in set(MT.BY_SUFFIX.values()) if f'"{v}"' in text], module

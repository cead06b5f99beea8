"""Downstream readers on the demo catalogue: pystac, odc-stac, stackstac, geopandas (stac-geoparquet)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio

from sen2val_stac.parquet_index import parquet_path


@pytest.fixture(scope="module")
def ndvi_40kcb(demo):
    catalog = pystac.Catalog.from_file(str(demo[0] / "catalog.json"))
    items = [i for i in catalog.get_items(recursive=True)
             if i.properties["sen2chain:index"] == "NDVI" and i.properties["sen2chain:tile"] == "40KCB"]
    return sorted(items, key=lambda i: i.datetime)


def _source(item: pystac.Item, key: str = "index") -> np.ndarray:
    with rasterio.open(item.assets[key].get_absolute_href()) as ds:
        return ds.read(1)


def test_pystac_walks_everything(demo) -> None:
    catalog = pystac.Catalog.from_file(str(demo[0] / "catalog.json"))
    collections = list(catalog.get_children())
    assert sorted(c.id for c in collections) == ["mndwi", "ndvi", "ndwigao"]
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 30
    item = next(i for i in items if i.id == "NDVI_40KCB_20220104")
    assert item.ext.proj.code == "EPSG:32740" and item.ext.proj.shape == [610, 610]
    assert item.assets["index"].ext.raster.bands[0].nodata == 16383
    assert item.assets["index"].ext.file.size > 0


def test_odc_stac_loads_series(ndvi_40kcb) -> None:
    import odc.stac

    ds = odc.stac.load(ndvi_40kcb, bands=["index"], chunks={})
    assert ds["index"].shape == (5, 610, 610)
    assert ds.odc.crs.epsg == 32740
    np.testing.assert_array_equal(ds["index"].isel(time=2).values, _source(ndvi_40kcb[2]))


def test_stackstac_loads_series_with_explicit_grid(ndvi_40kcb) -> None:
    import stackstac

    bounds = tuple(ndvi_40kcb[0].properties["proj:bbox"])
    stack = stackstac.stack(
        [i.to_dict() | {"assets": {"index": i.assets["index"].to_dict() | {"href": i.assets["index"].get_absolute_href()}}}
         for i in ndvi_40kcb],
        assets=["index"], epsg=32740, resolution=180, bounds=bounds, snap_bounds=False,
        xy_coords="center", dtype="int16", fill_value=np.int16(16383), rescale=False)
    assert stack.shape == (5, 1, 610, 610)
    np.testing.assert_array_equal(stack.isel(time=4, band=0).values, _source(ndvi_40kcb[4]))


def test_geoparquet_index_loads_in_geopandas(demo) -> None:
    frame = gpd.read_parquet(parquet_path(demo[0]))
    assert len(frame) == 30 and frame.crs.to_epsg() == 4326
    assert set(frame["sen2chain:index"]) == {"NDVI", "NDWIGAO", "MNDWI"}
    assert frame.geometry.is_valid.all()

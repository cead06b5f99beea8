"""Assemble one time series (index × tile × asset) from catalogue items with stackstac.

stackstac 0.5 reads only ``proj:epsg``, which projection v2 forbids: the grid (EPSG code,
resolution, bounds from ``proj:bbox``) is given explicitly, pixel centres as coordinates, and the
packed int16 values are kept (no rescaling, no float blow-up).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import rasterio
import stackstac
import xarray as xr

from sen2val_stac.catalog_read import ItemRef
from sen2val_stac.rasters import RasterReadError, check_jp2_complete
from sen2val_stac.templates import index_definition

# Reads are aligned on GDAL's JPEG2000 block size: a 256-px window would decode a whole 1024-px block
# sixteen times over.
READ_BLOCK = 1024
# JP2 values this close to nodata are nodata (lossy compression smears it), as in the indexer.
NODATA_TOLERANCE = 256


class CubeError(ValueError):
    """A series cannot be assembled (mixed CRS, nothing readable)."""


@dataclass
class Series:
    """The items of one series and what was skipped."""

    index: str
    tile: str
    asset: str
    items: list[ItemRef]
    skipped: list[str] = field(default_factory=list)

    @property
    def first(self) -> str:
        """First acquisition date, YYYYMMDD."""
        return f"{self.items[0].datetime:%Y%m%d}"

    @property
    def last(self) -> str:
        """Last acquisition date, YYYYMMDD."""
        return f"{self.items[-1].datetime:%Y%m%d}"

    @property
    def name(self) -> str:
        """File stem: ``NDVI_40KCB_masked-cm001_20220104_20221110``."""
        return f"{self.index}_{self.tile}_{self.asset}_{self.first}_{self.last}"


def default_asset(items: list[ItemRef], configured: str | None) -> str:
    """The configured asset, else ``masked-cm001`` when any item has it, else ``index``."""
    if configured:
        return configured
    return "masked-cm001" if any("masked-cm001" in r.item["assets"] for r in items) else "index"


def usable_items(index: str, tile: str, asset: str, refs: list[ItemRef]) -> Series:
    """Keep the items whose asset exists and opens; the others are listed with the reason."""
    series = Series(index, tile, asset, [])
    for ref in refs:
        if asset not in ref.item["assets"]:
            series.skipped.append(f"{ref.id}: no asset '{asset}'")
            continue
        path = ref.asset_href(asset)
        try:
            if "://" not in path and path.lower().endswith(".jp2"):
                check_jp2_complete(path, os.path.getsize(path))
                with rasterio.open(path):
                    pass
        except (OSError, RasterReadError, rasterio.errors.RasterioError) as exc:
            series.skipped.append(f"{ref.id}: asset '{asset}' unreadable ({path}: {exc})")
            continue
        series.items.append(ref)
    return series


def grid_of(series: Series) -> tuple[int, tuple[float, float, float, float], float]:
    """EPSG code, bounds (``proj:bbox``) and native resolution shared by the series; refuses mixed grids."""
    codes = {r.item["properties"]["proj:code"] for r in series.items}
    if len(codes) > 1:
        detail = ", ".join(f"{r.id}={r.item['properties']['proj:code']}" for r in series.items)
        raise CubeError(f"series {series.index} {series.tile}: items in different CRS ({detail})")
    epsg = int(codes.pop().split(":")[1])
    boxes = {tuple(r.item["properties"]["proj:bbox"]) for r in series.items}
    west, south = min(b[0] for b in boxes), min(b[1] for b in boxes)
    east, north = max(b[2] for b in boxes), max(b[3] for b in boxes)
    band = series.items[0].item["assets"][series.asset]["raster:bands"][0]
    return epsg, (west, south, east, north), float(band["spatial_resolution"])


def _stac_dicts(series: Series) -> list[dict[str, Any]]:
    out = []
    for ref in series.items:
        item = copy.deepcopy(ref.item)
        item["assets"] = {series.asset: {**item["assets"][series.asset], "href": ref.asset_href(series.asset)}}
        out.append(item)
    return out


def assemble(
    series: Series, resolution: float | None = None, chunks: tuple[int, int, int] = (8, 256, 256)
) -> tuple[xr.DataArray, int]:
    """Lazy (dask) int16 cube ``(time, y, x)`` of the series and its nodata; invalid values set to nodata."""
    if not series.items:
        raise CubeError(f"series {series.index} {series.tile}: no readable item")
    epsg, bounds, native = grid_of(series)
    band = series.items[0].item["assets"][series.asset]["raster:bands"][0]
    nodata = int(band["nodata"])
    res = resolution or native
    stack = stackstac.stack(
        _stac_dicts(series), assets=[series.asset], epsg=epsg, resolution=res, bounds=bounds,
        snap_bounds=False, xy_coords="center", dtype="int16", fill_value=np.int16(nodata), rescale=False,
        chunksize=(1, 1, READ_BLOCK, READ_BLOCK), resampling=rasterio.enums.Resampling.nearest,
    )
    data = stack.isel(band=0, drop=True)
    valid = np.abs(data.astype("int32") - nodata) > NODATA_TOLERANCE
    valid_range = index_definition(series.index).get("valid_range")
    if valid_range:
        valid &= (data >= valid_range[0]) & (data <= valid_range[1])
    data = data.where(valid, np.int16(nodata)).astype("int16")
    keep = [c for c in data.coords if c in ("time", "x", "y")]
    data = data.drop_vars([c for c in data.coords if c not in keep])
    data.attrs = {}
    # Dask chunks stay READ_BLOCK wide (whole JPEG2000 blocks); the NetCDF chunking is set at write time.
    return data.chunk({"time": chunks[0]}), nodata

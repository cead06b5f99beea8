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
from rasterio.warp import transform_bounds

from sen2val_stac.catalog.read import ItemRef
from sen2val_stac.core.errors import InputError
from sen2val_stac.core.templates import index_definition
from sen2val_stac.tree.rasters import RasterReadError, check_jp2_complete

# Reads are aligned on GDAL's JPEG2000 block size: a 256-px window would decode a whole 1024-px block
# sixteen times over.
READ_BLOCK = 1024
# GDAL's block cache while a cube is read: every JPEG2000 block is decoded and read once, so GDAL's default cache
# (5 % of RAM, 1.2 GB on 24 GB) would only hold blocks never read again, for as long as the series' datasets stay open.
READ_CACHE_BYTES = 64 * 2**20


class CubeError(InputError):
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


def default_asset(items: list[ItemRef], configured: str | None, preference: list[str]) -> str:
    """The configured asset, else the first of ``preference`` that any item has (else the last of them)."""
    if configured:
        return configured
    present = {key for r in items for key in r.item["assets"]}
    return next((key for key in preference if key in present), preference[-1])


def usable_items(index: str, tile: str, asset: str, refs: list[ItemRef]) -> Series:
    """Keep the items whose asset exists and opens and whose ``bbox`` covers their grid; list the others
    with the reason (stackstac would silently fill an item whose WGS84 bbox misses the output bounds)."""
    series = Series(index, tile, asset, [])
    for ref in refs:
        if asset not in ref.item["assets"]:
            series.skipped.append(f"{ref.id}: no asset '{asset}'")
            continue
        path = ref.asset_href(asset)
        try:
            if "://" not in path:
                if path.lower().endswith(".jp2"):
                    check_jp2_complete(path, os.path.getsize(path))
                with rasterio.open(path):
                    pass
        except (OSError, RasterReadError, rasterio.errors.RasterioError) as exc:
            series.skipped.append(f"{ref.id}: asset '{asset}' unreadable ({path}: {exc})")
            continue
        problem = _bbox_problem(ref)
        if problem:
            series.skipped.append(f"{ref.id}: {problem}")
            continue
        series.items.append(ref)
    return series


def _bbox_problem(ref: ItemRef) -> str | None:
    """Why the item's WGS84 ``bbox`` does not fit its ``proj:bbox`` (None when it does)."""
    props = ref.item["properties"]
    try:
        grid = transform_bounds(props["proj:code"], "EPSG:4326", *props["proj:bbox"])
        west, south, east, north = ref.item["bbox"]
    except (KeyError, ValueError, rasterio.errors.RasterioError) as exc:
        return f"no usable bbox / proj:code / proj:bbox ({exc})"
    if west > grid[2] or east < grid[0] or south > grid[3] or north < grid[1]:
        return f"bbox {ref.item['bbox']} does not intersect its grid ({props['proj:code']} proj:bbox)"
    return None


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


def fill_invalid(block: np.ndarray, nodata: int, valid_range: list[int] | None, tolerance: int) -> np.ndarray:
    """``block`` (int16) with values within ``tolerance`` of ``nodata`` (the lossy JPEG2000 smear) or outside
    ``valid_range`` set to ``nodata``, the indexer's rule; compared in int16, no wider temporary."""
    info = np.iinfo(np.int16)
    low, high = max(nodata - tolerance, info.min), min(nodata + tolerance, info.max)
    bad = (block >= low) & (block <= high)
    if valid_range:
        bad |= (block < valid_range[0]) | (block > valid_range[1])
    return np.where(bad, np.int16(nodata), block)


def block_edge(netcdf_chunk: int) -> int:
    """Dask block edge along y or x: whole JPEG2000 blocks (at least READ_BLOCK) and whole NetCDF chunks,
    so that every NetCDF chunk is written once, complete (no read-modify-write of compressed chunks)."""
    return -(-READ_BLOCK // netcdf_chunk) * netcdf_chunk


def read_env() -> rasterio.Env:
    """GDAL settings of the cube's reads (in this process): a small block cache, unless ``GDAL_CACHEMAX`` is set."""
    return rasterio.Env(**({} if os.environ.get("GDAL_CACHEMAX") else {"GDAL_CACHEMAX": READ_CACHE_BYTES}))


def assemble(
    series: Series, resolution: float | None = None, chunks: tuple[int, int, int] = (8, 256, 256),
    nodata_tolerance: int = 0,
) -> tuple[xr.DataArray, int]:
    """Lazy (dask) int16 cube ``(time, y, x)`` of the series and its nodata; values within ``nodata_tolerance``
    of nodata (config ``footprint.nodata_tolerance``) or outside the index's valid range set to nodata."""
    if not series.items:
        raise CubeError(f"series {series.index} {series.tile}: no readable item")
    epsg, bounds, native = grid_of(series)
    band = series.items[0].item["assets"][series.asset]["raster:bands"][0]
    nodata = int(band["nodata"])
    res = resolution or native
    stack = stackstac.stack(
        _stac_dicts(series), assets=[series.asset], epsg=epsg, resolution=res, bounds=bounds,
        snap_bounds=False, xy_coords="center", dtype="int16", fill_value=np.int16(nodata), rescale=False,
        chunksize=(1, 1, block_edge(chunks[1]), block_edge(chunks[2])),
        resampling=rasterio.enums.Resampling.nearest,
    )
    data = stack.isel(band=0, drop=True).chunk({"time": chunks[0]})
    valid_range = index_definition(series.index).get("valid_range")
    data = data.copy(data=data.data.map_blocks(fill_invalid, nodata, valid_range, nodata_tolerance, dtype="int16"))
    keep = [c for c in data.coords if c in ("time", "x", "y")]
    data = data.drop_vars([c for c in data.coords if c not in keep])
    data.attrs = {}
    # Dask blocks: the NetCDF chunk's dates, about READ_BLOCK wide (whole JPEG2000 blocks, whole NetCDF chunks);
    # the NetCDF chunking itself is set at write time.
    return data, nodata

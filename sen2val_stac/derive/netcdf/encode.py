"""CF-1.8 / ACDD-1.3 encoding of a series cube and its atomic, streaming write to NetCDF-4."""

from __future__ import annotations

import functools
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dask.array as da
import deflate
import h5py  # type: ignore[import-untyped]
import netCDF4
import numpy as np
import shapely
import xarray as xr
from pyproj import CRS
from shapely.geometry import shape
from xarray.backends import NetCDF4DataStore
from xarray.backends.common import ArrayWriter

from sen2val_stac import __version__
from sen2val_stac.catalog.sen2chain_fields import MASK
from sen2val_stac.core.atomic import temp_prefix
from sen2val_stac.core.templates import index_definition, load_json
from sen2val_stac.derive.netcdf.assemble import Series

SOURCES_ATTR = "sen2val_sources"
# Seconds, not days: acquisition times are whole seconds, exact in float64 seconds, while float64 days
# (06:36:11 = 0.27512731... d) decode in xarray to 06:36:10.999999744.
TIME_UNITS = "seconds since 1970-01-01 00:00:00"
# The grid-mapping variable: openEO's NetCDF loader recognises only this name (an older `spatial_ref` is read back
# by catalogue.read_grid). ERDDAP griddap servers drop it, so the CRS is also written as global attributes.
GRID_MAPPING = "crs"
# Bumped when the file layout changes, so that incremental runs rewrite cubes written by an older encoder.
ENCODING_VERSION = 2


def sources_fingerprint(series: Series, output: dict[str, Any]) -> str:
    """JSON of the source items, their asset checksums (or size and update time) and the ``output`` settings
    (grid, encoding, fill rule): changes when any source or setting does."""
    entries = {}
    for ref in series.items:
        asset = ref.item["assets"][series.asset]
        updated = ref.item["properties"].get("updated")
        entries[ref.id] = asset.get("file:checksum") or f"{asset.get('file:size')}@{updated}"
    return json.dumps({"asset": series.asset, "encoding": ENCODING_VERSION, "items": entries, "output": output},
                      sort_keys=True,
                      separators=(",", ":"))


def read_fingerprint(path: str) -> str | None:
    """The sources fingerprint stored in a cube, or None when absent or unreadable."""
    try:
        with netCDF4.Dataset(path) as nc:
            return getattr(nc, SOURCES_ATTR, None)
    except OSError:
        return None


def _crs_variable(epsg: int, transform: tuple[float, ...]) -> xr.DataArray:
    crs = CRS.from_epsg(epsg)
    attrs = crs.to_cf()
    attrs["crs_wkt"] = attrs.get("crs_wkt", crs.to_wkt())
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["GeoTransform"] = " ".join(str(v) for v in transform)
    return xr.DataArray(np.int32(0), attrs=attrs)


def crs_global_attributes(epsg: int, transform: tuple[float, ...]) -> dict[str, str]:
    """The CRS as global attributes (``crs_wkt``, ``crs_code``, ``crs_geotransform``): what survives a server
    that drops the grid-mapping variable (ERDDAP griddap)."""
    return {"crs_wkt": CRS.from_epsg(epsg).to_wkt(), "crs_code": f"EPSG:{epsg}",
            "crs_geotransform": " ".join(str(v) for v in transform)}


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration of whole seconds: ``P5D``, ``P5DT10M``, ``PT59S``, ``PT0S``."""
    days, rest = divmod(round(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not days and not clock:
        return "PT0S"
    return "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def mask_note(asset: dict[str, Any]) -> str:
    """``CM001 (Sen2Cor cloud probability above 25 %, ...)``: the mask of a masked asset and what it flags."""
    mask = asset.get(MASK) or "?"
    described = load_json("collection.json").get("masks", {}).get(mask.split("-")[0])
    return f"{mask} ({described})" if described else mask


def global_attributes(series: Series, config: dict[str, Any], skipped: list[str], fingerprint: str) -> dict[str, Any]:
    """ACDD-1.3 / CF global attributes from the catalogue, the index definition and the config."""
    text = load_json("netcdf.json")
    definition = index_definition(series.index)
    asset = series.items[0].item["assets"][series.asset]
    masked = series.asset.startswith("masked-")
    footprint = shapely.union_all([shape(r.item["geometry"]) for r in series.items])
    west, south, east, north = footprint.bounds
    times = [r.datetime for r in series.items]
    creator = config["creator"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    history = [f"{now} sen2val-stac {__version__}: assembled from {len(series.items)} STAC items with stackstac"]
    history += [f"{now} skipped {s}" for s in skipped]
    attrs = {
        "Conventions": text["Conventions"],
        "title": f"{definition['title']}, Sentinel-2 tile {series.tile}, {times[0]:%Y-%m-%d} to {times[-1]:%Y-%m-%d}",
        "summary": text["summary"].format(
            title=definition["title"], tile=series.tile, n=len(times), first=f"{times[0]:%Y-%m-%d}",
            last=f"{times[-1]:%Y-%m-%d}", asset_title=asset.get("title", series.asset),
            masked_note=text["masked_note"] if masked else ""),
        "keywords": ", ".join(definition["keywords"] + ["Sentinel-2", "Sen2Chain", f"MGRS-{series.tile}"]),
        "keywords_vocabulary": text["keywords_vocabulary"],
        "id": series.name,
        "naming_authority": text["naming_authority"],
        "license": config["license"],
        "standard_name_vocabulary": text["standard_name_vocabulary"],
        "creator_name": creator["name"], "creator_email": creator["email"], "creator_url": creator["url"],
        "creator_type": creator["type"], "institution": creator["institution"],
        "publisher_name": config["organisation"]["name"], "publisher_url": config["organisation"].get("url") or "",
        "publisher_email": config["organisation"].get("email") or creator["email"],
        "project": text["project"], "processing_level": text["processing_level"],
        "platform": ", ".join(sorted({r.item["properties"]["platform"] for r in series.items})),
        "platform_vocabulary": text["platform_vocabulary"], "instrument": text["instrument"],
        "product_version": __version__,
        "geospatial_lat_min": south, "geospatial_lat_max": north,
        "geospatial_lon_min": west, "geospatial_lon_max": east,
        "geospatial_lat_units": "degrees_north", "geospatial_lon_units": "degrees_east",
        "geospatial_bounds": shapely.set_precision(footprint.envelope, 1e-6).wkt,
        "geospatial_bounds_crs": "EPSG:4326",
        "time_coverage_start": f"{times[0]:%Y-%m-%dT%H:%M:%SZ}",
        "time_coverage_end": f"{times[-1]:%Y-%m-%dT%H:%M:%SZ}",
        "time_coverage_duration": iso_duration((times[-1] - times[0]).total_seconds()),
        "date_created": now,
        "history": "\n".join(history),
        "source": "Sen2Chain STAC items: " + ", ".join(r.id for r in series.items),
        "references": text["references"],
        "acknowledgement": text["acknowledgement"].format(
            years="-".join(sorted({f"{times[0]:%Y}", f"{times[-1]:%Y}"}))),
        "comment": (text["masked_comment"].format(mask=mask_note(asset)) if masked
                    else text["raw_comment"]) + " " + text["lossy_comment"].format(
                        tolerance=f"{config['footprint']['nodata_tolerance']:g}"),
        SOURCES_ATTR: fingerprint,
    }
    if len(times) > 1:
        steps = np.diff([t.timestamp() for t in times])
        attrs["time_coverage_resolution"] = iso_duration(float(np.median(steps)))
    return attrs


def build_dataset(data: xr.DataArray, nodata: int, series: Series, epsg: int, config: dict[str, Any],
                  skipped: list[str], fingerprint: str) -> tuple[xr.Dataset, dict[str, Any]]:
    """The CF dataset and its encoding (packed int16, compression, chunking)."""
    definition = index_definition(series.index)
    asset = series.items[0].item["assets"][series.asset]
    band = asset["raster:bands"][0]
    name = series.index.lower()
    var_attrs: dict[str, Any] = {
        "long_name": definition.get("long_name") or definition["title"],
        "units": definition.get("unit") or "1",
        "grid_mapping": GRID_MAPPING,
        "coverage_content_type": "physicalMeasurement",
    }
    if definition.get("standard_name"):
        var_attrs["standard_name"] = definition["standard_name"]
    if band.get("scale") is not None:
        var_attrs["scale_factor"] = np.float32(band["scale"])
        var_attrs["add_offset"] = np.float32(band.get("offset") or 0.0)
    if definition.get("valid_range"):
        var_attrs["valid_min"] = np.int16(definition["valid_range"][0])
        var_attrs["valid_max"] = np.int16(definition["valid_range"][1])
    if series.asset.startswith("masked-"):
        var_attrs["comment"] = load_json("netcdf.json")["variable_masked_comment"].format(mask=mask_note(asset))
    x, y = data["x"].values, data["y"].values
    res_x, res_y = float(x[1] - x[0]) if len(x) > 1 else 0.0, float(y[1] - y[0]) if len(y) > 1 else 0.0
    transform = (float(x[0]) - res_x / 2, res_x, 0.0, float(y[0]) - res_y / 2, 0.0, res_y)
    # Encoded here (not by xarray, which rewrites the units string): float64 seconds since the epoch.
    seconds = (data["time"].values - np.datetime64("1970-01-01T00:00:00", "ns")) / np.timedelta64(1, "s")
    data = data.assign_coords(time=seconds.astype("float64"))
    ds = xr.Dataset(
        {name: data.assign_attrs(var_attrs), GRID_MAPPING: _crs_variable(epsg, transform)},
        coords={"time": data["time"].values, "y": y, "x": x},
    )
    ds["x"].attrs = {"standard_name": "projection_x_coordinate", "long_name": "x coordinate of projection",
                     "units": "m", "axis": "X"}
    ds["y"].attrs = {"standard_name": "projection_y_coordinate", "long_name": "y coordinate of projection",
                     "units": "m", "axis": "Y"}
    ds["time"].attrs = {"standard_name": "time", "long_name": "acquisition time (sensing start)", "axis": "T",
                        "units": TIME_UNITS, "calendar": "standard"}
    ds.attrs = {**global_attributes(series, config, skipped, fingerprint), **crs_global_attributes(epsg, transform)}
    chunks = config["netcdf"]["chunks"]
    encoding = {
        name: {"dtype": "int16", "_FillValue": np.int16(nodata), "zlib": True, "shuffle": True,
               "complevel": int(config["netcdf"]["complevel"]),
               "chunksizes": (min(chunks[0], data.sizes["time"]), min(chunks[1], len(y)), min(chunks[2], len(x)))},
        "time": {"dtype": "float64", "_FillValue": None},
        "x": {"dtype": "float64", "_FillValue": None},
        "y": {"dtype": "float64", "_FillValue": None},
        GRID_MAPPING: {"dtype": "int32"},
    }
    return ds, encoding


def write_netcdf(ds: xr.Dataset, encoding: dict[str, Any], path: str) -> list[str]:
    """Stream ``ds`` slab by slab into ``path`` (NetCDF-4), through a temporary file renamed at the end; return
    the dask-backed variables whose chunks were compressed here (:func:`chunk_codec`) rather than by HDF5.

    xarray encodes and creates every variable (the same file as ``to_netcdf``); the dask-backed data is then
    computed one slab at a time (:func:`slabs`) and written while the next slab is read, so that memory follows
    the slab, not the series: dask's own ``store`` reads far ahead of the writes. HDF5 compresses chunks one at
    a time under its global lock, so a variable whose NetCDF chunks are whole in every slab and whose filters are
    deflate (after shuffle) is left unwritten by netCDF4: the file is closed, reopened with h5py, and each chunk
    is shuffled and deflated here by libdeflate, in a thread per core (it releases the GIL), then stored as is
    (``write_direct_chunk``). Other variables go through netCDF4 as before.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(), suffix=".nc")
    os.close(fd)
    try:
        direct: list[tuple[str, da.Array]] = []
        store = NetCDF4DataStore.open(tmp, mode="w", format="NETCDF4")  # type: ignore[no-untyped-call]
        try:
            writer = ArrayWriter()  # type: ignore[no-untyped-call]
            ds.dump_to_store(store, writer=writer, encoding=encoding)
            for source, target in zip(writer.sources, writer.targets, strict=True):
                variable = target.get_array()
                if _takes_direct_chunks(variable, source):
                    direct.append((variable.name, source))
                else:
                    _stream(source, target.__setitem__)
        finally:
            store.close()
        if direct:
            # The netCDF4 handle is closed: h5py's own HDF5 library opens the file alone.
            with h5py.File(tmp, "r+") as h5, ThreadPoolExecutor(os.cpu_count() or 1) as pool:
                for name, source in direct:
                    dset = h5[name]
                    codec = chunk_codec(dset)
                    if codec is None:  # a filter pipeline netCDF4 did not report: HDF5 applies it
                        _stream(source, dset.__setitem__)
                    else:
                        _stream(source, functools.partial(_write_chunks, dset.id, codec, pool))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return [name for name, _ in direct]


def slabs(chunks: tuple[tuple[int, ...], ...]) -> Iterator[tuple[slice, ...]]:
    """Slabs of a dask array with these ``chunks``: one block along every axis but the last, all of the last
    (at 10 m: the NetCDF chunk's dates x one 1024-px row of JPEG2000 blocks x the tile's width)."""
    edges = [np.cumsum((0, *c)) for c in chunks[:-1]]
    for starts in itertools.product(*(range(len(e) - 1) for e in edges)):
        yield (*(slice(int(e[i]), int(e[i + 1])) for e, i in zip(edges, starts, strict=True)), slice(None))


@dataclass(frozen=True)
class ChunkCodec:
    """What HDF5's shuffle + deflate pipeline stores for one chunk of a dataset, applied outside HDF5."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fill: Any
    shuffle: bool
    level: int

    def filtered(self, block: np.ndarray[Any, Any]) -> bytes:
        """The bytes of ``block`` before deflate (an edge chunk is padded to the full chunk with the fill value,
        as HDF5 stores it): the byte planes of the values in file byte order if shuffled."""
        if block.shape == self.shape:
            full = np.ascontiguousarray(block, dtype=self.dtype)
        else:
            full = np.full(self.shape, self.fill, dtype=self.dtype)
            full[tuple(slice(0, n) for n in block.shape)] = block
        return full.view(np.uint8).reshape(-1, self.dtype.itemsize).T.tobytes() if self.shuffle else full.tobytes()

    def encode(self, block: np.ndarray[Any, Any]) -> bytearray:
        """The stored bytes of ``block``: :meth:`filtered`, deflated in zlib format by libdeflate at the dataset's
        level (inflated by HDF5's zlib like its own output; smaller than zlib's at the same level and several
        times faster, docs/performance.md)."""
        return deflate.zlib_compress(self.filtered(block), self.level)


def chunk_codec(dset: Any) -> ChunkCodec | None:
    """The codec of an h5py dataset whose filter pipeline is deflate, or shuffle then deflate, of a fixed-size
    numeric type; None for any other layout or pipeline (contiguous, no compression, Fletcher-32, szip, ...)."""
    plist = dset.id.get_create_plist()
    if plist.get_layout() != h5py.h5d.CHUNKED or dset.dtype.kind not in "iuf" or dset.maxshape != dset.shape:
        return None
    filters = [plist.get_filter(i) for i in range(plist.get_nfilters())]
    codes = [f[0] for f in filters]
    if codes not in ([h5py.h5z.FILTER_DEFLATE], [h5py.h5z.FILTER_SHUFFLE, h5py.h5z.FILTER_DEFLATE]):
        return None
    level = int(filters[-1][2][0]) if filters[-1][2] else 6
    fill = dset.fillvalue
    return ChunkCodec(tuple(dset.chunks), dset.dtype, fill, len(codes) == 2 and dset.dtype.itemsize > 1, level)


def _takes_direct_chunks(variable: netCDF4.Variable[Any], source: da.Array) -> bool:
    """Whether netCDF4 created ``variable`` deflated, fixed-size and chunked so that every NetCDF chunk lies
    whole in one slab of ``source`` (its dask blocks end on chunk edges), with ``source``'s dtype."""
    chunking = variable.chunking()
    filters = variable.filters() or {}
    other = {k for k, v in filters.items() if v and k not in ("zlib", "shuffle", "complevel")}
    if (chunking == "contiguous" or not filters.get("zlib") or not filters.get("complevel") or other
            or source.ndim == 0 or source.dtype != variable.dtype
            or any(d.isunlimited() for d in variable.get_dims())):
        return False
    for size, blocks, length in zip(chunking[:-1], source.chunks[:-1], source.shape[:-1], strict=True):
        ends = np.cumsum(blocks)
        if any(int(e) % size and int(e) != length for e in ends):
            return False
    return True


def _write_chunks(dset: Any, codec: ChunkCodec, pool: Executor, region: tuple[slice, ...],
                  block: np.ndarray[Any, Any]) -> None:
    """Compress the NetCDF chunks of one slab (``block`` at ``region``) in ``pool`` and store each as it comes."""
    origin = [s.start or 0 for s in region]
    grid = itertools.product(*(range(0, n, c) for n, c in zip(block.shape, codec.shape, strict=True)))
    pending = []
    for corner in grid:
        part = block[tuple(slice(a, a + c) for a, c in zip(corner, codec.shape, strict=True))]
        offset = tuple(o + a for o, a in zip(origin, corner, strict=True))
        pending.append((offset, pool.submit(codec.encode, part)))
    for offset, future in pending:
        dset.write_direct_chunk(offset, future.result())


def _stream(source: da.Array, write: Callable[[tuple[slice, ...], np.ndarray[Any, Any]], None]) -> None:
    """Compute ``source`` slab by slab and ``write`` each (region, values) in a second thread while the next one
    is computed (netCDF4 and zlib release the GIL while they compress): two slabs in memory at most."""
    with ThreadPoolExecutor(1) as pool:
        pending = None
        for region in slabs(source.chunks):
            block = source[region].compute()
            if pending is not None:
                pending.result()
            pending = pool.submit(write, region, block)
        if pending is not None:
            pending.result()

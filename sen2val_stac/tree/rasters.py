"""Read what the catalogue needs from one raster: grid, encoding, and a decimated sample.

JPEG2000 stores resolution levels and GeoTIFFs may hold overviews: asking rasterio for a small
``out_shape`` makes GDAL decode only the level it needs, ~100x cheaper than a full read.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
import rasterio
from rasterio.errors import RasterioError

# Multihash prefix of a sha2-256 digest (code 0x12, 32 bytes).
SHA2_256_MULTIHASH_PREFIX = "1220"


class BandStatistics(TypedDict, total=False):
    """Statistics of one band's valid pixels in the decimated sample (raster extension names)."""

    valid_percent: float
    minimum: float
    maximum: float
    mean: float
    stddev: float


class RasterReadError(Exception):
    """A raster could not be read; the message says why."""


@dataclass
class RasterGrid:
    """Grid and encoding of a raster, read from its header (no pixel decoded)."""

    epsg: int | None
    width: int
    height: int
    transform: tuple[float, float, float, float, float, float]
    bounds: tuple[float, float, float, float]
    dtypes: list[str]
    nodata: float | None
    resolution: float


@dataclass
class RasterSample(RasterGrid):
    """A raster's grid plus a decimated read of its bands, and the validity rule of its pixels."""

    data: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # (bands, rows, cols), decimated
    sample_transform: tuple[float, float, float, float, float, float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    valid_range: tuple[float, float] | None = None
    nodata_tolerance: float = 0.0
    _valid: np.ndarray | None = field(default=None, repr=False, compare=False)

    def valid(self) -> np.ndarray:
        """Boolean mask of valid pixels of the decimated sample (all bands must be valid); computed once.

        Lossy JPEG2000 smears the nodata value (16383 comes back as 16361...16383 near swath and
        cloud edges), so values within ``nodata_tolerance`` of nodata, or outside the index's
        ``valid_range``, are not valid either.
        """
        if self._valid is None:
            self._valid = valid_mask(self.data, self.nodata, self.nodata_tolerance, self.valid_range)
        return self._valid


def valid_mask(data: np.ndarray, nodata: float | None, tolerance: float = 0.0,
               valid_range: tuple[float, float] | None = None) -> np.ndarray:
    """Pixels of ``data`` (bands, rows, cols) valid in every band: not (within ``tolerance`` of) nodata, in range."""
    valid = np.ones(data.shape[1:], dtype=bool)
    if nodata is not None and math.isnan(nodata):
        valid &= ~np.any(np.isnan(data), axis=0)
    elif nodata is not None:
        if tolerance and np.issubdtype(data.dtype, np.integer):
            valid &= np.all(np.abs(data.astype("int32") - int(nodata)) > tolerance, axis=0)
        else:
            valid &= np.all(data != nodata, axis=0)
    if valid_range is not None:
        low, high = valid_range
        valid &= np.all((data >= low) & (data <= high), axis=0)
    return valid


def check_jp2_complete(path: str, size: int) -> None:
    """Raise :class:`RasterReadError` when a JPEG2000 file's boxes run past its end (a truncated copy).

    GDAL may happily decode the low resolution levels of a truncated JPEG2000, so a decimated
    read alone does not reveal an interrupted copy. The box headers do, at the cost of a few seeks.
    """
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            f.seek(offset)
            header = f.read(8)
            if len(header) < 8:
                raise RasterReadError(f"truncated JPEG2000 box header at byte {offset}")
            length, box_type = struct.unpack(">I4s", header)
            if length == 1:
                large = f.read(8)
                if len(large) < 8:
                    raise RasterReadError(f"truncated JPEG2000 box header at byte {offset}")
                (length,) = struct.unpack(">Q", large)
            elif length == 0:  # last box, runs to the end of the file
                if box_type == b"jp2c":
                    f.seek(size - 2)
                    if f.read(2) != b"\xff\xd9":
                        raise RasterReadError("JPEG2000 codestream has no end marker (file truncated)")
                return
            if length < 8:
                raise RasterReadError(f"corrupt JPEG2000 box '{box_type!r}' at byte {offset}")
            if offset + length > size:
                raise RasterReadError(
                    f"truncated: JPEG2000 box '{box_type.decode('latin-1')}' needs {offset + length} bytes,"
                    f" file has {size}"
                )
            offset += length


def _grid(ds: Any) -> dict[str, Any]:
    if ds.crs is None:
        raise RasterReadError("raster has no coordinate reference system")
    t = ds.transform
    return {
        "epsg": ds.crs.to_epsg(), "width": ds.width, "height": ds.height,
        "transform": tuple(t)[:6], "bounds": tuple(ds.bounds), "dtypes": list(ds.dtypes), "nodata": ds.nodata,
        "resolution": abs(t.a),
    }


def _check_file(path: str, size: int | None) -> None:
    if size is None:
        size = os.path.getsize(path)
    if size == 0:
        raise RasterReadError("empty file (0 bytes)")
    if path.lower().endswith(".jp2"):
        check_jp2_complete(path, size)


def read_grid(path: str, size: int | None = None) -> RasterGrid:
    """Grid and encoding of ``path`` from its header; no pixel is decoded (JPEG2000 completeness still checked)."""
    _check_file(path, size)
    try:
        with rasterio.open(path) as ds:
            return RasterGrid(**_grid(ds))
    except RasterioError as exc:
        raise RasterReadError(f"unreadable raster: {exc}") from exc


def sample_shape(width: int, height: int, read_size: int) -> tuple[int, int]:
    """``(rows, cols)`` of a read decimated by an integer factor so that the longest side is about ``read_size``."""
    factor = max(1, math.ceil(max(width, height) / read_size))
    return math.ceil(height / factor), math.ceil(width / factor)


def read_sample(
    path: str,
    read_size: int,
    size: int | None = None,
    valid_range: tuple[float, float] | None = None,
    nodata_tolerance: float = 0.0,
    out_shape: tuple[int, int] | None = None,
) -> RasterSample:
    """Open ``path`` and read all bands decimated so that the longest side is about ``read_size`` px.

    ``out_shape`` (rows, cols) overrides ``read_size`` (to read onto another raster's sample grid).
    GDAL decodes the smallest JPEG2000 resolution level (or GeoTIFF overview) at least that large and
    picks nearest pixels from it. ``valid_range`` and ``nodata_tolerance`` (JPEG2000 only) define valid pixels.
    """
    _check_file(path, size)
    try:
        with rasterio.open(path) as ds:
            grid = _grid(ds)
            rows, cols = out_shape or sample_shape(ds.width, ds.height, read_size)
            data = ds.read(out_shape=(ds.count, rows, cols))
            t = ds.transform
            sample_t = t @ t.scale(ds.width / cols, ds.height / rows)
    except RasterioError as exc:
        raise RasterReadError(f"unreadable raster: {exc}") from exc
    return RasterSample(
        **grid,
        data=data,
        sample_transform=tuple(sample_t)[:6],
        valid_range=valid_range,
        nodata_tolerance=nodata_tolerance if path.lower().endswith(".jp2") else 0.0,
    )


def smallest_level(ds: Any) -> tuple[int, int]:
    """``(rows, cols)`` of the smallest stored resolution level (JPEG2000 level, GeoTIFF overview, else full size)."""
    overviews = ds.overviews(1)
    factor = overviews[-1] if overviews else 1
    return math.ceil(ds.height / factor), math.ceil(ds.width / factor)


def band_statistics(data: np.ndarray, valid: np.ndarray) -> list[BandStatistics]:
    """Per-band statistics of the ``valid`` pixels of ``data`` (bands, rows, cols); raster extension names."""
    total = valid.size
    stats = []
    for band in data:
        values = band[valid].astype("float64")
        entry: BandStatistics = {"valid_percent": round(100.0 * values.size / total, 2) if total else 0.0}
        if values.size:
            entry["minimum"] = float(values.min())
            entry["maximum"] = float(values.max())
            entry["mean"] = round(float(values.mean()), 4)
            entry["stddev"] = round(float(values.std()), 4)
        stats.append(entry)
    return stats


def file_checksum(path: str) -> str:
    """sha2-256 of the file as a multihash hex string (``file:checksum``).

    The file is hashed through a read-only memory map: no copy out of the page cache (~25 % less CPU).
    """
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return SHA2_256_MULTIHASH_PREFIX + hashlib.sha256().hexdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return SHA2_256_MULTIHASH_PREFIX + hashlib.sha256(view).hexdigest()


def quicklook_clear(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Pixels of a quicklook (bands, rows, cols) that show data: not nodata in every band, and not white.

    Sen2Chain renders masked (cloudy) pixels of a quicklook white, or as nodata.
    """
    blank = np.all(data == (0 if nodata is None else nodata), axis=0)
    white = np.all(data == 255, axis=0) if data.dtype == np.uint8 else np.zeros(data.shape[1:], dtype=bool)
    clear: np.ndarray = ~(blank | white)
    return clear

"""Read what the catalogue needs from one raster: grid, encoding, and a decimated sample.

JPEG2000 stores resolution levels and GeoTIFFs may hold overviews: asking rasterio for a small
``out_shape`` makes GDAL decode only the level it needs, ~100x cheaper than a full read.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioError

# Multihash prefix of a sha2-256 digest (code 0x12, 32 bytes).
SHA2_256_MULTIHASH_PREFIX = "1220"
_CHUNK = 4 * 1024 * 1024


class RasterReadError(Exception):
    """A raster could not be read; the message says why."""


@dataclass
class RasterSample:
    """Grid and encoding of a raster plus a decimated read of its bands."""

    epsg: int | None
    crs_wkt: str
    width: int
    height: int
    transform: tuple[float, float, float, float, float, float]
    bounds: tuple[float, float, float, float]
    dtypes: list[str]
    nodata: float | None
    resolution: float
    data: np.ndarray  # (bands, rows, cols), decimated
    sample_transform: tuple[float, float, float, float, float, float]

    valid_range: tuple[float, float] | None = None
    nodata_tolerance: float = 0.0

    def valid(self) -> np.ndarray:
        """Boolean mask of valid pixels of the decimated sample (all bands must be valid).

        Lossy JPEG2000 smears the nodata value (16383 comes back as 16361...16383 near swath and
        cloud edges), so values within ``nodata_tolerance`` of nodata, or outside the index's
        ``valid_range``, are not valid either.
        """
        data = self.data
        valid = np.ones(data.shape[1:], dtype=bool)
        if self.nodata is not None and math.isnan(self.nodata):
            valid &= ~np.any(np.isnan(data), axis=0)
        elif self.nodata is not None:
            if self.nodata_tolerance and np.issubdtype(data.dtype, np.integer):
                valid &= np.all(np.abs(data.astype("int32") - int(self.nodata)) > self.nodata_tolerance, axis=0)
            else:
                valid &= np.all(data != self.nodata, axis=0)
        if self.valid_range is not None:
            low, high = self.valid_range
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


def read_sample(
    path: str,
    read_size: int,
    size: int | None = None,
    valid_range: tuple[float, float] | None = None,
    nodata_tolerance: float = 0.0,
) -> RasterSample:
    """Open ``path`` and read all bands decimated so that the longest side is about ``read_size`` px.

    ``valid_range`` and ``nodata_tolerance`` (applied to JPEG2000 only) define valid pixels.
    """
    if size is None:
        size = os.path.getsize(path)
    if size == 0:
        raise RasterReadError("empty file (0 bytes)")
    if path.lower().endswith(".jp2"):
        check_jp2_complete(path, size)
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise RasterReadError("raster has no coordinate reference system")
            factor = max(1, math.ceil(max(ds.width, ds.height) / read_size))
            rows, cols = math.ceil(ds.height / factor), math.ceil(ds.width / factor)
            data = ds.read(out_shape=(ds.count, rows, cols))
            t = ds.transform
            sample_t = t @ t.scale(ds.width / cols, ds.height / rows)
            return RasterSample(
                epsg=ds.crs.to_epsg(),
                crs_wkt=ds.crs.to_wkt(),
                width=ds.width,
                height=ds.height,
                transform=tuple(t)[:6],
                bounds=tuple(ds.bounds),
                dtypes=list(ds.dtypes),
                nodata=ds.nodata,
                resolution=abs(t.a),
                data=data,
                sample_transform=tuple(sample_t)[:6],
                valid_range=valid_range,
                nodata_tolerance=nodata_tolerance if path.lower().endswith(".jp2") else 0.0,
            )
    except RasterioError as exc:
        raise RasterReadError(f"unreadable raster: {exc}") from exc


def band_statistics(sample: RasterSample) -> list[dict[str, Any]]:
    """Per-band statistics of the valid pixels of the decimated sample (raster extension names)."""
    valid = sample.valid()
    total = valid.size
    stats = []
    for band in sample.data:
        values = band[valid].astype("float64")
        entry: dict[str, Any] = {"valid_percent": round(100.0 * values.size / total, 2) if total else 0.0}
        if values.size:
            entry.update(
                minimum=float(values.min()),
                maximum=float(values.max()),
                mean=round(float(values.mean()), 4),
                stddev=round(float(values.std()), 4),
            )
        stats.append(entry)
    return stats


def file_checksum(path: str) -> str:
    """sha2-256 of the file as a multihash hex string (``file:checksum``)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return SHA2_256_MULTIHASH_PREFIX + h.hexdigest()

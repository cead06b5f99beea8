"""Render a small PNG thumbnail from a Sen2Chain quicklook (browsers cannot show GeoTIFF)."""

from __future__ import annotations

import struct
import zlib

import deflate
import numpy as np

from sen2val_stac.tree.rasters import RasterSample

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_LEVEL = 6  # zlib's default level


def shrink(data: np.ndarray, max_side: int) -> np.ndarray:
    """Nearest-pixel decimation of ``data`` (bands, rows, cols) so that its longest side is at most ``max_side``."""
    rows, cols = data.shape[1:]
    scale = max(rows, cols) / max_side
    if scale <= 1:
        return data
    out_rows, out_cols = max(1, round(rows / scale)), max(1, round(cols / scale))
    r = ((np.arange(out_rows) + 0.5) * rows / out_rows).astype(int)
    c = ((np.arange(out_cols) + 0.5) * cols / out_cols).astype(int)
    return data[:, r[:, None], c[None, :]]


def _chunk(kind: bytes, payload: bytes | bytearray) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def encode_png(rgba: np.ndarray) -> bytes:
    """An 8-bit RGBA PNG of ``rgba`` (4, rows, cols), deflated by libdeflate (a third of the time of zlib at the
    same level, docs/performance.md; zlib was itself a third of the time of GDAL's PNG driver)."""
    _, rows, cols = rgba.shape
    scanlines = np.zeros((rows, 1 + 4 * cols), dtype=np.uint8)  # filter byte 0 (none) per row
    scanlines[:, 1:] = np.moveaxis(rgba, 0, -1).reshape(rows, 4 * cols)
    header = struct.pack(">IIBBBBB", cols, rows, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", deflate.zlib_compress(scanlines.tobytes(), PNG_LEVEL)) \
        + _chunk(b"IEND", b"")


def thumbnail_png(sample: RasterSample, max_side: int) -> bytes:
    """The sample as an RGBA PNG (nodata transparent) whose longest side is at most ``max_side`` px."""
    data = sample.data
    if data.dtype != np.uint8:
        data = np.clip(data, 0, 255).astype(np.uint8)
    alpha = np.where(sample.valid(), 255, 0).astype(np.uint8)
    bands = [data[i] for i in range(min(3, data.shape[0]))]
    while len(bands) < 3:
        bands.append(bands[0])
    return encode_png(shrink(np.stack([*bands, alpha]), max_side))

"""Render a small PNG thumbnail from a Sen2Chain quicklook (browsers cannot show GeoTIFF)."""

from __future__ import annotations

import warnings

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

from sen2val_stac.core.atomic import write_if_changed
from sen2val_stac.tree.rasters import RasterSample


def render_thumbnail(sample: RasterSample, dest: str) -> None:
    """Write the sample as an RGBA PNG at ``dest`` (nodata transparent), atomically and only if changed."""
    data = sample.data
    if data.dtype != np.uint8:
        data = np.clip(data, 0, 255).astype(np.uint8)
    bands = [data[i] for i in range(min(3, data.shape[0]))]
    while len(bands) < 3:
        bands.append(bands[0])
    alpha = np.where(sample.valid(), 255, 0).astype(np.uint8)
    rows, cols = alpha.shape
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with mem.open(driver="PNG", width=cols, height=rows, count=4, dtype="uint8") as png:
            png.write(np.stack(bands + [alpha]))
        payload = mem.read()
    write_if_changed(dest, payload)


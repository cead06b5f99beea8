"""Write realistic Sen2Chain INDICES trees: real JPEG2000/GeoTIFF rasters on true MGRS tile grids.

Used by ``sen2val-stac demo``, by the tests and by the benchmark scripts. Rasters are coarse (the
whole 109.8 km tile at 180 m by default) but keep Sen2Chain's names, encoding (int16, nodata
16383 in the JP2), cloud-masked versions, quicklooks and XML sidecars.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

JP2_NODATA = 16383
TILE_SIZE_M = 109_800
# MGRS tiles used by the demo: EPSG code and upper-left corner of the Sentinel-2 tile.
TILES: dict[str, tuple[int, float, float]] = {
    "40KCB": (32740, 300000.0, 7700020.0),  # Réunion
    "38KQE": (32738, 699960.0, 7800040.0),  # Madagascar
    "40KEC": (32740, 499980.0, 7800040.0),  # Mauritius (open sea around it)
}
QUICKLOOK_M = 100.0  # Sen2Chain writes quicklooks at 100 m whatever the index's pixel size (docs: sen2chain.md)


@dataclass
class ProductSpec:
    """One product folder to write: ``INDICES/<index>/<tile>/<product id>/``."""

    index: str
    tile: str
    sensing: datetime
    satellite: str = "S2A"
    baseline: str = "0211"
    orbit: int = 134
    masks: tuple[str, ...] = ("CM001",)
    quicklook: bool = True
    resolution: float = 180.0
    swath: str = "full"  # "full" or "partial" (valid data only east of a slanted swath edge)
    cloud_fraction: float = 0.2
    ext: str = ".jp2"
    sidecar: bool = True
    truncate: str | None = None  # None, "index" or a mask name: that raster is cut in half
    extra_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def product_id(self) -> str:
        """The L2A product id (discriminator = sensing time + 2 s, as ESA's)."""
        t = self.sensing
        disc = (t + timedelta(seconds=2)).strftime("%Y%m%dT%H%M%S")
        return f"{self.satellite}_MSIL2A_{t:%Y%m%dT%H%M%S}_N{self.baseline}_R{self.orbit:03d}_T{self.tile}_{disc}"

    @property
    def folder(self) -> str:
        """Path of the product folder relative to the INDICES root."""
        return f"{self.index}/{self.tile}/{self.product_id}"


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("/".join(parts).encode(), digest_size=4).digest(), "little")


def tile_grid(tile: str, resolution: float) -> tuple[int, rasterio.Affine, int]:
    """Pixel count per side, affine transform and EPSG of ``tile`` at ``resolution`` metres."""
    epsg, ulx, uly = TILES[tile]
    n = round(TILE_SIZE_M / resolution)
    return n, from_origin(ulx, uly, TILE_SIZE_M / n, TILE_SIZE_M / n), epsg


def index_values(spec: ProductSpec, n: int) -> np.ndarray:
    """A smooth synthetic index field (×10000): land with a seasonal cycle, sea below zero."""
    yy, xx = np.mgrid[0:n, 0:n] / n
    island = np.exp(-(((xx - 0.45) / 0.28) ** 2 + ((yy - 0.55) / 0.22) ** 2))
    doy = spec.sensing.timetuple().tm_yday
    season = 0.15 * math.sin(2 * math.pi * doy / 365.25)
    rng = np.random.default_rng(_seed(spec.product_id, spec.index))
    noise = rng.normal(0, 0.02, (n, n))
    phase = (_seed(spec.index) % 7) / 10
    field_ = np.where(island > 0.25, 0.25 + 0.6 * island + season - phase * 0.3, -0.3 + 0.1 * island) + noise
    values: np.ndarray = np.clip(np.round(field_ * 10000), -10000, 10000).astype(np.int16)
    return values


def swath_mask(spec: ProductSpec, n: int) -> np.ndarray:
    """True where the swath covers the tile; a partial swath keeps the part east of a slanted edge."""
    if spec.swath == "full":
        return np.ones((n, n), dtype=bool)
    yy, xx = np.mgrid[0:n, 0:n] / n
    inside: np.ndarray = xx > 0.35 + 0.25 * yy
    return inside


def cloud_mask(spec: ProductSpec, mask: str, n: int) -> np.ndarray:
    """True where ``mask`` flags clouds: blobs covering about ``cloud_fraction`` of the tile."""
    rng = np.random.default_rng(_seed(spec.product_id, mask))
    yy, xx = np.mgrid[0:n, 0:n] / n
    clouds = np.zeros((n, n), dtype=bool)
    while clouds.mean() < spec.cloud_fraction:
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.04, 0.12)
        clouds |= (xx - cx) ** 2 + (yy - cy) ** 2 < r**2
    return clouds


def _write(path: Path, data: np.ndarray, transform: rasterio.Affine, epsg: int, nodata: int, ext: str) -> None:
    count = 1 if data.ndim == 2 else data.shape[0]
    arr = data[np.newaxis] if data.ndim == 2 else data
    profile = dict(width=arr.shape[2], height=arr.shape[1], count=count, dtype=arr.dtype.name,
                   crs=f"EPSG:{epsg}", transform=transform, nodata=nodata)
    if ext == ".jp2":
        profile.update(driver="JP2OpenJPEG", QUALITY=20, REVERSIBLE="NO", RESOLUTIONS=4)
    else:
        profile.update(driver="GTiff", compress="deflate", tiled=True, blockxsize=256, blockysize=256)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(arr)


def nearest(data: np.ndarray, side: int) -> np.ndarray:
    """``data`` (rows, cols) resampled to ``side`` x ``side`` px by nearest pixel (up or down)."""
    rows = ((np.arange(side) + 0.5) * data.shape[0] / side).astype(int)
    cols = ((np.arange(side) + 0.5) * data.shape[1] / side).astype(int)
    out: np.ndarray = data[rows[:, None], cols[None, :]]
    return out


def quicklook_rgb(masked: np.ndarray, nodata: int) -> np.ndarray:
    """Sen2Chain-style 3-band 8-bit quicklook of a masked index (stretch −10000…10000, nodata 0)."""
    valid = masked != nodata
    v = np.clip((masked.astype("float32") + 10000) / 20000 * 254 + 1, 1, 255).astype(np.uint8)
    red = np.where(valid, 255 - v, 0)
    green = np.where(valid, v, 0)
    blue = np.where(valid, 128, 0)
    return np.stack([red, green, blue]).astype(np.uint8)


def write_product(indices_dir: Path, spec: ProductSpec) -> Path:
    """Write one product folder (raw, masked, quicklooks, sidecars) and return it."""
    folder = Path(indices_dir) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    n, transform, epsg = tile_grid(spec.tile, spec.resolution)
    raw = index_values(spec, n)
    raw[~swath_mask(spec, n)] = JP2_NODATA
    base = f"{spec.product_id}_{spec.index}"
    written = [(folder / f"{base}{spec.ext}", "index")]
    _write(written[0][0], raw, transform, epsg, JP2_NODATA, spec.ext)
    for mask in spec.masks:
        masked = raw.copy()
        masked[cloud_mask(spec, mask, n)] = JP2_NODATA
        path = folder / f"{base}_{mask}{spec.ext}"
        _write(path, masked, transform, epsg, JP2_NODATA, spec.ext)
        written.append((path, mask))
        if spec.quicklook:
            ql = quicklook_rgb(nearest(masked, round(TILE_SIZE_M / QUICKLOOK_M)), JP2_NODATA)
            ql_transform = transform @ transform.scale(n / ql.shape[2], n / ql.shape[1])
            _write(folder / f"{base}_{mask}_QL.tif", ql, ql_transform, epsg, 0, ".tif")
    if spec.sidecar:
        for path, _ in written:
            (folder / f"{path.name}.xml").write_text(_sidecar_xml(), encoding="utf-8")
    for name, payload in spec.extra_files.items():
        (folder / name).write_bytes(payload)
    for path, what in written:
        if spec.truncate == what:
            size = path.stat().st_size
            with open(path, "r+b") as f:
                f.truncate(size // 2)
    return folder


def _sidecar_xml() -> str:
    return (
        "<PAMDataset>\n  <Metadata>\n"
        '    <MDI key="SEN2CHAIN_VERSION">1.4.1</MDI>\n'
        '    <MDI key="SEN2CHAIN_PROCESSING_VERSION">1.0</MDI>\n'
        '    <MDI key="SEN2COR_VERSION">02.11</MDI>\n'
        "  </Metadata>\n</PAMDataset>\n"
    )


def demo_specs() -> list[ProductSpec]:
    """The demo tree: two tiles, three indices, five dates, one partial swath, one truncated raster."""
    dates = [datetime(2022, m, d, 6, 36, 11, tzinfo=timezone.utc) for m, d in ((1, 4), (3, 5), (6, 13), (9, 1), (11, 10))]
    specs = []
    for index in ("NDVI", "NDWIGAO", "MNDWI"):
        for tile, orbit in (("40KCB", 134), ("38KQE", 35)):
            for i, date in enumerate(dates):
                sensing = date if tile == "40KCB" else date + timedelta(days=2, minutes=33)
                specs.append(ProductSpec(
                    index=index, tile=tile, sensing=sensing, orbit=orbit,
                    satellite="S2A" if i % 2 == 0 else "S2B",
                    masks=("CM001", "CM003-PRB1-ITER5") if index == "NDVI" else ("CM001",),
                    swath="partial" if (tile == "38KQE" and i == 2) else "full",
                    truncate="CM001" if (index == "NDWIGAO" and tile == "40KCB" and i == 4) else None,
                ))
    return specs


def write_tree(indices_dir: str | os.PathLike[str], specs: list[ProductSpec], stray: bool = True) -> Path:
    """Write ``specs`` under ``indices_dir`` (plus a few stray files, like a real server) and return it."""
    root = Path(indices_dir)
    root.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        write_product(root, spec)
    if stray:
        (root / "README.txt").write_text("Sen2Chain indices\n", encoding="utf-8")
        first = specs[0]
        (root / first.index / first.tile / "Thumbs.db").write_bytes(b"\0" * 16)
        (root / first.folder / "notes.txt").write_text("checked by hand\n", encoding="utf-8")
    return root


def write_demo_tree(indices_dir: str | os.PathLike[str]) -> Path:
    """Write the demo tree under ``indices_dir``."""
    return write_tree(indices_dir, demo_specs())

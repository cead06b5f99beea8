#!/usr/bin/env python
"""Benchmark the compression of the index COGs (``cog.compression``) against the JPEG2000 they convert.

Writes one realistic Sen2Chain product with the demo writer (int16 NDVI-like field, partial swath, CM001
clouds as nodata 16383, lossy JPEG2000 QUALITY=20 as Sen2Chain's), measures the JPEG2000's own loss
against the lossless array it was encoded from, then converts its cloud-masked raster with the ``cog``
step's own writer (:func:`sen2val_stac.derive.cog.write_cog`) under each compression:

- deflate + horizontal predictor (the default), zstd + predictor at levels 1, 9 (GDAL's default) and 15;
- LERC with ``max_z_error`` 0 (lossless), and matched to the JPEG2000's loss (its 99th percentile and its
  maximum absolute error on valid pixels).

Reported per variant: size against the JPEG2000, write time, max absolute error against the JPEG2000's
decode (what the COG is meant to reproduce), nodata pixels lost or gained, and the median time of 1024 x 1024
window reads (cold GDAL cache, warm page cache), with the JPEG2000's own window read as the floor. Then the
same compressions over every index and masked raster of the demo tree (sizes summed).

    python scripts/bench_cog_compression.py --resolution 10 --workdir /tmp/sen2val-bench-cog
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from sen2val_stac.demo.tree import (
    JP2_NODATA,
    ProductSpec,
    cloud_mask,
    index_values,
    swath_mask,
    tile_grid,
    write_demo_tree,
    write_product,
)
from sen2val_stac.derive.cog import Job, cog_settings, write_cog

SPEC = ProductSpec(index="NDVI", tile="40KCB", sensing=datetime(2022, 1, 4, 6, 36, 11, tzinfo=timezone.utc),
                   swath="partial", quicklook=False, sidecar=False)
WINDOW = 1024


def source_array(spec: ProductSpec) -> np.ndarray:
    """The lossless CM001-masked array the demo writer encodes as JPEG2000 (same functions, same seeds)."""
    n, _, _ = tile_grid(spec.tile, spec.resolution)
    data = index_values(spec, n)
    data[~swath_mask(spec, n)] = JP2_NODATA
    data[cloud_mask(spec, "CM001", n)] = JP2_NODATA
    return data


def jp2_loss(jp2: Path, source: np.ndarray) -> dict[str, float]:
    """The JPEG2000's absolute error against its source on pixels valid in both: max, p99, mean."""
    with rasterio.open(jp2) as ds:
        decoded = ds.read(1)
    valid = (source != JP2_NODATA) & (decoded != JP2_NODATA)
    err = np.abs(decoded.astype(np.int32) - source)[valid]
    return {"max": float(err.max()), "p99": float(np.percentile(err, 99)), "mean": float(err.mean()),
            "nodata_changed": int(((source == JP2_NODATA) != (decoded == JP2_NODATA)).sum())}


def variants(loss: dict[str, float]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """``(label, cog settings, creation options)`` of every variant measured."""
    p99, top = max(1, round(loss["p99"])), max(1, round(loss["max"]))
    return [
        ("deflate + predictor 2 (default)", {"compression": "deflate"}, {}),
        ("zstd level 1 + predictor 2", {"compression": "zstd"}, {"zstd_level": 1}),
        ("zstd level 9 + predictor 2", {"compression": "zstd"}, {"zstd_level": 9}),
        ("zstd level 15 + predictor 2", {"compression": "zstd"}, {"zstd_level": 15}),
        ("LERC max_z_error 0", {"compression": "lerc", "max_z_error": 0}, {}),
        (f"LERC max_z_error {p99} (JP2 p99 error)", {"compression": "lerc", "max_z_error": p99}, {}),
        (f"LERC max_z_error {top} (JP2 max error)", {"compression": "lerc", "max_z_error": top}, {}),
    ]


def window_read_s(path: Path, repeats: int = 5) -> float:
    """Median seconds to read one ``WINDOW`` x ``WINDOW`` window (a new dataset each time: no block cache)."""
    times = []
    with rasterio.open(path) as ds:
        w, h = ds.width, ds.height
    size = min(WINDOW, w, h)
    rng = np.random.default_rng(12)
    for _ in range(repeats):
        col, row = int(rng.integers(0, w - size + 1)), int(rng.integers(0, h - size + 1))
        with rasterio.Env(GDAL_CACHEMAX=64, GDAL_NUM_THREADS="1"), rasterio.open(path) as ds:
            start = time.perf_counter()
            ds.read(1, window=Window(col, row, size, size))
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def convert(jp2: Path, dest: Path, cog: dict[str, Any], creation: dict[str, Any]) -> tuple[float, int]:
    """Write the COG of ``jp2`` with the ``cog`` step's writer; ``(seconds, bytes)``."""
    settings = cog_settings({"cog": {"indices": True, **cog}})
    with rasterio.open(jp2) as ds:
        nodata = ds.nodata
    job = Job("bench", "index-cog", "index", str(jp2), str(dest), False, "", nodata)
    start = time.perf_counter()
    facts = write_cog(job, settings, creation)
    return time.perf_counter() - start, int(facts["size"])


def errors(cog: Path, jp2: Path) -> tuple[int, int]:
    """Max absolute error of the COG against the JPEG2000's decode, and pixels whose nodata-ness changed."""
    with rasterio.open(cog) as c, rasterio.open(jp2) as j:
        a, b = c.read(1).astype(np.int32), j.read(1).astype(np.int32)
    valid = (a != JP2_NODATA) & (b != JP2_NODATA)
    err = int(np.abs(a - b)[valid].max()) if valid.any() else 0
    return err, int(((a == JP2_NODATA) != (b == JP2_NODATA)).sum())


def bench_one(workdir: Path, resolution: float) -> tuple[str, list[tuple[str, dict[str, Any], dict[str, Any]]]]:
    """The table for one realistic raster at ``resolution`` metres, and the variants (for the demo tree)."""
    spec = ProductSpec(**{**SPEC.__dict__, "resolution": resolution})
    tree = workdir / f"tree-{resolution:g}m"
    folder = tree / spec.folder
    jp2 = folder / f"{spec.product_id}_{spec.index}_CM001.jp2"
    if not jp2.exists():
        print(f"writing the {resolution:g} m product (lossy JPEG2000) ...", file=sys.stderr)
        write_product(tree, spec)
    loss = jp2_loss(jp2, source_array(spec))
    with rasterio.open(jp2) as ds:
        shape = f"{ds.width} x {ds.height}"
    jp2_size = jp2.stat().st_size
    jp2_read = window_read_s(jp2)
    rows = [f"JPEG2000 (QUALITY=20, lossy): {jp2_size / 1e6:.1f} MB for {shape} px int16 ({resolution:g} m); "
            f"its error against the lossless source on valid pixels: max {loss['max']:.0f}, p99 {loss['p99']:.0f}, "
            f"mean {loss['mean']:.1f} (int16 units, x 0.0001 NDVI); nodata pixels changed {loss['nodata_changed']}.",
            "",
            "| COG compression | size | size / JP2 | write s | max abs error vs JP2 | nodata changed | "
            f"{WINDOW}-px window read ms | read / JP2 read |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            f"| JPEG2000 (the source) | {jp2_size / 1e6:.1f} MB | 1.00 | | | | {jp2_read * 1e3:.1f} | 1.00 |"]
    chosen = variants(loss)
    for label, cog, creation in chosen:
        dest = workdir / f"cog-{resolution:g}m-{label.split(' (')[0].replace(' ', '_').replace('+', '')}.tif"
        print(f"{label} ...", file=sys.stderr)
        seconds, size = convert(jp2, dest, cog, creation)
        err, nodata_changed = errors(dest, jp2)
        read = window_read_s(dest)
        rows.append(f"| {label} | {size / 1e6:.1f} MB | {size / jp2_size:.2f} | {seconds:.1f} | {err} | "
                    f"{nodata_changed} | {read * 1e3:.1f} | {read / jp2_read:.2f} |")
        dest.unlink()
    return "\n".join(rows), chosen


def bench_demo(workdir: Path, chosen: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> str:
    """Summed sizes over the demo tree's index and masked rasters (180 m, 610 x 610 px)."""
    tree = workdir / "demo-INDICES"
    if not tree.exists():
        write_demo_tree(tree)
    rasters = []
    for path in sorted(tree.rglob("*.jp2")):
        try:
            with rasterio.open(path) as ds:
                ds.read(1, out_shape=(1, 8, 8))
            rasters.append(path)
        except rasterio.errors.RasterioIOError:  # the demo's truncated raster
            continue
    jp2_total = sum(p.stat().st_size for p in rasters)
    rows = [f"Demo tree: {len(rasters)} JPEG2000 rasters (index and masked, 180 m), {jp2_total / 1e6:.2f} MB.", "",
            "| COG compression | total size | size / JP2 | write s | max abs error vs JP2 |", "|---|---:|---:|---:|---:|"]
    for label, cog, creation in chosen:
        if "JP2" in label:  # the matched LERC levels belong to the 10 m raster's loss
            continue
        total, seconds, worst = 0, 0.0, 0
        for i, jp2 in enumerate(rasters):
            dest = workdir / f"demo-{i}.tif"
            s, size = convert(jp2, dest, cog, creation)
            total, seconds, worst = total + size, seconds + s, max(worst, errors(dest, jp2)[0])
            dest.unlink()
        rows.append(f"| {label} | {total / 1e6:.2f} MB | {total / jp2_total:.2f} | {seconds:.1f} | {worst} |")
    return "\n".join(rows)


def main() -> None:
    """Print the markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=float, default=10.0, help="pixel size of the product, m (10: 10980 px)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sen2val-bench-cog"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GDAL_NUM_THREADS", "1")
    table, chosen = bench_one(args.workdir, args.resolution)
    print(table)
    print()
    print(bench_demo(args.workdir, chosen))


if __name__ == "__main__":
    main()

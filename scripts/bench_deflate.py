#!/usr/bin/env python
"""Benchmark the deflate of NetCDF chunks: zlib (what HDF5 and ``to_netcdf`` use) against libdeflate (what
``sen2val-stac netcdf`` uses), level by level, on the chunks the exporter writes.

Reads one 1024-px row of a 10 m index raster (generated with the demo writer unless --raster is given), cuts it
into the exporter's chunks (8 dates x 256 x 256 int16: the row repeated over the dates, as the benchmarks'
hard-linked series are), shuffles each as HDF5 does, and times each codec in one thread: MB/s of raw chunk
bytes and the stored size as a share of the raw bytes. The floor is a copy of the same bytes (``bytearray``).
Each codec is run --repeat times, alternated, and the best is kept.

    python scripts/bench_deflate.py --workdir /tmp/sen2val-deflate
    python scripts/bench_deflate.py --raster /path/to/S2A_..._NDVI.jp2 --levels 1,2,4,6
"""

from __future__ import annotations

import argparse
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import deflate
import numpy as np
import rasterio

from sen2val_stac.demo.tree import ProductSpec, write_product
from sen2val_stac.derive.netcdf.encode import ChunkCodec

CHUNK = (8, 256, 256)


def sample_raster(workdir: Path) -> Path:
    """A 10 m NDVI raster from the demo writer (cached in ``workdir``)."""
    spec = ProductSpec(index="NDVI", tile="40KCB", sensing=datetime(2019, 1, 3, 6, 36, 11, tzinfo=timezone.utc),
                       resolution=10, masks=(), quicklook=False, sidecar=False)
    folder = workdir / spec.folder
    if not folder.is_dir():
        folder = write_product(workdir, spec)
    return folder / f"{spec.product_id}_NDVI.jp2"


def chunks_of(path: Path) -> list[bytes]:
    """The shuffled bytes of every whole NetCDF chunk of one 1024-px row of ``path`` (the exporter's own
    :meth:`ChunkCodec.filtered`)."""
    with rasterio.open(path) as src:
        row = src.read(1, window=((0, 1024), (0, src.width)))
    codec = ChunkCodec(CHUNK, row.dtype, 0, shuffle=True, level=1)
    block = np.broadcast_to(row, (CHUNK[0], *row.shape))
    return [codec.filtered(block[:, y:y + CHUNK[1], x:x + CHUNK[2]])
            for y in range(0, row.shape[0] - CHUNK[1] + 1, CHUNK[1])
            for x in range(0, row.shape[1] - CHUNK[2] + 1, CHUNK[2])]


def best_time(compress: Callable[[bytes], bytes | bytearray], chunks: list[bytes],
              repeat: int) -> tuple[float, int]:
    """Best seconds over ``repeat`` runs, and the total stored bytes."""
    best, size = float("inf"), 0
    for _ in range(repeat):
        t = time.perf_counter()
        size = sum(len(compress(c)) for c in chunks)
        best = min(best, time.perf_counter() - t)
    return best, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raster", type=Path, help="an index raster (default: a generated 10 m NDVI)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sen2val-deflate"))
    parser.add_argument("--levels", default="1,2,4,6")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chunks = chunks_of(args.raster or sample_raster(args.workdir))
    raw = sum(len(c) for c in chunks)
    levels = [int(v) for v in args.levels.split(",")]
    codecs: list[tuple[str, Callable[[bytes], bytes | bytearray]]] = [("floor: copy (bytearray)", bytearray)]
    for level in levels:
        codecs.append((f"zlib {level}", lambda c, lv=level: zlib.compress(c, lv)))
        codecs.append((f"libdeflate {level}", lambda c, lv=level: deflate.zlib_compress(c, lv)))
    results = {name: best_time(fn, chunks, args.repeat) for name, fn in codecs}
    zlib_default = results.get("zlib 4")
    print(f"{len(chunks)} chunks of {CHUNK} int16, shuffled: {raw / 1e6:.1f} MB, one thread, best of {args.repeat}")
    print("| codec | MB/s | stored / raw | vs zlib 4 (speed) |")
    print("|---|---:|---:|---:|")
    for name, (seconds, size) in results.items():
        ratio = f"{zlib_default[0] / seconds:.1f}x" if zlib_default else "–"
        print(f"| {name} | {raw / seconds / 1e6:,.0f} | {size / raw:.3f} | {ratio} |")


if __name__ == "__main__":
    main()

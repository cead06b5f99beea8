#!/usr/bin/env python
"""Benchmark `sen2val-stac netcdf` against a plain rioxarray concat of the same files, and the decode floor.

Writes five JPEG2000 products at --resolution (60 m: 1830 x 1830 px; 10 m: 10980 x 10980 px) and hard-links
them under as many product ids as --dates asks (every file is still decoded per date), indexes them (cached in
--workdir), then runs each exporter in its own process and reports wall time, throughput (MB of source int16
pixels per second) and peak resident memory, beside the floor: decoding every source pixel once (rasterio,
GDAL's default decoding threads), nothing written. Several series lengths (--dates 25,50) show whether peak
memory depends on the series length. For the first length: the no-op re-run and, for a few NetCDF chunkings,
the export time, the file size and the two read patterns (one whole map; whole pixel time series).

    python scripts/bench_netcdf.py --dates 100 --workdir /tmp/sen2val-nc-bench
    python scripts/bench_netcdf.py --resolution 10 --dates 25,50 --chunkings 8,256,256
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import netCDF4

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_product

START = datetime(2019, 1, 3, 6, 36, 11, tzinfo=timezone.utc)

OURS = """
import resource, sys
from sen2val_stac.cli import main
code = main(["netcdf", sys.argv[1], "--out", sys.argv[2], "--asset", "index", *sys.argv[3:]])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)
"""
FLOOR = """
import json, resource, sys
import rasterio
for f in json.loads(open(sys.argv[1]).read()):
    with rasterio.open(f["path"]) as src:
        src.read(1)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""
BASELINE = """
import json, resource, sys
import pandas as pd, rioxarray, xarray as xr
files = json.loads(open(sys.argv[1]).read())
arrays = [rioxarray.open_rasterio(f["path"]).squeeze("band", drop=True) for f in files]
times = pd.to_datetime([f["time"] for f in files])
cube = xr.concat(arrays, dim=pd.Index(times, name="time"))
cube.to_dataset(name="ndvi").to_netcdf(sys.argv[2], encoding={"ndvi": {"zlib": True, "complevel": 4}})
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 0)
"""


def make_series(work: Path, dates: int, resolution: float) -> tuple[Path, list[dict]]:
    tree = work / f"INDICES-{resolution:g}m-{dates}"
    specs = [ProductSpec(index="NDVI", tile="40KCB", sensing=START + timedelta(days=5 * i), resolution=resolution,
                         masks=(), quicklook=False, sidecar=False) for i in range(dates)]
    if not tree.exists():
        tmp = work / f"tree-{resolution:g}m.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        cache = work / f"templates-{resolution:g}m"
        templates = [cache / s.folder if (cache / s.folder).is_dir() else write_product(cache, s) for s in specs[:5]]
        for i, spec in enumerate(specs):
            src, tpl = templates[i % 5], specs[i % 5]
            dest = tmp / "INDICES" / spec.folder
            dest.mkdir(parents=True)
            for f in os.listdir(src):
                os.link(src / f, dest / f.replace(tpl.product_id, spec.product_id))
        (tmp / "INDICES").rename(tree)
        shutil.rmtree(tmp)
    files = [{"path": str(tree / s.folder / f"{s.product_id}_NDVI.jp2"),
              "time": s.sensing.replace(tzinfo=None).isoformat()} for s in specs]
    return tree, files


def run(script: str, *args: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of ``script`` run in a fresh interpreter."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t
    rss_kb, code = out.stdout.strip().splitlines()[-1].split()
    assert code == "0", out.stdout + out.stderr
    return seconds, int(rss_kb)


def read_patterns(path: Path, maps: int = 5, pixels: int = 20) -> tuple[float, float]:
    """Mean seconds to read one whole map (one date) and one whole pixel time series, file reopened each time."""
    with netCDF4.Dataset(path) as nc:
        name = next(v for v in nc.variables if nc[v].ndim == 3)
        nt, ny, nx = nc[name].shape
    rng = random.Random(0)
    map_s, pixel_s = [], []
    for t in rng.sample(range(nt), min(maps, nt)):
        with netCDF4.Dataset(path) as nc:
            start = time.perf_counter()
            nc[name][t, :, :]
            map_s.append(time.perf_counter() - start)
    for _ in range(pixels):
        y, x = rng.randrange(ny), rng.randrange(nx)
        with netCDF4.Dataset(path) as nc:
            start = time.perf_counter()
            nc[name][:, y, x]
            pixel_s.append(time.perf_counter() - start)
    return sum(map_s) / len(map_s), sum(pixel_s) / len(pixel_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dates", default="100", help="series lengths, comma-separated (e.g. 25,50)")
    parser.add_argument("--resolution", type=float, default=60.0)
    parser.add_argument("--workdir", default="/tmp/sen2val-nc-bench")
    parser.add_argument("--chunkings", default="8,256,256;16,256,256;1,1024,1024;32,128,128",
                        help="NetCDF chunkings T,Y,X to compare, separated by ';' (the first is the default)")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    n = round(109_800 / args.resolution)
    summary = []
    for d, dates in enumerate(int(v) for v in args.dates.split(",")):
        tree, files = make_series(work, dates, args.resolution)
        catalog = work / f"catalog-{args.resolution:g}m-{dates}"
        index_tree(str(tree), str(catalog), load_config(None), progress=False)
        megabytes = dates * n * n * 2 / 1e6
        listing = work / f"files-{dates}.json"
        listing.write_text(json.dumps(files))
        print(f"\n{dates} dates of {n} x {n} px int16 = {megabytes:.0f} MB of source pixels")
        floor_s, floor_kb = run(FLOOR, str(listing))
        print(f"floor: decode every pixel once         {floor_s:6.1f} s  {megabytes / floor_s:6.1f} MB/s  "
              f"peak {floor_kb / 1024:6.0f} MiB")
        rows = []
        chunkings = args.chunkings.split(";") if d == 0 else args.chunkings.split(";")[:1]
        for k, chunking in enumerate(chunkings):
            out = work / f"out-{dates}-{chunking.replace(',', 'x')}"
            shutil.rmtree(out, ignore_errors=True)
            seconds, kb = run(OURS, str(catalog), str(out), "--chunks", chunking)
            if k == 0:
                print(f"sen2val-stac netcdf (stackstac, dask)  {seconds:6.1f} s  {megabytes / seconds:6.1f} MB/s  "
                      f"peak {kb / 1024:6.0f} MiB  ({floor_s / seconds:.2f}x the floor's throughput)")
                ours_s, ours_kb = seconds, kb
                if d == 0:
                    again_s, _ = run(OURS, str(catalog), str(out), "--chunks", chunking)
                    print(f"no-op re-run                           {again_s:6.1f} s (process start and imports included)")
            (nc,) = out.glob("*.nc")
            if len(chunkings) > 1:
                rows.append((f"{chunking} (sen2val-stac)", seconds, nc.stat().st_size, *read_patterns(nc)))
            shutil.rmtree(out, ignore_errors=True) if n > 5000 else None
        base_s = base_kb = None
        if not args.skip_baseline:
            base_s, base_kb = run(BASELINE, str(listing), str(work / "baseline.nc"))
            print(f"rioxarray open + xr.concat + to_netcdf {base_s:6.1f} s  {megabytes / base_s:6.1f} MB/s  "
                  f"peak {base_kb / 1024:6.0f} MiB")
            print(f"-> {base_s / ours_s:.2f}x the concat's throughput, {100 * ours_kb / base_kb:.0f} % of its memory")
            if len(chunkings) > 1:
                with netCDF4.Dataset(work / "baseline.nc") as ds:
                    default_chunks = ",".join(str(c) for c in ds["ndvi"].chunking())
                rows.append((f"{default_chunks} (concat, netCDF default)", base_s,
                             (work / "baseline.nc").stat().st_size, *read_patterns(work / "baseline.nc")))
            (work / "baseline.nc").unlink()
        summary.append((dates, megabytes, floor_s, ours_s, ours_kb, base_s, base_kb))
        if rows:
            print("\n| chunks T,Y,X | export s | file MB | one map ms | one pixel series ms |\n|---|---:|---:|---:|---:|")
            for name, seconds, size, map_s, pixel_s in rows:
                print(f"| {name} | {seconds:.1f} | {size / 1e6:.0f} | {map_s * 1000:.0f} | {pixel_s * 1000:.1f} |")
    print(f"\n| dates ({n} px) | source MB | floor s | sen2val-stac s | peak MiB | concat s | peak MiB | "
          "vs floor | vs concat | memory vs concat |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for dates, mb, floor_s, ours_s, ours_kb, base_s, base_kb in summary:
        concat = (f"{base_s:.1f} | {base_kb / 1024:,.0f} | " if base_s else "– | – | ")
        ratios = (f"{base_s / ours_s:.2f}x | {100 * ours_kb / base_kb:.0f} %" if base_s else "– | –")
        print(f"| {dates} | {mb:,.0f} | {floor_s:.1f} | {ours_s:.1f} | {ours_kb / 1024:,.0f} | {concat}"
              f"{floor_s / ours_s:.2f}x | {ratios} |")


if __name__ == "__main__":
    main()

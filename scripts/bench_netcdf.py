#!/usr/bin/env python
"""Benchmark `sen2val-stac netcdf` against a plain rioxarray concat of the same files, and the decode floor.

Writes five JPEG2000 products at --resolution (60 m: 1830 x 1830 px; 10 m: 10980 x 10980 px) and hard-links
them under as many product ids as --dates asks (every file is still decoded per date), indexes them (cached in
--workdir), then runs each exporter in its own process and reports wall time, throughput (MB of source int16
pixels per second) and peak resident memory, beside the floor: decoding every source pixel once (rasterio,
GDAL's default decoding threads), nothing written. Several series lengths (--dates 25,50) show whether peak
memory depends on the series length. For the first length: the no-op re-run and, for a few NetCDF chunkings,
the export time, the file size and the two read patterns (one whole map; whole pixel time series).

The concat holds the whole cube in memory (~240 MB a date at 10 m, plus copies): --baseline-dates runs it at
its own, shorter lengths, under --memory-cap GiB of resident memory (the process is killed above it), and the
summary extrapolates its memory linearly (slope per date) and its throughput to the longer series, marked "~".

    python scripts/bench_netcdf.py --dates 100 --workdir /tmp/sen2val-nc-bench
    python scripts/bench_netcdf.py --resolution 10 --dates 25,50 --baseline-dates 5,7 --chunkings 8,256,256
    python scripts/bench_netcdf.py --resolution 10 --quick
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
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import netCDF4
import numpy as np
import psutil

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_product

START = datetime(2019, 1, 3, 6, 36, 11, tzinfo=timezone.utc)

# Peak RSS of this process's own memory (VmHWM, KiB). Not ru_maxrss: Linux carries the parent's high-water
# mark over fork + exec, so a child of a big parent (one that just wrote the 10 m templates) reports the parent's.
HWM = "_HWM = lambda: next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"

OURS = HWM + """
import resource, sys
from sen2val_stac.cli import main
code = main(["netcdf", sys.argv[1], "--out", sys.argv[2], "--asset", "index", *sys.argv[3:]])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(_HWM(), usage.ru_utime + usage.ru_stime, code)
"""
FLOOR = HWM + """
import json, resource, sys
import rasterio
for f in json.loads(open(sys.argv[1]).read()):
    with rasterio.open(f["path"]) as src:
        src.read(1)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(_HWM(), usage.ru_utime + usage.ru_stime, 0)
"""
BASELINE = HWM + """
import json, resource, sys
import pandas as pd, rioxarray, xarray as xr
files = json.loads(open(sys.argv[1]).read())
arrays = [rioxarray.open_rasterio(f["path"]).squeeze("band", drop=True) for f in files]
times = pd.to_datetime([f["time"] for f in files])
cube = xr.concat(arrays, dim=pd.Index(times, name="time"))
cube.to_dataset(name="ndvi").to_netcdf(sys.argv[2], encoding={"ndvi": {"zlib": True, "complevel": 4}})
usage = resource.getrusage(resource.RUSAGE_SELF)
print(_HWM(), usage.ru_utime + usage.ru_stime, 0)
"""


def make_series(work: Path, dates: int, resolution: float) -> tuple[Path, list[dict[str, str]]]:
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


@dataclass
class Measure:
    """One exporter's run in its own process."""

    seconds: float
    cpu: float
    rss_kb: int

    def line(self, label: str, megabytes: float, floor: Measure | None = None) -> str:
        """``label  s  MB/s  CPU  peak`` (and the ratio to the floor's throughput)."""
        text = (f"{label:<40} {self.seconds:6.1f} s  {megabytes / self.seconds:6.1f} MB/s  CPU {self.cpu:6.1f} s  "
                f"peak {self.rss_kb / 1024:6.0f} MiB")
        return text + (f"  ({floor.seconds / self.seconds:.2f}x the floor's throughput)" if floor else "")


def run(script: str, *args: str, cap_gib: float | None = None) -> Measure | None:
    """Wall seconds, CPU seconds and peak RSS (KiB) of ``script`` run in a fresh interpreter; with ``cap_gib``
    the process is killed (None returned) when its resident memory exceeds that many GiB."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    killed = cap_gib is not None and _watch(proc, int(cap_gib * 2**30))
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - t
    if killed:
        print(f"  killed: resident memory above the {cap_gib:g} GiB cap after {seconds:.0f} s")
        return None
    if proc.returncode:
        raise RuntimeError(f"exit {proc.returncode}: {stderr[-2000:]}")
    rss_kb, cpu, code = stdout.strip().splitlines()[-1].split()
    assert code == "0", stdout + stderr
    return Measure(seconds, float(cpu), int(rss_kb))


def _watch(proc: subprocess.Popen[str], cap: int) -> bool:
    """Poll ``proc``'s resident memory until it exits; kill it (True) when above ``cap`` bytes."""
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            if watched.memory_info().rss > cap:
                proc.kill()
                return True
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return False


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
    parser.add_argument("--baseline-dates", help="series lengths for the concat (default: --dates)")
    parser.add_argument("--memory-cap", type=float, default=6.0,
                        help="GiB of resident memory above which the concat is killed (default 6)")
    parser.add_argument("--resolution", type=float, default=60.0)
    parser.add_argument("--workdir", default="/tmp/sen2val-nc-bench")
    parser.add_argument("--chunkings", default="8,256,256;16,256,256;1,1024,1024;32,128,128",
                        help="NetCDF chunkings T,Y,X to compare, separated by ';' (the first is the default)")
    parser.add_argument("--complevels", default="",
                        help="deflate levels to compare for the first length, comma-separated (e.g. 1,4; the first"
                             " run uses the configured default)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--floor-dates", help="series lengths at which the floor is measured (default: every length;"
                        " elsewhere its throughput at the longest of these, marked ~)")
    parser.add_argument("--quick", action="store_true",
                        help="a check of the script: 3 dates, concat at 2 and 3 dates, the first chunking only")
    args = parser.parse_args()
    if args.quick:
        args.dates, args.baseline_dates, args.chunkings = "3", "2,3", args.chunkings.split(";")[0]
        args.floor_dates = "3"
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    n = round(109_800 / args.resolution)
    date_mb = n * n * 2 / 1e6
    lengths = [int(v) for v in args.dates.split(",") if v]
    floor_lengths = [int(v) for v in (args.dates if args.floor_dates is None else args.floor_dates).split(",") if v]
    base_lengths = [] if args.skip_baseline else [int(v) for v in (args.baseline_dates or args.dates).split(",") if v]
    ours: dict[int, Measure] = {}
    floors: dict[int, Measure] = {}
    concat: dict[int, Measure] = {}
    for dates in sorted(set(lengths) | set(base_lengths) | set(floor_lengths)):
        tree, files = make_series(work, dates, args.resolution)
        catalog = work / f"catalog-{args.resolution:g}m-{dates}"
        index_tree(str(tree), str(catalog), load_config(None), progress=False)
        megabytes = dates * date_mb
        listing = work / f"files-{dates}.json"
        listing.write_text(json.dumps(files))
        print(f"\n{dates} dates of {n} x {n} px int16 = {megabytes:,.0f} MB of source pixels", flush=True)
        if dates in floor_lengths:
            floors[dates] = floor = _required(run(FLOOR, str(listing)))
            print(floor.line("floor: decode every pixel once", megabytes), flush=True)
        if dates in lengths:
            ours[dates] = _ours(catalog, work, dates, args.chunkings, first=dates == lengths[0],
                                megabytes=megabytes, floor=floors.get(dates), large=n > 5000)
            if dates == lengths[0] and args.complevels:
                _levels(catalog, work, dates, [int(v) for v in args.complevels.split(",")], megabytes)
        if dates in base_lengths:
            base = run(BASELINE, str(listing), str(work / "baseline.nc"), cap_gib=args.memory_cap)
            if base:
                concat[dates] = base
                print(base.line("rioxarray open + xr.concat + to_netcdf", megabytes), flush=True)
                print(f"  its file: {(work / 'baseline.nc').stat().st_size / 1e6:,.0f} MB (zlib 4, no shuffle)")
                if dates in ours:
                    print(f"-> {base.seconds / ours[dates].seconds:.2f}x the concat's throughput, "
                          f"{100 * ours[dates].rss_kb / base.rss_kb:.0f} % of its memory")
            (work / "baseline.nc").unlink(missing_ok=True)
    _summary(n, date_mb, ours, floors, concat)


def _required(measure: Measure | None) -> Measure:
    assert measure is not None
    return measure


def _ours(catalog: Path, work: Path, dates: int, chunkings_arg: str, first: bool, megabytes: float,
          floor: Measure | None, large: bool) -> Measure:
    """Export the series with each chunking (the default's no-op re-run for the first length) and print the
    chunking table; the default chunking's measure."""
    chunkings = chunkings_arg.split(";") if first else chunkings_arg.split(";")[:1]
    rows = []
    measure = None
    for k, chunking in enumerate(chunkings):
        out = work / f"out-{dates}-{chunking.replace(',', 'x')}"
        shutil.rmtree(out, ignore_errors=True)
        this = _required(run(OURS, str(catalog), str(out), "--chunks", chunking))
        if k == 0:
            measure = this
            print(this.line("sen2val-stac netcdf (stackstac, dask)", megabytes, floor), flush=True)
            if first:
                again = _required(run(OURS, str(catalog), str(out), "--chunks", chunking))
                print(f"no-op re-run                             {again.seconds:6.1f} s (process start and imports "
                      "included)")
        (nc,) = out.glob("*.nc")
        if len(chunkings) > 1:
            rows.append((f"{chunking} (sen2val-stac)", this.seconds, nc.stat().st_size, *read_patterns(nc)))
        if large:
            shutil.rmtree(out, ignore_errors=True)
    if rows:
        print("\n| chunks T,Y,X | export s | file MB | one map ms | one pixel series ms |\n|---|---:|---:|---:|---:|")
        for name, seconds, size, map_s, pixel_s in rows:
            print(f"| {name} | {seconds:.1f} | {size / 1e6:.0f} | {map_s * 1000:.0f} | {pixel_s * 1000:.1f} |")
    return _required(measure)


def _levels(catalog: Path, work: Path, dates: int, levels: list[int], megabytes: float) -> None:
    """Export the series at each deflate level (config ``netcdf.complevel``) and print time and file size."""
    print("\n| complevel | export s | CPU s | MB/s | file MB |\n|---:|---:|---:|---:|---:|")
    for level in levels:
        config = work / f"complevel-{level}.yaml"
        config.write_text(f"netcdf:\n  complevel: {level}\n")
        out = work / f"out-{dates}-level{level}"
        shutil.rmtree(out, ignore_errors=True)
        this = _required(run(OURS, str(catalog), str(out), "--config", str(config)))
        (nc,) = out.glob("*.nc")
        print(f"| {level} | {this.seconds:.1f} | {this.cpu:.1f} | {megabytes / this.seconds:.1f} | "
              f"{nc.stat().st_size / 1e6:,.0f} |", flush=True)
        shutil.rmtree(out, ignore_errors=True)


def _summary(n: int, date_mb: float, ours: dict[int, Measure], floors: dict[int, Measure],
             concat: dict[int, Measure]) -> None:
    """Markdown table of every length: each contender's time, throughput and peak; ratios in the same run. The
    concat's figures at lengths it did not run are extrapolated (marked ~): its throughput at its longest
    measured length, its memory on the line through its measured peaks (one length: proportional)."""
    rss = {d: m.rss_kb / 1024 for d, m in concat.items()}
    if len(rss) > 1:
        slope, intercept = (float(v) for v in np.polyfit(list(rss), list(rss.values()), 1))
    elif rss:
        ((d0, r0),) = rss.items()
        slope, intercept = r0 / d0, 0.0
    if rss:
        print(f"\nconcat memory: {slope:,.0f} MiB per date + {intercept:,.0f} MiB "
              f"(fitted on {', '.join(str(d) for d in rss)} dates)")
    print(f"\n| dates ({n} px) | source MB | contender | wall s | CPU s | MB/s | peak MiB | vs floor | vs concat "
          "(throughput) | memory vs concat |\n|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for dates in sorted(set(ours) | set(floors) | set(concat)):
        mb = dates * date_mb
        base = concat.get(dates)
        base_mbs = mb / base.seconds if base else (date_mb * max(concat) / concat[max(concat)].seconds
                                                   if concat else None)
        base_mib = base.rss_kb / 1024 if base else (intercept + slope * dates if rss else None)
        mark = "" if base else "~"
        floor = floors.get(dates)
        floor_mbs = mb / floor.seconds if floor else (date_mb * max(floors) / floors[max(floors)].seconds
                                                      if floors else None)
        fmark = "" if floor else "~"
        for label, m in (("floor", floor), ("sen2val-stac netcdf", ours.get(dates)), ("concat", base)):
            if m is None:
                continue
            mbs = mb / m.seconds
            vs_floor = f"{fmark}{mbs / floor_mbs:.2f}x" if floor_mbs else "–"
            vs_concat = f"{mark}{mbs / base_mbs:.2f}x" if base_mbs and label != "floor" else "–"
            vs_mem = f"{mark}{100 * m.rss_kb / 1024 / base_mib:.0f} %" if base_mib and label != "floor" else "–"
            print(f"| {dates} | {mb:,.0f} | {label} | {m.seconds:.1f} | {m.cpu:.1f} | {mbs:.1f} | "
                  f"{m.rss_kb / 1024:,.0f} | {vs_floor} | {vs_concat} | {vs_mem} |")
        if base is None and base_mib:
            print(f"| {dates} | {mb:,.0f} | concat (extrapolated) | | | ~{base_mbs:.1f} | ~{base_mib:,.0f} | | | |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark cloud-native access: the JPEG2000 index rasters against their COG views, over HTTP from ``serve``.

Writes one Sen2Chain product at 10 m (10980 x 10980 px int16 JPEG2000 as Sen2Chain's: GDAL JP2OpenJPEG, 1024-px
tiles, lossy, 4 resolution levels, nodata 16383), indexes it, runs ``cog`` with ``cog.indices: true`` (asset
``index-cog``: 512-px tiles, deflate, overviews), starts ``sen2val-stac serve`` on 127.0.0.1 in a subprocess and
times, side by side in one run, JP2 against COG, over HTTP and from the local files (the floor):

- a 512 x 512 window read at the tile's centre and an overview read (1/16 of the side, 686 px at 10 m) through ``/vsicurl/``
  (``GDAL_DISABLE_READDIR_ON_OPEN=EMPTY_DIR``; open included);
- a stackstac and an odc-stac load of a 5 km x 5 km area at 10 m, and of the whole tile at 16x the pixel size,
  from the item fetched from the server (asset hrefs resolve to its URLs).

Each repetition is one fresh process running every case once, in turn, after an untimed local warm-up of each
operation (the machine is shared: cases of a repetition see the same load), and every remote URL carries a new query string, so GDAL's caches start empty.
HTTP requests and bytes per case come from one more process per case with ``CPL_CURL_VERBOSE=YES`` (curl's
request and response headers). The median of the repetitions is reported.

    python scripts/bench_remote.py --workdir /tmp/sen2val-bench-remote   # 10 m tile, 5 repetitions (~15 min, 2 cores)
    python scripts/bench_remote.py --quick                               # 60 m tile, 3 repetitions (~2 min)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ITEM_DATE = datetime(2022, 1, 4, 6, 36, 11, tzinfo=timezone.utc)
SOURCES = {"jp2": "index", "cog": "index-cog"}  # asset keys of the item
OPS = ("window", "overview", "stackstac-area", "odc-area", "stackstac-tile", "odc-tile")
OP_TITLES = {"window": "window 512 x 512 px (rasterio)", "overview": "overview 1/16 (rasterio)",
             "stackstac-area": "stackstac, 5 km x 5 km at native res.", "odc-area": "odc-stac, 5 km x 5 km at native res.",
             "stackstac-tile": "stackstac, whole tile at 16x pixel size", "odc-tile": "odc-stac, whole tile at 16x pixel size"}
OVERVIEW_FACTOR = 16
AREA_M = 5000.0
GDAL_ENV = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "GDAL_HTTP_MAX_RETRY": "0"}


@dataclass(frozen=True)
class Case:
    """One measurement: an operation on one source (JP2 or COG), local or over HTTP."""

    op: str
    source: str  # "jp2" or "cog"
    remote: bool
    item: str  # item JSON: local path or URL (its asset hrefs then resolve to URLs)
    resolution: float

    @property
    def label(self) -> str:
        return f"{self.op} {self.source} {'http' if self.remote else 'local'}"


# --- the data ------------------------------------------------------------------------------------------------


def build(workdir: Path, resolution: float) -> tuple[Path, Path]:
    """Write the product, index it and write its index COG (each step skipped when already done): (tree, catalog)."""
    from sen2val_stac.catalog.indexer import index_tree
    from sen2val_stac.config import load_config
    from sen2val_stac.demo.tree import ProductSpec, write_product
    from sen2val_stac.derive.cog import write_cogs

    tree, catalog = workdir / "INDICES", workdir / "catalog"
    if not tree.exists():
        print(f"writing a {resolution:g} m product (JPEG2000) ...", file=sys.stderr)
        tmp = workdir / "INDICES.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        write_product(tmp, ProductSpec(index="NDVI", tile="40KCB", sensing=ITEM_DATE, resolution=resolution))
        tmp.rename(tree)
    config = load_config(None)
    config["cog"] = {**(config.get("cog") or {}), "indices": True, "index_assets": ["index"]}
    t = time.perf_counter()
    report = index_tree(str(tree), str(catalog), config, workers=1, progress=False)
    assert report.items_total == 1, report
    cogs = write_cogs(catalog, config)
    assert not cogs.errors, cogs.errors
    print(f"index + cog: {time.perf_counter() - t:.1f} s ({len(cogs.written)} COGs written)", file=sys.stderr)
    return tree, catalog


def item_path(catalog: Path) -> Path:
    """The one item's JSON."""
    return catalog / "ndvi" / "40KCB" / f"NDVI_40KCB_{ITEM_DATE:%Y%m%d}.json"


class Server:
    """``sen2val-stac serve CATALOG --data TREE --port 0`` in a subprocess; ``base`` is its root URL."""

    def __init__(self, catalog: Path, tree: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sen2val_stac.cli", "serve", str(catalog), "--data", str(tree),
                                      "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("Root catalog: "):
                url = line.split(": ", 1)[1].strip()
                self.base = url[: url.index("/", len("http://"))]
                return
        raise RuntimeError("serve exited before listening")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- the measured operations (run in a child process) ----------------------------------------------------------


def _load_item(case: Case) -> Any:
    """The item with absolute asset hrefs; remote ones get a new query string (fresh GDAL cache)."""
    import pystac

    item = pystac.Item.from_file(case.item)
    tag = f"?rep={uuid.uuid4().hex}" if case.remote else ""
    for asset in item.assets.values():
        asset.href = f"{asset.get_absolute_href()}{tag}"
    return item


def _href(item: Any, case: Case) -> str:
    href: str = item.assets[SOURCES[case.source]].href
    return "/vsicurl/" + href if case.remote else href


def _area(item: Any, case: Case) -> tuple[tuple[float, float, float, float], float]:
    """Bounds and resolution of the load: a 5 km square at the tile's centre, or the whole tile, coarse."""
    left, bottom, right, top = item.properties["proj:bbox"]
    if case.op.endswith("-tile"):
        return (left, bottom, right, top), case.resolution * OVERVIEW_FACTOR
    cx, cy = round((left + right) / 2 / case.resolution) * case.resolution, round((bottom + top) / 2 / case.resolution) * case.resolution
    h = AREA_M / 2
    return (cx - h, cy - h, cx + h, cy + h), case.resolution


def run_case(case: Case) -> tuple[float, int]:
    """Seconds of one operation (open, read, decode) and the number of pixels it returned."""
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    item = _load_item(case)
    t = time.perf_counter()
    if case.op in ("window", "overview"):
        with rasterio.open(_href(item, case)) as ds:
            if case.op == "window":
                size = 512
                data = ds.read(1, window=Window(ds.width // 2 - size // 2, ds.height // 2 - size // 2, size, size))
            else:
                data = ds.read(1, out_shape=(ds.height // OVERVIEW_FACTOR, ds.width // OVERVIEW_FACTOR))
    elif case.op.startswith("stackstac"):
        import stackstac

        bounds, resolution = _area(item, case)
        epsg = int(item.properties["proj:code"].split(":")[1])
        data = stackstac.stack([item], assets=[SOURCES[case.source]], epsg=epsg, resolution=resolution, bounds=bounds,
                               snap_bounds=False, dtype="int16", fill_value=np.int16(16383), rescale=False).values
    else:
        import odc.stac

        bounds, resolution = _area(item, case)
        band = SOURCES[case.source]
        ds = odc.stac.load([item], bands=[band], crs=item.properties["proj:code"], resolution=resolution,
                           x=(bounds[0], bounds[2]), y=(bounds[1], bounds[3]), chunks={})
        data = ds[band].values
    seconds = time.perf_counter() - t
    valid = int((data != 16383).sum())
    assert valid > 0, f"{case.label}: no valid pixel read"
    return seconds, int(data.size)


def child(cases: list[Case]) -> None:
    """Run each case once, in order; print one JSON line per case."""
    import odc.stac  # noqa: F401 - imports out of the timings
    import rasterio
    import stackstac  # noqa: F401

    with rasterio.Env():  # drivers registered before the first timing
        pass
    for op in dict.fromkeys(c.op for c in cases):  # untimed warm-up of each operation (dask pools, decoders)
        for case in [c for c in cases if c.op == op and not c.remote]:
            run_case(case)
    for case in cases:
        seconds, pixels = run_case(case)
        print(json.dumps({"label": case.label, "seconds": seconds, "pixels": pixels}), flush=True)


def run_child(cases: list[Case], verbose: bool = False) -> tuple[list[dict[str, Any]], str]:
    """Run ``cases`` in a fresh process; its JSON lines and (with ``verbose``) curl's header trace."""
    env = {**os.environ, **GDAL_ENV, **({"CPL_CURL_VERBOSE": "YES"} if verbose else {})}
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([asdict(c) for c in cases])], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"child failed: {out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")], out.stderr


_REQUEST = re.compile(r"^> (GET|HEAD) ")
_LENGTH = re.compile(r"^< Content-Length: (\d+)", re.I)
_STATUS = re.compile(r"^< HTTP/[\d.]+ (\d+)")


def count_http(trace: str) -> tuple[int, int]:
    """Requests and response body bytes in a curl verbose trace (HEAD answers carry no body)."""
    requests = body = 0
    method, counted = "", True
    for line in trace.splitlines():
        if m := _REQUEST.match(line):
            method, counted = m.group(1), False
            requests += 1
        elif _STATUS.match(line):
            counted = False
        elif (m := _LENGTH.match(line)) and method == "GET" and not counted:
            body += int(m.group(1))
            counted = True  # curl repeats some headers in its trace: one length per response
    return requests, body


# --- the report ---------------------------------------------------------------------------------------------


def _fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f}" if seconds < 10 else f"{seconds * 1000:,.0f}"


def table(times: dict[str, list[float]], http: dict[str, tuple[int, int]], pixels: dict[str, int]) -> str:
    """The markdown table: medians (ms), requests / MB over HTTP, and ratios."""
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = ["| read | px | local JP2 ms | local COG ms | HTTP JP2 ms | HTTP COG ms | HTTP JP2 req / MB | HTTP COG req / MB "
            "| JP2 / COG over HTTP | HTTP / local JP2 | HTTP / local COG |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for op in OPS:
        lj, lc, hj, hc = (med[f"{op} {s} {w}"] for w in ("local", "http") for s in ("jp2", "cog"))
        rj, rc = http[f"{op} jp2 http"], http[f"{op} cog http"]
        rows.append(f"| {OP_TITLES[op]} | {pixels[f'{op} cog local']:,} | {_fmt(lj)} | {_fmt(lc)} | {_fmt(hj)} | {_fmt(hc)} "
                    f"| {rj[0]} / {rj[1] / 1e6:.2f} | {rc[0]} / {rc[1] / 1e6:.2f} | {hj / hc:.1f}x | {hj / lj:.2f}x "
                    f"| {hc / lc:.2f}x |")
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child([Case(**c) for c in json.loads(sys.argv[2])])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=None, help="default: /tmp/sen2val-bench-remote[-quick]")
    parser.add_argument("--quick", action="store_true", help="a 60 m tile (1830 px) instead of 10 m (10980 px)")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 5, 3 with --quick)")
    args = parser.parse_args()
    resolution = 60.0 if args.quick else 10.0
    repeat = args.repeat or (3 if args.quick else 5)
    workdir = Path(args.workdir or f"/tmp/sen2val-bench-remote{'-quick' if args.quick else ''}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tree, catalog = build(workdir, resolution)
    local_item = item_path(catalog)
    sizes = {s: (local_item.parent / json.loads(local_item.read_text())["assets"][k]["href"]).resolve().stat().st_size
             for s, k in SOURCES.items()}
    server = Server(catalog, tree)
    try:
        remote_item = server.base + "/" + local_item.relative_to(workdir).as_posix()
        cases = [Case(op, source, remote, remote_item if remote else str(local_item), resolution)
                 for op in OPS for remote in (False, True) for source in SOURCES]
        times: dict[str, list[float]] = {c.label: [] for c in cases}
        pixels: dict[str, int] = {}
        for rep in range(repeat):
            t = time.perf_counter()
            for row in run_child(cases)[0]:
                times[row["label"]].append(row["seconds"])
                pixels[row["label"]] = row["pixels"]
            print(f"repetition {rep + 1}/{repeat}: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        http = {c.label: count_http(run_child([c], verbose=True)[1]) for c in cases if c.remote}
    finally:
        server.close()
    load = os.getloadavg()[0]
    print(f"\nTile {resolution:g} m ({round(109800 / resolution)} px), JP2 {sizes['jp2'] / 1e6:.1f} MB, "
          f"COG {sizes['cog'] / 1e6:.1f} MB; median of {repeat} repetitions; load average {load:.1f}; "
          f"server: sen2val-stac serve on 127.0.0.1\n")
    print(table(times, http, pixels))
    print("\nAll runs (ms): " + "; ".join(f"{k}: {', '.join(_fmt(s) for s in v)}" for k, v in times.items()))


if __name__ == "__main__":
    main()

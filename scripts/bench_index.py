#!/usr/bin/env python
"""Benchmark ``sen2val-stac index`` against its decode floor and a plain rio-stac + pystac loop.

Writes a few realistic product templates (lossy JPEG2000 with 1024-px tiles and 4 resolution levels:
10980 x 10980 px at 10 m, 5490 x 5490 px at 20 m; raw and CM001-masked; a 100 m quicklook GeoTIFF
as Sen2Chain writes), then hard-links them into N product folders with distinct ids and dates (every
file is still opened and decoded per product; the page cache is warm for every contender alike).

    python scripts/bench_index.py --products 40 --resolution 10 --workdir /tmp/sen2val-bench

Measured in the same run, side by side:
- the decode floor: open each raster the indexer decodes (raw index, quicklook) and decode its
  smallest resolution level, nothing else; on the indexer's own process/thread layout and, separately,
  in one process with GDAL's default threads (the lower counts). Also the floor of all three rasters, and
  the floor of a checksummed index: the same decodes plus the sha2-256 of every raster (``file:checksum``);
- ``sen2val-stac index`` first run (also with ``checksum: none``) and no-op re-run;
- the rio-stac + pystac loop (one ``create_stac_item`` per raster, assets merged, ``catalog.save``).

CPU per product is counted in one process (GDAL's threads included), so it holds on a busy machine.

    python scripts/bench_index.py --memory 1000 10000 --resolution 600

measures only the coordinating process's peak memory for first indexes of that many products, read by
a Dask LocalCluster (``index --scheduler``) and by the local pool.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pystac
import rasterio
from rio_stac import create_stac_item

from sen2val_stac.catalog.indexer import gdal_threads_per_worker, index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_product
from sen2val_stac.tree.rasters import file_checksum, smallest_level
from sen2val_stac.tree.scan import scan_tree

START = datetime(2017, 1, 1, 6, 36, 11, tzinfo=timezone.utc)
QUICKLOOK_M = 100.0  # Sen2Chain's quicklooks: 3-band uint8 GeoTIFF at 100 m (docs/reference: sen2chain.md)


def realistic_quicklooks(root: Path) -> None:
    """Rewrite the demo writer's quicklooks (twice the raster's pixel size) at Sen2Chain's 100 m."""
    for ql in sorted(root.rglob("*_QL.tif")):
        with rasterio.open(ql) as ds:
            n = round(ds.width * abs(ds.transform.a) / QUICKLOOK_M)
            if n >= ds.width:
                continue
            data = ds.read(out_shape=(ds.count, n, n))
            profile = ds.profile | {"width": n, "height": n, "transform": ds.transform * ds.transform.scale(ds.width / n)}
        tmp = ql.with_suffix(".tmp.tif")
        with rasterio.open(tmp, "w", **profile) as out:
            out.write(data)
        tmp.rename(ql)


# The archive's shape for --memory: three indices, and no tile folder beyond 500 dates (a tile's 10 years at
# Sentinel-2's 5-day revisit are about 730). Extra tiles are named in zone 40K and hold the template's pixels.
ARCHIVE_INDICES = ("NDVI", "NDWIGAO", "MNDWI")
DATES_PER_FOLDER = 500


def _tile_names(count: int) -> list[str]:
    """``count`` valid MGRS tile names in zone 40K, the demo's two first."""
    squares = [c + r for c in "ABCDEFGHJKLMNPQRSTUVWXYZ" for r in "ABCDEFGHJKLMNPQRSTUV"]
    extra = [f"40K{sq}" for sq in squares if f"40K{sq}" not in ("40KCB", "40KEC")]
    return ["40KCB", "40KEC", *extra][:count]


def _folders(products: int, archive: bool) -> list[tuple[str, str, int]]:
    """(index, tile, date number) of each product: the time benchmark's two NDVI tiles, or the archive's shape."""
    if not archive:
        return [("NDVI", ("40KCB", "40KEC")[i % 2], i // 2) for i in range(products)]
    per_index = -(-products // len(ARCHIVE_INDICES))
    tiles = _tile_names(-(-per_index // DATES_PER_FOLDER))
    return [(ARCHIVE_INDICES[i % len(ARCHIVE_INDICES)], tiles[(i // len(ARCHIVE_INDICES)) % len(tiles)],
             i // len(ARCHIVE_INDICES) // len(tiles)) for i in range(products)]


def make_tree(workdir: Path, products: int, resolution: float, templates: int = 3, archive: bool = False) -> Path:
    """Write templates once, then hard-link them into ``products`` product folders (``archive``: spread over
    indices and tiles as the station's archive is, see :data:`DATES_PER_FOLDER`)."""
    tpl_root = workdir / f"templates-{resolution:g}m"
    specs = [ProductSpec(index="NDVI", tile="40KCB", sensing=START + timedelta(days=i), resolution=resolution,
                         swath="partial" if i == 1 else "full") for i in range(templates)]
    if not tpl_root.exists():
        print(f"writing {templates} template products at {resolution:g} m ...", file=sys.stderr)
        tmp = workdir / "templates.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        for spec in specs:
            write_product(tmp, spec)
        realistic_quicklooks(tmp)
        tmp.rename(tpl_root)
    realistic_quicklooks(tpl_root)  # templates written by an earlier version
    tree = workdir / f"INDICES-{products}{'-archive' if archive else ''}"
    if tree.exists():
        return tree
    tmp = workdir / "tree.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for i, (index, tile, date) in enumerate(_folders(products, archive)):
        tpl = specs[i % templates]
        spec = ProductSpec(index=index, tile=tile, sensing=START + timedelta(days=date * 5), resolution=resolution)
        dest = tmp / spec.folder
        dest.mkdir(parents=True)
        src = tpl_root / tpl.folder
        for f in os.listdir(src):
            name = f.replace(tpl.product_id, spec.product_id)
            os.link(src / f, dest / name.replace(f"_{tpl.index}", f"_{index}", 1))
    tmp.rename(tree)
    return tree


def rio_stac_loop(tree: Path, out: Path) -> int:
    """What a user would otherwise write: one rio-stac item per product, assets merged, pystac save."""
    catalog = pystac.Catalog("sen2chain", "rio-stac baseline")
    collection = pystac.Collection("ndvi", "NDVI", pystac.Extent(pystac.SpatialExtent([[-180, -90, 180, 90]]),
                                                                  pystac.TemporalExtent([[START, None]])))
    catalog.add_child(collection)
    sources, _ = scan_tree(str(tree))
    for source in sources:
        item = None
        for name, f in source.rasters:
            part = create_stac_item(f.path, input_datetime=source.product.sensing, id=source.item_id,
                                    asset_name=name.kind if not name.mask else f"{name.kind}-{name.mask.lower()}",
                                    with_proj=True, with_raster=True)
            if item is None:
                item = part
            else:
                item.assets.update(part.assets)
        collection.add_item(item)
    catalog.normalize_hrefs(str(out))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return len(sources)


def _decode(paths: list[str], threads: int | None, hashed: list[str] | None = None) -> None:
    """Decode the smallest level of each of ``paths``, then hash each of ``hashed`` (sha2-256)."""
    with rasterio.Env(**({"GDAL_NUM_THREADS": str(threads)} if threads else {})):
        for path in paths:
            with rasterio.open(path) as ds:
                ds.read(out_shape=(ds.count, *smallest_level(ds)))
    for path in hashed or []:
        file_checksum(path)


def decode_floor(tree: Path, workers: int, kinds: tuple[str, ...], checksums: bool = False) -> tuple[float, float]:
    """Wall seconds (best layout) and CPU seconds (one process) to decode the smallest level of every
    raster of these kinds (and, with ``checksums``, to hash every raster), nothing else."""
    sources, _ = scan_tree(str(tree))
    per_product = [[f.path for name, f in s.rasters if name.kind in kinds] for s in sources]
    hashed = [[f.path for _, f in s.rasters] if checksums else [] for s in sources]
    wall, cpu = time.perf_counter(), time.process_time()
    # one process, GDAL's default threads
    _decode([p for paths in per_product for p in paths], None, [p for paths in hashed for p in paths])
    one_process, cpu = time.perf_counter() - wall, time.process_time() - cpu
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # the indexer's layout: threads, GDAL threads per worker
        list(pool.map(_decode, per_product, [gdal_threads_per_worker(workers)] * len(per_product), hashed))
    pooled = time.perf_counter() - t
    label = "+".join(kinds) + (" + sha2-256" if checksums else "")
    print(f"  decode floor {label:26s}: one thread {one_process:6.1f} s, {workers} threads {pooled:6.1f} s",
          file=sys.stderr)
    return min(one_process, pooled), cpu


def timed(fn: Any) -> tuple[float, float, Any]:
    """Wall and CPU seconds (this process and its threads) of ``fn()``, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _peak_mib() -> float:
    """This process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries the parent's high-water
    mark over fork + exec, so a child of a parent that grew reports the parent's peak."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def _memory_child(tree: str, catalog: str, scheduler: str | None) -> None:
    """Index ``tree`` in this (fresh) process and print its peak resident memory as JSON."""
    import json

    products = sum(len(os.listdir(tile)) for tile in Path(tree).glob("*/*"))  # the indexer lists the tree itself
    after_scan = _peak_mib()
    t = time.perf_counter()
    report = index_tree(tree, catalog, load_config(None), workers=os.cpu_count(), progress=False, scheduler=scheduler)
    print(json.dumps({"products": products, "items": report.items_total, "seconds": time.perf_counter() - t,
                      "rss_after_scan_mib": after_scan,
                      "rss_peak_mib": _peak_mib()}))


def coordinator_memory(workdir: Path, counts: list[int], resolution: float, dask: bool = True) -> None:
    """Peak memory of the coordinating process for first indexes of growing size, with a Dask cluster
    (2 worker processes on 127.0.0.1; unless ``dask`` is false) and with the local pool. Small rasters:
    this measures the coordinator, not the decoding."""
    import json
    import subprocess

    from distributed import LocalCluster

    with LocalCluster(n_workers=os.cpu_count() if dask else 0, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster:
        for n in counts:
            tree = make_tree(workdir, n, resolution, archive=True)
            readers = (("dask", cluster.scheduler_address),) if dask else ()
            for label, scheduler in (*readers, ("local pool", None)):
                catalog = workdir / f"catalog-mem-{n}"
                shutil.rmtree(catalog, ignore_errors=True)
                out = subprocess.run([sys.executable, __file__, "--memory-child", str(tree), str(catalog),
                                      scheduler or ""], capture_output=True, text=True, check=True).stdout
                m = json.loads(out.strip().splitlines()[-1])
                print(f"{n:7d} products, {label:10s}: {m['seconds']:7.1f} s, coordinator peak {m['rss_peak_mib']:7.1f} MiB"
                      f" (after scan {m['rss_after_scan_mib']:.1f} MiB), {m['items']} items")
                shutil.rmtree(catalog, ignore_errors=True)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        _memory_child(sys.argv[2], sys.argv[3], sys.argv[4] or None)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--memory", type=int, nargs="+", metavar="N",
                        help="only measure the coordinator's peak memory for first indexes of N products (small rasters)")
    parser.add_argument("--resolution", type=float, default=20.0, help="metres; 10 gives 10980 x 10980 px rasters")
    parser.add_argument("--workdir", default="/tmp/sen2val-bench")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--no-dask", action="store_true", help="with --memory: the local pool only")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.memory:
        coordinator_memory(workdir, args.memory, args.resolution, dask=not args.no_dask)
        return
    tree = make_tree(workdir, args.products, args.resolution)
    n = args.products
    config = load_config(None)

    unhashed = {**config, "checksum": "none"}

    def index(catalog: Path, workers: int, cfg: dict[str, Any] = config) -> Any:
        shutil.rmtree(catalog, ignore_errors=True)
        return index_tree(str(tree), str(catalog), cfg, workers=workers, progress=False)

    # Alternate floor and index runs (the machine may be shared): the best of two of each counts.
    floors, hashed_floors, firsts, first_cpus, nosums = [], [], [], [], []
    for _ in range(2):
        floors.append(decode_floor(tree, args.workers, ("index", "quicklook")))
        hashed_floors.append(decode_floor(tree, args.workers, ("index", "quicklook"), checksums=True))
        wall, cpu, report = timed(lambda: index(workdir / "catalog", args.workers))
        assert report.items_total == n, report.skipped[:3]
        firsts.append(wall)
        first_cpus.append(cpu)
        nosums.append(timed(lambda: index(workdir / "catalog-nosum", args.workers, unhashed))[:2])
    floor, floor_cpu = min(f[0] for f in floors), min(f[1] for f in floors)
    hashed, hashed_cpu = min(f[0] for f in hashed_floors), min(f[1] for f in hashed_floors)
    first, first_cpu = min(firsts), min(first_cpus)
    nosum, nosum_cpu = min(w for w, _ in nosums), min(c for _, c in nosums)
    noop, _, again = timed(lambda: index_tree(str(tree), str(workdir / "catalog"), config, workers=args.workers,
                                              progress=False))
    assert again.files_written == 0
    floor_all, floor_all_cpu = decode_floor(tree, args.workers, ("index", "masked", "quicklook"))
    one_wall, index_cpu, _ = timed(lambda: index(workdir / "catalog-1", 1))  # in-process: CPU of the whole index
    print(f"products: {n}, rasters {args.resolution:g} m, workers {args.workers},"
          f" GDAL threads per worker {gdal_threads_per_worker(args.workers)}")
    print(f"{'':34s} {'wall s':>8s} {'products/s':>10s} {'CPU ms/product':>15s}")
    print(f"{'decode floor (raw + quicklook)':34s} {floor:8.1f} {n / floor:10.2f} {1000 * floor_cpu / n:15.0f}")
    print(f"{'floor + sha2-256 of every raster':34s} {hashed:8.1f} {n / hashed:10.2f} {1000 * hashed_cpu / n:15.0f}")
    print(f"{'decode floor (+ masked JP2)':34s} {floor_all:8.1f} {n / floor_all:10.2f} {1000 * floor_all_cpu / n:15.0f}")
    print(f"{'sen2val-stac index, first run':34s} {first:8.1f} {n / first:10.2f} {1000 * index_cpu / n:15.0f}"
          f"   (runs: {', '.join(f'{f:.1f}' for f in firsts)} s; footprints, statistics, cloud cover,"
          " sha2-256 checksums, thumbnails)")
    print(f"{'  same, checksum: none':34s} {nosum:8.1f} {n / nosum:10.2f} {1000 * nosum_cpu / n:15.0f}"
          f"   (runs: {', '.join(f'{w:.1f}' for w, _ in nosums)} s; CPU of the {args.workers}-thread run)")
    print(f"{'  same, in one thread':34s} {one_wall:8.1f} {n / one_wall:10.2f}   (GDAL's default threads)")
    print(f"CPU of the {args.workers}-thread first run: {1000 * first_cpu / n:.0f} ms/product")
    print(f"{'sen2val-stac index, no-op run':34s} {noop:8.2f} {n / noop:10.1f}")
    print(f"index / floor (raw + quicklook): wall {first / floor:.2f}x, CPU {index_cpu / floor_cpu:.2f}x;"
          f" / floor (+ masked JP2): wall {first / floor_all:.2f}x, CPU {index_cpu / floor_all_cpu:.2f}x")
    print(f"index / floor + sha2-256 (what a checksummed index must do): wall {first / hashed:.2f}x,"
          f" CPU {index_cpu / hashed_cpu:.2f}x")
    print(f"index with checksum: none / floor (raw + quicklook): wall {nosum / floor:.2f}x,"
          f" CPU {nosum_cpu / floor_cpu:.2f}x (2-thread runs' CPU against the one-thread floor's)")
    if not args.skip_baseline:
        out = workdir / "rio-stac-catalog"
        shutil.rmtree(out, ignore_errors=True)
        base, base_cpu, _ = timed(lambda: rio_stac_loop(tree, out))
        print(f"{'rio-stac + pystac loop':34s} {base:8.1f} {n / base:10.2f} {1000 * base_cpu / n:15.0f}"
              "   (tile-square geometry, no checksum)")
        print(f"sen2val-stac index is {base / first:.2f}x faster than the loop (wall), {base_cpu / index_cpu:.2f}x less CPU")


if __name__ == "__main__":
    main()

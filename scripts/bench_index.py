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
  in one process with GDAL's default threads (the lower counts). Also the floor of all three rasters;
- ``sen2val-stac index`` first run and no-op re-run;
- the rio-stac + pystac loop (one ``create_stac_item`` per raster, assets merged, ``catalog.save``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pystac
import rasterio
from rio_stac import create_stac_item

from sen2val_stac.catalog.indexer import gdal_threads_per_worker, index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_product
from sen2val_stac.tree.rasters import smallest_level
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


def make_tree(workdir: Path, products: int, resolution: float, templates: int = 3) -> Path:
    """Write templates once, then hard-link them into ``products`` product folders."""
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
    tree = workdir / f"INDICES-{products}"
    if tree.exists():
        return tree
    tmp = workdir / "tree.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tiles = ["40KCB", "40KEC"]
    for i in range(products):
        tpl = specs[i % templates]
        spec = ProductSpec(index="NDVI", tile=tiles[i % 2], sensing=START + timedelta(days=i // 2 * 5), resolution=resolution)
        dest = tmp / spec.folder
        dest.mkdir(parents=True)
        src = tpl_root / tpl.folder
        for f in os.listdir(src):
            os.link(src / f, dest / f.replace(tpl.product_id, spec.product_id))
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


def _decode(paths: list[str], threads: int | None) -> None:
    with rasterio.Env(**({"GDAL_NUM_THREADS": str(threads)} if threads else {})):
        for path in paths:
            with rasterio.open(path) as ds:
                ds.read(out_shape=(ds.count, *smallest_level(ds)))


def decode_floor(tree: Path, workers: int, kinds: tuple[str, ...]) -> float:
    """Seconds to decode the smallest level of every raster of these kinds, nothing else (best layout)."""
    sources, _ = scan_tree(str(tree))
    per_product = [[f.path for name, f in s.rasters if name.kind in kinds] for s in sources]
    t = time.perf_counter()
    _decode([p for paths in per_product for p in paths], None)  # one process, GDAL's default threads
    one_process = time.perf_counter() - t
    t = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_decode, per_product, [gdal_threads_per_worker(workers)] * len(per_product)))
    pooled = time.perf_counter() - t
    print(f"  decode floor {'+'.join(kinds):24s}: one process {one_process:6.1f} s, {workers} processes {pooled:6.1f} s",
          file=sys.stderr)
    return min(one_process, pooled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--resolution", type=float, default=20.0, help="metres; 10 gives 10980 x 10980 px rasters")
    parser.add_argument("--workdir", default="/tmp/sen2val-bench")
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tree = make_tree(workdir, args.products, args.resolution)
    n = args.products
    catalog = workdir / "catalog"
    shutil.rmtree(catalog, ignore_errors=True)
    config = load_config(None)

    floor = decode_floor(tree, args.workers, ("index", "quicklook"))
    t = time.perf_counter()
    report = index_tree(str(tree), str(catalog), config, workers=args.workers, progress=False)
    first = time.perf_counter() - t
    assert report.items_total == n, report.skipped[:3]
    t = time.perf_counter()
    again = index_tree(str(tree), str(catalog), config, workers=args.workers, progress=False)
    noop = time.perf_counter() - t
    assert again.files_written == 0
    floor = min(floor, decode_floor(tree, args.workers, ("index", "quicklook")))
    floor_all = decode_floor(tree, args.workers, ("index", "masked", "quicklook"))
    print(f"products: {n}, rasters {args.resolution:g} m, workers {args.workers},"
          f" GDAL threads per worker {gdal_threads_per_worker(args.workers)}")
    print(f"decode floor (raw + quicklook)  : {floor:8.1f} s  {n / floor:8.1f} products/s")
    print(f"decode floor (+ masked JP2)     : {floor_all:8.1f} s  {n / floor_all:8.1f} products/s")
    print(f"sen2val-stac index, first run   : {first:8.1f} s  {n / first:8.1f} products/s  {first / floor:.2f}x the floor"
          " (footprints, statistics, cloud cover, sha2-256 checksums, thumbnails)")
    print(f"sen2val-stac index, no-op run   : {noop:8.2f} s  {n / noop:8.1f} products/s  ({100 * noop / first:.1f} % of first run)")
    if not args.skip_baseline:
        out = workdir / "rio-stac-catalog"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        rio_stac_loop(tree, out)
        base = time.perf_counter() - t
        print(f"rio-stac + pystac loop          : {base:8.1f} s  {n / base:8.1f} products/s "
              f"(tile-square geometry, no checksum) -> sen2val-stac is {base / first:.2f}x faster")


if __name__ == "__main__":
    main()

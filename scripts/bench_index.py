#!/usr/bin/env python
"""Benchmark ``sen2val-stac index`` against a plain rio-stac + pystac loop over the same tree.

Writes a few realistic product templates (5490 x 5490 px JPEG2000, a 20 m tile: raw, CM001-masked,
quicklook), then hard-links them into N product folders with distinct ids and dates (every file
is still opened and decoded per product; the page cache is warm for both contenders alike).

    python scripts/bench_index.py --products 1000 --workdir /tmp/sen2val-bench

Prints products/second for a first run, a no-op re-run, and the rio-stac loop.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pystac
from rio_stac import create_stac_item

from sen2val_stac.catalog.indexer import index_tree
from sen2val_stac.config import load_config
from sen2val_stac.demo.tree import ProductSpec, write_product
from sen2val_stac.tree.scan import scan_tree

START = datetime(2017, 1, 1, 6, 36, 11, tzinfo=timezone.utc)


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
        tmp.rename(tpl_root)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--resolution", type=float, default=20.0, help="metres; 20 gives 5490 x 5490 px rasters")
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

    t = time.perf_counter()
    report = index_tree(str(tree), str(catalog), config, workers=args.workers, progress=False)
    first = time.perf_counter() - t
    assert report.items_total == n, report.skipped[:3]
    t = time.perf_counter()
    again = index_tree(str(tree), str(catalog), config, workers=args.workers, progress=False)
    noop = time.perf_counter() - t
    assert again.files_written == 0
    print(f"products: {n}, rasters {args.resolution:g} m, workers {args.workers}")
    print(f"sen2val-stac index, first run : {first:8.1f} s  {n / first:8.1f} products/s "
          "(footprints, statistics, sha2-256 checksums, thumbnails)")
    print(f"sen2val-stac index, no-op run : {noop:8.2f} s  {n / noop:8.1f} products/s  ({100 * noop / first:.1f} % of first run)")
    if not args.skip_baseline:
        out = workdir / "rio-stac-catalog"
        shutil.rmtree(out, ignore_errors=True)
        t = time.perf_counter()
        rio_stac_loop(tree, out)
        base = time.perf_counter() - t
        print(f"rio-stac + pystac loop        : {base:8.1f} s  {n / base:8.1f} products/s "
              "(tile-square geometry, no checksum) -> sen2val-stac is "
              f"{base / first:.1f}x faster")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Benchmark the derivations on a large catalogue (default 10,000 items), side by side with pystac.

    python scripts/bench_derive.py --items 10000 --workdir /tmp/sen2val-big
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pystac

sys.path.insert(0, str(Path(__file__).parent))
from make_big_catalog import make

from sen2val_stac.catalog.parquet import write_parquet
from sen2val_stac.catalog.query import query_frame
from sen2val_stac.config import load_config
from sen2val_stac.derive.geoflow import write_geoflow
from sen2val_stac.derive.layers import write_layers
from sen2val_stac.derive.records import write_records


def timed(label: str, fn) -> float:
    t = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t
    print(f"{label:58s} {seconds:8.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--workdir", default="/tmp/sen2val-big")
    args = parser.parse_args()
    work = Path(args.workdir)
    catalog = work / "catalog"
    if not (catalog / "catalog.json").exists():
        shutil.rmtree(work, ignore_errors=True)
        t = time.perf_counter()
        make(work, args.items)
        print(f"synthesized {args.items} items in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    config = load_config(None)
    out = Path(tempfile.mkdtemp(prefix="derive-"))
    print(f"catalogue of {args.items} items")
    timed("parquet index rebuilt from the static JSON", lambda: write_parquet(catalog))
    timed("query (index + tile + dates) on the parquet index",
          lambda: query_frame(catalog, index="NDVI", tile="40KCB", start="2017-01-01", end="2018-12-31"))
    timed("footprint layers, shapefiles (all, per index, per series)", lambda: write_layers(catalog, out / "fp", config))
    timed("geoflow tables (entities, contacts, workflow)", lambda: write_geoflow(catalog, out / "gf", config))
    timed("ISO 19139 + Dublin Core records", lambda: write_records(catalog, out / "md", config))

    def naive() -> None:
        items = list(pystac.Catalog.from_file(str(catalog / "catalog.json")).get_items(recursive=True))
        frame = gpd.GeoDataFrame.from_features([i.to_dict() for i in items], crs="EPSG:4326")
        frame[(frame["sen2chain:index"] == "NDVI") & (frame["sen2chain:tile"] == "40KCB")]
    timed("naive: pystac walk of every item + GeoDataFrame + same query", naive)
    shutil.rmtree(out)


if __name__ == "__main__":
    main()

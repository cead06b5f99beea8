#!/usr/bin/env python
"""Synthesize a large catalogue (default 10,000 items) from the records of an indexed demo tree.

No raster is read: the demo's indexer records are cloned with new dates and tiles and rendered
through the same code as `sen2val-stac index` (sen2val_stac.catalog.render), so the files are real catalogue
files; the records are stored as the indexer's state (for the steps that read it, such as `cog`). Used by
the derivation benchmarks.

    python scripts/make_big_catalog.py /tmp/big --items 10000
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sen2val_stac.catalog.indexer import load_state
from sen2val_stac.catalog.parquet import write_parquet
from sen2val_stac.catalog.render import Layout, build_collection, item_dict
from sen2val_stac.catalog.root import write_root_catalog
from sen2val_stac.catalog.state import StateStore
from sen2val_stac.config import load_config
from sen2val_stac.core.atomic import write_json
from sen2val_stac.demo.build import build_demo
from sen2val_stac.tree.names import item_id

TILES = ["40KCB", "38KQE", "40KEC", "39LUC", "38LPK", "39KTA", "38KNB", "40KDB", "38KQD", "39KUB"]


def make(workdir: Path, n_items: int) -> Path:
    """Write ``workdir/catalog`` with ``n_items`` items; return it."""
    catalog, _ = build_demo(workdir / "demo", progress=False)
    records = list(load_state(str(catalog))["items"].values())
    config = load_config(None)
    out = workdir / "catalog"
    indices_rel = os.path.relpath(catalog.parent / "INDICES", out)
    start = datetime(2016, 1, 1, 6, 36, 11, tzinfo=timezone.utc)
    by_index: dict[str, list[dict]] = {}
    for i in range(n_items):
        base = records[i % len(records)]
        rec = copy.deepcopy(base)
        tile = TILES[(i // len(records)) % len(TILES)] if base["tile"] == "40KCB" else base["tile"]
        when = start + timedelta(days=5 * (i // (len(records) * len(TILES))), seconds=i)
        rec["tile"] = tile
        rec["datetime"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        rec["item_id"] = item_id(rec["index"], tile, when) + f"_{i}"
        rec["thumbnail"] = None
        write_json(str(out / Layout.item(rec["index"], tile, rec["item_id"])), item_dict(rec, config, indices_rel))
        by_index.setdefault(rec["index"], []).append(rec)
    for index, recs in by_index.items():
        recs.sort(key=lambda r: r["item_id"])
        coll = build_collection(index, recs, config, [(r["tile"], r["item_id"]) for r in recs])
        write_json(str(out / Layout.collection(index)), coll.to_dict(transform_hrefs=False))
    write_root_catalog(str(out), config)
    with StateStore.open(str(catalog)) as demo_state, StateStore.open(str(out)) as store:
        for recs in by_index.values():
            for rec in recs:
                store.put(rec)
        store.set_meta("render", str(demo_state.meta("render")))
        store.set_meta("indices_rel", indices_rel)
        store.commit()
    write_parquet(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir")
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    out = make(Path(args.workdir), args.items)
    print(f"{args.items} items in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""``sen2val-stac query``: print the items matching filters."""

from __future__ import annotations

import argparse
import json
import sys

from sen2val_stac.commands._arguments import add_item_filters

NAME = "query"
HELP = "Print the catalogue items matching index, tile, time and bounding-box filters."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``query``."""
    parser.add_argument("catalog", help="catalogue folder")
    add_item_filters(parser)
    parser.add_argument("--bbox", help="W,S,E,N in degrees")
    parser.add_argument("--format", choices=("table", "geojson", "csv"), default="table")


def run(args: argparse.Namespace) -> int:
    """Print matches; a bad filter or an unreadable catalogue exits 2 (through the CLI)."""
    from sen2val_stac.catalog.query import query_frame, query_items
    from sen2val_stac.catalog.sen2chain_fields import INDEX, TILE

    filters = dict(index=args.index, tile=args.tile, start=args.start, end=args.end, bbox=args.bbox)
    if args.format == "geojson":
        refs = query_items(args.catalog, **filters)
        json.dump({"type": "FeatureCollection", "features": [r.item for r in refs]}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    frame = query_frame(args.catalog, **filters)
    table = frame[["id", "datetime", INDEX, TILE, "eo:cloud_cover"]].copy()
    table["assets"] = [",".join(sorted(k for k, v in a.items() if v)) for a in frame["assets"]]
    table.columns = ["id", "datetime", "index", "tile", "cloud_cover", "assets"]
    if args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        print(table.to_string(index=False) if len(table) else "no matching item")
        print(f"{len(table)} item(s)", file=sys.stderr)
    return 0

"""``sen2val-stac demo``: write an example Sen2Chain tree and index it."""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = "Write a small realistic Sen2Chain tree (two tiles, three indices) and index it as a STAC catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``demo``."""
    parser.add_argument("workdir", nargs="?", default="sen2val-demo", help="folder to write into (default: ./sen2val-demo)")
    parser.add_argument("--workers", type=int, help="threads reading rasters")


def run(args: argparse.Namespace) -> int:
    """Run the demo and say where to look."""
    from sen2val_stac.commands.index import print_report
    from sen2val_stac.demo.build import build_demo

    catalog, report = build_demo(args.workdir, workers=args.workers, progress=None)
    print_report(report)
    print(
        f"\nThe demo tree is in {catalog.parent / 'INDICES'}, its catalogue in {catalog}.\n"
        "Look at it:\n"
        f"  sen2val-stac validate {catalog}                  # check every file against the STAC schemas\n"
        f"  sen2val-stac serve {catalog} --data {catalog.parent / 'INDICES'}   # browse it over HTTP\n"
        f"  python -c \"import pystac; pystac.Catalog.from_file('{catalog}/catalog.json').describe()\""
    )
    return 0 if report.items_total else 1

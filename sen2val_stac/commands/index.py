"""``sen2val-stac index``: index a Sen2Chain INDICES tree into a static STAC catalogue."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from sen2val_stac.core.errors import InputError

if TYPE_CHECKING:
    from sen2val_stac.catalog.indexer import IndexReport

NAME = "index"
HELP = "Index a Sen2Chain INDICES tree as a static STAC catalogue (incremental)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``index``."""
    parser.add_argument("indices_dir", nargs="?", help="the INDICES folder (default: config indices_dir)")
    parser.add_argument("--catalog", help="catalogue folder to write (default: config catalog_dir)")
    parser.add_argument("--config", help="sen2val.yaml configuration file")
    parser.add_argument("--workers", type=int, help="threads reading rasters (default: CPUs)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="read the rasters on the workers of this Dask distributed scheduler (they must see the"
                             " INDICES tree at the same path); the catalogue written is the same")
    parser.add_argument("--root-href", help="publish with absolute links under this URL")
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


def resolve(args: argparse.Namespace) -> tuple[dict[str, Any], str, str]:
    """Configuration, INDICES folder and catalogue folder from the arguments and the config file."""
    from sen2val_stac.config import ConfigError, load_config

    config = load_config(args.config)
    if getattr(args, "root_href", None):
        config["root_href"] = args.root_href
    indices_dir = args.indices_dir or config.get("indices_dir")
    catalog_dir = args.catalog or config.get("catalog_dir")
    if not indices_dir or not catalog_dir:
        raise ConfigError("give INDICES_DIR and --catalog (or indices_dir and catalog_dir in --config)")
    return config, indices_dir, catalog_dir


def print_report(report: IndexReport, out: Any = None) -> None:
    """Human summary of an index run; every skipped file with its reason."""
    out = out or sys.stdout
    print(
        f"Catalogue {report.catalog_dir}: {report.items_total} items in {len(report.collections)} collections"
        f" ({', '.join(report.collections) or 'none'}); added {len(report.added)}, updated {len(report.updated)},"
        f" removed {len(report.removed)}, unchanged {report.unchanged}; {report.seconds:.1f} s.",
        file=out,
    )
    for item_id in report.removed:
        print(f"  removed {item_id} (its product vanished from the tree)", file=out)
    if report.skipped:
        print(f"Skipped {len(report.skipped)} input(s):", file=out)
        for s in report.skipped:
            print(f"  {s['path']}: {s['reason']}", file=out)
    print(f"Report: {report.catalog_dir}/.sen2val/index-report.json", file=out)


def run(args: argparse.Namespace) -> int:
    """Run ``index``; exit 1 when nothing could be indexed, 2 on configuration or output errors."""
    from sen2val_stac.catalog.indexer import index_tree
    from sen2val_stac.core.lock import catalog_lock

    config, indices_dir, catalog_dir = resolve(args)
    if not os.path.isdir(indices_dir):
        raise InputError(f"{indices_dir}: not a folder")
    try:
        with catalog_lock(catalog_dir, wait=0):
            report = index_tree(indices_dir, catalog_dir, config, workers=args.workers,
                                progress=False if args.no_progress else None, scheduler=args.scheduler)
    except OSError as exc:
        raise InputError(f"cannot write the catalogue: {exc}") from exc
    print_report(report)
    return 0 if report.items_total else 1

"""``sen2val-stac cog``: COG views of the quicklooks (and, on request, the index rasters), catalogued as assets."""

from __future__ import annotations

import argparse
import sys

NAME = "cog"
HELP = "Write cloud-optimised GeoTIFF views of each item (quicklook; index rasters with cog.indices) and catalogue them."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``cog``."""
    parser.add_argument("catalog", nargs="?", help="catalogue folder (default: config catalog_dir)")
    parser.add_argument("--config", help="sen2val.yaml")
    parser.add_argument("--indices", action="store_true", help="also write COGs of the index rasters (cog.indices)")
    parser.add_argument("--compression", choices=["deflate", "zstd", "lerc"], help="index COGs (cog.compression)")
    parser.add_argument("--scheduler", help="threads, processes, or a Dask scheduler address tcp://host:port")


def run(args: argparse.Namespace) -> int:
    """Write the COGs under the catalogue lock; exit 1 when a raster failed, 3 when the lock is held."""
    from sen2val_stac.config import ConfigError, load_config
    from sen2val_stac.core.lock import CatalogLocked, catalog_lock
    from sen2val_stac.derive.cog import write_cogs

    config = load_config(args.config)
    catalog = args.catalog or config.get("catalog_dir")
    if not catalog:
        raise ConfigError("give CATALOG (or catalog_dir in --config)")
    cog = config.setdefault("cog", {})
    if args.indices:
        cog["indices"] = True
    if args.compression:
        cog["compression"] = args.compression
    try:
        with catalog_lock(str(catalog), wait=0):
            report = write_cogs(catalog, config, scheduler=args.scheduler)
    except CatalogLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"COGs in {catalog}: written {len(report.written)}, unchanged {report.unchanged}, removed "
          f"{len(report.removed)}, items updated {report.items_written}, failed {len(report.errors)}; "
          f"{report.seconds:.1f} s")
    for line in report.errors:
        print(f"  error: {line}", file=sys.stderr)
    return 1 if report.errors else 0

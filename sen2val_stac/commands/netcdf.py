"""``sen2val-stac netcdf``: one NetCDF-4 cube per index x tile series, assembled with stackstac."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.commands._arguments import add_catalog_out_config, add_item_filters

NAME = "netcdf"
HELP = "Write NetCDF-4 (CF-1.8, ACDD-1.3) time-series cubes per index and tile, from the catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netcdf``."""
    add_catalog_out_config(parser, out_required=False)
    add_item_filters(parser)
    parser.add_argument("--asset", help="asset to stack (default: config netcdf.asset_preference, "
                                        "masked-cm001 when present, else index)")
    parser.add_argument("--resolution", type=float, help="output resolution in metres (nearest neighbour)")
    parser.add_argument("--chunks", help="chunk sizes T,Y,X (default: config netcdf.chunks)")
    parser.add_argument("--scheduler", help="threads, processes, or a Dask scheduler address tcp://host:port")
    parser.add_argument("--thredds-catalog", action="store_true", help="also write OUT/catalog.xml for THREDDS")


def run(args: argparse.Namespace) -> int:
    """Export; exit 1 when a series failed, 2 on configuration errors (through the CLI)."""
    from sen2val_stac.config import ConfigError, load_config, output_dir
    from sen2val_stac.derive.netcdf.export import check_settings, export

    config = load_config(args.config)
    settings = config["netcdf"]
    if args.chunks:
        try:
            settings["chunks"] = [int(v) for v in args.chunks.split(",")]
        except ValueError as exc:
            raise ConfigError(f"--chunks takes three integers T,Y,X, got {args.chunks!r}") from exc
    settings["scheduler"] = args.scheduler or settings["scheduler"]
    settings["thredds_catalog"] = args.thredds_catalog or settings["thredds_catalog"]
    check_settings(config)
    out = args.out or output_dir(config, "netcdf", args.catalog)
    report = export(args.catalog, out, config, index=args.index, tile=args.tile, asset=args.asset,
                    start=args.start, end=args.end, resolution=args.resolution)
    print(f"NetCDF cubes in {out}: written {len(report.written)}, unchanged {len(report.unchanged)}, "
          f"removed {len(report.removed)}, failed {len(report.errors)}")
    for line in report.skipped:
        print(f"  skipped {line}")
    for line in report.errors:
        print(f"  error: {line}", file=sys.stderr)
    return 1 if report.errors else 0

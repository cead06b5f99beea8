"""``sen2val-stac geoflow``: entity, contact and workflow files for the R package geoflow."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.commands._arguments import add_catalog_out_config
from sen2val_stac.config import ConfigError, load_config
from sen2val_stac.derive.geoflow import GeoflowError, write_geoflow

NAME = "geoflow"
HELP = "Write geoflow entities.csv, contacts.csv and workflow.json derived from the catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``geoflow``."""
    add_catalog_out_config(parser)
    parser.add_argument("--per-index", action=argparse.BooleanOptionalAction, default=None,
                        help="also one entity per index (default: config geoflow.per_index)")


def run(args: argparse.Namespace) -> int:
    """Write the files; exit 2 on configuration errors."""
    try:
        config = load_config(args.config)
        files = write_geoflow(args.catalog, args.out, config, per_index=args.per_index)
    except (ConfigError, GeoflowError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("geoflow files: " + ", ".join(str(p) for p in files.values()))
    return 0

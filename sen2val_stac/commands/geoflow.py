"""``sen2val-stac geoflow``: entity, contact and workflow files for the R package geoflow."""

from __future__ import annotations

import argparse

from sen2val_stac.commands._arguments import add_catalog_out_config

NAME = "geoflow"
HELP = ("Write geoflow entities.csv, contacts.csv and workflow.json (with its completing action and facts) "
        "derived from the catalogue.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``geoflow``."""
    add_catalog_out_config(parser)
    parser.add_argument("--per-index", action=argparse.BooleanOptionalAction, default=None,
                        help="also one entity per index (default: config geoflow.per_index)")


def run(args: argparse.Namespace) -> int:
    """Write the files (errors exit 2 through the CLI: ConfigError, GeoflowError, OSError)."""
    from sen2val_stac.config import load_config
    from sen2val_stac.derive.geoflow import write_geoflow

    files = write_geoflow(args.catalog, args.out, load_config(args.config), per_index=args.per_index)
    print("geoflow files: " + ", ".join(str(p) for p in files.values()))
    return 0

"""``sen2val-stac footprints``: footprint layers (all tiles, per index, per index x tile)."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.commands._arguments import add_catalog_out_config
from sen2val_stac.config import ConfigError, load_config
from sen2val_stac.derive.layers import DRIVERS, LayerError, write_layers

NAME = "footprints"
HELP = "Write footprint layers (Shapefile, GeoPackage or GeoParquet) derived from the catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``footprints``."""
    add_catalog_out_config(parser)
    parser.add_argument("--format", choices=sorted(DRIVERS), help="default: config footprints.format (shp)")


def run(args: argparse.Namespace) -> int:
    """Write the layers; exit 2 on configuration or layer errors."""
    try:
        config = load_config(args.config)
        layers = write_layers(args.catalog, args.out, config, args.format or config["footprints"]["format"])
    except (ConfigError, LayerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(layers.files)} layers in {args.out}: " + ", ".join(sorted(layers.files)))
    return 0

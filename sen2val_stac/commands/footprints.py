"""``sen2val-stac footprints``: footprint layers (all tiles, per index, per index x tile)."""

from __future__ import annotations

import argparse

from sen2val_stac.commands._arguments import add_catalog_out_config
from sen2val_stac.derive.formats import DRIVERS

NAME = "footprints"
HELP = "Write footprint layers (Shapefile, GeoPackage or GeoParquet) derived from the catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``footprints``."""
    add_catalog_out_config(parser)
    parser.add_argument("--format", choices=sorted(DRIVERS), help="default: config footprints.format (shp)")


def run(args: argparse.Namespace) -> int:
    """Write the layers (configuration and layer errors exit 2, through the CLI)."""
    from sen2val_stac.config import load_config
    from sen2val_stac.derive.layers import write_layers

    config = load_config(args.config)
    layers = write_layers(args.catalog, args.out, config, args.format or config["footprints"]["format"])
    print(f"{len(layers.files)} layers in {args.out}: written {len(layers.written)}, unchanged {len(layers.unchanged)}, "
          f"removed {len(layers.removed)}")
    return 0

"""``sen2val-stac metadata``: ISO 19139 and Dublin Core records per series and per index."""

from __future__ import annotations

import argparse

from sen2val_stac.commands._arguments import add_catalog_out_config

NAME = "metadata"
HELP = "Write ISO 19115 (ISO 19139 XML) and Dublin Core records per series and per index, from the catalogue."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``metadata``."""
    add_catalog_out_config(parser)


def run(args: argparse.Namespace) -> int:
    """Write the records (errors exit 2 through the CLI: ConfigError, OSError)."""
    from sen2val_stac.config import load_config
    from sen2val_stac.derive.records import write_records

    files = write_records(args.catalog, args.out, load_config(args.config))
    print(f"{len(files)} metadata records in {args.out}")
    return 0

"""``sen2val-stac validate``: check a catalogue against the STAC JSON schemas."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.validation import SchemaStore, validate_catalog

NAME = "validate"
HELP = "Validate every catalog, collection and item against the STAC core and extension schemas."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``validate``."""
    parser.add_argument("catalog", help="catalogue folder (holding catalog.json) or a catalog.json file")
    parser.add_argument("--schemas", help="offline mirror of the schemas (https://host/path -> DIR/host/path)")
    parser.add_argument("--cache", help="download cache for schemas when no mirror is given")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when valid, 1 when any file is invalid, 2 when the catalogue cannot be read."""
    store = SchemaStore(mirror=args.schemas, cache=args.cache)
    try:
        result = validate_catalog(args.catalog, store)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for error in result.errors:
        print(error)
    bad = len({e.path for e in result.errors})
    print(f"{len(result.files) - bad} of {len(result.files)} files valid" + (f", {bad} invalid" if bad else ""))
    return 0 if result.ok else 1

"""``sen2val-stac validate``: check a catalogue against the STAC core and extension JSON schemas."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.validate.validation import (
    CatalogUnreadable,
    SchemaStore,
    default_workers,
    validate_catalog,
)

NAME = "validate"
HELP = "Validate every catalog, collection and item against the STAC core and extension JSON schemas."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``validate``."""
    parser.add_argument(
        "catalog", metavar="CATALOG_DIR", help="catalogue folder (holding catalog.json) or its root JSON file"
    )
    parser.add_argument(
        "--schemas",
        metavar="DIR",
        help="offline mirror of the schemas (https://host/path -> DIR/host/path); the network is never used",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="download cache used without --schemas (default $SEN2VAL_SCHEMA_CACHE or ~/.cache/sen2val-stac/schemas)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="processes validating large catalogues (default 0: one per CPU, at most 8; 1: this process only)",
    )


def run(args: argparse.Namespace) -> int:
    """Print each problem with its file and a summary; exit 0 if all valid, 1 if not, 2 if unreadable."""
    store = SchemaStore(mirror=args.schemas, cache=args.cache)
    workers = args.workers if args.workers > 0 else default_workers()
    try:
        result = validate_catalog(args.catalog, store, workers=workers)
    except (CatalogUnreadable, OSError) as exc:
        print(f"error: cannot read the catalogue: {exc}", file=sys.stderr)
        return 2
    for error in result.errors:
        print(error)
    bad = len(result.invalid_files)
    summary = f"{len(result.files) - bad} of {len(result.files)} files valid"
    if bad:
        summary += f", {bad} invalid ({len(result.errors)} problems)"
    if result.skipped_links:
        summary += f"; {len(result.skipped_links)} remote links not followed"
    print(f"{summary} ({store.describe()})")
    return 0 if result.ok else 1

"""``sen2val-stac validate``: check a catalogue against the STAC core and extension JSON schemas."""

from __future__ import annotations

import argparse
import json

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
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line per problem and a summary; json: every file with its problems, on stdout",
    )
    # accepted so that existing cron lines keep working; validation runs in this process since it was fast
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Print each problem with its file and a summary; exit 0 if all valid, 1 if not (2: unreadable, raised)."""
    from sen2val_stac.validate.validation import SchemaStore, validate_catalog

    store = SchemaStore(mirror=args.schemas, cache=args.cache)
    result = validate_catalog(args.catalog, store)
    if args.format == "json":
        print(json.dumps({**result.to_json(), "schemas": store.describe()}, indent=1))
    else:
        for error in result.errors:
            print(error)
        print(f"{result.summary()} ({store.describe()})")
    return 0 if result.ok else 1

"""``sen2val-stac init-config``: write a commented example configuration."""

from __future__ import annotations

import argparse
import os
import sys

from sen2val_stac.core.atomic import write_atomic
from sen2val_stac.core.templates import templates_dir

NAME = "init-config"
HELP = "Write a commented example sen2val.yaml (every key, with its default and meaning)."
EXAMPLE = "sen2val.example.yaml"


def example_config() -> str:
    """The text of the commented example configuration (``catalog_templates/sen2val.example.yaml``)."""
    return (templates_dir() / EXAMPLE).read_text(encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``init-config``."""
    parser.add_argument("path", nargs="?", default="sen2val.yaml", help="file to write (default: sen2val.yaml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """Write the file; exit 1 when it exists (without --force), 2 when it cannot be written."""
    if os.path.exists(args.path) and not args.force:
        print(f"error: {args.path} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    try:
        write_atomic(args.path, example_config().encode("utf-8"))
    except OSError as exc:
        print(f"error: cannot write {args.path}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.path}; set indices_dir and catalog_dir, then: sen2val-stac run --config {args.path}")
    return 0

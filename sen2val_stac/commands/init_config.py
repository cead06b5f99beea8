"""``sen2val-stac init-config``: write a commented example configuration."""

from __future__ import annotations

import argparse
import os
import sys

from sen2val_stac.atomic import write_atomic
from sen2val_stac.templates import templates_dir

NAME = "init-config"
HELP = "Write a commented example sen2val.yaml (every key, with its default and meaning)."
HEADER = """# sen2val-stac configuration. Every key is optional except indices_dir and catalog_dir (for `run`).
# Relative folders are relative to this file. Remove what you keep at its default.
# Run the chain:  sen2val-stac run --config sen2val.yaml
"""
EXAMPLES = {
    "indices_dir: null": "indices_dir: /DATA/S2/PRODUCTS/INDICES",
    "catalog_dir: null": "catalog_dir: ./stac",
}


def example_config() -> str:
    """The example: the defaults file, with example folders filled in."""
    text = (templates_dir() / "config-defaults.yaml").read_text(encoding="utf-8")
    for old, new in EXAMPLES.items():
        text = text.replace(old, new, 1)
    return HEADER + text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``init-config``."""
    parser.add_argument("path", nargs="?", default="sen2val.yaml")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """Write the file; exit 1 when it exists (without --force)."""
    if os.path.exists(args.path) and not args.force:
        print(f"error: {args.path} exists (use --force to overwrite)", file=sys.stderr)
        return 1
    write_atomic(args.path, example_config().encode("utf-8"))
    print(f"wrote {args.path}")
    return 0

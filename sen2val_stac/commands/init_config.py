"""``sen2val-stac init-config``: write a commented example configuration, or its JSON Schema."""

from __future__ import annotations

import argparse
import os

from sen2val_stac.core.atomic import write_atomic
from sen2val_stac.core.errors import InputError, NothingDone
from sen2val_stac.core.templates import templates_dir

NAME = "init-config"
HELP = "Write a commented example sen2val.yaml (every key, with its default and meaning), or its JSON Schema."
EXAMPLE = "sen2val.example.yaml"


def example_config() -> str:
    """The text of the commented example configuration (``catalog_templates/sen2val.example.yaml``)."""
    return (templates_dir() / EXAMPLE).read_text(encoding="utf-8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``init-config``."""
    parser.add_argument("path", nargs="?", help="file to write (default: sen2val.yaml, with --schema sen2val.schema.json)")
    parser.add_argument("--schema", action="store_true",
                        help="write the JSON Schema of the configuration (from its models) instead of the example, "
                             "for editors and validators")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def run(args: argparse.Namespace) -> int:
    """Write the file; exit 1 when it exists (without --force), 2 when it cannot be written."""
    if args.schema:
        from sen2val_stac.config.schema import SCHEMA_FILE, schema_text

        path, text = args.path or SCHEMA_FILE, schema_text()
    else:
        path, text = args.path or "sen2val.yaml", example_config()
    if os.path.exists(path) and not args.force:
        raise NothingDone(f"{path} exists (use --force to overwrite)")
    try:
        write_atomic(path, text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc}") from exc
    if args.schema:
        print(f"wrote {path}")
    else:
        print(f"wrote {path}; set indices_dir and catalog_dir, then: sen2val-stac run --config {path}")
    return 0

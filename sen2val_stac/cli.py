"""Command-line entry point: discovers the sub-commands in :mod:`sen2val_stac.commands`.

Command modules import only the standard library at module level (their ``run`` imports the heavy
modules), so ``sen2val-stac --help`` starts fast. Errors are printed here, once: a
:class:`~sen2val_stac.core.errors.Sen2valError` exits with its ``exit_code``, an ``OSError`` with 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

from sen2val_stac import __version__, commands
from sen2val_stac.core.errors import Sen2valError


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per command module."""
    parser = argparse.ArgumentParser(
        prog="sen2val-stac",
        description="Sen2Chain index rasters as a static STAC catalogue, and what derives from it.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if not hasattr(module, "NAME"):
            continue
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sen2val_stac").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        return int(args._run(args) or 0)
    except Sen2valError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""``sen2val-stac serve``: serve the static catalogue over HTTP (CORS, byte ranges)."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.serve import serve_forever

NAME = "serve"
HELP = "Serve the catalogue (and the rasters, layers and cubes it links to) over HTTP for browsers and GDAL."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``serve``."""
    parser.add_argument("catalog", help="catalogue folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--data", action="append", default=[], metavar="DIR",
                        help="also serve DIR (e.g. the INDICES tree the assets point to); repeatable")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C."""
    try:
        serve_forever(args.catalog, args.host, args.port, args.data)
    except (OSError, NotADirectoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0

"""``sen2val-stac serve``: serve the static catalogue over HTTP (CORS, byte ranges); ``--api`` adds a STAC API."""

from __future__ import annotations

import argparse

from sen2val_stac.core.errors import InputError

NAME = "serve"
HELP = "Serve the catalogue (and the rasters, layers and cubes it links to) over HTTP for browsers and GDAL."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``serve``."""
    parser.add_argument("catalog", metavar="CATALOG_DIR", help="catalogue folder (holding catalog.json)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument("--data", action="append", default=[], metavar="DIR",
                        help="also serve DIR (e.g. the INDICES tree the asset hrefs point to); repeatable")
    parser.add_argument("--api", action="store_true",
                        help="also serve a STAC API (search, CQL2 filters, paging) over CATALOG_DIR/items.parquet "
                             "at the root URL; the static files keep their URLs (docs/stac-api.md)")
    parser.add_argument("--dsn", metavar="POSTGRESQL_DSN",
                        help="with --api: serve the STAC API from this pgstac database (stac-fastapi-pgstac; load it "
                             "with `sen2val-stac pgstac load`) instead of items.parquet")
    parser.add_argument("--cubes", metavar="DIR", help="also publish the NetCDF cubes of DIR over ERDDAP griddap "
                                                       "and OPeNDAP under /cubes (docs/downstream.md)")


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; exit 2 when the catalogue or a data folder cannot be served."""
    from sen2val_stac.serve.static import serve

    if args.dsn and not args.api:
        raise InputError("--dsn serves a STAC API from pgstac: give --api too")
    try:
        if args.cubes:
            from sen2val_stac.serve.cubes import serve_cubes  # xpublish, fastapi: only when asked for

            serve_cubes(args.catalog, args.cubes, args.host, args.port, args.data, api=args.api)
        elif args.api and args.dsn:
            from sen2val_stac.serve.pgstac.app import serve_pgstac  # stac-fastapi-pgstac: only when asked for

            serve_pgstac(args.catalog, args.dsn, args.host, args.port, args.data)
        elif args.api:
            import logging

            # stac-fastapi warns at import time that its title/version come from defaults: ours are set
            logging.getLogger("stac_fastapi.types.config").setLevel(logging.ERROR)
            from sen2val_stac.serve.api.app import serve_api  # fastapi, duckdb ...: only when asked for

            serve_api(args.catalog, args.host, args.port, args.data)
        else:
            serve(args.catalog, args.host, args.port, args.data)
    except (OSError, ValueError) as exc:
        raise InputError(str(exc)) from exc
    except KeyboardInterrupt:
        pass
    return 0

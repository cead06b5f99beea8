"""``sen2val-stac pgstac``: the catalogue in a pgstac (PostgreSQL) database, for stac-fastapi-pgstac."""

from __future__ import annotations

import argparse
from typing import Any

from sen2val_stac.core.errors import InputError

NAME = "pgstac"
HELP = "Load the catalogue into a pgstac (PostgreSQL + PostGIS) database for stac-fastapi-pgstac; install its schema."
DSN_HELP = ("PostgreSQL connection string, e.g. postgresql://user@host:5432/stac (a password is better kept in "
            "PGPASSWORD or ~/.pgpass); default: pgstac.dsn of --config")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``pgstac load`` and ``pgstac migrate``."""
    parser.epilog = ("usage: sen2val-stac pgstac migrate --dsn DSN; sen2val-stac pgstac load CATALOG --dsn DSN "
                     "[--root-href URL] [--asset-href-base URL] [--force]. Serve the database with stac-fastapi-pgstac "
                     "(docs/stac-api.md). `sen2val-stac pgstac ACTION --help` lists each action's options.")
    sub = parser.add_subparsers(dest="pgstac_command", metavar="ACTION", required=True)
    load = sub.add_parser("load", help="load (incrementally) the index collections and items into the database",
                          description="Upsert what changed, delete what left the catalogue, in one transaction.")
    load.add_argument("catalog", metavar="CATALOG", help="catalogue folder (holding catalog.json)")
    load.add_argument("--dsn", help=DSN_HELP)
    load.add_argument("--config", help="sen2val.yaml (pgstac.dsn, root_href, asset_href_base)")
    load.add_argument("--root-href", metavar="URL",
                      help="URL of the catalogue folder (thumbnails' hrefs); default: the URL it was indexed for")
    load.add_argument("--asset-href-base", metavar="URL",
                      help="URL under which the INDICES folder is published (raster hrefs); default: asset_href_base "
                           "of --config; without either URL, relative hrefs become file:// URIs")
    load.add_argument("--force", action="store_true", help="rewrite every item, changed or not")
    migrate = sub.add_parser("migrate", help="install or upgrade the pgstac schema (needs PostGIS)",
                             description="pypgstac's migrations, to the schema version of the installed pypgstac.")
    migrate.add_argument("--dsn", help=DSN_HELP)
    migrate.add_argument("--config", help="sen2val.yaml (pgstac.dsn)")


def _config(args: argparse.Namespace) -> dict[str, Any]:
    from sen2val_stac.config import load_config

    return load_config(args.config) if args.config else {}


def resolve_dsn(dsn: str | None, config: dict[str, Any]) -> str:
    """``--dsn``, else ``pgstac.dsn`` of the configuration; InputError naming both when neither is set."""
    dsn = dsn or (config.get("pgstac") or {}).get("dsn")
    if not dsn:
        where = config.get("_path", "the configuration")
        raise InputError(f"no database given: pass --dsn or set pgstac.dsn in {where}")
    return str(dsn)


def run(args: argparse.Namespace) -> int:
    """Load or migrate; a bad catalogue, DSN or database exits 2 (through the CLI) with the reason."""
    from sen2val_stac.serve.pgstac import load_catalog, mask_dsn, migrate

    config = _config(args)
    dsn = resolve_dsn(args.dsn, config)
    if args.pgstac_command == "migrate":
        print(f"pgstac {migrate(dsn)} in {mask_dsn(dsn)}")
        return 0
    report = load_catalog(args.catalog, dsn, root_href=args.root_href or config.get("root_href"),
                          asset_href_base=args.asset_href_base or config.get("asset_href_base"), force=args.force)
    print(report.summary())
    return 0

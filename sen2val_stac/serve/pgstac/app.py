"""stac-fastapi-pgstac over the loaded database, the static catalogue files behind it: one server, one origin.

The API is stac-fastapi-pgstac's own (``instantiate_api``: every extension it enables by default), its
landing page named after the catalogue's root catalog, its search parameters checked first by
:mod:`.guard` (the embedded API's rules and 400 messages; CQL2 text accepted in POST); every path the API does not answer goes to the
static server of :mod:`sen2val_stac.serve.static` (the catalogue and data folders under their common
parent, as ``sen2val-stac serve``), so asset hrefs loaded as ``<root URL><folder>/...`` are answered by
the same server. Two ways to run it:

- ``uvicorn sen2val_stac.serve.pgstac.app:create_app --factory`` with ``PGHOST``/``PGPORT``/``PGUSER``/
  ``PGPASSWORD``/``PGDATABASE`` (stac-fastapi-pgstac's settings) and ``SEN2VAL_CATALOG`` (+ ``SEN2VAL_DATA``,
  folders separated by ``:``) set; without ``SEN2VAL_CATALOG`` it is stac-fastapi-pgstac alone;
- :func:`serve_pgstac` (for ``serve --api --dsn``), which takes the database as a DSN.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sen2val_stac.core import constants as C

if TYPE_CHECKING:
    from fastapi import FastAPI

ENV_CATALOG, ENV_DATA = "SEN2VAL_CATALOG", "SEN2VAL_DATA"
LANDING = {"id": "stac_fastapi_landing_id", "title": "stac_fastapi_title", "description": "stac_fastapi_description"}


def dsn_settings(dsn: str) -> dict[str, Any]:
    """stac-fastapi-pgstac's connection settings (pguser, pgpassword, pghost, pgport, pgdatabase) from a DSN.

    What the DSN leaves out comes from libpq's variables (``PGPASSWORD``...), then libpq's defaults.
    """
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(dsn)
    env = os.environ
    return {
        "pguser": str(parts.get("user") or env.get("PGUSER") or env.get("USER") or "postgres"),
        "pgpassword": str(parts.get("password") or env.get("PGPASSWORD") or ""),
        "pghost": str(parts.get("host") or env.get("PGHOST") or "localhost"),
        "pgport": int(parts.get("port") or env.get("PGPORT") or 5432),
        "pgdatabase": str(parts.get("dbname") or env.get("PGDATABASE") or parts.get("user") or "postgres"),
    }


def _landing(catalog_dir: Path) -> dict[str, str]:
    """Landing-page settings from the root catalog, unless set in the environment (STAC_FASTAPI_TITLE...)."""
    root = json.loads((catalog_dir / C.CATALOG_FILE).read_text(encoding="utf-8"))
    return {setting: str(root[key]) for key, setting in LANDING.items()
            if root.get(key) and setting.upper() not in os.environ}


def _with_raw_target(static: Any) -> Any:
    """Give the static app the raw request path, so it can refuse encoded slashes and dots."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        raw = (environ.get("asgi.scope") or {}).get("raw_path")
        if raw:
            environ["REQUEST_URI"] = raw.decode("latin-1")
        return static(environ, start_response)

    return app


def create_app(catalog_dir: str | os.PathLike[str] | None = None, data_dirs: Sequence[str | os.PathLike[str]] = (),
               dsn: str | None = None) -> FastAPI:
    """The app: stac-fastapi-pgstac (database from ``dsn``, else PG* variables) and the static files behind it.

    ``catalog_dir``/``data_dirs`` default to ``SEN2VAL_CATALOG``/``SEN2VAL_DATA``.
    """
    from a2wsgi import WSGIMiddleware
    from stac_fastapi.pgstac.app import instantiate_api
    from stac_fastapi.pgstac.config import Settings

    from sen2val_stac.serve.pgstac.guard import SearchGuard
    from sen2val_stac.serve.static import make_app

    catalog = catalog_dir or os.environ.get(ENV_CATALOG)
    if not data_dirs:
        data_dirs = [d for d in os.environ.get(ENV_DATA, "").split(os.pathsep) if d]
    overrides: dict[str, Any] = dsn_settings(dsn) if dsn else {}
    if catalog:
        overrides.update(_landing(Path(catalog)))
    app: FastAPI = instantiate_api(settings=Settings(**overrides)).app
    app.add_middleware(SearchGuard)
    if catalog:
        app.mount("/", WSGIMiddleware(_with_raw_target(make_app(catalog, data_dirs))))  # type: ignore[arg-type]
    return app


def serve_pgstac(catalog_dir: str | os.PathLike[str], dsn: str, host: str = "127.0.0.1", port: int = 8000,
                 data_dirs: Sequence[str | os.PathLike[str]] = ()) -> None:
    """Serve :func:`create_app` with uvicorn until interrupted; print ``STAC API: <root URL>`` once listening."""
    import socket

    import uvicorn

    from sen2val_stac.serve.pgstac.dsn import connect, pgstac_version

    conn = connect(dsn)  # a clear error (DSN masked) before the server starts
    try:
        pgstac_version(conn, dsn)
    finally:
        conn.close()
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    name = f"[{host}]" if ":" in host else host
    print(f"STAC API: http://{name}:{sock.getsockname()[1]}/", flush=True)
    config = uvicorn.Config(create_app(catalog_dir, data_dirs, dsn), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])

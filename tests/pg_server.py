"""A throw-away PostgreSQL 15 + PostGIS cluster for tests: initdb in a temporary folder, 127.0.0.1, a free port.

``initdb`` refuses to run as root, so as root the cluster runs as the ``postgres`` user (``runuser``) in a
folder that user owns; as any other user it runs as that user. Skips (with the reason) when the server
binaries, PostGIS or pypgstac are missing. Clean shutdown (``pg_ctl stop -m fast``) and removal at the end.

Use the session fixture ``pg_server`` (registered in ``tests/conftest.py``): it yields a :class:`PgServer`,
whose :meth:`PgServer.database` creates a fresh database, empty or with the pgstac schema (cloned from a
template migrated once per session, ``pypgstac migrate`` takes seconds, a clone milliseconds).
"""

from __future__ import annotations

import atexit
import glob
import itertools
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from processes import stop

USER = "postgres"
TEMPLATE = "pgstac_template"


def find_bindir() -> Path | None:
    """Folder of ``initdb``/``pg_ctl``/``postgres``: Debian's /usr/lib/postgresql/<major>/bin, else PATH."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if all(os.access(os.path.join(candidate, exe), os.X_OK) for exe in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(os.path.realpath(initdb)).parent if initdb else None


def missing_reason() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    bindir = find_bindir()
    if bindir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: run scripts/install_system_deps.sh"
    if not glob.glob("/usr/share/postgresql/*/extension/postgis.control") and not glob.glob(
            str(bindir.parent / "share" / "**" / "postgis.control"), recursive=True):
        return "PostGIS not installed (postgresql-15-postgis-3): run scripts/install_system_deps.sh"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"running as root and there is no '{USER}' user to run initdb as"
    try:
        import psycopg  # noqa: F401
        import pypgstac  # noqa: F401
    except ImportError as exc:
        return f"pypgstac/psycopg not installed ({exc})"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running cluster: superuser ``postgres`` (trust authentication) on 127.0.0.1:``port``."""

    host: str
    port: int
    user: str = USER
    password: str = "unused-trust-auth"
    _counter: Iterator[int] = field(default_factory=itertools.count)
    _template: bool = False

    def dsn(self, dbname: str = "postgres") -> str:
        """URL DSN of database ``dbname``."""
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"

    def env(self, dbname: str) -> dict[str, str]:
        """libpq variables (PGHOST...) for ``dbname``, as stac-fastapi-pgstac reads them."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.user,
                "PGPASSWORD": self.password, "PGDATABASE": dbname}

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(statement)

    def _ensure_template(self) -> None:
        if self._template:
            return
        from pypgstac.db import PgstacDB
        from pypgstac.migrate import Migrate

        self._admin(f"CREATE DATABASE {TEMPLATE}")
        db = PgstacDB(dsn=self.dsn(TEMPLATE))
        try:
            Migrate(db).run_migration()
        finally:
            pool = db.pool
            db.disconnect()  # gives the connection back; the pool is closed below
            if pool is not None:
                pool.close()
        self._admin(f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS false")
        self._template = True

    def database(self, pgstac: bool = True, name: str | None = None) -> str:
        """Create a new database (with the pgstac schema unless ``pgstac=False``) and return its DSN."""
        name = name or f"test_{next(self._counter)}"
        if pgstac:
            self._ensure_template()
            self._admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        else:
            self._admin(f"CREATE DATABASE {name}")
        return self.dsn(name)


def _as_owner(argv: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def running_cluster() -> Iterator[PgServer]:
    """Start a throw-away cluster, yield it, stop it and remove its folder (even when the body fails)."""
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    bindir = find_bindir()
    assert bindir is not None
    top = Path(tempfile.mkdtemp(prefix="sen2val-pg-"))
    data, log = top / "data", top / "server.log"
    if os.geteuid() == 0:
        owner = pwd.getpwnam(USER)
        os.chown(top, owner.pw_uid, owner.pw_gid)
    started = False
    try:
        subprocess.run(_as_owner([str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
                                  "--locale=C", "--no-sync"]), check=True, capture_output=True, timeout=120)
        for _attempt in range(5):
            port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={top} -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50")
            result = subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                                               "-t", "60", "-o", options, "start"]),
                                    capture_output=True, text=True, timeout=90)
            if result.returncode == 0:
                started = True
                break
        if not started:
            raise RuntimeError(f"pg_ctl start failed: {result.stderr}\n{log.read_text(errors='replace')[-2000:]}")
        yield PgServer("127.0.0.1", port)
    finally:
        if started:
            subprocess.run(_as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                           capture_output=True, timeout=120)
        shutil.rmtree(top, ignore_errors=True)


_SHARED: list[tuple[PgServer, ExitStack]] = []


def shared_server() -> PgServer:
    """The session's cluster, started on first use (skips where impossible), stopped by :func:`stop_shared`."""
    if not _SHARED:
        stack = ExitStack()
        server = stack.enter_context(running_cluster())
        _SHARED.append((server, stack))
        atexit.register(stop_shared)
    return _SHARED[0][0]


def stop_shared() -> None:
    """Stop the shared cluster (idempotent)."""
    while _SHARED:
        _SHARED.pop()[1].close()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL + PostGIS cluster for the whole session (skips with the reason where absent)."""
    yield shared_server()
    stop_shared()


# --- stac-fastapi-pgstac over a loaded database (the "pgstac" back-end of tests/api_backends.py) ----------

# The documented commands (docs/stac-api.md), with PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE set: the plain
# stac-fastapi-pgstac app, and sen2val's factory that also serves the catalogue's files (SEN2VAL_CATALOG/_DATA).
PLAIN_APP = "stac_fastapi.pgstac.app:create_app"
ONE_ORIGIN_APP = "sen2val_stac.serve.pgstac.app:create_app"
API_ENV = {"USE_API_HYDRATE": "true"}


@contextmanager
def uvicorn_app(app: str, env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """``uvicorn APP --factory --host 127.0.0.1 --port PORT`` in a subprocess with ``env`` added; yield its root URL."""
    import requests

    port = port or free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", app, "--factory", "--host", "127.0.0.1",
                             "--port", str(port)], env={**os.environ, **API_ENV, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{app} exited ({proc.returncode}): {proc.stderr.read()[-3000:] if proc.stderr else ''}")
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{app} did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        stop(proc)


@dataclass
class PgstacSite:
    """A catalogue loaded into a database of the shared cluster and served by stac-fastapi-pgstac."""

    catalog: Path
    dsn: str
    root_href: str
    asset_href_base: str
    api_url: str = ""

    def load(self) -> None:
        """(Re)load the catalogue as it is now (incrementally)."""
        from sen2val_stac.serve.pgstac import load_catalog

        load_catalog(self.catalog, self.dsn, root_href=self.root_href, asset_href_base=self.asset_href_base)


def _folder_url(base: str, folder: Path, top: Path) -> str:
    return f"{base.rstrip('/')}/{folder.resolve().relative_to(top).as_posix()}/"


@contextmanager
def pgstac_site(catalog: Path, indices: Path, one_origin: bool = True) -> Iterator[PgstacSite]:
    """``catalog`` (rasters in ``indices``) loaded into a new database and served.

    ``one_origin``: sen2val's factory serves the API and the files on one port (asset hrefs under the API
    root); else the plain stac-fastapi-pgstac app, the files on a static server of their own.
    """
    from sen2val_stac.serve.static import common_top, make_app, running_server

    server = shared_server()
    dsn = server.database()
    env = server.env(dsn.rsplit("/", 1)[1])
    top = common_top([catalog.resolve(), indices.resolve()])
    if one_origin:
        port = free_port()
        base = f"http://127.0.0.1:{port}/"
        site = PgstacSite(catalog, dsn, _folder_url(base, catalog, top), _folder_url(base, indices, top))
        site.load()
        env.update({"SEN2VAL_CATALOG": str(catalog), "SEN2VAL_DATA": str(indices)})
        with uvicorn_app(ONE_ORIGIN_APP, env, port) as site.api_url:
            yield site
        return
    with running_server(make_app(catalog, [indices])) as (base, _app):
        site = PgstacSite(catalog, dsn, _folder_url(base, catalog, top), _folder_url(base, indices, top))
        site.load()
        root = json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))
        env.update({f"STAC_FASTAPI_{'LANDING_ID' if k == 'id' else k.upper()}": root[k]
                    for k in ("id", "title", "description") if root.get(k)})
        with uvicorn_app(PLAIN_APP, env) as site.api_url:
            yield site

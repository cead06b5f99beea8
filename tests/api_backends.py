"""STAC API back-ends for the API tests: the fixture ``stac_api`` runs every test of tests/test_api.py once per back-end.

A back-end is a context manager ``start(catalog_dir, data_dir) -> ApiServer`` registered in :data:`BACKENDS`
under its name (the fixture's parameter). "embedded" is ``sen2val-stac serve --api`` in a subprocess on
127.0.0.1 and a free port; another back-end (pgstac) adds its own starter to :data:`BACKENDS` here.

Every back-end serves a private copy of the demo catalogue (catalogue + INDICES), so a test may re-index it;
``ApiServer.refresh()`` makes the API see the catalogue as it is now (embedded: nothing to do, the server
reloads by itself; a database back-end loads it).

:func:`offline_schemas` serves the JSON-schema look-ups of stac-validator (used by stac-api-validator and
by openEO's ``load_stac``) from the offline mirror ``../shared/stac-schemas`` and refuses every other
non-local URL, so nothing goes to the internet.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from processes import stop

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO.parent / "shared" / "stac-schemas"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class ApiServer:
    """A running STAC API: ``url`` is the landing page (ends with ``/``)."""

    name: str
    url: str
    catalog: Path
    indices: Path
    refresh: Callable[[], None] = field(default=lambda: None)


Starter = Callable[[Path, Path], AbstractContextManager[ApiServer]]


def _read_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    """The first stdout line of ``proc`` starting with ``prefix`` (the rest of the line); later output is drained."""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline, seen = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"no {prefix!r} line from {proc.args}: stdout {''.join(seen)!r} stderr {stderr[-3000:]}")


@contextmanager
def start_embedded(catalog: Path, indices: Path) -> Iterator[ApiServer]:
    """``sen2val-stac serve CATALOG --data INDICES --api --port 0`` in a subprocess."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sen2val_stac", "serve", str(catalog), "--data", str(indices), "--api", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = _read_line(proc, "STAC API: ", timeout=120)
        yield ApiServer("embedded", url, catalog, indices)
    finally:
        stop(proc)


@contextmanager
def start_pgstac(catalog: Path, indices: Path) -> Iterator[ApiServer]:
    """stac-fastapi-pgstac (the documented uvicorn line) over the catalogue loaded by ``sen2val-stac pgstac load``
    into a database of a throw-away PostgreSQL + PostGIS (tests/pg_server.py; skips where absent); the rasters
    and thumbnails on a static server. ``refresh()`` loads the catalogue again (incrementally)."""
    from pg_server import pgstac_site

    with pgstac_site(catalog, indices) as site:
        yield ApiServer("pgstac", site.api_url, catalog, indices, refresh=site.load)


BACKENDS: dict[str, Starter] = {"embedded": start_embedded, "pgstac": start_pgstac}


def copy_demo(demo: tuple[Path, object], dest: Path) -> tuple[Path, Path]:
    """A private copy of the demo tree and its catalogue: ``(catalog, INDICES)``."""
    catalog, _ = demo
    shutil.copytree(catalog.parent / "INDICES", dest / "INDICES", symlinks=True)
    shutil.copytree(catalog, dest / "catalog", symlinks=True)
    return dest / "catalog", dest / "INDICES"


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def stac_api_server(request: pytest.FixtureRequest, demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One running API per back-end over a private copy of the demo catalogue (module-wide: do not change it)."""
    catalog, indices = copy_demo(demo, tmp_path_factory.mktemp(f"api-{request.param}"))
    with BACKENDS[request.param](catalog, indices) as server:
        yield server


@pytest.fixture(scope="module")
def stac_api(stac_api_server: ApiServer) -> str:
    """The landing page URL of the API under test (one per back-end)."""
    return stac_api_server.url


@pytest.fixture(params=sorted(BACKENDS))
def fresh_stac_api(request: pytest.FixtureRequest, demo, tmp_path: Path) -> Iterator[ApiServer]:
    """An API of its own over a copy the test may re-index."""
    catalog, indices = copy_demo(demo, tmp_path)
    with BACKENDS[request.param](catalog, indices) as server:
        yield server


# --- offline JSON schemas ------------------------------------------------------------------------


def _project_schemas() -> dict[str, Path]:
    """The schemas this project publishes itself (its ``sen2chain`` extension), URL -> file."""
    try:
        from sen2val_stac.catalog.sen2chain_extension import local_schemas
    except ImportError:
        return {}
    return dict(local_schemas())


def mirror_path(url: str, mirror: Path = SCHEMAS) -> Path | None:
    """The mirrored file of a schema URL (or the project's own schema file), or None if its host is not mirrored."""
    own = _project_schemas().get(url.split("#", 1)[0])
    if own is not None:
        return own
    parts = urlsplit(url)
    host_dir = mirror / parts.netloc
    if not parts.netloc or not host_dir.is_dir():
        return None
    return host_dir / parts.path.lstrip("/")


def _mirror_stac_io(mirror: Path, served: list[str]) -> type:
    """A pystac StacIO reading mirrored schema URLs from ``mirror`` (pystac's validator reads with urllib3)."""
    import pystac

    class MirrorStacIO(pystac.stac_io.DefaultStacIO):  # type: ignore[misc]
        def read_text_from_href(self, href: str) -> str:
            host = urlsplit(href).hostname or ""
            path = mirror_path(href, mirror)
            if path is not None:
                if not path.is_file():
                    raise FileNotFoundError(f"{href}: not in the schema mirror {mirror}")
                served.append(href)
                return path.read_text(encoding="utf-8")
            if "://" in href and host not in LOCAL_HOSTS:
                raise ConnectionError(f"offline test: {href} is neither local nor in the schema mirror")
            return str(super().read_text_from_href(href))

    return MirrorStacIO


@contextmanager
def offline_schemas(mirror: Path = SCHEMAS) -> Iterator[list[str]]:
    """Answer ``requests`` (and pystac's StacIO) for mirrored hosts from ``mirror`` (404 when absent), refuse
    other non-local hosts. Yields the list of URLs answered from the mirror (for assertions).
    """
    import pystac

    original = requests.adapters.HTTPAdapter.send
    served: list[str] = []
    previous_io = pystac.StacIO._default_io
    pystac.StacIO.set_default(_mirror_stac_io(mirror, served))

    def send(self: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, *args: object, **kwargs: object) -> requests.Response:
        url = str(request.url)
        host = urlsplit(url).hostname or ""
        if host in LOCAL_HOSTS:
            return original(self, request, *args, **kwargs)  # type: ignore[arg-type]
        path = mirror_path(url, mirror)
        if path is None:
            raise requests.ConnectionError(f"offline test: {url} is neither local nor in the schema mirror")
        response = requests.Response()
        response.url, response.request = url, request
        if path.is_file():
            response.status_code, response._content = 200, path.read_bytes()
            response.headers["Content-Type"] = "application/json"
            served.append(url)
        else:
            response.status_code, response._content = 404, b""
        return response

    requests.adapters.HTTPAdapter.send = send  # type: ignore[method-assign]
    try:
        yield served
    finally:
        requests.adapters.HTTPAdapter.send = original  # type: ignore[method-assign]
        pystac.StacIO._default_io = previous_io

"""``serve --cubes DIR``: the NetCDF cubes over ERDDAP griddap and OPeNDAP (xpublish), beside the static files.

URL space (under ``/cubes``, the static catalogue and ``--data`` folders keep their URLs):

- ``/cubes/erddap/griddap/<ERDDAP id>`` (xpublish-erddap): DAP2 (``.das``, ``.dds``, ``.dods``: pydap,
  netCDF4, GDAL, Panoply) and ERDDAP file types (``.nc``, ``.csv``, ``.json`` ...); the ids are the file
  names with ``-`` turned into ``_`` (``/cubes/erddap/griddap/index.csv`` lists them).
- ``/cubes/datasets/<file stem>/opendap`` (xpublish-opendap): plain OPeNDAP DAP2.
- ``/cubes/datasets`` (xpublish): the ids.

Each cube is opened with ``mask_and_scale=False``: clients get the packed int16 values with ``scale_factor``,
``add_offset`` and ``_FillValue``, value for value as in the file (default decoding would publish float32
with NaN). The folder is read per request: a cube written or replaced by ``netcdf`` is served at its next
request (cached while its size and modification time hold).

Two upstream defects are handled here (``../shared/reference/stac-api.md``, tests/test_serve_cubes.py):
opendap-protocol 1.1.1 reads a DAP hyperslab ``[start:stride:stop]`` as ``start:stop:stride`` (wrong values
for strided reads, and pydap's ``[0:1:0]`` crashes it), and ends the ``.dods`` header with ``Data:\\r\\n``, which
pydap cannot split: :class:`DapFix` swaps the two numbers in the query when, and only when, the installed
parser has the defect, and rewrites the separator. ERDDAP griddap drops the grid-mapping
variable: the cubes also carry their CRS as global attributes (``crs_code``, ``crs_wkt``, ``crs_geotransform``).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import uvicorn
import xarray as xr
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI
from pydantic import PrivateAttr
from starlette.routing import Mount
from xpublish.plugins import Plugin, hookimpl
from xpublish.rest import Rest
from xpublish_erddap import ErddapPlugin
from xpublish_opendap import OpenDapPlugin

from sen2val_stac.serve.ready_server import ReadyServer
from sen2val_stac.serve.static import CORS, make_app

PREFIX = "/cubes"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class CubeFolder(Plugin):
    """xpublish dataset provider: every ``*.nc`` of a folder, id = file stem, opened packed (``mask_and_scale=False``)."""

    name: str = "sen2val-cubes"
    folder: str = ""
    _cache: dict[str, tuple[tuple[int, int], xr.Dataset]] = PrivateAttr(default_factory=dict)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def _path(self, dataset_id: str) -> Path | None:
        path = Path(self.folder) / f"{dataset_id}.nc"
        if "/" in dataset_id or dataset_id.startswith(".") or not path.is_file():
            return None
        return path

    @hookimpl
    def get_datasets(self) -> Iterable[str]:
        """The cube ids: file stems, hidden and temporary files left out."""
        return sorted(p.stem for p in Path(self.folder).glob("*.nc") if not p.name.startswith("."))

    @hookimpl
    def get_dataset(self, dataset_id: str) -> xr.Dataset | None:
        """The cube ``dataset_id``, reopened when its file changed; None when absent."""
        path = self._path(dataset_id)
        if path is None:
            return None
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(dataset_id)
            if cached is None or cached[0] != stamp:
                ds = xr.open_dataset(path, mask_and_scale=False)
                # ERDDAP's catalogue is rebuilt when this id changes (an atomic rewrite by `netcdf`).
                ds.attrs["_xpublish_id"] = f"{dataset_id}@{stamp[0]}"
                cached = self._cache[dataset_id] = (stamp, ds)
        return cached[1]


_HYPERSLAB = re.compile(r"\[(\d+):(\d+):(\d+)\]")


def dap_parser_swaps_stride() -> bool:
    """True when the installed opendap-protocol reads ``[start:stride:stop]`` as ``start:stop:stride`` (1.1.1 does)."""
    from opendap_protocol.protocol import parse_slice  # type: ignore[import-untyped]

    return bool(parse_slice("0:2:4") == slice(0, 3, 4))


class DapFix:
    """ASGI middleware for the OPeNDAP routes (``/opendap.dds``, ``.dods``, ``.das``).

    With ``swap_stride``, each hyperslab ``[a:s:b]`` of the query becomes ``[a:b:s]``, which a parser that swaps
    stride and stop reads as DAP means it. The ``.dods`` separator ``Data:\\r\\n`` of opendap-protocol becomes
    ``Data:\\n`` (libdap's), which pydap splits on (netCDF-C reads both).
    """

    def __init__(self, app: ASGIApp, swap_stride: bool) -> None:
        self.app = app
        self.swap_stride = swap_stride

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Any]],
                       send: Callable[[Any], Awaitable[None]]) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.endswith(("/opendap.dds", "/opendap.dods", "/opendap.das")):
            await self.app(scope, receive, send)
            return
        query = unquote(scope.get("query_string", b"").decode("latin-1"))
        fixed = _HYPERSLAB.sub(r"[\1:\3:\2]", query) if self.swap_stride else query
        if fixed != query:
            scope = {**scope, "query_string": quote(fixed, safe="=&,:[]").encode("latin-1")}
        pending = [path.endswith(".dods")]

        async def send_fixed(message: Any) -> None:
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if pending[0] and (body.startswith(b"Data:\r\n") or b"\nData:\r\n" in body):  # the first one only
                message = {**message, "body": body.replace(b"Data:\r\n", b"Data:\n", 1)}
                pending[0] = False
            await send(message)

        await self.app(scope, receive, send_fixed)


def make_cube_app(cubes_dir: str | os.PathLike[str]) -> FastAPI:
    """The xpublish app (ERDDAP griddap, OPeNDAP) over the ``*.nc`` files of ``cubes_dir``."""
    folder = Path(cubes_dir).resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder (--cubes)")
    plugins: dict[str, Plugin] = {"erddap": ErddapPlugin(), "opendap": OpenDapPlugin(),
                                  "sen2val-cubes": CubeFolder(folder=str(folder))}
    rest = Rest({}, plugins=plugins)
    app: FastAPI = rest.app
    app.add_middleware(DapFix, swap_stride=dap_parser_swaps_stride())
    return app


def _cors(app: ASGIApp) -> ASGIApp:
    """Add the static server's CORS headers to every answer of ``app`` (browsers reading ERDDAP JSON)."""
    headers = [(k.lower().encode(), v.encode()) for k, v in CORS.items()]

    async def wrapped(scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]) -> None:
        async def send_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await app(scope, receive, send_cors)

    return wrapped


def mount_cubes(app: FastAPI, cubes_dir: str | os.PathLike[str]) -> FastAPI:
    """Mount the cube app at ``/cubes`` of ``app``, ahead of any catch-all mount (the static files at ``/``)."""
    app.router.routes.insert(0, Mount(PREFIX, app=_cors(make_cube_app(cubes_dir))))
    return app


def make_app_with_cubes(catalog_dir: str | os.PathLike[str], cubes_dir: str | os.PathLike[str],
                        data_dirs: Sequence[str | os.PathLike[str]] = (), api: bool = False) -> FastAPI:
    """Static catalogue (or, with ``api``, the STAC API app of ``serve --api``) plus the cubes under ``/cubes``."""
    if api:
        from sen2val_stac.serve.api.app import make_api_app

        app: FastAPI = make_api_app(catalog_dir, data_dirs)
    else:
        static = make_app(catalog_dir, data_dirs)
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
        app.state.static_index = static.index_path
        app.mount("/", WSGIMiddleware(static))  # type: ignore[arg-type]
    return mount_cubes(app, cubes_dir)


def _base(host: str, port: int) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


@contextmanager
def running_cube_server(catalog_dir: str | os.PathLike[str], cubes_dir: str | os.PathLike[str],
                        data_dirs: Sequence[str | os.PathLike[str]] = (), host: str = "127.0.0.1",
                        api: bool = False) -> Iterator[str]:
    """Serve catalogue and cubes on a free port in a background thread; yield the base URL; stop on exit."""
    app = make_app_with_cubes(catalog_dir, cubes_dir, data_dirs, api)
    ready = threading.Event()
    port: list[int] = []

    def on_ready(real: int) -> None:
        port.append(real)
        ready.set()

    server = ReadyServer(uvicorn.Config(app, host=host, port=0, log_level="warning", access_log=False), on_ready)
    thread = threading.Thread(target=server.run, name="sen2val-cubes", daemon=True)
    thread.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the cube server did not start within 60 s")
        yield _base(host, port[0])
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve_cubes(catalog_dir: str | os.PathLike[str], cubes_dir: str | os.PathLike[str], host: str = "127.0.0.1",
                port: int = 8000, data_dirs: Sequence[str | os.PathLike[str]] = (), api: bool = False,
                ready: Callable[[str], None] | None = None) -> None:
    """Serve catalogue and cubes until interrupted; print the root catalogue, ERDDAP and OPeNDAP URLs."""
    app = make_app_with_cubes(catalog_dir, cubes_dir, data_dirs, api)

    def on_ready(real: int) -> None:
        base = _base(host, real)
        print(f"Root catalog: {base}{app.state.static_index}\n"
              f"ERDDAP griddap: {base}{PREFIX}/erddap/griddap/index.html\n"
              f"OPeNDAP: {base}{PREFIX}/datasets/<cube file stem>/opendap", flush=True)
        if ready is not None:
            ready(base)

    ReadyServer(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False), on_ready).run()

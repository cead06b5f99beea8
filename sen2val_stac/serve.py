"""Serve a static catalogue (and the rasters, layers and cubes it links to) over HTTP.

Built on werkzeug: ``send_file`` gives conditional requests (ETag, Last-Modified) and byte ranges
(206 / 416), which GDAL's ``/vsicurl/`` needs to read raster windows. Every answer carries CORS
headers so a STAC Browser hosted elsewhere can read the catalogue. Only files under the served
roots are reachable: ``..``, encoded dots, absolute paths, backslashes, NUL bytes, dotfiles and
symlinks leading out of a root are refused.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.exceptions import Forbidden, HTTPException, MethodNotAllowed, NotFound
from werkzeug.serving import make_server
from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

MEDIA_TYPES = {
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".jp2": "image/jp2",
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".png": "image/png",
    ".nc": "application/x-netcdf",
    ".parquet": "application/vnd.apache.parquet",
    ".xml": "application/xml",
    ".csv": "text/csv",
    ".gpkg": "application/geopackage+sqlite3",
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range, If-None-Match, If-Modified-Since, Content-Type",
    "Access-Control-Expose-Headers": "Content-Range, Accept-Ranges, Content-Length, ETag, Last-Modified",
    "Access-Control-Max-Age": "86400",
}


def common_top(roots: Sequence[Path]) -> Path:
    """The deepest folder holding every root: URL paths are relative to it."""
    return Path(os.path.commonpath([str(r) for r in roots]))


class StaticApp:
    """WSGI app serving files under ``roots`` at URL paths relative to their common parent."""

    def __init__(self, roots: Sequence[str | os.PathLike[str]]) -> None:
        self.roots = [Path(r).resolve() for r in roots]
        for root in self.roots:
            if not root.is_dir():
                raise NotADirectoryError(f"{root}: not a folder")
        self.top = common_top(self.roots)

    def url_path(self, path: str | os.PathLike[str]) -> str:
        """URL path (starting with /) of a file under a root."""
        return "/" + Path(path).resolve().relative_to(self.top).as_posix()

    def resolve(self, url_path: str) -> Path:
        """The file behind ``url_path`` (already percent-decoded), or a 403/404 exception."""
        if "\x00" in url_path or "\\" in url_path:
            raise Forbidden("bad characters in path")
        parts = [p for p in url_path.split("/") if p]
        if any(p in ("..", ".") for p in parts):
            raise Forbidden("path escapes the served folder")
        if any(p.startswith(".") for p in parts):
            raise NotFound()
        target = self.top.joinpath(*parts).resolve()
        if not any(target == root or root in target.parents for root in self.roots):
            raise Forbidden("outside the served folders")
        if target.is_dir() and (target / "catalog.json").is_file():
            target = target / "catalog.json"
        if not target.is_file():
            raise NotFound()
        return target

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            if request.method == "OPTIONS":
                response = Response(status=204)
            elif request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(valid_methods=["GET", "HEAD", "OPTIONS"])
            else:
                raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
                if "%00" in raw.lower() or "%5c" in raw.lower():
                    raise Forbidden("bad characters in path")
                path = self.resolve(request.path)
                media = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
                response = send_file(path, environ, mimetype=media, conditional=True, max_age=60)
                response.headers["Accept-Ranges"] = "bytes"
        except HTTPException as exc:
            response = exc.get_response(environ)
        response.headers.update(CORS)
        return response(environ, start_response)


@contextmanager
def running_server(roots: Sequence[str | os.PathLike[str]], host: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[str, StaticApp]]:
    """Serve ``roots`` in a background thread; yield ``(base URL, app)`` and stop on exit."""
    app = StaticApp(roots)
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=5)


def catalogue_roots(catalog_dir: str | os.PathLike[str], data_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """The catalogue folder plus the data folders whose files it links to."""
    return [Path(catalog_dir).resolve(), *[Path(d).resolve() for d in data_dirs]]


def serve_forever(catalog_dir: str, host: str, port: int, data_dirs: Sequence[str] = ()) -> None:
    """Serve until interrupted, printing the catalogue URL."""
    app = StaticApp(catalogue_roots(catalog_dir, data_dirs))
    server = make_server(host, port, app, threaded=True)
    url = f"http://{host}:{server.server_port}{app.url_path(Path(catalog_dir) / 'catalog.json')}"
    print(f"Serving {', '.join(str(r) for r in app.roots)}\nCatalogue: {url}", flush=True)
    server.serve_forever()

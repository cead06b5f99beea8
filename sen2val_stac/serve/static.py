"""Serve a static catalogue (and the rasters, layers and cubes it links to) over HTTP.

Why werkzeug: its ``send_file`` implements what GDAL's ``/vsicurl/`` and browsers rely on and what a
hand-rolled ``http.server`` handler lacks: conditional requests (ETag, Last-Modified, If-None-Match,
If-Modified-Since, If-Range -> 304) and byte ranges (206 with Content-Range, 416 when unsatisfiable);
its threaded server speaks HTTP/1.1 keep-alive (GDAL reuses connections), binds ephemeral ports and
shuts down cleanly from another thread, which tests and callers need. One small pure-Python
dependency, no ASGI stack.

URL space: the deepest folder holding the catalogue and every ``--data`` folder is the URL root, so
the relative asset hrefs of the items (``../../../INDICES/NDVI/...``) still resolve; but only paths
under the catalogue or a data folder are served, everything else is 404. Every answer carries CORS
headers (``Access-Control-Allow-Origin: *``, range headers exposed, OPTIONS preflight answered) so a
STAC Browser hosted elsewhere can read the catalogue. Refused: ``..`` and ``.`` segments (also
percent-encoded), encoded slashes (``%2f``), backslashes, NUL bytes, files and folders whose name
starts with a dot (``.sen2val/``), symlinks resolving outside the served folders, and anything that
is not a regular file.

API: :func:`make_app` (the WSGI app), :func:`running_server` (context manager: background thread,
ephemeral port, yields the base URL and the app), :func:`serve` (blocking, for the CLI).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    NotFound,
)
from werkzeug.http import parse_range_header
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.utils import redirect, send_file
from werkzeug.wrappers import Request, Response

from sen2val_stac.core import media_types

log = logging.getLogger(__name__)

METHODS = "GET, HEAD, OPTIONS"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Range, Accept-Ranges, Content-Length, Content-Type, ETag, Last-Modified",
}
PREFLIGHT = {
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Range, If-Range, If-None-Match, If-Modified-Since, Content-Type, Authorization",
    "Access-Control-Max-Age": "86400",
}
INDEX_FILES = ("catalog.json", "collection.json", "index.html")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def common_top(roots: Sequence[Path]) -> Path:
    """The deepest folder holding every root: URL paths are relative to it."""
    return Path(os.path.commonpath([str(r) for r in roots]))


def _decoded_segments(environ: dict[str, Any]) -> list[str]:
    """The request path as percent-decoded segments, from the raw request target when the server gives it.

    Checking the raw target catches what decoding hides: an encoded ``/`` or ``\\`` inside a segment.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:  # a server without the raw target: PATH_INFO is already decoded (WSGI latin-1 dance)
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "strict")
        raw_segments = [quote(s, safe="") for s in path.split("/")]
    else:
        raw = raw.encode("latin-1").decode("utf-8", "strict") if isinstance(raw, str) else raw
        target = urlsplit(raw)
        if target.scheme or (target.netloc and not raw.startswith("//")):
            path = target.path  # absolute-form request target (http://host/path)
        else:
            path = raw.split("?", 1)[0].split("#", 1)[0]
        if not path.startswith("/"):
            raise BadRequest("request target must be an absolute path")
        raw_segments = path.split("/")
    segments = []
    for raw_segment in raw_segments:
        if not raw_segment:
            continue
        segment = unquote(raw_segment, errors="strict")
        if "/" in segment or "\\" in segment or "\x00" in segment:
            raise Forbidden("encoded slash, backslash or NUL in the path")
        if segment in (".", ".."):
            raise Forbidden("dot segments are not allowed")
        segments.append(segment)
    return segments


def _strip_unusable_range(environ: dict[str, Any]) -> dict[str, Any]:
    """Drop a Range header werkzeug would answer with 416 although HTTP says "ignore it, send 200".

    werkzeug serves one byte range; a multi-range, malformed or non-``bytes`` Range header is ignored
    (full 200 answer, which HTTP allows) instead of refused. A well-formed single range past the end still gets 416.
    """
    value = environ.get("HTTP_RANGE")
    if value is None:
        return environ
    parsed = parse_range_header(value)
    if parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1:
        return environ
    environ = dict(environ)
    del environ["HTTP_RANGE"]
    return environ


class StaticApp:
    """WSGI app serving the files under ``roots`` at URL paths relative to their common parent.

    ``index_path``: URL path ``/`` redirects to (e.g. the root ``catalog.json``).
    """

    def __init__(self, roots: Sequence[str | os.PathLike[str]], index_path: str | None = None) -> None:
        if not roots:
            raise ValueError("nothing to serve")
        self.roots = [Path(r).resolve() for r in roots]
        for root in self.roots:
            if not root.is_dir():
                raise NotADirectoryError(f"{root}: not a folder")
        self.top = common_top(self.roots)
        self.index_path = index_path

    def url_path(self, path: str | os.PathLike[str]) -> str:
        """URL path (starting with /, percent-encoded) of a file under a root."""
        return "/" + quote(Path(path).resolve().relative_to(self.top).as_posix())

    def _root_of(self, path: Path) -> Path | None:
        """The served root holding ``path`` with no dot-named part below it, or None."""
        for root in self.roots:
            if path == root or path.is_relative_to(root):
                if any(part.startswith(".") for part in path.relative_to(root).parts):
                    return None
                return root
        return None

    def resolve(self, segments: Sequence[str]) -> Path:
        """The file or folder behind the decoded path ``segments``, or a 403/404 exception."""
        candidate = self.top.joinpath(*segments)
        if self._root_of(candidate) is None:  # outside every root, or a dotfile: not served
            raise NotFound()
        try:
            target = candidate.resolve(strict=True)
        except (OSError, RuntimeError):  # missing, symlink loop, name too long ...
            raise NotFound() from None
        if self._root_of(target) is None:  # a symlink leading out of the served folders (or into a dot folder)
            raise NotFound()
        return target

    def _get(self, request: Request, environ: dict[str, Any]) -> Response:
        segments = _decoded_segments(environ)
        if not segments and self.index_path:
            return redirect(self.index_path, 302)
        target = self.resolve(segments)
        if target.is_dir():
            for name in INDEX_FILES:  # a folder URL leads to its catalog/collection/page (relative links then resolve)
                if (target / name).is_file():
                    return redirect(self.url_path(target / name), 302)
            raise NotFound()
        if not target.is_file():  # FIFOs, devices, sockets
            raise NotFound()
        media = media_types.content_type(target.name)
        response = send_file(target, _strip_unusable_range(environ), mimetype=media, conditional=True, max_age=None)
        response.headers["Accept-Ranges"] = "bytes"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        try:
            if request.method == "OPTIONS":
                response = Response(status=204, headers={"Allow": METHODS, **PREFLIGHT})
                asked = request.headers.get("Access-Control-Request-Headers")
                if asked:  # echo what the browser asks for: all of it is harmless on read-only files
                    response.headers["Access-Control-Allow-Headers"] = asked
            elif request.method not in ("GET", "HEAD"):
                raise MethodNotAllowed(valid_methods=["GET", "HEAD", "OPTIONS"])
            else:
                response = self._get(request, environ)
        except UnicodeDecodeError:
            response = BadRequest("path is not UTF-8").get_response(environ)
        except HTTPException as exc:
            response = exc.get_response(environ)
        response.headers.update(CORS)
        return response(environ, start_response)


def catalogue_roots(catalog_dir: str | os.PathLike[str], data_dirs: Sequence[str | os.PathLike[str]] = ()) -> list[Path]:
    """The catalogue folder plus the data folders whose files it links to."""
    return [Path(catalog_dir).resolve(), *[Path(d).resolve() for d in data_dirs]]


def make_app(catalog_dir: str | os.PathLike[str], data_dirs: Sequence[str | os.PathLike[str]] = ()) -> StaticApp:
    """The WSGI app serving ``catalog_dir`` (holding ``catalog.json``) and ``data_dirs``; ``/`` redirects to the root catalog."""
    catalog = Path(catalog_dir).resolve()
    if not (catalog / "catalog.json").is_file():
        raise FileNotFoundError(f"{catalog}: no catalog.json in this folder")
    app = StaticApp(catalogue_roots(catalog, data_dirs))
    app.index_path = app.url_path(catalog / "catalog.json")
    return app


class _RequestHandler(WSGIRequestHandler):
    """Request lines and errors go to :mod:`logging` (``sen2val_stac.serve.static``), plain text, no ANSI colours."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        line = getattr(self, "requestline", "").translate(self._control_char_table)
        log.info('%s "%s" %s %s', self.address_string(), line, code, size)

    def log(self, type: str, message: str, *args: Any) -> None:
        level = logging.WARNING if type == "error" else logging.INFO
        log.log(level, "%s %s", self.address_string(), message % args if args else message)


def _base_url(server: BaseWSGIServer, host: str) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"http://{name}:{server.server_port}"


def _server(app: WSGIApp, host: str, port: int) -> BaseWSGIServer:
    return make_server(host, port, app, threaded=True, request_handler=_RequestHandler)


@contextmanager
def running_server(
    roots_or_app: Sequence[str | os.PathLike[str]] | WSGIApp, host: str = "127.0.0.1", port: int = 0
) -> Iterator[tuple[str, Any]]:
    """Serve folders (or any WSGI app) in a background thread; yield ``(base URL, app)``; stop on exit.

    ``port=0`` picks a free port. The base URL has no trailing slash.
    """
    app = roots_or_app if callable(roots_or_app) else StaticApp(roots_or_app)
    server = _server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="sen2val-serve", daemon=True)
    thread.start()
    try:
        yield _base_url(server, host), app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve(
    catalog_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dirs: Sequence[str | os.PathLike[str]] = (),
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the catalogue until interrupted (Ctrl-C); print the root catalog URL once listening.

    ``ready(url)`` is called with that URL (useful with ``port=0``).
    """
    app = make_app(catalog_dir, data_dirs)
    server = _server(app, host, port)
    url = _base_url(server, host) + str(app.index_path)
    print(f"Serving {', '.join(str(r) for r in app.roots)}\nRoot catalog: {url}", flush=True)
    if ready is not None:
        ready(url)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def serve_forever(catalog_dir: str, host: str, port: int, data_dirs: Sequence[str] = ()) -> None:
    """Same as :func:`serve` (kept for callers of the first version)."""
    serve(catalog_dir, host, port, data_dirs)

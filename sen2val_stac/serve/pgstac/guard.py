"""Search parameters checked (and CQL2 normalised) before stac-fastapi-pgstac sees them: one behaviour, two back-ends.

stac-fastapi-pgstac answers a bad bbox, datetime or limit with ``{"detail": ...}`` (not naming the parameter)
or a 500 (a CQL2 filter pgstac cannot run), accepts only CQL2 JSON in POST bodies, and pgstac fails on
``BBOX()`` literals. This ASGI middleware validates ``/search`` and ``/collections/{id}/items`` requests
with the embedded API's parsers (:mod:`sen2val_stac.serve.api.search`, the same rules and messages: a 400
``{"code", "description"}`` whose description starts with the parameter's name) and hands pgstac every
filter as CQL2 JSON with bbox literals as polygons.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sen2val_stac.core import media_types

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SEARCH_PATH = re.compile(r"^/(search|collections/[^/]+/items)/?$")


def _polygons(node: Any) -> Any:
    """CQL2 JSON with every ``{"bbox": [w, s, e, n]}`` literal as a GeoJSON polygon (pgstac reads no bbox)."""
    if isinstance(node, list):
        return [_polygons(v) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"bbox"} and isinstance(node["bbox"], list) and len(node["bbox"]) in (4, 6):
        b = node["bbox"]
        w, s, e, n = (b[0], b[1], b[2], b[3]) if len(b) == 4 else (b[0], b[1], b[3], b[4])
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
    return {k: _polygons(v) for k, v in node.items()}


def check(params: dict[str, Any]) -> dict[str, Any]:
    """Validate search parameters (GET strings or POST JSON); return them with the filter as CQL2 JSON.

    Raises the embedded API's ``BadParameter`` (its message names the parameter).
    """
    import cql2

    from sen2val_stac.serve.api.search import filter_sql, parse_bbox, parse_datetime, parse_limit

    if params.get("bbox") not in (None, "", []):
        parse_bbox(params["bbox"])
    if params.get("datetime"):
        parse_datetime(params["datetime"])
    if params.get("limit") is not None:
        parse_limit(params["limit"])
    if params.get("filter"):
        expr, lang = params["filter"], params.get("filter-lang")
        filter_sql(expr, lang, set())
        if isinstance(expr, str) and (lang == "cql2-json" or expr.lstrip().startswith("{")):
            expr = json.loads(expr)
        params = {**params, "filter": _polygons(cql2.Expr(expr).to_json()), "filter-lang": "cql2-json"}
    return params


class SearchGuard:
    """ASGI middleware applying :func:`check` to GET query strings and POST bodies of the search endpoints."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not SEARCH_PATH.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        from sen2val_stac.serve.api.search import BadParameter

        try:
            if scope["method"] == "GET":
                pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
                params = check(dict(pairs))
                if "filter" in params:
                    pairs = [(k, v) for k, v in pairs if k not in ("filter", "filter-lang")]
                    pairs += [("filter", json.dumps(params["filter"])), ("filter-lang", "cql2-json")]
                    scope = {**scope, "query_string": urlencode(pairs).encode("latin-1")}
            elif scope["method"] == "POST":
                receive = await self._checked_body(receive)
        except BadParameter as exc:
            await self._bad_request(send, str(exc))
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _checked_body(receive: Receive) -> Receive:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            params = json.loads(body) if body.strip() else None
        except ValueError:
            params = None  # not JSON: stac-fastapi answers it
        if isinstance(params, dict):
            body = json.dumps(check(params)).encode("utf-8")
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    @staticmethod
    async def _bad_request(send: Send, description: str) -> None:
        payload = json.dumps({"code": "BadRequest", "description": description}).encode("utf-8")
        await send({"type": "http.response.start", "status": 400,
                    "headers": [(b"content-type", media_types.JSON.encode()), (b"content-length", str(len(payload)).encode()),
                                (b"access-control-allow-origin", b"*")]})
        await send({"type": "http.response.body", "body": payload})

"""The stac-fastapi client over a :class:`~.store.Store`: request parameters in, STAC API JSON out.

stac-fastapi (``StacApi``) owns the HTTP side: routes, request models, OpenAPI, conformance, errors.
This client only answers. Item JSON is read from the static catalogue files of the rows
:func:`.search.run_search` selects, then given API links (:mod:`.links`). Answers are serialised with
orjson straight into the response (no pydantic round trip: the items are the catalogue's own JSON).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import attr
import orjson
from fastapi import Request
from stac_fastapi.extensions.filter.client import BaseFiltersClient
from stac_fastapi.types.core import BaseCoreClient
from stac_fastapi.types.errors import NotFoundError
from starlette.responses import Response

from sen2val_stac.catalog.render import Layout
from sen2val_stac.serve.api import links
from sen2val_stac.serve.api.search import Page, make_search, run_search
from sen2val_stac.serve.api.store import Snapshot, Store

log = logging.getLogger(__name__)

QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
JSON_TYPES = {
    "string": {"type": "string"}, "bool": {"type": "boolean"},
    "int": {"type": "integer"}, "uint": {"type": "integer"}, "float": {"type": "number"}, "double": {"type": "number"},
}


class STACResponse(Response):
    """A JSON answer serialised with orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def _answer(content: Any, media_type: str = links.JSON) -> STACResponse:
    return STACResponse(content, media_type=media_type)


def _base(request: Request) -> str:
    """scheme://host[:port] of the request (proxy headers are honoured by stac-fastapi's middleware)."""
    return str(request.base_url).rstrip("/")


def _json_schema(kind: Any) -> dict[str, Any]:
    """JSON schema of an Arrow column type (for /queryables)."""
    import pyarrow as pa

    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return {"type": "string", "format": "date-time"}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return {"type": "array", "items": _json_schema(kind.value_type)}
    name = str(kind)
    for prefix, schema in JSON_TYPES.items():
        if name.startswith(prefix):
            return dict(schema)
    return {}


@attr.s
class CatalogueClient(BaseCoreClient):
    """Core STAC API endpoints over the catalogue. ``static``: URL path of the catalogue folder on the static side."""

    store: Store = attr.ib(kw_only=True)
    static: str = attr.ib(kw_only=True, default="")

    # --- helpers -------------------------------------------------------------------------------

    def urls(self, request: Request) -> links.Urls:
        """The URLs of this server as the request reached it."""
        return links.Urls(base=_base(request), static=self.static)

    def _collection(self, snapshot: Snapshot, collection_id: str) -> tuple[str, dict[str, Any]]:
        if collection_id not in snapshot.collections:
            raise NotFoundError(f"collection {collection_id!r} does not exist")
        path, coll = snapshot.collections[collection_id]
        return path.relative_to(self.store.catalog_dir).as_posix(), coll

    def _items(self, page: Page, urls: links.Urls) -> list[dict[str, Any]]:
        out = []
        for item_id, collection_id, tile in page.rows:
            rel = Layout.item(collection_id, tile, item_id)
            try:
                item = orjson.loads((self.store.catalog_dir / rel).read_bytes())
            except OSError:  # removed by an index run since the snapshot was taken
                log.warning("%s: item file vanished", rel)
                continue
            out.append(links.api_item(item, rel, urls))
        return out

    def _item_collection(self, page: Page, urls: links.Urls, next_link: dict[str, Any] | None,
                         extra: list[dict[str, Any]]) -> STACResponse:
        features = self._items(page, urls)
        body = {"type": "FeatureCollection", "features": features, "links": [*extra, *([next_link] if next_link else [])],
                "numberMatched": page.matched, "numberReturned": len(features)}
        return _answer(body, links.GEOJSON)

    @staticmethod
    def _next_get(request: Request, page: Page) -> dict[str, Any] | None:
        if page.next_offset is None:
            return None
        href = str(request.url.include_query_params(token=str(page.next_offset)))
        return {"rel": "next", "href": href, "type": links.GEOJSON, "method": "GET"}

    # --- core endpoints ------------------------------------------------------------------------

    def landing_page(self, **kwargs: Any) -> Any:
        """Landing page: stac-fastapi's links, the catalogue's id, title and description, a child link per collection."""
        request: Request = kwargs["request"]
        snapshot = self.store.snapshot()
        page: dict[str, Any] = dict(super().landing_page(**kwargs))
        urls = self.urls(request)
        for key in ("id", "title", "description"):
            if key in snapshot.root:
                page[key] = snapshot.root[key]
        page["stac_version"] = snapshot.root.get("stac_version", page["stac_version"])
        page["links"] = [*page["links"],
                         *({"rel": "child", "href": urls.collection(cid), "type": links.JSON,
                            "title": coll.get("title", cid)} for cid, (_, coll) in snapshot.collections.items()),
                         {"rel": "alternate", "href": urls.static_file("catalog.json"), "type": links.JSON,
                          "title": "Static catalogue"}]
        if not any(link["rel"] == QUERYABLES for link in page["links"]):  # stac-fastapi looks for its own class names
            page["links"].append({"rel": QUERYABLES, "href": f"{urls.base}/queryables", "type": links.SCHEMA,
                                  "title": "Queryables"})
        return _answer(page)

    def conformance(self, **kwargs: Any) -> Any:
        """Conformance classes (stac-fastapi's, from the registered extensions)."""
        return _answer({"conformsTo": self.conformance_classes()})

    def all_collections(self, **kwargs: Any) -> Any:
        """Every index collection."""
        request: Request = kwargs["request"]
        snapshot, urls = self.store.snapshot(), self.urls(request)
        colls = [links.api_collection(coll, self._collection(snapshot, cid)[0], urls)
                 for cid, (_, coll) in snapshot.collections.items()]
        return _answer({"collections": colls, "links": [
            {"rel": "self", "href": f"{urls.base}/collections", "type": links.JSON},
            {"rel": "root", "href": urls.root, "type": links.JSON},
            {"rel": "parent", "href": urls.root, "type": links.JSON}],
            "numberMatched": len(colls), "numberReturned": len(colls)})

    def get_collection(self, collection_id: str, **kwargs: Any) -> Any:
        """One collection (404 if unknown)."""
        snapshot = self.store.snapshot()
        rel, coll = self._collection(snapshot, collection_id)
        return _answer(links.api_collection(coll, rel, self.urls(kwargs["request"])))

    def item_collection(self, collection_id: str, bbox: Any = None, datetime: str | None = None, limit: int = 10,
                        token: str | None = None, **kwargs: Any) -> Any:
        """``/collections/{id}/items``: the collection's items, paged, with the search filters of the extensions."""
        request: Request = kwargs["request"]
        snapshot = self.store.snapshot()
        self._collection(snapshot, collection_id)
        search = make_search(snapshot, collections=[collection_id], bbox=bbox, datetime=datetime, limit=limit,
                             token=token, filter_expr=kwargs.get("filter_expr"), filter_lang=kwargs.get("filter_lang"),
                             sortby=kwargs.get("sortby"))
        page, urls = run_search(snapshot, search), self.urls(request)
        extra = [{"rel": "self", "href": str(request.url), "type": links.GEOJSON},
                 {"rel": "collection", "href": urls.collection(collection_id), "type": links.JSON},
                 {"rel": "parent", "href": urls.collection(collection_id), "type": links.JSON},
                 {"rel": "root", "href": urls.root, "type": links.JSON}]
        return self._item_collection(page, urls, self._next_get(request, page), extra)

    def get_item(self, item_id: str, collection_id: str, **kwargs: Any) -> Any:
        """One item (404 if unknown)."""
        snapshot = self.store.snapshot()
        self._collection(snapshot, collection_id)
        page = run_search(snapshot, make_search(snapshot, collections=[collection_id], ids=[item_id], limit=1))
        items = self._items(page, self.urls(kwargs["request"]))
        if not items:
            raise NotFoundError(f"item {item_id!r} does not exist in collection {collection_id!r}")
        return _answer(items[0], links.GEOJSON)

    def get_search(self, collections: list[str] | None = None, ids: list[str] | None = None, bbox: Any = None,
                   intersects: Any = None, datetime: str | None = None, limit: int | None = 10,
                   **kwargs: Any) -> Any:
        """``GET /search``."""
        request: Request = kwargs["request"]
        snapshot = self.store.snapshot()
        search = make_search(snapshot, collections=collections, ids=ids, bbox=bbox, intersects=intersects,
                             datetime=datetime, limit=limit, token=kwargs.get("token"),
                             filter_expr=kwargs.get("filter_expr"), filter_lang=kwargs.get("filter_lang"),
                             sortby=kwargs.get("sortby"))
        page, urls = run_search(snapshot, search), self.urls(request)
        extra = [{"rel": "self", "href": str(request.url), "type": links.GEOJSON},
                 {"rel": "root", "href": urls.root, "type": links.JSON}]
        return self._item_collection(page, urls, self._next_get(request, page), extra)

    def post_search(self, search_request: Any, **kwargs: Any) -> Any:
        """``POST /search``: the next link repeats the body with the next token."""
        request: Request = kwargs["request"]
        snapshot = self.store.snapshot()
        body = search_request.model_dump(mode="json", by_alias=True, exclude_none=True)
        search = make_search(snapshot, collections=body.get("collections"), ids=body.get("ids"), bbox=body.get("bbox"),
                             intersects=body.get("intersects"), datetime=body.get("datetime"), limit=body.get("limit"),
                             token=body.get("token"), filter_expr=body.get("filter"),
                             filter_lang=body.get("filter-lang") or "cql2-json", sortby=body.get("sortby"))
        page, urls = run_search(snapshot, search), self.urls(request)
        next_link = None
        if page.next_offset is not None:
            next_link = {"rel": "next", "href": f"{urls.base}{urlsplit(str(request.url)).path}", "type": links.GEOJSON,
                         "method": "POST", "body": {**body, "token": str(page.next_offset)}, "merge": False}
        extra = [{"rel": "self", "href": str(request.url), "type": links.GEOJSON},
                 {"rel": "root", "href": urls.root, "type": links.JSON}]
        return self._item_collection(page, urls, next_link, extra)


@attr.s
class QueryablesClient(BaseFiltersClient):
    """``/queryables``: every queryable column of the index, typed from its Arrow type."""

    store: Store = attr.ib(kw_only=True)

    def get_queryables(self, collection_id: str | None = None, **kwargs: Any) -> Any:
        """Queryables of the whole catalogue, or of one collection (the same columns)."""
        request: Request = kwargs["request"]
        snapshot = self.store.snapshot()
        if collection_id is not None and collection_id not in snapshot.collections:
            raise NotFoundError(f"collection {collection_id!r} does not exist")
        props: dict[str, Any] = {
            "id": {"type": "string", "title": "Item id"},
            "collection": {"type": "string", "title": "Collection id"},
            # inline, not a $ref to geojson.org: clients (STAC Browser) would fetch it
            "geometry": {"title": "Item geometry", "type": "object", "description": "A GeoJSON geometry"},
        }
        props.update({name: _json_schema(kind) for name, kind in sorted(snapshot.properties.items())})
        return _answer({"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": str(request.url),
                        "type": "object", "title": "Queryables of the sen2val catalogue", "properties": props,
                        "additionalProperties": False}, links.SCHEMA)

"""``serve --api``: stac-fastapi's ``StacApi`` over the catalogue, the static files behind it, one uvicorn server.

URL space: the API at the root (``/``, ``/conformance``, ``/collections``..., ``/search``, ``/queryables``,
``/api`` (OpenAPI), ``/api.html``), every other path answered by the static server of
:mod:`sen2val_stac.serve.static` (same URL paths as ``serve`` without ``--api``: the catalogue folder and
the ``--data`` folders under their common parent, byte ranges, conditional requests, CORS), mounted as a
WSGI app (a2wsgi). openEO's ``load_stac`` needs the API at the root: it looks for the root catalogue
from the host downwards.

Errors follow the STAC API: a JSON body ``{"code", "description"}``; a bad parameter is a 400 whose
description starts with the parameter's name.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import attr
import uvicorn
from a2wsgi import WSGIMiddleware
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.models import (
    ItemCollectionUri,
    create_get_request_model,
    create_post_request_model,
    create_request_model,
)
from stac_fastapi.extensions import ItemCollectionFilterExtension, SearchFilterExtension, TokenPaginationExtension
from stac_fastapi.extensions.filter.filter import FilterConformanceClasses
from stac_fastapi.extensions.filter.request import FilterExtensionPostRequest
from stac_fastapi.extensions.sort import ItemCollectionSortExtension, SearchSortExtension, SortConformanceClasses
from stac_fastapi.types.config import ApiSettings
from stac_fastapi.types.search import APIRequest, BaseSearchGetRequest
from stac_fastapi.types.search import _validate_datetime as _stac_fastapi_datetime
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from sen2val_stac.core import media_types
from sen2val_stac.serve.api.backend import CatalogueClient, QueryablesClient, STACResponse
from sen2val_stac.serve.api.search import BadParameter
from sen2val_stac.serve.api.store import Store
from sen2val_stac.serve.ready_server import ReadyServer
from sen2val_stac.serve.static import CORS, WSGIApp, make_app

log = logging.getLogger(__name__)

CQL2 = [FilterConformanceClasses.FILTER, FilterConformanceClasses.CQL2_TEXT, FilterConformanceClasses.CQL2_JSON,
        FilterConformanceClasses.BASIC_CQL2, FilterConformanceClasses.ADVANCED_COMPARISON_OPERATORS,
        FilterConformanceClasses.BASIC_SPATIAL_FUNCTIONS, FilterConformanceClasses.BASIC_SPATIAL_FUNCTIONS_PLUS,
        FilterConformanceClasses.SPATIAL_FUNCTIONS, FilterConformanceClasses.TEMPORAL_FUNCTIONS,
        FilterConformanceClasses.ARRAY_FUNCTIONS, FilterConformanceClasses.ARITHMETIC,
        FilterConformanceClasses.PROPERTY_PROPERTY, FilterConformanceClasses.CASE_INSENSITIVE_COMPARISON,
        FilterConformanceClasses.ACCENT_INSENSITIVE_COMPARISON]

# Sort 1.0 as well as stac-fastapi's 1.1 (no sortables endpoint): pystac-client 0.9 looks for 1.0.
SORT_1_0 = ["https://api.stacspec.org/v1.0.0/item-search#sort", "https://api.stacspec.org/v1.0.0/ogcapi-features#sort"]


def _datetime_named(instance: Any, attribute: Any, value: Any) -> None:
    """stac-fastapi's datetime check, with the parameter's name in the message."""
    try:
        _stac_fastapi_datetime(instance, attribute, value)  # type: ignore[no-untyped-call]
    except HTTPException as exc:
        raise HTTPException(status_code=400, detail=f"datetime: {value!r}: {exc.detail}") from None


class _FilterPost(FilterExtensionPostRequest):
    """POST filters in CQL2 JSON (the default) or, as the filter extension allows, CQL2 text."""

    filter_expr: str | dict[str, Any] | None = Field(  # type: ignore[assignment]  # widened on purpose
        None, alias="filter", description="A CQL2 filter (JSON or text).")
    filter_lang: Literal["cql2-json", "cql2-text"] | None = Field(  # type: ignore[assignment]
        "cql2-json", alias="filter-lang")


@attr.s
class _SearchFilter(SearchFilterExtension):
    POST = _FilterPost


@attr.s
class _SearchGet(BaseSearchGetRequest):
    datetime: str | None = attr.ib(default=None, validator=_datetime_named)


@attr.s
class _ItemsGet(ItemCollectionUri):
    datetime: str | None = attr.ib(default=None, validator=_datetime_named)


def _error(status: int, code: str, description: str, parameter: str | None = None) -> STACResponse:
    body = {"code": code, "description": description, **({"parameter": parameter} if parameter else {})}
    return STACResponse(body, status_code=status, media_type=media_types.JSON)


def _add_error_handlers(app: FastAPI) -> None:
    def bad_parameter(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadParameter)
        return _error(400, "InvalidParameterValue", str(exc), exc.parameter)

    def invalid_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        parts, names = [], []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "body", "path")]
            name = ".".join(loc) or "request"
            names.append(name)
            parts.append(f"{name}: {err.get('msg', 'invalid')}")
        return _error(400, "InvalidParameterValue", "; ".join(parts), names[0] if names else None)

    def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = "InvalidParameterValue" if exc.status_code == 400 else "NotFound" if exc.status_code == 404 else "Error"
        detail = str(exc.detail)
        parameter = detail.split(":", 1)[0] if exc.status_code == 400 and ":" in detail else None
        if exc.status_code == 400 and "bbox" in detail.lower() and parameter != "bbox":
            detail, parameter = f"bbox: {detail}", "bbox"
        return _error(exc.status_code, code, detail, parameter)

    app.add_exception_handler(BadParameter, bad_parameter)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)


def _with_raw_target(static: WSGIApp) -> WSGIApp:
    """Give the static app the raw request path (``REQUEST_URI``) so it can refuse encoded slashes and dots."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        scope = environ.get("asgi.scope") or {}
        raw = scope.get("raw_path")
        if raw:
            environ["REQUEST_URI"] = raw.decode("latin-1")
        return static(environ, start_response)

    return app


def make_api_app(catalog_dir: str | os.PathLike[str], data_dirs: Sequence[str | os.PathLike[str]] = ()) -> FastAPI:
    """The ASGI app: the STAC API at the root, the static catalogue and data folders at their usual paths."""
    static = make_app(catalog_dir, data_dirs)
    catalog = Path(catalog_dir).resolve()
    rel = catalog.relative_to(static.top).as_posix()
    static_prefix = "" if rel == "." else "/" + quote(rel)
    store = Store(catalog)
    queryables = QueryablesClient(store=store)
    search_ext = [_SearchFilter(client=queryables, conformance_classes=[FilterConformanceClasses.SEARCH, *CQL2]),
                  SearchSortExtension(conformance_classes=[SortConformanceClasses.ITEM_SEARCH_SORT, *SORT_1_0[:1]]),
                  TokenPaginationExtension()]
    items_ext = [ItemCollectionFilterExtension(client=queryables,
                                               conformance_classes=[FilterConformanceClasses.ITEMS, *CQL2]),
                 ItemCollectionSortExtension(conformance_classes=[SortConformanceClasses.FEATURES_SORT, *SORT_1_0[1:]]),
                 TokenPaginationExtension()]
    root = store.snapshot().root
    settings = ApiSettings(stac_fastapi_title=root.get("title", "sen2val-stac"),
                           stac_fastapi_description=root.get("description", "STAC API over the catalogue"),
                           stac_fastapi_landing_id=root.get("id", "sen2val"))
    api = StacApi(
        settings=settings,
        client=CatalogueClient(store=store, static=static_prefix, extensions=[*search_ext, *items_ext]),
        extensions=[*search_ext, *items_ext],
        search_get_request_model=create_get_request_model(search_ext, base_model=_SearchGet),
        search_post_request_model=create_post_request_model(search_ext),
        items_get_request_model=cast(type[APIRequest], create_request_model(
            "ItemCollectionUri", base_model=_ItemsGet, extensions=items_ext, request_type="GET")),
        response_class=STACResponse,
        middlewares=[Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                                allow_headers=["*"], expose_headers=CORS["Access-Control-Expose-Headers"].split(", "),
                                max_age=86400)],
    )
    _add_error_handlers(api.app)
    api.app.mount("/", WSGIMiddleware(_with_raw_target(static)))  # type: ignore[arg-type]
    api.app.state.static_index = static.index_path
    return api.app


def serve_api(catalog_dir: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000,
              data_dirs: Sequence[str | os.PathLike[str]] = (), ready: Callable[[str], None] | None = None) -> None:
    """Serve the API and the static files until interrupted (the arguments of :func:`.static.serve`); print
    the static root catalogue and the API URLs. ``ready(api_url)`` is called once listening."""
    app = make_api_app(catalog_dir, data_dirs)
    name = f"[{host}]" if ":" in host else host

    def on_ready(real_port: int) -> None:
        base = f"http://{name}:{real_port}"
        print(f"Root catalog: {base}{app.state.static_index}\nSTAC API: {base}/", flush=True)
        if ready is not None:
            ready(base + "/")

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    ReadyServer(config, on_ready).run()

"""STAC API search parameters to one DuckDB query over a :class:`~.store.Snapshot`.

- ``bbox`` / ``intersects``: an exact shapely test of the item footprints (as ``sen2val-stac query
  --bbox``), see :class:`.sqlgeo.Footprints`; a bbox crossing the antimeridian (W > E) is split in two.
- ``datetime``: an instant or an interval (open ends ``..``) on the item ``datetime``, bounds inclusive.
- ``filter``: CQL2 text or JSON, parsed and validated by the ``cql2`` library, turned into SQL with its
  ``to_sql()`` (via the text form, so GeoJSON literals become WKT for :mod:`.sqlgeo`). Only the CQL2
  operators listed in :data:`OPERATORS` are accepted (no function calls), ``properties.`` prefixes are
  dropped, a property no item has is null (as in pgstac), and the DuckDB connection has no file or
  network access.
- ``sortby``: any queryable column, ``id`` always last as the tie-breaker; default ``datetime`` then
  ``id``, both descending (pgstac's order).
- ``token``: the offset of the next page, as a decimal string.

Every bad value raises :class:`BadParameter` naming the parameter (a 400 answer).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import cql2
import duckdb
import numpy as np
import pyarrow as pa
import shapely
from fastapi import HTTPException
from stac_fastapi.types.errors import InvalidQueryParameter
from stac_fastapi.types.rfc3339 import str_to_interval

from sen2val_stac.catalog.sen2chain_fields import TILE
from sen2val_stac.serve.api.store import Snapshot

MAX_LIMIT = 10_000
DEFAULT_SORT = (("datetime", True), ("id", True))
# CQL2 operators accepted in a filter (cql2's names): basic CQL2, advanced comparison, case/accent
# insensitivity, arithmetic, spatial, temporal and array functions. Anything else (a function call) is refused.
OPERATORS = {
    "and", "or", "not", "=", "<>", "<", "<=", ">", ">=", "isNull", "like", "between", "in", "casei", "accenti",
    "+", "-", "*", "/", "%", "^", "div",
    "s_intersects", "s_disjoint", "s_contains", "s_within", "s_equals", "s_touches", "s_overlaps", "s_crosses",
    "t_after", "t_before", "t_contains", "t_disjoint", "t_during", "t_equals", "t_finishedby", "t_finishes",
    "t_intersects", "t_meets", "t_metby", "t_overlappedby", "t_overlaps", "t_startedby", "t_starts",
    "a_equals", "a_contains", "a_containedby", "a_overlaps",
}


class BadParameter(InvalidQueryParameter):
    """A search parameter that cannot be used: answered with 400, the message starts with the parameter name."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(f"{parameter}: {reason}")
        self.parameter = parameter


@dataclass
class Search:
    """One search, already validated: build it with :func:`make_search`."""

    collections: list[str] | None = None
    ids: list[str] | None = None
    area: Any = None  # shapely geometry (from bbox or intersects)
    start: datetime | None = None
    end: datetime | None = None
    filter_sql: str | None = None
    missing: list[str] = field(default_factory=list)  # properties the filter names that no item has
    sortby: list[tuple[str, bool]] = field(default_factory=list)  # (column, descending)
    limit: int = 10
    offset: int = 0


@dataclass(frozen=True)
class Page:
    """The rows of one page (``id``, ``collection``, ``tile``), how many matched, and the next offset if any."""

    rows: list[tuple[str, str, str]]
    matched: int
    next_offset: int | None


# --- parameters ----------------------------------------------------------------------------------


def parse_bbox(value: Sequence[float] | str) -> Any:
    """``W,S,E,N`` (or 6 numbers with heights) in degrees to a shapely geometry; W > E crosses the antimeridian."""
    try:
        parts = [float(v) for v in (value.split(",") if isinstance(value, str) else value)]
    except (TypeError, ValueError):
        raise BadParameter("bbox", f"not numbers: {value!r} (expected W,S,E,N in degrees)") from None
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(np.isfinite(parts)):
        raise BadParameter("bbox", f"{value!r}: expected 4 (or 6) finite numbers W,S,E,N")
    w, s, e, n = parts
    if not (-90 <= s <= n <= 90):
        raise BadParameter("bbox", f"{value!r}: latitudes must satisfy -90 <= S <= N <= 90")
    if not (-180 <= w <= 180 and -180 <= e <= 180):
        raise BadParameter("bbox", f"{value!r}: longitudes must be within -180..180")
    if w <= e:
        return shapely.box(w, s, e, n)
    return shapely.MultiPolygon([shapely.box(w, s, 180, n), shapely.box(-180, s, e, n)])


def parse_intersects(value: dict[str, Any] | str) -> Any:
    """A GeoJSON geometry (object or JSON text) to a valid shapely geometry."""
    try:
        text = value if isinstance(value, str) else json.dumps(value)
        geom = shapely.from_geojson(text)
    except (TypeError, ValueError, shapely.errors.GEOSException) as exc:
        raise BadParameter("intersects", f"not a GeoJSON geometry ({exc})") from None
    if geom is None or geom.is_empty:
        raise BadParameter("intersects", "empty geometry")
    return geom if geom.is_valid else shapely.make_valid(geom)


def parse_datetime(value: str) -> tuple[datetime | None, datetime | None]:
    """An RFC 3339 instant or interval (``a/b``, ``../b``, ``a/..``) to inclusive (start, end) bounds."""
    try:
        parsed = str_to_interval(value)
    except HTTPException as exc:
        raise BadParameter("datetime", f"{value!r}: {exc.detail}") from None
    if isinstance(parsed, tuple):
        return parsed[0], parsed[1]
    return parsed, parsed


def _normalise(node: Any, found: set[str]) -> Any:
    """A copy of a CQL2 JSON tree: ``properties.`` dropped from property names (collected in ``found``),
    the pre-1.0 ``between`` form ``[x, [low, high]]`` spread, operators checked against :data:`OPERATORS`."""
    if isinstance(node, list):
        return [_normalise(v, found) for v in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"property"} and isinstance(node["property"], str):
        name = node["property"].removeprefix("properties.")
        found.add(name)
        return {"property": name}
    if "op" in node:
        op = node["op"]
        if op not in OPERATORS:
            raise BadParameter("filter", f"unsupported CQL2 operator or function {op!r}")
        args = node.get("args")
        if op == "between" and isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
            node = {**node, "args": [args[0], *args[1]]}
    return {k: _normalise(v, found) for k, v in node.items()}


def filter_sql(value: str | dict[str, Any], lang: str | None, columns: set[str]) -> tuple[str, list[str]]:
    """CQL2 (text or JSON) to a SQL condition on the ``items`` table, and the property names it uses that are
    not columns (null for every item, as in pgstac: a filter on them matches nothing, it is not an error)."""
    if lang not in (None, "cql2-text", "cql2-json"):
        raise BadParameter("filter-lang", f"{lang!r}: expected cql2-text or cql2-json")
    names: set[str] = set()
    try:
        if isinstance(value, str) and (lang == "cql2-json" or value.lstrip().startswith("{")):
            value = json.loads(value)
        tree = _normalise(cql2.Expr(value).to_json(), names)
        # No Expr.validate(): it costs 0.15-1 s a call (JSON-schema check); parsing plus to_sql's own checks
        # (operator arity) catch what DuckDB would not, and DuckDB refuses the rest (non-boolean filters ...).
        sql = str(cql2.Expr(cql2.Expr(tree).to_text()).to_sql())
    except BadParameter:
        raise
    except Exception as exc:  # cql2 raises ParseError, ValidationError and bare Exceptions
        raise BadParameter("filter", f"not valid CQL2: {str(exc).strip()}") from None
    return sql, sorted(names - columns)


def parse_sortby(value: Sequence[Any] | None, columns: set[str]) -> list[tuple[str, bool]]:
    """``["-datetime", "+id"]`` (GET) or ``[{"field": ..., "direction": ...}]`` (POST) to (column, descending)."""
    out = []
    for entry in value or ():
        if isinstance(entry, str):
            entry = entry.strip()
            name, descending = entry.lstrip("+-").strip(), entry.startswith("-")
        else:
            spec = entry if isinstance(entry, dict) else {"field": entry.field, "direction": entry.direction}
            name, descending = str(spec["field"]), str(spec.get("direction", "asc")).lower() == "desc"
        name = name.removeprefix("properties.")
        if name not in columns or name == "geometry":
            raise BadParameter("sortby", f"cannot sort on {name!r} (sortable: the queryables but geometry)")
        out.append((name, descending))
    return out


def parse_token(token: str | None) -> int:
    """The page offset a ``token`` stands for."""
    if token in (None, ""):
        return 0
    assert token is not None
    if not token.isdigit():
        raise BadParameter("token", f"{token!r} is not a token this server issued")
    return int(token)


def parse_limit(limit: int | str | None, default: int = 10) -> int:
    """Page size, 1..10,000 (larger values are capped, as the STAC API allows)."""
    if limit is None:
        return default
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise BadParameter("limit", f"{limit!r} is not an integer") from None
    if value < 1:
        raise BadParameter("limit", f"{limit!r}: must be at least 1")
    return min(value, MAX_LIMIT)


def make_search(
    snapshot: Snapshot,
    *,
    collections: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    bbox: Sequence[float] | str | None = None,
    intersects: dict[str, Any] | str | None = None,
    datetime: str | None = None,
    filter_expr: str | dict[str, Any] | None = None,
    filter_lang: str | None = None,
    sortby: Sequence[Any] | None = None,
    limit: int | str | None = None,
    token: str | None = None,
) -> Search:
    """Validate every parameter (:class:`BadParameter` on the first bad one) into a :class:`Search`."""
    if bbox is not None and intersects is not None:
        raise BadParameter("bbox", "bbox and intersects cannot be given together")
    search = Search(collections=list(collections) if collections else None, ids=list(ids) if ids else None,
                    limit=parse_limit(limit), offset=parse_token(token))
    if bbox is not None and len(bbox):
        search.area = parse_bbox(bbox)
    elif intersects is not None:
        search.area = parse_intersects(intersects)
    if datetime:
        search.start, search.end = parse_datetime(datetime)
    if filter_expr:
        search.filter_sql, search.missing = filter_sql(filter_expr, filter_lang, snapshot.columns)
    search.sortby = parse_sortby(sortby, snapshot.columns)
    return search


# --- the query -----------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def run_search(snapshot: Snapshot, search: Search) -> Page:
    """The page of ``search`` on ``snapshot``: one count and one top-N query."""
    cur = snapshot.cursor()
    where, params = ["TRUE"], []  # type: tuple[list[str], list[Any]]
    source = "items"
    if search.area is not None:  # the footprint mask, one boolean per row, joined by position
        cur.register("_mask", pa.table({"_hit": pa.array(snapshot.footprints.mask(search.area))}))
        source += " POSITIONAL JOIN _mask"
        where.append("_hit")
    if search.missing:  # properties no item has are null
        source += f", (SELECT {', '.join('NULL AS ' + _quote(n) for n in search.missing)}) AS _missing"
    if search.collections:
        where.append("collection IN (SELECT unnest(?))")
        params.append(search.collections)
    if search.ids:
        where.append("id IN (SELECT unnest(?))")
        params.append(search.ids)
    if search.start is not None:
        where.append("datetime >= ?")
        params.append(search.start)
    if search.end is not None:
        where.append("datetime <= ?")
        params.append(search.end)
    if search.filter_sql:
        where.append(f"({search.filter_sql})")
    order = [*search.sortby, *(s for s in DEFAULT_SORT if not search.sortby or s[0] == "id")]
    order_sql = ", ".join(f"{_quote(c)} {'DESC' if d else 'ASC'} NULLS LAST" for c, d in order)
    tile = _quote(TILE) if TILE in snapshot.properties else "NULL"
    condition = " AND ".join(where)
    try:
        rows = cur.execute(f"SELECT id, collection, {tile} FROM {source} WHERE {condition} ORDER BY {order_sql} "
                           "LIMIT ? OFFSET ?", [*params, search.limit, search.offset]).fetchall()
        if len(rows) < search.limit and (rows or not search.offset):  # the last page: no need to count
            matched = search.offset + len(rows)
        else:
            (count,) = cur.execute(f"SELECT count(*) FROM {source} WHERE {condition}", params).fetchone() or (0,)
            matched = int(count)
    except duckdb.Error as exc:
        if search.filter_sql:  # a filter DuckDB cannot bind or evaluate (type mismatch ...): the client's mistake
            raise BadParameter("filter", f"cannot be evaluated: {str(exc).splitlines()[0]}") from None
        raise
    finally:
        cur.close()
    next_offset = search.offset + len(rows)
    return Page(rows=[(r[0], r[1], r[2]) for r in rows], matched=matched,
                next_offset=next_offset if next_offset < matched else None)

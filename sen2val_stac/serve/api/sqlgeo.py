"""Spatial tests for the ``items`` table (shapely): the SQL functions cql2's ``to_sql()`` emits, as DuckDB
Python UDFs over WKB, and the footprint mask of the ``bbox``/``intersects`` search parameters (:class:`Footprints`).

DuckDB's own ``spatial`` extension is downloaded at run time (no network here) or comes as a PyPI
package tied to one DuckDB version; these vectorised (Arrow) UDFs need neither. Geometries are WKB
blobs, the form of stac-geoparquet's ``geometry`` column. GeoJSON literals of CQL2 JSON reach SQL as WKT
(:mod:`.search` goes through cql2's text form), so ``st_geomfromgeojson`` (built into DuckDB 2 with
its own GEOMETRY type) is never needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

PREDICATES: dict[str, Callable[[Any, Any], Any]] = {
    "st_intersects": shapely.intersects,
    "st_disjoint": shapely.disjoint,
    "st_contains": shapely.contains,
    "st_within": shapely.within,
    "st_equals": shapely.equals,
    "st_touches": shapely.touches,
    "st_overlaps": shapely.overlaps,
    "st_crosses": shapely.crosses,
}


def _geoms(values: pa.Array) -> Any:
    return shapely.from_wkb(np.asarray(values.to_pylist(), dtype=object))


def _wkb(geoms: Any) -> pa.Array:
    return pa.array(list(shapely.to_wkb(geoms)), pa.binary())


def _predicate(func: Callable[[Any, Any], Any]) -> Callable[[pa.Array, pa.Array], pa.Array]:
    def udf(a: pa.Array, b: pa.Array) -> pa.Array:
        return pa.array(func(_geoms(a), _geoms(b)), pa.bool_())

    return udf


def _from_text(values: pa.Array) -> pa.Array:
    return _wkb(shapely.from_wkt(np.asarray(values.to_pylist(), dtype=object)))


def _envelope(w: pa.Array, s: pa.Array, e: pa.Array, n: pa.Array) -> pa.Array:
    return _wkb(shapely.box(*(np.asarray(v.to_numpy(zero_copy_only=False)) for v in (w, s, e, n))))


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Define ``st_geomfromtext``, ``st_makeenvelope`` and the ``st_*`` predicates on ``con``."""
    create: Any = con.create_function  # duckdb's stubs do not know Arrow UDFs returning pyarrow arrays
    for name, func in PREDICATES.items():
        create(name, _predicate(func), ["BLOB", "BLOB"], "BOOLEAN", type="arrow")
    create("st_geomfromtext", _from_text, ["VARCHAR"], "BLOB", type="arrow")
    create("st_makeenvelope", _envelope, ["DOUBLE"] * 4, "BLOB", type="arrow")


@functools.lru_cache(maxsize=128)
def _prepared(wkb: bytes) -> Any:
    """A search area from its WKB, prepared for repeated predicates (cached: one area per request)."""
    geom = shapely.from_wkb(wkb)
    shapely.prepare(geom)
    return geom


class Footprints:
    """The item geometries of a snapshot by row, each distinct footprint parsed and tested once.

    The indices of one product share its footprint, so a station's catalogue has far fewer distinct
    geometries than items. ``bounds`` (one row per item) feed the SQL pre-filter on ``_xmin``...``_ymax``.
    """

    def __init__(self, wkb: Sequence[bytes | None]) -> None:
        values = np.asarray(wkb, dtype=object)
        unique, keys = np.unique(values, return_inverse=True) if len(values) else (values, np.zeros(0, np.int64))
        self.keys = np.asarray(keys, dtype=np.int64).reshape(-1)
        self.shapes = shapely.from_wkb(unique)
        self.bounds = shapely.bounds(self.shapes)[self.keys] if len(values) else np.zeros((0, 4))

    def intersects(self, rows: Any, area: Any) -> Any:
        """Whether each row's footprint intersects ``area`` (a shapely geometry)."""
        keys = self.keys[rows]
        distinct, inverse = np.unique(keys, return_inverse=True)
        return shapely.intersects(area, self.shapes[distinct])[inverse.reshape(-1)]

    def mask(self, area: Any) -> Any:
        """One boolean per row: its footprint intersects ``area`` (bounds first, then each distinct footprint once)."""
        w, s, e, n = area.bounds
        b = self.bounds
        candidates = np.flatnonzero((b[:, 0] <= e) & (b[:, 2] >= w) & (b[:, 1] <= n) & (b[:, 3] >= s))
        out = np.zeros(len(self.keys), dtype=bool)
        if len(candidates):
            prepared = _prepared(shapely.to_wkb(area))
            out[candidates[self.intersects(candidates, prepared)]] = True
        return out

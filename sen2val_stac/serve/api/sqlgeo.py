"""The spatial SQL functions that cql2's ``to_sql()`` emits, as DuckDB Python UDFs over WKB (shapely).

DuckDB's own ``spatial`` extension is downloaded at run time (no network here) or comes as a PyPI
package tied to one DuckDB version; these vectorised (Arrow) UDFs need neither. Geometries are WKB
blobs, the form of stac-geoparquet's ``geometry`` column. GeoJSON literals of CQL2 JSON reach SQL as WKT
(:mod:`.search` goes through cql2's text form), so ``st_geomfromgeojson`` (built into DuckDB 2 with
its own GEOMETRY type) is never needed.
"""

from __future__ import annotations

from collections.abc import Callable
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

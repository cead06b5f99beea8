"""The item properties pgstac may filter on (its ``queryables``), the most used of them indexed.

pgstac knows only id, datetime and geometry by default: CQL2 on any other property still works but
scans every row and reads values as text. A registered queryable gives the property its type (so
``eo:cloud_cover < 20`` compares numbers) and, with an index type, a BTREE index on every partition
of the collections it names. Rows are registered for this catalogue's collections only, so other
collections of the same database keep theirs; a row registered for every collection by someone else
is left alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sen2val_stac.catalog.sen2chain_fields import INDEX, MASKS, PRODUCT_ID, TILE

if TYPE_CHECKING:
    import psycopg

QUERYABLES: dict[str, dict[str, Any]] = {
    "platform": {"title": "Platform", "description": "Satellite (sentinel-2a, sentinel-2b, ...)", "type": "string"},
    "constellation": {"title": "Constellation", "type": "string"},
    "instruments": {"title": "Instruments", "type": "array", "items": {"type": "string"}},
    "grid:code": {"title": "Grid code", "description": "MGRS tile as MGRS-<tile>", "type": "string"},
    "proj:code": {"title": "Projection code", "description": "EPSG code of the raster CRS", "type": "string"},
    "eo:cloud_cover": {"title": "Cloud cover", "description": "Cloudy share of the tile, percent",
                       "type": "number", "minimum": 0, "maximum": 100},
    "sat:relative_orbit": {"title": "Relative orbit", "type": "integer", "minimum": 1},
    "sat:orbit_state": {"title": "Orbit state", "type": "string", "enum": ["ascending", "descending", "geostationary"]},
    "processing:level": {"title": "Processing level", "type": "string"},
    INDEX: {"title": "Radiometric index", "description": "Index name (NDVI, NDWIGAO, ...)",
                        "type": "string"},
    TILE: {"title": "MGRS tile", "description": "Tile name (40KCB, ...)", "type": "string"},
    PRODUCT_ID: {"title": "Sentinel-2 L2A product id", "type": "string"},
    MASKS: {"title": "Cloud masks", "type": "array", "items": {"type": "string"}},
}
# Indexed (BTREE): what searches filter on most.
INDEXED = ("grid:code", "eo:cloud_cover", "sat:relative_orbit", "platform", INDEX, TILE)


def _wanted(name: str, collection_ids: list[str]) -> tuple[Any, ...]:
    return (QUERYABLES[name], "BTREE" if name in INDEXED else None, sorted(collection_ids))


def sync_queryables(conn: psycopg.Connection[Any], collection_ids: list[str]) -> list[str]:
    """Register every queryable for ``collection_ids`` where it differs from the database's; return the names changed."""
    from psycopg.types.json import Jsonb

    rows = conn.execute(
        "SELECT name, definition, property_index_type, collection_ids FROM pgstac.queryables WHERE name = ANY(%s)",
        (list(QUERYABLES),)).fetchall()
    current: dict[str, list[tuple[Any, ...]]] = {}
    for name, definition, index_type, ids in rows:
        current.setdefault(str(name), []).append((definition, index_type, sorted(ids) if ids is not None else None))
    changed = []
    for name in QUERYABLES:
        rows_now = current.get(name, [])
        if any(ids is None for _d, _t, ids in rows_now):
            continue  # registered for every collection by someone else: theirs
        wanted = _wanted(name, collection_ids)
        if rows_now == [wanted]:
            continue
        conn.execute("SELECT pgstac.upsert_queryable(%s, %s, NULL, %s, %s)",
                     (name, Jsonb(wanted[0]), wanted[1], wanted[2]))
        changed.append(name)
    return changed


def index_partitions(conn: psycopg.Connection[Any], collection_ids: list[str]) -> None:
    """Build the queryables' indexes missing on the partitions of ``collection_ids`` (new partitions have none)."""
    conn.execute("""SELECT pgstac.maintain_partitions(format('_items_%%s', key)) FROM pgstac.collections
                    WHERE id = ANY(%s) AND to_regclass(format('pgstac._items_%%s', key)) IS NOT NULL""",
                 (collection_ids,))

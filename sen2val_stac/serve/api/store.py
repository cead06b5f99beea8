"""The catalogue as the API sees it: an immutable in-memory snapshot, replaced when the catalogue changes.

A snapshot holds the queryable columns of ``items.parquet`` in a DuckDB table ``items`` (one row per
item, ``_row`` its position), the distinct item footprints as shapely objects (:class:`.sqlgeo.Footprints`, for the bbox and ``intersects`` searches), and the index
collections read from their ``collection.json`` (without their thousands of ``item`` links). Item JSON is
not kept: pages are read from the static files (the source of truth).

:meth:`Store.snapshot` compares a signature (size and mtime of ``items.parquet``, ``catalog.json`` and
every ``*/collection.json``: a few ``stat`` calls) on each request and loads a new snapshot when it
changed, so a new ``index`` run is seen without a restart. The server never rebuilds a stale index in a
request (at 100,000 items that reads every item file): ``index`` writes it last, and that write is a change.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sen2val_stac.catalog.parquet import is_stale, parquet_path, write_parquet
from sen2val_stac.catalog.read import collections as read_collections
from sen2val_stac.catalog.read import read_json
from sen2val_stac.catalog.sen2chain_fields import INDEX
from sen2val_stac.core import constants as C
from sen2val_stac.serve.api import sqlgeo

log = logging.getLogger(__name__)

# Item-level stac-geoparquet columns that are not properties (geometry stays: CQL2 spatial functions use it).
NOT_PROPERTIES = {"type", "stac_version", "stac_extensions", "id", "bbox", "links", "assets", "collection", "geometry"}
Signature = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    """One state of the catalogue. ``collections``: id -> (collection.json path, JSON), in catalogue order."""

    con: duckdb.DuckDBPyConnection
    footprints: sqlgeo.Footprints
    collections: dict[str, tuple[Path, dict[str, Any]]]
    root: dict[str, Any]
    properties: dict[str, pa.DataType]
    signature: Signature

    @property
    def columns(self) -> set[str]:
        """Every column of the ``items`` table a filter or sortby may name."""
        return {"id", "collection", "geometry", *self.properties}

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of its own for one request (DuckDB connections are not shared between threads)."""
        return self.con.cursor()


def _queryable(field: pa.Field) -> bool:
    """Columns a filter can use: scalars and lists of scalars (not structs such as processing:software)."""
    kind = field.type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        kind = kind.value_type
    return not (pa.types.is_struct(kind) or pa.types.is_map(kind) or pa.types.is_list(kind))


def _read_table(path: Path) -> pa.Table:
    """The queryable columns of ``items.parquet``, plus ``_row``; an empty table when there is no index."""
    if not path.exists():
        schema = pa.schema([("id", pa.string()), ("collection", pa.string()),
                            ("datetime", pa.timestamp("us", tz="UTC")), ("geometry", pa.binary())])
        table = schema.empty_table()
    else:
        names = [f.name for f in pq.read_schema(path) if f.name in ("id", "collection", "geometry")
                 or (f.name not in NOT_PROPERTIES and _queryable(f))]
        table = pq.read_table(path, columns=names)
    geometry = table.column("geometry").cast(pa.binary())  # drop the geoarrow extension type
    table = table.set_column(table.schema.get_field_index("geometry"), pa.field("geometry", pa.binary()), geometry)
    return table.append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def signature(catalog_dir: Path) -> Signature:
    """Size and mtime of every file whose change means a new snapshot."""
    paths = [parquet_path(catalog_dir), catalog_dir / C.CATALOG_FILE, *sorted(catalog_dir.glob(f"*/{C.COLLECTION_FILE}"))]
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name if path.parent == catalog_dir else f"{path.parent.name}/{path.name}", st.st_mtime_ns, st.st_size))
    return tuple(out)


def load_snapshot(catalog_dir: Path) -> Snapshot:
    """Read the catalogue into a new snapshot (the parquet index is built first when missing, if writable)."""
    path = parquet_path(catalog_dir)
    if not path.exists():  # never indexed with this version: build it once (index runs keep it up to date)
        try:
            write_parquet(catalog_dir)
        except OSError as exc:
            log.warning("%s: no parquet index and cannot build it (%s): serving no item", catalog_dir, exc)
    elif is_stale(catalog_dir):  # an index run is writing: it rewrites the index last, then we reload
        log.info("%s: parquet index older than the catalogue (index run in progress?): serving it as it is", path)
    sig = signature(catalog_dir)  # before reading: a change while reading means one more reload, never a missed one
    table = _read_table(path)
    footprints = sqlgeo.Footprints(table.column("geometry").to_pylist())
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.register("_arrow", table)
    con.execute("CREATE TABLE items AS SELECT * FROM _arrow")  # row order = _row: the footprint mask joins by position
    con.unregister("_arrow")
    sqlgeo.register(con)
    con.execute("SET enable_external_access = false")  # filters are SQL: no file or network access from them
    con.execute("SET lock_configuration = true")
    root = read_json(catalog_dir / C.CATALOG_FILE)
    colls = {coll["id"]: (p, _without_item_links(coll)) for p, coll in read_collections(catalog_dir)
             if INDEX in coll}
    props = {f.name: f.type for f in table.schema if f.name not in NOT_PROPERTIES and not f.name.startswith("_")}
    return Snapshot(con=con, footprints=footprints, collections=colls, root=root, properties=props, signature=sig)


def _without_item_links(collection: dict[str, Any]) -> dict[str, Any]:
    return {**collection, "links": [link for link in collection.get("links", []) if link.get("rel") not in ("item", "child")]}


class Store:
    """The current snapshot of one catalogue folder, reloaded when its files change."""

    def __init__(self, catalog_dir: str | os.PathLike[str]) -> None:
        self.catalog_dir = Path(catalog_dir).resolve()
        self._lock = threading.Lock()
        self._snapshot = load_snapshot(self.catalog_dir)

    def snapshot(self) -> Snapshot:
        """The snapshot matching the files now on disk (reloaded first if any changed)."""
        current = self._snapshot
        if signature(self.catalog_dir) == current.signature:
            return current
        with self._lock:
            if signature(self.catalog_dir) != self._snapshot.signature:
                log.info("%s changed: reloading the API index", self.catalog_dir)
                self._snapshot = load_snapshot(self.catalog_dir)
            return self._snapshot

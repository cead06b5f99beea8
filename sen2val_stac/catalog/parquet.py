"""The columnar query layer: ``CATALOG/items.parquet``, a stac-geoparquet copy of every index item.

The static JSON stays the source of truth: the parquet file is rebuilt from it by ``index`` after
each change, and by readers whenever it is missing or older than the catalogue's state.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import stac_geoparquet.arrow as sga
from stac_geoparquet.arrow._api import stac_items_to_arrow
from stac_geoparquet.arrow._schema.models import InferredSchema

from sen2val_stac.catalog.read import iter_items
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import temp_prefix

T = TypeVar("T")

# Items parsed to Arrow at a time (one record batch, one row group of the file).
BATCH_ITEMS = 1000


def parquet_path(catalog_dir: str | os.PathLike[str]) -> Path:
    """``CATALOG/items.parquet``."""
    return Path(catalog_dir) / C.PARQUET_FILE


def _catalogue_mtime(catalog_dir: Path) -> int:
    """Newest modification time of the files that change whenever any item does."""
    candidates = [catalog_dir / C.CATALOG_FILE, catalog_dir / C.STATE_DIR / C.STATE_FILE]
    candidates += list(catalog_dir.glob(f"*/{C.COLLECTION_FILE}"))
    return max((p.stat().st_mtime_ns for p in candidates if p.exists()), default=0)


def is_stale(catalog_dir: str | os.PathLike[str]) -> bool:
    """True when the parquet index is missing or older than the catalogue."""
    path = parquet_path(catalog_dir)
    return not path.exists() or path.stat().st_mtime_ns < _catalogue_mtime(Path(catalog_dir))


def _item_batches(catalog_dir: Path, convert: Callable[[list[dict[str, Any]]], T]) -> Iterator[T]:
    """``convert`` of the catalogue's items (in :func:`iter_items` order), ``BATCH_ITEMS`` at a time.

    The parsed items of a batch (~16 MB) are dropped before the next batch is read, so one batch is alive at a
    time: a generator yielding the batches themselves would keep the previous one while building the next.
    """
    items = (ref.item for ref in iter_items(catalog_dir))
    while True:
        batch = list(itertools.islice(items, BATCH_ITEMS))
        if not batch:
            return
        result = convert(batch)
        del batch
        yield result


def _schema(catalog_dir: Path) -> InferredSchema | None:
    """The Arrow schema of every item, inferred batch by batch (None: no item).

    For a catalogue of one batch it is the schema inferred from all items at once (the same parquet bytes).
    """
    schema = InferredSchema()

    def update(batch: list[dict[str, Any]]) -> int:
        schema.update_from_items(batch)
        return len(batch)

    return schema if sum(_item_batches(catalog_dir, update)) else None


def write_parquet(catalog_dir: str | os.PathLike[str]) -> Path:
    """(Re)build the parquet index from the static JSON, atomically; return its path.

    Two passes over the item files, one batch of items in memory at a time: the schema of all items, then
    the record batches written with it. Memory stays flat with the number of items.
    """
    catalog_dir = Path(catalog_dir)
    schema = _schema(catalog_dir)
    path = parquet_path(catalog_dir)
    fd, tmp = tempfile.mkstemp(dir=catalog_dir, prefix=temp_prefix(), suffix=".parquet")
    os.close(fd)
    try:
        if schema is not None:
            inner = schema.inner
            batches = _item_batches(catalog_dir, lambda batch: stac_items_to_arrow(batch, schema=inner))
            first = next(batches)
            sga.to_parquet(pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches)), tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
            if path.exists():
                path.unlink()
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def ensure_parquet(catalog_dir: str | os.PathLike[str]) -> Path:
    """The parquet index, rebuilt first when missing or stale."""
    if is_stale(catalog_dir):
        write_parquet(catalog_dir)
    return parquet_path(catalog_dir)

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

# Items of one record batch (one row group of the file).
BATCH_ITEMS = 1000
# Items parsed (and converted to Arrow) at a time: a batch is built in parts, so the peak memory is that of a
# part of the heaviest items (~2 MB of JSON), not of a whole batch of them.
PART_ITEMS = 250


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


def _item_parts(catalog_dir: Path, convert: Callable[[list[dict[str, Any]]], T]) -> Iterator[T]:
    """``convert`` of the catalogue's items (in :func:`iter_items` order), ``PART_ITEMS`` at a time.

    The parsed items of a part are dropped before the next part is read, and so is the part's result once
    taken, so one part is alive at a time: a generator yielding the parts themselves would keep the previous
    one while building the next.
    """
    items = (ref.item for ref in iter_items(catalog_dir))
    while True:
        part = list(itertools.islice(items, PART_ITEMS))
        if not part:
            return
        result = convert(part)
        del part
        yield result
        del result


def _record_batches(catalog_dir: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The items as record batches of ``BATCH_ITEMS`` rows, each converted part by part and combined."""
    parts = _item_parts(catalog_dir, lambda items: stac_items_to_arrow(items, schema=schema))
    while chunk := list(itertools.islice(parts, BATCH_ITEMS // PART_ITEMS)):
        table = pa.Table.from_batches(chunk)
        del chunk
        batch = table.combine_chunks().to_batches()[0]
        del table
        yield batch
        del batch


def _reader(batches: Iterator[pa.RecordBatch]) -> pa.RecordBatchReader:
    """A reader of ``batches`` (one at least), with the schema of the first, which is not kept once read."""
    head = [next(batches)]
    schema = head[0].schema

    def stream() -> Iterator[pa.RecordBatch]:
        yield head.pop()
        yield from batches

    return pa.RecordBatchReader.from_batches(schema, stream())


def _schema(catalog_dir: Path) -> InferredSchema | None:
    """The Arrow schema of every item, inferred part by part and unified (None: no item).

    It is the schema inferred from all items at once (the same parquet bytes as one batch of them).
    """
    schema = InferredSchema()

    def update(part: list[dict[str, Any]]) -> int:
        schema.update_from_items(part)
        return len(part)

    return schema if sum(_item_parts(catalog_dir, update)) else None


def write_parquet(catalog_dir: str | os.PathLike[str]) -> Path:
    """(Re)build the parquet index from the static JSON, atomically; return its path.

    Two passes over the item files, one part of the items parsed at a time: the schema of all items, then
    the record batches written with it (the batch being built in memory, plus the one being written).
    """
    catalog_dir = Path(catalog_dir)
    schema = _schema(catalog_dir)
    path = parquet_path(catalog_dir)
    fd, tmp = tempfile.mkstemp(dir=catalog_dir, prefix=temp_prefix(), suffix=".parquet")
    os.close(fd)
    try:
        if schema is not None:
            sga.to_parquet(_reader(_record_batches(catalog_dir, schema.inner)), tmp)
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

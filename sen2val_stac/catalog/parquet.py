"""The columnar query layer: ``CATALOG/items.parquet``, a stac-geoparquet copy of every index item.

The static JSON stays the source of truth: the parquet file is rebuilt from it by ``index`` after
each change, and by readers whenever it is missing or older than the catalogue's state.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import stac_geoparquet.arrow as sga

from sen2val_stac.catalog.read import iter_items
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import temp_prefix


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


def write_parquet(catalog_dir: str | os.PathLike[str]) -> Path:
    """(Re)build the parquet index from the static JSON, atomically; return its path."""
    catalog_dir = Path(catalog_dir)
    items = [ref.item for ref in iter_items(catalog_dir)]
    path = parquet_path(catalog_dir)
    fd, tmp = tempfile.mkstemp(dir=catalog_dir, prefix=temp_prefix(), suffix=".parquet")
    os.close(fd)
    try:
        if items:
            sga.to_parquet(sga.parse_stac_items_to_arrow(items), tmp)
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

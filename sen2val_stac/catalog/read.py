"""Read the static catalogue back: items of the index collections, filtered, grouped into series.

Every derived product (footprints, geoflow tables, metadata records, NetCDF cubes) starts here,
from the STAC JSON, never from the raster tree.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from sen2val_stac.core import constants as C


@dataclass(frozen=True)
class ItemRef:
    """An item of the catalogue and the file it was read from."""

    path: Path
    item: dict[str, Any]

    @property
    def id(self) -> str:
        """Item id."""
        return self.item["id"]

    @property
    def index(self) -> str:
        """Index name (``NDVI``)."""
        return self.item["properties"]["sen2chain:index"]

    @property
    def tile(self) -> str:
        """MGRS tile (``40KCB``)."""
        return self.item["properties"]["sen2chain:tile"]

    @property
    def datetime(self) -> datetime:
        """Acquisition time (UTC)."""
        return parse_datetime(self.item["properties"]["datetime"])

    def asset_href(self, key: str) -> str:
        """Absolute path (or URL) of asset ``key``, resolving hrefs relative to the item file."""
        href = self.item["assets"][key]["href"]
        if "://" in href or href.startswith("/"):
            return href
        return os.path.normpath(os.path.join(self.path.parent, href))

    def link_href(self, rel: str) -> str | None:
        """Absolute path or URL of the first link with ``rel``."""
        for link in self.item.get("links", []):
            if link["rel"] == rel:
                href = link["href"]
                if "://" in href:
                    return href
                return os.path.normpath(os.path.join(self.path.parent, href))
        return None


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (``2022-01-04T06:36:11Z``) to an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def read_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _local(base: Path, href: str, catalog_dir: Path, root_href: str | None) -> Path:
    if "://" in href:
        if root_href and href.startswith(root_href):
            return catalog_dir / href[len(root_href):].lstrip("/")
        raise ValueError(f"{base}: link {href} is not under the catalogue")
    return Path(os.path.normpath(base.parent / href))


def collections(catalog_dir: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """Every collection the root catalog links (path, JSON), in link order."""
    catalog_dir = Path(catalog_dir)
    root_path = catalog_dir / C.CATALOG_FILE
    root = read_json(root_path)
    root_href = _root_href(root)
    out = []
    for link in root["links"]:
        if link["rel"] == "child":
            path = _local(root_path, link["href"], catalog_dir, root_href)
            out.append((path, read_json(path)))
    return out


def _root_href(root: dict[str, Any]) -> str | None:
    for link in root["links"]:
        if link["rel"] == "self" and "://" in link["href"]:
            return urljoin(link["href"], ".")
    return None


def iter_items(catalog_dir: str | os.PathLike[str]) -> Iterator[ItemRef]:
    """Every item of every index collection (collections holding ``sen2chain:index``)."""
    catalog_dir = Path(catalog_dir)
    root_href = _root_href(read_json(catalog_dir / C.CATALOG_FILE))
    for coll_path, coll in collections(catalog_dir):
        if "sen2chain:index" not in coll:
            continue
        for link in coll["links"]:
            if link["rel"] == "item":
                path = _local(coll_path, link["href"], catalog_dir, root_href)
                yield ItemRef(path, read_json(path))


def _intersects(bbox: list[float], query: tuple[float, float, float, float]) -> bool:
    w, s, e, n = bbox
    qw, qs, qe, qn = query
    if w > e:  # crosses the antimeridian
        return (s <= qn and n >= qs) and (qe >= w or qw <= e)
    return w <= qe and e >= qw and s <= qn and n >= qs


def select(
    items: Iterable[ItemRef],
    index: str | None = None,
    tile: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> list[ItemRef]:
    """Items matching every given filter (index and tile case-insensitive; start/end inclusive), by id."""
    out = []
    for ref in items:
        if index and ref.index.upper() != index.upper():
            continue
        if tile and ref.tile.upper() != tile.upper():
            continue
        if start and ref.datetime < start:
            continue
        if end and ref.datetime > end:
            continue
        if bbox and not _intersects(ref.item["bbox"], bbox):
            continue
        out.append(ref)
    return sorted(out, key=lambda r: r.id)


def load_items(catalog_dir: str | os.PathLike[str], **filters: Any) -> list[ItemRef]:
    """Items of the catalogue matching ``filters`` (see :func:`select`)."""
    return select(iter_items(catalog_dir), **filters)


def group_series(items: Iterable[ItemRef]) -> dict[tuple[str, str], list[ItemRef]]:
    """Items grouped by (index, tile), each series sorted by acquisition time."""
    series: dict[tuple[str, str], list[ItemRef]] = {}
    for ref in items:
        series.setdefault((ref.index, ref.tile), []).append(ref)
    return {k: sorted(v, key=lambda r: r.datetime) for k, v in sorted(series.items())}


__all__ = ["ItemRef", "collections", "group_series", "iter_items", "load_items", "parse_datetime", "select"]

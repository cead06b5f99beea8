"""Read the static catalogue back: the one walker and link resolver, and the items of the index collections.

Every reader of the catalogue resolves links here: validation walks every file reached through
``child``/``item`` links (:func:`walk`), derived products (footprints, geoflow tables, metadata
records, NetCDF cubes) read the items of the index collections (:func:`iter_items`), the query turns
its parquet rows back into :class:`ItemRef` s (:func:`item_ref`). A link ``href`` is resolved against
the file holding it as a URL would be: relative, an absolute path, a ``file://`` URL, or an ``http(s)``
URL under the published root (the folder of the root's absolute ``self`` link), mapped onto the local
catalogue folder. Paths are absolute and normalised (``..`` removed, symlinks kept, as in a URL).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import ijson
import orjson

from sen2val_stac.catalog.sen2chain_fields import INDEX, TILE
from sen2val_stac.core import constants as C
from sen2val_stac.core.errors import InputError

FOLLOWED_RELS = ("child", "item")
"""Links :func:`walk` follows."""


class CatalogUnreadable(InputError):
    """The root catalogue file is missing or is not a JSON object, or a link leaves the catalogue."""


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the working directory and normalised (symlinks are not resolved)."""
    return Path(os.path.abspath(path))


def href_path(base_file: str | os.PathLike[str], href: str) -> Path | None:
    """Local file named by ``href`` found in ``base_file``: relative, absolute path or ``file://`` URL; None for
    a remote URL. Percent-escapes and ``#fragments`` are removed."""
    if href.startswith("file:"):
        return absolute(urllib.request.url2pathname(urlsplit(href).path))
    if "://" in href:
        return None
    return absolute(Path(os.path.abspath(base_file)).parent / unquote(urldefrag(href).url))


def published_prefix(root_doc: Mapping[str, Any]) -> str | None:
    """Base URL of a published catalogue (the folder of the root's absolute ``http(s)`` ``self`` link), or None."""
    links = root_doc.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            href = link["href"]
            if "://" in href and not href.startswith("file:"):
                return urldefrag(href).url.rsplit("/", 1)[0] + "/"
    return None


def parse_json(payload: bytes) -> Any:
    """JSON bytes parsed by orjson (about twice as fast), or by :mod:`json` where orjson refuses what json
    reads (``NaN``, integers beyond 64 bits): the same documents as ``json.loads``. Raises ``ValueError``."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def try_read_json(path: Path) -> tuple[Any, str | None]:
    """``(document, None)``, or ``(None, reason)`` when the file is missing or not parsable JSON."""
    try:
        return parse_json(path.read_bytes()), None
    except FileNotFoundError:
        return None, "linked file does not exist"
    except IsADirectoryError:
        return None, "linked path is a folder, not a JSON file"
    except (OSError, ValueError) as exc:
        return None, f"not readable JSON: {exc}"


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path`` (raises ``OSError`` / ``ValueError``)."""
    with open(path, "rb") as f:
        doc: dict[str, Any] = parse_json(f.read())
    return doc


@dataclass(frozen=True)
class CatalogRoot:
    """The root catalogue file (absolute), its JSON, and the URL it is published under (if absolute)."""

    file: Path
    document: dict[str, Any]
    prefix: str | None

    @property
    def folder(self) -> Path:
        """The catalogue folder (holding the root file)."""
        return self.file.parent

    def resolve(self, base_file: Path, href: str) -> Path | None:
        """Local file of link ``href`` in ``base_file``; a URL under :attr:`prefix` maps onto :attr:`folder`;
        None for any other remote URL."""
        if self.prefix and href.startswith(self.prefix):
            return absolute(self.folder / unquote(urldefrag(href[len(self.prefix):]).url))
        return href_path(base_file, href)

    def linked(self, base_file: Path, doc: Any, *rels: str) -> Iterator[tuple[str, Path | None]]:
        """``(href, local file or None)`` of every link of ``doc`` whose relation is one of ``rels``, in order."""
        links = doc.get("links") if isinstance(doc, dict) else None
        return self.among(base_file, links if isinstance(links, list) else [], *rels)

    def among(self, base_file: Path, links: Iterable[Any], *rels: str) -> Iterator[tuple[str, Path | None]]:
        """Like :meth:`linked`, for the links of ``base_file`` given one at a time."""
        for link in links:
            if isinstance(link, dict) and link.get("rel") in rels:
                href = link.get("href")
                if isinstance(href, str) and href:
                    yield href, self.resolve(base_file, href)

    def require(self, base_file: Path, href: str) -> Path:
        """Like :meth:`resolve`, but a link outside the catalogue is a :class:`CatalogUnreadable`."""
        path = self.resolve(base_file, href)
        if path is None:
            raise CatalogUnreadable(f"{base_file}: link {href} is not under the catalogue ({self.prefix or self.folder})")
        return path


def open_root(catalog: str | os.PathLike[str]) -> CatalogRoot:
    """The root of the catalogue at ``catalog`` (a folder holding ``catalog.json``, or the root JSON file).

    Raises :class:`CatalogUnreadable` when the file is missing, not JSON, or not a JSON object.
    """
    file = absolute(catalog)
    if file.is_dir():
        file = file / C.CATALOG_FILE
    if not file.is_file():
        raise CatalogUnreadable(f"{file}: no such catalogue file")
    doc, error = try_read_json(file)
    if error:
        raise CatalogUnreadable(f"{file}: {error}")
    if not isinstance(doc, dict):
        raise CatalogUnreadable(f"{file}: not a JSON object")
    return CatalogRoot(file, doc, published_prefix(doc))


@dataclass(frozen=True)
class CatalogFile:
    """A file reached by :func:`walk`: its absolute path, its JSON (None if unreadable) and why not."""

    path: Path
    document: Any
    error: str | None


def walk(
    root: CatalogRoot, rels: Iterable[str] = FOLLOWED_RELS, skipped: list[str] | None = None
) -> Iterator[CatalogFile]:
    """The root file and every file reached from it by links with relation in ``rels``, breadth first, each
    once; hrefs of remote links (not under the published root) are appended to ``skipped``."""
    rels = tuple(rels)
    seen: set[Path] = {root.file}
    todo: deque[Path] = deque([root.file])
    while todo:
        path = todo.popleft()
        doc, error = (root.document, None) if path == root.file else try_read_json(path)
        yield CatalogFile(path, doc, error)
        for href, target in root.linked(path, doc, *rels):
            if target is None:
                if skipped is not None:
                    skipped.append(href)
            elif target not in seen:
                seen.add(target)
                todo.append(target)


@dataclass(frozen=True)
class ItemRef:
    """An item of the catalogue and the file it was read from."""

    path: Path
    item: dict[str, Any]

    @property
    def id(self) -> str:
        """Item id."""
        value: str = self.item["id"]
        return value

    @property
    def index(self) -> str:
        """Index name (``NDVI``)."""
        value: str = self.item["properties"][INDEX]
        return value

    @property
    def tile(self) -> str:
        """MGRS tile (``40KCB``)."""
        value: str = self.item["properties"][TILE]
        return value

    @property
    def datetime(self) -> datetime:
        """Acquisition time (UTC)."""
        return parse_datetime(self.item["properties"]["datetime"])

    def asset_href(self, key: str) -> str:
        """Absolute path (or URL) of asset ``key``, resolving hrefs relative to the item file."""
        return _absolute_href(self.path, self.item["assets"][key]["href"])

    def link_href(self, rel: str) -> str | None:
        """Absolute path or URL of the first link with ``rel``."""
        for link in self.item.get("links", []):
            if link["rel"] == rel:
                return _absolute_href(self.path, link["href"])
        return None


def _absolute_href(base_file: Path, href: str) -> str:
    path = href_path(base_file, href)
    return href if path is None else str(path)


def item_ref(path: str | os.PathLike[str]) -> ItemRef:
    """The item stored in ``path`` (made absolute)."""
    file = absolute(path)
    return ItemRef(file, read_json(file))


def parse_datetime(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (``2022-01-04T06:36:11Z``) to an aware UTC datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def collections(catalog_dir: str | os.PathLike[str]) -> list[tuple[Path, dict[str, Any]]]:
    """Every collection the root catalog links (path, JSON), in link order."""
    root = open_root(catalog_dir)
    return [(path, read_json(path)) for path in _children(root)]


def _children(root: CatalogRoot) -> list[Path]:
    return [root.require(root.file, href) for href, _ in root.linked(root.file, root.document, "child")]


def _collection_links(path: Path) -> Iterable[Any] | None:
    """The links of the index collection in ``path`` (one holding ``sen2chain:index``), None for another.

    The file is read as a stream (ijson): a collection linking 100,000 items is never held whole. A document
    the streaming parser refuses (``NaN``) is read whole, with the errors of :func:`read_json`.
    """
    try:
        with open(path, "rb") as f:
            # the whole document is parsed (not stopped at the key), so the stream of its links cannot fail
            keys = [value for prefix, event, value in ijson.parse(f) if prefix == "" and event == "map_key"]
        if INDEX not in keys:
            return None
    except ijson.JSONError:
        doc = read_json(path)
        links = doc.get("links") if INDEX in doc else None
        return None if links is None else links if isinstance(links, list) else []
    return _streamed_links(path)


def _streamed_links(path: Path) -> Iterator[Any]:
    with open(path, "rb") as f:
        yield from ijson.items(f, "links.item", use_float=True)


def iter_items(catalog_dir: str | os.PathLike[str]) -> Iterator[ItemRef]:
    """Every item of every index collection (collections holding ``sen2chain:index``), one at a time."""
    root = open_root(catalog_dir)
    for coll_path in _children(root):
        links = _collection_links(coll_path)
        for href, _ in root.among(coll_path, links or [], "item"):
            path = root.require(coll_path, href)
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


__all__ = [
    "FOLLOWED_RELS",
    "CatalogFile",
    "CatalogRoot",
    "CatalogUnreadable",
    "ItemRef",
    "absolute",
    "collections",
    "group_series",
    "href_path",
    "item_ref",
    "iter_items",
    "load_items",
    "open_root",
    "parse_datetime",
    "parse_json",
    "published_prefix",
    "read_json",
    "select",
    "try_read_json",
    "walk",
]

"""Catalogue JSON as it goes into pgstac: absolute hrefs, no static-tree links, a content hash.

The API writes its own self/root/parent/collection/items links, so the static tree's (and a
collection's thousands of ``item`` links) are dropped; pgstac serves asset hrefs verbatim, so every
relative href is made absolute (:class:`Hrefs`). The hash of the prepared JSON tells a later load what
changed; it travels in the item's ``private`` member, which pgstac stores in a column it never serves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import orjson

from sen2val_stac.catalog.read import href_path, open_root

# Links the API writes itself (or that only make sense inside the static tree).
STRUCTURAL_RELS = frozenset({"self", "root", "parent", "collection", "item", "items", "child"})
HASH_KEY = "sen2val:sha256"
# An asset href under asset_href_base is <INDEX>/<TILE>/<PRODUCT_ID>/<file> (as `index` writes it).
RASTER_TAIL = 4


def _url_folder(url: str | None) -> str | None:
    return url.rstrip("/") + "/" if url else None


@dataclass(frozen=True)
class Hrefs:
    """Makes the relative hrefs of catalogue files absolute.

    A file of the catalogue (thumbnail, item, collection) goes under ``root_href`` (the catalogue
    folder's URL); a raster outside it under ``asset_href_base`` (the URL of the INDICES folder, the
    configuration key of the same name) as ``<INDEX>/<TILE>/<PRODUCT_ID>/<file>``, else resolved against
    ``root_href`` as a web server publishing both folders side by side answers it. Without either URL,
    a ``file://`` URI (a database used on this machine only). Hrefs already absolute stay as they are.
    """

    catalog_dir: Path
    root_href: str | None = None
    asset_href_base: str | None = None

    @classmethod
    def for_catalog(cls, catalog_dir: Path, root_href: str | None = None,
                    asset_href_base: str | None = None) -> Hrefs:
        """Bases for ``catalog_dir``; ``root_href`` defaults to the URL the catalogue was indexed for."""
        root = open_root(catalog_dir)
        return cls(root.folder, _url_folder(root_href or root.prefix), _url_folder(asset_href_base))

    def absolute(self, href: str, source: Path) -> str:
        """``href`` as found in file ``source`` of the catalogue, made absolute."""
        local = None if href.startswith("/") else href_path(source, href)
        if local is None:  # a URL or an absolute path
            return href
        inside = local.is_relative_to(self.catalog_dir)
        if inside and self.root_href:
            return self.root_href + local.relative_to(self.catalog_dir).as_posix()
        if not inside and self.asset_href_base:
            return self.asset_href_base + "/".join(local.parts[-RASTER_TAIL:])
        if self.root_href:
            return urljoin(self.root_href + source.relative_to(self.catalog_dir).as_posix(), href)
        return local.as_uri()


def _rewrite(obj: dict[str, Any], source: Path, hrefs: Hrefs) -> dict[str, Any]:
    """A shallow copy of ``obj`` with new links and assets (``obj`` itself is left as it was)."""
    out = dict(obj)
    out["links"] = [{**link, "href": hrefs.absolute(link["href"], source)}
                    for link in obj.get("links", []) if link.get("rel") not in STRUCTURAL_RELS]
    if "assets" in obj:
        out["assets"] = {key: {**asset, "href": hrefs.absolute(asset["href"], source)}
                         for key, asset in obj["assets"].items()}
    return out


def content_hash(obj: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys) of ``obj``."""
    return hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()


def prepare_collection(collection: dict[str, Any], source: Path, hrefs: Hrefs) -> dict[str, Any]:
    """A collection for pgstac: links (but license and the like) dropped, hrefs absolute."""
    return _rewrite(collection, source, hrefs)


def prepare_item(item: dict[str, Any], source: Path, hrefs: Hrefs) -> tuple[dict[str, Any], str]:
    """An item for pgstac and its content hash; the hash is also in ``private`` (stored, never served)."""
    out = _rewrite(item, source, hrefs)
    digest = content_hash(out)
    out["private"] = {HASH_KEY: digest}
    return out, digest

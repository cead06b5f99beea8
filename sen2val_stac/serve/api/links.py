"""Items and collections as the API serves them: absolute links into the API, absolute asset hrefs.

The static JSON links items to their parent, collection and root with relative hrefs; in the API these
become the API's own URLs (``self``, ``parent``, ``collection``, ``root``, ``items``), a collection's
``item``/``child`` links (thousands) are dropped, and every other relative href (assets, thumbnails,
``license`` ...) is resolved against the URL at which the same server serves the static file, so it
points at this server's static files (``--data`` folders included).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from sen2val_stac.core import media_types

JSON, GEOJSON, SCHEMA = media_types.JSON, media_types.GEOJSON, media_types.SCHEMA_JSON
API_RELS = {"self", "root", "parent", "collection", "items", "item", "child"}


@dataclass(frozen=True)
class Urls:
    """URLs of one server: ``base`` (scheme://host:port, no trailing slash); ``static``: URL path of the catalogue folder."""

    base: str
    static: str

    @property
    def root(self) -> str:
        """Landing page."""
        return self.base + "/"

    def collection(self, collection_id: str) -> str:
        """``/collections/{id}``."""
        return f"{self.base}/collections/{quote(collection_id, safe='')}"

    def items(self, collection_id: str) -> str:
        """``/collections/{id}/items``."""
        return self.collection(collection_id) + "/items"

    def item(self, collection_id: str, item_id: str) -> str:
        """``/collections/{id}/items/{itemId}``."""
        return self.items(collection_id) + "/" + quote(item_id, safe="")

    def static_file(self, rel_path: str) -> str:
        """URL of a catalogue file (path relative to the catalogue folder) on the static side."""
        return f"{self.base}{self.static}/{quote(rel_path)}"


def _absolute(obj: dict[str, Any], file_url: str) -> None:
    """Resolve the relative hrefs of ``obj``'s non-API links and its assets against ``file_url``, in place."""
    obj["links"] = [{**link, "href": urljoin(file_url, link["href"])} for link in obj.get("links", [])
                    if link.get("rel") not in API_RELS]
    for asset in obj.get("assets", {}).values():
        if "href" in asset:
            asset["href"] = urljoin(file_url, asset["href"])


def api_item(item: dict[str, Any], rel_path: str, urls: Urls) -> dict[str, Any]:
    """``item`` (read from catalogue file ``rel_path``, changed in place: a fresh parse per request) with API
    links and absolute hrefs."""
    out = item
    _absolute(out, urls.static_file(rel_path))
    cid = out["collection"]
    out["links"] = [
        {"rel": "self", "href": urls.item(cid, out["id"]), "type": GEOJSON},
        {"rel": "parent", "href": urls.collection(cid), "type": JSON},
        {"rel": "collection", "href": urls.collection(cid), "type": JSON},
        {"rel": "root", "href": urls.root, "type": JSON},
        {"rel": "alternate", "href": urls.static_file(rel_path), "type": JSON, "title": "Static catalogue file"},
        *out["links"],
    ]
    return out


def api_collection(collection: dict[str, Any], rel_path: str, urls: Urls) -> dict[str, Any]:
    """``collection`` (read from catalogue file ``rel_path``) with API links and absolute hrefs."""
    out = copy.deepcopy({k: v for k, v in collection.items() if k != "links"})
    out["links"] = [link for link in collection.get("links", []) if link.get("rel") not in API_RELS]
    _absolute(out, urls.static_file(rel_path))
    cid = out["id"]
    out["links"] = [
        {"rel": "self", "href": urls.collection(cid), "type": JSON},
        {"rel": "parent", "href": urls.root, "type": JSON},
        {"rel": "root", "href": urls.root, "type": JSON},
        {"rel": "items", "href": urls.items(cid), "type": GEOJSON},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "href": urls.collection(cid) + "/queryables",
         "type": SCHEMA},
        {"rel": "alternate", "href": urls.static_file(rel_path), "type": JSON, "title": "Static catalogue file"},
        *out["links"],
    ]
    return out

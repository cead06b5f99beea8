"""A collection's JSON file written as a stream: memory flat with the number of items it links.

The item links pass one record at a time into :class:`ItemLinks` (a temporary file), and
:func:`collection_chunks` splices them into pystac's collection, right after the licence link where
pystac puts them. The bytes are what :func:`~sen2val_stac.core.atomic.dump_json` gives for the same
collection built whole with pystac (tested), without a pystac Link (about 1.5 KB) or even a tuple per item.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import Any

from sen2val_stac.catalog.render import CollectionFacts, Layout, build_collection, href
from sen2val_stac.core import media_types
from sen2val_stac.core.atomic import dump_json

# Stands for the item links in the collection's JSON while it is dumped (a link no collection holds).
_MARK = "sen2val-stac: the item links"
# An item link as dump_json writes it inside the collection's "links" array (2-space indent, keys in pystac's order).
_LINK = '    {{\n      "rel": "item",\n      "href": {href},\n      "type": ' + json.dumps(media_types.GEOJSON) + "\n    }}"
_BLOCK = 1 << 20


class ItemLinks:
    """The item links of the collection of ``index``, added in the order they are linked, held on disk.

    Use as a context manager (the temporary file is anonymous: it goes with the process in any case).
    """

    def __init__(self, index: str, root_href: str | None) -> None:
        self.index = index
        self.count = 0
        self._from = Layout.collection(index)
        self._root_href = root_href
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)

    def __enter__(self) -> ItemLinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def add(self, tile: str, item_id: str) -> None:
        """Link the item ``item_id`` of ``tile`` next."""
        target = href(self._from, Layout.item(self.index, tile, item_id), self._root_href)
        text = _LINK.format(href=json.dumps(target, ensure_ascii=False))
        self._file.write((text if not self.count else ",\n" + text).encode())
        self.count += 1

    def chunks(self) -> Iterator[bytes]:
        """The links' JSON text (separated by ``,\\n``, no trailing separator), a block at a time."""
        self._file.flush()
        self._file.seek(0)
        while block := self._file.read(_BLOCK):
            yield block


def collection_chunks(facts: CollectionFacts, config: dict[str, Any], links: ItemLinks) -> Iterator[bytes]:
    """The bytes of the collection file of ``facts``' index, linking ``links`` (of the same items), in pieces."""
    if links.count != facts.count:
        raise ValueError(f"collection {facts.index}: {links.count} item links for {facts.count} items")
    data = build_collection(facts.index, facts, config).to_dict(transform_hrefs=False)
    at = next(i for i, link in enumerate(data["links"]) if link["rel"] == "license") + 1
    data["links"].insert(at, _MARK)
    head, mark, tail = dump_json(data).partition(b"\n    " + json.dumps(_MARK).encode())
    if not mark:
        raise AssertionError(f"collection {facts.index}: the item links' place was not found")
    yield head + b"\n"  # head ends with the licence link's comma; tail starts with the separator after the links
    yield from links.chunks()
    yield tail


__all__ = ["ItemLinks", "collection_chunks"]

"""Walk an INDICES tree (``<INDEX>/<TILE>/<PRODUCT_ID>/files``) into item sources and skipped entries.

Only directory listings and ``stat`` calls: no raster is opened here, so a no-op re-run costs
little more than listing the tree.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from sen2val_stac.tree.names import (
    INDEX_RE,
    InvalidName,
    ProductId,
    RasterName,
    item_id,
    parse_product_id,
    parse_raster_name,
    parse_tile,
)

SIDECAR_SUFFIXES = (".xml",)  # Sen2Chain's <file>.xml and GDAL's <file>.aux.xml


@dataclass(frozen=True)
class SourceFile:
    """A file of a product folder with the stat facts used to detect changes."""

    name: str
    path: str
    size: int
    mtime_ns: int


@dataclass
class Skip:
    """An input that was not indexed, and why."""

    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"path": self.path, "reason": self.reason}


@dataclass
class ItemSource:
    """Everything on disk behind one STAC item (one index, tile and acquisition date)."""

    index: str
    tile: str
    product: ProductId
    folder: str
    rasters: list[tuple[RasterName, SourceFile]] = field(default_factory=list)
    sidecars: list[SourceFile] = field(default_factory=list)

    @property
    def item_id(self) -> str:
        """The STAC item id."""
        return item_id(self.index, self.tile, self.product.sensing)

    def fingerprint(self) -> str:
        """A digest of the folder, file names, sizes and modification times: changes when any file does.

        The folder enters as its path inside the tree (``NDVI/40KCB/<product>``), so a tree moved or copied
        with its catalogue (``rsync -a``) keeps its fingerprints and nothing is re-read.
        """
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.index}/{self.tile}/{os.path.basename(self.folder)}".encode())
        for f in sorted([f for _, f in self.rasters] + self.sidecars, key=lambda f: f.name):
            h.update(f"\0{f.name}\0{f.size}\0{f.mtime_ns}".encode())
        return h.hexdigest()


def _entries(path: str) -> list[os.DirEntry[str]]:
    with os.scandir(path) as it:
        return sorted(it, key=lambda e: e.name)


def scan_product(index: str, tile: str, folder: str, skips: list[Skip]) -> ItemSource | None:
    """Classify the files of the product folder ``folder``; ``None`` (and a skip) when it cannot make an item."""
    try:
        product = parse_product_id(os.path.basename(folder))
    except InvalidName as exc:
        skips.append(Skip(folder, str(exc)))
        return None
    if product.tile != tile:
        skips.append(Skip(folder, f"product of tile {product.tile} stored under tile folder {tile}"))
        return None
    source = ItemSource(index=index, tile=tile, product=product, folder=folder)
    try:
        entries = _entries(folder)
    except OSError as exc:  # removed or unreadable since the tree was listed
        skips.append(Skip(folder, f"cannot list the product folder: {exc.strerror or exc}"))
        return None
    for f in entries:
        if not f.is_file():
            skips.append(Skip(f.path, "not a regular file"))
            continue
        st = f.stat()
        sf = SourceFile(f.name, f.path, st.st_size, st.st_mtime_ns)
        if f.name.lower().endswith(SIDECAR_SUFFIXES):
            source.sidecars.append(sf)
            continue
        try:
            source.rasters.append((parse_raster_name(f.name, product.product_id, index), sf))
        except InvalidName as exc:
            skips.append(Skip(f.path, f"unknown file name: {exc}"))
    if not source.rasters:
        skips.append(Skip(folder, "product folder holds no index raster (empty or half-copied)"))
        return None
    if not any(r.kind == "index" for r, _ in source.rasters):
        skips.append(
            Skip(folder, f"no raw index raster {product.product_id}_{index}.jp2 (half-copied product?)")
        )
        return None
    return source


def iter_tree(indices_dir: str, skips: list[Skip]) -> Iterator[ItemSource]:
    """Every product of ``indices_dir``, one tile folder at a time (sorted by item id within it); skipped
    entries are appended to ``skips``. Memory: one tile folder's sources.

    When two products give the same item (same index, tile and date, e.g. a reprocessed copy),
    the one with the highest processing baseline and latest discriminator is kept and the other
    reported as skipped (both are in the same tile folder).
    """
    for index_entry in _entries(indices_dir):
        if not index_entry.is_dir():
            skips.append(Skip(index_entry.path, "stray file at the index level (expected INDEX folders)"))
            continue
        if not INDEX_RE.match(index_entry.name):
            skips.append(Skip(index_entry.path, "not an index folder name (letters and digits only)"))
            continue
        index = index_entry.name
        for tile_entry in _entries(index_entry.path):
            if not tile_entry.is_dir():
                skips.append(Skip(tile_entry.path, "stray file at the tile level (expected MGRS tile folders)"))
                continue
            try:
                parse_tile(tile_entry.name)
            except InvalidName as exc:
                skips.append(Skip(tile_entry.path, str(exc)))
                continue
            by_id: dict[str, ItemSource] = {}
            for product_entry in _entries(tile_entry.path):
                if not product_entry.is_dir():
                    skips.append(Skip(product_entry.path, "stray file at the product level (expected product folders)"))
                    continue
                source = scan_product(index, tile_entry.name, product_entry.path, skips)
                if source is not None:
                    _keep_one(by_id, source, skips)
            yield from (by_id[k] for k in sorted(by_id))


def scan_tree(indices_dir: str) -> tuple[list[ItemSource], list[Skip]]:
    """Every product of ``indices_dir`` (see :func:`iter_tree`), sorted by item id, and the skipped entries."""
    skips: list[Skip] = []
    sources = sorted(iter_tree(indices_dir, skips), key=lambda s: s.item_id)
    return sources, skips


def _keep_one(by_id: dict[str, ItemSource], source: ItemSource, skips: list[Skip]) -> None:
    other = by_id.get(source.item_id)
    if other is None:
        by_id[source.item_id] = source
        return
    def rank(s: ItemSource) -> tuple[str, str, str]:
        return (s.product.baseline, s.product.discriminator, s.product.product_id)
    keep, drop = (source, other) if rank(source) > rank(other) else (other, source)
    by_id[source.item_id] = keep
    skips.append(Skip(drop.folder, f"same index, tile and date as {keep.product.product_id}, which is indexed instead"))

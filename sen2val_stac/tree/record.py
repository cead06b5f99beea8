"""Turn one item source (a product folder) into a *record*: every fact its STAC item needs.

Runs in worker threads (or on Dask workers). A record is a :class:`Record` (a TypedDict, so plain
JSON) that the indexer keeps in its state file to re-render items (new config, new templates)
without reading the rasters again.

What is decoded per product (measured in docs/performance.md): the raw index once, at the level that
serves its footprint, statistics and valid mask; each quicklook once, on the raw sample's grid, which
serves its thumbnail and the clear pixels of its mask. A masked raster whose quicklook covers the same
grid is not decoded at all: masked pixels are the raw pixels where the quicklook is clear (Sen2Chain
sets masked pixels to nodata and renders them white or nodata in the quicklook), so its statistics and
the cloud cover come from the raw sample. Without such a quicklook the masked raster is decoded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypedDict

import numpy as np

from sen2val_stac.core.templates import index_definition
from sen2val_stac.tree.footprint import EmptyFootprint, footprint, geometry_bbox
from sen2val_stac.tree.names import DEFAULT_MASK, RasterName, asset_key, parse_tile
from sen2val_stac.tree.rasters import (
    BandStatistics,
    RasterGrid,
    RasterReadError,
    RasterSample,
    band_statistics,
    file_checksum,
    quicklook_clear,
    read_grid,
    read_sample,
)
from sen2val_stac.tree.scan import ItemSource, Skip, SourceFile
from sen2val_stac.tree.thumbnails import thumbnail_png

log = logging.getLogger(__name__)
# Bump when the record layout or the way facts are computed changes: cached records are then rebuilt.
RECORD_VERSION = 2
THUMBNAIL_SIZE = 256
_SIDECAR_RE = re.compile(r"(SEN2CHAIN_VERSION|SEN2CHAIN_PROCESSING_VERSION|SEN2COR_VERSION)\W{1,3}([\w.\-]+)")
_SOFTWARE_NAMES = {
    "SEN2CHAIN_VERSION": "sen2chain",
    "SEN2CHAIN_PROCESSING_VERSION": "sen2chain-processing",
    "SEN2COR_VERSION": "sen2cor",
}


class ItemError(Exception):
    """The item cannot be built; ``path`` names the file at fault."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_software(sidecars: list[SourceFile]) -> dict[str, str]:
    """Software versions from Sen2Chain's XML sidecars (``SEN2CHAIN_VERSION`` ...)."""
    found: dict[str, str] = {}
    for f in sidecars:
        if f.name.endswith(".aux.xml") or f.size > 1_000_000:
            continue
        try:
            with open(f.path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        for key, value in _SIDECAR_RE.findall(text):
            found.setdefault(_SOFTWARE_NAMES[key], value)
    return dict(sorted(found.items()))


class AssetFacts(TypedDict):
    """One raster file of a product: what its STAC asset says."""

    key: str
    kind: str  # index, masked or quicklook
    mask: str | None
    file: str
    size: int
    checksum: str | None
    dtypes: list[str]
    nodata: float | None
    resolution: float
    shape: list[int]
    transform: list[float]
    stats: list[BandStatistics]


class SkipFacts(TypedDict):
    """A file left out of the item, and why."""

    path: str
    reason: str


class Record(TypedDict):
    """Every fact the STAC item of one product needs (stored as JSON in ``.sen2val/state.sqlite``)."""

    record_version: int
    fp: str
    item_id: str
    index: str
    tile: str
    product_id: str
    folder: str
    datetime: str
    created: str
    updated: str
    platform: str
    relative_orbit: int
    processing_version: str
    software: dict[str, str]
    epsg: int
    shape: list[int]
    transform: list[float]
    proj_bbox: list[float]
    geometry: dict[str, Any]
    bbox: list[float]
    masks: list[str]
    default_mask: str | None
    cloud_cover: float | None
    assets: list[AssetFacts]
    thumbnail: str | None
    skips: list[SkipFacts]


class ExtractSettings(TypedDict):
    """How to read a product: from the ``footprint`` and ``checksum`` configuration, and the thumbnail's place."""

    read_size: int
    simplify_m: float
    nodata_tolerance: float
    checksum: bool
    thumbnail_path: str | None  # the PNG's destination (its name goes in the record), or None: no thumbnail


@dataclass
class Extraction:
    """A record and the PNG bytes of its thumbnail (written by the caller, so workers need no catalogue access)."""

    record: Record
    thumbnail_png: bytes | None = None


def _asset_facts(key: str, name: RasterName, f: SourceFile, grid: RasterGrid, stats: list[BandStatistics],
                 checksum: str | None) -> AssetFacts:
    return {
        "key": key,
        "kind": name.kind,
        "mask": name.mask,
        "file": f.name,
        "size": f.size,
        "checksum": checksum,
        "dtypes": grid.dtypes,
        "nodata": grid.nodata,
        "resolution": grid.resolution,
        "shape": [grid.height, grid.width],
        "transform": [round(v, 9) for v in grid.transform],
        "stats": stats,
    }


def _default_mask(masks: list[str]) -> str | None:
    if not masks:
        return None
    return DEFAULT_MASK if DEFAULT_MASK in masks else sorted(masks)[0]


def _same_grid(a: RasterGrid, b: RasterGrid) -> bool:
    return (a.width, a.height) == (b.width, b.height) and all(
        abs(x - y) < 1e-6 * max(1.0, abs(x)) for x, y in zip(a.transform, b.transform, strict=True))


def _same_bounds(a: RasterGrid, b: RasterGrid) -> bool:
    """Whether ``b`` covers the extent of ``a`` within half a pixel of ``b``."""
    return all(abs(x - y) <= b.resolution / 2 for x, y in zip(a.bounds, b.bounds, strict=True))


_KIND_ORDER = {"index": 0, "masked": 1, "quicklook": 2}
Facts = tuple[RasterGrid, list[BandStatistics]]


class _Reader:
    """Reads the rasters of one product in the order that decodes each at most once (see the module text)."""

    def __init__(self, source: ItemSource, settings: ExtractSettings) -> None:
        self.tile = parse_tile(source.tile)
        self.settings = settings
        self.valid_range = index_definition(source.index).get("valid_range")
        self.skips: dict[str, Skip] = {}
        self.facts: dict[str, Facts] = {}
        self.quicklooks: dict[str, RasterSample] = {}
        self.clear: dict[str, np.ndarray] = {}  # mask -> raw-valid pixels that the mask leaves clear

    def crs_ok(self, f: SourceFile, grid: RasterGrid) -> bool:
        if grid.epsg == self.tile.epsg:
            return True
        self.skips[f.path] = Skip(f.path, self.crs_reason(grid))
        return False

    def crs_reason(self, grid: RasterGrid) -> str:
        return f"CRS EPSG:{grid.epsg} disagrees with tile {self.tile.name} (EPSG:{self.tile.epsg})"

    def index_sample(self, f: SourceFile) -> RasterSample:
        return read_sample(f.path, self.settings["read_size"], f.size, self.valid_range, self.settings["nodata_tolerance"])

    def raw(self, f: SourceFile) -> RasterSample:
        """The raw index: footprint, its statistics and the valid mask come from this one read."""
        try:
            raw = self.index_sample(f)
        except RasterReadError as exc:
            raise ItemError(f.path, str(exc)) from exc
        if raw.epsg != self.tile.epsg:
            raise ItemError(f.path, self.crs_reason(raw))
        self.facts["index"] = (raw, band_statistics(raw.data, raw.valid()))
        return raw

    def quicklook(self, key: str, name: RasterName, f: SourceFile, raw: RasterSample) -> None:
        """A quicklook, read onto the raw sample's grid: thumbnail, own statistics, clear pixels of its mask."""
        try:
            ql = read_sample(f.path, self.settings["read_size"], f.size, out_shape=raw.valid().shape)
        except RasterReadError as exc:
            self.skips[f.path] = Skip(f.path, str(exc))
            return
        if not self.crs_ok(f, ql):
            return
        self.quicklooks[key] = ql
        self.facts[key] = (ql, band_statistics(ql.data, ql.valid()))
        if name.mask and _same_bounds(raw, ql):
            self.clear[name.mask] = raw.valid() & quicklook_clear(ql.data, ql.nodata)

    def masked(self, key: str, name: RasterName, f: SourceFile, raw: RasterSample) -> None:
        """A masked raster: header only when its quicklook gave the clear pixels on the raw grid, else decoded."""
        mask = name.mask or ""
        try:
            grid = read_grid(f.path, f.size)
            if not self.crs_ok(f, grid):
                return
            if mask in self.clear and _same_grid(raw, grid):
                self.facts[key] = (grid, band_statistics(raw.data, self.clear[mask]))
                return
            sample = self.index_sample(f)
        except RasterReadError as exc:
            self.skips[f.path] = Skip(f.path, str(exc))
            return
        if _same_grid(raw, sample):
            self.clear[mask] = raw.valid() & sample.valid()
        else:  # another grid: its own statistics, no cloud cover from it
            self.clear.pop(mask, None)
        self.facts[key] = (sample, band_statistics(sample.data, sample.valid()))


@contextlib.contextmanager
def _checksums(paths: list[str], enabled: bool) -> Iterator[dict[str, Future[str]]]:
    """The files' checksums, hashed in a background thread while the caller decodes (both release the GIL)."""
    if not enabled:
        yield {}
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="checksum") as pool:
        futures = {path: pool.submit(file_checksum, path) for path in dict.fromkeys(paths)}
        try:
            yield futures
        finally:
            for future in futures.values():
                future.cancel()


def extract(source: ItemSource, settings: ExtractSettings) -> Extraction:
    """Read the rasters of ``source`` and return its record (and thumbnail).

    Raises :class:`ItemError` when the raw index is unusable; a bad masked raster or quicklook only
    drops that asset (listed in the record's ``skips``).
    """
    with _checksums([f.path for _, f in source.rasters], settings["checksum"]) as checksums:
        return _extract(source, settings, checksums)


def _extract(source: ItemSource, settings: ExtractSettings, checksums: dict[str, Future[str]]) -> Extraction:
    """:func:`extract` with the checksums under way."""
    reader = _Reader(source, settings)
    masks = sorted({r.mask for r, _ in source.rasters if r.kind == "masked" and r.mask})
    default_mask = _default_mask(masks)
    quicklook_masks = sorted({r.mask for r, _ in source.rasters if r.kind == "quicklook" and r.mask})
    default_ql = default_mask if default_mask in quicklook_masks else (quicklook_masks[0] if quicklook_masks else None)
    ordered = sorted(source.rasters, key=lambda rf: (_KIND_ORDER[rf[0].kind], rf[0].mask or ""))
    plan: list[tuple[str, RasterName, SourceFile]] = []
    for name, f in ordered:
        key = asset_key(name.kind, name.mask, default_quicklook=name.kind == "quicklook" and name.mask == default_ql)
        if any(key == k for k, _, _ in plan):
            reader.skips[f.path] = Skip(f.path, f"a second file for asset '{key}' (legacy and current names both present)")
        else:
            plan.append((key, name, f))

    raw_file = plan[0][2]
    raw = reader.raw(raw_file)
    try:
        geometry = footprint(raw.valid(), raw.sample_transform, reader.tile.epsg, settings["simplify_m"])
    except EmptyFootprint as exc:
        raise ItemError(raw_file.path, str(exc)) from exc
    for kind, read in (("quicklook", reader.quicklook), ("masked", reader.masked)):
        for key, name, f in plan:
            if name.kind == kind:
                read(key, name, f, raw)

    cloud_cover = None
    if default_mask and asset_key("masked", default_mask) in reader.facts and default_mask in reader.clear:
        n_raw = int(raw.valid().sum())
        n_clear = int(reader.clear[default_mask].sum())
        cloud_cover = round(100.0 * (1 - n_clear / n_raw), 2) if n_raw else None
    png = None
    if "quicklook" in reader.quicklooks and settings["thumbnail_path"]:
        png = thumbnail_png(reader.quicklooks["quicklook"], THUMBNAIL_SIZE)
    mtimes = [f.mtime_ns for _, f in source.rasters]
    record: Record = {
        "record_version": RECORD_VERSION,
        "fp": source.fingerprint(),
        "item_id": source.item_id,
        "index": source.index,
        "tile": source.tile,
        "product_id": source.product.product_id,
        "folder": source.folder,
        "datetime": source.product.sensing.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "created": _iso(min(mtimes)),
        "updated": _iso(max(mtimes)),
        "platform": source.product.platform,
        "relative_orbit": source.product.relative_orbit,
        "processing_version": source.product.processing_version,
        "software": read_software(source.sidecars),
        "epsg": reader.tile.epsg,
        "shape": [raw.height, raw.width],
        "transform": [round(v, 9) for v in raw.transform],
        "proj_bbox": [round(v, 3) for v in raw.bounds],
        "geometry": geometry,
        "bbox": geometry_bbox(geometry),
        "masks": masks,
        "default_mask": default_mask,
        "cloud_cover": cloud_cover,
        "assets": [_asset_facts(k, name, f, *reader.facts[k], checksums[f.path].result() if checksums else None)
                   for k, name, f in plan if k in reader.facts],
        "thumbnail": os.path.basename(settings["thumbnail_path"]) if png is not None and settings["thumbnail_path"] else None,
        "skips": [{"path": f.path, "reason": reader.skips[f.path].reason} for _, f in ordered if f.path in reader.skips],
    }
    return Extraction(record, png)


Outcome = tuple[str, Any, "bytes | None"]
"""``("ok", record, thumbnail PNG or None)`` or ``("skip", {"path", "reason"}, None)``."""


def extract_safe(source: ItemSource, settings: ExtractSettings, gdal_threads: int | None = None) -> Outcome:
    """Worker entry point (local pool or Dask task): never raises, so one bad product never stops the run.

    ``gdal_threads``: GDAL's decoding threads in this task (``GDAL_NUM_THREADS``); None keeps GDAL's default.
    """
    import rasterio

    try:
        with rasterio.Env(**({"GDAL_NUM_THREADS": str(gdal_threads)} if gdal_threads else {})):
            result = extract(source, settings)
        return "ok", result.record, result.thumbnail_png
    except ItemError as exc:
        return "skip", {"path": exc.path, "reason": exc.reason}, None
    except Exception as exc:  # reported per product, the run goes on
        log.debug("unexpected error on %s", source.folder, exc_info=True)
        return "skip", {"path": source.folder, "reason": f"unexpected error: {type(exc).__name__}: {exc}"}, None


def extract_record(source: ItemSource, settings: ExtractSettings) -> Record:
    """:func:`extract`, writing the thumbnail (when one is made) to ``settings['thumbnail_path']``."""
    from sen2val_stac.core.atomic import write_if_changed

    result = extract(source, settings)
    if result.thumbnail_png is not None and settings["thumbnail_path"]:
        write_if_changed(settings["thumbnail_path"], result.thumbnail_png)
    return result.record

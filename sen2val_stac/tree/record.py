"""Turn one item source (a product folder) into a *record*: every fact its STAC item needs.

Runs in worker processes. A record is plain JSON so the indexer can keep it in its state file
and re-render items (new config, new templates) without reading the rasters again.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any

from sen2val_stac.core.templates import index_definition
from sen2val_stac.tree.footprint import EmptyFootprint, footprint, geometry_bbox
from sen2val_stac.tree.names import DEFAULT_MASK, asset_key, parse_tile
from sen2val_stac.tree.rasters import (
    RasterReadError,
    RasterSample,
    band_statistics,
    file_checksum,
    read_sample,
)
from sen2val_stac.tree.scan import ItemSource, Skip, SourceFile
from sen2val_stac.tree.thumbnails import render_thumbnail

# Bump when the record layout or the way facts are computed changes: cached records are then rebuilt.
RECORD_VERSION = 1
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


def _asset_facts(key: str, kind: str, mask: str | None, f: SourceFile, sample: RasterSample, checksum: bool) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "mask": mask,
        "file": f.name,
        "size": f.size,
        "checksum": file_checksum(f.path) if checksum else None,
        "dtypes": sample.dtypes,
        "nodata": sample.nodata,
        "resolution": sample.resolution,
        "shape": [sample.height, sample.width],
        "transform": [round(v, 9) for v in sample.transform],
        "stats": band_statistics(sample),
    }


def _default_mask(masks: list[str]) -> str | None:
    if not masks:
        return None
    return DEFAULT_MASK if DEFAULT_MASK in masks else sorted(masks)[0]


def extract_record(source: ItemSource, settings: dict[str, Any]) -> dict[str, Any]:
    """Read the rasters of ``source`` and return its record.

    ``settings``: ``read_size``, ``simplify_m``, ``nodata_tolerance``, ``checksum`` (bool),
    ``thumbnail_path`` (absolute destination of the PNG, or None). Raises :class:`ItemError` when the raw index is unusable;
    a bad masked raster or quicklook only drops that asset (listed in the record's ``skips``).
    """
    tile = parse_tile(source.tile)
    valid_range = index_definition(source.index).get("valid_range")
    skips: list[Skip] = []
    samples: dict[str, tuple[RasterSample, SourceFile]] = {}
    masks = sorted({r.mask for r, _ in source.rasters if r.kind == "masked" and r.mask})
    default_mask = _default_mask(masks)
    quicklook_masks = sorted({r.mask for r, _ in source.rasters if r.kind == "quicklook" and r.mask})
    default_ql = default_mask if default_mask in quicklook_masks else (quicklook_masks[0] if quicklook_masks else None)
    assets: list[dict[str, Any]] = []
    raw_file = next(f for r, f in source.rasters if r.kind == "index")
    ordered = sorted(source.rasters, key=lambda rf: ({"index": 0, "masked": 1, "quicklook": 2}[rf[0].kind], rf[0].mask or ""))
    for name, f in ordered:
        key = asset_key(name.kind, name.mask, default_quicklook=name.kind == "quicklook" and name.mask == default_ql)
        if any(a["key"] == key for a in assets):
            skips.append(Skip(f.path, f"a second file for asset '{key}' (legacy and current names both present)"))
            continue
        try:
            if name.kind == "quicklook":
                sample = read_sample(f.path, THUMBNAIL_SIZE, f.size)
            else:
                sample = read_sample(f.path, settings["read_size"], f.size, valid_range, settings["nodata_tolerance"])
        except RasterReadError as exc:
            if name.kind == "index":
                raise ItemError(f.path, str(exc)) from exc
            skips.append(Skip(f.path, str(exc)))
            continue
        if sample.epsg != tile.epsg:
            reason = f"CRS EPSG:{sample.epsg} disagrees with tile {tile.name} (EPSG:{tile.epsg})"
            if name.kind == "index":
                raise ItemError(f.path, reason)
            skips.append(Skip(f.path, reason))
            continue
        samples[key] = (sample, f)
        assets.append(_asset_facts(key, name.kind, name.mask, f, sample, settings["checksum"]))
    raw, _ = samples["index"]
    try:
        geometry = footprint(raw.valid(), raw.sample_transform, tile.epsg, settings["simplify_m"])
    except EmptyFootprint as exc:
        raise ItemError(raw_file.path, str(exc)) from exc
    cloud_cover = None
    if default_mask:
        masked = samples.get(asset_key("masked", default_mask))
        if masked and masked[0].data.shape == raw.data.shape:
            n_raw = int(raw.valid().sum())
            n_clear = int((masked[0].valid() & raw.valid()).sum())
            cloud_cover = round(100.0 * (1 - n_clear / n_raw), 2) if n_raw else None
    thumbnail = None
    if "quicklook" in samples and settings.get("thumbnail_path"):
        render_thumbnail(samples["quicklook"][0], settings["thumbnail_path"])
        thumbnail = settings["thumbnail_path"]
    mtimes = [f.mtime_ns for _, f in source.rasters]
    return {
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
        "epsg": tile.epsg,
        "shape": [raw.height, raw.width],
        "transform": [round(v, 9) for v in raw.transform],
        "proj_bbox": [round(v, 3) for v in raw.bounds],
        "geometry": geometry,
        "bbox": geometry_bbox(geometry),
        "masks": masks,
        "default_mask": default_mask,
        "cloud_cover": cloud_cover,
        "assets": assets,
        "thumbnail": os.path.basename(thumbnail) if thumbnail else None,
        "skips": [s.as_dict() for s in skips],
    }

"""COG views of the catalogue's rasters (rio-cogeo): the browser view of each quicklook, and on request the index rasters.

Per item, beside its JSON in the catalogue (deterministic paths, so the files are served with the catalogue):

- ``<item id>_visual.tif``: the quicklook as a web-optimised COG (EPSG:3857, 256-px tiles aligned on the
  WebMercatorQuad zoom levels, overviews), deflate, RGB plus an alpha band transparent where the quicklook has
  nodata: what a browser map (STAC Browser, OpenLayers) draws without any projection definition. Asset ``visual``, roles ``overview`` and ``visual``.
- with ``cog.indices: true``, ``<item id>_<asset key>.tif`` for each asset of ``cog.index_assets``
  (``index``, ``masked-cm001``...): the JPEG2000 on its own grid, int16, 512-px tiles, overviews,
  ``cog.compression`` (deflate or zstd with the horizontal predictor, or LERC with ``cog.max_z_error``).
  Asset ``<asset key>-cog``, role ``data``.

Each COG asset has media type ``image/tiff; application=geotiff; profile=cloud-optimized`` and an ``alternate``
object (the alternate-assets extension's shape; the extension is not declared since its schema is not in the
offline mirror) pointing at the original raster.

How the catalogue learns about them: the step stores what it wrote in the indexer state, in each record's
``cog`` entry, and the item renderer (:func:`sen2val_stac.catalog.render.cog_assets`) asks for the assets of a record (a pure function of
the record, like the rest of rendering). So an ``index`` re-run that re-renders an item keeps its COG assets;
one whose source raster changed gets a fresh record without them (the COG is stale) until the next ``cog``
run; a no-op ``index`` run writes nothing. Incremental: a COG is rewritten only when its source's checksum
(or size and update time) or the COG settings change; a no-op run writes nothing. Every COG is written to a
temporary file renamed into place. The records are streamed from the state (memory stays flat with the
catalogue); the COGs, their items, then the state are written per batch (:data:`JOB_BATCH`), so a killed first
run keeps what its finished batches wrote.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sen2val_stac.core import media_types
from sen2val_stac.core.atomic import temp_prefix

if TYPE_CHECKING:
    from sen2val_stac.catalog.state import StateStore

log = logging.getLogger(__name__)

COG_MEDIA_TYPE = media_types.COG
COMPRESSIONS = ("deflate", "zstd", "lerc")
DEFAULTS: dict[str, Any] = {"quicklook": True, "indices": False, "index_assets": ["index", "masked-cm001"],
                            "compression": "deflate", "max_z_error": 0, "blocksize": 512,
                            "overview_resampling": "average", "scheduler": "threads"}
VISUAL_KEY = "visual"
VISUAL_LAYOUT = "rgba"
"""How the browser view is written: RGB plus an alpha band (transparent where the quicklook has nodata; browser
maps draw a nodata value opaque). Part of the COG's digest, so a change of layout rewrites the views."""


def cog_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The ``cog`` section of the configuration over :data:`DEFAULTS`; raises ConfigError on a wrong value."""
    from sen2val_stac.config import ConfigError

    settings = {**DEFAULTS, **(config.get("cog") or {})}
    if settings["compression"] not in COMPRESSIONS:
        raise ConfigError(f"cog.compression: {settings['compression']!r} is not one of {', '.join(COMPRESSIONS)}")
    if not isinstance(settings["max_z_error"], (int, float)) or settings["max_z_error"] < 0:
        raise ConfigError(f"cog.max_z_error must be a number >= 0, got {settings['max_z_error']!r}")
    if settings["compression"] == "lerc" and settings["max_z_error"] > 0 and settings["indices"]:
        # measured (scripts/bench_cog_compression.py): nodata 16383 comes back as 16380..16387, valid-looking values
        raise ConfigError(f"cog.max_z_error: must be 0 with compression lerc and indices true: lossy LERC moves the "
                          f"nodata value 16383 of the index rasters into valid values (got {settings['max_z_error']!r})")
    if settings["blocksize"] not in (128, 256, 512, 1024):
        raise ConfigError(f"cog.blocksize must be 128, 256, 512 or 1024, got {settings['blocksize']!r}")
    return settings


# --- planning ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One COG to write: from ``source`` (absolute path) to ``dest`` (absolute path)."""

    item_id: str
    key: str
    source_key: str
    source: str
    dest: str
    visual: bool
    digest: str
    nodata: float | None


def _source_stamp(asset: dict[str, Any], record: dict[str, Any]) -> str:
    return str(asset.get("checksum") or f"{asset.get('size')}@{record.get('updated')}")


def _digest(settings: dict[str, Any], visual: bool, stamp: str) -> str:
    """What a COG depends on: its source and the settings that shape it."""
    keys = ("blocksize",) if visual else ("compression", "max_z_error", "blocksize", "overview_resampling")
    chosen = {"visual": visual, "source": stamp, **{k: settings[k] for k in keys}}
    if visual:
        chosen["layout"] = VISUAL_LAYOUT
    return hashlib.blake2b(json.dumps(chosen, sort_keys=True).encode(), digest_size=12).hexdigest()


def cog_file(item_id: str, key: str) -> str:
    """File name of a COG beside its item: ``NDVI_40KCB_20220104_visual.tif``, ``..._masked-cm001.tif``."""
    return f"{item_id}_{key.removesuffix('-cog')}.tif"


def plan(record: dict[str, Any], settings: dict[str, Any], catalog_dir: str, indices_rel: str) -> list[Job]:
    """The COGs a record should have under ``settings``; sources found where the items link them (``indices_rel``)."""
    from sen2val_stac.catalog.render import tree_path

    folder = _item_folder(catalog_dir, record)
    jobs = []
    quicklooks = [a for a in record["assets"] if a["kind"] == "quicklook"]
    view = next((a for a in quicklooks if a["key"] == "quicklook"), quicklooks[0] if quicklooks else None)
    for asset in record["assets"]:
        if asset is view and settings["quicklook"]:  # the default mask's quicklook: one browser view per item
            key, visual = VISUAL_KEY, True
        elif asset["kind"] in ("index", "masked") and settings["indices"] and asset["key"] in settings["index_assets"]:
            key, visual = f"{asset['key']}-cog", False
        else:
            continue
        source = os.path.normpath(os.path.join(catalog_dir, indices_rel, tree_path(record, asset["file"])))
        jobs.append(Job(record["item_id"], key, asset["key"], source,
                        os.path.join(folder, cog_file(record["item_id"], key)), visual,
                        _digest(settings, visual, _source_stamp(asset, record)), asset.get("nodata")))
    return jobs


# --- writing -----------------------------------------------------------------------------------------------


def _profile(settings: dict[str, Any], visual: bool) -> dict[str, Any]:
    from rio_cogeo.profiles import cog_profiles

    if visual:
        profile = dict(cog_profiles.get("deflate"))  # type: ignore[no-untyped-call]
        profile.update(blockxsize=256, blockysize=256, predictor=2)
        return profile
    profile = dict(cog_profiles.get(settings["compression"]))  # type: ignore[no-untyped-call]
    size = int(settings["blocksize"])
    profile.update(blockxsize=size, blockysize=size)
    if settings["compression"] == "lerc":
        profile["max_z_error"] = float(settings["max_z_error"])
    else:
        profile["predictor"] = 2
    return profile


def write_cog(job: Job, settings: dict[str, Any], creation: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write one COG atomically; return what its asset needs (size, checksum, grid, bands).

    ``creation``: GDAL creation options over the settings' profile (``zstd_level``...; benchmarks).
    """
    import morecantile
    import rasterio
    from rasterio.vrt import WarpedVRT
    from rio_cogeo.cogeo import cog_translate

    from sen2val_stac.tree.rasters import file_checksum

    folder = os.path.dirname(job.dest)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(), suffix=".tif")
    os.close(fd)
    try:
        options: dict[str, Any] = {"overview_resampling": "nearest" if job.visual else settings["overview_resampling"],
                                   "quiet": True, "in_memory": False, "use_cog_driver": False,
                                   "config": {"GDAL_NUM_THREADS": "1", "GDAL_TIFF_OVR_BLOCKSIZE": "256" if job.visual
                                              else str(settings["blocksize"])}}
        if job.visual:
            options.update(tms=morecantile.tms.get("WebMercatorQuad"), resampling="bilinear",
                           add_mask=False)
        if job.nodata is not None and not job.visual:
            options["nodata"] = job.nodata
        # Through an identity WarpedVRT: GDAL's JPEG2000 driver reports a GCP CRS without GCPs, which rio-cogeo
        # would take for a GCP-referenced raster ("Cannot invert geotransform"). Values are unchanged (nearest).
        # The browser view gets an alpha band from the quicklook's nodata instead of a nodata value.
        nodata = None if job.visual else job.nodata
        with rasterio.open(job.source) as src, WarpedVRT(src, crs=src.crs, transform=src.transform, width=src.width,
                                                         height=src.height, src_nodata=job.nodata, nodata=nodata,
                                                         add_alpha=job.visual and job.nodata is not None) as vrt:
            cog_translate(vrt, tmp, {**_profile(settings, job.visual), **(creation or {})}, **options)
        os.chmod(tmp, 0o644)
        with rasterio.open(tmp) as ds:
            epsg = ds.crs.to_epsg()
            facts: dict[str, Any] = {"epsg": epsg, "shape": [ds.height, ds.width],
                                     "transform": [float(v) for v in list(ds.transform)[:6]],
                                     "dtypes": list(ds.dtypes), "nodata": ds.nodata,
                                     "resolution": abs(ds.transform.a)}
        facts["size"] = os.path.getsize(tmp)
        facts["checksum"] = file_checksum(tmp)
        os.replace(tmp, job.dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return facts


def _bands(facts: dict[str, Any], record: dict[str, Any], visual: bool) -> list[dict[str, Any]]:
    from sen2val_stac.core.templates import index_definition

    definition = index_definition(record["index"])
    bands = []
    for dtype in facts["dtypes"]:
        band: dict[str, Any] = {"data_type": dtype, "spatial_resolution": facts["resolution"]}
        if facts["nodata"] is not None:
            band["nodata"] = int(facts["nodata"]) if float(facts["nodata"]).is_integer() else facts["nodata"]
        if not visual and definition.get("scale") is not None:
            band["scale"] = definition["scale"]
            band["offset"] = definition.get("offset") or 0.0
        if not visual and definition.get("unit"):
            band["unit"] = definition["unit"]
        bands.append(band)
    return bands


def _entry(job: Job, facts: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    if job.visual:
        title = f"{record['index']} quicklook, web-optimised COG (EPSG:3857)"
    else:
        title = f"{record['index']} {job.source_key}, cloud-optimised GeoTIFF"
    return {"file": os.path.basename(job.dest), "source": job.source_key, "digest": job.digest, "title": title,
            "size": facts["size"], "checksum": facts["checksum"], "epsg": facts["epsg"], "shape": facts["shape"],
            "transform": facts["transform"], "bands": _bands(facts, record, job.visual)}


def _safe_write(job: Job, settings: dict[str, Any]) -> tuple[Job, dict[str, Any] | None, str | None]:
    """Worker entry point: never raises, one bad raster never stops the run."""
    try:
        return job, write_cog(job, settings), None
    except Exception as exc:  # reported per raster, the run goes on
        return job, None, f"{job.source}: {type(exc).__name__}: {exc}"


def _run_jobs(jobs: list[Job], settings: dict[str, Any]) -> list[tuple[Job, dict[str, Any] | None, str | None]]:
    """Write ``jobs`` (on the Dask scheduler the caller entered, when more than one)."""
    if len(jobs) <= 1:
        return [_safe_write(j, settings) for j in jobs]
    from dask.base import compute
    from dask.delayed import delayed

    results: tuple[Any, ...] = compute(  # type: ignore[no-untyped-call]
        *[delayed(_safe_write, pure=False)(j, settings) for j in jobs])
    return list(results)


# --- the step ----------------------------------------------------------------------------------------------


@dataclass
class CogReport:
    """What one ``cog`` run did."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    items_written: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _is_current(entry: dict[str, Any] | None, job: Job) -> bool:
    return entry is not None and entry["digest"] == job.digest and os.path.isfile(job.dest) \
        and os.path.getsize(job.dest) == entry["size"]


def _remove(path: str) -> bool:
    try:
        os.remove(path)
        return True
    except FileNotFoundError:
        return False


def write_cogs(catalog_dir: str | os.PathLike[str], config: dict[str, Any], scheduler: str | None = None) -> CogReport:
    """Write the missing or stale COGs of every item of the catalogue and catalogue them (see the module doc).

    Call under the catalogue lock (``cog`` and ``run`` take it). Raises InputError when the catalogue has no
    indexer state (``index`` never ran there).
    """
    from sen2val_stac.catalog.state import StateStore
    from sen2val_stac.core import constants as C
    from sen2val_stac.core.errors import InputError

    started = time.perf_counter()
    catalog = os.path.abspath(catalog_dir)
    settings = cog_settings(config)
    if scheduler:
        settings["scheduler"] = scheduler
    with StateStore.open(catalog) as store:
        if store.meta("render") is None or store.meta("indices_rel") is None:
            raise InputError(f"{catalog}: no indexer state ({C.STATE_DIR}/{C.STATE_FILE}): run `sen2val-stac index` first")
        report = _cog_items(store, catalog, config, settings)
    report.seconds = time.perf_counter() - started
    return report


# COGs handed to the scheduler at a time: their items are written and the state committed per batch, so memory
# follows the batch, not the catalogue, and a killed first run keeps what its finished batches wrote.
JOB_BATCH = 256


def _cog_items(store: StateStore, catalog: str, config: dict[str, Any], settings: dict[str, Any]) -> CogReport:
    """:func:`write_cogs` on an open state: plan over the records (streamed), then per batch of COGs: write
    them, their items, then the state."""
    from sen2val_stac.catalog.parquet import write_parquet
    from sen2val_stac.derive.netcdf.export import scheduler

    indices_rel = str(store.meta("indices_rel"))
    report = CogReport()
    todo: list[Job] = []
    dropped: dict[str, list[str]] = {}  # item id -> COG keys no longer asked for (settings changed)
    kept: set[str] = set()  # COG files that stay
    for record in store.records():
        jobs = plan(record, settings, catalog, indices_rel)
        entries = record.get("cog") or {}
        folder = _item_folder(catalog, record)
        for key in sorted(set(entries) - {j.key for j in jobs}):
            _remove(os.path.join(folder, entries[key]["file"]))
            dropped.setdefault(record["item_id"], []).append(key)
            report.removed.append(f"{record['item_id']} {key}")
        for job in jobs:
            if job.key in entries:  # current, or stale but still the item's until rewritten
                kept.add(os.path.join(folder, entries[job.key]["file"]))
            if _is_current(entries.get(job.key), job):
                report.unchanged += 1
            else:
                todo.append(job)
    changed = False
    with scheduler(settings["scheduler"]) if len(todo) > 1 else contextlib.nullcontext():  # one cluster, all batches
        for start in range(0, len(todo), JOB_BATCH):
            written: dict[str, list[tuple[Job, dict[str, Any]]]] = {}
            for job, facts, error in _run_jobs(todo[start:start + JOB_BATCH], settings):
                if error or facts is None:
                    report.errors.append(error or f"{job.source}: no result")
                    continue
                written.setdefault(job.item_id, []).append((job, facts))
                report.written.append(os.path.relpath(job.dest, catalog))
                kept.add(job.dest)
            for item_id, results in written.items():
                report.items_written += _update_item(store, catalog, config, indices_rel, item_id,
                                                     dropped.pop(item_id, []), results)
            changed |= bool(written)
            store.commit()
    for item_id, keys in dropped.items():
        report.items_written += _update_item(store, catalog, config, indices_rel, item_id, keys, [])
    changed |= bool(dropped)
    report.removed += _remove_orphans(catalog, kept)
    store.commit()
    if changed:
        write_parquet(catalog)
    return report


def _update_item(store: StateStore, catalog: str, config: dict[str, Any], indices_rel: str, item_id: str,
                 dropped: list[str], results: list[tuple[Job, dict[str, Any]]]) -> int:
    """Drop and add ``cog`` entries of one record, write its item, then store the record (the item first, as the
    indexer does: a run killed between them writes the same COGs again); 1 when the item file was written."""
    from sen2val_stac.catalog.render import Layout, item_dict
    from sen2val_stac.core.atomic import write_json

    record = store.get(item_id)
    if record is None:
        return 0
    entries = record.get("cog") or {}
    for key in dropped:
        entries.pop(key, None)
    for job, facts in results:
        entries[job.key] = _entry(job, facts, record)
    if entries:
        record["cog"] = entries
    else:
        record.pop("cog", None)
    path = os.path.join(catalog, Layout.item(record["index"], record["tile"], item_id))
    count = write_json(path, item_dict(record, config, indices_rel))
    store.put(record)
    return int(count)


def _item_folder(catalog: str, record: dict[str, Any]) -> str:
    from sen2val_stac.catalog.render import Layout

    return os.path.join(catalog, os.path.dirname(Layout.item(record["index"], record["tile"], record["item_id"])))


# What this module writes in an item folder (<index>/<tile>/): <item id>_<visual|asset key>.tif, temporary files.
_OURS = re.compile(r"^(\.tmp-.*|[A-Za-z0-9-]+_[0-9]{2}[A-Z]{3}_[0-9]{8}[^_]*_(visual|index|masked-.+))\.tif$")


def _remove_orphans(catalog: str, kept: set[str]) -> list[str]:
    """Delete COG files (by this module's naming) not in ``kept``: those of items that left the catalogue or of
    COGs no longer asked for, and leftover temporary files."""
    removed = []
    for path in sorted(glob.glob(os.path.join(glob.escape(catalog), "*", "*", "*.tif"))
                       + glob.glob(os.path.join(glob.escape(catalog), "*", "*", ".tmp-*.tif"))):
        if path not in kept and _OURS.match(os.path.basename(path)):
            os.remove(path)
            removed.append(os.path.relpath(path, catalog))
    return removed

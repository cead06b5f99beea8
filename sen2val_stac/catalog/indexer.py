"""Incremental indexing of an INDICES tree into the static catalogue.

Order of writes (each file atomic): changed items, then collections, then the root catalog, then
deletions of vanished items, then the state file. A run killed at any point leaves a valid
catalogue; the next run redoes what the state does not yet record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from sen2val_stac import __version__
from sen2val_stac.catalog.parquet import is_stale, write_parquet
from sen2val_stac.catalog.render import Layout, collection_dict, item_dict
from sen2val_stac.catalog.root import write_root_catalog
from sen2val_stac.core import constants as C
from sen2val_stac.core.atomic import dump_json, write_atomic, write_json
from sen2val_stac.core.templates import templates_dir
from sen2val_stac.tree.record import RECORD_VERSION, ItemError, extract_record
from sen2val_stac.tree.scan import ItemSource, Skip, scan_tree

log = logging.getLogger(__name__)
STATE_VERSION = 1
# Below this many products, reading in-process beats starting worker processes.
POOL_THRESHOLD = 8


@dataclass
class IndexReport:
    """What one ``index`` run did."""

    catalog_dir: str
    indices_dir: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    files_written: int = 0
    items_total: int = 0
    collections: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """True when any catalogue file was written or removed."""
        return bool(self.files_written or self.removed)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the report file)."""
        return {
            "catalog_dir": self.catalog_dir,
            "indices_dir": self.indices_dir,
            "items_total": self.items_total,
            "collections": self.collections,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "files_written": self.files_written,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }


def _state_path(catalog_dir: str) -> str:
    return os.path.join(catalog_dir, C.STATE_DIR, C.STATE_FILE)


def load_state(catalog_dir: str) -> dict[str, Any]:
    """The indexer state of a catalogue (empty when missing, unreadable or from another version)."""
    try:
        with open(_state_path(catalog_dir), encoding="utf-8") as f:
            state = json.load(f)
        if state.get("version") == STATE_VERSION:
            return state
    except (OSError, ValueError):
        pass
    return {"version": STATE_VERSION, "items": {}, "failed": {}, "render": None}


def render_signature(config: dict[str, Any], indices_rel: str) -> str:
    """Digest of everything item rendering depends on besides the record: code version, config, templates."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{__version__}\0{indices_rel}\0".encode())
    h.update(json.dumps({k: v for k, v in config.items() if not k.startswith("_")}, sort_keys=True).encode())
    for path in sorted(templates_dir().rglob("*.json")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _settings(config: dict[str, Any], catalog_dir: str, source: ItemSource) -> dict[str, Any]:
    return {
        "read_size": int(config["footprint"]["read_size"]),
        "simplify_m": float(config["footprint"]["simplify_m"]),
        "nodata_tolerance": float(config["footprint"]["nodata_tolerance"]),
        "checksum": config.get("checksum") not in (None, "none", False),
        "thumbnail_path": os.path.join(catalog_dir, Layout.thumbnail(source.index, source.tile, source.item_id)),
    }


def _extract_safe(source: ItemSource, settings: dict[str, Any]) -> tuple[str, Any]:
    """Worker entry point: never raises, so one bad product never stops the run."""
    try:
        return "ok", extract_record(source, settings)
    except ItemError as exc:
        return "skip", {"path": exc.path, "reason": exc.reason}
    except Exception as exc:  # noqa: BLE001 - reported per product, the run goes on
        log.debug("unexpected error on %s", source.folder, exc_info=True)
        return "skip", {"path": source.folder, "reason": f"unexpected error: {type(exc).__name__}: {exc}"}


def _extract_all(todo: list[ItemSource], config: dict[str, Any], catalog_dir: str, workers: int, advance: Any) -> dict[str, tuple[str, Any]]:
    results: dict[str, tuple[str, Any]] = {}
    if workers <= 1 or len(todo) < POOL_THRESHOLD:
        for source in todo:
            results[source.item_id] = _extract_safe(source, _settings(config, catalog_dir, source))
            advance()
        return results
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["sen2val_stac.tree.record", "rasterio", "numpy", "shapely"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(_extract_safe, s, _settings(config, catalog_dir, s)): s.item_id for s in todo}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            advance()
    return results


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def index_tree(
    indices_dir: str,
    catalog_dir: str,
    config: dict[str, Any],
    workers: int | None = None,
    progress: bool | None = None,
) -> IndexReport:
    """Index ``indices_dir`` into the static catalogue at ``catalog_dir`` (incremental, idempotent)."""
    from sen2val_stac.core.progress import progress_bar

    started = time.perf_counter()
    indices_dir = os.path.abspath(indices_dir)
    catalog_dir = os.path.abspath(catalog_dir)
    os.makedirs(catalog_dir, exist_ok=True)
    report = IndexReport(catalog_dir=catalog_dir, indices_dir=indices_dir)
    workers = workers or config.get("workers") or os.cpu_count() or 1

    sources, skips = scan_tree(indices_dir)
    state = load_state(catalog_dir)
    old_items: dict[str, Any] = state["items"]
    old_failed: dict[str, Any] = state.get("failed", {})
    records: dict[str, Any] = {}
    failed: dict[str, Any] = {}
    todo: list[ItemSource] = []
    for source in sources:
        fp = source.fingerprint()
        old = old_items.get(source.item_id)
        if old and old["fp"] == fp and old["record_version"] == RECORD_VERSION:
            records[source.item_id] = old
        elif old_failed.get(source.item_id, {}).get("fp") == fp:
            failed[source.item_id] = old_failed[source.item_id]
        else:
            todo.append(source)

    with progress_bar("Reading rasters", len(todo), progress) as advance:
        results = _extract_all(todo, config, catalog_dir, workers, advance)
    fresh: set[str] = set()
    for source in todo:
        status, value = results[source.item_id]
        if status == "ok":
            records[source.item_id] = value
            fresh.add(source.item_id)
        else:
            failed[source.item_id] = {"fp": source.fingerprint(), **value}

    indices_rel = os.path.relpath(indices_dir, catalog_dir).replace(os.sep, "/")
    signature = render_signature(config, indices_rel)
    rerender_all = signature != state.get("render")
    by_index: dict[str, list[dict[str, Any]]] = {}
    for item_id in sorted(records):
        record = records[item_id]
        by_index.setdefault(record["index"], []).append(record)
        path = os.path.join(catalog_dir, Layout.item(record["index"], record["tile"], item_id))
        if item_id in fresh or rerender_all or not os.path.exists(path):
            if write_json(path, item_dict(record, config, indices_rel)):
                report.files_written += 1
                (report.updated if item_id in old_items else report.added).append(item_id)
    report.unchanged = len(records) - len(report.added) - len(report.updated)

    for index, recs in sorted(by_index.items()):
        coll_path = os.path.join(catalog_dir, Layout.collection(index))
        report.files_written += write_json(coll_path, collection_dict(index, recs, config))
    vanished_indices = {r["index"] for r in old_items.values()} - set(by_index)
    for index in vanished_indices:
        _remove(os.path.join(catalog_dir, Layout.collection(index)))
    report.files_written += write_root_catalog(catalog_dir, config)

    for item_id in sorted(set(old_items) - set(records)):
        old = old_items[item_id]
        _remove(os.path.join(catalog_dir, Layout.item(old["index"], old["tile"], item_id)))
        _remove(os.path.join(catalog_dir, Layout.thumbnail(old["index"], old["tile"], item_id)))
        report.removed.append(item_id)
    for item_id, record in records.items():
        if not record.get("thumbnail"):
            _remove(os.path.join(catalog_dir, Layout.thumbnail(record["index"], record["tile"], item_id)))

    new_state = {"version": STATE_VERSION, "render": signature, "indices_dir": indices_dir,
                 "items": records, "failed": failed}
    if new_state != state:
        write_atomic(_state_path(catalog_dir), json.dumps(new_state, separators=(",", ":")).encode())
    if report.changed or is_stale(catalog_dir):
        write_parquet(catalog_dir)

    report.skipped = [s.as_dict() for s in skips]
    report.skipped += [{"path": f["path"], "reason": f["reason"]} for f in failed.values()]
    report.skipped += [s for r in records.values() for s in r["skips"]]
    report.skipped.sort(key=lambda s: s["path"])
    report.items_total = len(records)
    report.collections = sorted(Layout.collection_id(i) for i in by_index)
    report.seconds = time.perf_counter() - started
    write_atomic(os.path.join(catalog_dir, C.STATE_DIR, C.REPORT_FILE), dump_json(report.as_dict()))
    return report


__all__ = ["IndexReport", "index_tree", "load_state", "write_root_catalog", "Skip"]
